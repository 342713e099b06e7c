//! The delivery worker: claims due deliveries (the oldest pending one per endpoint and filing,
//! so events of one filing arrive in order; `FOR UPDATE SKIP LOCKED` on PostgreSQL), POSTs
//! them signed, and records the outcome: delivered, retried with backoff, parked after 24 h,
//! or cancelled when the client was revoked or the endpoint disabled meanwhile.

use chrono::{DateTime, Duration, Utc};
use entity::{api_client, user, webhook_delivery, webhook_endpoint};
use futures_util::StreamExt;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Alias, Expr, ExprTrait, LockBehavior, LockType, Query},
};
use tokio::sync::watch;

use super::{BATCH, CANCELLED, DELIVERED, FAILED, GIVE_UP_AFTER_HOURS, PARALLEL_DELIVERIES, PENDING, REFUSED, check_url, destination, resolver, signature};
use crate::{
    error::{AppError, AppResult},
    platform::{
        clock,
        notify::{EmailKind, enqueue_email},
        state::AppState,
    },
};

pub async fn run_worker(state: AppState, mut shutdown: watch::Receiver<bool>) {
    // Names are resolved and checked at connect time by the guarded resolver; no redirects.
    let client = match resolver(&state).http_client(std::time::Duration::from_secs(10)) {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "webhook worker cannot start");
            return;
        }
    };
    loop {
        match deliver_due(&state, &client).await {
            Ok(n) if n as u64 == BATCH => continue,
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err.detail(), "webhook pass failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(state.config.webhooks.poll_interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Claims due deliveries (the oldest pending one per endpoint and filing, so events of one
/// filing arrive in order) and sends them.
async fn deliver_due(state: &AppState, http: &reqwest::Client) -> AppResult<usize> {
    let now = clock::now();
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let earlier = Alias::new("earlier");
    let mut query = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(PENDING))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .filter(
            Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from_as(webhook_delivery::Entity, earlier.clone())
                    .and_where(Expr::col((earlier.clone(), webhook_delivery::Column::EndpointId)).equals((webhook_delivery::Entity, webhook_delivery::Column::EndpointId)))
                    .and_where(Expr::col((earlier.clone(), webhook_delivery::Column::FilingId)).equals((webhook_delivery::Entity, webhook_delivery::Column::FilingId)))
                    .and_where(Expr::col((earlier.clone(), webhook_delivery::Column::Status)).eq(PENDING))
                    .and_where(Expr::col((earlier.clone(), webhook_delivery::Column::Id)).lt(Expr::col((webhook_delivery::Entity, webhook_delivery::Column::Id))))
                    .to_owned(),
            )
            .not(),
        )
        .order_by_asc(webhook_delivery::Column::Id)
        .limit(BATCH);
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let due = query.all(&txn).await?;
    // Lease: other workers skip these until the attempt is over.
    if !due.is_empty() {
        webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(now + Duration::seconds(60)))
            .filter(webhook_delivery::Column::Id.is_in(due.iter().map(|d| d.id)))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    // The batch holds at most one delivery per endpoint and filing (the oldest pending), so they
    // may go out side by side: one slow receiver does not hold up everyone else's.
    futures_util::stream::iter(&due)
        .for_each_concurrent(PARALLEL_DELIVERIES, |delivery| async move {
            // One delivery that cannot be recorded must not hold back the others of the batch.
            if let Err(err) = deliver(state, http, delivery).await {
                tracing::error!(delivery = %delivery.id, error = %err.detail(), "webhook delivery not recorded");
            }
        })
        .await;
    Ok(due.len())
}

async fn deliver(state: &AppState, http: &reqwest::Client, delivery: &webhook_delivery::Model) -> AppResult<()> {
    let Some(endpoint) = webhook_endpoint::Entity::find_by_id(delivery.endpoint_id).one(&state.db).await? else { return Ok(()) };
    let client = api_client::Entity::find_by_id(endpoint.client_row_id).one(&state.db).await?;
    if endpoint.disabled_at.is_some() || client.is_none_or(|c| c.revoked_at.is_some()) {
        return cancel(state, delivery).await;
    }
    let now = clock::now();
    match send(state, http, &endpoint, delivery, now.timestamp()).await? {
        Ok(status) => delivered(state, &endpoint, delivery, status, now).await,
        Err((status, error)) => {
            retry_later(state, delivery, status, error, now).await?;
            record_failure(state, &endpoint).await
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
            let outcome = request
                .body(delivery.payload.clone())
                .send()
                .await
                .map_err(|e| (None, transport_error(&e)))
                .and_then(|r| if r.status().is_success() { Ok(r.status().as_u16()) } else { Err((Some(r.status().as_u16()), format!("HTTP {}", r.status()))) });
            if let (Some(span), Err((_, error))) = (span.as_mut(), &outcome) {
                span.failed(error);
            }
            outcome
        }
    })
}

async fn delivered(state: &AppState, endpoint: &webhook_endpoint::Model, delivery: &webhook_delivery::Model, status: u16, now: DateTime<Utc>) -> AppResult<()> {
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

/// Exponential backoff (the base doubles per attempt, at most an hour) for 24 hours; then the
/// delivery is parked as failed.
async fn retry_later(state: &AppState, delivery: &webhook_delivery::Model, status: Option<u16>, error: String, now: DateTime<Utc>) -> AppResult<()> {
    let attempts = delivery.attempts + 1;
    let expired = delivery.created_at < now - Duration::hours(GIVE_UP_AFTER_HOURS);
    let base = state.config.webhooks.retry_base;
    let delay = base.saturating_mul(2u32.saturating_pow(attempts.clamp(0, 16) as u32 - 1)).min(std::time::Duration::from_secs(3600));
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(if expired { FAILED } else { PENDING }))
        .col_expr(webhook_delivery::Column::Attempts, Expr::value(attempts))
        .col_expr(webhook_delivery::Column::LastStatus, Expr::value(status.map(i32::from)))
        .col_expr(webhook_delivery::Column::LastError, Expr::value(error))
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(now + Duration::from_std(delay).unwrap_or(Duration::seconds(60))))
        .filter(webhook_delivery::Column::Id.eq(delivery.id))
        .exec(&state.db)
        .await?;
    Ok(())
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
        .col_expr(webhook_delivery::Column::LastError, Expr::value("not sent: the API client was revoked or the endpoint disabled"))
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

