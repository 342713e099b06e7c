//! Security events: logins, refresh-token reuse, password resets, role grants, API clients and
//! throttling. They belong to no case, so they live beside the per-case chains in their own
//! append-only table; client addresses are kept only as salted hashes.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use entity::security_event;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use crate::{
    error::{AppError, AppResult},
    platform::pagination::{self, Page},
    platform::state::AppState,
    services::access::Scope,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityKind {
    LoginSucceeded,
    LoginFailed,
    RefreshReused,
    PasswordReset,
    RoleGranted,
    ApiClientCreated,
    ApiClientRevoked,
    RateLimitTripped,
    /// A merchant declared a USCC another merchant holds or declares.
    UsccDeclaredTwice,
    /// Someone tried to sign up with the email of an existing account.
    SignupWithExistingEmail,
    /// An administrator saved a requirement rule (a new version of the ruleset).
    RequirementRuleSaved,
    /// A supervisor saved a decision rule of its agency.
    DecisionRuleSaved,
    /// A merchant registered a batch under a GTIN and batch number another merchant's batch
    /// carries (GTIN ownership is not verified here).
    GtinClaimed,
}

impl SecurityKind {
    pub const ALL: [SecurityKind; 13] = [
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::RefreshReused,
        Self::PasswordReset,
        Self::RoleGranted,
        Self::ApiClientCreated,
        Self::ApiClientRevoked,
        Self::RateLimitTripped,
        Self::UsccDeclaredTwice,
        Self::SignupWithExistingEmail,
        Self::RequirementRuleSaved,
        Self::DecisionRuleSaved,
        Self::GtinClaimed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "login.succeeded",
            Self::LoginFailed => "login.failed",
            Self::RefreshReused => "refresh.reused",
            Self::PasswordReset => "password.reset",
            Self::RoleGranted => "role.granted",
            Self::ApiClientCreated => "api_client.created",
            Self::ApiClientRevoked => "api_client.revoked",
            Self::RateLimitTripped => "rate_limit.tripped",
            Self::UsccDeclaredTwice => "uscc.declared_twice",
            Self::SignupWithExistingEmail => "signup.existing_email",
            Self::RequirementRuleSaved => "requirement_rule.saved",
            Self::DecisionRuleSaved => "decision_rule.saved",
            Self::GtinClaimed => "gtin.claimed",
        }
    }

    pub fn parse(raw: &str) -> AppResult<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == raw)
            .ok_or_else(|| AppError::validation("kind", "is not a known security event kind"))
    }
}

/// One event to record.
pub struct SecurityEvent<'a> {
    pub kind: SecurityKind,
    pub actor_id: Option<Uuid>,
    pub subject_id: Option<Uuid>,
    pub address: Option<IpAddr>,
    pub detail: Option<&'a str>,
}

impl<'a> SecurityEvent<'a> {
    pub fn new(kind: SecurityKind) -> Self {
        Self { kind, actor_id: None, subject_id: None, address: None, detail: None }
    }
    pub fn actor(mut self, id: Uuid) -> Self {
        self.actor_id = Some(id);
        self
    }
    pub fn subject(mut self, id: Uuid) -> Self {
        self.subject_id = Some(id);
        self
    }
    pub fn from(mut self, address: Option<IpAddr>) -> Self {
        self.address = address;
        self
    }
    pub fn detail(mut self, detail: &'a str) -> Self {
        self.detail = Some(detail);
        self
    }
}

