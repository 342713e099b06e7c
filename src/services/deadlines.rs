//! The deadline sweeper: emails the assignee when a review deadline is one working day away,
//! and the supervisors of the filing's agency and region when it has passed — once each.
//! Rows are claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several instances never
//! notify twice; the mark and the email are one transaction.
//!
//! The sweep is a job (`Sweep`): one per slot of `ONESTOP_SWEEP_INTERVAL_SECS`, deduplicated
//! by its slot, so instances share it; each enqueues the next slot's before it works, so a
//! failed pass (retried) does not end the chain, and after a downtime the next sweep is the
//! current slot's, not every slot missed.

use entity::{case, filing, user};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, LockBehavior, LockType},
};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    error::AppResult,
    platform::{
        clock,
        jobs::{self, Job, JobContext, RetryPolicy},
        notify::{EmailKind, enqueue_email},
        state::AppState,
    },
    services::{auth::accounts, cases::email::staff_context, filings::overdue},
};

const BATCH: u64 = 100;

/// The sweep of one slot of the sweep interval.
#[derive(Serialize, Deserialize)]
pub struct Sweep {
    pub slot: i64,
}

impl Sweep {
    fn interval_ms(state: &AppState) -> i64 {
        i64::try_from(state.config.sweep_interval.as_millis()).unwrap_or(i64::MAX).max(1)
    }

    /// The slot `at` falls in.
    pub fn slot_of(state: &AppState, at: DateTime<Utc>) -> i64 {
        at.timestamp_millis().div_euclid(Self::interval_ms(state))
    }

    /// Enqueues the sweep of `slot` (at its start), once however often and wherever it is asked.
    pub async fn schedule<C: ConnectionTrait>(db: &C, state: &AppState, slot: i64) -> AppResult<()> {
        let run_at =
            DateTime::from_timestamp_millis(slot.saturating_mul(Self::interval_ms(state))).unwrap_or_else(clock::now);
        let key = format!("sweep:{slot}");
        jobs::enqueue(
            db,
            &Self { slot },
            jobs::Options { run_at: Some(run_at), dedupe_key: Some(&key), ..Default::default() },
        )
        .await?;
        Ok(())
    }

    /// At start-up: the current slot's sweep (done already if another instance ran it).
    pub async fn start(state: &AppState) -> AppResult<()> {
        Self::schedule(&state.db, state, Self::slot_of(state, state.clock.now())).await
    }
}

impl Job for Sweep {
    const KIND: &'static str = "sweep";

    fn policy(state: &AppState) -> RetryPolicy {
        let interval = state.config.sweep_interval;
        // Never parked: a parked sweep would end the chain (the next slot is enqueued by the run).
        RetryPolicy {
            base: interval.min(Duration::from_secs(10)),
            cap: interval,
            max_attempts: i32::MAX,
            lease: Duration::from_secs(300),
            parallel: 1,
        }
    }

    async fn run(self, context: JobContext) -> anyhow::Result<()> {
        let state = &context.state;
        Self::schedule(&state.db, state, Self::slot_of(state, state.clock.now()) + 1)
            .await
            .map_err(|e| anyhow::anyhow!(e.detail()))?;
        sweep(state).await.map_err(|e| anyhow::anyhow!(e.detail()))?;
        Ok(())
    }
}

/// How long finished jobs are kept (for `jobs(state: DONE)` and the dedupe keys of reminders).
const KEEP_FINISHED_JOBS_DAYS: i64 = 30;

/// One pass: reminders, overdue notices, then licence expiries; old idempotency keys and
/// finished jobs go. Returns how many emails were queued.
#[tracing::instrument(skip_all)]
pub async fn sweep(state: &AppState) -> AppResult<usize> {
    let sent = remind_assignees(state).await?
        + report_overdue(state).await?
        + crate::services::licences::expiry::sweep(state).await?;
    crate::platform::idempotency::purge(state).await?;
    jobs::purge_done(&state.db, state.clock.now() - chrono::Duration::days(KEEP_FINISHED_JOBS_DAYS)).await?;
    Ok(sent)
}

async fn remind_assignees(state: &AppState) -> AppResult<usize> {
    let now = state.clock.now();
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
        let Some(assignee) = user::Entity::find_by_id(f.assignee_id.unwrap_or_default()).one(&txn).await? else {
            continue;
        };
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
    let now = state.clock.now();
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
async fn notify(
    txn: &DatabaseTransaction,
    state: &AppState,
    to: &user::Model,
    case: &case::Model,
    f: &filing::Model,
    kind: EmailKind,
) -> AppResult<()> {
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
