//! GraphQL objects of the case workflow. Related rows come through DataLoaders; what a caller
//! may see of a case is filtered by its scope here as in the services.

use async_graphql::{
    Context, ID, Object, Result,
    connection::{Connection, Edge},
    dataloader::DataLoader,
};
use chrono::{DateTime, Utc};
use entity::{case, filing, merchant};

pub use super::{
    filing_objects::{Filing, WorkloadRow},
    trail_objects::{AuditEvent, Comment, Document},
};
use super::{
    loaders::{FilingsByCase, MerchantById, load_error},
    parts, scope,
};
use crate::{
    domain::{CaseStatus, filing_data::ProductCategory},
    error::AppError,
    platform::pagination::{self, Page},
    services::{agents, auth::Need, cases, filings, licences, members},
};

pub(super) fn id(uuid: uuid::Uuid) -> ID {
    ID(uuid.to_string())
}

pub type CaseConnection = Connection<String, Case>;
pub type FilingConnection = Connection<String, Filing>;

pub fn case_connection(page: Page<case::Model>) -> CaseConnection {
    let mut connection = Connection::new(page.has_previous, page.has_next);
    connection
        .edges
        .extend(page.items.into_iter().map(|c| Edge::new(pagination::encode_cursor(&c.id.to_string()), Case(c))));
    connection
}

pub fn filing_connection(page: Page<filing::Model>) -> FilingConnection {
    let mut connection = Connection::new(page.has_previous, page.has_next);
    connection.edges.extend(page.items.into_iter().map(|f| Edge::new(filings::queue_cursor(&f), Filing(f))));
    connection
}

pub struct Merchant(pub merchant::Model);

#[Object(guard = "super::Reads::CASES")]
impl Merchant {
    #[graphql(guard = "super::Anyone")]
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Known or issued Unified Social Credit Code.
    async fn uscc(&self) -> Option<&str> {
        self.0.known_uscc()
    }
    /// True when the USCC was issued here or verified by an approved REGISTRATION; a USCC
    /// only typed into the profile is declared, not verified.
    async fn uscc_verified(&self) -> bool {
        self.0.uscc.is_some()
    }
    async fn region_code(&self) -> &str {
        &self.0.region_code
    }
    async fn address(&self) -> &str {
        &self.0.address
    }
    #[graphql(guard = "super::Reads::CASES.and(super::NotAgent)")]
    async fn contact_email(&self) -> &str {
        &self.0.contact_email
    }
    #[graphql(guard = "super::Reads::CASES.and(super::NotAgent)")]
    async fn contact_phone(&self) -> &str {
        &self.0.contact_phone
    }
    #[graphql(guard = "super::Reads::CASES.and(super::NotAgent)")]
    async fn store_urls(&self) -> Vec<String> {
        serde_json::from_str(&self.0.store_urls).unwrap_or_default()
    }
    #[graphql(guard = "super::Reads::CASES.and(super::NotAgent)")]
    async fn categories(&self) -> Vec<ProductCategory> {
        serde_json::from_str(&self.0.categories).unwrap_or_default()
    }
    /// 0 normal .. 3 high, raised by failed spot checks.
    #[graphql(guard = "super::Reads::CASES.and(super::NotAgent)")]
    async fn risk_level(&self) -> i32 {
        self.0.risk_level
    }
    /// The merchant's cases that the caller may see, newest first.
    #[graphql(complexity = "(first.unwrap_or(20).clamp(1, 100) as usize) * child_complexity")]
    async fn cases(&self, ctx: &Context<'_>, first: Option<i32>, after: Option<String>) -> Result<CaseConnection> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        let page = cases::list_cases(state, scope, first, after, None, Some(self.0.id)).await?;
        Ok(case_connection(page))
    }
    /// The merchant's licences the caller may see (holder and ADMIN: all; agency staff: their
    /// agency's, in their regions).
    async fn licences(&self, ctx: &Context<'_>) -> Result<Vec<super::licence_objects::Licence>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        Ok(licences::of_merchant(&state.db, scope, &self.0)
            .await?
            .into_iter()
            .map(super::licence_objects::Licence)
            .collect())
    }
    /// The agents it authorised: for the OWNER and administrators; everyone else gets [].
    async fn authorizations(&self, ctx: &Context<'_>) -> Result<Vec<super::people_objects::AgentAuthorization>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        Ok(agents::of_merchant(&state.db, scope, self.0.id)
            .await?
            .into_iter()
            .map(super::people_objects::AgentAuthorization)
            .collect())
    }
    /// Its OWNER and STAFF: for the OWNER and administrators; everyone else gets [].
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<super::people_objects::MerchantMember>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        Ok(members::members_of(&state.db, scope, self.0.id)
            .await?
            .into_iter()
            .map(super::people_objects::MerchantMember)
            .collect())
    }
}

