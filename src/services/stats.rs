//! Processing statistics and public service levels, computed in SQL over the decisions'
//! rollup (`decision_records`: working days, on time, correction rounds — see
//! `automatic::records`) and the cases received: grouped by any of agency, kind, region,
//! officer and month; medians and 90th percentiles with window functions (both databases),
//! never by loading filings into memory.

use std::collections::BTreeMap;

use async_graphql::Enum;
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, QueryResult, Statement, Value};
use uuid::Uuid;

use crate::{
    domain::{Agency, FilingKind},
    error::{AppError, AppResult},
    platform::{clock, state::AppState},
    services::access::Scope,
};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatsDimension {
    Agency,
    Kind,
    Region,
    Officer,
    Month,
}

/// The window (China dates, inclusive), the grouping and the optional filters.
pub struct StatsRequest {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group_by: Vec<StatsDimension>,
    pub agency: Option<Agency>,
    pub region_code: Option<String>,
}

/// One group's figures; the dimensions not grouped by are `None`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct StatsRow {
    pub agency: Option<Agency>,
    pub kind: Option<FilingKind>,
    pub region_code: Option<String>,
    pub officer: Option<Uuid>,
    pub month: Option<String>,
    pub received: i64,
    pub decided: i64,
    pub approved: i64,
    pub rejected: i64,
    pub auto_approved: i64,
    pub correction_rounds: i64,
    pub median_working_days: Option<f64>,
    pub p90_working_days: Option<f64>,
    pub on_time_share: Option<f64>,
}

/// What the caller may count: an agency and its regions, or everything.
struct Reach {
    agency: Option<Agency>,
    regions: Option<Vec<String>>,
}

/// Supervisors: their agency and regions; administrators: all (or the agency and region
/// asked for). Anyone else: FORBIDDEN.
fn reach(scope: &Scope, request: &StatsRequest) -> AppResult<Reach> {
    if let Scope::Admin { .. } = scope {
        return Ok(Reach { agency: request.agency, regions: request.region_code.clone().map(|r| vec![r]) });
    }
    let supervisor = scope.require_supervisor().map_err(|_| AppError::Forbidden("processing statistics are for supervisors and administrators".into()))?;
    if request.agency.is_some_and(|a| a != supervisor.agency) {
        return Err(AppError::Forbidden("supervisors read their own agency's statistics".into()));
    }
    let regions = match &request.region_code {
        Some(r) if !supervisor.covers_region(r) => return Err(AppError::Forbidden(format!("region {r} is outside your jurisdiction"))),
        Some(r) => vec![r.clone()],
        None => supervisor.regions.to_vec(),
    };
    Ok(Reach { agency: Some(supervisor.agency), regions: Some(regions) })
}

/// `processingStats`.
#[tracing::instrument(skip_all)]
pub async fn processing_stats(state: &AppState, scope: &Scope, request: StatsRequest) -> AppResult<Vec<StatsRow>> {
    if request.from > request.to {
        return Err(AppError::validation("to", "must not be before from"));
    }
    if request.to - request.from > Duration::days(731) {
        return Err(AppError::validation("to", "at most two years at a time"));
    }
    if let Some(region) = &request.region_code {
        state.config.regions.parse("regionCode", region)?;
    }
    let mut dims = request.group_by.clone();
    dims.sort();
    dims.dedup();
    let reach = reach(scope, &request)?;
    compute(&state.db, &dims, china_midnight(request.from), china_midnight(request.to + Duration::days(1)), &reach).await
}

/// The public service level of each kind over the last 90 days: statutory days, the real
/// median and the on-time share (no person, no merchant).
pub async fn service_levels(state: &AppState) -> AppResult<Vec<(FilingKind, u32, StatsRow)>> {
    let now = clock::now();
    let rows = compute(&state.db, &[StatsDimension::Kind], now - Duration::days(90), now, &Reach { agency: None, regions: None }).await?;
    Ok(FilingKind::ALL
        .iter()
        .map(|kind| {
            let row = rows.iter().find(|r| r.kind == Some(*kind)).cloned().unwrap_or_default();
            (*kind, state.config.review_days.for_kind(*kind), row)
        })
        .collect())
}

