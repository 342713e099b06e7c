//! Statutory review times count working days in China time (UTC+8): weekends and public
//! holidays are skipped, and weekend days worked in exchange (调休) count.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Utc, Weekday};

fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// The holiday calendar (`holidays/cn.txt`, or `ONESTOP_HOLIDAYS_FILE`).
#[derive(Clone, Debug, Default)]
pub struct Calendar {
    /// `true`: a working weekend day; `false`: a holiday.
    exceptions: HashMap<NaiveDate, bool>,
}

pub const BUILT_IN: &str = include_str!("../../holidays/cn.txt");

impl Calendar {
    /// Parses `YYYY-MM-DD off|work` lines; `#` starts a comment.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut exceptions = HashMap::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(date), Some(kind), None) = (parts.next(), parts.next(), parts.next()) else {
                anyhow::bail!("holiday calendar line {}: expected `YYYY-MM-DD off|work`", n + 1);
            };
            let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map_err(|e| anyhow::anyhow!("holiday calendar line {}: {e}", n + 1))?;
            let working = match kind {
                "off" => false,
                "work" => true,
                other => anyhow::bail!("holiday calendar line {}: {other:?} is neither off nor work", n + 1),
            };
            exceptions.insert(date, working);
        }
        Ok(Self { exceptions })
    }

    pub fn built_in() -> Self {
        Self::parse(BUILT_IN).unwrap_or_default()
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.exceptions.get(&date).copied().unwrap_or(!matches!(date.weekday(), Weekday::Sat | Weekday::Sun))
    }

    /// The working days from `start` to `end` (the days after `start`'s, up to and including
    /// `end`'s, in China time): what is left of a review time when it pauses. 0 when `end` is
    /// not later.
    pub fn working_days_between(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> u32 {
        let (from, to) = (start.with_timezone(&china()).date_naive(), end.with_timezone(&china()).date_naive());
        from.iter_days().skip(1).take_while(|d| *d <= to).filter(|d| self.is_working_day(*d)).count() as u32
    }

    /// `start` plus `days` working days, at the same time of day.
    pub fn add_working_days(&self, start: DateTime<Utc>, days: u32) -> DateTime<Utc> {
        let mut at = start;
        let mut left = days;
        while left > 0 {
            at += Duration::days(1);
            if self.is_working_day(at.with_timezone(&china()).date_naive()) {
                left -= 1;
            }
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_calendar_parses_and_knows_the_spring_festival() {
        let calendar = Calendar::parse(BUILT_IN).expect("parses");
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        assert!(!calendar.is_working_day(date("2026-02-17")), "Spring Festival");
        assert!(calendar.is_working_day(date("2026-02-14")), "a Saturday worked in exchange");
        assert!(!calendar.is_working_day(date("2026-11-28")), "an ordinary Saturday");
        assert!(calendar.is_working_day(date("2026-11-27")), "an ordinary Friday");
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc);
        // Thursday 26 Nov → Wednesday 2 Dec: Fri, Mon, Tue, Wed.
        assert_eq!(calendar.working_days_between(at("2026-11-26T02:00:00Z"), at("2026-12-02T02:00:00Z")), 4);
        assert_eq!(calendar.working_days_between(at("2026-12-02T02:00:00Z"), at("2026-11-26T02:00:00Z")), 0);
        let due = calendar.add_working_days(at("2026-11-26T02:00:00Z"), 4);
        assert_eq!(calendar.working_days_between(at("2026-11-26T02:00:00Z"), due), 4, "the two agree");
    }
}
