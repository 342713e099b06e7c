//! The statements of processing statistics. A window of China days is read from the monthly
//! decisions rollup for its whole months and from `decision_records` for the days at its
//! edges; filings received come from the daily received rollup. Both databases run the same
//! SQL but for the month expressions and placeholders.

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use sea_orm::{DatabaseBackend, Statement, Value};
use uuid::Uuid;

use super::{Reach, StatsDimension};
use crate::platform::clock;

/// The China days `first_day..=last_day`; `received`: count filings received too.
pub struct Window {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub received: bool,
}

impl Window {
    /// The whole months inside the window, as `YYYY-MM` from (inclusive) and to (exclusive).
    fn whole_months(&self) -> Option<(NaiveDate, NaiveDate)> {
        let start = if self.first_day.day() == 1 { self.first_day } else { first_of_next_month(self.first_day)? };
        let after = self.last_day.succ_opt()?;
        let end = if after.day() == 1 { after } else { after.with_day(1)? };
        (start < end).then_some((start, end))
    }

    /// The instants outside the whole months, from (inclusive) to (exclusive).
    fn edges(&self) -> Vec<(chrono::DateTime<Utc>, chrono::DateTime<Utc>)> {
        let (first, after) = (self.first_day, self.last_day.succ_opt().unwrap_or(self.last_day));
        let ranges = match self.whole_months() {
            Some((start, end)) => vec![(first, start), (end, after)],
            None => vec![(first, after)],
        };
        ranges
            .into_iter()
            .filter(|(from, to)| from < to)
            .map(|(from, to)| (china_midnight(from), china_midnight(to)))
            .collect()
    }
}

fn first_of_next_month(date: NaiveDate) -> Option<NaiveDate> {
    let (year, month) = if date.month() == 12 { (date.year() + 1, 1) } else { (date.year(), date.month() + 1) };
    NaiveDate::from_ymd_opt(year, month, 1)
}

fn china_midnight(date: NaiveDate) -> chrono::DateTime<Utc> {
    clock::china()
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// Bound values with the backend's placeholders, in the order they appear in the text.
struct Params {
    backend: DatabaseBackend,
    values: Vec<Value>,
}

impl Params {
    fn push(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        match self.backend {
            DatabaseBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".into(),
        }
    }
}

/// Where rows come from.
#[derive(Clone, Copy, PartialEq)]
enum Source {
    /// `decision_records d`
    Decisions,
    /// `decided_filings m`
    DecidedMonths,
    /// `received_filings r`
    ReceivedDays,
}

/// A dimension's result column name.
pub fn column_name(dim: StatsDimension) -> &'static str {
    match dim {
        StatsDimension::Agency => "agency",
        StatsDimension::Kind => "kind",
        StatsDimension::Region => "region_code",
        StatsDimension::Officer => "officer",
        StatsDimension::Month => "month",
    }
}

/// A dimension's expression over `source`. Filings are received by an office, not an
/// officer: their OFFICER is null.
fn expression(dim: StatsDimension, source: Source, backend: DatabaseBackend, params: &mut Params) -> String {
    let t = match source {
        Source::Decisions => "d",
        Source::DecidedMonths => "m",
        Source::ReceivedDays => "r",
    };
    let postgres = backend == DatabaseBackend::Postgres;
    match (dim, source) {
        (StatsDimension::Agency | StatsDimension::Kind | StatsDimension::Region, _) => {
            format!("{t}.{}", column_name(dim))
        }
        (StatsDimension::Officer, Source::Decisions) => "d.actor_id".into(),
        (StatsDimension::Officer, Source::DecidedMonths) => {
            format!("CASE WHEN m.officer_id = {} THEN NULL ELSE m.officer_id END", params.push(Uuid::nil()))
        }
        (StatsDimension::Officer, Source::ReceivedDays) => "NULL".into(),
        (StatsDimension::Month, Source::Decisions) if postgres => {
            "to_char((d.at AT TIME ZONE 'UTC') + interval '8 hours', 'YYYY-MM')".into()
        }
        (StatsDimension::Month, Source::Decisions) => "strftime('%Y-%m', d.at, '+8 hours')".into(),
        (StatsDimension::Month, Source::DecidedMonths) => "m.month".into(),
        (StatsDimension::Month, Source::ReceivedDays) if postgres => "to_char(r.day, 'YYYY-MM')".into(),
        (StatsDimension::Month, Source::ReceivedDays) => "substr(r.day, 1, 7)".into(),
    }
}

/// `expr AS name, …` over `source`, and the names; a constant group without dimensions.
fn select_dims(dims: &[StatsDimension], source: Source, params: &mut Params) -> (String, String) {
    if dims.is_empty() {
        return ("0 AS everything".into(), "everything".into());
    }
    let backend = params.backend;
    let select = dims
        .iter()
        .map(|d| format!("{} AS {}", expression(*d, source, backend, params), column_name(*d)))
        .collect::<Vec<_>>()
        .join(", ");
    let names = dims.iter().map(|d| column_name(*d)).collect::<Vec<_>>().join(", ");
    (select, names)
}

