//! The outbox worker: claims due messages, hands them to the mailer, records the outcome.
//!
//! A claim pushes `next_attempt_at` forward by a lease, inside a short transaction (with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL so several instances never claim the same row).
//! Sending happens outside any transaction; success marks the row `sent`, failure schedules a
//! retry with exponential backoff, and after `max_attempts` the message is parked as `failed`.
//! If the process dies mid-send, the lease expires and the message is tried again: nothing is
//! lost; a message is only sent twice if the process dies between SMTP's acceptance and the
//! `sent` mark, a window of one UPDATE.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use entity::outbox_message::{self, Entity as OutboxMessage};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::{Expr, ExprTrait, LockBehavior, LockType},
};
use tokio::sync::{Notify, watch};

use super::{EmailPayload, mailer::MailSender};
use crate::config::MailConfig;

pub const STATUS_PENDING: &str = "pending";
pub const STATUS_SENT: &str = "sent";
pub const STATUS_FAILED: &str = "failed";

const BATCH: u64 = 20;
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

pub struct OutboxWorker {
    pub db: DatabaseConnection,
    pub sender: MailSender,
    pub config: MailConfig,
    pub wakeup: Arc<Notify>,
}

impl OutboxWorker {
    /// Runs until `shutdown` flips to true. Wakes on the poll interval or when a service
    /// signals `wakeup` after committing new messages.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            match self.deliver_due().await {
                Ok(n) if n as u64 == BATCH => continue,
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "outbox pass failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                _ = self.wakeup.notified() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// One pass: claim due messages, send each, record the outcome. Returns how many it claimed.
    pub async fn deliver_due(&self) -> anyhow::Result<usize> {
        let claimed = self.claim().await?;
        for message in &claimed {
            self.deliver(message).await?;
        }
        Ok(claimed.len())
    }

    async fn claim(&self) -> anyhow::Result<Vec<outbox_message::Model>> {
        let now = Utc::now();
        let lease = chrono::Duration::from_std(self.config.lease.max(self.config.smtp_timeout + Duration::from_secs(1)))?;
        let txn = crate::platform::db::begin_write(&self.db).await?;
        let mut query = OutboxMessage::find()
            .filter(outbox_message::Column::Status.eq(STATUS_PENDING))
            .filter(outbox_message::Column::NextAttemptAt.lte(now))
            .order_by_asc(outbox_message::Column::NextAttemptAt)
            .limit(BATCH);
        if txn.get_database_backend() == DatabaseBackend::Postgres {
            query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = query.all(&txn).await?;
        if !rows.is_empty() {
            let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
            OutboxMessage::update_many()
                .col_expr(outbox_message::Column::NextAttemptAt, Expr::value(now + lease))
                .col_expr(
                    outbox_message::Column::Attempts,
                    Expr::col(outbox_message::Column::Attempts).add(1),
                )
                .filter(outbox_message::Column::Id.is_in(ids))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(rows)
    }

    async fn deliver(&self, message: &outbox_message::Model) -> anyhow::Result<()> {
        let attempts = message.attempts + 1;
        let outcome = match serde_json::from_str::<EmailPayload>(&message.payload) {
            Ok(payload) => self.sender.send(message.id, &payload).await,
            Err(e) => Err(anyhow::anyhow!("unreadable payload: {e}")),
        };
        let update = OutboxMessage::update_many().filter(outbox_message::Column::Id.eq(message.id));
        let update = match outcome {
            Ok(()) => {
                metrics::counter!("onestop_emails_sent_total").increment(1);
                update
                    .col_expr(outbox_message::Column::Status, Expr::value(STATUS_SENT))
                    .col_expr(outbox_message::Column::SentAt, Expr::value(Utc::now()))
                    .col_expr(outbox_message::Column::LastError, Expr::value(Option::<String>::None))
            }
            Err(err) if attempts >= self.config.max_attempts => {
                metrics::counter!("onestop_emails_failed_total").increment(1);
                tracing::error!(message_id = %message.id, attempts, error = %err, "email parked as failed");
                update
                    .col_expr(outbox_message::Column::Status, Expr::value(STATUS_FAILED))
                    .col_expr(outbox_message::Column::LastError, Expr::value(err.to_string()))
            }
            Err(err) => {
                let delay = backoff(self.config.retry_base, attempts);
                tracing::warn!(message_id = %message.id, attempts, retry_in_ms = delay.as_millis() as u64, error = %err, "email not sent, will retry");
                update
                    .col_expr(
                        outbox_message::Column::NextAttemptAt,
                        Expr::value(Utc::now() + chrono::Duration::from_std(delay)?),
                    )
                    .col_expr(outbox_message::Column::LastError, Expr::value(err.to_string()))
            }
        };
        update.exec(&self.db).await?;
        Ok(())
    }
}

/// `base · 2^(attempts−1)`, capped at one hour.
fn backoff(base: Duration, attempts: i32) -> Duration {
    let exp = attempts.saturating_sub(1).clamp(0, 20) as u32;
    base.saturating_mul(2u32.saturating_pow(exp)).min(MAX_BACKOFF)
}
