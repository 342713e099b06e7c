//! Background work, once: every kind of job is a row of `jobs`, enqueued in the transaction of
//! the change that causes it (a change that rolls back enqueues nothing), claimed by one runner
//! per instance under a lease (`runner`), retried with one backoff rule, parked after its
//! kind's number of attempts.
//!
//! A job may be scheduled (`run_at`), carry a unique dedupe key (enqueued once however often a
//! sweep asks, on any instance) and an ordering key (jobs with the same key run one at a time,
//! in the order they were enqueued), and be cancelled or rescheduled while it waits.
//!
//! Why not a crate: the queues that enqueue in the caller's transaction (sqlxmq, graphile_worker,
//! underway) are PostgreSQL-only, and the one that also speaks SQLite (riverqueue, 0.1) takes
//! its own sqlx transaction — a sea-orm `DatabaseTransaction` cannot hand over its connection —
//! so the change's rows and its jobs could not commit together. The table and its claim are a
//! few statements of SQL on both databases.

pub mod admin;
pub mod runner;

use std::{collections::HashMap, future::Future, pin::Pin, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use entity::{enums::JobStatus, job};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, OnConflict},
};
use serde::{Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::{
    error::AppResult,
    platform::{clock, notify::mailer::MailSender, state::AppState},
};

/// How a kind of job is retried: `base · 2^(attempt−1)`, at most `cap`, parked after
/// `max_attempts` runs; `lease`: how long a runner holds a claimed job before another may take it
/// (longer than one run can take); `parallel`: how many run at once.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    pub max_attempts: i32,
    pub lease: Duration,
    /// Jobs of this kind run side by side in one pass (1: one at a time — an email runner killed
    /// mid-send then repeats at most one message).
    pub parallel: usize,
}

impl RetryPolicy {
    /// The wait before the next run after `attempts` failed runs.
    pub fn backoff(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(0);
        self.base.saturating_mul(2u32.saturating_pow(exponent)).min(self.cap)
    }
}

/// What a job's run may use.
#[derive(Clone)]
pub struct JobContext {
    pub state: AppState,
    pub mail: Arc<MailSender>,
    /// For webhook deliveries: resolves through the destination guard, follows no redirect.
    pub webhooks: reqwest::Client,
    /// The job's id (an email's Message-ID).
    pub job_id: Uuid,
    /// Which run this is (1 for the first).
    pub attempt: i32,
}

/// A kind of background work; the value is the job's payload, stored as JSON.
pub trait Job: Serialize + DeserializeOwned + Send + 'static {
    /// The stored kind, e.g. `email`.
    const KIND: &'static str;
    fn policy(state: &AppState) -> RetryPolicy;
    /// Does the work; an error is retried (or parks the job after its last attempt).
    fn run(self, context: JobContext) -> impl Future<Output = anyhow::Result<()>> + Send;
}

type Run = Arc<dyn Fn(JobContext, &str) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>> + Send + Sync>;
/// A kind's retry rule, read from the configuration.
type Policy = fn(&AppState) -> RetryPolicy;

/// Every kind the runner knows, with its run and its retry rule.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: HashMap<&'static str, (Run, Policy)>,
}

impl Registry {
    /// The kinds of this version of onestop.
    pub fn standard() -> Self {
        let mut registry = Self::default();
        registry.register::<crate::platform::notify::SendEmail>();
        registry.register::<crate::services::deadlines::Sweep>();
        registry.register::<crate::services::webhooks::DeliverWebhook>();
        registry
    }

    pub fn register<J: Job>(&mut self) {
        let run: Run = Arc::new(|context, payload| match serde_json::from_str::<J>(payload) {
            Ok(job) => Box::pin(job.run(context)),
            Err(e) => Box::pin(std::future::ready(Err(anyhow::anyhow!("unreadable payload: {e}")))),
        });
        self.kinds.insert(J::KIND, (run, J::policy));
    }

    fn get(&self, kind: &str) -> Option<&(Run, Policy)> {
        self.kinds.get(kind)
    }

