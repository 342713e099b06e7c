//! Login, refresh-token rotation with reuse detection, and logout.

use chrono::Utc;
use entity::{refresh_token, user};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, sea_query::Expr};
use uuid::Uuid;

use super::{password::verify_password, tokens};
use crate::{
    domain::Email,
    error::{AppError, AppResult},
    platform::state::AppState,
    services::audit::security::{self, SecurityEvent, SecurityKind},
};

pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub user: user::Model,
}

/// One answer for an unknown address, a wrong password and an address not verified yet: a
/// login must not tell which addresses have accounts (and so sign-up, which answers the same for
/// a taken address, cannot be followed by a login that does).
fn bad_credentials() -> AppError {
    AppError::Unauthenticated(
        "invalid email or password, or the email address is not verified yet (follow the link we sent; \
         resendVerificationEmail sends a new one)"
            .into(),
    )
}

fn bad_refresh_token() -> AppError {
    AppError::Unauthenticated("refresh token is invalid, expired or revoked".into())
}

/// Wrong email, wrong password and an unverified address give the same error after the same
/// work: an unknown account still pays for one argon2 verification.
#[tracing::instrument(skip_all)]
pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
    address: Option<std::net::IpAddr>,
) -> AppResult<Session> {
    security::throttle(state, &format!("login:{email}"), "login", address).await?;
    if password.len() > 1024 {
        return Err(bad_credentials());
    }
    let user = match Email::parse("email", email) {
        Ok(email) => user::Entity::find().filter(user::Column::Email.eq(email.as_str())).one(&state.db).await?,
        Err(_) => None,
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let ok = verify_password(password.to_string(), stored).await?;
    let Some(user) = user.clone().filter(|u| ok && u.email_verified_at.is_some()) else {
        metrics::counter!("onestop_logins_total", "outcome" => "failure").increment(1);
        let mut event = SecurityEvent::new(SecurityKind::LoginFailed).from(address);
        event = match &user {
            Some(known) if ok => event.subject(known.id).detail("email not verified"),
            Some(known) => event.subject(known.id).detail("wrong password"),
            None => event.detail("unknown account"),
        };
        security::record_or_log(state, event).await;
        return Err(bad_credentials());
    };
    metrics::counter!("onestop_logins_total", "outcome" => "success").increment(1);
    let txn = crate::platform::db::begin_write(&state.db).await?;
    security::record(
        &txn,
        state,
        SecurityEvent::new(SecurityKind::LoginSucceeded).actor(user.id).subject(user.id).from(address),
    )
    .await?;
    let session = start_session(state, &txn, user, Uuid::now_v7()).await?;
    txn.commit().await?;
    Ok(session)
}

/// Issues an access token and a new refresh token in `family_id`.
async fn start_session<C: ConnectionTrait>(
    state: &AppState,
    db: &C,
    user: user::Model,
    family_id: Uuid,
) -> AppResult<Session> {
    let role = user.role;
    let access_token = state.jwt.issue(user.id, role)?;
    let refresh = tokens::random_token();
    let now = Utc::now();
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user.id),
        family_id: Set(family_id),
        token_hash: Set(tokens::token_hash(&refresh)),
        created_at: Set(now),
        expires_at: Set(now + chrono::Duration::from_std(state.config.tokens.refresh).map_err(anyhow::Error::from)?),
        used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(Session { access_token, refresh_token: refresh, expires_in: state.jwt.ttl().as_secs() as i64, user })
}

/// Exchanges a refresh token for a new pair. The old token stops working; presenting a token
/// that was already exchanged means it was copied, so the whole family (session) is revoked.
#[tracing::instrument(skip_all)]
pub async fn refresh_session(state: &AppState, token: &str, address: Option<std::net::IpAddr>) -> AppResult<Session> {
    if token.is_empty() || token.len() > 256 {
        return Err(bad_refresh_token());
    }
    let hash = tokens::token_hash(token);
    let Some(row) =
        refresh_token::Entity::find().filter(refresh_token::Column::TokenHash.eq(hash.as_str())).one(&state.db).await?
    else {
        return Err(bad_refresh_token());
    };
    let now = Utc::now();
    if row.used_at.is_some() && row.revoked_at.is_none() {
        tracing::warn!(user_id = %row.user_id, family_id = %row.family_id, "refresh token reuse detected; revoking session");
        revoke_family(&state.db, row.family_id).await?;
        let event = SecurityEvent::new(SecurityKind::RefreshReused)
            .subject(row.user_id)
            .from(address)
            .detail("session revoked");
        security::record_or_log(state, event).await;
        return Err(bad_refresh_token());
    }
    if row.revoked_at.is_some() || row.used_at.is_some() || row.expires_at <= now {
        return Err(bad_refresh_token());
    }

    let txn = crate::platform::db::begin_write(&state.db).await?;
    // Conditional on "still unused": of two concurrent refreshes with one token, one wins.
    let marked = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if marked.rows_affected != 1 {
        txn.rollback().await?;
        revoke_family(&state.db, row.family_id).await?;
        let event = SecurityEvent::new(SecurityKind::RefreshReused)
            .subject(row.user_id)
            .from(address)
            .detail("concurrent reuse; session revoked");
        security::record_or_log(state, event).await;
        return Err(bad_refresh_token());
    }
    let user = user::Entity::find_by_id(row.user_id).one(&txn).await?.ok_or_else(bad_refresh_token)?;
    let session = start_session(state, &txn, user, row.family_id).await?;
    txn.commit().await?;
    Ok(session)
}

async fn revoke_family<C: ConnectionTrait>(db: &C, family_id: Uuid) -> AppResult<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Ends the session the refresh token belongs to. Unknown tokens are accepted silently:
/// logging out twice is not an error, and the answer reveals nothing.
#[tracing::instrument(skip_all)]
pub async fn logout(state: &AppState, token: &str) -> AppResult<()> {
    if token.is_empty() || token.len() > 256 {
        return Ok(());
    }
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(tokens::token_hash(token)))
        .one(&state.db)
        .await?;
    if let Some(row) = row {
        revoke_family(&state.db, row.family_id).await?;
    }
    Ok(())
}
