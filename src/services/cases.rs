//! Cases: creation with gap-free references, submission, withdrawal, comments, and the
//! queries that list and show them within the caller's scope.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Utc};
use entity::{audit_event, case, case_counter, comment, filing, merchant, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend,
    DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    services::access::Scope,
    services::audit::{self, NewEvent},
    platform::events,
    platform::clock,
    domain::{CaseStatus, FilingKind, FilingStatus, Transition},
    error::{AppError, AppResult},
    platform::notify::{EmailKind, enqueue_email},
    platform::pagination::{self, Page},
    platform::state::AppState,
};

/// Serialises writers of one case: every state change of a case (and its audit chain) takes
/// this row lock first. SQLite runs one writer at a time anyway.
pub async fn lock_case(txn: &DatabaseTransaction, case_id: Uuid) -> AppResult<()> {
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT id FROM cases WHERE id = $1 FOR UPDATE",
            [case_id.into()],
        ))
        .await?;
    }
    Ok(())
}

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

/// Creates a case with one DRAFT filing per kind.
pub async fn create_case(state: &AppState, scope: &Scope, kinds: Vec<FilingKind>) -> AppResult<case::Model> {
    let merchant_id = scope.own_merchant()?;
    let unique: BTreeSet<FilingKind> = kinds.iter().copied().collect();
    if kinds.is_empty() {
        return Err(AppError::validation("kinds", "choose at least one filing kind"));
    }
    if unique.len() != kinds.len() {
        return Err(AppError::validation("kinds", "each kind may appear once"));
    }
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let merchant = merchant::Entity::find_by_id(merchant_id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::NotFound("merchant".into()))?;
    if unique.contains(&FilingKind::Registration) && merchant.uscc.is_some() {
        return Err(AppError::validation(
            "kinds",
            "REGISTRATION is not needed: your USCC was verified here",
        ));
    }
    let now = clock::now();
    let reference = allocate_reference(&txn, &merchant.region_code, now.with_timezone(&chrono_tz_china()).year()).await?;
    let case = case::ActiveModel {
        id: Set(Uuid::now_v7()),
        reference: Set(reference),
        merchant_id: Set(merchant.id),
        region_code: Set(merchant.region_code.clone()),
        status: Set(CaseStatus::Draft),
        created_at: Set(now),
        submitted_at: Set(None),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    for kind in &unique {
        filing::ActiveModel {
            id: Set(Uuid::now_v7()),
            case_id: Set(case.id),
            kind: Set(*kind),
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
        .insert(&txn)
        .await?;
    }
    audit::append(
        &txn,
        NewEvent {
            case_id: case.id,
            actor_id: Some(scope.user_id()),
            via_client: scope.via_client(),
            action: "case.created",
            filing_id: None,
            from_status: None,
            to_status: None,
            note: Some(&unique.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",")),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(case)
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

/// Recomputes and stores the case status from its filings; returns (before, after).
pub async fn refresh_status(
    txn: &DatabaseTransaction,
    case: &case::Model,
) -> AppResult<(CaseStatus, CaseStatus)> {
    let statuses = filings_of(txn, case.id)
        .await?
        .iter()
        .map(|f| f.status)
        .collect::<Vec<_>>();
    let before = case.status;
    let after = CaseStatus::derive(&statuses);
    case::Entity::update_many()
        .col_expr(case::Column::Status, Expr::value(after.as_str()))
        .col_expr(case::Column::UpdatedAt, Expr::value(clock::now()))
        .filter(case::Column::Id.eq(case.id))
        .exec(txn)
        .await?;
    Ok((before, after))
}

/// One line per filing in a case email.
pub fn filing_line(f: &filing::Model) -> serde_json::Value {
    let kind = f.kind.name_zh();
    json!({
        "name_zh": kind,
        "kind": f.kind,
        "status": f.status,
        "due_at": f.due_at.map(|d| d.with_timezone(&chrono_tz_china()).format("%Y-%m-%d %H:%M").to_string()),
    })
}

/// Queues an email about a case to the merchant's contact address.
pub async fn email_merchant(
    txn: &DatabaseTransaction,
    state: &AppState,
    merchant: &merchant::Model,
    case: &case::Model,
    kind: EmailKind,
    filings: &[&filing::Model],
    note: Option<&str>,
    certificate_number: Option<&str>,
) -> AppResult<()> {
    let first = filings.first();
    enqueue_email(
        txn,
        &state.templates,
        &merchant.contact_email,
        kind,
        json!({
            "display_name": merchant.name,
            "reference": case.reference,
            "filings": filings.iter().map(|f| filing_line(f)).collect::<Vec<_>>(),
            "filing_zh": first.and_then(|f| Some(f.kind)).map(|k| k.name_zh()),
            "filing_kind": first.map(|f| f.kind.clone()),
            "note": note,
            "certificate_number": certificate_number,
            "link": format!("{}/cases/{}", state.config.public_base_url, case.id),
        }),
    )
    .await
}

/// Submits every DRAFT filing of the caller's case at once.
pub async fn submit_case(state: &AppState, scope: &Scope, case_id: Uuid) -> AppResult<case::Model> {
    let case = find_visible(&state.db, scope, case_id).await?;
    let merchant_id = scope.own_merchant()?;
    let user = user::Entity::find_by_id(scope.user_id())
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::Unauthenticated("the account no longer exists".into()))?;
    if user.email_verified_at.is_none() {
        return Err(AppError::validation("email", "verify your email address before submitting"));
    }
    let txn = crate::platform::db::begin_write(&state.db).await?;
    lock_case(&txn, case.id).await?;
    let merchant = merchant::Entity::find_by_id(merchant_id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::NotFound("merchant".into()))?;
    let filings = filings_of(&txn, case.id).await?;
    let drafts: Vec<&filing::Model> =
        filings.iter().filter(|f| f.status == FilingStatus::Draft).collect();
    if drafts.is_empty() {
        return Err(AppError::InvalidTransition("this case has nothing left to submit".into()));
    }
    let has_registration = filings.iter().any(|f| f.kind == FilingKind::Registration);
    let mut missing = Vec::new();
    for f in &drafts {
        let kind = f.kind;
        if f.data.is_none() {
            missing.push(crate::error::FieldError::new(
                format!("filings.{}.data", kind.as_str()),
                "is missing: fill this filing in (updateFiling) before submitting",
            ));
        }
        if kind == FilingKind::Registration && merchant.uscc.is_some() {
            missing.push(crate::error::FieldError::new(
                "filings.REGISTRATION",
                "is not needed: your USCC was verified here; withdraw this case and file without it",
            ));
        }
        if kind.needs_uscc() && !has_registration && merchant.known_uscc().is_none() {
            missing.push(crate::error::FieldError::new(
                format!("filings.{}.uscc", kind.as_str()),
                "needs your USCC: give it in the profile or add a REGISTRATION filing",
            ));
        }
    }
    if !missing.is_empty() {
        return Err(AppError::Validation(missing));
    }

    let now = clock::now();
    let mut submitted = Vec::new();
    let mut staged = Vec::new();
    for f in drafts {
        let kind = f.kind;
        let due = state.config.calendar.add_working_days(now, state.config.review_days.for_kind(kind));
        let mut active: filing::ActiveModel = f.clone().into();
        active.status = Set(FilingStatus::Submitted);
        active.version = Set(f.version + 1);
        active.submitted_at = Set(Some(now));
        active.due_at = Set(Some(due));
        active.updated_at = Set(now);
        if let Some(known) = merchant.known_uscc().filter(|_| kind.needs_uscc()) {
            active.uscc = Set(Some(known.to_string()));
        }
        // A registration verifies the code declared now: the officer sees it on the filing,
        // and it is the code the approval verifies (the profile cannot change it meanwhile).
        if kind == FilingKind::Registration {
            active.uscc = Set(merchant.declared_uscc.clone());
        }
        let updated = active.update(&txn).await?;
        let event = audit::append(
            &txn,
            NewEvent {
                case_id: case.id,
                actor_id: Some(scope.user_id()),
                via_client: scope.via_client(),
                action: Transition::Submit.action(),
                filing_id: Some(f.id),
                from_status: Some(FilingStatus::Draft),
                to_status: Some(FilingStatus::Submitted),
                note: None,
            },
        )
        .await?;
        staged.extend(events::stage(&txn, change(&case, &updated, &event)).await?);
        submitted.push(updated);
    }
    case::Entity::update_many()
        .col_expr(case::Column::SubmittedAt, Expr::value(case.submitted_at.unwrap_or(now)))
        .filter(case::Column::Id.eq(case.id))
        .exec(&txn)
        .await?;
    refresh_status(&txn, &case).await?;
    let lines: Vec<&filing::Model> = submitted.iter().collect();
    email_merchant(&txn, state, &merchant, &case, EmailKind::CaseSubmitted, &lines, None, None).await?;
    let case = case::Entity::find_by_id(case.id).one(&txn).await?.ok_or_else(|| AppError::NotFound("case".into()))?;
    txn.commit().await?;
    state.events.publish(staged);
    state.outbox_wakeup.notify_one();
    Ok(case)
}

/// Withdraws every filing not yet decided, while nothing is approved.
pub async fn withdraw_case(state: &AppState, scope: &Scope, case_id: Uuid) -> AppResult<case::Model> {
    let case = find_visible(&state.db, scope, case_id).await?;
    scope.own_merchant()?;
    let txn = crate::platform::db::begin_write(&state.db).await?;
    lock_case(&txn, case.id).await?;
    let filings = filings_of(&txn, case.id).await?;
    if filings.iter().any(|f| f.status == FilingStatus::Approved) {
        return Err(AppError::InvalidTransition(
            "a case with an approved filing cannot be withdrawn".into(),
        ));
    }
    let now = clock::now();
    let mut withdrawn = 0;
    let mut staged = Vec::new();
    for f in &filings {
        let from = f.status;
        if from.is_final() {
            continue;
        }
        let to = Transition::Withdraw.apply(from)?;
        let mut active: filing::ActiveModel = f.clone().into();
        active.status = Set(to);
        active.version = Set(f.version + 1);
        active.updated_at = Set(now);
        let updated = active.update(&txn).await?;
        let event = audit::append(
            &txn,
            NewEvent {
                case_id: case.id,
                actor_id: Some(scope.user_id()),
                via_client: scope.via_client(),
                action: Transition::Withdraw.action(),
                filing_id: Some(f.id),
                from_status: Some(from),
                to_status: Some(to),
                note: None,
            },
        )
        .await?;
        staged.extend(events::stage(&txn, change(&case, &updated, &event)).await?);
        withdrawn += 1;
    }
    if withdrawn == 0 {
        return Err(AppError::InvalidTransition("nothing in this case can be withdrawn".into()));
    }
    refresh_status(&txn, &case).await?;
    let case = case::Entity::find_by_id(case.id).one(&txn).await?.ok_or_else(|| AppError::NotFound("case".into()))?;
    txn.commit().await?;
    state.events.publish(staged);
    Ok(case)
}

fn change(case: &case::Model, filing: &filing::Model, event: &audit_event::Model) -> events::FilingChange {
    events::FilingChange {
        filing_id: filing.id,
        case_id: case.id,
        merchant_id: case.merchant_id,
        agency: filing.agency.clone(),
        region_code: filing.region_code.clone(),
        action: event.action.clone(),
        at: event.at,
    }
}

/// A comment on a case, or on one filing of it. Admins read but do not take part.
pub async fn add_comment(
    state: &AppState,
    scope: &Scope,
    case_id: Uuid,
    filing_id: Option<Uuid>,
    body: &str,
) -> AppResult<comment::Model> {
    let body = crate::domain::identifiers::text("body", body, 5000, true)?;
    let case = find_visible(&state.db, scope, case_id).await?;
    if matches!(scope, Scope::Admin { .. }) {
        return Err(AppError::Forbidden("administrators read cases but do not comment".into()));
    }
    if let Some(fid) = filing_id {
        let filing = filing::Entity::find_by_id(fid)
            .filter(filing::Column::CaseId.eq(case.id))
            .one(&state.db)
            .await?
            .filter(|f| scope.can_see_filing(case.merchant_id, f))
            .ok_or_else(|| AppError::NotFound("filing".into()))?;
        let _ = filing;
    }
    let txn = crate::platform::db::begin_write(&state.db).await?;
    lock_case(&txn, case.id).await?;
    let saved = comment::ActiveModel {
        id: Set(Uuid::now_v7()),
        case_id: Set(case.id),
        filing_id: Set(filing_id),
        author_id: Set(scope.user_id()),
        body: Set(body.clone()),
        created_at: Set(clock::now()),
    }
    .insert(&txn)
    .await?;
    audit::append(
        &txn,
        NewEvent {
            case_id: case.id,
            actor_id: Some(scope.user_id()),
            via_client: scope.via_client(),
            action: "comment.added",
            filing_id,
            from_status: None,
            to_status: None,
            note: Some(&body),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

/// The caller's cases (newest first), optionally of one status and/or one merchant.
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

/// Whether a filing waiting on an agency is past its deadline.
pub fn is_overdue(f: &filing::Model, now: DateTime<Utc>) -> bool {
    f.status.is_pending_review()
        && f.due_at.is_some_and(|due| due < now)
}
