//! Quality spot checks (抽检), the merchant risk level they drive, and the online/offline
//! comparison report.
//!
//! Risk rules (0 normal … 3 high): a FAIL raises the level by one (at most 3) and resets the
//! streak of passes; three PASS in a row lower it by one (at least 0). At level 3 the
//! merchant's open filings are flagged to supervisors (`Filing.highRisk`, `WorkloadRow.highRisk`).

use async_graphql::{ID, InputObject};
use chrono::{NaiveDate, TimeZone};
use entity::{merchant, product_batch, spot_check};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Func},
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    domain::{
        Agency,
        filing_data::{ProductCategory, SpotCheckChannel, SpotCheckResult},
        identifiers as id,
    },
    error::{AppError, AppResult},
    platform::clock,
    platform::notify::{EmailKind, enqueue_email},
    platform::state::AppState,
    services::access::Scope,
};

pub const MAX_RISK: i32 = 3;
const PASSES_TO_LOWER: i32 = 3;

#[derive(InputObject, Clone, Debug)]
pub struct SpotCheckInput {
    pub merchant_id: ID,
    pub batch_id: Option<ID>,
    pub channel: SpotCheckChannel,
    pub category: ProductCategory,
    pub region_code: String,
    pub result: SpotCheckResult,
    pub findings: Option<String>,
    /// The 双随机 draw this check answers: only an inspector drawn for it records it, for the
    /// draw's merchant, once.
    pub draw_id: Option<ID>,
}

/// The risk level and pass streak after one more check.
pub fn next_risk(level: i32, streak: i32, result: SpotCheckResult) -> (i32, i32) {
    match result {
        SpotCheckResult::Fail => (std::cmp::min(level + 1, MAX_RISK), 0),
        SpotCheckResult::Pass if streak + 1 >= PASSES_TO_LOWER => (std::cmp::max(level - 1, 0), 0),
        SpotCheckResult::Pass => (level, streak + 1),
    }
}

/// Inspection staff only, and only inside their regions.
fn inspection_regions(scope: &Scope) -> AppResult<&[String]> {
    match scope.require_staff() {
        Ok(staff) if staff.agency == Agency::Inspection => Ok(staff.regions),
        _ => Err(AppError::Forbidden("spot checks are recorded by inspection officers".into())),
    }
}

/// A spot check an inspection officer made in its regions: recorded, the merchant's risk
/// level moved, and the merchant emailed when it failed.
#[tracing::instrument(skip_all, fields(user = %scope.user_id()))]
pub async fn record_spot_check(state: &AppState, scope: &Scope, input: SpotCheckInput) -> AppResult<spot_check::Model> {
    let region = state.config.regions.parse("regionCode", &input.region_code)?;
    let (agency, draw) = checker(state, scope, &input, region.as_str()).await?;
    let findings = match input.findings.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        Some(f) => Some(id::text("findings", f, 2000, true)?),
        None => None,
    };
    let merchant_id = Uuid::parse_str(input.merchant_id.as_str())
        .map_err(|_| AppError::validation("merchantId", "is not a valid ID"))?;
    let batch_id = input
        .batch_id
        .as_ref()
        .map(|b| Uuid::parse_str(b.as_str()).map_err(|_| AppError::validation("batchId", "is not a valid ID")))
        .transpose()?;
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let merchant = checked_merchant(&txn, merchant_id, batch_id).await?;
    let check = spot_check::ActiveModel {
        id: Set(Uuid::now_v7()),
        merchant_id: Set(merchant.id),
        batch_id: Set(batch_id),
        channel: Set(input.channel.as_str()),
        category: Set(input.category.as_str()),
        region_code: Set(region.to_string()),
        result: Set(input.result.as_str()),
        findings: Set(findings),
        checked_at: Set(clock::now()),
        officer_id: Set(scope.user_id()),
        agency: Set(agency),
        draw_id: Set(draw),
    }
    .insert(&txn)
    .await?;
    let level = move_risk(&txn, &merchant, input.result).await?;
    if input.result == SpotCheckResult::Fail {
        let context = json!({
            "display_name": merchant.name, "category": check.category, "channel": check.channel,
            "region": check.region_code, "findings": check.findings, "risk_level": level,
        });
        enqueue_email(&txn, &state.templates, &merchant.contact_email, EmailKind::SpotCheckFailed, context).await?;
        if level == MAX_RISK && merchant.risk_level < MAX_RISK {
            crate::services::shares::share_risky_merchant(&txn, state, &merchant).await?;
        }
    }
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(check)
}

/// Who may record this check, and for which draw: an inspection officer in its regions, or
/// (with `drawId`) an inspector drawn for it — for the draw's merchant, once.
async fn checker(
    state: &AppState,
    scope: &Scope,
    input: &SpotCheckInput,
    region: &str,
) -> AppResult<(Agency, Option<Uuid>)> {
    let Some(raw) = &input.draw_id else {
        if !inspection_regions(scope)?.iter().any(|r| r == region) {
            return Err(AppError::Forbidden(format!("region {region} is outside your jurisdiction")));
        }
        return Ok((Agency::Inspection, None));
    };
    let staff = scope.require_staff()?;
    let draw_id = Uuid::parse_str(raw.as_str()).map_err(|_| AppError::validation("drawId", "is not a valid ID"))?;
    let draw = entity::inspection_draw::Entity::find_by_id(draw_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::NotFound("draw".into()))?;
    if !crate::services::inspections::drawn(&draw, staff.user_id()) {
        return Err(AppError::Forbidden("only an inspector drawn for this check may record it".into()));
    }
    if input.merchant_id.as_str() != draw.merchant_id.to_string() {
        return Err(AppError::validation("merchantId", "is not the merchant this draw names"));
    }
    let done = spot_check::Entity::find().filter(spot_check::Column::DrawId.eq(draw_id)).one(&state.db).await?;
    if done.is_some() {
        return Err(AppError::Conflict("this draw's check is recorded already".into()));
    }
    Ok((staff.agency, Some(draw_id)))
}

