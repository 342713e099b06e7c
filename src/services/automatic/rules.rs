//! Supervisors keep their agency's decision rules. Every save is a new immutable version (the
//! rule row is version-checked, so two saves of one rule cannot both win) and a security event.

use std::sync::{Arc, Mutex};

use entity::{decision_rule, decision_rule_version, rule_counter};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use crate::{
    domain::{Agency, decision_facts::DecisionRuleInput, identifiers::text, rules},
    error::{AppError, AppResult, Problems},
    platform::{clock, state::AppState},
    services::{
        access::{Scope, Supervisor},
        audit::security::{self, SecurityEvent, SecurityKind},
    },
};

/// The counter row bumped by every save (the rules' generation).
const GENERATION: &str = "decisions";

/// The enabled decision rules of every agency as of a generation: read at each submission is
/// the generation (one row); the rules only when it moved — on this instance or another.
#[derive(Default)]
pub struct EnabledRules(Mutex<Option<(i32, Arc<Vec<decision_rule::Model>>)>>);

impl EnabledRules {
    pub async fn get<C: ConnectionTrait>(&self, db: &C) -> AppResult<Arc<Vec<decision_rule::Model>>> {
        let generation =
            rule_counter::Entity::find_by_id(GENERATION.to_string()).one(db).await?.map(|c| c.value).unwrap_or(0);
        if let Some((cached, rules)) = self.0.lock().ok().and_then(|c| c.clone())
            && cached == generation
        {
            return Ok(rules);
        }
        let rules = Arc::new(
            decision_rule::Entity::find()
                .filter(decision_rule::Column::Enabled.eq(true))
                .order_by_asc(decision_rule::Column::Id)
                .all(db)
                .await?,
        );
        if let Ok(mut cache) = self.0.lock() {
            *cache = Some((generation, rules.clone()));
        }
        Ok(rules)
    }
}

/// Name and condition checked (the condition compiled against the documented facts), and the
/// kind one of the supervisor's agency.
pub(super) fn validate(
    state: &AppState,
    supervisor: &Supervisor<'_>,
    input: DecisionRuleInput,
) -> AppResult<DecisionRuleInput> {
    if input.kind.agency() != supervisor.agency {
        return Err(AppError::Forbidden(format!(
            "{} filings are decided by {}: its supervisors keep those rules",
            input.kind,
            input.kind.agency()
        )));
    }
    let mut problems = Problems::default();
    let name = problems.take(text("input.name", &input.name, 200, false));
    problems.check(state.rule_programs.compile("input.condition", &input.condition, &rules::DECISION_FACTS));
    let condition = input.condition.trim().to_string();
    problems.finish(DecisionRuleInput { name, condition, ..input })
}

/// Creates (`id` unset) or changes a decision rule of the supervisor's agency.
#[tracing::instrument(skip_all, fields(rule = ?id))]
pub async fn save_rule(
    state: &AppState,
    supervisor: Supervisor<'_>,
    id: Option<Uuid>,
    input: DecisionRuleInput,
) -> AppResult<decision_rule::Model> {
    let input = validate(state, &supervisor, input)?;
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let existing = match id {
        Some(id) => Some(
            decision_rule::Entity::find_by_id(id)
                .filter(decision_rule::Column::Agency.eq(supervisor.agency))
                .one(&txn)
                .await?
                .ok_or_else(|| AppError::NotFound("decision rule".into()))?,
        ),
        None => None,
    };
    let now = clock::now();
    let me = supervisor.user_id();
    let version = existing.as_ref().map(|r| r.version + 1).unwrap_or(1);
    let row = decision_rule::ActiveModel {
        id: Set(existing.as_ref().map(|r| r.id).unwrap_or_else(Uuid::now_v7)),
        agency: Set(supervisor.agency),
        kind: Set(input.kind),
        name: Set(input.name.clone()),
        condition: Set(input.condition.clone()),
        enabled: Set(input.enabled),
        version: Set(version),
        updated_by: Set(me),
        updated_at: Set(now),
    };
    let saved = store(&txn, existing.as_ref(), row).await?;
    keep_version(&txn, &saved).await?;
    rule_counter::Entity::update_many()
        .col_expr(rule_counter::Column::Value, Expr::col(rule_counter::Column::Value).add(1))
        .filter(rule_counter::Column::Name.eq(GENERATION))
        .exec(&txn)
        .await?;
    let detail = format!("decision rule {} ({}) version {version}, enabled: {}", saved.id, saved.kind, saved.enabled);
    security::record(
        &txn,
        state,
        SecurityEvent::new(SecurityKind::DecisionRuleSaved).actor(me).subject(saved.id).detail(&detail),
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

/// Inserts a new rule or updates an existing one, version-checked: of two saves of one rule,
/// the second finds it moved.
async fn store(
    txn: &DatabaseTransaction,
    existing: Option<&decision_rule::Model>,
    row: decision_rule::ActiveModel,
) -> AppResult<decision_rule::Model> {
    let Some(old) = existing else { return Ok(row.insert(txn).await?) };
    decision_rule::Entity::update(row)
        .validate()?
        .filter(decision_rule::Column::Version.eq(old.version))
        .exec(txn)
        .await
        .map_err(|e| match e {
            sea_orm::DbErr::RecordNotUpdated => {
                AppError::VersionConflict("the rule was saved by someone else meanwhile; reload it".into())
            }
            other => other.into(),
        })
}

/// Every saved version is kept as it was, so an evaluation can name the version it ran.
async fn keep_version(txn: &DatabaseTransaction, saved: &decision_rule::Model) -> AppResult<()> {
    decision_rule_version::ActiveModel {
        rule_id: Set(saved.id),
        version: Set(saved.version),
        agency: Set(saved.agency),
        kind: Set(saved.kind),
        name: Set(saved.name.clone()),
        condition: Set(saved.condition.clone()),
        enabled: Set(saved.enabled),
        actor_id: Set(saved.updated_by),
        at: Set(saved.updated_at),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// The decision rules of an agency: its supervisors (their own agency), administrators (any, or
/// all without `agency`).
#[tracing::instrument(skip_all)]
pub async fn list_rules(
    state: &AppState,
    scope: &Scope,
    agency: Option<Agency>,
) -> AppResult<Vec<decision_rule::Model>> {
    let agency = match scope {
        Scope::Admin { .. } => agency,
        _ => {
            let supervisor = scope.require_supervisor()?;
            if agency.is_some_and(|a| a != supervisor.agency) {
                return Err(AppError::Forbidden("supervisors read their own agency's decision rules".into()));
            }
            Some(supervisor.agency)
        }
    };
    let mut query =
        decision_rule::Entity::find().order_by_asc(decision_rule::Column::Kind).order_by_asc(decision_rule::Column::Id);
    if let Some(agency) = agency {
        query = query.filter(decision_rule::Column::Agency.eq(agency));
    }
    Ok(query.all(&state.db).await?)
}

/// Every saved version of a decision rule, oldest first.
pub async fn history<C: ConnectionTrait>(db: &C, rule_id: Uuid) -> AppResult<Vec<decision_rule_version::Model>> {
    Ok(decision_rule_version::Entity::find()
        .filter(decision_rule_version::Column::RuleId.eq(rule_id))
        .order_by_asc(decision_rule_version::Column::Version)
        .all(db)
        .await?)
}
