//! Live filing events for GraphQL subscriptions, published only after the change commits.
//!
//! On PostgreSQL the event is a `NOTIFY` issued inside the change's transaction — PostgreSQL
//! delivers it at commit, to every instance listening — and each instance re-broadcasts what
//! it hears to its own subscribers. On SQLite (one instance) the event is broadcast locally
//! right after the commit.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::{error::AppResult, platform::state::AppState};

pub const CHANNEL: &str = "onestop_filing_events";

/// What subscribers learn: which filing changed, how, and what decides who may see it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FilingChange {
    pub filing_id: Uuid,
    pub case_id: Uuid,
    pub merchant_id: Uuid,
    pub agency: crate::domain::Agency,
    pub region_code: String,
    pub action: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<FilingChange>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self { sender: broadcast::channel(1024).0 }
    }
}

impl EventBus {
    pub fn subscribe(&self) -> broadcast::Receiver<FilingChange> {
        self.sender.subscribe()
    }

    pub fn publish(&self, changes: Vec<FilingChange>) {
        for change in changes {
            // No subscribers is fine.
            let _ = self.sender.send(change);
        }
    }
}

/// Stages an event in the change's transaction (and its webhook deliveries). Returns the events to publish after commit
/// (SQLite); on PostgreSQL the NOTIFY is already part of the transaction and nothing is left.
pub async fn stage(txn: &DatabaseTransaction, change: FilingChange) -> AppResult<Vec<FilingChange>> {
    // Webhook deliveries are written with the change, like the email outbox.
    crate::services::webhooks::stage(txn, &change).await?;
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        let payload = serde_json::to_string(&change).map_err(anyhow::Error::from)?;
        txn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), payload.into()],
        ))
        .await?;
        Ok(Vec::new())
    } else {
        Ok(vec![change])
    }
}

/// PostgreSQL: listens for events of every instance and broadcasts them here, for access
/// changes (`access::KnownScopes`); reconnects after a lost connection.
pub async fn run_listener(state: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    if state.db.get_database_backend() != DatabaseBackend::Postgres {
        return;
    }
    let access = crate::services::access::ACCESS_CHANGED_CHANNEL;
    loop {
        let pool = state.db.get_postgres_connection_pool().clone();
        let listening = async {
            let mut listener = sea_orm::sqlx::postgres::PgListener::connect_with(&pool).await?;
            listener.listen_all([CHANNEL, access]).await?;
            state.known_scopes.listening(true);
            // `try_recv` gives `None` when the connection was lost (`recv` would reconnect
            // quietly, and notifications sent meanwhile would be missed without a word).
            while let Some(notification) = listener.try_recv().await? {
                if notification.channel() == access {
                    state.known_scopes.changed();
                    continue;
                }
                match serde_json::from_str::<FilingChange>(notification.payload()) {
                    Ok(change) => state.events.publish(vec![change]),
                    Err(err) => tracing::warn!(error = %err, "unreadable filing event"),
                }
            }
            Ok::<(), sea_orm::sqlx::Error>(())
        };
        tokio::select! {
            result = listening => {
                state.known_scopes.listening(false);
                match result {
                    Err(err) => tracing::warn!(error = %err, "event listener lost its connection; retrying"),
                    Ok(()) => tracing::warn!("event listener lost its connection; retrying"),
                }
            }
            _ = shutdown.changed() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
    }
}
