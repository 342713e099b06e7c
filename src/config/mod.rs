//! Typed settings, read from `ONESTOP_*` environment variables with development defaults.
//! Tests build a `Config` directly (see `Config::for_tests`-style construction in tests).

mod env;
mod licences;

pub use licences::LicenceValidity;

use std::{path::PathBuf, time::Duration};

use anyhow::bail;
use env::{parse_var, var};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone)]
pub struct Config {
    pub environment: Environment,
    pub database_url: String,
    pub bind: String,
    /// Base of links in emails and QR codes, without a trailing slash.
    pub public_base_url: String,
    /// Holds the generated development JWT secret and, by default, the dev mail directory.
    pub data_dir: PathBuf,
    pub jwt: JwtConfig,
    pub mail: MailConfig,
    pub log_filter: String,
    pub log_format: LogFormat,
    /// OpenTelemetry collector (OTLP/HTTP) receiving traces; `None`: no traces. Needs a binary
    /// built with the `otlp` feature.
    pub otlp_endpoint: Option<String>,
    /// Largest accepted POST body on `/graphql` (bytes).
    pub max_body_bytes: usize,
    /// Database pool size; small pools win on small machines.
    pub db_max_connections: u32,
    /// How long a request waits for a database connection before failing fast.
    pub db_acquire_timeout: Duration,
    pub tokens: TokenLifetimes,
    /// The provinces served (region codes are checked against them).
    pub regions: crate::domain::Regions,
    /// Statutory review time per filing kind, in working days.
    pub review_days: ReviewDays,
    /// How long each kind of licence is valid.
    pub licence_validity: LicenceValidity,
    pub trace: TraceConfig,
    pub documents: DocumentConfig,
    /// Holidays and exchanged working days for review deadlines.
    pub calendar: crate::domain::working_days::Calendar,
    /// Legally issued USCCs that fail the check character (`ONESTOP_USCC_ALLOW_LIST_FILE`).
    pub uscc_allow_list: crate::domain::uscc::UsccAllowList,
    /// How often the deadline sweeper runs.
    pub sweep_interval: Duration,
    pub limits: QueryLimits,
    /// Whether this instance runs background jobs (`ONESTOP_RUN_JOBS`, default true); false: a
    /// web-only instance, others run its jobs.
    pub run_jobs: bool,
    /// Where `/metrics` is served.
    pub metrics: MetricsConfig,
    /// How rule conditions are evaluated: deadline, evaluators at once, cost budget.
    pub rules: crate::platform::rule_runner::RuleLimits,
    pub login_per_account_per_minute: u32,
    pub login_per_address_per_minute: u32,
    /// Where the rate limits are shared by instances; `None`: each instance counts alone.
    pub redis: Option<RedisConfig>,
    /// What a new password hash costs (`ONESTOP_ARGON2_*`; production: at least the default).
    pub password_hash_cost: crate::services::auth::password::HashCost,
    /// argon2 computations at once (each takes a core for ≈ 20 ms and 19 MiB).
    pub password_hash_concurrency: usize,
    /// Password hashes that may wait for the pool; beyond it, SERVICE_UNAVAILABLE at once.
    pub password_hash_queue: usize,
    /// SQLite: how long a writer waits for the database lock before the request answers
    /// SERVICE_UNAVAILABLE with Retry-After (PostgreSQL writers wait on row locks instead).
    pub sqlite_busy_timeout: Duration,
    /// Origins allowed to call the API from a browser (CORS); none by default.
    pub cors_origins: Vec<String>,
    pub webhooks: WebhookConfig,
    /// How often an idle live socket re-checks its caller (it also does before every
    /// operation and every event).
    pub ws_recheck_interval: Duration,
    /// Seals secrets kept at rest (webhook signing secrets). Never logged.
    pub data_key: crate::platform::sealed::DataKey,
}

/// `ONESTOP_REDIS_URL` (e.g. `redis://127.0.0.1:6379/0`; may hold a password, so never
/// logged) and `ONESTOP_REDIS_TIMEOUT_MS` (default 200): how long a limit waits for Redis before
/// it fails open (public pages) or closed (sign-in, resets, tokens).
#[derive(Clone)]
pub struct RedisConfig {
    pub url: String,
    pub timeout: Duration,
}

