//! A delivery is a job (`DeliverWebhook`): enqueued with its row, in the change's transaction,
//! under the ordering key of its endpoint and filing, so events of one filing reach one
//! endpoint in order and a failing one holds the later ones back. A run POSTs it signed and
//! records the outcome on the delivery row: delivered; or failed and retried by the queue's
//! backoff (base `ONESTOP_WEBHOOK_RETRY_BASE_MS`, at most an hour) for 24 hours, then parked as
//! failed; or cancelled when the client was revoked or the endpoint disabled meanwhile.

use chrono::{DateTime, Duration, Utc};
use entity::{api_client, user, webhook_delivery, webhook_endpoint};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CANCELLED, DELIVERED, FAILED, GIVE_UP_AFTER_HOURS, PENDING, REFUSED, check_url, destination, signature};
use crate::{
    error::{AppError, AppResult},
    platform::{
        clock,
        jobs::{self, Job, JobContext, RetryPolicy},
        notify::{EmailKind, enqueue_email},
        state::AppState,
    },
};

/// One delivery to send.
#[derive(Serialize, Deserialize)]
pub struct DeliverWebhook {
    pub delivery_id: Uuid,
}

impl DeliverWebhook {
    /// Enqueues the delivery's job on `db` (the change's transaction), once per delivery.
    pub async fn enqueue<C: ConnectionTrait>(db: &C, delivery: &webhook_delivery::Model) -> AppResult<()> {
        let ordering = format!("webhook:{}:{}", delivery.endpoint_id, delivery.filing_id);
        let dedupe = format!("webhook:{}", delivery.id);
        let options = jobs::Options {
            run_at: Some(delivery.next_attempt_at),
            dedupe_key: Some(&dedupe),
            ordering_key: Some(&ordering),
            ..Default::default()
        };
        jobs::enqueue(db, &Self { delivery_id: delivery.id }, options).await?;
        Ok(())
    }

    /// At start-up: a job for every pending delivery staged before deliveries were jobs (once:
    /// the dedupe key), so none is lost across the upgrade.
    pub async fn adopt_pending(state: &AppState) -> AppResult<usize> {
        let pending = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::Status.eq(PENDING))
            .all(&state.db)
            .await?;
        for delivery in &pending {
            Self::enqueue(&state.db, delivery).await?;
        }
        Ok(pending.len())
    }
}

impl Job for DeliverWebhook {
    const KIND: &'static str = "webhook";

    fn policy(state: &AppState) -> RetryPolicy {
        // The 24-hour window ends the retries, not a count.
        RetryPolicy {
            base: state.config.webhooks.retry_base,
            cap: std::time::Duration::from_secs(3600),
            max_attempts: i32::MAX,
            lease: std::time::Duration::from_secs(60),
            parallel: 8,
        }
    }

    async fn run(self, context: JobContext) -> anyhow::Result<()> {
        let state = &context.state;
        let detail = |e: AppError| anyhow::anyhow!(e.detail());
        let Some(delivery) = webhook_delivery::Entity::find_by_id(self.delivery_id).one(&state.db).await? else {
            return Ok(());
        };
        if delivery.status != PENDING {
            return Ok(());
        }
        match deliver(state, &context.webhooks, &delivery).await.map_err(detail)? {
            None => Ok(()),
            Some(error) => Err(anyhow::anyhow!(error)),
        }
    }
}

/// Sends one delivery and records it; `Some(error)` when the queue should try again.
async fn deliver(
    state: &AppState,
    http: &reqwest::Client,
    delivery: &webhook_delivery::Model,
) -> AppResult<Option<String>> {
    let Some(endpoint) = webhook_endpoint::Entity::find_by_id(delivery.endpoint_id).one(&state.db).await? else {
        return Ok(None);
    };
    let client = api_client::Entity::find_by_id(endpoint.client_row_id).one(&state.db).await?;
    if endpoint.disabled_at.is_some() || client.is_none_or(|c| c.revoked_at.is_some()) {
        cancel(state, delivery).await?;
        return Ok(None);
    }
    let now = clock::now();
    match send(state, http, &endpoint, delivery, now.timestamp()).await? {
        Ok(status) => {
            delivered(state, &endpoint, delivery, status, now).await?;
            Ok(None)
        }
        Err((status, error)) => {
            let retried = failed(state, delivery, status, &error, now).await?;
            record_failure(state, &endpoint).await?;
            Ok(retried.then_some(error))
        }
    }
}

/// One signed POST: the receiver's status, or the status and error to log.
async fn send(
    state: &AppState,
    http: &reqwest::Client,
    endpoint: &webhook_endpoint::Model,
    delivery: &webhook_delivery::Model,
    timestamp: i64,
) -> AppResult<Result<u16, (Option<u16>, String)>> {
    // A secret that does not open (another ONESTOP_DATA_KEY) fails this delivery like a bad
    // receiver would, instead of stalling the whole batch.
    let secret = state.config.data_key.open(&endpoint.secret);
    Ok(match (check_url(state, &endpoint.url).await, secret) {
        (_, Err(_)) => Err((None, "the signing secret does not open with ONESTOP_DATA_KEY".to_string())),
        (Err(AppError::Validation(_)), _) => Err((None, format!("destination {REFUSED}"))),
        (Err(err), _) => return Err(err),
        (Ok(url), Ok(secret)) => {
            let mut request = http
                .post(url)
                .header("content-type", "application/json")
                .header("x-onestop-event-id", delivery.id.to_string())
                .header("x-onestop-event-type", delivery.event_type.as_str())
                .header("x-onestop-signature", signature(&secret, timestamp, &delivery.payload));
            // The trace of the request whose change this is, continued by the delivery's span.
            let mut span = None;
            if let Some(stored) = delivery.traceparent.as_deref() {
                let (outgoing, header) = crate::platform::telemetry::outgoing(stored);
                request = request.header("traceparent", header);
                span = Some(outgoing);
            }
            let outcome =
                request.body(delivery.payload.clone()).send().await.map_err(|e| (None, transport_error(&e))).and_then(
                    |r| {
                        if r.status().is_success() {
                            Ok(r.status().as_u16())
                        } else {
                            Err((Some(r.status().as_u16()), format!("HTTP {}", r.status())))
                        }
                    },
                );
            if let (Some(span), Err((_, error))) = (span.as_mut(), &outcome) {
                span.failed(error);
            }
            outcome
        }
    })
}

