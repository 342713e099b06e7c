//! Statutory review times count working days in China time (UTC+8): weekends are skipped.

use chrono::{DateTime, Datelike, Duration, FixedOffset, Utc, Weekday};

fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

pub fn is_working_day(at: DateTime<Utc>) -> bool {
    !matches!(at.with_timezone(&china()).weekday(), Weekday::Sat | Weekday::Sun)
}

/// `start` plus `days` working days, at the same time of day.
pub fn add_working_days(start: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let mut at = start;
    let mut left = days;
    while left > 0 {
        at += Duration::days(1);
        if is_working_day(at) {
            left -= 1;
        }
    }
    at
}
