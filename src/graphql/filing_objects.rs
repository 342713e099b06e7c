//! The GraphQL `Filing` of a case, with the correction items and workload rows around it.

use async_graphql::{Context, ID, Object, Result, SimpleObject, dataloader::DataLoader};
use chrono::{DateTime, Utc};
use entity::filing;

use super::{
    filing_data::FilingData,
    loaders::{CaseById, MerchantById, UserById, load_error},
    objects::{Case, filings_of_case, id},
    parts, scope,
    types::User,
};
use crate::{
    domain::{Agency, FilingKind, FilingStatus, filing_data::FilingData as StoredData},
    error::AppError,
    services::{auth::Need, filings, licences},
};

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