fn china_midnight(date: NaiveDate) -> chrono::DateTime<Utc> {
    clock::china().from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default()).single().map(|t| t.with_timezone(&Utc)).unwrap_or_default()
}

/// Bound values with the backend's placeholders.
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

/// The column (decisions `d`, or filings `f` with their case `c`) of a dimension.
fn dimension(dim: StatsDimension, decisions: bool, backend: DatabaseBackend) -> (&'static str, String) {
    let t = if decisions { "d" } else { "f" };
    let at = if decisions { "d.at" } else { "c.submitted_at" };
    match dim {
        StatsDimension::Agency => ("agency", format!("{t}.agency")),
        StatsDimension::Kind => ("kind", format!("{t}.kind")),
        StatsDimension::Region => ("region_code", format!("{t}.region_code")),
        StatsDimension::Officer => ("officer", if decisions { "d.actor_id".into() } else { "f.assignee_id".into() }),
        StatsDimension::Month => (
            "month",
            match backend {
                DatabaseBackend::Postgres => format!("to_char(({at} AT TIME ZONE 'UTC') + interval '8 hours', 'YYYY-MM')"),
                _ => format!("strftime('%Y-%m', {at}, '+8 hours')"),
            },
        ),
    }
}

/// The WHERE clause limiting rows of `t` to the window and the caller's reach.
fn filters(t: &str, at: &str, from: chrono::DateTime<Utc>, to: chrono::DateTime<Utc>, reach: &Reach, params: &mut Params) -> String {
    let mut sql = format!("{at} >= {} AND {at} < {}", params.push(from), params.push(to));
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

async fn compute<C: ConnectionTrait>(db: &C, dims: &[StatsDimension], from: chrono::DateTime<Utc>, to: chrono::DateTime<Utc>, reach: &Reach) -> AppResult<Vec<StatsRow>> {
    let backend = db.get_database_backend();
    let mut rows: BTreeMap<Vec<Option<String>>, StatsRow> = BTreeMap::new();
    for row in db.query_all_raw(decided_sql(backend, dims, from, to, reach)).await? {
        let key = key_of(&row, dims)?;
        let out = rows.entry(key.clone()).or_insert_with(|| with_key(dims, &key));
        out.decided = row.try_get("", "decided")?;
        out.approved = row.try_get("", "approved")?;
        out.rejected = row.try_get("", "rejected")?;
        out.auto_approved = row.try_get("", "auto_approved")?;
        out.correction_rounds = row.try_get("", "correction_rounds")?;
        out.median_working_days = row.try_get("", "median")?;
        out.p90_working_days = row.try_get("", "p90")?;
        out.on_time_share = row.try_get("", "on_time_share")?;
    }
    for row in db.query_all_raw(received_sql(backend, dims, from, to, reach)).await? {
        let key = key_of(&row, dims)?;
        rows.entry(key.clone()).or_insert_with(|| with_key(dims, &key)).received = row.try_get("", "received")?;
    }
    Ok(rows.into_values().collect())
}

fn select_dims(dims: &[StatsDimension], decisions: bool, backend: DatabaseBackend) -> (String, String) {
    if dims.is_empty() {
        return ("0 AS everything".into(), "everything".into());
    }
    let pairs: Vec<(&str, String)> = dims.iter().map(|d| dimension(*d, decisions, backend)).collect();
    let select = pairs.iter().map(|(name, expr)| format!("{expr} AS {name}")).collect::<Vec<_>>().join(", ");
    let names = pairs.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ");
    (select, names)
}

fn decided_sql(backend: DatabaseBackend, dims: &[StatsDimension], from: chrono::DateTime<Utc>, to: chrono::DateTime<Utc>, reach: &Reach) -> Statement {
    let mut params = Params { backend, values: Vec::new() };
    let (select, names) = select_dims(dims, true, backend);
    let filter = filters("d", "d.at", from, to, reach, &mut params);
    // Nearest-rank percentiles over the rows with working days (NULLs ranked last on both
    // databases); the median averages the two middle ranks of an even count.
    let sql = format!(
        "WITH base AS (SELECT {select}, d.working_days AS wd, d.outcome, d.decided_by, d.on_time, d.correction_rounds FROM decision_records d WHERE {filter}), \
         ranked AS (SELECT base.*, ROW_NUMBER() OVER (PARTITION BY {names} ORDER BY CASE WHEN wd IS NULL THEN 1 ELSE 0 END, wd) AS rn, \
                    COUNT(wd) OVER (PARTITION BY {names}) AS n FROM base) \
         SELECT {names}, COUNT(*) AS decided, \
                SUM(CASE WHEN outcome = 'APPROVED' THEN 1 ELSE 0 END) AS approved, \
                SUM(CASE WHEN outcome = 'REJECTED' THEN 1 ELSE 0 END) AS rejected, \
                SUM(CASE WHEN decided_by = 'RULE' THEN 1 ELSE 0 END) AS auto_approved, \
                COALESCE(SUM(correction_rounds), 0) AS correction_rounds, \
                CAST(AVG(CASE WHEN wd IS NOT NULL AND rn IN ((n + 1) / 2, (n + 2) / 2) THEN wd END) AS DOUBLE PRECISION) AS median, \
                CAST(MAX(CASE WHEN wd IS NOT NULL AND rn = (9 * n + 9) / 10 THEN wd END) AS DOUBLE PRECISION) AS p90, \
                CAST(AVG(CASE WHEN on_time IS NULL THEN NULL WHEN on_time THEN 1.0 ELSE 0.0 END) AS DOUBLE PRECISION) AS on_time_share \
         FROM ranked GROUP BY {names}"
    );
    Statement::from_sql_and_values(backend, sql, params.values)
}

/// Filings received: those of cases first submitted in the window, counted once under the
/// deciding region (a cross-region filing counts at home).
fn received_sql(backend: DatabaseBackend, dims: &[StatsDimension], from: chrono::DateTime<Utc>, to: chrono::DateTime<Utc>, reach: &Reach) -> Statement {
    let mut params = Params { backend, values: Vec::new() };
    let (select, names) = select_dims(dims, false, backend);
    let filter = filters("f", "c.submitted_at", from, to, reach, &mut params);
    let sql = format!(
        "WITH base AS (SELECT {select} FROM filings f JOIN cases c ON c.id = f.case_id WHERE f.status <> 'DRAFT' AND {filter}) \
         SELECT {names}, COUNT(*) AS received FROM base GROUP BY {names}"
    );
    Statement::from_sql_and_values(backend, sql, params.values)
}

/// A group's key: each dimension's value as text.
fn key_of(row: &QueryResult, dims: &[StatsDimension]) -> AppResult<Vec<Option<String>>> {
    dims.iter()
        .map(|d| {
            Ok(match d {
                StatsDimension::Officer => row.try_get::<Option<Uuid>>("", "officer")?.map(|u| u.to_string()),
                other => row.try_get::<Option<String>>("", dimension(*other, true, DatabaseBackend::Sqlite).0)?,
            })
        })
        .collect()
}

fn with_key(dims: &[StatsDimension], key: &[Option<String>]) -> StatsRow {
    let mut row = StatsRow::default();
    for (dim, value) in dims.iter().zip(key) {
        match dim {
            StatsDimension::Agency => row.agency = value.as_deref().and_then(Agency::from_name),
            StatsDimension::Kind => row.kind = value.as_deref().and_then(FilingKind::from_name),
            StatsDimension::Region => row.region_code = value.clone(),
            StatsDimension::Officer => row.officer = value.as_deref().and_then(|v| Uuid::parse_str(v).ok()),
            StatsDimension::Month => row.month = value.clone(),
        }
    }
    row
}
