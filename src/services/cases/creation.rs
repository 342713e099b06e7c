//! Opening a case: with a profile, the requirement rules choose the filings (一次性告知) and the
//! case keeps the requirements as evaluated; without one (v1 integrators), the merchant names
//! the kinds. References are gap-free per region and year.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Utc};
use entity::{case, case_counter, enums::CaseType, filing, merchant};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use uuid::Uuid;

use super::{Actor, CaseChange};
use crate::{
    domain::{
        CaseStatus, FilingKind, FilingStatus,
        case_profile::{CaseProfile, CaseProfileInput},
        requirements::Requirements,
    },
    error::{AppError, AppResult, Problems},
    platform::{clock, state::AppState},
    services::{access::MerchantUser, requirements},
};

/// What the merchant asks for: kinds, a profile, or both.
#[derive(Debug, Default)]
pub struct CaseRequest {
    pub kinds: Option<Vec<FilingKind>>,
    pub profile: Option<CaseProfileInput>,
    /// 跨省通办: the region whose office receives the filings (not the merchant's own).
    pub receiving_region_code: Option<String>,
}

/// The filings a case opens with, and (with a profile) why.
struct Plan {
    kinds: BTreeSet<FilingKind>,
    profile: Option<(CaseProfile, Requirements)>,
}

/// Creates a case with one DRAFT filing per kind, for the merchant the caller files for (an
/// agent: only the kinds granted to it).
#[tracing::instrument(skip_all, fields(merchant = %merchant.merchant_id))]
pub async fn create_case(state: &AppState, merchant: MerchantUser<'_>, request: CaseRequest) -> AppResult<case::Model> {
    let profile = merchant::Entity::find_by_id(merchant.merchant_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::NotFound("merchant".into()))?;
    let receiving = receiving_region(state, &profile, request.receiving_region_code.as_deref())?;
    let plan = plan(state, &profile, request).await?;
    merchant.require_kinds(plan.kinds.iter().copied())?;
    if plan.kinds.contains(&FilingKind::Registration) && profile.uscc.is_some() {
        return Err(AppError::validation("kinds", "REGISTRATION is not needed: your USCC was verified here"));
    }
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let now = clock::now();
    let reference = allocate_reference(&txn, &profile.region_code, now.with_timezone(&clock::china()).year()).await?;
    let (stored_profile, ruleset_version, stored_requirements) = match &plan.profile {
        Some((p, r)) => (Some(to_json(p)?), Some(r.ruleset_version), Some(to_json(r)?)),
        None => (None, None, None),
    };
    let mut draft = new_case(&profile, reference, CaseType::New, now);
    draft.profile = Set(stored_profile);
    draft.ruleset_version = Set(ruleset_version);
    draft.requirements = Set(stored_requirements);
    let case = draft.insert(&txn).await?;
    let mut filings = Vec::new();
    for kind in &plan.kinds {
        let mut draft = new_filing(&case, &profile, *kind, now);
        draft.receiving_region_code = Set(receiving.clone());
        filings.push(draft.insert(&txn).await?);
    }
    let mut note = plan.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",");
    if let Some(version) = ruleset_version {
        note.push_str(&format!(" (requirements ruleset {version})"));
    }
    let mut change = CaseChange::adopt(state, txn, Actor::of(merchant.scope()), case, profile, filings);
    change.case_event("case.created", None, Some(&note)).await?;
    change.commit().await
}

/// The receiving office's region: a served region other than the merchant's home region.
fn receiving_region(state: &AppState, merchant: &merchant::Model, given: Option<&str>) -> AppResult<Option<String>> {
    let Some(raw) = given.filter(|r| !r.trim().is_empty()) else { return Ok(None) };
    let region = state.config.regions.parse("receivingRegionCode", raw)?.to_string();
    if region == merchant.region_code {
        return Err(AppError::validation("receivingRegionCode", "is your home region: leave it out to file there"));
    }
    Ok(Some(region))
}

fn to_json<T: serde::Serialize>(value: &T) -> AppResult<String> {
    serde_json::to_string(value).map_err(|e| AppError::Internal(e.into()))
}

/// Which filings to open: the kinds given (v1), or what the requirements say for the profile.
async fn plan(state: &AppState, merchant: &merchant::Model, request: CaseRequest) -> AppResult<Plan> {
    let kinds = request.kinds.map(distinct_kinds).transpose()?;
    let Some(input) = request.profile else {
        let kinds = kinds.ok_or_else(|| {
            AppError::validation("kinds", "choose the filing kinds, or give a profile and the requirements choose them")
        })?;
        return Ok(Plan { kinds, profile: None });
    };
    let profile = CaseProfile::parse(input)?;
    let requirements = requirements::work_out_for(state, &state.db, &profile, Some(merchant)).await?;
    let kinds = match kinds {
        None => requirements.mandatory_kinds().collect::<BTreeSet<_>>(),
        Some(kinds) => check_kinds(&requirements, kinds)?,
    };
    if kinds.is_empty() {
        return Err(AppError::validation(
            "profile",
            "no filing is needed for this profile; nothing to open a case for",
        ));
    }
    Ok(Plan { kinds, profile: Some((profile, requirements)) })
}