async fn delivered(
    state: &AppState,
    endpoint: &webhook_endpoint::Model,
    delivery: &webhook_delivery::Model,
    status: u16,
    now: DateTime<Utc>,
) -> AppResult<()> {
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(DELIVERED))
        .col_expr(webhook_delivery::Column::Attempts, Expr::value(delivery.attempts + 1))
        .col_expr(webhook_delivery::Column::LastStatus, Expr::value(i32::from(status)))
        .col_expr(webhook_delivery::Column::DeliveredAt, Expr::value(now))
        .filter(webhook_delivery::Column::Id.eq(delivery.id))
        .exec(&state.db)
        .await?;
    webhook_endpoint::Entity::update_many()
        .col_expr(webhook_endpoint::Column::ConsecutiveFailures, Expr::value(0))
        .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
        .exec(&state.db)
        .await?;
    Ok(())
}

/// Records a failed attempt: retried by the queue (the row shows when) for 24 hours, then
/// parked as failed. Whether it is retried.
async fn failed(
    state: &AppState,
    delivery: &webhook_delivery::Model,
    status: Option<u16>,
    error: &str,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    let attempts = delivery.attempts + 1;
    let expired = delivery.created_at < now - Duration::hours(GIVE_UP_AFTER_HOURS);
    let delay = DeliverWebhook::policy(state).backoff(attempts);
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(if expired { FAILED } else { PENDING }))
        .col_expr(webhook_delivery::Column::Attempts, Expr::value(attempts))
        .col_expr(webhook_delivery::Column::LastStatus, Expr::value(status.map(i32::from)))
        .col_expr(webhook_delivery::Column::LastError, Expr::value(error))
        .col_expr(
            webhook_delivery::Column::NextAttemptAt,
            Expr::value(now + Duration::from_std(delay).unwrap_or(Duration::seconds(60))),
        )
        .filter(webhook_delivery::Column::Id.eq(delivery.id))
        .exec(&state.db)
        .await?;
    Ok(!expired)
}

/// A transport failure as the delivery log shows it. A connection the checking resolver refused
/// reads like a refused registration (the details go to the log, not to the client).
fn transport_error(err: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(cause) = source {
        if cause.downcast_ref::<destination::Refusal>().is_some() {
            tracing::warn!(reason = %cause, "webhook connection refused by the destination check");
            return format!("destination {REFUSED}");
        }
        source = cause.source();
    }
    if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        "could not connect".into()
    } else {
        "request failed".into()
    }
}

/// A delivery queued before its client was revoked or its endpoint disabled is not sent.
async fn cancel(state: &AppState, delivery: &webhook_delivery::Model) -> AppResult<()> {
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(CANCELLED))
        .col_expr(
            webhook_delivery::Column::LastError,
            Expr::value("not sent: the API client was revoked or the endpoint disabled"),
        )
        .filter(webhook_delivery::Column::Id.eq(delivery.id))
        .filter(webhook_delivery::Column::Status.eq(PENDING))
        .exec(&state.db)
        .await?;
    Ok(())
}

/// Counts a failure; past the threshold the endpoint is disabled and its owner emailed, in
/// one transaction.
async fn record_failure(state: &AppState, endpoint: &webhook_endpoint::Model) -> AppResult<()> {
    let failures = endpoint.consecutive_failures + 1;
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let disable = failures >= state.config.webhooks.disable_after && endpoint.disabled_at.is_none();
    let mut update = webhook_endpoint::Entity::update_many()
        .col_expr(webhook_endpoint::Column::ConsecutiveFailures, Expr::value(failures))
        .filter(webhook_endpoint::Column::Id.eq(endpoint.id));
    if disable {
        update = update.col_expr(webhook_endpoint::Column::DisabledAt, Expr::value(clock::now()));
        let owner = match api_client::Entity::find_by_id(endpoint.client_row_id).one(&txn).await? {
            Some(client) => user::Entity::find_by_id(client.created_by).one(&txn).await?,
            None => None,
        };
        if let Some(owner) = owner {
            enqueue_email(
                &txn,
                &state.templates,
                &owner.email,
                EmailKind::WebhookDisabled,
                serde_json::json!({ "display_name": owner.display_name, "url": endpoint.url, "failures": failures }),
            )
            .await?;
        }
        tracing::warn!(endpoint = %endpoint.id, failures, "webhook endpoint disabled after repeated failures");
    }
    update.exec(&txn).await?;
    txn.commit().await?;
    if disable {
        state.outbox_wakeup.notify_one();
    }
    Ok(())
}
