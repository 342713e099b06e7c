//! 双随机、一公开: inspection plans draw merchants and, for each, at least two inspectors at
//! random from a recorded seed (`domain::draws`), excluding merchants checked recently and
//! inspectors who decided a filing of the merchant in the last 365 days. The plan keeps the
//! seed and the ordered candidate lists, so `onestop replay-plan` re-draws it; the results of
//! plan-drawn checks are public (`public_results`).

use std::collections::HashSet;

use async_graphql::InputObject;
use chrono::{Duration, TimeZone};
use entity::{decision_record, inspection_draw, inspection_plan, merchant, spot_check, user, user_region};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use crate::{
    domain::{
        Agency, Role,
        draws::{Draw, parse_seed, seed_hex},
        filing_data::ProductCategory,
        identifiers as id,
    },
    error::{AppError, AppResult, Problems},
    platform::{clock, state::AppState},
    services::access::{Scope, Supervisor},
};

#[derive(InputObject, Clone, Debug)]
pub struct InspectionPlanInput {
    pub name: String,
    pub region_codes: Vec<String>,
    pub categories: Option<Vec<ProductCategory>>,
    /// Merchants to draw.
    pub sample_size: i32,
    /// At least 2.
    pub inspectors_per_draw: i32,
    pub risk_weighted: bool,
    pub exclude_checked_within_days: Option<i32>,
}

/// A plan with the draws the caller may see.
pub struct Plan {
    pub plan: inspection_plan::Model,
    pub draws: Vec<inspection_draw::Model>,
}

fn json<T: serde::Serialize>(value: &T) -> AppResult<String> {
    serde_json::to_string(value).map_err(|e| AppError::Internal(e.into()))
}

fn validate(
    state: &AppState,
    supervisor: &Supervisor<'_>,
    input: &InspectionPlanInput,
) -> AppResult<(String, Vec<String>)> {
    let mut problems = Problems::default();
    let name = problems.take(id::text("name", &input.name, 200, false));
    if input.region_codes.is_empty() {
        problems.push("regionCodes", "name at least one region");
    }
    let mut regions = Vec::new();
    for (i, raw) in input.region_codes.iter().enumerate() {
        if let Some(code) = problems.check(state.config.regions.parse(&format!("regionCodes[{i}]"), raw)) {
            if !supervisor.covers_region(code.as_str()) {
                return Err(AppError::Forbidden(format!("region {code} is outside your jurisdiction")));
            }
            regions.push(code.to_string());
        }
    }
    if !(1..=500).contains(&input.sample_size) {
        problems.push("sampleSize", "between 1 and 500 merchants");
    }
    if !(2..=10).contains(&input.inspectors_per_draw) {
        problems.push("inspectorsPerDraw", "between 2 and 10: every check is made by at least two inspectors");
    }
    if input.exclude_checked_within_days.is_some_and(|d| !(0..=3650).contains(&d)) {
        problems.push("excludeCheckedWithinDays", "between 0 and 3650");
    }
    problems.finish((name, regions))
}

