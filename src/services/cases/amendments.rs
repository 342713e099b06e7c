//! Change cases (变更 / 延续 / 注销): a case whose filings each reference one of the merchant's
//! licences, to amend, renew or cancel it. They are reviewed like any case — same queues,
//! decision rules (which see `case.type`), audit, emails and webhooks — and their approval
//! changes the licence (`licences::change`).

use std::collections::BTreeSet;

use chrono::Datelike;
use entity::{
    case,
    enums::{CaseType, LicenceStatus},
    filing, licence, merchant,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter,
    QuerySelect, Set,
    sea_query::{Expr, ExprTrait, LockType, Query},
};
use uuid::Uuid;

use super::{
    Actor, CaseChange,
    creation::{allocate_reference, new_case, new_filing},
};
use crate::{
    domain::{
        FilingStatus,
        case_profile::{CaseProfile, CaseProfileInput},
    },
    error::{AppError, AppResult, Problems},
    platform::{clock, state::AppState},
    services::access::MerchantUser,
};

/// What a change case is for.
#[derive(Debug)]
pub struct ChangeRequest {
    pub licence_ids: Vec<Uuid>,
    pub case_type: CaseType,
    pub profile: Option<CaseProfileInput>,
}

/// Opens a change case of `request.case_type` for the merchant's licences: one DRAFT filing
/// per licence (amendments are filled in with `updateFiling`, validated like new filings;
/// renewals and cancellations need no data).
#[tracing::instrument(skip_all, fields(merchant = %merchant.merchant_id))]
pub async fn create_change_case(
    state: &AppState,
    merchant: MerchantUser<'_>,
    request: ChangeRequest,
) -> AppResult<case::Model> {
    let ids = distinct_ids(&request)?;
    let profile = request.profile.map(CaseProfile::parse).transpose()?;
    let holder = merchant::Entity::find_by_id(merchant.merchant_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::NotFound("merchant".into()))?;
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let licences = lock_licences(&txn, &ids, &merchant).await?;
    check_licences(state, &licences, request.case_type)?;
    refuse_open_changes(&txn, &ids).await?;
    let now = clock::now();
    let reference = allocate_reference(&txn, &holder.region_code, now.with_timezone(&clock::china()).year()).await?;
    let mut draft = new_case(&holder, reference, request.case_type, now);
    draft.profile = Set(profile.as_ref().map(serde_json::to_string).transpose().map_err(anyhow::Error::from)?);
    let case = draft.insert(&txn).await?;
    let mut filings = Vec::new();
    for l in &licences {
        let mut draft = new_filing(&case, &holder, l.kind, now);
        draft.licence_id = Set(Some(l.id));
        filings.push(draft.insert(&txn).await?);
    }
    let named: Vec<String> = licences.iter().map(|l| format!("{} {}", l.kind, l.number)).collect();
    let note = format!("{} of {}", request.case_type, named.join(", "));
    let mut change = CaseChange::adopt(state, txn, Actor::of(merchant.scope()), case, holder, filings);
    change.case_event("case.created", None, Some(&note)).await?;
    change.commit().await
}

fn distinct_ids(request: &ChangeRequest) -> AppResult<Vec<Uuid>> {
    if request.case_type == CaseType::New {
        return Err(AppError::validation("type", "NEW is not a change: open a new case with createCase"));
    }
    if request.licence_ids.is_empty() {
        return Err(AppError::validation("licenceIds", "name at least one licence"));
    }
    let unique: BTreeSet<Uuid> = request.licence_ids.iter().copied().collect();
    if unique.len() != request.licence_ids.len() {
        return Err(AppError::validation("licenceIds", "each licence may appear once"));
    }
    Ok(request.licence_ids.clone())
}

/// The licences, locked against a concurrent change (PostgreSQL; SQLite has one writer), in
/// the order given. Another merchant's licence, or (for an agent) one of a kind not granted, is
/// NOT_FOUND (one merchant per change case).
async fn lock_licences(
    txn: &DatabaseTransaction,
    ids: &[Uuid],
    filer: &MerchantUser<'_>,
) -> AppResult<Vec<licence::Model>> {
    let mut query = licence::Entity::find().filter(licence::Column::Id.is_in(ids.iter().copied()));
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock(LockType::Update);
    }
    let found = query.all(txn).await?;
    ids.iter()
        .map(|id| {
            found
                .iter()
                .find(|l| l.id == *id && l.merchant_id == filer.merchant_id && filer.allows(l.kind))
                .cloned()
                .ok_or_else(|| AppError::NotFound(format!("licence {id}")))
        })
        .collect()
}

/// Whether each licence may undergo this change, every problem named at once.
fn check_licences(state: &AppState, licences: &[licence::Model], case_type: CaseType) -> AppResult<()> {
    let mut problems = Problems::default();
    let mut kinds = BTreeSet::new();
    for (i, l) in licences.iter().enumerate() {
        let field = format!("licenceIds[{i}]");
        if !kinds.insert(l.kind) {
            problems.push(&field, format!("a change case holds one licence per kind; {} is named twice", l.kind));
        }
        let allowed: &[LicenceStatus] = match case_type {
            CaseType::Renewal => &[LicenceStatus::Active, LicenceStatus::Expired],
            CaseType::Cancellation => &[LicenceStatus::Active, LicenceStatus::Suspended, LicenceStatus::Expired],
            _ => &[LicenceStatus::Active],
        };
        if !allowed.contains(&l.status) {
            problems.push(&field, format!("{} {} is {}: it cannot be {}", l.kind, l.number, l.status, verb(case_type)));
        }
        if case_type == CaseType::Renewal && state.config.licence_validity.months(l.kind).is_none() {
            problems.push(&field, format!("{} licences do not expire: there is nothing to renew", l.kind));
        }
    }
    problems.finish(())
}

fn verb(case_type: CaseType) -> &'static str {
    match case_type {
        CaseType::Renewal => "renewed",
        CaseType::Cancellation => "cancelled",
        _ => "amended",
    }
}

/// CONFLICT when a licence already has a change case under way (a filing referencing it in a
/// change case that is not decided or withdrawn).
async fn refuse_open_changes(txn: &DatabaseTransaction, ids: &[Uuid]) -> AppResult<()> {
    let change_cases = Query::select()
        .column(case::Column::Id)
        .from(case::Entity)
        .and_where(Expr::col(case::Column::CaseType).ne(CaseType::New))
        .to_owned();
    let open = filing::Entity::find()
        .filter(filing::Column::LicenceId.is_in(ids.iter().copied()))
        .filter(filing::Column::CaseId.in_subquery(change_cases))
        .filter(filing::Column::Status.is_not_in([
            FilingStatus::Approved,
            FilingStatus::Rejected,
            FilingStatus::Withdrawn,
        ]))
        .one(txn)
        .await?;
    match open {
        Some(f) => Err(AppError::Conflict(format!(
            "the {} licence already has a change case under way; finish or withdraw that case first",
            f.kind
        ))),
        None => Ok(()),
    }
}