/// Writes the event on `db` (the change's own transaction, when there is one).
pub async fn record<C: ConnectionTrait>(db: &C, state: &AppState, event: SecurityEvent<'_>) -> AppResult<()> {
    security_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        at: Set(crate::platform::clock::now()),
        kind: Set(event.kind.as_str().to_string()),
        actor_id: Set(event.actor_id),
        subject_id: Set(event.subject_id),
        address_hash: Set(event
            .address
            .map(|a| crate::services::trace::client_hash(&state.config.trace, &a.to_string()))),
        detail: Set(event.detail.map(str::to_string)),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// For events that must not change the answer (a failed login stays a failed login even when
/// its record cannot be written): the failure is logged instead.
pub async fn record_or_log(state: &AppState, event: SecurityEvent<'_>) {
    let kind = event.kind.as_str();
    if let Err(err) = record(&state.db, state, event).await {
        tracing::error!(kind, error = %err.detail(), "security event not recorded");
    }
}

/// Throttling trips are recorded once per key per minute, so an attacker hammering a throttled
/// endpoint cannot turn each refused request into a database write.
#[derive(Default)]
pub struct TripLog(Mutex<HashMap<String, Instant>>);

const TRIP_WINDOW: Duration = Duration::from_secs(60);

impl TripLog {
    /// True the first time `key` trips in a window.
    pub fn first_in_window(&self, key: &str) -> bool {
        let Ok(mut seen) = self.0.lock() else { return false };
        let now = Instant::now();
        if seen.len() > 10_000 {
            seen.retain(|_, at| now.duration_since(*at) < TRIP_WINDOW);
        }
        if seen.len() > 100_000 {
            // Trips from more addresses than that in one minute: forget them rather than grow
            // without bound (at worst some trips are recorded twice).
            seen.clear();
        }
        match seen.get(key) {
            Some(at) if now.duration_since(*at) < TRIP_WINDOW => false,
            _ => {
                seen.insert(key.to_string(), now);
                true
            }
        }
    }
}

/// The authentication throttle for `key` (`login:…`, `reset:…`, `verify:…`): `RATE_LIMITED`
/// when the account's or the address's bucket is empty, with the trip recorded.
pub async fn throttle(state: &AppState, key: &str, what: &str, address: Option<IpAddr>) -> AppResult<()> {
    match state.login_throttle.check(key, address).await {
        Ok(()) => Ok(()),
        Err(limited @ AppError::RateLimited { .. }) => Err(tripped(state, what, address, limited).await),
        Err(other) => Err(other),
    }
}

/// Records a throttle trip (deduplicated, in the background so the refusal never waits for
/// the database) and passes the `RATE_LIMITED` error on.
pub async fn tripped(state: &AppState, what: &str, address: Option<IpAddr>, error: AppError) -> AppError {
    let key = format!("{what}|{}", address.map(|a| crate::http::rate_key(a).to_string()).unwrap_or_default());
    if state.trips.first_in_window(&key) {
        let (state, what) = (state.clone(), what.to_string());
        tokio::spawn(async move {
            record_or_log(&state, SecurityEvent::new(SecurityKind::RateLimitTripped).from(address).detail(&what)).await;
        });
    }
    error
}

/// The newest events first, for administrators; keyset-paged by id.
#[tracing::instrument(skip_all)]
pub async fn list(
    state: &AppState,
    scope: &Scope,
    kind: Option<&str>,
    first: Option<i32>,
    after: Option<String>,
) -> AppResult<Page<security_event::Model>> {
    if !matches!(scope, Scope::Admin { .. }) {
        return Err(AppError::Forbidden("only administrators read security events".into()));
    }
    let limit = pagination::page_size(first)?;
    let mut query = security_event::Entity::find().order_by_desc(security_event::Column::Id).limit(limit + 1);
    if let Some(kind) = kind {
        query = query.filter(security_event::Column::Kind.eq(SecurityKind::parse(kind)?.as_str()));
    }
    let had_cursor = after.is_some();
    if let Some(cursor) = after {
        let id = Uuid::parse_str(&pagination::decode_cursor(&cursor)?)
            .map_err(|_| AppError::validation("after", "is not a cursor from this list"))?;
        query = query.filter(security_event::Column::Id.lt(id));
    }
    Ok(pagination::into_page(query.all(&state.db).await?, limit, had_cursor))
}
