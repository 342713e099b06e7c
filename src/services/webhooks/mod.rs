//! Webhooks: filing events pushed to integrators' systems.
//!
//! Deliveries are rows written in the same transaction as the change (like the email outbox:
//! exactly-once hand-off), one per endpoint that may see the filing. A worker POSTs them as
//! JSON with `X-Onestop-Event-Id` (for deduplication) and `X-Onestop-Signature:
//! t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, in order per filing and endpoint,
//! retrying with exponential backoff for 24 h (at-least-once). An endpoint that keeps failing
//! is disabled and its owner emailed.

pub mod destination;

use chrono::Duration;
use entity::{api_client, user, webhook_delivery, webhook_endpoint};
use hmac::{Hmac, Mac};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
    sea_query::{Alias, Expr, ExprTrait, LockBehavior, LockType, Query},
};
use futures_util::StreamExt;
use sha2::Sha256;
use tokio::sync::watch;
use uuid::Uuid;

use self::destination::GuardedResolver;
use crate::{
    services::auth::{Caller, Need, tokens::random_token},
    platform::clock,
    config::Environment,
    error::{AppError, AppResult},
    platform::events::FilingChange,
    platform::notify::{EmailKind, enqueue_email},
    platform::state::AppState,
};

const PENDING: &str = "pending";
const DELIVERED: &str = "delivered";
const FAILED: &str = "failed";
/// Not sent: the client was revoked or the endpoint disabled after it was queued.
const CANCELLED: &str = "cancelled";
const BATCH: u64 = 20;
/// Deliveries of one batch in flight at once.
const PARALLEL_DELIVERIES: usize = 8;
const GIVE_UP_AFTER_HOURS: i64 = 24;

/// The API client behind an integrator's token, or FORBIDDEN.
fn client_of(caller: &Caller) -> AppResult<Uuid> {
    caller.require_scope(Need::Read)?;
    match caller {
        Caller::User(p) if p.client.is_some() => Ok(p.user_id),
        _ => Err(AppError::Forbidden("webhooks belong to API clients: use a client's token".into())),
    }
}

/// What a refused destination is told (registration) or records (delivery log).
const REFUSED: &str = "is not an allowed destination: it must resolve to public addresses only";

/// The resolver every destination check and delivery goes through.
fn resolver(state: &AppState) -> GuardedResolver {
    GuardedResolver::new(state.config.webhooks.lookup.clone(), state.config.webhooks.allow_private)
}

/// https only in production; never a special-use destination (see `destination`).
async fn check_url(state: &AppState, raw: &str) -> AppResult<reqwest::Url> {
    let invalid = |why: String| AppError::validation("url", why);
    let url = reqwest::Url::parse(raw.trim()).map_err(|_| invalid("is not a URL".into()))?;
    match url.scheme() {
        "https" => {}
        "http" if state.config.environment != Environment::Production => {}
        _ => return Err(invalid("must be an https:// URL".into())),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry credentials; the signature authenticates deliveries".into()));
    }
    if let Err(refusal) = resolver(state).check_url(&url).await {
        // Which of "private" or "does not resolve" it was stays in the log: telling the caller
        // would let anyone map internal names through this check.
        tracing::warn!(reason = %refusal, "webhook destination refused");
        return Err(invalid(REFUSED.into()));
    }
    Ok(url)
}

pub struct Registered {
    pub endpoint: webhook_endpoint::Model,
    pub secret: String,
}

pub async fn register(state: &AppState, caller: &Caller, url: &str, event_types: Vec<String>) -> AppResult<Registered> {
    let client = client_of(caller)?;
    let url = check_url(state, url).await?;
    if event_types.len() > 50 || event_types.iter().any(|t| t.is_empty() || t.len() > 64) {
        return Err(AppError::validation("eventTypes", "at most 50 event names such as filing.approved"));
    }
    let secret = random_token();
    let endpoint = webhook_endpoint::ActiveModel {
        id: Set(Uuid::now_v7()),
        client_row_id: Set(client),
        url: Set(url.to_string()),
        event_types: Set(serde_json::to_string(&event_types).map_err(anyhow::Error::from)?),
        secret: Set(state.config.data_key.seal(&secret)?),
        consecutive_failures: Set(0),
        disabled_at: Set(None),
        created_at: Set(clock::now()),
    }
    .insert(&state.db)
    .await?;
    Ok(Registered { endpoint, secret })
}

pub async fn endpoints(state: &AppState, caller: &Caller) -> AppResult<Vec<webhook_endpoint::Model>> {
    let client = client_of(caller)?;
    Ok(webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::ClientRowId.eq(client))
        .order_by_asc(webhook_endpoint::Column::CreatedAt)
        .all(&state.db)
        .await?)
}

/// The newest deliveries of one of the caller's endpoints.
pub async fn deliveries(state: &AppState, caller: &Caller, endpoint_id: Uuid, first: u64) -> AppResult<Vec<webhook_delivery::Model>> {
    if !endpoints(state, caller).await?.iter().any(|e| e.id == endpoint_id) {
        return Err(AppError::NotFound("webhook endpoint".into()));
    }
    Ok(webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint_id))
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(first)
        .all(&state.db)
        .await?)
}

