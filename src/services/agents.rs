//! Agents (代办 services, customs brokers): registered organisations a merchant's OWNER
//! authorises for named filing kinds until a date. A grant takes effect, and a revocation ends
//! it, at the agent's next request on every instance (each request reads the grants), and a
//! live socket closes at its next check (`Scope::covers`).

use std::collections::BTreeSet;

use chrono::NaiveDate;
use entity::{agent_authorization, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set, sea_query::Expr,
};
use uuid::Uuid;

use crate::{
    domain::{Email, FilingKind, Role, Uscc, identifiers as id},
    error::{AppError, AppResult, Problems},
    platform::{clock, state::AppState},
    services::{
        access::{Owner, Scope},
        audit::security::{self, SecurityEvent, SecurityKind},
        auth::accounts::{SignUp, sign_up},
    },
};

/// How far ahead a grant may run.
const LONGEST_GRANT_DAYS: i64 = 3 * 366;

/// What `registerAgent` asks for.
pub struct AgentSignUp<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub display_name: &'a str,
    pub organisation: &'a str,
    pub uscc: &'a str,
}

/// Registers an agent's user like a merchant's (verification email; the same answer for an
/// address that has an account), with its organisation's name and USCC.
#[tracing::instrument(skip_all)]
pub async fn register(
    state: &AppState,
    input: AgentSignUp<'_>,
    address: Option<std::net::IpAddr>,
) -> AppResult<user::Model> {
    let mut problems = Problems::default();
    let organisation = problems.check(id::text("organisation", input.organisation, 200, false));
    let uscc = problems
        .check(Uscc::parse_allowing("uscc", input.uscc, &state.config.uscc_allow_list).map(|u| u.as_str().to_string()));
    let (Some(organisation), Some(uscc)) = problems.finish((organisation, uscc))? else {
        return Err(anyhow::anyhow!("validated input without a value").into());
    };
    let request = SignUp {
        email: input.email,
        password: input.password,
        display_name: input.display_name,
        agent: Some((organisation, uscc)),
    };
    sign_up(state, request, address).await
}

/// The OWNER authorises a registered agent for `kinds` until `valid_until` (inclusive). A
/// grant to the same agent that still stands is replaced.
#[tracing::instrument(skip_all)]
pub async fn grant(
    state: &AppState,
    owner: Owner<'_>,
    agent_email: &str,
    kinds: Vec<FilingKind>,
    valid_until: NaiveDate,
    address: Option<std::net::IpAddr>,
) -> AppResult<agent_authorization::Model> {
    let mut problems = Problems::default();
    let email = problems.check(Email::parse("agentEmail", agent_email));
    let unique: BTreeSet<FilingKind> = kinds.iter().copied().collect();
    if unique.is_empty() || unique.len() != kinds.len() {
        problems.push("kinds", "name at least one filing kind, each once");
    }
    let today = clock::china_today();
    if valid_until < today {
        problems.push("validUntil", "is in the past");
    } else if valid_until > today + chrono::Duration::days(LONGEST_GRANT_DAYS) {
        problems.push("validUntil", "may be at most three years ahead; grant again later");
    }
    let Some(email) = problems.finish(email)? else {
        return Err(anyhow::anyhow!("validated input without a value").into());
    };
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let agent = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .filter(user::Column::Role.eq(Role::Agent))
        .filter(user::Column::EmailVerifiedAt.is_not_null())
        .one(&txn)
        .await?
        .ok_or_else(|| {
            AppError::validation("agentEmail", "no registered, verified agent has this address (registerAgent)")
        })?;
    end_standing(&txn, owner.merchant_id, Some(agent.id)).await?;
    let now = clock::now();
    let saved = agent_authorization::ActiveModel {
        id: Set(Uuid::now_v7()),
        merchant_id: Set(owner.merchant_id),
        agent_id: Set(agent.id),
        kinds: Set(serde_json::to_string(&unique.into_iter().collect::<Vec<_>>()).map_err(anyhow::Error::from)?),
        valid_until: Set(valid_until),
        granted_by: Set(owner.user_id()),
        granted_at: Set(now),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let detail = format!("AGENT for merchant {} ({}) until {valid_until}", owner.merchant_id, saved.kinds);
    let event = SecurityEvent::new(SecurityKind::RoleGranted)
        .actor(owner.user_id())
        .subject(agent.id)
        .from(address)
        .detail(&detail);
    security::record(&txn, state, event).await?;
    txn.commit().await?;
    Ok(saved)
}

/// Revokes the merchant's standing grants (to one agent, or all).
async fn end_standing<C: ConnectionTrait>(db: &C, merchant_id: Uuid, agent: Option<Uuid>) -> AppResult<()> {
    let mut update = agent_authorization::Entity::update_many()
        .col_expr(agent_authorization::Column::RevokedAt, Expr::value(clock::now()))
        .filter(agent_authorization::Column::MerchantId.eq(merchant_id))
        .filter(agent_authorization::Column::RevokedAt.is_null());
    if let Some(agent) = agent {
        update = update.filter(agent_authorization::Column::AgentId.eq(agent));
    }
    update.exec(db).await?;
    Ok(())
}

/// The OWNER revokes a grant at once (revoking twice answers the grant as it is).
#[tracing::instrument(skip_all, fields(grant = %id))]
pub async fn revoke(
    state: &AppState,
    owner: Owner<'_>,
    id: Uuid,
    address: Option<std::net::IpAddr>,
) -> AppResult<agent_authorization::Model> {
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let found = agent_authorization::Entity::find_by_id(id)
        .filter(agent_authorization::Column::MerchantId.eq(owner.merchant_id))
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::NotFound("authorization".into()))?;
    if found.revoked_at.is_some() {
        return Ok(found);
    }
    let mut active: agent_authorization::ActiveModel = found.into();
    active.revoked_at = Set(Some(clock::now()));
    let saved = active.update(&txn).await?;
    let detail = format!("AGENT authority for merchant {} revoked", owner.merchant_id);
    let event = SecurityEvent::new(SecurityKind::RoleGranted)
        .actor(owner.user_id())
        .subject(saved.agent_id)
        .from(address)
        .detail(&detail);
    security::record(&txn, state, event).await?;
    txn.commit().await?;
    Ok(saved)
}

/// A merchant's grants, newest first: for its OWNER and administrators; anyone else gets none.
pub async fn of_merchant<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    merchant_id: Uuid,
) -> AppResult<Vec<agent_authorization::Model>> {
    if !scope.manages(merchant_id) {
        return Ok(Vec::new());
    }
    Ok(agent_authorization::Entity::find()
        .filter(agent_authorization::Column::MerchantId.eq(merchant_id))
        .order_by_desc(agent_authorization::Column::GrantedAt)
        .all(db)
        .await?)
}

/// The merchants an agent may act for now (its standing grants); FORBIDDEN for anyone else.
pub async fn clients_of<C: ConnectionTrait>(db: &C, scope: &Scope) -> AppResult<Vec<agent_authorization::Model>> {
    let Scope::Agent { grants, .. } = scope else {
        return Err(AppError::Forbidden("only agents have clients".into()));
    };
    let ids: Vec<Uuid> = grants.iter().map(|g| g.id).collect();
    Ok(agent_authorization::Entity::find()
        .filter(agent_authorization::Column::Id.is_in(ids))
        .order_by_asc(agent_authorization::Column::GrantedAt)
        .all(db)
        .await?)
}
