//! People acting for a merchant: its members (OWNER, STAFF) and the agents it authorises.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};
use entity::{agent_authorization, enums::MerchantRole};

use super::{
    loaders::{merchant_by_id, user_by_id},
    objects::Merchant,
    parts, scope,
    types::User,
    uuid_arg,
};
use crate::{
    domain::{FilingKind, filing_data::Date},
    services::{agents, auth::Need, members},
};

#[derive(Default)]
pub struct PeopleQuery;

#[Object]
impl PeopleQuery {
    /// AGENT: the merchants it may act for now, with the kinds and the date of each grant.
    async fn agent_clients(&self, ctx: &Context<'_>) -> Result<Vec<AgentAuthorization>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        Ok(agents::clients_of(&state.db, scope).await?.into_iter().map(AgentAuthorization).collect())
    }
}

#[derive(Default)]
pub struct PeopleMutation;

#[Object]
impl PeopleMutation {
    /// OWNER: adds a STAFF member by email (an invitation with a set-password link for a new
    /// address). The answer is the same whether or not the address had an account.
    async fn invite_merchant_member(
        &self,
        ctx: &Context<'_>,
        email: String,
        role: MerchantRole,
    ) -> Result<MerchantMember> {
        let (state, _) = parts(ctx);
        let owner = scope(ctx, Need::Write).await?.require_owner()?;
        Ok(MerchantMember(members::invite(state, owner, &email, role, super::client_address(ctx)).await?))
    }

    /// Anyone: signs up a 代办 / customs-broker organisation's user (role AGENT), verified by
    /// email like merchants; the same answer whether or not the address had an account.
    async fn register_agent(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        display_name: String,
        organisation: String,
        uscc: String,
    ) -> Result<User> {
        let (state, _) = parts(ctx);
        let input = agents::AgentSignUp {
            email: &email,
            password: &password,
            display_name: &display_name,
            organisation: &organisation,
            uscc: &uscc,
        };
        Ok(User(agents::register(state, input, super::client_address(ctx)).await?))
    }

    /// OWNER: lets a registered agent file the named kinds for the merchant until `validUntil`
    /// (inclusive); replaces a grant to the same agent that still stands.
    async fn grant_agent_authorization(
        &self,
        ctx: &Context<'_>,
        agent_email: String,
        kinds: Vec<FilingKind>,
        valid_until: Date,
    ) -> Result<AgentAuthorization> {
        let (state, _) = parts(ctx);
        let owner = scope(ctx, Need::Write).await?.require_owner()?;
        Ok(AgentAuthorization(
            agents::grant(state, owner, &agent_email, kinds, valid_until.0, super::client_address(ctx)).await?,
        ))
    }

    /// OWNER: ends an agent's authority at once (its sessions and live sockets lose access).
    async fn revoke_agent_authorization(&self, ctx: &Context<'_>, id: ID) -> Result<AgentAuthorization> {
        let (state, _) = parts(ctx);
        let owner = scope(ctx, Need::Write).await?.require_owner()?;
        Ok(AgentAuthorization(agents::revoke(state, owner, uuid_arg("id", &id)?, super::client_address(ctx)).await?))
    }

    /// OWNER: removes a STAFF member; the user's sessions end at once.
    async fn remove_merchant_member(&self, ctx: &Context<'_>, user_id: ID) -> Result<bool> {
        let (state, _) = parts(ctx);
        let owner = scope(ctx, Need::Write).await?.require_owner()?;
        members::remove(state, owner, uuid_arg("userId", &user_id)?, super::client_address(ctx)).await?;
        Ok(true)
    }
}

pub struct MerchantMember(pub members::Member);

#[Object(guard = "super::Reads::CASES")]
impl MerchantMember {
    async fn user(&self) -> User {
        User(self.0.user.clone())
    }
    async fn role(&self) -> MerchantRole {
        self.0.role
    }
    async fn added_at(&self) -> DateTime<Utc> {
        self.0.added_at
    }
}

pub struct AgentAuthorization(pub agent_authorization::Model);

#[Object(guard = "super::Reads::CASES")]
impl AgentAuthorization {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The merchant (an agent sees its name, USCC, region and address).
    async fn merchant(&self, ctx: &Context<'_>) -> Result<Merchant> {
        merchant_by_id(ctx, self.0.merchant_id).await
    }
    async fn agent(&self, ctx: &Context<'_>) -> Result<User> {
        user_by_id(ctx, self.0.agent_id).await
    }
    async fn kinds(&self) -> Vec<FilingKind> {
        serde_json::from_str(&self.0.kinds).unwrap_or_default()
    }
    async fn valid_until(&self) -> Date {
        Date(self.0.valid_until)
    }
    async fn granted_by(&self, ctx: &Context<'_>) -> Result<User> {
        user_by_id(ctx, self.0.granted_by).await
    }
    async fn granted_at(&self) -> DateTime<Utc> {
        self.0.granted_at
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
}
