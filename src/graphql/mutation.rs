use async_graphql::{Context, InputObject, Object, Result};

use super::{parts, types::{AuthPayload, User}};
use crate::{
    auth::{accounts, sessions},
    domain::{Agency, Role},
};

pub struct Mutation;

#[derive(InputObject)]
pub struct OfficerInput {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub agency: Agency,
    pub regions: Vec<String>,
}

#[Object]
impl Mutation {
    /// Signs up a merchant's user and emails a verification link.
    async fn register_merchant_user(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        display_name: String,
    ) -> Result<User> {
        let (state, _) = parts(ctx);
        Ok(User(accounts::register_merchant_user(state, &email, &password, &display_name).await?))
    }

    async fn verify_email(&self, ctx: &Context<'_>, token: String) -> Result<bool> {
        let (state, _) = parts(ctx);
        accounts::verify_email(state, &token).await?;
        Ok(true)
    }

    async fn login(&self, ctx: &Context<'_>, email: String, password: String) -> Result<AuthPayload> {
        let (state, _) = parts(ctx);
        Ok(sessions::login(state, &email, &password).await?.into())
    }

    async fn refresh_session(&self, ctx: &Context<'_>, refresh_token: String) -> Result<AuthPayload> {
        let (state, _) = parts(ctx);
        Ok(sessions::refresh_session(state, &refresh_token).await?.into())
    }

    async fn logout(&self, ctx: &Context<'_>, refresh_token: String) -> Result<bool> {
        let (state, _) = parts(ctx);
        sessions::logout(state, &refresh_token).await?;
        Ok(true)
    }

    /// Always true: the answer does not reveal whether the address has an account.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        let (state, _) = parts(ctx);
        accounts::request_password_reset(state, &email).await?;
        Ok(true)
    }

    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> Result<bool> {
        let (state, _) = parts(ctx);
        accounts::reset_password(state, &token, &new_password).await?;
        Ok(true)
    }

    /// ADMIN: creates an officer or supervisor and emails an invitation to set a password.
    async fn create_officer(&self, ctx: &Context<'_>, input: OfficerInput) -> Result<User> {
        let (state, caller) = parts(ctx);
        let input = accounts::OfficerInput {
            email: input.email,
            display_name: input.display_name,
            role: input.role,
            agency: input.agency,
            regions: input.regions,
        };
        Ok(User(accounts::create_officer(state, caller, input).await?))
    }
}
