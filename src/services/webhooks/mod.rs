//! Webhooks: filing events pushed to integrators' systems.
//!
//! Deliveries are rows written in the same transaction as the change, each with its job
//! (`platform::jobs`: exactly-once hand-off), one per endpoint that may see the filing. The job
//! runner POSTs them as JSON with `X-Onestop-Event-Id` (for deduplication) and `X-Onestop-Signature:
//! t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, in order per filing and endpoint,
//! retrying with exponential backoff for 24 h (at-least-once). An endpoint that keeps failing
//! is disabled and its owner emailed.

mod delivery;
pub mod destination;

pub use delivery::DeliverWebhook;

use entity::{api_client, webhook_delivery, webhook_endpoint};
use hmac::{Hmac, Mac};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use sha2::Sha256;
use uuid::Uuid;

use self::destination::GuardedResolver;
use crate::{
    config::Environment,
    error::{AppError, AppResult},
    platform::clock,
    platform::events::FilingChange,
    platform::state::AppState,
    services::auth::{Caller, Need, tokens::random_token},
};

const PENDING: &str = "pending";
const DELIVERED: &str = "delivered";
const FAILED: &str = "failed";
/// Not sent: the client was revoked or the endpoint disabled after it was queued.
const CANCELLED: &str = "cancelled";
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

/// The client deliveries are sent with: names resolved and checked at connect time by the
/// guarded resolver, no redirects, 10 s per request.
pub fn http_client(state: &AppState) -> anyhow::Result<reqwest::Client> {
    Ok(resolver(state).http_client(std::time::Duration::from_secs(10))?)
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

#[tracing::instrument(skip_all)]
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

#[tracing::instrument(skip_all)]
pub async fn endpoints(state: &AppState, caller: &Caller) -> AppResult<Vec<webhook_endpoint::Model>> {
    let client = client_of(caller)?;
    Ok(webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::ClientRowId.eq(client))
        .order_by_asc(webhook_endpoint::Column::CreatedAt)
        .all(&state.db)
        .await?)
}

/// The newest deliveries of one of the caller's endpoints.
#[tracing::instrument(skip_all, fields(endpoint = %endpoint_id))]
pub async fn deliveries(
    state: &AppState,
    caller: &Caller,
    endpoint_id: Uuid,
    first: u64,
) -> AppResult<Vec<webhook_delivery::Model>> {
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
    // The enabled endpoints of the clients that may see the filing: its merchant's, and its
    // agency's (one statement; it was one more per endpoint, for its client).
    let to_client: sea_orm::RelationDef = webhook_endpoint::Entity::belongs_to(api_client::Entity)
        .from(webhook_endpoint::Column::ClientRowId)
        .to(api_client::Column::Id)
        .into();
    let endpoints = webhook_endpoint::Entity::find()
        .join(sea_orm::JoinType::InnerJoin, to_client)
        .filter(webhook_endpoint::Column::DisabledAt.is_null())
        .filter(api_client::Column::RevokedAt.is_null())
        .filter(
            sea_orm::Condition::any()
                .add(api_client::Column::MerchantId.eq(change.merchant_id))
                .add(api_client::Column::Agency.eq(change.agency)),
        )
        .all(txn)
        .await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let now = clock::now();
    // The delivery is sent later by the worker: it carries the request's trace with it.
    let traceparent = crate::platform::telemetry::current_traceparent();
    for endpoint in endpoints {
        let wanted: Vec<String> = serde_json::from_str(&endpoint.event_types).unwrap_or_default();
        if !(wanted.is_empty() || wanted.contains(&change.action)) {
            continue;
        }
        let id = Uuid::now_v7();
        let payload = serde_json::json!({
            "id": id,
            "type": change.action,
            "at": change.at,
            "data": { "filingId": change.filing_id, "caseId": change.case_id, "agency": change.agency, "regionCode": change.region_code },
        });
        let delivery = webhook_delivery::ActiveModel {
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
            traceparent: Set(traceparent.clone()),
        }
        .insert(txn)
        .await?;
        DeliverWebhook::enqueue(txn, &delivery).await?;
    }
    Ok(())
}

pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
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
