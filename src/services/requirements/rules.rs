//! Administrators edit requirement rules. Every save is a new immutable version of the rule and
//! a new global ruleset version (the counter is bumped under its row lock in the saving
//! transaction, so versions are gap-free and ordered), and a security event.

use entity::{requirement_rule, requirement_rule_version, rule_counter};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::COUNTER;
use crate::{
    domain::{identifiers::text, requirements::RequirementRuleInput, rules},
    error::{AppError, AppResult, Problems},
    platform::{clock, state::AppState},
    services::{
        access::Admin,
        audit::security::{self, SecurityEvent, SecurityKind},
    },
};

/// A checked input: texts trimmed and bounded, the condition compiled against the documented
/// facts (a syntax error or an unknown name is refused with its position).
fn validate(state: &AppState, input: RequirementRuleInput) -> AppResult<RequirementRuleInput> {
    let mut problems = Problems::default();
    let name = problems.take(text("input.name", &input.name, 200, false));
    let description = problems.take(text("input.description", &input.description, 2000, true));
    let legal_basis = problems.take(text("input.legalBasis", &input.legal_basis, 500, true));
    problems.check(state.rule_programs.compile("input.condition", &input.condition, &rules::REQUIREMENT_FACTS));
    let condition = input.condition.trim().to_string();
    problems.finish(RequirementRuleInput { name, description, legal_basis, condition, ..input })
}

/// The next ruleset version, taken under the counter's row lock.
async fn bump_ruleset_version<C: ConnectionTrait>(db: &C) -> AppResult<i32> {
    rule_counter::Entity::update_many()
        .col_expr(rule_counter::Column::Value, Expr::col(rule_counter::Column::Value).add(1))
        .filter(rule_counter::Column::Name.eq(COUNTER))
        .exec(db)
        .await?;
    super::current_version(db).await
}

/// Creates (`id` unset) or changes a rule; either way a new version.
#[tracing::instrument(skip_all, fields(rule = ?id))]
pub async fn save_rule(
    state: &AppState,
    admin: Admin,
    id: Option<Uuid>,
    input: RequirementRuleInput,
) -> AppResult<requirement_rule::Model> {
    let input = validate(state, input)?;
    let txn = crate::platform::db::begin_write(&state.db).await?;
    // The counter first: concurrent saves queue on its row lock, so the rule read next is the
    // one the previous save left.
    let ruleset_version = bump_ruleset_version(&txn).await?;
    let existing = match id {
        Some(id) => Some(
            requirement_rule::Entity::find_by_id(id)
                .one(&txn)
                .await?
                .ok_or_else(|| AppError::NotFound("requirement rule".into()))?,
        ),
        None => None,
    };
    let now = clock::now();
    let rule_id = existing.as_ref().map(|r| r.id).unwrap_or_else(Uuid::now_v7);
    let version = existing.as_ref().map(|r| r.version + 1).unwrap_or(1);
    let row = requirement_rule::ActiveModel {
        id: Set(rule_id),
        name: Set(input.name.clone()),
        kind: Set(input.kind),
        document_type: Set(input.document_type),
        condition: Set(input.condition.clone()),
        level: Set(input.level),
        description: Set(input.description.clone()),
        legal_basis: Set(input.legal_basis.clone()),
        enabled: Set(input.enabled),
        version: Set(version),
        updated_at: Set(now),
    };
    let saved = if existing.is_some() { row.update(&txn).await? } else { row.insert(&txn).await? };
    requirement_rule_version::ActiveModel {
        rule_id: Set(rule_id),
        version: Set(version),
        ruleset_version: Set(ruleset_version),
        name: Set(input.name),
        kind: Set(input.kind),
        document_type: Set(input.document_type),
        condition: Set(input.condition),
        level: Set(input.level),
        description: Set(input.description),
        legal_basis: Set(input.legal_basis),
        enabled: Set(input.enabled),
        actor_id: Set(admin.user_id),
        at: Set(now),
    }
    .insert(&txn)
    .await?;
    let detail = format!("rule {rule_id} version {version}, ruleset version {ruleset_version}");
    security::record(
        &txn,
        state,
        SecurityEvent::new(SecurityKind::RequirementRuleSaved).actor(admin.user_id).subject(rule_id).detail(&detail),
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

/// Every rule as it stands now.
#[tracing::instrument(skip_all)]
pub async fn list_rules(state: &AppState, _admin: Admin) -> AppResult<Vec<requirement_rule::Model>> {
    Ok(requirement_rule::Entity::find()
        .order_by_asc(requirement_rule::Column::Kind)
        .order_by_asc(requirement_rule::Column::Id)
        .all(&state.db)
        .await?)
}

/// Every saved version of a rule, oldest first.
pub async fn history<C: ConnectionTrait>(db: &C, rule_id: Uuid) -> AppResult<Vec<requirement_rule_version::Model>> {
    Ok(requirement_rule_version::Entity::find()
        .filter(requirement_rule_version::Column::RuleId.eq(rule_id))
        .order_by_asc(requirement_rule_version::Column::Version)
        .all(db)
        .await?)
}
