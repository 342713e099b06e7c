//! Sign-up, email verification and password reset; the accounts table (`insert_user`). Staff
//! accounts (officers, supervisors, admins) are made in `staff`.

pub use super::staff::{OfficerInput, create_admin, create_officer, regions_of, supervisors_of};

use chrono::Utc;
use entity::{one_time_token, refresh_token, user, user_region};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, sea_query::Expr};
use serde_json::json;
use uuid::Uuid;

use super::{password::hash_password, tokens};
use crate::{
    domain::{Agency, Email, Role, password::NewPassword},
    error::{AppError, AppResult, OnUnique, Problems, Unique},
    platform::notify::{EmailKind, enqueue_email},
    platform::state::AppState,
    services::audit::security::{self, SecurityEvent, SecurityKind},
};

pub const PURPOSE_VERIFY_EMAIL: &str = "verify_email";
pub const PURPOSE_RESET_PASSWORD: &str = "reset_password";

pub(super) fn parse_display_name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(AppError::validation("displayName", "is required"));
    }
    if name.chars().count() > 100 {
        return Err(AppError::validation("displayName", "must be at most 100 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::validation("displayName", "must not contain control characters"));
    }
    Ok(name.to_string())
}

/// The columns of a new account; `insert_user` fills in id and timestamps.
pub struct NewUser {
    pub email: Email,
    pub password_hash: Option<String>,
    pub display_name: String,
    pub role: Role,
    pub verified: bool,
    pub agency: Option<Agency>,
    pub regions: Vec<String>,
}

/// Timestamps of new accounts, to the microsecond (what PostgreSQL keeps): a sign-up's answer
/// looks the same on every database and whether or not the address was taken.
fn account_time() -> chrono::DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

/// Inserts an account (and, for staff, the regions it covers).
pub async fn insert_user<C: ConnectionTrait>(db: &C, new: NewUser) -> AppResult<user::Model> {
    let now = account_time();
    let user = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(new.email.as_str().into()),
        password_hash: Set(new.password_hash),
        display_name: Set(new.display_name),
        role: Set(new.role),
        email_verified_at: Set(new.verified.then_some(now)),
        agency: Set(new.agency),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .on_unique(Unique::USER_EMAIL, || AppError::Conflict("an account with this email already exists".into()))?;
    if !new.regions.is_empty() {
        let rows = new.regions.iter().enumerate().map(|(i, code)| user_region::ActiveModel {
            user_id: Set(user.id),
            region_code: Set(code.clone()),
            position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
        });
        user_region::Entity::insert_many(rows).exec_without_returning(db).await?;
    }
    Ok(user)
}

/// Creates a single-use token for `user_id` and returns the token itself (only its hash is
/// stored).
pub async fn issue_one_time_token<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    purpose: &str,
    ttl: std::time::Duration,
) -> AppResult<String> {
    let token = tokens::random_token();
    let now = Utc::now();
    one_time_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        purpose: Set(purpose.into()),
        token_hash: Set(tokens::token_hash(&token)),
        created_at: Set(now),
        expires_at: Set(now + chrono::Duration::from_std(ttl).map_err(anyhow::Error::from)?),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// Marks the token used and returns its user, if it is of `purpose`, unused and unexpired.
/// The conditional UPDATE makes "single use" hold even when two requests race.
async fn consume_one_time_token<C: ConnectionTrait>(db: &C, token: &str, purpose: &str) -> AppResult<Uuid> {
    let invalid = || AppError::validation("token", "is invalid, expired or already used");
    if token.is_empty() || token.len() > 256 {
        return Err(invalid());
    }
    let hash = tokens::token_hash(token);
    let now = Utc::now();
    let updated = one_time_token::Entity::update_many()
        .col_expr(one_time_token::Column::UsedAt, Expr::value(now))
        .filter(one_time_token::Column::TokenHash.eq(hash.as_str()))
        .filter(one_time_token::Column::Purpose.eq(purpose))
        .filter(one_time_token::Column::UsedAt.is_null())
        .filter(one_time_token::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(invalid());
    }
    let row = one_time_token::Entity::find()
        .filter(one_time_token::Column::TokenHash.eq(hash))
        .one(db)
        .await?
        .ok_or_else(invalid)?;
    Ok(row.user_id)
}

/// Registers a merchant's user and emails a verification link, in one transaction.
///
/// The answer does not tell whether the address already has an account (that would let anyone
/// test which addresses are customers): for a taken address it is a `User` with a fresh id and
/// the given email, exactly like a new one, and the owner of the address is emailed instead.
/// Throttled per address and per email like password resets, so it cannot flood a mailbox.
#[tracing::instrument(skip_all)]
pub async fn register_merchant_user(
    state: &AppState,
    email: &str,
    password: &str,
    display_name: &str,
    address: Option<std::net::IpAddr>,
) -> AppResult<user::Model> {
    sign_up(state, SignUp { email, password, display_name, agent: None }, address).await
}

/// What a self-service sign-up gives: a merchant's user, or an agent with its organisation
/// (name and USCC, validated by the caller).
pub struct SignUp<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub display_name: &'a str,
    pub agent: Option<(String, String)>,
}

