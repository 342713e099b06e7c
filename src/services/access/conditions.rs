//! The SQL conditions that keep every list within the caller's scope.

use entity::{case, filing};
use sea_orm::{
    ColumnTrait, Condition,
    sea_query::{Alias, Expr, ExprTrait, Query},
};

use super::Scope;

impl Scope {
    /// Rows of `filings` the caller may see. `None`: everything.
    pub fn filing_condition(&self) -> Option<Condition> {
        match self {
            Self::Admin { .. } => None,
            Self::Merchant { merchant_id, .. } => Some(
                Condition::all().add(
                    filing::Column::CaseId.in_subquery(
                        Query::select()
                            .column(case::Column::Id)
                            .from(case::Entity)
                            .and_where(Expr::col(case::Column::MerchantId).eq(*merchant_id))
                            .to_owned(),
                    ),
                ),
            ),
            // The office that acts on the filing now: the receiving office while it awaits
            // receipt (跨省通办), the deciding office otherwise — the column the database derives
            // (migration 25), which the queue's index covers.
            Self::Agency { agency, regions, .. } => Some(
                Condition::all()
                    .add(filing::Column::Agency.eq(*agency))
                    .add(Expr::col((filing::Entity, Alias::new("office_region_code"))).is_in(regions.clone())),
            ),
            // Each grant: that merchant's filings of the granted kinds.
            Self::Agent { grants, .. } => {
                Some(grants.iter().fold(Condition::any().add(Expr::val(1).eq(0)), |any, g| {
                    any.add(
                        Condition::all()
                            .add(
                                filing::Column::CaseId.in_subquery(
                                    Query::select()
                                        .column(case::Column::Id)
                                        .from(case::Entity)
                                        .and_where(Expr::col(case::Column::MerchantId).eq(g.merchant_id))
                                        .to_owned(),
                                ),
                            )
                            .add(filing::Column::Kind.is_in(g.kinds.clone())),
                    )
                }))
            }
        }
    }

    /// Rows of `cases` the caller may see: a merchant its own; agency staff those holding a
    /// filing of theirs; an agent its clients' cases holding a filing of a granted kind.
    pub fn case_condition(&self) -> Option<Condition> {
        match self {
            Self::Admin { .. } => None,
            Self::Merchant { merchant_id, .. } => Some(Condition::all().add(case::Column::MerchantId.eq(*merchant_id))),
            // EXISTS, correlated on the case: one index probe per candidate case (the
            // uncorrelated `id IN (SELECT case_id …)` materialised every filing of the agency
            // and region — thousands of rows — for each single-case look-up).
            // … or a case shared with the agency (read-only).
            Self::Agency { agency, regions, shared_cases, .. } => {
                let own = Expr::exists(
                    Query::select()
                        .expr(Expr::val(1))
                        .from(filing::Entity)
                        .and_where(
                            Expr::col((filing::Entity, filing::Column::CaseId))
                                .equals((case::Entity, case::Column::Id)),
                        )
                        .and_where(Expr::col((filing::Entity, filing::Column::Agency)).eq(*agency))
                        .and_where(Expr::col((filing::Entity, filing::Column::RegionCode)).is_in(regions.clone()).or(
                            Expr::col((filing::Entity, filing::Column::ReceivingRegionCode)).is_in(regions.clone()),
                        ))
                        .to_owned(),
                );
                let mut visible = Condition::any().add(own);
                if !shared_cases.is_empty() {
                    visible = visible.add(case::Column::Id.is_in(shared_cases.clone()));
                }
                Some(visible)
            }
            Self::Agent { grants, .. } => {
                Some(grants.iter().fold(Condition::any().add(Expr::val(1).eq(0)), |any, g| {
                    any.add(
                        Condition::all().add(case::Column::MerchantId.eq(g.merchant_id)).add(Expr::exists(
                            Query::select()
                                .expr(Expr::val(1))
                                .from(filing::Entity)
                                .and_where(
                                    Expr::col((filing::Entity, filing::Column::CaseId))
                                        .equals((case::Entity, case::Column::Id)),
                                )
                                .and_where(Expr::col((filing::Entity, filing::Column::Kind)).is_in(g.kinds.clone()))
                                .to_owned(),
                        )),
                    )
                }))
            }
        }
    }
}
