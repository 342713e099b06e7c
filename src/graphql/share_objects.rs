//! Supervision across agencies and regions: cases shared read-only with another agency
//! (大部门联动), and filings received at another region's office (跨省通办).

use async_graphql::{Context, ID, Object, Result, dataloader::DataLoader};
use chrono::{DateTime, Utc};
use entity::case_share;

use super::{
    loaders::{CaseById, UserById, load_error},
    objects::Case,
    parts, scope,
    types::User,
    uuid_arg,
};
use crate::{
    domain::Agency,
    error::AppError,
    services::{auth::Need, shares},
};

#[derive(Default)]
pub struct ShareQuery;

#[Object]
impl ShareQuery {
    /// Officers and supervisors: the active shares to their agency and regions, newest first.
    async fn shared_with_me(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Vec<CaseShare>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        Ok(shares::shared_with_me(state, scope, first, after).await?.into_iter().map(CaseShare).collect())
    }
}

#[derive(Default)]
pub struct ShareMutation;

#[Object]
impl ShareMutation {
    /// A supervisor whose agency handles a filing of the case shares it read-only with another
    /// agency (all its regions, or `regionCode`); its supervisors are emailed.
    async fn share_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        agency: Agency,
        region_code: Option<String>,
        note: String,
    ) -> Result<CaseShare> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Write).await?;
        let request = shares::ShareRequest {
            case_id: uuid_arg("caseId", &case_id)?,
            agency,
            region_code: region_code.as_deref(),
            note: &note,
        };
        Ok(CaseShare(shares::share_case(state, scope, request).await?))
    }

    /// 跨省通办: an officer of the office where a merchant filed from afar acknowledges receipt;
    /// the filing then goes to the home region's office.
    async fn acknowledge_receipt(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
    ) -> Result<super::objects::Filing> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Decide).await?;
        Ok(super::objects::Filing(
            crate::services::filings::acknowledge_receipt(state, scope, uuid_arg("id", &id)?, expected_version).await?,
        ))
    }

    /// A supervisor of the sharing agency ends a share at once.
    async fn revoke_case_share(&self, ctx: &Context<'_>, id: ID) -> Result<CaseShare> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Write).await?;
        Ok(CaseShare(shares::revoke(state, scope, uuid_arg("id", &id)?).await?))
    }
}

pub struct CaseShare(pub case_share::Model);

#[Object(guard = "super::Reads::CASES")]
impl CaseShare {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn case(&self, ctx: &Context<'_>) -> Result<Case> {
        let loader = ctx.data_unchecked::<DataLoader<CaseById>>();
        let found = loader.load_one(self.0.case_id).await.map_err(load_error)?;
        Ok(Case(found.ok_or_else(|| AppError::NotFound("case".into()))?))
    }
    /// The receiving agency.
    async fn agency(&self) -> Agency {
        self.0.agency
    }
    async fn region_code(&self) -> Option<&str> {
        self.0.region_code.as_deref()
    }
    /// Null: shared by the portal (the merchant reached risk level 3).
    async fn shared_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(id) = self.0.shared_by else { return Ok(None) };
        let loader = ctx.data_unchecked::<DataLoader<UserById>>();
        Ok(loader.load_one(id).await.map_err(load_error)?.map(User))
    }
    async fn note(&self) -> &str {
        &self.0.note
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
}
