//! Security events for administrators.

use async_graphql::{
    ID, Object,
    connection::{Connection, Edge},
};
use entity::security_event;

use crate::platform::pagination::{self, Page};

pub struct SecurityEvent(pub security_event::Model);

#[Object]
impl SecurityEvent {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn at(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.at
    }
    /// `login.succeeded`, `login.failed`, `refresh.reused`, `password.reset`, `role.granted`,
    /// `api_client.created`, `api_client.revoked` or `rate_limit.tripped`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// The user who acted, if known.
    async fn actor_id(&self) -> Option<ID> {
        self.0.actor_id.map(|id| ID(id.to_string()))
    }
    /// The account or API client the event is about.
    async fn subject_id(&self) -> Option<ID> {
        self.0.subject_id.map(|id| ID(id.to_string()))
    }
    /// Salted hash of the client address (the address itself is never stored).
    async fn address_hash(&self) -> Option<&str> {
        self.0.address_hash.as_deref()
    }
    async fn detail(&self) -> Option<&str> {
        self.0.detail.as_deref()
    }
}

pub type SecurityEventConnection = Connection<String, SecurityEvent>;

pub fn security_event_connection(page: Page<security_event::Model>) -> SecurityEventConnection {
    let mut connection = Connection::new(page.has_previous, page.has_next);
    connection.edges.extend(
        page.items.into_iter().map(|e| Edge::new(pagination::encode_cursor(&e.id.to_string()), SecurityEvent(e))),
    );
    connection
}