/// ` AND` conditions limiting rows of `t` to the caller's reach.
fn reach_filter(t: &str, reach: &Reach, params: &mut Params) -> String {
    let mut sql = String::new();
    if let Some(agency) = reach.agency {
        sql.push_str(&format!(" AND {t}.agency = {}", params.push(agency.as_str())));
    }
    if let Some(regions) = &reach.regions {
        let marks: Vec<String> = regions.iter().map(|r| params.push(r.as_str())).collect();
        let list = if marks.is_empty() { "NULL".to_string() } else { marks.join(", ") };
        sql.push_str(&format!(" AND {t}.region_code IN ({list})"));
    }
    sql
}

/// Decisions of the window: the edges' rows and the whole months' counters, each counted per
/// group and working-days value (a few thousand rows at 100,000 cases), added up; then
/// nearest-rank percentiles are read off the running counts of the values that are known
/// (NULLs last, counting nothing): the value at rank r is the one whose running count first
/// reaches r; the median averages ranks (n + 1) / 2 and (n + 2) / 2, one rank when n is odd.
pub fn decided(backend: DatabaseBackend, dims: &[StatsDimension], window: &Window, reach: &Reach) -> Statement {
    let mut params = Params { backend, values: Vec::new() };
    // In this order: on SQLite the parameters are positional.
    let (raw, names) = raw_decisions(dims, window, reach, &mut params);
    let months = month_decisions(dims, window, reach, &mut params);
    let sql = format!(
        "WITH raw AS ({raw}), months AS ({months}), \
         parts AS (SELECT {names}, wd, CAST(COUNT(*) AS BIGINT) AS decided, \
                CAST(SUM(CASE WHEN outcome = 'APPROVED' THEN 1 ELSE 0 END) AS BIGINT) AS approved, \
                CAST(SUM(CASE WHEN outcome = 'REJECTED' THEN 1 ELSE 0 END) AS BIGINT) AS rejected, \
                CAST(SUM(CASE WHEN decided_by = 'RULE' THEN 1 ELSE 0 END) AS BIGINT) AS auto_approved, \
                CAST(COALESCE(SUM(correction_rounds), 0) AS BIGINT) AS correction_rounds, \
                CAST(SUM(CASE WHEN on_time THEN 1 ELSE 0 END) AS BIGINT) AS on_time, CAST(COUNT(on_time) AS BIGINT) AS timed \
              FROM raw GROUP BY {names}, wd \
              UNION ALL \
              SELECT {names}, wd, CAST(SUM(decisions) AS BIGINT), \
                CAST(SUM(CASE WHEN outcome = 'APPROVED' THEN decisions ELSE 0 END) AS BIGINT), \
                CAST(SUM(CASE WHEN outcome = 'REJECTED' THEN decisions ELSE 0 END) AS BIGINT), \
                CAST(SUM(CASE WHEN decided_by = 'RULE' THEN decisions ELSE 0 END) AS BIGINT), \
                CAST(SUM(correction_rounds) AS BIGINT), \
                CAST(SUM(CASE WHEN on_time = 1 THEN decisions ELSE 0 END) AS BIGINT), CAST(SUM(CASE WHEN on_time >= 0 THEN decisions ELSE 0 END) AS BIGINT) \
              FROM months GROUP BY {names}, wd), \
         counted AS (SELECT {names}, wd, CAST(SUM(decided) AS BIGINT) AS decided, CAST(SUM(approved) AS BIGINT) AS approved, \
                CAST(SUM(rejected) AS BIGINT) AS rejected, CAST(SUM(auto_approved) AS BIGINT) AS auto_approved, \
                CAST(SUM(correction_rounds) AS BIGINT) AS correction_rounds, CAST(SUM(on_time) AS BIGINT) AS on_time, CAST(SUM(timed) AS BIGINT) AS timed \
              FROM parts GROUP BY {names}, wd), \
         ranked AS (SELECT counted.*, CASE WHEN wd IS NULL THEN 0 ELSE decided END AS w, \
                CAST(SUM(CASE WHEN wd IS NULL THEN 0 ELSE decided END) OVER (PARTITION BY {names} ORDER BY CASE WHEN wd IS NULL THEN 1 ELSE 0 END, wd ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS upto, \
                CAST(SUM(CASE WHEN wd IS NULL THEN 0 ELSE decided END) OVER (PARTITION BY {names}) AS BIGINT) AS n FROM counted) \
         SELECT {names}, CAST(SUM(decided) AS BIGINT) AS decided, CAST(SUM(approved) AS BIGINT) AS approved, \
                CAST(SUM(rejected) AS BIGINT) AS rejected, CAST(SUM(auto_approved) AS BIGINT) AS auto_approved, \
                CAST(SUM(correction_rounds) AS BIGINT) AS correction_rounds, \
                CAST(AVG(CASE WHEN w > 0 AND ((upto - w < (n + 1) / 2 AND (n + 1) / 2 <= upto) OR (upto - w < (n + 2) / 2 AND (n + 2) / 2 <= upto)) THEN wd END) AS DOUBLE PRECISION) AS median, \
                CAST(MAX(CASE WHEN w > 0 AND upto - w < (9 * n + 9) / 10 AND (9 * n + 9) / 10 <= upto THEN wd END) AS DOUBLE PRECISION) AS p90, \
                CAST(SUM(on_time) AS DOUBLE PRECISION) / NULLIF(SUM(timed), 0) AS on_time_share \
         FROM ranked GROUP BY {names}"
    );
    Statement::from_sql_and_values(backend, sql, params.values)
}

