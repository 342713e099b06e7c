//! Gathers what decision rules read about filings of one case — the merchant's failed spot
//! checks and its earlier decisions, read once (one query) for all the case's filings — and
//! builds each filing's facts (`domain::decision_facts`).

use std::collections::BTreeSet;

use entity::{case, filing, licence, merchant, spot_check};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Alias, Expr, ExprTrait, JoinType, Query, QueryStatementBuilder},
};
use uuid::Uuid;

use crate::{
    domain::{
        FilingKind, FilingStatus,
        decision_facts::{FactSources, facts},
    },
    error::AppResult,
    services::cases::CaseChange,
};

/// What the rules read of one case: inside a change (locked), or read before it.
#[derive(Clone, Copy)]
pub struct CaseFacts<'a> {
    pub case: &'a case::Model,
    pub merchant: &'a merchant::Model,
    pub filings: &'a [filing::Model],
}

impl<'a> CaseFacts<'a> {
    pub fn of(change: &'a CaseChange<'_>) -> Self {
        Self { case: &change.case, merchant: &change.merchant, filings: change.filings() }
    }
}

/// The merchant's record as decision rules see it.
pub struct MerchantRecord {
    failed_checks: u64,
    /// Every decided filing of the merchant: (filing, kind, APPROVED or REJECTED).
    decided: Vec<(Uuid, FilingKind, FilingStatus)>,
    /// The merchant's licences.
    licences: Vec<licence::Model>,
}

impl MerchantRecord {
    /// Two statements: the merchant's cases, each joined to its decided filings (a case without
    /// any gives one row of nulls), every row carrying the count of failed spot checks; and the
    /// merchant's licences.
    pub async fn load<C: ConnectionTrait>(db: &C, merchant_id: Uuid) -> AppResult<Self> {
        let failed = Query::select()
            .expr(Expr::col(spot_check::Column::Id).count())
            .from(spot_check::Entity)
            .and_where(spot_check::Column::MerchantId.eq(merchant_id))
            .and_where(spot_check::Column::Result.eq("FAIL"))
            .to_owned();
        let decided = Expr::col((filing::Entity, filing::Column::CaseId)).equals((case::Entity, case::Column::Id)).and(
            Expr::col((filing::Entity, filing::Column::Status)).is_in([FilingStatus::Approved, FilingStatus::Rejected]),
        );
        let query = Query::select()
            .expr_as(
                Expr::SubQuery(None, Box::new(QueryStatementBuilder::into_sub_query_statement(failed))),
                Alias::new("failed_checks"),
            )
            .column((filing::Entity, filing::Column::Id))
            .column((filing::Entity, filing::Column::Kind))
            .column((filing::Entity, filing::Column::Status))
            .from(case::Entity)
            .join(JoinType::LeftJoin, filing::Entity, decided)
            .and_where(Expr::col((case::Entity, case::Column::MerchantId)).eq(merchant_id))
            .to_owned();
        let rows = db.query_all(&query).await?;
        let licences = licence::Entity::find().filter(licence::Column::MerchantId.eq(merchant_id)).all(db).await?;
        let mut record = Self { failed_checks: 0, decided: Vec::new(), licences };
        for row in rows {
            record.failed_checks = u64::try_from(row.try_get::<i64>("", "failed_checks")?).unwrap_or(0);
            let filing = (
                row.try_get::<Option<Uuid>>("", "id")?,
                row.try_get::<Option<FilingKind>>("", "kind")?,
                row.try_get::<Option<FilingStatus>>("", "status")?,
            );
            if let (Some(id), Some(kind), Some(status)) = filing {
                record.decided.push((id, kind, status));
            }
        }
        Ok(record)
    }

    /// The facts about `filing` of the change's case, its own decision left out.
    pub fn facts(&self, case: CaseFacts<'_>, filing: &filing::Model, resubmitted: bool) -> serde_json::Value {
        let earlier = || self.decided.iter().filter(|(id, _, _)| *id != filing.id);
        let approved_kinds: BTreeSet<FilingKind> =
            earlier().filter(|(_, _, s)| *s == FilingStatus::Approved).map(|(_, k, _)| *k).collect();
        let count =
            |status: FilingStatus| earlier().filter(|(_, k, s)| *k == filing.kind && *s == status).count() as u64;
        facts(&FactSources {
            filing,
            resubmitted,
            merchant: case.merchant,
            failed_checks: self.failed_checks,
            approved_kinds: approved_kinds.into_iter().collect(),
            case_kinds: case.filings.iter().map(|f| f.kind).collect(),
            case_type: case.case.case_type,
            approved_before: count(FilingStatus::Approved),
            rejected_before: count(FilingStatus::Rejected),
            licences: &self.licences,
        })
    }
}

/// The facts about one filing (for an officer's decision).
pub async fn gather(
    change: &CaseChange<'_>,
    filing: &filing::Model,
    resubmitted: bool,
) -> AppResult<serde_json::Value> {
    Ok(MerchantRecord::load(change.txn(), change.merchant.id).await?.facts(CaseFacts::of(change), filing, resubmitted))
}
