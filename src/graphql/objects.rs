//! GraphQL objects of the case workflow. Related rows come through DataLoaders; what a caller
//! may see of a case is filtered by its scope here as in the services.

use async_graphql::{
    Context, ID, Object, Result, SimpleObject,
    connection::{Connection, Edge},
    dataloader::DataLoader,
};
use chrono::{DateTime, Utc};
use entity::{case, filing, merchant};

pub use super::{
    filing_data::FilingData,
    trail_objects::{AuditEvent, Comment, Document},
};
use super::{
    loaders::{CaseById, FilingsByCase, MerchantById, UserById, load_error},
    parts, scope,
    types::User,
};
use crate::{
    domain::{
        Agency, CaseStatus, FilingKind, FilingStatus,
        filing_data::{FilingData as StoredData, ProductCategory},
    },
    error::AppError,
    platform::pagination::{self, Page},
    services::{agents, auth::Need, cases, filings, licences, members},
};

fn id(uuid: uuid::Uuid) -> ID {
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
async fn filings_of_case(ctx: &Context<'_>, case_id: uuid::Uuid) -> Result<Vec<filing::Model>> {
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

pub struct Filing(pub filing::Model);

/// Beyond its id, status, version and certificate number (the outcome of a decision), a
/// filing is read with `cases:read`.
#[Object(guard = "super::Reads::CASES")]
impl Filing {
    #[graphql(guard = "super::Anyone")]
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn case(&self, ctx: &Context<'_>) -> Result<Case> {
        if let Some(case) = super::Preloaded::case(ctx, self.0.case_id) {
            return Ok(Case(case));
        }
        let loader = ctx.data_unchecked::<DataLoader<CaseById>>();
        let case = loader.load_one(self.0.case_id).await.map_err(load_error)?;
        Ok(Case(case.ok_or_else(|| AppError::NotFound("case".into()))?))
    }
    async fn kind(&self) -> Result<FilingKind> {
        Ok(self.0.kind)
    }
    async fn agency(&self) -> Result<Agency> {
        Ok(self.0.agency)
    }
    #[graphql(guard = "super::Anyone")]
    async fn status(&self) -> Result<FilingStatus> {
        Ok(self.0.status)
    }
    /// Send it back as `expectedVersion` with the next change.
    #[graphql(guard = "super::Anyone")]
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn region_code(&self) -> &str {
        &self.0.region_code
    }
    /// Resident ID and bank account numbers are masked for administrators and for agencies
    /// the case was shared with.
    async fn data(&self, ctx: &Context<'_>) -> Result<FilingData> {
        let kind = self.0.kind;
        let stored: Option<StoredData> = self
            .0
            .data
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| AppError::Internal(anyhow::anyhow!("stored filing data unreadable: {e}")))?;
        let data = FilingData::from_stored(kind, stored);
        // In full only for the merchant and the reviewing agency; administrators, and agencies
        // the case was shared with (read-only), see it masked.
        let scope = super::loaded_scope(ctx).await?;
        Ok(if scope.reads_masked(Some(&self.0), &[]) { data.masked() } else { data })
    }
    async fn assignee(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(assignee) = self.0.assignee_id else { return Ok(None) };
        if let Some(user) = super::Preloaded::user(ctx, assignee) {
            return Ok(Some(User(user)));
        }
        let loader = ctx.data_unchecked::<DataLoader<UserById>>();
        Ok(loader.load_one(assignee).await.map_err(load_error)?.map(User))
    }
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.0.due_at
    }
    async fn overdue(&self) -> bool {
        crate::services::filings::overdue::is_overdue(&self.0, Utc::now())
    }
    /// Personal numbers in it are masked for readers who see the filing masked.
    async fn decision_note(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let masked = super::loaded_scope(ctx).await?.reads_masked(Some(&self.0), &[]);
        Ok(self
            .0
            .decision_note
            .as_deref()
            .map(|note| if masked { crate::domain::pii::scrub_personal(note).into_owned() } else { note.to_string() }))
    }
    /// USCC / customs code / inspection no. / FX list no. once APPROVED.
    #[graphql(guard = "super::Anyone")]
    async fn certificate_number(&self) -> Option<&str> {
        self.0.certificate_number.as_deref()
    }
    /// The merchant's USCC as this filing knows it (copied in on registration approval).
    async fn uscc(&self) -> Option<&str> {
        self.0.uscc.as_deref()
    }
    async fn submitted_at(&self) -> Option<DateTime<Utc>> {
        self.0.submitted_at
    }
    /// True while the filing is open and its merchant's risk level is 3 (failed spot checks).
    async fn high_risk(&self, ctx: &Context<'_>) -> Result<bool> {
        if self.0.status.is_final() {
            return Ok(false);
        }
        let case = ctx.data_unchecked::<DataLoader<CaseById>>().load_one(self.0.case_id).await.map_err(load_error)?;
        let Some(case) = case else { return Ok(false) };
        let merchant =
            ctx.data_unchecked::<DataLoader<MerchantById>>().load_one(case.merchant_id).await.map_err(load_error)?;
        Ok(merchant.is_some_and(|m| m.risk_level >= crate::services::quality::MAX_RISK))
    }
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }
    /// The documents the case's requirements ask of this filing, and what was uploaded.
    async fn required_documents(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<super::requirement_objects::DocumentRequirementStatus>> {
        let case = self.case(ctx).await?.0;
        if case.requirements.is_none() {
            return Ok(Vec::new());
        }
        let (state, _) = parts(ctx);
        let documents = crate::services::requirements::documents::documents_of(&state.db, case.id).await?;
        let statuses = crate::services::requirements::documents::status_of(&case, &self.0, &documents)?;
        let masked = scope(ctx, Need::Read).await?.reads_masked(Some(&self.0), &[]);
        Ok(statuses.into_iter().map(|s| super::requirement_objects::DocumentRequirementStatus(s, masked)).collect())
    }
    /// What the latest correction request named, each with whether it is fixed now.
    async fn correction_items(&self, ctx: &Context<'_>) -> Result<Vec<CorrectionItem>> {
        let (state, _) = parts(ctx);
        let items = filings::corrections::items_of(&state.db, &self.0).await?;
        let masked = super::loaded_scope(ctx).await?.reads_masked(Some(&self.0), &[]);
        let message = |m: String| if masked { crate::domain::pii::scrub_personal(&m).into_owned() } else { m };
        Ok(items
            .into_iter()
            .map(|(item, resolved)| CorrectionItem {
                id: id(item.id),
                field: item.field,
                document_type: item.document_type,
                document_id: item.document_id.map(id),
                message: message(item.message),
                resolved,
            })
            .collect())
    }
    /// Who approved or rejected it: an officer or a decision rule.
    async fn decided_by(&self) -> Option<entity::enums::DecidedBy> {
        self.0.decided_by
    }
    /// What the decision rules made of it at its last (re)submission (null: no rule ran).
    async fn automatic_decision(&self) -> Result<Option<super::decision_objects::AutomaticDecision>> {
        let Some(raw) = self.0.automatic_decision.as_deref() else { return Ok(None) };
        let stored = serde_json::from_str(raw)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("stored automatic decision unreadable: {e}")))?;
        Ok(Some(super::decision_objects::AutomaticDecision(stored)))
    }
    /// The filings of this case that must be approved before this one can be.
    /// The licence its approval issued (NEW cases) or that it changes (change cases), if the
    /// caller may see it.
    async fn licence(&self, ctx: &Context<'_>) -> Result<Option<super::licence_objects::Licence>> {
        let Some(id) = self.0.licence_id else { return Ok(None) };
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        match licences::find_by_id(&state.db, scope, id).await {
            Ok(found) => Ok(Some(super::licence_objects::Licence(found))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }
    /// 跨省通办: the region whose office received the filing (null: filed at home).
    async fn receiving_region_code(&self) -> Option<&str> {
        self.0.receiving_region_code.as_deref()
    }
    /// When that office acknowledged receipt.
    async fn received_at(&self) -> Option<DateTime<Utc>> {
        self.0.received_at
    }
    async fn blocked_by(&self, ctx: &Context<'_>) -> Result<Vec<FilingKind>> {
        let siblings = filings_of_case(ctx, self.0.case_id).await?;
        Ok(crate::domain::workflow::blocked_by(self.0.kind, siblings.iter().map(|f| (f.kind, f.status))))
    }
}

/// One field or document a correction request named.
#[derive(SimpleObject)]
pub struct CorrectionItem {
    pub id: ID,
    pub field: Option<String>,
    pub document_type: Option<entity::enums::DocumentType>,
    pub document_id: Option<ID>,
    pub message: String,
    pub resolved: bool,
}

#[derive(SimpleObject)]
pub struct WorkloadRow {
    pub agency: Agency,
    pub region_code: String,
    pub status: FilingStatus,
    pub count: i32,
    pub overdue: i32,
    /// Open filings of merchants at risk level 3.
    pub high_risk: i32,
}

impl TryFrom<filings::WorkloadRow> for WorkloadRow {
    type Error = AppError;
    fn try_from(row: filings::WorkloadRow) -> Result<Self, AppError> {
        Ok(Self {
            agency: row.agency,
            region_code: row.region_code,
            status: row.status,
            count: i32::try_from(row.count).unwrap_or(i32::MAX),
            overdue: i32::try_from(row.overdue).unwrap_or(i32::MAX),
            high_risk: i32::try_from(row.high_risk).unwrap_or(i32::MAX),
        })
    }
}
