//! What a case needs: the public `requirements(profile)`, the administrators' requirement
//! rules with their history, and what a case and its filings show of their requirements.

use async_graphql::{Context, ID, Object, Result, dataloader::DataLoader};
use chrono::{DateTime, Utc};
use entity::{
    enums::{DocumentType, RequirementLevel},
    requirement_rule, requirement_rule_version,
};

use super::{
    loaded_scope,
    loaders::{UserById, load_error},
    objects::Document,
    parts, scope,
    types::User,
    uuid_arg,
};
use crate::{
    domain::{
        FilingKind,
        case_profile::CaseProfileInput,
        requirements::{DocumentRequirement, RequirementRuleInput, Requirements},
    },
    error::AppError,
    services::{
        auth::{Caller, Need},
        requirements::{self, documents::DocumentStatus, rules},
    },
};

#[derive(Default)]
pub struct RequirementQuery;

#[Object]
impl RequirementQuery {
    /// Public: the filings and documents a case with this profile needs, why, and the legal
    /// basis. Logged-in merchants get rules about their own merchant applied too.
    async fn requirements(&self, ctx: &Context<'_>, profile: CaseProfileInput) -> Result<Requirements> {
        let (state, caller) = parts(ctx);
        let scope = match caller {
            Caller::Anonymous => None,
            _ => loaded_scope(ctx).await.ok(),
        };
        Ok(requirements::for_profile(state, scope, profile).await?)
    }

    /// Administrators: every requirement rule as it stands, with its history.
    async fn requirement_rules(&self, ctx: &Context<'_>) -> Result<Vec<RequirementRule>> {
        let (state, _) = parts(ctx);
        let admin = scope(ctx, Need::UserOnly).await?.require_admin()?;
        Ok(rules::list_rules(state, admin).await?.into_iter().map(RequirementRule).collect())
    }
}

#[derive(Default)]
pub struct RequirementMutation;

#[Object]
impl RequirementMutation {
    /// Administrators: creates (no `id`) or changes a requirement rule. Each save is a new
    /// version of the rule and of the ruleset; cases keep the version they were created under.
    async fn save_requirement_rule(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        input: RequirementRuleInput,
    ) -> Result<RequirementRule> {
        let (state, _) = parts(ctx);
        let admin = scope(ctx, Need::UserOnly).await?.require_admin()?;
        let id = id.as_ref().map(|i| uuid_arg("id", i)).transpose()?;
        Ok(RequirementRule(rules::save_rule(state, admin, id, input).await?))
    }
}

pub struct RequirementRule(pub requirement_rule::Model);

#[Object]
impl RequirementRule {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn kind(&self) -> FilingKind {
        self.0.kind
    }
    /// Null: the rule decides whether the filing itself applies.
    async fn document_type(&self) -> Option<DocumentType> {
        self.0.document_type
    }
    /// CEL over `profile` and `merchant`.
    async fn condition(&self) -> &str {
        &self.0.condition
    }
    async fn level(&self) -> RequirementLevel {
        self.0.level
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn legal_basis(&self) -> &str {
        &self.0.legal_basis
    }
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    async fn version(&self) -> i32 {
        self.0.version
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

/// One saved version of a rule (requirement or decision rule).
pub struct RuleChange {
    pub version: i32,
    pub at: DateTime<Utc>,
    pub actor_id: uuid::Uuid,
    pub condition: String,
    pub enabled: bool,
    pub ruleset_version: Option<i32>,
    pub level: Option<RequirementLevel>,
}

impl From<requirement_rule_version::Model> for RuleChange {
    fn from(v: requirement_rule_version::Model) -> Self {
        Self {
            version: v.version,
            at: v.at,
            actor_id: v.actor_id,
            condition: v.condition,
            enabled: v.enabled,
            ruleset_version: Some(v.ruleset_version),
            level: Some(v.level),
        }
    }
}

impl From<entity::decision_rule_version::Model> for RuleChange {
    fn from(v: entity::decision_rule_version::Model) -> Self {
        Self {
            version: v.version,
            at: v.at,
            actor_id: v.actor_id,
            condition: v.condition,
            enabled: v.enabled,
            ruleset_version: None,
            level: None,
        }
    }
}

#[Object]
impl RuleChange {
    async fn version(&self) -> i32 {
        self.version
    }
    async fn at(&self) -> DateTime<Utc> {
        self.at
    }
    /// Who saved it (the portal's system user for the default ruleset).
    async fn actor(&self, ctx: &Context<'_>) -> Result<User> {
        if self.actor_id == requirements::SYSTEM_ACTOR {
            return Ok(User(requirements::system_user()));
        }
        let loader = ctx.data_unchecked::<DataLoader<UserById>>();
        let user = loader.load_one(self.actor_id).await.map_err(load_error)?;
        Ok(User(user.ok_or_else(|| AppError::NotFound("user".into()))?))
    }
    async fn condition(&self) -> &str {
        &self.condition
    }
    async fn enabled(&self) -> bool {
        self.enabled
    }
    /// Requirement rules: the ruleset version this save created.
    async fn ruleset_version(&self) -> Option<i32> {
        self.ruleset_version
    }
    /// Requirement rules: the level saved.
    async fn level(&self) -> Option<RequirementLevel> {
        self.level
    }
}

/// A document a filing needs and what was uploaded for it; `.1`: the reader sees the filing
/// masked (`Scope::reads_masked`).
pub struct DocumentRequirementStatus(pub DocumentStatus, pub bool);

#[Object]
impl DocumentRequirementStatus {
    async fn requirement(&self) -> &DocumentRequirement {
        &self.0.requirement
    }
    /// Uploaded to the filing, or to the case as a whole, with this document type.
    async fn documents(&self) -> Vec<Document> {
        self.0
            .documents
            .iter()
            .cloned()
            .map(|document| Document::from(crate::services::documents::read_one(document, self.1)))
            .collect()
    }
    /// A document of this type is there. OPTIONAL ones never hold a submission up.
    async fn satisfied(&self) -> bool {
        self.0.satisfied()
    }
}