fn distinct_kinds(kinds: Vec<FilingKind>) -> AppResult<BTreeSet<FilingKind>> {
    let unique: BTreeSet<FilingKind> = kinds.iter().copied().collect();
    if kinds.is_empty() {
        return Err(AppError::validation("kinds", "choose at least one filing kind"));
    }
    if unique.len() != kinds.len() {
        return Err(AppError::validation("kinds", "each kind may appear once"));
    }
    Ok(unique)
}

/// Kinds chosen beside a profile: every MANDATORY filing, plus OPTIONAL ones, nothing else.
fn check_kinds(requirements: &Requirements, kinds: BTreeSet<FilingKind>) -> AppResult<BTreeSet<FilingKind>> {
    let mut problems = Problems::default();
    for kind in requirements.mandatory_kinds().filter(|k| !kinds.contains(k)) {
        let reason = requirements.filing(kind).map(|f| f.reason.as_str()).unwrap_or_default();
        problems.push("kinds", format!("must include {kind}: it is MANDATORY for this profile ({reason})"));
    }
    for kind in kinds.iter().filter(|k| requirements.filing(**k).is_none()) {
        problems.push("kinds", format!("{kind} does not apply to this profile; see requirements(profile)"));
    }
    problems.finish(kinds)
}

/// Next `{region}-{year}-{nnnnnn}`. The counter row is updated inside the creating
/// transaction: concurrent creators queue on its row lock, and a rolled-back creation gives
/// its number back, so references have neither gaps nor duplicates.
pub(super) async fn allocate_reference(txn: &DatabaseTransaction, region: &str, year: i32) -> AppResult<String> {
    case_counter::Entity::insert(case_counter::ActiveModel {
        region_code: Set(region.to_string()),
        year: Set(year),
        last_value: Set(0),
    })
    .on_conflict(
        OnConflict::columns([case_counter::Column::RegionCode, case_counter::Column::Year]).do_nothing().to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    case_counter::Entity::update_many()
        .col_expr(case_counter::Column::LastValue, Expr::col(case_counter::Column::LastValue).add(1))
        .filter(case_counter::Column::RegionCode.eq(region))
        .filter(case_counter::Column::Year.eq(year))
        .exec(txn)
        .await?;
    let counter = case_counter::Entity::find_by_id((region.to_string(), year))
        .one(txn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("case counter vanished"))?;
    Ok(format!("{region}-{year}-{:06}", counter.last_value))
}

/// A DRAFT case of the merchant, in its region, without a profile.
pub(super) fn new_case(
    holder: &merchant::Model,
    reference: String,
    case_type: CaseType,
    now: DateTime<Utc>,
) -> case::ActiveModel {
    case::ActiveModel {
        id: Set(Uuid::now_v7()),
        reference: Set(reference),
        merchant_id: Set(holder.id),
        region_code: Set(holder.region_code.clone()),
        status: Set(CaseStatus::Draft),
        created_at: Set(now),
        submitted_at: Set(None),
        updated_at: Set(now),
        profile: Set(None),
        ruleset_version: Set(None),
        requirements: Set(None),
        case_type: Set(case_type),
    }
}

/// A DRAFT filing of `kind` in a new case.
pub(super) fn new_filing(
    case: &case::Model,
    merchant: &merchant::Model,
    kind: FilingKind,
    now: DateTime<Utc>,
) -> filing::ActiveModel {
    filing::ActiveModel {
        id: Set(Uuid::now_v7()),
        case_id: Set(case.id),
        kind: Set(kind),
        agency: Set(kind.agency()),
        status: Set(FilingStatus::Draft),
        version: Set(1),
        region_code: Set(case.region_code.clone()),
        data: Set(None),
        assignee_id: Set(None),
        due_at: Set(None),
        paused_remaining_secs: Set(None),
        decision_note: Set(None),
        certificate_number: Set(None),
        uscc: Set(if kind.needs_uscc() { merchant.known_uscc().map(str::to_string) } else { None }),
        submitted_at: Set(None),
        decided_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        reminder_sent_at: Set(None),
        overdue_notified_at: Set(None),
        decided_by: Set(None),
        automatic_decision: Set(None),
        paused_working_days: Set(None),
        licence_id: Set(None),
        receiving_region_code: Set(None),
        received_at: Set(None),
    }
}
