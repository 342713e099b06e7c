//! GraphQL object types that wrap entity rows.

use crate::services::auth::Need;

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    domain::{Agency, Role},
    services::auth::sessions::Session,
};

pub struct User(pub entity::user::Model);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Staff addresses are for colleagues: a merchant (or anyone not staff) reading the
    /// officer of its filing, an event or a comment sees the name and agency, and the address
    /// masked (`w***@sc.gov.cn`). Everyone sees their own address in full.
    async fn email(&self, ctx: &Context<'_>) -> String {
        let (_, caller) = super::parts(ctx);
        let shown_in_full = match caller {
            crate::services::auth::Caller::User(p) => p.user_id == self.0.id || p.role != Role::Merchant,
            _ => false,
        };
        // Agents are registered businesses the merchant names by address: not masked.
        let staff = !matches!(self.0.role, Role::Merchant | Role::Agent);
        if shown_in_full || !staff { self.0.email.clone() } else { crate::domain::pii::mask_email(&self.0.email) }
    }
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    async fn role(&self) -> async_graphql::Result<Role> {
        Ok(self.0.role)
    }
    async fn email_verified(&self) -> bool {
        self.0.email_verified_at.is_some()
    }
    /// Officers and supervisors.
    async fn agency(&self) -> async_graphql::Result<Option<Agency>> {
        Ok(self.0.agency)
    }
    /// Officers' jurisdiction (region codes).
    async fn regions(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        if !self.0.role.is_agency_staff() {
            return Ok(Vec::new());
        }
        let loader = ctx.data_unchecked::<async_graphql::dataloader::DataLoader<super::loaders::RegionsByUser>>();
        Ok(loader.load_one(self.0.id).await.map_err(super::loaders::load_error)?.unwrap_or_default())
    }
    /// Merchants: their company profile (shown to the user themself and to admins).
    async fn merchant(&self, ctx: &Context<'_>) -> Result<Option<super::objects::Merchant>> {
        let (state, _) = super::parts(ctx);
        let scope = super::scope(ctx, Need::Read).await?;
        let allowed = scope.user_id() == self.0.id || matches!(scope, crate::services::access::Scope::Admin { .. });
        if !allowed || self.0.role != Role::Merchant {
            return Ok(None);
        }
        Ok(crate::services::merchants::find_by_owner(&state.db, self.0.id).await?.map(super::objects::Merchant))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(SimpleObject)]
pub struct AuthPayload {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i32,
    pub user: User,
}

impl From<Session> for AuthPayload {
    fn from(s: Session) -> Self {
        Self {
            access_token: s.access_token,
            refresh_token: s.refresh_token,
            expires_in: i32::try_from(s.expires_in).unwrap_or(i32::MAX),
            user: User(s.user),
        }
    }
}