#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// Allow loopback and private destinations (development and tests only).
    pub allow_private: bool,
    pub poll_interval: Duration,
    /// First retry delay; doubles per attempt, capped at one hour, for 24 hours.
    pub retry_base: Duration,
    /// Consecutive failures after which an endpoint is disabled and its owner emailed.
    pub disable_after: i32,
    /// How endpoint host names are resolved (the system resolver; tests script it).
    pub lookup: crate::services::webhooks::destination::Lookup,
}

/// `/metrics` (per-operation counts and latencies) is not for the public: it is served on its
/// own listener, loopback by default, and on the main listener only with a bearer token.
#[derive(Clone, Debug, Default)]
pub struct MetricsConfig {
    /// `ONESTOP_METRICS_BIND` (default `127.0.0.1:9464`; `off`: no listener of its own).
    pub bind: Option<String>,
    /// `ONESTOP_METRICS_TOKEN`: the main listener answers `/metrics` to `Authorization: Bearer
    /// <token>`, and 404 to everyone else (and to everyone when unset). Never logged.
    pub token: Option<String>,
}

/// What one GraphQL document may ask for.
#[derive(Clone, Debug)]
pub struct QueryLimits {
    pub max_depth: usize,
    /// Cost of a query: 1 per field, list fields multiplied by their `first`.
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
    /// Operations in one batched HTTP request (a JSON array).
    pub max_batch: usize,
    /// A manifest of the only operations allowed to run (hash → query), if set.
    pub trusted_operations: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct DocumentConfig {
    /// Largest accepted upload.
    pub max_bytes: usize,
    /// Local directory of the object store (used unless `s3` is set).
    pub dir: PathBuf,
    /// An S3-compatible bucket instead of the local directory.
    pub s3: Option<S3Config>,
}

/// `ONESTOP_DOCUMENT_STORE=s3://bucket/prefix` and its connection settings; anything not set
/// here comes from the standard `AWS_*` variables.
#[derive(Clone)]
pub struct S3Config {
    pub url: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret key never reaches a log line.
        f.debug_struct("S3Config")
            .field("url", &self.url)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl S3Config {
    fn from_env() -> anyhow::Result<Option<Self>> {
        let Some(url) = var("ONESTOP_DOCUMENT_STORE") else { return Ok(None) };
        if url == "local" {
            return Ok(None);
        }
        if !url.starts_with("s3://") || url.len() <= "s3://".len() {
            bail!("ONESTOP_DOCUMENT_STORE must be `local` or s3://bucket[/prefix], not {url:?}");
        }
        Ok(Some(Self {
            url,
            endpoint: var("ONESTOP_S3_ENDPOINT"),
            region: var("ONESTOP_S3_REGION"),
            access_key_id: var("ONESTOP_S3_ACCESS_KEY_ID"),
            secret_access_key: var("ONESTOP_S3_SECRET_ACCESS_KEY"),
        }))
    }
}

/// Public trace pages: scan counting, copy detection, rate limits.
#[derive(Clone, Debug)]
pub struct TraceConfig {
    /// A code scanned more than `scan_multiple` × batch quantity times is a likely copy.
    pub scan_multiple: i64,
    /// … or scanned from more than `max_distinct_addresses` addresses (capped at the batch
    /// quantity) within `window`.
    pub max_distinct_addresses: i64,
    pub window: Duration,
    /// Scans per client address per minute on /t and /c (429 beyond).
    pub scans_per_minute: u32,
    /// Take the client address from `X-Forwarded-For` (behind a trusted reverse proxy).
    pub trust_forwarded_for: bool,
    /// Salt of the stored client-address hashes. Never logged.
    pub address_salt: String,
    /// How often pending scans are written.
    pub flush_interval: Duration,
}

impl TraceConfig {
    fn from_env(secret: &str) -> anyhow::Result<Self> {
        Ok(Self {
            scan_multiple: parse_var("ONESTOP_COUNTERFEIT_SCAN_MULTIPLE", 3)?,
            max_distinct_addresses: parse_var("ONESTOP_COUNTERFEIT_MAX_ADDRESSES", 50)?,
            window: Duration::from_secs(3600 * parse_var::<u64>("ONESTOP_COUNTERFEIT_WINDOW_HOURS", 24)?),
            scans_per_minute: parse_var("ONESTOP_SCANS_PER_MINUTE", 60)?,
            trust_forwarded_for: parse_var("ONESTOP_TRUST_FORWARDED_FOR", false)?,
            flush_interval: Duration::from_millis(parse_var("ONESTOP_SCAN_FLUSH_MS", 50)?),
            address_salt: var("ONESTOP_ADDRESS_SALT").unwrap_or_else(|| {
                use sha2::{Digest, Sha256};
                hex::encode(Sha256::digest(format!("address-salt:{secret}").as_bytes()))
            }),
        })
    }
}

#[derive(Clone, Debug)]
pub struct ReviewDays {
    pub registration: u32,
    pub customs: u32,
    pub inspection: u32,
    pub tax: u32,
    pub fx: u32,
}

impl Default for ReviewDays {
    fn default() -> Self {
        Self { registration: 3, customs: 5, inspection: 5, tax: 3, fx: 5 }
    }
}

impl ReviewDays {
    pub fn for_kind(&self, kind: crate::domain::FilingKind) -> u32 {
        use crate::domain::FilingKind as K;
        match kind {
            K::Registration => self.registration,
            K::Customs => self.customs,
            K::Inspection => self.inspection,
            K::Tax => self.tax,
            K::Fx => self.fx,
        }
    }

