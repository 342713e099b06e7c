//! Access tokens: HS256 JWTs with `iss`, `aud`, `exp`, `iat`, `sub`, `role` and a `kid` header.
//! Verification pins the algorithm, issuer and audience and only accepts known key ids: the
//! current secret's, and during a rotation the previous secrets' until their tokens expire.

use std::{collections::HashMap, time::Duration};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{config::JwtConfig, domain::Role};

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub role: String,
    pub iat: i64,
    pub exp: i64,
    /// Integrators' tokens: the granted scopes, space-separated (RFC 8693 `scope`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

#[derive(Clone)]
pub struct JwtKeys {
    kid: String,
    encoding: EncodingKey,
    /// By key id: the current key and the previous ones still accepted.
    decoding: HashMap<String, DecodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("access token is invalid")]
    Invalid,
    #[error("access token has expired")]
    Expired,
}

impl JwtKeys {
    pub fn new(config: &JwtConfig) -> Self {
        let kid = key_id(&config.secret);
        let decoding = std::iter::once(&config.secret)
            .chain(&config.previous_secrets)
            .map(|secret| (key_id(secret), DecodingKey::from_secret(secret.as_bytes())))
            .collect();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            kid,
            encoding: EncodingKey::from_secret(config.secret.as_bytes()),
            decoding,
            validation,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            ttl: config.access_ttl,
        }
    }

    /// The current signing key's id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(&self, user_id: Uuid, role: Role) -> anyhow::Result<String> {
        self.issue_with_scope(user_id, role, None)
    }

    /// An integrator's token: `sub` is the API client's row id, `scope` its granted scopes.
    pub fn issue_with_scope(&self, subject: Uuid, role: Role, scope: Option<String>) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: subject.to_string(),
            role: role.as_str().to_string(),
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
            scope,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &self.encoding)?)
    }

    pub fn verify(&self, token: &str) -> Result<super::Principal, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        let key = header.kid.as_deref().and_then(|kid| self.decoding.get(kid)).ok_or(TokenError::Invalid)?;
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
            _ => TokenError::Invalid,
        })?;
        let user_id = Uuid::parse_str(&data.claims.sub).map_err(|_| TokenError::Invalid)?;
        let role = Role::from_name(&data.claims.role).ok_or(TokenError::Invalid)?;
        let client = data
            .claims
            .scope
            .map(|s| super::ClientGrant { scopes: s.split_whitespace().map(str::to_string).collect() });
        Ok(super::Principal { user_id, role, client, expires_at: data.claims.exp })
    }
}

/// The key id names a secret without revealing it, so tokens of a retired secret are told apart
/// (and refused) by `kid` before any signature work.
fn key_id(secret: &str) -> String {
    hex::encode(&Sha256::digest(secret.as_bytes())[..8])
}
