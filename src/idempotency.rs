//! `Idempotency-Key`: a repeated key with the same request gets the first response without
//! repeating the effect; with a different request, `CONFLICT`. Keys are per caller, kept 24 h.

use chrono::Duration;
use entity::idempotency_key;
use sea_orm::{ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, QueryFilter, Set, SqlErr, sea_query::Expr};
use sha2::{Digest, Sha256};

use crate::{clock, error::{AppError, AppResult}, state::AppState};

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
                Some(response) => Ok(Begin::Replay(response)),
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
        idempotency_key::Entity::update_many()
            .col_expr(idempotency_key::Column::Response, Expr::value(response))
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
