use async_graphql::{Context, Object, Result};

use super::{parts, types::User};
use crate::{auth::{Caller, accounts}, domain::Uscc};

pub struct Query;

#[Object]
impl Query {
    /// The caller; null when not logged in.
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let (state, caller) = parts(ctx);
        if let Caller::Anonymous = caller {
            return Ok(None);
        }
        let principal = caller.require_user()?;
        Ok(accounts::find_user(state, principal.user_id).await?.map(User))
    }

    /// Public helper for forms: is this a valid Unified Social Credit Code (GB 32100)?
    async fn validate_uscc(&self, code: String) -> bool {
        Uscc::is_valid(&code)
    }
}
