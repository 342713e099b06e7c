//! Straight-through decisions (秒批): supervisors' decision rules, their simulation, and what a
//! filing shows of its automatic decision (evaluations for agency staff only).

use async_graphql::{Context, ID, Object, Result, SimpleObject, dataloader::DataLoader};
use chrono::{DateTime, Utc};
use entity::{decision_rule, enums::DecisionOutcome};

use super::{
    loaders::{RuleVersionsByRule, UserById, load_error},
    objects::Filing,
    parts,
    requirement_objects::RuleChange,
    scope,
    types::User,
    uuid_arg,
};
use crate::{
    domain::{
        Agency, FilingKind,
        decision_facts::{AutomaticDecision as Stored, DecisionRuleInput},
    },
    error::AppError,
    services::{
        access::Scope,
        auth::Need,
        automatic::{rules, simulation},
    },
};

#[derive(Default)]
pub struct DecisionQuery;

#[Object]
impl DecisionQuery {
    /// Supervisors: their agency's decision rules; administrators: any agency's (all without
    /// `agency`).
    async fn decision_rules(&self, ctx: &Context<'_>, agency: Option<Agency>) -> Result<Vec<DecisionRule>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        Ok(rules::list_rules(state, scope, agency).await?.into_iter().map(DecisionRule).collect())
    }

    /// Supervisors of the rule's agency: replays a draft over the facts stored with the last
    /// `lastDays` (default 30) days' decisions of its kind in their regions.
    async fn simulate_decision_rule(
        &self,
        ctx: &Context<'_>,
        input: DecisionRuleInput,
        last_days: Option<i32>,
    ) -> Result<RuleSimulation> {
        let (state, _) = parts(ctx);
        let supervisor = scope(ctx, Need::Read).await?.require_supervisor()?;
        let result = simulation::simulate(state, supervisor, input, last_days).await?;
        let count = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(RuleSimulation {
            evaluated: count(result.evaluated),
            would_approve: count(result.would_approve),
            would_approve_but_officer_rejected: count(result.would_approve_but_officer_rejected),
            sample: result.sample.into_iter().map(Filing).collect(),
        })
    }
}

#[derive(Default)]
pub struct DecisionMutation;

#[Object]
impl DecisionMutation {
    /// Supervisors of the kind's agency: creates (no `id`) or changes a decision rule; every
    /// save is a new version and a security event. Takes effect at the next submission.
    async fn save_decision_rule(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        input: DecisionRuleInput,
    ) -> Result<DecisionRule> {
        let (state, _) = parts(ctx);
        let supervisor = scope(ctx, Need::Decide).await?.require_supervisor()?;
        let id = id.as_ref().map(|i| uuid_arg("id", i)).transpose()?;
        Ok(DecisionRule(rules::save_rule(state, supervisor, id, input).await?))
    }
}

pub struct DecisionRule(pub decision_rule::Model);

#[Object]
impl DecisionRule {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn agency(&self) -> Agency {
        self.0.agency
    }
    async fn kind(&self) -> FilingKind {
        self.0.kind
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// CEL over `filing`, `merchant`, `case` and `history`; true approves without an officer.
    async fn condition(&self) -> &str {
        &self.0.condition
    }
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn updated_by(&self, ctx: &Context<'_>) -> Result<User> {
        let loader = ctx.data_unchecked::<DataLoader<UserById>>();
        let user = loader.load_one(self.0.updated_by).await.map_err(load_error)?;
        Ok(User(user.ok_or_else(|| AppError::NotFound("user".into()))?))
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Every saved version, oldest first.
    async fn history(&self, ctx: &Context<'_>) -> Result<Vec<RuleChange>> {
        let (state, _) = parts(ctx);
        Ok(rules::history(&state.db, self.0.id).await?.into_iter().map(RuleChange::from).collect())
    }
}

#[derive(SimpleObject)]
pub struct RuleSimulation {
    pub evaluated: i32,
    pub would_approve: i32,
    pub would_approve_but_officer_rejected: i32,
    /// Filings it would have approved (at most 20, newest first).
    pub sample: Vec<Filing>,
}

#[derive(SimpleObject)]
pub struct RuleEvaluation {
    pub rule_id: ID,
    pub rule_name: String,
    pub rule_version: i32,
    pub matched: bool,
    pub explanation: String,
}

/// What the decision rules made of a filing at its last (re)submission.
pub struct AutomaticDecision(pub Stored);

#[Object]
impl AutomaticDecision {
    async fn outcome(&self) -> DecisionOutcome {
        self.0.outcome
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// Each rule's verdict and why, with the condition of the rule version that ran: for
    /// agency staff and administrators; merchants get [].
    async fn evaluations(&self, ctx: &Context<'_>) -> Result<Vec<RuleEvaluation>> {
        let scope = super::loaded_scope(ctx).await?;
        if !matches!(scope, Scope::Agency { .. } | Scope::Admin { .. }) {
            return Ok(Vec::new());
        }
        // One query for the rules of every decision on the page (a review queue lists many).
        let loader = ctx.data_unchecked::<DataLoader<RuleVersionsByRule>>();
        let by_rule = loader.load_many(self.0.evaluations.iter().map(|e| e.rule_id)).await.map_err(load_error)?;
        let versions: std::collections::HashMap<_, _> = by_rule
            .values()
            .flatten()
            .filter(|v| self.0.evaluations.iter().any(|e| (e.rule_id, e.rule_version) == (v.rule_id, v.version)))
            .map(|v| ((v.rule_id, v.version), v))
            .collect();
        Ok(self
            .0
            .evaluations
            .iter()
            .map(|e| {
                let version = versions.get(&(e.rule_id, e.rule_version));
                let explanation = e.explanation(self.0.waits_for);
                RuleEvaluation {
                    rule_id: ID(e.rule_id.to_string()),
                    rule_name: version.map(|v| v.name.clone()).unwrap_or_default(),
                    rule_version: e.rule_version,
                    matched: e.matched,
                    explanation: match version.filter(|_| e.not_applied.is_none() && self.0.waits_for.is_none()) {
                        Some(version) => format!("{explanation} — {}", version.condition),
                        None => explanation,
                    },
                }
            })
            .collect())
    }
}