/// Draws a plan (supervisors of INSPECTION or MARKET_REGULATION, inside their regions). Too
/// few eligible merchants or inspectors is VALIDATION naming the shortfall.
#[tracing::instrument(skip_all)]
pub async fn create_plan(state: &AppState, scope: &Scope, input: InspectionPlanInput) -> AppResult<Plan> {
    let supervisor = scope.require_supervisor()?;
    if !matches!(supervisor.agency, Agency::Inspection | Agency::MarketRegulation) {
        return Err(AppError::Forbidden(
            "inspection plans are drawn by inspection and market-regulation supervisors".into(),
        ));
    }
    let (name, regions) = validate(state, &supervisor, &input)?;
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let candidates = merchant_candidates(&txn, &regions, &input).await?;
    let sample = usize::try_from(input.sample_size).unwrap_or(0);
    if candidates.len() < sample {
        return Err(AppError::validation(
            "sampleSize",
            format!("only {} eligible merchants in those regions; {sample} asked", candidates.len()),
        ));
    }
    let seed: [u8; 32] = rand::random();
    let mut draw = Draw::new(seed);
    let drawn = draw.merchants(&candidates.iter().map(|(m, w)| (m.id, *w)).collect::<Vec<_>>(), sample);
    let per_draw = usize::try_from(input.inspectors_per_draw).unwrap_or(2);
    let now = clock::now();
    let plan = inspection_plan::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name),
        agency: Set(supervisor.agency),
        region_codes: Set(json(&regions)?),
        categories: Set(input.categories.as_ref().map(json).transpose()?),
        sample_size: Set(input.sample_size),
        inspectors_per_draw: Set(input.inspectors_per_draw),
        risk_weighted: Set(input.risk_weighted),
        exclude_checked_within_days: Set(input.exclude_checked_within_days),
        seed: Set(seed_hex(&seed)),
        merchant_candidates: Set(json(&candidates.iter().map(|(m, w)| (m.id, *w)).collect::<Vec<_>>())?),
        created_by: Set(supervisor.user_id()),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let draws = draw_inspectors(&txn, &mut draw, &plan, &candidates, drawn, per_draw).await?;
    txn.commit().await?;
    Ok(Plan { plan, draws })
}

/// For each drawn merchant, `per_draw` inspectors among the region's officers without a
/// conflict, stored with the candidates they were drawn from (so the draw can be replayed).
async fn draw_inspectors(
    txn: &DatabaseTransaction,
    draw: &mut Draw,
    plan: &inspection_plan::Model,
    candidates: &[(merchant::Model, u64)],
    drawn: Vec<Uuid>,
    per_draw: usize,
) -> AppResult<Vec<inspection_draw::Model>> {
    let mut draws = Vec::with_capacity(drawn.len());
    for (position, merchant_id) in drawn.into_iter().enumerate() {
        let region = candidates
            .iter()
            .find(|(m, _)| m.id == merchant_id)
            .map(|(m, _)| m.region_code.clone())
            .unwrap_or_default();
        let eligible = inspector_candidates(txn, plan.agency, &region, merchant_id).await?;
        if eligible.len() < per_draw {
            return Err(AppError::validation(
                "inspectorsPerDraw",
                format!(
                    "a merchant in {region} has only {} eligible inspectors (officers of the region who decided none of its filings in 365 days); {per_draw} asked",
                    eligible.len()
                ),
            ));
        }
        let inspectors = draw.inspectors(&eligible, per_draw);
        let row = inspection_draw::ActiveModel {
            id: Set(Uuid::now_v7()),
            plan_id: Set(plan.id),
            position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
            merchant_id: Set(merchant_id),
            inspector_candidates: Set(json(&eligible)?),
            inspectors: Set(json(&inspectors)?),
        };
        draws.push(row.insert(txn).await?);
    }
    Ok(draws)
}

/// Merchants of the regions (and categories), not checked within the days asked, in id order,
/// with their weight (1 + risk level when risk-weighted).
async fn merchant_candidates<C: ConnectionTrait>(
    db: &C,
    regions: &[String],
    input: &InspectionPlanInput,
) -> AppResult<Vec<(merchant::Model, u64)>> {
    let all = merchant::Entity::find()
        .filter(merchant::Column::RegionCode.is_in(regions.to_vec()))
        .order_by_asc(merchant::Column::Id)
        .all(db)
        .await?;
    let recently: HashSet<Uuid> = match input.exclude_checked_within_days {
        Some(days) => spot_check::Entity::find()
            .select_only()
            .column(spot_check::Column::MerchantId)
            .filter(spot_check::Column::CheckedAt.gte(clock::now() - Duration::days(i64::from(days))))
            .into_tuple::<Uuid>()
            .all(db)
            .await?
            .into_iter()
            .collect(),
        None => HashSet::new(),
    };
    let wanted = input.categories.clone().unwrap_or_default();
    Ok(all
        .into_iter()
        .filter(|m| !recently.contains(&m.id))
        .filter(|m| {
            let sells: Vec<ProductCategory> = serde_json::from_str(&m.categories).unwrap_or_default();
            wanted.is_empty() || sells.iter().any(|c| wanted.contains(c))
        })
        .map(|m| {
            let weight = if input.risk_weighted { 1 + u64::try_from(m.risk_level).unwrap_or(0) } else { 1 };
            (m, weight)
        })
        .collect())
}