pub struct Case(pub case::Model);

/// Every filing of a case: from the request's `Preloaded` when it read them with the case,
/// else through the DataLoader (one statement for all the cases of a list).
pub(super) async fn filings_of_case(ctx: &Context<'_>, case_id: uuid::Uuid) -> Result<Vec<filing::Model>> {
    if let Some(filings) = super::Preloaded::filings_of(ctx, case_id) {
        return Ok(filings);
    }
    let loader = ctx.data_unchecked::<DataLoader<FilingsByCase>>();
    Ok(loader.load_one(case_id).await.map_err(load_error)?.unwrap_or_default())
}

#[Object(guard = "super::Reads::CASES")]
impl Case {
    #[graphql(guard = "super::Anyone")]
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    /// Human-readable, e.g. "510000-2026-000042".
    async fn reference(&self) -> &str {
        &self.0.reference
    }
    async fn merchant(&self, ctx: &Context<'_>) -> Result<Merchant> {
        if let Some(merchant) = super::Preloaded::merchant(ctx, self.0.merchant_id) {
            return Ok(Merchant(merchant));
        }
        let loader = ctx.data_unchecked::<DataLoader<MerchantById>>();
        let merchant = loader.load_one(self.0.merchant_id).await.map_err(load_error)?;
        Ok(Merchant(merchant.ok_or_else(|| AppError::NotFound("merchant".into()))?))
    }
    async fn region_code(&self) -> &str {
        &self.0.region_code
    }
    async fn status(&self) -> Result<CaseStatus> {
        Ok(self.0.status)
    }
    /// The filings the caller may see (agency staff: their agency's only).
    async fn filings(&self, ctx: &Context<'_>) -> Result<Vec<Filing>> {
        let scope = scope(ctx, Need::Read).await?;
        let rows = filings_of_case(ctx, self.0.id).await?;
        let mut visible: Vec<filing::Model> =
            rows.into_iter().filter(|f| scope.can_see_filing(self.0.merchant_id, f)).collect();
        visible.sort_by_key(|f| Some(f.kind));
        Ok(visible.into_iter().map(Filing).collect())
    }
    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<AuditEvent>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        let filings = filings_of_case(ctx, self.0.id).await?;
        Ok(cases::events_of(state, scope, &self.0, &filings).await?.into_iter().map(AuditEvent).collect())
    }
    async fn comments(&self, ctx: &Context<'_>) -> Result<Vec<Comment>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        let filings = filings_of_case(ctx, self.0.id).await?;
        Ok(cases::comments_of(state, scope, &self.0, &filings).await?.into_iter().map(Comment).collect())
    }
    async fn documents(&self, ctx: &Context<'_>) -> Result<Vec<Document>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        let filings = filings_of_case(ctx, self.0.id).await?;
        let listed = crate::services::documents::of_case(state, scope, &self.0, &filings).await?;
        Ok(crate::services::documents::as_read(scope, listed, &filings).into_iter().map(Document::from).collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn submitted_at(&self) -> Option<DateTime<Utc>> {
        self.0.submitted_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The determinants the case was opened with (null: opened with explicit kinds).
    async fn profile(&self) -> Result<Option<crate::domain::case_profile::CaseProfile>> {
        Ok(crate::services::requirements::profile_of_case(&self.0)?)
    }
    /// Joint supervision: for staff of the sharing and of the receiving agency, and
    /// administrators; merchants and agents get [].
    async fn shares(&self, ctx: &Context<'_>) -> Result<Vec<super::share_objects::CaseShare>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        Ok(crate::services::shares::of_case(&state.db, scope, self.0.id)
            .await?
            .into_iter()
            .map(super::share_objects::CaseShare)
            .collect())
    }
    #[graphql(name = "type")]
    async fn case_type(&self) -> entity::enums::CaseType {
        self.0.case_type
    }
    /// What the case needs, as evaluated at creation (the ruleset version it was created
    /// under), whatever the rules say today.
    async fn requirements(&self) -> Result<Option<crate::domain::requirements::Requirements>> {
        Ok(crate::services::requirements::of_case(&self.0)?)
    }
}