    /// The kinds it runs: a runner claims only those (a kind a newer instance enqueued waits
    /// for an instance that knows it).
    fn kinds(&self) -> Vec<&'static str> {
        self.kinds.keys().copied().collect()
    }
}

/// How a job is enqueued beyond its payload.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options<'a> {
    /// Its id (default: a new one).
    pub id: Option<Uuid>,
    /// When it may run (default: now).
    pub run_at: Option<DateTime<Utc>>,
    pub dedupe_key: Option<&'a str>,
    pub ordering_key: Option<&'a str>,
}

/// Adds `job` to the queue on `db` (pass the transaction of the change that causes it). `None`
/// when a job with the same dedupe key is already there (done or not): nothing is added.
pub async fn enqueue<J: Job, C: ConnectionTrait>(db: &C, job: &J, options: Options<'_>) -> AppResult<Option<Uuid>> {
    let id = options.id.unwrap_or_else(Uuid::now_v7);
    let now = clock::now();
    let row = job::ActiveModel {
        id: Set(id),
        kind: Set(J::KIND.to_string()),
        payload: Set(serde_json::to_string(job).map_err(anyhow::Error::from)?),
        state: Set(JobStatus::Queued),
        run_at: Set(options.run_at.unwrap_or(now)),
        attempts: Set(0),
        lease_until: Set(None),
        last_error: Set(None),
        dedupe_key: Set(options.dedupe_key.map(str::to_string)),
        ordering_key: Set(options.ordering_key.map(str::to_string)),
        created_at: Set(now),
        finished_at: Set(None),
    };
    let inserted = job::Entity::insert(row)
        .on_conflict(OnConflict::column(job::Column::DedupeKey).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok((inserted > 0).then_some(id))
}

/// Which waiting jobs a cancel or reschedule touches.
#[derive(Clone, Copy, Debug)]
pub enum Waiting<'a> {
    Id(Uuid),
    /// Every job whose dedupe key starts with this (`licence:<id>:` for a licence's reminders).
    DedupePrefix(&'a str),
    Ordering(&'a str),
}

impl Waiting<'_> {
    fn condition(self) -> sea_orm::Condition {
        let which = match self {
            Self::Id(id) => job::Column::Id.eq(id),
            Self::DedupePrefix(prefix) => job::Column::DedupeKey.starts_with(prefix),
            Self::Ordering(key) => job::Column::OrderingKey.eq(key),
        };
        sea_orm::Condition::all().add(which).add(job::Column::State.eq(JobStatus::Queued))
    }
}

/// Removes the waiting (QUEUED) jobs `which` names, in the caller's transaction; running ones
/// finish. How many were removed.
pub async fn cancel<C: ConnectionTrait>(db: &C, which: Waiting<'_>) -> AppResult<u64> {
    Ok(job::Entity::delete_many().filter(which.condition()).exec(db).await?.rows_affected)
}

/// Moves the waiting jobs `which` names to `run_at`. How many moved.
pub async fn reschedule<C: ConnectionTrait>(db: &C, which: Waiting<'_>, run_at: DateTime<Utc>) -> AppResult<u64> {
    Ok(job::Entity::update_many()
        .col_expr(job::Column::RunAt, Expr::value(run_at))
        .filter(which.condition())
        .exec(db)
        .await?
        .rows_affected)
}

/// Removes DONE jobs finished before `before` (the sweep keeps the table small); how many.
pub async fn purge_done<C: ConnectionTrait>(db: &C, before: DateTime<Utc>) -> AppResult<u64> {
    Ok(job::Entity::delete_many()
        .filter(job::Column::State.eq(JobStatus::Done))
        .filter(job::Column::FinishedAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}

/// Runs every job that is due now on this instance's runner and the ones they enqueue, until
/// none is left; how many ran. For tests and tools (`run_pending_jobs`), never the request path.
pub async fn run_pending(state: &AppState, mail: Arc<MailSender>) -> AppResult<usize> {
    runner::JobRunner::new(state.clone(), mail, Registry::standard())?.drain().await
}
