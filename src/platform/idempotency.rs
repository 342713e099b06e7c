//! `Idempotency-Key`: a repeated key with the same request gets the first response without
//! repeating the effect; with a different request, `CONFLICT`. Keys are per caller (anonymous
//! callers per client-address hash), kept 24 h.
//!
//! Responses can carry secrets — refresh tokens, API client and webhook secrets — so they are
//! stored sealed with `ONESTOP_DATA_KEY`, like webhook signing secrets: a copy of the database
//! alone reads none of them.

use chrono::Duration;
use entity::idempotency_key;
use sea_orm::{ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, QueryFilter, Set, SqlErr, sea_query::Expr};
use sha2::{Digest, Sha256};

use crate::{
    error::{AppError, AppResult},
    platform::clock,
    platform::state::AppState,
};

pub const KEEP_HOURS: i64 = 24;

pub enum Begin {
    /// First use: execute, then `finish`.
    Fresh,
    /// Seen before with the same request: answer this.
    Replay(String),
}

pub fn request_hash(request: &async_graphql::Request) -> String {
    let canonical = serde_json::json!([request.query, request.operation_name, request.variables]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

pub fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 200 && key.bytes().all(|b| b.is_ascii_graphic())
}

/// Claims `key` for this request, or tells what to answer instead.
pub async fn begin(state: &AppState, owner: &str, key: &str, hash: &str) -> AppResult<Begin> {
    let now = clock::now();
    // A key older than the retention is free again.
    idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::Owner.eq(owner))
        .filter(idempotency_key::Column::Key.eq(key))
        .filter(idempotency_key::Column::CreatedAt.lt(now - Duration::hours(KEEP_HOURS)))
        .exec(&state.db)
        .await?;
    let inserted = idempotency_key::ActiveModel {
        owner: Set(owner.to_string()),
        key: Set(key.to_string()),
        request_hash: Set(hash.to_string()),
        response: Set(None),
        created_at: Set(now),
    }
    .insert(&state.db)
    .await;
    match inserted {
        Ok(_) => Ok(Begin::Fresh),
        Err(err) if is_duplicate(&err) => {
            let existing = idempotency_key::Entity::find_by_id((owner.to_string(), key.to_string()))
                .one(&state.db)
                .await?
                .ok_or_else(|| AppError::Conflict("this Idempotency-Key is being reused; retry".into()))?;
            if existing.request_hash != hash {
                return Err(AppError::Conflict("this Idempotency-Key was used for a different request".into()));
            }
            match existing.response {
                Some(response) => {
                    let opened = state.config.data_key.open(&response).map_err(|_| {
                        AppError::Conflict(
                            "the response kept for this Idempotency-Key can no longer be read; use a new key".into(),
                        )
                    })?;
                    Ok(Begin::Replay(opened))
                }
                None => Err(AppError::Conflict("a request with this Idempotency-Key is still running".into())),
            }
        }
        Err(err) => Err(err.into()),
    }
}

fn is_duplicate(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Keeps the response for replays; a failure the client should retry (internal, database
/// unavailable) frees the key instead.
pub async fn finish(state: &AppState, owner: &str, key: &str, response: &str, retryable: bool) -> AppResult<()> {
    if retryable {
        idempotency_key::Entity::delete_many()
            .filter(idempotency_key::Column::Owner.eq(owner))
            .filter(idempotency_key::Column::Key.eq(key))
            .exec(&state.db)
            .await?;
    } else {
        let sealed = state.config.data_key.seal(response)?;
        idempotency_key::Entity::update_many()
            .col_expr(idempotency_key::Column::Response, Expr::value(sealed))
            .filter(idempotency_key::Column::Owner.eq(owner))
            .filter(idempotency_key::Column::Key.eq(key))
            .exec(&state.db)
            .await?;
    }
    Ok(())
}

/// Forgets keys past the retention (called by the sweeper).
pub async fn purge(state: &AppState) -> AppResult<u64> {
    let cutoff = clock::now() - Duration::hours(KEEP_HOURS);
    Ok(idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::CreatedAt.lt(cutoff))
        .exec(&state.db)
        .await?
        .rows_affected)
}

/// Seals responses stored in clear by versions before sealing (run at start-up; a no-op once
/// every row is sealed, and rows expire within 24 h anyway).
pub async fn seal_legacy_responses(state: &AppState) -> AppResult<u64> {
    let rows =
        idempotency_key::Entity::find().filter(idempotency_key::Column::Response.is_not_null()).all(&state.db).await?;
    let mut sealed = 0;
    for row in rows {
        let Some(response) = row.response.filter(|r| !crate::platform::sealed::DataKey::is_sealed(r)) else { continue };
        idempotency_key::Entity::update_many()
            .col_expr(idempotency_key::Column::Response, Expr::value(state.config.data_key.seal(&response)?))
            .filter(idempotency_key::Column::Owner.eq(row.owner.as_str()))
            .filter(idempotency_key::Column::Key.eq(row.key.as_str()))
            .exec(&state.db)
            .await?;
        sealed += 1;
    }
    if sealed > 0 {
        tracing::info!(sealed, "sealed idempotency responses stored in clear");
    }
    Ok(sealed)
}