/// Officers of the agency covering the region, in id order, less any who decided a filing of
/// the merchant in the last 365 days (conflict of interest).
async fn inspector_candidates<C: ConnectionTrait>(
    db: &C,
    agency: Agency,
    region: &str,
    merchant_id: Uuid,
) -> AppResult<Vec<Uuid>> {
    let covering: Vec<Uuid> = user_region::Entity::find()
        .select_only()
        .column(user_region::Column::UserId)
        .filter(user_region::Column::RegionCode.eq(region))
        .into_tuple::<Uuid>()
        .all(db)
        .await?;
    let officers = user::Entity::find()
        .filter(user::Column::Id.is_in(covering))
        .filter(user::Column::Role.eq(Role::Officer))
        .filter(user::Column::Agency.eq(agency))
        .order_by_asc(user::Column::Id)
        .all(db)
        .await?;
    let conflicted: HashSet<Uuid> = decision_record::Entity::find()
        .select_only()
        .column(decision_record::Column::ActorId)
        .filter(decision_record::Column::MerchantId.eq(merchant_id))
        .filter(decision_record::Column::At.gte(clock::now() - Duration::days(365)))
        .filter(decision_record::Column::ActorId.is_not_null())
        .into_tuple::<Uuid>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(officers.into_iter().map(|o| o.id).filter(|o| !conflicted.contains(o)).collect())
}

/// Plans the caller may see, newest first: supervisors of the plan's agency whose regions meet
/// the plan's, administrators — with every draw; an officer the plans it was drawn in, with
/// its own draws only.
pub async fn list_plans(state: &AppState, scope: &Scope, first: Option<i32>) -> AppResult<Vec<Plan>> {
    let limit = crate::platform::pagination::page_size(first)?;
    let staff = match scope {
        Scope::Admin { .. } => None,
        _ => Some(scope.require_staff()?),
    };
    let mut query = inspection_plan::Entity::find().order_by_desc(inspection_plan::Column::Id);
    if let Some(staff) = staff {
        query = query.filter(inspection_plan::Column::Agency.eq(staff.agency));
    }
    let mut out = Vec::new();
    for plan in query.all(&state.db).await? {
        let draws = inspection_draw::Entity::find()
            .filter(inspection_draw::Column::PlanId.eq(plan.id))
            .order_by_asc(inspection_draw::Column::Position)
            .all(&state.db)
            .await?;
        let regions: Vec<String> = serde_json::from_str(&plan.region_codes).unwrap_or_default();
        let visible: Vec<inspection_draw::Model> = match staff {
            None => draws,
            Some(s) if s.is_supervisor() && regions.iter().any(|r| s.covers_region(r)) => draws,
            Some(s) => draws.into_iter().filter(|d| drawn(d, s.user_id())).collect(),
        };
        if !visible.is_empty() || staff.is_none() {
            out.push(Plan { plan, draws: visible });
        }
        if out.len() >= limit as usize {
            break;
        }
    }
    Ok(out)
}

/// Whether `user` is among the draw's inspectors.
pub fn drawn(draw: &inspection_draw::Model, user: Uuid) -> bool {
    serde_json::from_str::<Vec<Uuid>>(&draw.inspectors).unwrap_or_default().contains(&user)
}

