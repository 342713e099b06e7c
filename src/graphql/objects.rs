//! GraphQL objects of the case workflow. Related rows come through DataLoaders; what a caller
//! may see of a case is filtered by its scope here as in the services.

use crate::services::auth::Need;

use async_graphql::{
    Context, ID, Object, Result, SimpleObject, Union,
    connection::{Connection, Edge},
    dataloader::DataLoader,
};
use chrono::{DateTime, Utc};
use entity::{audit_event, case, comment, filing, merchant};

use super::{
    loaders::{CaseById, FilingsByCase, MerchantById, UserById, load_error},
    parts, scope,
    types::User,
};
use crate::{
    services::cases,
    domain::{
        Agency, CaseStatus, FilingKind, FilingStatus,
        filing_data::{
            CompanyType, CustomsBusinessType, FilingData as StoredData, Money, ProductCategory,
            TaxpayerType,
        },
    },
    error::AppError,
    services::filings,
    platform::pagination::{self, Page},
};

fn id(uuid: uuid::Uuid) -> ID {
    ID(uuid.to_string())
}

pub type CaseConnection = Connection<String, Case>;
pub type FilingConnection = Connection<String, Filing>;

pub fn case_connection(page: Page<case::Model>) -> CaseConnection {
    let mut connection = Connection::new(page.has_previous, page.has_next);
    connection.edges.extend(
        page.items
            .into_iter()
            .map(|c| Edge::new(pagination::encode_cursor(&c.id.to_string()), Case(c))),
    );
    connection
}

pub fn filing_connection(page: Page<filing::Model>) -> FilingConnection {
    let mut connection = Connection::new(page.has_previous, page.has_next);
    connection.edges.extend(
        page.items.into_iter().map(|f| Edge::new(filings::queue_cursor(&f), Filing(f))),
    );
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
    async fn contact_email(&self) -> &str {
        &self.0.contact_email
    }
    async fn contact_phone(&self) -> &str {
        &self.0.contact_phone
    }
    async fn store_urls(&self) -> Vec<String> {
        serde_json::from_str(&self.0.store_urls).unwrap_or_default()
    }
    async fn categories(&self) -> Vec<ProductCategory> {
        serde_json::from_str(&self.0.categories).unwrap_or_default()
    }
    /// 0 normal .. 3 high, raised by failed spot checks.
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
}

pub struct Case(pub case::Model);

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
        let loader = ctx.data_unchecked::<DataLoader<FilingsByCase>>();
        let rows = loader.load_one(self.0.id).await.map_err(load_error)?.unwrap_or_default();
        let mut visible: Vec<filing::Model> =
            rows.into_iter().filter(|f| scope.can_see_filing(self.0.merchant_id, f)).collect();
        visible.sort_by_key(|f| Some(f.kind));
        Ok(visible.into_iter().map(Filing).collect())
    }
    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<AuditEvent>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        Ok(cases::events_of(state, scope, &self.0).await?.into_iter().map(AuditEvent).collect())
    }
    async fn comments(&self, ctx: &Context<'_>) -> Result<Vec<Comment>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        Ok(cases::comments_of(state, scope, &self.0).await?.into_iter().map(Comment).collect())
    }
    async fn documents(&self, ctx: &Context<'_>) -> Result<Vec<Document>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        Ok(crate::services::documents::of_case(state, scope, &self.0).await?.into_iter().map(Document::from).collect())
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
    /// Resident ID and bank account numbers are masked for administrators.
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
        // In full only for the merchant and the reviewing agency; administrators see it masked.
        let scope = super::loaded_scope(ctx).await?;
        Ok(if matches!(scope, crate::services::access::Scope::Admin { .. }) { data.masked() } else { data })
    }
    async fn assignee(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(assignee) = self.0.assignee_id else { return Ok(None) };
        let loader = ctx.data_unchecked::<DataLoader<UserById>>();
        Ok(loader.load_one(assignee).await.map_err(load_error)?.map(User))
    }
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.0.due_at
    }
    async fn overdue(&self) -> bool {
        crate::services::filings::overdue::is_overdue(&self.0, Utc::now())
    }
    async fn decision_note(&self) -> Option<&str> {
        self.0.decision_note.as_deref()
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
        let merchant = ctx.data_unchecked::<DataLoader<MerchantById>>().load_one(case.merchant_id).await.map_err(load_error)?;
        Ok(merchant.is_some_and(|m| m.risk_level >= crate::services::quality::MAX_RISK))
    }
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }
}