/// `register_merchant_user` for either kind of account (`registerAgent` behaves the same way:
/// same answer for a known address, verification, throttling).
pub async fn sign_up(
    state: &AppState,
    request: SignUp<'_>,
    address: Option<std::net::IpAddr>,
) -> AppResult<user::Model> {
    let SignUp { email, password, display_name, agent } = request;
    let role = if agent.is_some() { Role::Agent } else { Role::Merchant };
    let mut problems = Problems::default();
    let email = problems.check(Email::parse("email", email));
    let name = problems.check(parse_display_name(display_name));
    let personal: Vec<&str> =
        [email.as_ref().map(|e| e.as_str()), email.as_ref().map(|e| e.local_part()), name.as_deref()]
            .into_iter()
            .flatten()
            .collect();
    let password = problems.check(NewPassword::parse("password", password, &personal));
    let (Some(email), Some(name), Some(password)) = problems.finish((email, name, password))? else {
        return Err(anyhow::anyhow!("validated input without a value").into());
    };
    security::throttle(state, &format!("signup:{}", email.as_str()), "sign-up", address).await?;

    // The hash is computed either way, so both answers take the same time.
    let hash = hash_password(password.expose().to_string()).await?;
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let new_user = NewUser {
        email: email.clone(),
        password_hash: Some(hash),
        display_name: name.clone(),
        role,
        verified: false,
        agency: None,
        regions: vec![],
    };
    let user = match insert_user(&txn, new_user).await {
        Ok(user) => user,
        Err(AppError::Conflict(_)) => {
            txn.rollback().await?;
            return answer_taken_address(state, email, name, role, address).await;
        }
        Err(other) => return Err(other),
    };
    if let Some((organisation, uscc)) = agent {
        entity::agent::ActiveModel {
            user_id: Set(user.id),
            organisation: Set(organisation),
            uscc: Set(uscc),
            created_at: Set(account_time()),
        }
        .insert(&txn)
        .await?;
    }
    let token = issue_one_time_token(&txn, user.id, PURPOSE_VERIFY_EMAIL, state.config.tokens.verify_email).await?;
    enqueue_email(
        &txn,
        &state.templates,
        &user.email,
        EmailKind::VerifyEmail,
        json!({ "display_name": name, "link": state.link("/verify-email", &token) }),
    )
    .await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(user)
}

/// A sign-up with an address that has an account: the owner is told, a security event is
/// recorded, and the caller gets what a new sign-up gets (an unsaved account with a fresh id).
async fn answer_taken_address(
    state: &AppState,
    email: Email,
    name: String,
    role: Role,
    address: Option<std::net::IpAddr>,
) -> AppResult<user::Model> {
    let owner = user::Entity::find().filter(user::Column::Email.eq(email.as_str())).one(&state.db).await?;
    if let Some(owner) = owner {
        let txn = crate::platform::db::begin_write(&state.db).await?;
        let context = json!({ "display_name": owner.display_name });
        enqueue_email(&txn, &state.templates, &owner.email, EmailKind::SignupAttempted, context).await?;
        let event = SecurityEvent::new(SecurityKind::SignupWithExistingEmail).subject(owner.id).from(address);
        security::record(&txn, state, event).await?;
        txn.commit().await?;
        state.outbox_wakeup.notify_one();
    }
    let now = account_time();
    Ok(user::Model {
        id: Uuid::now_v7(),
        email: email.as_str().to_string(),
        password_hash: None,
        display_name: name,
        role,
        email_verified_at: None,
        agency: None,
        created_at: now,
        updated_at: now,
    })
}

