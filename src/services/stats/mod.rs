//! Processing statistics and public service levels, computed in SQL over the decisions'
//! rollup (`decision_records`: working days, on time, correction rounds — see
//! `automatic::records`) and the received rollup (`received_filings`, see [`received`]):
//! grouped by any of agency, kind, region, officer and month; medians and 90th percentiles
//! with window functions (both databases), never by loading filings into memory.

pub mod decided;
pub mod received;
mod sql;

use sql::Window;

use std::collections::BTreeMap;

use async_graphql::Enum;
use chrono::{Duration, NaiveDate};
use sea_orm::{ConnectionTrait, QueryResult};
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
    let supervisor = scope
        .require_supervisor()
        .map_err(|_| AppError::Forbidden("processing statistics are for supervisors and administrators".into()))?;
    if request.agency.is_some_and(|a| a != supervisor.agency) {
        return Err(AppError::Forbidden("supervisors read their own agency's statistics".into()));
    }
    let regions = match &request.region_code {
        Some(r) if !supervisor.covers_region(r) => {
            return Err(AppError::Forbidden(format!("region {r} is outside your jurisdiction")));
        }
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
    let window = Window { first_day: request.from, last_day: request.to, received: true };
    compute(&state.db, &dims, &window, &reach).await
}

/// The public service level of each kind over the last 90 days (China days, today included): statutory days, the real
/// median and the on-time share (no person, no merchant).
pub async fn service_levels(state: &AppState) -> AppResult<Vec<(FilingKind, u32, StatsRow)>> {
    let today = clock::now().with_timezone(&clock::china()).date_naive();
    let window = Window { first_day: today - Duration::days(89), last_day: today, received: false };
    let rows = compute(&state.db, &[StatsDimension::Kind], &window, &Reach { agency: None, regions: None }).await?;
    Ok(FilingKind::ALL
        .iter()
        .map(|kind| {
            let row = rows.iter().find(|r| r.kind == Some(*kind)).cloned().unwrap_or_default();
            (*kind, state.config.review_days.for_kind(*kind), row)
        })
        .collect())
}

async fn compute<C: ConnectionTrait>(
    db: &C,
    dims: &[StatsDimension],
    window: &Window,
    reach: &Reach,
) -> AppResult<Vec<StatsRow>> {
    let backend = db.get_database_backend();
    let mut rows: BTreeMap<Vec<Option<String>>, StatsRow> = BTreeMap::new();
    for row in db.query_all_raw(sql::decided(backend, dims, window, reach)).await? {
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
    if window.received {
        for row in db.query_all_raw(sql::received(backend, dims, window, reach)).await? {
            let key = key_of(&row, dims)?;
            rows.entry(key.clone()).or_insert_with(|| with_key(dims, &key)).received = row.try_get("", "received")?;
        }
    }
    Ok(rows.into_values().collect())
}

/// A group's key: each dimension's value as text.
fn key_of(row: &QueryResult, dims: &[StatsDimension]) -> AppResult<Vec<Option<String>>> {
    dims.iter()
        .map(|d| {
            Ok(match d {
                StatsDimension::Officer => row.try_get::<Option<Uuid>>("", "officer")?.map(|u| u.to_string()),
                other => row.try_get::<Option<String>>("", sql::column_name(*other))?,
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
