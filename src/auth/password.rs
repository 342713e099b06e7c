//! argon2id hashing on the blocking thread pool, so a burst of logins cannot stall the async
//! workers that serve every other request.

use std::sync::LazyLock;

use anyhow::anyhow;
use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};

use crate::error::{AppError, AppResult};

/// `Argon2::default()` is argon2id, m=19456 KiB, t=2, p=1: the OWASP recommendation.
fn hasher() -> Argon2<'static> {
    Argon2::default()
}

pub async fn hash_password(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        hasher()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow!("hashing password: {e}"))
    })
    .await
    .map_err(|e| anyhow!("hashing task failed: {e}"))?
    .map_err(AppError::from)
}

/// A hash of a password nobody knows, verified when the account does not exist (or has no
/// password yet) so that a wrong email costs the same time as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hasher()
        .hash_password(crate::auth::tokens::random_token().as_bytes())
        .map(|h| h.to_string())
        .unwrap_or_default()
});

/// True when `password` matches `stored`; with `None` runs a full verification anyway.
pub async fn verify_password(password: String, stored: Option<String>) -> AppResult<bool> {
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match stored {
            Some(h) => (h, true),
            None => (DUMMY_HASH.clone(), false),
        };
        let parsed = match PasswordHash::new(&hash) {
            Ok(p) => p,
            Err(e) => return Err(anyhow!("stored password hash unreadable: {e}")),
        };
        let matches = hasher().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(real && matches)
    })
    .await
    .map_err(|e| anyhow!("verification task failed: {e}"))?
    .map_err(AppError::from)
}