#[derive(SimpleObject)]
pub struct Person {
    pub name: String,
    pub id_number: String,
}

#[derive(SimpleObject, Default)]
pub struct RegistrationData {
    pub company_name: Option<String>,
    pub company_type: Option<CompanyType>,
    pub registered_capital: Option<Money>,
    pub legal_representative: Option<Person>,
    pub address: Option<String>,
    pub business_scope: Option<String>,
}

#[derive(SimpleObject, Default)]
pub struct CustomsData {
    pub customs_district_code: Option<String>,
    pub business_type: Option<CustomsBusinessType>,
    pub contact_person: Option<String>,
    pub expected_annual_trade_usd: Option<Money>,
}

#[derive(SimpleObject)]
pub struct ProductLine {
    pub name: String,
    pub hs_code: String,
    pub origin_region_code: String,
}

#[derive(SimpleObject, Default)]
pub struct InspectionData {
    pub categories: Vec<ProductCategory>,
    pub products: Vec<ProductLine>,
}

#[derive(SimpleObject, Default)]
pub struct TaxData {
    pub taxpayer_type: Option<TaxpayerType>,
    pub bank_name: Option<String>,
    pub bank_account: Option<String>,
    pub invoice_contact: Option<String>,
}

#[derive(SimpleObject, Default)]
pub struct FxData {
    pub bank_name: Option<String>,
    pub expected_annual_receipts_usd: Option<Money>,
    pub currencies: Vec<String>,
}

#[derive(Union)]
pub enum FilingData {
    RegistrationData(RegistrationData),
    CustomsData(CustomsData),
    InspectionData(InspectionData),
    TaxData(TaxData),
    FxData(FxData),
}

impl FilingData {
    fn masked(self) -> Self {
        use crate::domain::pii::{mask_account, mask_id_number};
        match self {
            Self::RegistrationData(mut d) => {
                if let Some(person) = d.legal_representative.as_mut() {
                    person.id_number = mask_id_number(&person.id_number);
                }
                Self::RegistrationData(d)
            }
            Self::TaxData(mut d) => {
                d.bank_account = d.bank_account.as_deref().map(mask_account);
                Self::TaxData(d)
            }
            other => other,
        }
    }

    /// The kind's object, with every field null (or empty) until the merchant fills it in.
    fn from_stored(kind: FilingKind, stored: Option<StoredData>) -> Self {
        match stored {
            Some(StoredData::Registration(d)) => Self::RegistrationData(RegistrationData {
                company_name: Some(d.company_name),
                company_type: Some(d.company_type),
                registered_capital: Some(d.registered_capital),
                legal_representative: Some(Person {
                    name: d.legal_representative.name,
                    id_number: d.legal_representative.id_number,
                }),
                address: Some(d.address),
                business_scope: Some(d.business_scope),
            }),
            Some(StoredData::Customs(d)) => Self::CustomsData(CustomsData {
                customs_district_code: Some(d.customs_district_code),
                business_type: Some(d.business_type),
                contact_person: Some(d.contact_person),
                expected_annual_trade_usd: Some(d.expected_annual_trade_usd),
            }),
            Some(StoredData::Inspection(d)) => Self::InspectionData(InspectionData {
                categories: d.categories,
                products: d
                    .products
                    .into_iter()
                    .map(|p| ProductLine { name: p.name, hs_code: p.hs_code, origin_region_code: p.origin_region_code })
                    .collect(),
            }),
            Some(StoredData::Tax(d)) => Self::TaxData(TaxData {
                taxpayer_type: Some(d.taxpayer_type),
                bank_name: Some(d.bank_name),
                bank_account: Some(d.bank_account),
                invoice_contact: Some(d.invoice_contact),
            }),
            Some(StoredData::Fx(d)) => Self::FxData(FxData {
                bank_name: Some(d.bank_name),
                expected_annual_receipts_usd: Some(d.expected_annual_receipts_usd),
                currencies: d.currencies,
            }),
            None => match kind {
                FilingKind::Registration => Self::RegistrationData(RegistrationData::default()),
                FilingKind::Customs => Self::CustomsData(CustomsData::default()),
                FilingKind::Inspection => Self::InspectionData(InspectionData::default()),
                FilingKind::Tax => Self::TaxData(TaxData::default()),
                FilingKind::Fx => Self::FxData(FxData::default()),
            },
        }
    }
}

