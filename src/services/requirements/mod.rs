//! What a case needs (一次性告知): the requirement rules in force (data, edited by
//! administrators in `rules`), the facts they read, and the requirements they give a profile.
//! A case keeps the ruleset version it was created under.

pub mod documents;
pub mod rules;

use std::collections::BTreeSet;

use entity::{case, filing, merchant, requirement_rule_version, rule_counter};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Query};
use serde_json::json;

use crate::{
    domain::{
        FilingKind, FilingStatus,
        case_profile::{CaseProfile, CaseProfileInput},
        requirements::{self as worked, RequirementRule, Requirements, work_out},
        rules::REQUIREMENT_FACTS,
    },
    error::{AppError, AppResult},
    platform::state::AppState,
    services::access::Scope,
};

/// Who saved the default ruleset (migration 13): the portal itself, not an account.
pub const SYSTEM_ACTOR: uuid::Uuid = uuid::Uuid::from_u128(0x01937c5e_0000_7000_8000_000000000000);

/// How the portal itself appears where a user is expected (rule histories).
pub fn system_user() -> entity::user::Model {
    let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    entity::user::Model {
        id: SYSTEM_ACTOR,
        email: "system@onestop.invalid".into(),
        password_hash: None,
        display_name: "onestop（系统 / the portal）".into(),
        role: entity::enums::Role::Admin,
        email_verified_at: None,
        agency: None,
        created_at: epoch,
        updated_at: epoch,
    }
}

/// The counter row holding the requirement ruleset version.
pub(crate) const COUNTER: &str = "requirements";

/// The current requirement ruleset version.
pub async fn current_version<C: ConnectionTrait>(db: &C) -> AppResult<i32> {
    Ok(rule_counter::Entity::find_by_id(COUNTER.to_string())
        .one(db)
        .await?
        .map(|c| c.value)
        .ok_or_else(|| anyhow::anyhow!("the requirements counter is missing"))?)
}

/// The ruleset as of `version`: per rule, the latest version saved at or before it, when
/// enabled, compiled (from the cache: a rule version never changes).
pub async fn ruleset<C: ConnectionTrait>(state: &AppState, db: &C, version: i32) -> AppResult<Vec<RequirementRule>> {
    let rows = requirement_rule_version::Entity::find()
        .filter(requirement_rule_version::Column::RulesetVersion.lte(version))
        .order_by_asc(requirement_rule_version::Column::RuleId)
        .order_by_asc(requirement_rule_version::Column::Version)
        .all(db)
        .await?;
    let mut latest: Vec<requirement_rule_version::Model> = Vec::new();
    for row in rows {
        match latest.last_mut() {
            Some(last) if last.rule_id == row.rule_id => *last = row,
            _ => latest.push(row),
        }
    }
    Ok(latest
        .into_iter()
        .filter(|r| r.enabled)
        .map(|r| RequirementRule {
            program: state
                .rule_programs
                .get(r.rule_id, r.version, &r.condition, &REQUIREMENT_FACTS)
                .map_err(|e| format!("the condition no longer compiles: {}", e.message())),
            id: r.rule_id,
            version: r.version,
            name: r.name,
            kind: r.kind,
            document_type: r.document_type,
            level: r.level,
            description: r.description,
            legal_basis: r.legal_basis,
        })
        .collect())
}

/// What requirement rules may read about a merchant.
pub async fn merchant_facts<C: ConnectionTrait>(db: &C, merchant: &merchant::Model) -> AppResult<serde_json::Value> {
    let approved: BTreeSet<FilingKind> = filing::Entity::find()
        .select_only()
        .column(filing::Column::Kind)
        .distinct()
        .filter(
            filing::Column::CaseId.in_subquery(
                Query::select()
                    .column(case::Column::Id)
                    .from(case::Entity)
                    .and_where(case::Column::MerchantId.eq(merchant.id))
                    .to_owned(),
            ),
        )
        .filter(filing::Column::Status.eq(FilingStatus::Approved))
        .into_tuple::<FilingKind>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(json!({
        "usccVerified": merchant.uscc.is_some(),
        "usccDeclared": merchant.uscc.is_none() && merchant.declared_uscc.is_some(),
        "riskLevel": merchant.risk_level,
        "regionCode": merchant.region_code,
        "approvedKinds": approved.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
    }))
}

/// The requirements of `profile` for `merchant` (absent: rules reading `merchant` do not
/// apply), under the current ruleset.
pub async fn work_out_for<C: ConnectionTrait>(
    state: &AppState,
    db: &C,
    profile: &CaseProfile,
    merchant: Option<&merchant::Model>,
) -> AppResult<Requirements> {
    let version = current_version(db).await?;
    let rules = ruleset(state, db, version).await?;
    let mut facts = json!({ "profile": profile.facts() });
    if let Some(merchant) = merchant {
        facts["merchant"] = merchant_facts(db, merchant).await?;
    }
    let evaluated = state.rule_runner.evaluate_all(&worked::programs(&rules), facts).await;
    let verdicts = worked::verdicts(&rules, evaluated);
    Ok(work_out(&rules, verdicts, version, |kind| state.config.review_days.for_kind(kind)))
}

/// `requirements(profile)`: anyone may ask; a merchant's user gets its merchant's facts too.
#[tracing::instrument(skip_all)]
pub async fn for_profile(state: &AppState, caller: Option<&Scope>, input: CaseProfileInput) -> AppResult<Requirements> {
    let profile = CaseProfile::parse(input)?;
    let merchant = match caller {
        Some(Scope::Merchant { merchant_id: Some(id), .. }) => merchant::Entity::find_by_id(*id).one(&state.db).await?,
        _ => None,
    };
    work_out_for(state, &state.db, &profile, merchant.as_ref()).await
}

/// The requirements a case was created with (`None`: a v1 case, opened with explicit kinds).
pub fn of_case(case: &case::Model) -> AppResult<Option<Requirements>> {
    case.requirements
        .as_deref()
        .map(|raw| {
            serde_json::from_str(raw)
                .map_err(|e| AppError::Internal(anyhow::anyhow!("stored requirements of case {}: {e}", case.id)))
        })
        .transpose()
}

/// The profile a case was created with.
pub fn profile_of_case(case: &case::Model) -> AppResult<Option<CaseProfile>> {
    case.profile
        .as_deref()
        .map(|raw| {
            serde_json::from_str(raw)
                .map_err(|e| AppError::Internal(anyhow::anyhow!("stored profile of case {}: {e}", case.id)))
        })
        .transpose()
}
