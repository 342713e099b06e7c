//! Accounts, sessions and who is calling.

pub mod accounts;
pub mod clients;
pub mod jwt;
pub mod password;
pub mod sessions;
pub mod staff;
pub mod throttle;
pub mod tokens;

use uuid::Uuid;

use crate::{
    domain::Role,
    error::{AppError, AppResult},
};

/// An authenticated caller, as established from a verified access token.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The user, or for an integrator's token the API client's row id.
    pub user_id: Uuid,
    pub role: Role,
    /// Set for integrators' tokens: what the client was granted.
    pub client: Option<ClientGrant>,
    /// When the token stops being valid (Unix seconds): live sockets close then.
    pub expires_at: i64,
}

#[derive(Clone, Debug)]
pub struct ClientGrant {
    pub scopes: Vec<String>,
}

/// What an operation needs from an integrator's token (users' tokens carry every scope their
/// role allows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    Read,
    Write,
    Decide,
    Trace,
    /// Not for integrators at all (account and client management).
    UserOnly,
}

impl Need {
    fn scope(self) -> Option<&'static str> {
        match self {
            Self::Read => Some("cases:read"),
            Self::Write => Some("cases:write"),
            Self::Decide => Some("decisions:write"),
            Self::Trace => Some("trace:write"),
            Self::UserOnly => None,
        }
    }
}

/// Who is calling. A request that presents a bad token is not treated as anonymous: asking
/// it for anything that needs a login says why it was refused.
#[derive(Clone, Debug)]
pub enum Caller {
    Anonymous,
    InvalidToken(&'static str),
    User(Principal),
}

impl Caller {
    pub fn require_user(&self) -> AppResult<&Principal> {
        match self {
            Self::User(p) => Ok(p),
            Self::Anonymous => Err(AppError::Unauthenticated("you must log in first".into())),
            Self::InvalidToken(why) => Err(AppError::Unauthenticated((*why).into())),
        }
    }

    /// FORBIDDEN when an integrator's token lacks the scope the operation needs.
    pub fn require_scope(&self, need: Need) -> AppResult<()> {
        let Self::User(Principal { client: Some(grant), .. }) = self else { return Ok(()) };
        match need.scope() {
            Some(scope) if grant.scopes.iter().any(|s| s == scope) => Ok(()),
            Some(scope) => Err(AppError::Forbidden(format!("this token lacks the scope {scope}"))),
            None => Err(AppError::Forbidden("integrators' tokens cannot do this".into())),
        }
    }

    pub fn require_role(&self, allowed: &[Role]) -> AppResult<&Principal> {
        let principal = self.require_user()?;
        if allowed.contains(&principal.role) {
            Ok(principal)
        } else {
            Err(AppError::Forbidden(format!(
                "this needs one of the roles {}",
                allowed.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
            )))
        }
    }
}
