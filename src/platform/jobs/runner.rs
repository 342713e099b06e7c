//! The runner: one per instance. A claim takes due jobs in a short transaction — `FOR UPDATE
//! SKIP LOCKED` on PostgreSQL so instances never take the same row, the write lock (`BEGIN
//! IMMEDIATE`) on SQLite — and marks them RUNNING under their kind's lease; each runs outside
//! any transaction and its outcome is written after. A job whose runner died is taken again
//! when its lease runs out: nothing is lost, and a job is run twice only if its runner dies
//! between the work and the outcome's write.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use entity::{enums::JobStatus, job};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Alias, Expr, ExprTrait, LockBehavior, LockType, Query},
};
use tokio::sync::watch;

use super::{JobContext, Registry, RetryPolicy};
use crate::{
    error::AppResult,
    platform::{notify::mailer::MailSender, state::AppState},
};

/// Jobs taken by one claim.
const BATCH: u64 = 20;

pub struct JobRunner {
    state: AppState,
    mail: Arc<MailSender>,
    webhooks: reqwest::Client,
    registry: Registry,
}

impl JobRunner {
    pub fn new(state: AppState, mail: Arc<MailSender>, registry: Registry) -> anyhow::Result<Self> {
        let webhooks = crate::services::webhooks::http_client(&state)?;
        Ok(Self { state, mail, webhooks, registry })
    }

