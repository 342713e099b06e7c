//! Comments on a case, or on one filing of it, on the audit trail like every change.

use entity::comment;
use sea_orm::{ActiveModelTrait, Set};
use uuid::Uuid;

use super::CaseChange;
use crate::{
    error::{AppError, AppResult},
    platform::{clock, state::AppState},
    services::access::Scope,
};

/// Adds a comment; admins read cases but do not take part.
#[tracing::instrument(skip_all, fields(case = %case_id))]
pub async fn add_comment(
    state: &AppState,
    scope: &Scope,
    case_id: Uuid,
    filing_id: Option<Uuid>,
    body: &str,
) -> AppResult<comment::Model> {
    let body = crate::domain::identifiers::text("body", body, 5000, true)?;
    let mut change = CaseChange::open(state, scope, case_id).await?;
    if matches!(scope, Scope::Admin { .. }) {
        return Err(AppError::Forbidden("administrators read cases but do not comment".into()));
    }
    if let Ok(staff) = scope.require_staff() {
        let own = match filing_id {
            Some(id) => staff.can_see(change.filing(id)?),
            None => change.filings().iter().any(|f| staff.can_see(f)),
        };
        if !own && scope.shares(change.case.id) {
            return Err(AppError::Forbidden(
                "this case is shared with your agency read-only: you may not comment on it".into(),
            ));
        }
    }
    if matches!(scope, Scope::Agent { .. }) && filing_id.is_none() {
        return Err(AppError::Forbidden("agents comment on the filings they file for (give filingId)".into()));
    }
    if let Some(id) = filing_id {
        let filing = change.filing(id)?;
        if !scope.can_see_filing(change.case.merchant_id, filing) {
            return Err(AppError::NotFound("filing".into()));
        }
    }
    let saved = comment::ActiveModel {
        id: Set(Uuid::now_v7()),
        case_id: Set(change.case.id),
        filing_id: Set(filing_id),
        author_id: Set(scope.user_id()),
        body: Set(body.clone()),
        created_at: Set(clock::now()),
    }
    .insert(change.txn())
    .await?;
    change.case_event("comment.added", filing_id, Some(&body)).await?;
    change.commit().await?;
    Ok(saved)
}