/// The merchant checked, and (if given) a batch of its own.
async fn checked_merchant(
    txn: &DatabaseTransaction,
    merchant_id: Uuid,
    batch_id: Option<Uuid>,
) -> AppResult<merchant::Model> {
    let merchant = merchant::Entity::find_by_id(merchant_id)
        .one(txn)
        .await?
        .ok_or_else(|| AppError::NotFound("merchant".into()))?;
    if let Some(batch_id) = batch_id {
        let batch = product_batch::Entity::find_by_id(batch_id).one(txn).await?;
        if batch.is_none_or(|b| b.merchant_id != merchant.id) {
            return Err(AppError::validation("batchId", "is not a batch of this merchant"));
        }
    }
    Ok(merchant)
}

/// The merchant's risk level after one more check (stored); returns the new level.
async fn move_risk(txn: &DatabaseTransaction, merchant: &merchant::Model, result: SpotCheckResult) -> AppResult<i32> {
    let (level, streak) = next_risk(merchant.risk_level, merchant.pass_streak, result);
    merchant::Entity::update_many()
        .col_expr(merchant::Column::RiskLevel, Expr::value(level))
        .col_expr(merchant::Column::PassStreak, Expr::value(streak))
        .col_expr(merchant::Column::UpdatedAt, Expr::value(clock::now()))
        .filter(merchant::Column::Id.eq(merchant.id))
        .exec(txn)
        .await?;
    Ok(level)
}

pub async fn checks_of_batch(state: &AppState, batch_id: Uuid) -> AppResult<Vec<spot_check::Model>> {
    Ok(spot_check::Entity::find()
        .filter(spot_check::Column::BatchId.eq(batch_id))
        .order_by_desc(spot_check::Column::CheckedAt)
        .all(&state.db)
        .await?)
}

#[derive(Debug, FromQueryResult)]
pub struct ComparisonRow {
    pub category: String,
    pub online: i64,
    pub online_passed: i64,
    pub offline: i64,
    pub offline_passed: i64,
}

/// Per category: checks and passes online vs offline, aggregated in SQL. Inspection staff
/// see their regions; admins everything. Dates are China dates, both ends included.
#[tracing::instrument(skip_all)]
pub async fn comparison(
    state: &AppState,
    scope: &Scope,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    region: Option<String>,
    plan: Option<Uuid>,
) -> AppResult<Vec<ComparisonRow>> {
    let allowed: Option<Vec<String>> = match scope {
        Scope::Admin { .. } => None,
        _ => Some(inspection_regions(scope)?.to_vec()),
    };
    let region = region.map(|r| state.config.regions.parse("regionCode", &r)).transpose()?;
    let regions = match (&allowed, &region) {
        (Some(mine), Some(r)) if !mine.iter().any(|m| m == r.as_str()) => {
            return Err(AppError::Forbidden(format!("region {r} is outside your jurisdiction")));
        }
        (_, Some(r)) => Some(vec![r.to_string()]),
        (Some(mine), None) => Some(mine.clone()),
        (None, None) => None,
    };
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(AppError::validation("from", "must not be after `to`"));
    }
    let china = chrono::FixedOffset::east_opt(8 * 3600).expect("offset");
    let start_of = |d: NaiveDate| china.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default()).single();
    let count_if = |cond: sea_orm::sea_query::SimpleExpr| {
        Expr::expr(Func::coalesce([Expr::expr(Func::sum(Expr::case(cond, 1).finally(0))), Expr::val(0)]))
    };
    let online = Expr::col(spot_check::Column::Channel).eq(SpotCheckChannel::Online.as_str());
    let offline = Expr::col(spot_check::Column::Channel).eq(SpotCheckChannel::Offline.as_str());
    let passed = || Expr::col(spot_check::Column::Result).eq(SpotCheckResult::Pass.as_str());
    let mut query = spot_check::Entity::find()
        .select_only()
        .column(spot_check::Column::Category)
        .column_as(count_if(online.clone()), "online")
        .column_as(count_if(online.and(passed())), "online_passed")
        .column_as(count_if(offline.clone()), "offline")
        .column_as(count_if(offline.and(passed())), "offline_passed")
        .group_by(spot_check::Column::Category)
        .order_by_asc(spot_check::Column::Category);
    if let Some(start) = from.and_then(start_of) {
        query = query.filter(spot_check::Column::CheckedAt.gte(start.with_timezone(&chrono::Utc)));
    }
    if let Some(end) = to.and_then(|t| t.succ_opt()).and_then(start_of) {
        query = query.filter(spot_check::Column::CheckedAt.lt(end.with_timezone(&chrono::Utc)));
    }
    if let Some(regions) = regions {
        query = query.filter(spot_check::Column::RegionCode.is_in(regions));
    }
    // Limited to one plan: the checks answering its draws (online vs offline within a 双随机
    // sample).
    if let Some(plan) = plan {
        let draws = sea_orm::sea_query::Query::select()
            .column(entity::inspection_draw::Column::Id)
            .from(entity::inspection_draw::Entity)
            .and_where(Expr::col(entity::inspection_draw::Column::PlanId).eq(plan))
            .to_owned();
        query = query.filter(spot_check::Column::DrawId.in_subquery(draws));
    }
    Ok(query.into_model::<ComparisonRow>().all(&state.db).await?)
}
