//! The deadline sweeper: emails the assignee when a review deadline is one working day away,
//! and the supervisors of the filing's agency and region when it has passed — once each.
//! Rows are claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several instances never
//! notify twice; the mark and the email are one transaction.

use entity::{case, filing, user};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, LockBehavior, LockType},
};
use tokio::sync::watch;

use crate::{
    services::cases::filing_line,
    platform::clock,
    domain::FilingStatus,
    error::AppResult,
    platform::notify::{EmailKind, enqueue_email},
    platform::state::AppState,
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

fn pending_review() -> Condition {
    Condition::all().add(filing::Column::Status.is_in([FilingStatus::Submitted.as_str(), FilingStatus::UnderReview.as_str()]))
}

/// One pass: reminders, then overdue notices. Returns how many emails were queued.
pub async fn sweep(state: &AppState) -> AppResult<usize> {
    let sent = remind_assignees(state).await? + report_overdue(state).await?;
    crate::platform::idempotency::purge(state).await?;
    Ok(sent)
}

async fn remind_assignees(state: &AppState) -> AppResult<usize> {
    let now = clock::now();
    // Deadlines within the longest holiday stretch are candidates; the calendar decides.
    let horizon = now + chrono::Duration::days(15);
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let mut query = filing::Entity::find()
        .filter(pending_review())
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
        let reference = case::Entity::find_by_id(f.case_id).one(&txn).await?.map(|c| c.reference).unwrap_or_default();
        enqueue_email(
            &txn,
            &state.templates,
            &assignee.email,
            EmailKind::DeadlineApproaching,
            serde_json::json!({
                "display_name": assignee.display_name,
                "reference": reference,
                "filings": [filing_line(&f)],
                "link": format!("{}/filings/{}", state.config.public_base_url, f.id),
            }),
        )
        .await?;
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
        .filter(pending_review())
        .filter(filing::Column::OverdueNotifiedAt.is_null())
        .filter(filing::Column::DueAt.lt(now))
        .limit(BATCH);
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let mut sent = 0;
    for f in query.all(&txn).await? {
        let reference = case::Entity::find_by_id(f.case_id).one(&txn).await?.map(|c| c.reference).unwrap_or_default();
        let agency = f.agency;
        let supervisors = crate::services::auth::accounts::supervisors_of(&txn, agency, &[f.region_code.as_str()]).await?;
        for supervisor in &supervisors {
            enqueue_email(
                &txn,
                &state.templates,
                &supervisor.email,
                EmailKind::DeadlinePassed,
                serde_json::json!({
                    "display_name": supervisor.display_name,
                    "reference": reference,
                    "filings": [filing_line(&f)],
                    "link": format!("{}/filings/{}", state.config.public_base_url, f.id),
                }),
            )
            .await?;
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

async fn mark(txn: &sea_orm::DatabaseTransaction, id: uuid::Uuid, column: filing::Column) -> AppResult<()> {
    filing::Entity::update_many()
        .col_expr(column, Expr::value(clock::now()))
        .filter(filing::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}