/// Writes the deliveries of one event, in the change's transaction, for every active endpoint
/// whose client may see the filing and wants this event type.
pub async fn stage(txn: &DatabaseTransaction, change: &FilingChange) -> AppResult<()> {
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::DisabledAt.is_null())
        .all(txn)
        .await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let now = clock::now();
    for endpoint in endpoints {
        let Some(client) = api_client::Entity::find_by_id(endpoint.client_row_id).one(txn).await? else { continue };
        let visible = client.revoked_at.is_none()
            && (client.merchant_id == Some(change.merchant_id) || client.agency == Some(change.agency));
        let wanted: Vec<String> = serde_json::from_str(&endpoint.event_types).unwrap_or_default();
        if !visible || !(wanted.is_empty() || wanted.contains(&change.action)) {
            continue;
        }
        let id = Uuid::now_v7();
        let payload = serde_json::json!({
            "id": id,
            "type": change.action,
            "at": change.at,
            "data": { "filingId": change.filing_id, "caseId": change.case_id, "agency": change.agency, "regionCode": change.region_code },
        });
        webhook_delivery::ActiveModel {
            id: Set(id),
            endpoint_id: Set(endpoint.id),
            filing_id: Set(change.filing_id),
            event_type: Set(change.action.clone()),
            payload: Set(payload.to_string()),
            status: Set(PENDING.into()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            last_status: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            delivered_at: Set(None),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

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
    let timestamp = now.timestamp();
    // A secret that does not open (another ONESTOP_DATA_KEY) fails this delivery like a bad
    // receiver would, instead of stalling the whole batch.
    let secret = state.config.data_key.open(&endpoint.secret);
    let outcome = match (check_url(state, &endpoint.url).await, secret) {
        (_, Err(_)) => Err((None, "the signing secret does not open with ONESTOP_DATA_KEY".to_string())),
        (Err(AppError::Validation(_)), _) => Err((None, format!("destination {REFUSED}"))),
        (Err(err), _) => return Err(err),
        (Ok(url), Ok(secret)) => http
            .post(url)
            .header("content-type", "application/json")
            .header("x-onestop-event-id", delivery.id.to_string())
            .header("x-onestop-event-type", delivery.event_type.as_str())
            .header("x-onestop-signature", signature(&secret, timestamp, &delivery.payload))
            .body(delivery.payload.clone())
            .send()
            .await
            .map_err(|e| (None, transport_error(&e)))
            .and_then(|r| if r.status().is_success() { Ok(r.status().as_u16()) } else { Err((Some(r.status().as_u16()), format!("HTTP {}", r.status()))) }),
    };
    let attempts = delivery.attempts + 1;
    let update = webhook_delivery::Entity::update_many().filter(webhook_delivery::Column::Id.eq(delivery.id));
    match outcome {
        Ok(status) => {
            update
                .col_expr(webhook_delivery::Column::Status, Expr::value(DELIVERED))
                .col_expr(webhook_delivery::Column::Attempts, Expr::value(attempts))
                .col_expr(webhook_delivery::Column::LastStatus, Expr::value(i32::from(status)))
                .col_expr(webhook_delivery::Column::DeliveredAt, Expr::value(now))
                .exec(&state.db)
                .await?;
            webhook_endpoint::Entity::update_many()
                .col_expr(webhook_endpoint::Column::ConsecutiveFailures, Expr::value(0))
                .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
                .exec(&state.db)
                .await?;
        }
        Err((status, error)) => {
            let expired = delivery.created_at < now - Duration::hours(GIVE_UP_AFTER_HOURS);
            let base = state.config.webhooks.retry_base;
            let delay = base.saturating_mul(2u32.saturating_pow(attempts.clamp(0, 16) as u32 - 1)).min(std::time::Duration::from_secs(3600));
            update
                .col_expr(webhook_delivery::Column::Status, Expr::value(if expired { FAILED } else { PENDING }))
                .col_expr(webhook_delivery::Column::Attempts, Expr::value(attempts))
                .col_expr(webhook_delivery::Column::LastStatus, Expr::value(status.map(i32::from)))
                .col_expr(webhook_delivery::Column::LastError, Expr::value(error))
                .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(now + Duration::from_std(delay).unwrap_or(Duration::seconds(60))))
                .exec(&state.db)
                .await?;
            record_failure(state, &endpoint).await?;
        }
    }
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

/// Seals signing secrets stored in clear by versions before sealing existed (run at start-up;
/// a no-op once every row is sealed).
pub async fn seal_legacy_secrets(state: &AppState) -> AppResult<u64> {
    let legacy = webhook_endpoint::Entity::find().all(&state.db).await?;
    let mut sealed = 0;
    for endpoint in legacy.into_iter().filter(|e| !crate::platform::sealed::DataKey::is_sealed(&e.secret)) {
        let secret = state.config.data_key.seal(&endpoint.secret)?;
        webhook_endpoint::Entity::update_many()
            .col_expr(webhook_endpoint::Column::Secret, sea_orm::sea_query::Expr::value(secret))
            .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
            .filter(webhook_endpoint::Column::Secret.eq(endpoint.secret.as_str()))
            .exec(&state.db)
            .await?;
        sealed += 1;
    }
    if sealed > 0 {
        tracing::info!(sealed, "sealed webhook secrets stored in clear");
    }
    Ok(sealed)
}
