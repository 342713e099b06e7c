//! Cases: creation with gap-free references, submission and withdrawal (`submission`),
//! comments, and the queries that list and show them within the caller's scope. Every state
//! change of a case goes through [`change::CaseChange`].

mod actor;
mod amendments;
mod bundle;
pub mod change;
mod comments;
mod creation;
pub mod email;
mod submission;

pub use amendments::{ChangeRequest, create_change_case};
pub use bundle::{CaseBundle, LockedCase, find_visible_bundle, read_locked};
pub use change::{Actor, CaseChange, lock_case};
pub use comments::add_comment;
pub use creation::{CaseRequest, create_case};
pub use submission::{submit_case, withdraw_case};

use entity::{audit_event, case, comment, filing};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::{
    domain::{CaseStatus, pii},
    error::{AppError, AppResult},
    platform::{
        pagination::{self, Page},
        state::AppState,
    },
    services::access::Scope,
};

/// A case the caller may see, or NOT_FOUND.
pub async fn find_visible<C: ConnectionTrait>(db: &C, scope: &Scope, case_id: Uuid) -> AppResult<case::Model> {
    let mut query = case::Entity::find_by_id(case_id);
    if let Some(condition) = scope.case_condition() {
        query = query.filter(condition);
    }
    query.one(db).await?.ok_or_else(|| AppError::NotFound("case".into()))
}

pub async fn filings_of<C: ConnectionTrait>(db: &C, case_id: Uuid) -> AppResult<Vec<filing::Model>> {
    Ok(filing::Entity::find()
        .filter(filing::Column::CaseId.eq(case_id))
        .order_by_asc(filing::Column::Id)
        .all(db)
        .await?)
}

/// The caller's cases (newest first), optionally of one status and/or one merchant.
#[tracing::instrument(skip_all, fields(user = %scope.user_id()))]
pub async fn list_cases(
    state: &AppState,
    scope: &Scope,
    first: Option<i32>,
    after: Option<String>,
    status: Option<CaseStatus>,
    merchant_id: Option<Uuid>,
) -> AppResult<Page<case::Model>> {
    let limit = pagination::page_size(first)?;
    let mut query = case::Entity::find().order_by_desc(case::Column::Id).limit(limit + 1);
    if let Some(condition) = scope.case_condition() {
        query = query.filter(condition);
    }
    if let Some(status) = status {
        query = query.filter(case::Column::Status.eq(status));
    }
    if let Some(merchant_id) = merchant_id {
        query = query.filter(case::Column::MerchantId.eq(merchant_id));
    }
    let had_cursor = after.is_some();
    if let Some(cursor) = after {
        let id = Uuid::parse_str(&pagination::decode_cursor(&cursor)?)
            .map_err(|_| AppError::validation("after", "is not a cursor from this list"))?;
        query = query.filter(case::Column::Id.lt(id));
    }
    Ok(pagination::into_page(query.all(&state.db).await?, limit, had_cursor))
}

/// Agency staff see case-level entries and those of their own filings only; an agent only
/// those of the filings it may see.
fn visible_filter(
    scope: &Scope,
    filing_column: impl sea_orm::ColumnTrait,
    visible_filings: &[Uuid],
) -> Option<Condition> {
    let own = Condition::any().add(filing_column.is_in(visible_filings.to_vec()));
    match scope {
        Scope::Agency { .. } => Some(own.add(filing_column.is_null())),
        Scope::Agent { .. } => Some(own),
        _ => None,
    }
}

#[tracing::instrument(skip_all, fields(case = %case.id))]
pub async fn events_of(
    state: &AppState,
    scope: &Scope,
    case: &case::Model,
    filings: &[filing::Model],
) -> AppResult<Vec<audit_event::Model>> {
    let visible = visible_filing_ids(scope, case, filings);
    let mut query = audit_event::Entity::find()
        .filter(audit_event::Column::CaseId.eq(case.id))
        .order_by_asc(audit_event::Column::Seq);
    if let Some(condition) = visible_filter(scope, audit_event::Column::FilingId, &visible) {
        query = query.filter(condition);
    }
    let mut events = query.all(&state.db).await?;
    for event in events.iter_mut().filter(|e| scope.reads_part_masked(e.filing_id, filings)) {
        event.note = event.note.take().map(|note| pii::scrub_personal(&note).into_owned());
    }
    Ok(events)
}

#[tracing::instrument(skip_all, fields(case = %case.id))]
pub async fn comments_of(
    state: &AppState,
    scope: &Scope,
    case: &case::Model,
    filings: &[filing::Model],
) -> AppResult<Vec<comment::Model>> {
    let visible = visible_filing_ids(scope, case, filings);
    let mut query =
        comment::Entity::find().filter(comment::Column::CaseId.eq(case.id)).order_by_asc(comment::Column::Id);
    if let Some(condition) = visible_filter(scope, comment::Column::FilingId, &visible) {
        query = query.filter(condition);
    }
    let mut comments = query.all(&state.db).await?;
    for comment in comments.iter_mut().filter(|c| scope.reads_part_masked(c.filing_id, filings)) {
        comment.body = pii::scrub_personal(&comment.body).into_owned();
    }
    Ok(comments)
}

/// The ids of the case's filings (all of them, as the caller read them) that the caller may see.
fn visible_filing_ids(scope: &Scope, case: &case::Model, filings: &[filing::Model]) -> Vec<Uuid> {
    filings.iter().filter(|f| f.case_id == case.id && scope.can_see_filing(case.merchant_id, f)).map(|f| f.id).collect()
}