    /// Runs until `shutdown` flips to true: due jobs at once, then again on the poll interval
    /// or when a commit that enqueued signals the wakeup.
    pub async fn run(self, poll: Duration, mut shutdown: watch::Receiver<bool>) {
        loop {
            match self.run_due().await {
                Ok(n) if n as u64 == BATCH => continue,
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err.detail(), "job pass failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = self.state.outbox_wakeup.notified() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// Runs due jobs until none is left (what they enqueue included); how many ran.
    pub async fn drain(&self) -> AppResult<usize> {
        let mut total = 0;
        loop {
            let ran = self.run_due().await?;
            total += ran;
            if ran == 0 {
                return Ok(total);
            }
        }
    }

    /// One pass: claims due jobs and runs them — the kinds side by side, each kind's as many
    /// at once as its policy allows (one slow webhook receiver does not hold up the others'; a
    /// claim never holds two jobs of one ordering key); how many it claimed.
    pub async fn run_due(&self) -> AppResult<usize> {
        use futures_util::StreamExt;
        let claimed = self.claim().await?;
        let mut by_kind: std::collections::BTreeMap<&str, Vec<&job::Model>> = Default::default();
        for job in &claimed {
            by_kind.entry(job.kind.as_str()).or_default().push(job);
        }
        let kinds = by_kind.into_iter().map(|(kind, jobs)| async move {
            let parallel = self.registry.get(kind).map(|(_, policy)| policy(&self.state).parallel).unwrap_or(1).max(1);
            futures_util::stream::iter(jobs)
                .for_each_concurrent(parallel, |job| async move {
                    // An outcome not written is retried when the lease ends; the others go on.
                    if let Err(err) = self.run_one(job).await {
                        tracing::error!(job_id = %job.id, kind = %job.kind, error = %err.detail(), "job outcome not recorded");
                    }
                })
                .await;
        });
        futures_util::future::join_all(kinds).await;
        Ok(claimed.len())
    }

    async fn claim(&self) -> AppResult<Vec<job::Model>> {
        let now = self.state.clock.now();
        let txn = crate::platform::db::begin_write(&self.state.db).await?;
        let due = Condition::any()
            .add(Condition::all().add(job::Column::State.eq(JobStatus::Queued)).add(job::Column::RunAt.lte(now)))
            .add(Condition::all().add(job::Column::State.eq(JobStatus::Running)).add(job::Column::LeaseUntil.lte(now)));
        let mut query = job::Entity::find()
            .filter(due)
            .filter(job::Column::Kind.is_in(self.registry.kinds()))
            .filter(
                Condition::any().add(job::Column::OrderingKey.is_null()).add(Expr::exists(earlier_unfinished()).not()),
            )
            .order_by_asc(job::Column::RunAt)
            .order_by_asc(job::Column::Id)
            .limit(BATCH);
        if txn.get_database_backend() == DatabaseBackend::Postgres {
            query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = query.all(&txn).await?;
        for row in &rows {
            let Some((_, policy)) = self.registry.get(&row.kind) else { continue };
            let lease = chrono::Duration::from_std(policy(&self.state).lease).map_err(anyhow::Error::from)?;
            job::Entity::update_many()
                .col_expr(job::Column::State, Expr::value(JobStatus::Running))
                .col_expr(job::Column::LeaseUntil, Expr::value(now + lease))
                .col_expr(job::Column::Attempts, Expr::col(job::Column::Attempts).add(1))
                .filter(job::Column::Id.eq(row.id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(rows)
    }

    /// Runs a claimed job and writes its outcome — only while the claim is still its own (the
    /// same attempt, still RUNNING): a runner that overran its lease does not overwrite the
    /// next runner's outcome.
    async fn run_one(&self, claimed: &job::Model) -> AppResult<()> {
        let Some((run, policy)) = self.registry.get(&claimed.kind) else { return Ok(()) };
        let policy = policy(&self.state);
        let attempts = claimed.attempts + 1;
        // The lease was stamped at the claim; a job that waited in this batch behind others of
        // its kind renews it now, and one whose lease ran out meanwhile (another runner may have
        // taken it) is not run here.
        if !self.renew_lease(claimed, attempts, &policy).await? {
            tracing::warn!(job_id = %claimed.id, kind = %claimed.kind, "job's lease ran out before it started; left to its next claim");
            return Ok(());
        }
        let context = JobContext {
            state: self.state.clone(),
            mail: self.mail.clone(),
            webhooks: self.webhooks.clone(),
            job_id: claimed.id,
            attempt: attempts,
        };
        let outcome = run(context, &claimed.payload).await;
        self.record_outcome(claimed, attempts, &policy, outcome).await
    }

    /// Renews the claim's lease; false when it is no longer this runner's claim.
    async fn renew_lease(&self, claimed: &job::Model, attempts: i32, policy: &RetryPolicy) -> AppResult<bool> {
        let lease = chrono::Duration::from_std(policy.lease).map_err(anyhow::Error::from)?;
        let renewed = job::Entity::update_many()
            .col_expr(job::Column::LeaseUntil, Expr::value(self.state.clock.now() + lease))
            .filter(job::Column::Id.eq(claimed.id))
            .filter(job::Column::State.eq(JobStatus::Running))
            .filter(job::Column::Attempts.eq(attempts))
            .filter(job::Column::LeaseUntil.gt(self.state.clock.now()))
            .exec(&self.state.db)
            .await?;
        Ok(renewed.rows_affected > 0)
    }

    /// DONE, PARKED after the last attempt, or QUEUED again after the policy's backoff.
    async fn record_outcome(
        &self,
        claimed: &job::Model,
        attempts: i32,
        policy: &RetryPolicy,
        outcome: anyhow::Result<()>,
    ) -> AppResult<()> {
        let ours = job::Entity::update_many()
            .filter(job::Column::Id.eq(claimed.id))
            .filter(job::Column::State.eq(JobStatus::Running))
            .filter(job::Column::Attempts.eq(attempts));
        let now = self.state.clock.now();
        let update = match outcome {
            Ok(()) => {
                metrics::counter!("onestop_jobs_finished_total", "kind" => claimed.kind.clone(), "outcome" => "done")
                    .increment(1);
                ours.col_expr(job::Column::State, Expr::value(JobStatus::Done))
                    .col_expr(job::Column::FinishedAt, Expr::value(now))
                    .col_expr(job::Column::LastError, Expr::value(Option::<String>::None))
            }
            Err(err) if attempts >= policy.max_attempts => {
                metrics::counter!("onestop_jobs_finished_total", "kind" => claimed.kind.clone(), "outcome" => "parked")
                    .increment(1);
                tracing::error!(job_id = %claimed.id, kind = %claimed.kind, attempts, error = %err, "job parked after its last attempt");
                ours.col_expr(job::Column::State, Expr::value(JobStatus::Parked))
                    .col_expr(job::Column::FinishedAt, Expr::value(now))
                    .col_expr(job::Column::LastError, Expr::value(err.to_string()))
            }
            Err(err) => {
                let delay = policy.backoff(attempts);
                let retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                tracing::warn!(job_id = %claimed.id, kind = %claimed.kind, attempts, retry_in_ms, error = %err, "job failed; will retry");
                let run_at = now + chrono::Duration::from_std(delay).map_err(anyhow::Error::from)?;
                ours.col_expr(job::Column::State, Expr::value(JobStatus::Queued))
                    .col_expr(job::Column::RunAt, Expr::value(run_at))
                    .col_expr(job::Column::LastError, Expr::value(err.to_string()))
            }
        };
        update
            .col_expr(job::Column::LeaseUntil, Expr::value(Option::<chrono::DateTime<Utc>>::None))
            .exec(&self.state.db)
            .await?;
        Ok(())
    }
}

/// `SELECT 1 FROM jobs AS other WHERE other.ordering_key = jobs.ordering_key AND (other is
/// RUNNING, or other is QUEUED and was enqueued before)`: a job waits for those — a running one
/// whatever its time, since transactions may commit out of their clocks' order.
fn earlier_unfinished() -> sea_orm::sea_query::SelectStatement {
    let earlier = Alias::new("earlier");
    let this = |c: job::Column| Expr::col((job::Entity, c));
    let them = |c: job::Column| Expr::col((earlier.clone(), c));
    Query::select()
        .expr(Expr::val(1))
        .from_as(job::Entity, earlier.clone())
        .and_where(them(job::Column::OrderingKey).equals((job::Entity, job::Column::OrderingKey)))
        .and_where(them(job::Column::Id).ne(this(job::Column::Id)))
        .and_where(
            them(job::Column::State).eq(JobStatus::Running.as_str()).or(them(job::Column::State)
                .eq(JobStatus::Queued.as_str())
                .and(
                    them(job::Column::CreatedAt).lt(this(job::Column::CreatedAt)).or(them(job::Column::CreatedAt)
                        .eq(this(job::Column::CreatedAt))
                        .and(them(job::Column::Id).lt(this(job::Column::Id)))),
                )),
        )
        .to_owned()
}
