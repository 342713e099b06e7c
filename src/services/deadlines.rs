//! The deadline sweeper: emails the assignee when a review deadline is one working day away,
//! and the supervisors of the filing's agency and region when it has passed — once each.
//! Rows are claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several instances never
//! notify twice; the mark and the email are one transaction.

use entity::{case, filing, user};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, LockBehavior, LockType},
};
use tokio::sync::watch;

use crate::{
    error::AppResult,
    platform::{
        clock,
        notify::{EmailKind, enqueue_email},
        state::AppState,
    },
    services::{auth::accounts, cases::email::staff_context, filings::overdue},
};

const BATCH: u64 = 100;

pub async fn run_sweeper(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        if let Err(err) = sweep(&state).await {
            tracing::warn!(error = %err.detail(), "deadline sweep failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(state.config.sweep_interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One pass: reminders, overdue notices, then licence expiries. Returns how many emails were
/// queued.
#[tracing::instrument(skip_all)]
pub async fn sweep(state: &AppState) -> AppResult<usize> {
    let sent = remind_assignees(state).await? + report_overdue(state).await? + crate::services::licences::expiry::sweep(state).await?;
    crate::platform::idempotency::purge(state).await?;
    Ok(sent)
}

async fn remind_assignees(state: &AppState) -> AppResult<usize> {
    let now = clock::now();
    // Deadlines within the longest holiday stretch are candidates; the calendar decides.
    let horizon = now + chrono::Duration::days(15);
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let mut query = filing::Entity::find()
        .filter(overdue::waiting_on_agency())
        .filter(filing::Column::AssigneeId.is_not_null())
        .filter(filing::Column::ReminderSentAt.is_null())
        .filter(filing::Column::DueAt.gt(now))
        .filter(filing::Column::DueAt.lte(horizon))
        .limit(BATCH);
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let one_day_ahead = state.config.calendar.add_working_days(now, 1);
    let mut sent = 0;
    for f in query.all(&txn).await? {
        if f.due_at.is_none_or(|due| due > one_day_ahead) {
            continue;
        }
        let Some(assignee) = user::Entity::find_by_id(f.assignee_id.unwrap_or_default()).one(&txn).await? else { continue };
        let Some(case) = case::Entity::find_by_id(f.case_id).one(&txn).await? else { continue };
        notify(&txn, state, &assignee, &case, &f, EmailKind::DeadlineApproaching).await?;
        mark(&txn, f.id, filing::Column::ReminderSentAt).await?;
        sent += 1;
    }
    txn.commit().await?;
    if sent > 0 {
        state.outbox_wakeup.notify_one();
    }
    Ok(sent)
}

async fn report_overdue(state: &AppState) -> AppResult<usize> {
    let now = clock::now();
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let mut query = filing::Entity::find()
        .filter(overdue::overdue_at(now))
        .filter(filing::Column::OverdueNotifiedAt.is_null())
        .limit(BATCH);
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let mut sent = 0;
    for f in query.all(&txn).await? {
        let Some(case) = case::Entity::find_by_id(f.case_id).one(&txn).await? else { continue };
        for supervisor in accounts::supervisors_of(&txn, f.agency, &[f.region_code.as_str()]).await? {
            notify(&txn, state, &supervisor, &case, &f, EmailKind::DeadlinePassed).await?;
            sent += 1;
        }
        mark(&txn, f.id, filing::Column::OverdueNotifiedAt).await?;
    }
    txn.commit().await?;
    if sent > 0 {
        state.outbox_wakeup.notify_one();
    }
    Ok(sent)
}

/// The staff email about a filing's deadline (the one staff payload, `cases::email`).
async fn notify(txn: &DatabaseTransaction, state: &AppState, to: &user::Model, case: &case::Model, f: &filing::Model, kind: EmailKind) -> AppResult<()> {
    enqueue_email(txn, &state.templates, &to.email, kind, staff_context(state, to, case, f, None)).await
}

async fn mark(txn: &sea_orm::DatabaseTransaction, id: uuid::Uuid, column: filing::Column) -> AppResult<()> {
    filing::Entity::update_many()
        .col_expr(column, Expr::value(clock::now()))
        .filter(filing::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}
