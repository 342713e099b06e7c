//! Cases: creation with gap-free references, submission and withdrawal (`submission`),
//! comments, and the queries that list and show them within the caller's scope. Every state
//! change of a case goes through [`change::CaseChange`].

pub mod change;
mod comments;
pub mod email;
mod submission;

pub use change::{Actor, CaseChange, lock_case};
pub use comments::add_comment;
pub use submission::{submit_case, withdraw_case};

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Utc};
use entity::{audit_event, case, case_counter, comment, filing, merchant};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use uuid::Uuid;

use crate::{
    domain::{CaseStatus, FilingKind, FilingStatus},
    error::{AppError, AppResult},
    platform::{
        clock,
        pagination::{self, Page},
        state::AppState,
    },
    services::access::{MerchantUser, Scope},
};

/// Next `{region}-{year}-{nnnnnn}`. The counter row is updated inside the creating
/// transaction: concurrent creators queue on its row lock, and a rolled-back creation gives
/// its number back, so references have neither gaps nor duplicates.
async fn allocate_reference(txn: &DatabaseTransaction, region: &str, year: i32) -> AppResult<String> {
    case_counter::Entity::insert(case_counter::ActiveModel {
        region_code: Set(region.to_string()),
        year: Set(year),
        last_value: Set(0),
    })
    .on_conflict(
        OnConflict::columns([case_counter::Column::RegionCode, case_counter::Column::Year])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    case_counter::Entity::update_many()
        .col_expr(case_counter::Column::LastValue, Expr::col(case_counter::Column::LastValue).add(1))
        .filter(case_counter::Column::RegionCode.eq(region))
        .filter(case_counter::Column::Year.eq(year))
        .exec(txn)
        .await?;
    let counter = case_counter::Entity::find_by_id((region.to_string(), year))
        .one(txn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("case counter vanished"))?;
    Ok(format!("{region}-{year}-{:06}", counter.last_value))
}

/// Creates a case with one DRAFT filing per kind (the merchant's own).
#[tracing::instrument(skip_all, fields(merchant = %merchant.merchant_id))]
pub async fn create_case(state: &AppState, merchant: MerchantUser<'_>, kinds: Vec<FilingKind>) -> AppResult<case::Model> {
    let unique: BTreeSet<FilingKind> = kinds.iter().copied().collect();
    if kinds.is_empty() {
        return Err(AppError::validation("kinds", "choose at least one filing kind"));
    }
    if unique.len() != kinds.len() {
        return Err(AppError::validation("kinds", "each kind may appear once"));
    }
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let profile = merchant::Entity::find_by_id(merchant.merchant_id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::NotFound("merchant".into()))?;
    if unique.contains(&FilingKind::Registration) && profile.uscc.is_some() {
        return Err(AppError::validation("kinds", "REGISTRATION is not needed: your USCC was verified here"));
    }
    let now = clock::now();
    let reference = allocate_reference(&txn, &profile.region_code, now.with_timezone(&chrono_tz_china()).year()).await?;
    let case = case::ActiveModel {
        id: Set(Uuid::now_v7()),
        reference: Set(reference),
        merchant_id: Set(profile.id),
        region_code: Set(profile.region_code.clone()),
        status: Set(CaseStatus::Draft),
        created_at: Set(now),
        submitted_at: Set(None),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let mut filings = Vec::new();
    for kind in &unique {
        filings.push(new_filing(&case, &profile, *kind, now).insert(&txn).await?);
    }
    let kinds = unique.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",");
    let mut change = CaseChange::adopt(state, txn, Actor::of(merchant.scope()), case, profile, filings);
    change.case_event("case.created", None, Some(&kinds)).await?;
    change.commit().await
}

/// A DRAFT filing of `kind` in a new case.
fn new_filing(case: &case::Model, merchant: &merchant::Model, kind: FilingKind, now: DateTime<Utc>) -> filing::ActiveModel {
    filing::ActiveModel {
        id: Set(Uuid::now_v7()),
        case_id: Set(case.id),
        kind: Set(kind),
        agency: Set(kind.agency()),
        status: Set(FilingStatus::Draft),
        version: Set(1),
        region_code: Set(case.region_code.clone()),
        data: Set(None),
        assignee_id: Set(None),
        due_at: Set(None),
        paused_remaining_secs: Set(None),
        decision_note: Set(None),
        certificate_number: Set(None),
        uscc: Set(if kind.needs_uscc() { merchant.known_uscc().map(str::to_string) } else { None }),
        submitted_at: Set(None),
        decided_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        reminder_sent_at: Set(None),
        overdue_notified_at: Set(None),
    }
}

fn chrono_tz_china() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

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

/// Agency staff see case-level entries and those of their own filings only.
fn visible_filter(scope: &Scope, visible_filings: &[Uuid]) -> Option<Condition> {
    match scope {
        Scope::Agency { .. } => Some(
            Condition::any()
                .add(Expr::col(audit_event::Column::FilingId).is_null())
                .add(Expr::col(audit_event::Column::FilingId).is_in(visible_filings.to_vec())),
        ),
        _ => None,
    }
}

#[tracing::instrument(skip_all, fields(case = %case.id))]
pub async fn events_of(
    state: &AppState,
    scope: &Scope,
    case: &case::Model,
) -> AppResult<Vec<audit_event::Model>> {
    let visible = visible_filing_ids(state, scope, case).await?;
    let mut query = audit_event::Entity::find()
        .filter(audit_event::Column::CaseId.eq(case.id))
        .order_by_asc(audit_event::Column::Seq);
    if let Some(condition) = visible_filter(scope, &visible) {
        query = query.filter(condition);
    }
    Ok(query.all(&state.db).await?)
}

#[tracing::instrument(skip_all, fields(case = %case.id))]
pub async fn comments_of(
    state: &AppState,
    scope: &Scope,
    case: &case::Model,
) -> AppResult<Vec<comment::Model>> {
    let visible = visible_filing_ids(state, scope, case).await?;
    let mut query = comment::Entity::find()
        .filter(comment::Column::CaseId.eq(case.id))
        .order_by_asc(comment::Column::Id);
    if matches!(scope, Scope::Agency { .. }) {
        query = query.filter(
            Condition::any()
                .add(comment::Column::FilingId.is_null())
                .add(comment::Column::FilingId.is_in(visible)),
        );
    }
    Ok(query.all(&state.db).await?)
}

async fn visible_filing_ids(state: &AppState, scope: &Scope, case: &case::Model) -> AppResult<Vec<Uuid>> {
    Ok(filings_of(&state.db, case.id)
        .await?
        .into_iter()
        .filter(|f| scope.can_see_filing(case.merchant_id, f))
        .map(|f| f.id)
        .collect())
}