/// Emails a fresh verification link to an account that is not verified yet; says nothing
/// either way, and is throttled like password resets.
#[tracing::instrument(skip_all)]
pub async fn resend_verification(state: &AppState, email: &str, address: Option<std::net::IpAddr>) -> AppResult<()> {
    security::throttle(state, &format!("verify:{email}"), "verification resend", address).await?;
    let Some(user) = account_by_email(state, email).await?.filter(|u| u.email_verified_at.is_none()) else {
        return Ok(());
    };
    email_link(
        state,
        &user,
        PURPOSE_VERIFY_EMAIL,
        state.config.tokens.verify_email,
        EmailKind::VerifyEmail,
        "/verify-email",
    )
    .await
}

/// The account of an address, if the address is well-formed and has one.
async fn account_by_email(state: &AppState, email: &str) -> AppResult<Option<user::Model>> {
    let Ok(email) = Email::parse("email", email) else { return Ok(None) };
    Ok(user::Entity::find().filter(user::Column::Email.eq(email.as_str())).one(&state.db).await?)
}

/// Issues a one-time token and queues the email that carries its link, in one transaction.
async fn email_link(
    state: &AppState,
    user: &user::Model,
    purpose: &str,
    ttl: std::time::Duration,
    kind: EmailKind,
    path: &str,
) -> AppResult<()> {
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let token = issue_one_time_token(&txn, user.id, purpose, ttl).await?;
    let context = json!({ "display_name": user.display_name, "link": state.link(path, &token) });
    enqueue_email(&txn, &state.templates, &user.email, kind, context).await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn verify_email(state: &AppState, token: &str) -> AppResult<()> {
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let user_id = consume_one_time_token(&txn, token, PURPOSE_VERIFY_EMAIL).await?;
    let now = Utc::now();
    user::Entity::update_many()
        .col_expr(user::Column::EmailVerifiedAt, Expr::value(now))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(user_id))
        .filter(user::Column::EmailVerifiedAt.is_null())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// Emails a reset link when the address belongs to an account; says nothing either way.
#[tracing::instrument(skip_all)]
pub async fn request_password_reset(state: &AppState, email: &str, address: Option<std::net::IpAddr>) -> AppResult<()> {
    // Throttled whether or not the address has an account, so the limit reveals nothing.
    security::throttle(state, &format!("reset:{email}"), "password reset", address).await?;
    let Some(user) = account_by_email(state, email).await? else { return Ok(()) };
    let ttl = state.config.tokens.password_reset;
    email_link(state, &user, PURPOSE_RESET_PASSWORD, ttl, EmailKind::PasswordReset, "/reset-password").await
}

/// Sets a new password from a reset (or invitation) token and ends every session of the user.
/// Following the emailed link also proves the address, so it is marked verified.
#[tracing::instrument(skip_all)]
pub async fn reset_password(
    state: &AppState,
    token: &str,
    new_password: &str,
    address: Option<std::net::IpAddr>,
) -> AppResult<()> {
    // Check the token before spending a hash on it, without consuming it yet.
    let hash = tokens::token_hash(token);
    let now = Utc::now();
    let pending = one_time_token::Entity::find()
        .filter(one_time_token::Column::TokenHash.eq(hash))
        .filter(one_time_token::Column::Purpose.eq(PURPOSE_RESET_PASSWORD))
        .filter(one_time_token::Column::UsedAt.is_null())
        .filter(one_time_token::Column::ExpiresAt.gt(now))
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::validation("token", "is invalid, expired or already used"))?;
    let user = user::Entity::find_by_id(pending.user_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::validation("token", "is invalid, expired or already used"))?;
    let local = user.email.split('@').next().unwrap_or_default().to_string();
    let password = NewPassword::parse(
        "newPassword",
        new_password,
        &[user.email.as_str(), local.as_str(), user.display_name.as_str()],
    )?;
    let password_hash = hash_password(password.expose().to_string()).await?;

    let txn = crate::platform::db::begin_write(&state.db).await?;
    let user_id = consume_one_time_token(&txn, token, PURPOSE_RESET_PASSWORD).await?;
    let now = Utc::now();
    let mut active: user::ActiveModel = user.clone().into();
    active.password_hash = Set(Some(password_hash));
    active.updated_at = Set(now);
    if user.email_verified_at.is_none() {
        active.email_verified_at = Set(Some(now));
    }
    active.update(&txn).await?;
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    let event = SecurityEvent::new(SecurityKind::PasswordReset).actor(user_id).subject(user_id).from(address);
    security::record(&txn, state, event).await?;
    txn.commit().await?;
    Ok(())
}

pub async fn find_user(state: &AppState, id: Uuid) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id).one(&state.db).await?)
}
