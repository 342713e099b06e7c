//! Gathers what decision rules read about filings of one case — the merchant's failed spot
//! checks and its earlier decisions, read once (two queries) for all the case's filings — and
//! builds each filing's facts (`domain::decision_facts`).

use std::collections::BTreeSet;

use entity::{case, filing, spot_check};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, sea_query::Query};
use uuid::Uuid;

use crate::{
    domain::{
        FilingKind, FilingStatus,
        decision_facts::{FactSources, facts},
    },
    error::AppResult,
    services::cases::CaseChange,
};

/// The merchant's record as decision rules see it.
pub struct MerchantRecord {
    failed_checks: u64,
    /// Every decided filing of the merchant: (filing, kind, APPROVED or REJECTED).
    decided: Vec<(Uuid, FilingKind, FilingStatus)>,
}

impl MerchantRecord {
    pub async fn load(change: &CaseChange<'_>) -> AppResult<Self> {
        let merchant_id = change.merchant.id;
        let failed_checks = spot_check::Entity::find()
            .filter(spot_check::Column::MerchantId.eq(merchant_id))
            .filter(spot_check::Column::Result.eq("FAIL"))
            .count(change.txn())
            .await?;
        let decided = filing::Entity::find()
            .select_only()
            .column(filing::Column::Id)
            .column(filing::Column::Kind)
            .column(filing::Column::Status)
            .filter(filing::Column::Status.is_in([FilingStatus::Approved, FilingStatus::Rejected]))
            .filter(
                filing::Column::CaseId.in_subquery(
                    Query::select().column(case::Column::Id).from(case::Entity).and_where(case::Column::MerchantId.eq(merchant_id)).to_owned(),
                ),
            )
            .into_tuple()
            .all(change.txn())
            .await?;
        Ok(Self { failed_checks, decided })
    }

    /// The facts about `filing` of the change's case, its own decision left out.
    pub fn facts(&self, change: &CaseChange<'_>, filing: &filing::Model, resubmitted: bool) -> serde_json::Value {
        let earlier = || self.decided.iter().filter(|(id, _, _)| *id != filing.id);
        let approved_kinds: BTreeSet<FilingKind> = earlier().filter(|(_, _, s)| *s == FilingStatus::Approved).map(|(_, k, _)| *k).collect();
        let count = |status: FilingStatus| earlier().filter(|(_, k, s)| *k == filing.kind && *s == status).count() as u64;
        facts(&FactSources {
            filing,
            resubmitted,
            merchant: &change.merchant,
            failed_checks: self.failed_checks,
            approved_kinds: approved_kinds.into_iter().collect(),
            case_kinds: change.filings().iter().map(|f| f.kind).collect(),
            case_type: change.case.case_type,
            approved_before: count(FilingStatus::Approved),
            rejected_before: count(FilingStatus::Rejected),
        })
    }
}

/// The facts about one filing (for an officer's decision).
pub async fn gather(change: &CaseChange<'_>, filing: &filing::Model, resubmitted: bool) -> AppResult<serde_json::Value> {
    Ok(MerchantRecord::load(change).await?.facts(change, filing, resubmitted))
}