/// The edges' decision records, one SELECT per edge range, so that each reads a range of the
/// covering index on (agency, at) (migration 24); an OR of ranges was read as every row of the
/// agency. Also the group columns' names.
fn raw_decisions(dims: &[StatsDimension], window: &Window, reach: &Reach, params: &mut Params) -> (String, String) {
    let (raw_select, names) = select_dims(dims, Source::Decisions, params);
    let raw_columns =
        "d.working_days AS wd, d.outcome, d.decided_by, d.on_time, d.correction_rounds FROM decision_records d";
    let mut raw_parts: Vec<String> = Vec::new();
    for (from, to) in window.edges() {
        let range = format!("d.at >= {} AND d.at < {}", params.push(from), params.push(to));
        let mut reach_sql = reach_filter("d", reach, params);
        if reach.agency.is_none() {
            // Every agency named, so the index on (agency, at) still reads ranges only.
            let all: Vec<String> = crate::domain::Agency::ALL.iter().map(|a| params.push(a.as_str())).collect();
            reach_sql.push_str(&format!(" AND d.agency IN ({})", all.join(", ")));
        }
        raw_parts.push(format!("SELECT {raw_select}, {raw_columns} WHERE {range}{reach_sql}"));
    }
    if raw_parts.is_empty() {
        raw_parts.push(format!("SELECT {raw_select}, {raw_columns} WHERE 1 = 0"));
    }
    (raw_parts.join(" UNION ALL "), names)
}

/// The whole months' counters of the window (a negative working-days value is unknown).
fn month_decisions(dims: &[StatsDimension], window: &Window, reach: &Reach, params: &mut Params) -> String {
    let (month_select, _) = select_dims(dims, Source::DecidedMonths, params);
    let month_window = match window.whole_months() {
        Some((start, end)) => format!(
            "m.month >= {} AND m.month < {}",
            params.push(start.format("%Y-%m").to_string()),
            params.push(end.format("%Y-%m").to_string())
        ),
        None => "1 = 0".into(),
    };
    let month_reach = reach_filter("m", reach, params);
    format!(
        "SELECT {month_select}, CASE WHEN m.working_days < 0 THEN NULL ELSE m.working_days END AS wd, m.decisions, \
         m.outcome, m.decided_by, m.on_time, m.correction_rounds FROM decided_filings m WHERE {month_window}{month_reach}"
    )
}

/// Filings received on the window's days, from the rollup: each counted once, under the
/// deciding region (a cross-region filing counts at home).
pub fn received(backend: DatabaseBackend, dims: &[StatsDimension], window: &Window, reach: &Reach) -> Statement {
    let mut params = Params { backend, values: Vec::new() };
    let (select, names) = select_dims(dims, Source::ReceivedDays, &mut params);
    let days = format!("r.day >= {} AND r.day <= {}", params.push(window.first_day), params.push(window.last_day));
    let filter = reach_filter("r", reach, &mut params);
    let sql = format!(
        "WITH base AS (SELECT {select}, r.received FROM received_filings r WHERE {days}{filter}) \
         SELECT {names}, CAST(SUM(received) AS BIGINT) AS received FROM base GROUP BY {names}"
    );
    Statement::from_sql_and_values(backend, sql, params.values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(first: &str, last: &str) -> Window {
        Window { first_day: first.parse().expect("date"), last_day: last.parse().expect("date"), received: false }
    }

    #[test]
    fn whole_months_and_edges_split_a_window() {
        let w = window("2026-01-15", "2026-04-30");
        let (start, end) = w.whole_months().expect("months");
        assert_eq!((start.to_string(), end.to_string()), ("2026-02-01".into(), "2026-05-01".into()));
        assert_eq!(w.edges().len(), 1, "only the half of January is read row by row");
        assert!(window("2026-03-02", "2026-03-30").whole_months().is_none());
        assert_eq!(window("2026-03-02", "2026-03-30").edges().len(), 1);
        let december = window("2025-12-01", "2025-12-31");
        assert_eq!(
            december.whole_months().map(|(s, e)| (s.to_string(), e.to_string())),
            Some(("2025-12-01".into(), "2026-01-01".into()))
        );
        assert!(december.edges().is_empty());
    }
}
