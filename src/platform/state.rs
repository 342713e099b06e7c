//! What every request handler and service needs, built once at start-up.

use std::sync::{Arc, atomic::AtomicU64};

use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::{config::Config, platform::notify::Templates, services::auth::jwt::JwtKeys};

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub jwt: JwtKeys,
    pub templates: Arc<Templates>,
    /// Signalled after a commit that queued outbox messages, so mail goes out at once instead
    /// of at the next poll.
    pub outbox_wakeup: Arc<Notify>,
    /// SQL statements run since start-up.
    pub sql_statements: Arc<AtomicU64>,
    /// Trace-page scans on their way to the database.
    pub scans: crate::services::trace::ScanRecorder,
    /// Live filing events for subscriptions.
    pub events: crate::platform::events::EventBus,
    /// Login attempts per account and per client address.
    pub login_throttle: Arc<crate::services::auth::throttle::LoginThrottle>,
    /// Redis, when the rate limits are shared by instances (`ONESTOP_REDIS_URL`).
    pub shared_limits: Option<crate::platform::limits::SharedStore>,
    /// Which throttle trips were recorded recently (one security event per key per minute).
    pub trips: Arc<crate::services::audit::security::TripLog>,
    /// Compiled rule conditions, per rule version.
    pub rule_programs: Arc<crate::domain::rules::ProgramCache>,
    /// Where rule conditions are evaluated: off the async workers, against a deadline.
    pub rule_runner: Arc<crate::platform::rule_runner::RuleRunner>,
    /// The enabled decision rules, kept while their generation stands.
    pub decision_rules: Arc<crate::services::automatic::rules::EnabledRules>,
    /// Users' scopes kept between requests while access stands (PostgreSQL).
    pub known_scopes: Arc<crate::services::access::KnownScopes>,
    /// Where document bytes are kept.
    pub documents: Arc<dyn object_store::ObjectStore>,
    /// The time scheduled work goes by (the wall clock outside tests).
    pub clock: crate::platform::clock::Clock,
}

impl AppState {
    /// An operation wrote (`platform::writes`): drop what this instance kept that the write may
    /// have changed.
    pub fn forget(&self, written: crate::platform::writes::Written) {
        if written.access {
            self.known_scopes.changed();
        }
    }

    pub fn link(&self, path: &str, token: &str) -> String {
        format!("{}{path}?token={token}", self.config.public_base_url)
    }
}
