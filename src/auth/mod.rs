//! Accounts, sessions and who is calling.

pub mod accounts;
pub mod jwt;
pub mod password;
pub mod sessions;
pub mod tokens;

use uuid::Uuid;

use crate::{
    domain::Role,
    error::{AppError, AppResult},
};

/// An authenticated caller, as established from a verified access token.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: Uuid,
    pub role: Role,
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