/// `replay-plan`: re-draws the plan from its seed and stored candidate lists. Each draw as
/// stored, and whether the re-draw gives the same merchant and inspectors.
pub async fn replay(state: &AppState, plan_id: Uuid) -> AppResult<Vec<(inspection_draw::Model, bool)>> {
    let plan = inspection_plan::Entity::find_by_id(plan_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::NotFound("inspection plan".into()))?;
    let stored = inspection_draw::Entity::find()
        .filter(inspection_draw::Column::PlanId.eq(plan.id))
        .order_by_asc(inspection_draw::Column::Position)
        .all(&state.db)
        .await?;
    let seed = parse_seed(&plan.seed).ok_or_else(|| anyhow::anyhow!("plan {plan_id} has an unreadable seed"))?;
    let candidates: Vec<(Uuid, u64)> = serde_json::from_str(&plan.merchant_candidates).map_err(anyhow::Error::from)?;
    let mut draw = Draw::new(seed);
    let merchants = draw.merchants(&candidates, usize::try_from(plan.sample_size).unwrap_or(0));
    let mut out = Vec::with_capacity(stored.len());
    for (position, row) in stored.into_iter().enumerate() {
        let eligible: Vec<Uuid> = serde_json::from_str(&row.inspector_candidates).map_err(anyhow::Error::from)?;
        let inspectors = draw.inspectors(&eligible, usize::try_from(plan.inspectors_per_draw).unwrap_or(2));
        let kept: Vec<Uuid> = serde_json::from_str(&row.inspectors).map_err(anyhow::Error::from)?;
        let same = merchants.get(position) == Some(&row.merchant_id) && inspectors == kept;
        out.push((row, same));
    }
    Ok(out)
}

/// One finished plan-drawn check as the public sees it (一公开): the business, never a person.
pub struct PublicResult {
    pub merchant_name: String,
    pub merchant_uscc: Option<String>,
    pub check: spot_check::Model,
    pub plan_name: Option<String>,
}

/// The newest 500 plan-drawn checks, optionally of one region and China-date window.
pub async fn public_results(
    state: &AppState,
    region: Option<String>,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
) -> AppResult<Vec<PublicResult>> {
    let mut query = spot_check::Entity::find()
        .filter(spot_check::Column::DrawId.is_not_null())
        .order_by_desc(spot_check::Column::CheckedAt)
        .limit(500);
    if let Some(region) = region {
        query = query
            .filter(spot_check::Column::RegionCode.eq(state.config.regions.parse("regionCode", &region)?.to_string()));
    }
    let start = |d: chrono::NaiveDate| {
        clock::china()
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
            .single()
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    if let Some(at) = from.and_then(start) {
        query = query.filter(spot_check::Column::CheckedAt.gte(at));
    }
    if let Some(at) = to.and_then(|d| start(d + Duration::days(1))) {
        query = query.filter(spot_check::Column::CheckedAt.lt(at));
    }
    let checks = query.all(&state.db).await?;
    let draw_ids: Vec<Uuid> = checks.iter().filter_map(|c| c.draw_id).collect();
    let draws =
        inspection_draw::Entity::find().filter(inspection_draw::Column::Id.is_in(draw_ids)).all(&state.db).await?;
    let plans = inspection_plan::Entity::find()
        .filter(inspection_plan::Column::Id.is_in(draws.iter().map(|d| d.plan_id).collect::<Vec<_>>()))
        .all(&state.db)
        .await?;
    let merchants = merchant::Entity::find()
        .filter(merchant::Column::Id.is_in(checks.iter().map(|c| c.merchant_id).collect::<Vec<_>>()))
        .all(&state.db)
        .await?;
    Ok(checks
        .into_iter()
        .map(|check| {
            let holder = merchants.iter().find(|m| m.id == check.merchant_id);
            let plan = draws
                .iter()
                .find(|d| Some(d.id) == check.draw_id)
                .and_then(|d| plans.iter().find(|p| p.id == d.plan_id));
            PublicResult {
                merchant_name: holder.map(|m| m.name.clone()).unwrap_or_default(),
                merchant_uscc: holder.and_then(|m| m.known_uscc().map(str::to_string)),
                plan_name: plan.map(|p| p.name.clone()),
                check,
            }
        })
        .collect())
}
