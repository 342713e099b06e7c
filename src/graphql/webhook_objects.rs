//! GraphQL views of webhook endpoints and their delivery log.

use async_graphql::{ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{webhook_delivery, webhook_endpoint};

pub struct WebhookEndpoint(pub webhook_endpoint::Model);

#[Object]
impl WebhookEndpoint {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// Empty: every event.
    async fn event_types(&self) -> Vec<String> {
        serde_json::from_str(&self.0.event_types).unwrap_or_default()
    }
    async fn consecutive_failures(&self) -> i32 {
        self.0.consecutive_failures
    }
    async fn disabled_at(&self) -> Option<DateTime<Utc>> {
        self.0.disabled_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(SimpleObject)]
pub struct WebhookRegistration {
    pub endpoint: WebhookEndpoint,
    /// The HMAC-SHA256 key of `X-Onestop-Signature`; shown only now.
    pub secret: String,
}

pub struct WebhookDelivery(pub webhook_delivery::Model);

#[Object]
impl WebhookDelivery {
    /// The event id (`X-Onestop-Event-Id`), for deduplication.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    async fn filing_id(&self) -> ID {
        ID(self.0.filing_id.to_string())
    }
    /// `pending`, `delivered`, `failed`, or `cancelled` (not sent: the client was revoked or
    /// the endpoint disabled after the event was queued).
    async fn status(&self) -> &str {
        &self.0.status
    }
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    async fn last_status(&self) -> Option<i32> {
        self.0.last_status
    }
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }
}