pub struct AuditEvent(pub audit_event::Model);

#[Object(guard = "super::Reads::CASES")]
impl AuditEvent {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// Null for the system.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(actor) = self.0.actor_id else { return Ok(None) };
        let loader = ctx.data_unchecked::<DataLoader<UserById>>();
        Ok(loader.load_one(actor).await.map_err(load_error)?.map(User))
    }
    /// The API client the actor acted through (`apiClients { id }`), null for direct use.
    async fn via_client_id(&self) -> Option<ID> {
        self.0.via_client_id.map(id)
    }
    /// e.g. "filing.submitted", "filing.approved".
    async fn action(&self) -> &str {
        &self.0.action
    }
    async fn filing_id(&self) -> Option<ID> {
        self.0.filing_id.map(id)
    }
    async fn from_status(&self) -> Option<FilingStatus> {
        self.0.from_status
    }
    async fn to_status(&self) -> Option<FilingStatus> {
        self.0.to_status
    }
    /// What the actor wrote; for merchants, email addresses in older notes are masked.
    async fn note(&self, ctx: &Context<'_>) -> Option<String> {
        let note = self.0.note.as_deref()?;
        let merchant = matches!(parts(ctx).1, crate::services::auth::Caller::User(p) if p.role == crate::domain::Role::Merchant);
        Some(if merchant { crate::domain::pii::mask_emails_in(note).into_owned() } else { note.to_string() })
    }
    /// Hex SHA-256 chained over the previous event of the same case.
    async fn hash(&self) -> &str {
        &self.0.hash
    }
}

pub struct Comment(pub comment::Model);

#[Object(guard = "super::Reads::CASES")]
impl Comment {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn author(&self, ctx: &Context<'_>) -> Result<User> {
        let loader = ctx.data_unchecked::<DataLoader<UserById>>();
        let user = loader.load_one(self.0.author_id).await.map_err(load_error)?;
        Ok(User(user.ok_or_else(|| AppError::NotFound("user".into()))?))
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn filing_id(&self) -> Option<ID> {
        self.0.filing_id.map(id)
    }
}

/// A document attached to a case; download it at `GET /documents/{id}`.
#[derive(SimpleObject)]
#[graphql(guard = "super::Reads::CASES")]
pub struct Document {
    pub id: ID,
    pub filename: String,
    pub content_type: String,
    pub size: i32,
    pub sha256: String,
    pub uploaded_at: DateTime<Utc>,
    pub filing_id: Option<ID>,
}

impl From<entity::document::Model> for Document {
    fn from(d: entity::document::Model) -> Self {
        Self {
            id: id(d.id),
            filename: d.filename,
            content_type: d.content_type,
            size: i32::try_from(d.size).unwrap_or(i32::MAX),
            sha256: d.sha256,
            uploaded_at: d.uploaded_at,
            filing_id: d.filing_id.map(id),
        }
    }
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