    /// `REGISTRATION=3,CUSTOMS=5,…`; kinds not named keep their default.
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        let mut days = Self::default();
        for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (kind, n) = pair
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("ONESTOP_REVIEW_DAYS: expected KIND=days, got {pair:?}"))?;
            let n: u32 = n.trim().parse().map_err(|_| anyhow::anyhow!("ONESTOP_REVIEW_DAYS: {pair:?}"))?;
            match kind.trim() {
                "REGISTRATION" => days.registration = n,
                "CUSTOMS" => days.customs = n,
                "INSPECTION" => days.inspection = n,
                "TAX" => days.tax = n,
                "FX" => days.fx = n,
                other => bail!("ONESTOP_REVIEW_DAYS: unknown filing kind {other:?}"),
            }
        }
        Ok(days)
    }
}

#[derive(Clone)]
pub struct JwtConfig {
    /// HS256 signing secret. Never logged.
    pub secret: String,
    /// Retired secrets whose tokens are still accepted (a rotation in progress). Never logged.
    pub previous_secrets: Vec<String>,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
}

#[derive(Clone)]
pub struct TokenLifetimes {
    pub refresh: Duration,
    pub verify_email: Duration,
    pub password_reset: Duration,
    pub invitation: Duration,
}

#[derive(Clone)]
pub struct MailConfig {
    /// `smtp://host:port`, `smtp://host:port?tls=required`, `smtps://user:pass@host`.
    /// `None`: messages are written as `.eml` files into `dir`.
    pub smtp_url: Option<String>,
    pub from: String,
    pub dir: PathBuf,
    /// How often the outbox worker looks for due messages.
    pub poll_interval: Duration,
    /// First retry delay; doubles with each failed attempt (capped at one hour).
    pub retry_base: Duration,
    /// After this many failed attempts a message is parked as `failed`.
    pub max_attempts: i32,
    /// Per-attempt SMTP timeout.
    pub smtp_timeout: Duration,
    /// How long a claimed message is reserved for the worker that claimed it; if that worker
    /// dies, another one sends the message after this. Must exceed the SMTP timeout.
    pub lease: Duration,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        Self {
            refresh: Duration::from_secs(30 * 24 * 3600),
            verify_email: Duration::from_secs(24 * 3600),
            password_reset: Duration::from_secs(3600),
            invitation: Duration::from_secs(7 * 24 * 3600),
        }
    }
}
