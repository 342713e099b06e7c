//! Licences after approval: `licence(number, kind)`, `Merchant.licences`, `Filing.licence`.
//! Each is visible to the holder, staff of the issuing agency covering the holder's region,
//! and administrators (`services::licences::may_see`); nested objects keep their own rules.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};
use entity::{
    enums::{CaseType, LicenceStatus},
    licence, licence_event,
};

use super::{
    loaders::merchant_by_id,
    objects::{Case, Merchant},
    parts, scope, uuid_arg,
};
use crate::{
    domain::{Agency, FilingKind, case_profile::CaseProfileInput, filing_data::Date},
    services::{auth::Need, cases, licences},
};

#[derive(Default)]
pub struct LicenceQuery;

#[Object]
impl LicenceQuery {
    /// One licence by number and kind (TAX shares the USCC with REGISTRATION: the kind says
    /// which). NOT_FOUND unless the caller may see it.
    async fn licence(&self, ctx: &Context<'_>, number: String, kind: FilingKind) -> Result<Option<Licence>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        Ok(Some(Licence(licences::find_by_number(&state.db, scope, &number, kind).await?)))
    }
}

#[derive(Default)]
pub struct LicenceMutation;

#[Object]
impl LicenceMutation {
    /// A change case (AMENDMENT, RENEWAL or CANCELLATION) of the caller's licences, one DRAFT
    /// filing per licence. A licence with a change case under way cannot get a second one
    /// (CONFLICT); NEW is refused (VALIDATION: use createCase).
    async fn create_change_case(
        &self,
        ctx: &Context<'_>,
        licence_ids: Vec<ID>,
        #[graphql(name = "type")] case_type: CaseType,
        profile: Option<CaseProfileInput>,
        #[graphql(desc = "agents: the merchant filed for (licences of granted kinds only)")] merchant_id: Option<ID>,
    ) -> Result<Case> {
        let (state, _) = parts(ctx);
        let merchant_id = merchant_id.as_ref().map(|id| uuid_arg("merchantId", id)).transpose()?;
        let merchant = scope(ctx, Need::Write).await?.act_for(merchant_id)?;
        let licence_ids = licence_ids
            .iter()
            .enumerate()
            .map(|(i, id)| uuid_arg(&format!("licenceIds[{i}]"), id))
            .collect::<Result<Vec<_>, _>>()?;
        let request = cases::ChangeRequest { licence_ids, case_type, profile };
        Ok(Case(cases::create_change_case(state, merchant, request).await?))
    }
}

pub struct Licence(pub licence::Model);

#[Object(guard = "super::Reads::CASES")]
impl Licence {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn kind(&self) -> FilingKind {
        self.0.kind
    }
    async fn agency(&self) -> Agency {
        self.0.agency
    }
    /// As issued: the USCC (REGISTRATION, TAX), the customs code, CIQ… or FX… numbers.
    async fn number(&self) -> &str {
        &self.0.number
    }
    async fn merchant(&self, ctx: &Context<'_>) -> Result<Merchant> {
        merchant_by_id(ctx, self.0.merchant_id).await
    }
    async fn status(&self) -> LicenceStatus {
        self.0.status
    }
    async fn issued_at(&self) -> DateTime<Utc> {
        self.0.issued_at
    }
    /// The last valid day (China Standard Time); null for kinds that do not expire.
    async fn valid_until(&self) -> Option<Date> {
        self.0.valid_until.map(Date)
    }
    /// Every step, oldest first.
    async fn history(&self, ctx: &Context<'_>) -> Result<Vec<LicenceEvent>> {
        let (state, _) = parts(ctx);
        Ok(licences::history(&state.db, self.0.id).await?.into_iter().map(LicenceEvent).collect())
    }
}

pub struct LicenceEvent(pub licence_event::Model);

#[Object(guard = "super::Reads::CASES")]
impl LicenceEvent {
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// issued, reissued, amended, renewed, cancelled, expired.
    async fn action(&self) -> &str {
        &self.0.action
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    async fn filing_id(&self) -> Option<ID> {
        self.0.filing_id.map(|id| ID(id.to_string()))
    }
}
