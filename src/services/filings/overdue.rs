//! What "overdue" means, once: a filing waiting on an agency (SUBMITTED or UNDER_REVIEW) whose
//! statutory deadline has passed. A filing waiting on the merchant (NEEDS_CORRECTION) has its
//! clock paused and is never overdue.

use chrono::{DateTime, Utc};
use entity::filing;
use sea_orm::{
    ColumnTrait, Condition,
    sea_query::{Expr, ExprTrait, SimpleExpr},
};

use crate::domain::FilingStatus;

/// The statuses in which a filing waits on an agency (its deadline runs).
pub const WAITING_ON_AGENCY: [FilingStatus; 2] = [FilingStatus::Submitted, FilingStatus::UnderReview];

/// For one filing in memory.
pub fn is_overdue(f: &filing::Model, now: DateTime<Utc>) -> bool {
    f.status.is_pending_review() && f.due_at.is_some_and(|due| due < now)
}

/// Rows of `filings` waiting on an agency.
pub fn waiting_on_agency() -> SimpleExpr {
    Expr::col(filing::Column::Status).is_in(WAITING_ON_AGENCY)
}

/// Rows of `filings` overdue at `now`.
pub fn overdue_at(now: DateTime<Utc>) -> Condition {
    Condition::all().add(filing::Column::Status.is_in(WAITING_ON_AGENCY)).add(filing::Column::DueAt.lt(now))
}

/// 1 for an overdue row, else 0 (to count them in an aggregate).
pub fn overdue_flag(now: DateTime<Utc>) -> SimpleExpr {
    Expr::case(waiting_on_agency().and(Expr::col(filing::Column::DueAt).lt(now)), 1).finally(0).into()
}
