//! `Config::from_env`: the `ONESTOP_*` variables, one section at a time (the README's
//! configuration table lists them all).

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};

use super::{
    Config, DocumentConfig, Environment, JwtConfig, LicenceValidity, LogFormat, MailConfig, QueryLimits, RedisConfig,
    ReviewDays, S3Config, TokenLifetimes, TraceConfig, WebhookConfig,
};
use crate::{
    domain::{Regions, uscc::UsccAllowList, working_days::Calendar},
    platform::sealed::DataKey,
};

pub(super) fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub(super) fn parse_var<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw.parse().map_err(|e| anyhow::anyhow!("{name}: cannot parse {raw:?}: {e}")),
    }
}

impl Config {
    /// Reads the environment. In production a JWT secret and a data key must be given; in
    /// development they are generated once and kept in the data directory, so restarts keep
    /// sessions and sealed secrets.
    pub fn from_env() -> anyhow::Result<Self> {
        let environment = environment()?;
        let data_dir = PathBuf::from(var("ONESTOP_DATA_DIR").unwrap_or_else(|| "data".into()));
        let bind = var("ONESTOP_BIND").unwrap_or_else(|| "127.0.0.1:8080".into());
        let public_base_url = var("ONESTOP_PUBLIC_BASE_URL")
            .unwrap_or_else(|| format!("http://{bind}"))
            .trim_end_matches('/')
            .to_string();
        let jwt = jwt(environment, &data_dir)?;
        Ok(Self {
            environment,
            database_url: var("ONESTOP_DATABASE_URL").unwrap_or_else(|| "sqlite://onestop.db?mode=rwc".into()),
            bind,
            public_base_url,
            trace: TraceConfig::from_env(&jwt.secret)?,
            data_key: data_key(environment, &data_dir)?,
            jwt,
            mail: mail(&data_dir)?,
            documents: documents(&data_dir)?,
            data_dir,
            log_filter: var("ONESTOP_LOG").unwrap_or_else(|| "info".into()),
            log_format: log_format()?,
            otlp_endpoint: var("ONESTOP_OTLP_ENDPOINT"),
            max_body_bytes: parse_var("ONESTOP_MAX_BODY_BYTES", 1024 * 1024)?,
            db_max_connections: parse_var("ONESTOP_DB_MAX_CONNECTIONS", 4)?,
            db_acquire_timeout: Duration::from_millis(parse_var("ONESTOP_DB_ACQUIRE_TIMEOUT_MS", 5000)?),
            sqlite_busy_timeout: Duration::from_millis(parse_var("ONESTOP_SQLITE_BUSY_TIMEOUT_MS", 5000)?),
            tokens: TokenLifetimes::default(),
            calendar: calendar()?,
            uscc_allow_list: uscc_allow_list()?,
            review_days: var("ONESTOP_REVIEW_DAYS").map_or(Ok(ReviewDays::default()), |raw| ReviewDays::parse(&raw))?,
            licence_validity: var("ONESTOP_LICENCE_VALIDITY_MONTHS")
                .map_or(Ok(LicenceValidity::default()), |raw| LicenceValidity::parse(&raw))?,
            regions: regions(),
            sweep_interval: Duration::from_secs(parse_var("ONESTOP_SWEEP_INTERVAL_SECS", 60)?),
            login_per_account_per_minute: parse_var("ONESTOP_LOGIN_PER_ACCOUNT_PER_MINUTE", 10)?,
            login_per_address_per_minute: parse_var("ONESTOP_LOGIN_PER_ADDRESS_PER_MINUTE", 30)?,
            redis: redis()?,
            password_hash_cost: password_hash_cost(environment)?,
            password_hash_concurrency: parse_var(
                "ONESTOP_PASSWORD_HASH_CONCURRENCY",
                crate::services::auth::password::default_concurrency(),
            )?,
            password_hash_queue: parse_var(
                "ONESTOP_PASSWORD_HASH_QUEUE",
                crate::services::auth::password::DEFAULT_QUEUE,
            )?,
            cors_origins: cors_origins(),
            webhooks: webhooks()?,
            ws_recheck_interval: Duration::from_secs(parse_var("ONESTOP_WS_RECHECK_SECS", 30)?.max(1)),
            limits: limits()?,
            rules: rule_limits()?,
            metrics: metrics()?,
            run_jobs: parse_var("ONESTOP_RUN_JOBS", true)?,
        })
    }
}

fn environment() -> anyhow::Result<Environment> {
    Ok(match var("ONESTOP_ENV").as_deref() {
        None | Some("development") | Some("dev") => Environment::Development,
        Some("production") | Some("prod") => Environment::Production,
        Some(other) => bail!("ONESTOP_ENV must be development or production, not {other:?}"),
    })
}

fn log_format() -> anyhow::Result<LogFormat> {
    Ok(match var("ONESTOP_LOG_FORMAT").as_deref() {
        None | Some("pretty") => LogFormat::Pretty,
        Some("json") => LogFormat::Json,
        Some(other) => bail!("ONESTOP_LOG_FORMAT must be pretty or json, not {other:?}"),
    })
}

/// Shared rate limits only when a Redis URL is given; without it each instance counts alone.
fn redis() -> anyhow::Result<Option<RedisConfig>> {
    let Some(url) = var("ONESTOP_REDIS_URL") else { return Ok(None) };
    let timeout = Duration::from_millis(parse_var("ONESTOP_REDIS_TIMEOUT_MS", 200)?.max(1));
    Ok(Some(RedisConfig { url, timeout }))
}

fn cors_origins() -> Vec<String> {
    var("ONESTOP_CORS_ORIGINS")
        .map(|v| v.split(',').map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect())
        .unwrap_or_default()
}

/// The signing secret (generated in development), its previous secrets, issuer, audience and
/// access-token lifetime.
fn jwt(environment: Environment, data_dir: &Path) -> anyhow::Result<JwtConfig> {
    let secret = match (var("ONESTOP_JWT_SECRET"), environment) {
        (Some(secret), _) => secret,
        (None, Environment::Production) => bail!("ONESTOP_JWT_SECRET is required when ONESTOP_ENV=production"),
        (None, Environment::Development) => {
            dev_file_secret(data_dir, "jwt-secret", crate::services::auth::tokens::random_token)?
        }
    };
    if secret.len() < 32 {
        bail!("ONESTOP_JWT_SECRET must be at least 32 characters");
    }
    Ok(JwtConfig {
        secret,
        previous_secrets: previous_jwt_secrets()?,
        issuer: var("ONESTOP_JWT_ISSUER").unwrap_or_else(|| "onestop".into()),
        audience: var("ONESTOP_JWT_AUDIENCE").unwrap_or_else(|| "onestop-api".into()),
        access_ttl: Duration::from_secs(parse_var("ONESTOP_ACCESS_TOKEN_TTL_SECS", 900)?),
    })
}

/// The key that seals secrets kept at rest (generated in development).
fn data_key(environment: Environment, data_dir: &Path) -> anyhow::Result<DataKey> {
    match (var("ONESTOP_DATA_KEY"), environment) {
        (Some(key), _) => DataKey::from_hex(&key),
        (None, Environment::Production) => {
            bail!(
                "ONESTOP_DATA_KEY is required when ONESTOP_ENV=production (64 hex characters, e.g. `openssl rand -hex 32`)"
            )
        }
        (None, Environment::Development) => {
            DataKey::from_hex(&dev_file_secret(data_dir, "data-key", || DataKey::random().to_hex())?)
        }
    }
}

fn mail(data_dir: &Path) -> anyhow::Result<MailConfig> {
    Ok(MailConfig {
        smtp_url: var("ONESTOP_SMTP_URL"),
        from: var("ONESTOP_MAIL_FROM").unwrap_or_else(|| "onestop <no-reply@onestop.localhost>".into()),
        dir: var("ONESTOP_MAIL_DIR").map(PathBuf::from).unwrap_or_else(|| data_dir.join("mail")),
        poll_interval: Duration::from_millis(parse_var("ONESTOP_OUTBOX_POLL_MS", 1000)?),
        retry_base: Duration::from_millis(parse_var("ONESTOP_OUTBOX_RETRY_BASE_MS", 5000)?),
        max_attempts: parse_var("ONESTOP_OUTBOX_MAX_ATTEMPTS", 10)?,
        smtp_timeout: Duration::from_secs(parse_var("ONESTOP_SMTP_TIMEOUT_SECS", 30)?),
        lease: Duration::from_secs(parse_var("ONESTOP_OUTBOX_LEASE_SECS", 90)?),
    })
}

fn documents(data_dir: &Path) -> anyhow::Result<DocumentConfig> {
    Ok(DocumentConfig {
        max_bytes: parse_var("ONESTOP_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)?,
        dir: var("ONESTOP_DOCUMENT_DIR").map(PathBuf::from).unwrap_or_else(|| data_dir.join("documents")),
        s3: S3Config::from_env()?,
    })
}

/// A reference file given by path, or the built-in one.
fn reference_file(variable: &str, built_in: &str) -> anyhow::Result<String> {
    match var(variable) {
        None => Ok(built_in.to_string()),
        Some(path) => std::fs::read_to_string(&path).with_context(|| format!("reading {path} ({variable})")),
    }
}

fn calendar() -> anyhow::Result<Calendar> {
    Calendar::parse(&reference_file("ONESTOP_HOLIDAYS_FILE", crate::domain::working_days::BUILT_IN)?)
}

fn uscc_allow_list() -> anyhow::Result<UsccAllowList> {
    UsccAllowList::parse(&reference_file("ONESTOP_USCC_ALLOW_LIST_FILE", crate::domain::uscc::BUILT_IN_ALLOW_LIST)?)
}

fn regions() -> Regions {
    match var("ONESTOP_WESTERN_PROVINCES") {
        None => Regions::default(),
        Some(list) => Regions::new(list.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()),
    }
}

fn webhooks() -> anyhow::Result<WebhookConfig> {
    Ok(WebhookConfig {
        allow_private: parse_var("ONESTOP_WEBHOOK_ALLOW_PRIVATE", false)?,
        poll_interval: Duration::from_millis(parse_var("ONESTOP_WEBHOOK_POLL_MS", 1000)?),
        retry_base: Duration::from_millis(parse_var("ONESTOP_WEBHOOK_RETRY_BASE_MS", 10_000)?),
        disable_after: parse_var("ONESTOP_WEBHOOK_DISABLE_AFTER", 20)?,
        lookup: Default::default(),
    })
}

fn limits() -> anyhow::Result<QueryLimits> {
    Ok(QueryLimits {
        max_depth: parse_var("ONESTOP_MAX_QUERY_DEPTH", 12)?,
        max_complexity: parse_var("ONESTOP_MAX_QUERY_COMPLEXITY", 20_000)?,
        max_aliases: parse_var("ONESTOP_MAX_QUERY_ALIASES", 30)?,
        max_root_fields: parse_var("ONESTOP_MAX_ROOT_FIELDS", 15)?,
        max_batch: parse_var("ONESTOP_MAX_BATCH_OPERATIONS", 10)?,
        trusted_operations: var("ONESTOP_TRUSTED_OPERATIONS").map(PathBuf::from),
    })
}

/// `ONESTOP_JWT_PREVIOUS_SECRETS`: comma-separated secrets that verify but no longer sign.
fn previous_jwt_secrets() -> anyhow::Result<Vec<String>> {
    let secrets: Vec<String> = var("ONESTOP_JWT_PREVIOUS_SECRETS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if secrets.iter().any(|s| s.len() < 32) {
        bail!("every ONESTOP_JWT_PREVIOUS_SECRETS entry must be at least 32 characters");
    }
    Ok(secrets)
}

/// A development secret: generated once, kept in `{data_dir}/{file}` so restarts keep it.
fn dev_file_secret(data_dir: &std::path::Path, file: &str, generate: impl Fn() -> String) -> anyhow::Result<String> {
    let path = data_dir.join(file);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_string();
        if existing.len() >= 32 {
            return Ok(existing);
        }
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let secret = generate();
    std::fs::write(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
    Ok(secret)
}

/// `ONESTOP_RULE_DEADLINE_MS` (200), `ONESTOP_RULE_THREADS` (2), `ONESTOP_RULE_COST_BUDGET`
/// (100,000 estimated steps).
fn rule_limits() -> anyhow::Result<crate::platform::rule_runner::RuleLimits> {
    let defaults = crate::platform::rule_runner::RuleLimits::default();
    let deadline_ms: u64 = parse_var("ONESTOP_RULE_DEADLINE_MS", u64::try_from(defaults.deadline.as_millis())?)?;
    if !(1..=10_000).contains(&deadline_ms) {
        bail!("ONESTOP_RULE_DEADLINE_MS must be 1 to 10000");
    }
    let threads: usize = parse_var("ONESTOP_RULE_THREADS", defaults.threads)?;
    if !(1..=64).contains(&threads) {
        bail!("ONESTOP_RULE_THREADS must be 1 to 64");
    }
    Ok(crate::platform::rule_runner::RuleLimits {
        deadline: Duration::from_millis(deadline_ms),
        threads,
        cost_budget: parse_var("ONESTOP_RULE_COST_BUDGET", defaults.cost_budget)?,
    })
}

/// `ONESTOP_METRICS_BIND` (default `127.0.0.1:9464`, `off` for none) and `ONESTOP_METRICS_TOKEN`
/// (at least 24 characters).
fn metrics() -> anyhow::Result<super::MetricsConfig> {
    let bind = match var("ONESTOP_METRICS_BIND").as_deref() {
        None => Some("127.0.0.1:9464".to_string()),
        Some("off" | "") => None,
        Some(other) => Some(other.to_string()),
    };
    let token = var("ONESTOP_METRICS_TOKEN");
    if token.as_ref().is_some_and(|t| t.chars().count() < 24) {
        bail!("ONESTOP_METRICS_TOKEN must be at least 24 characters");
    }
    Ok(super::MetricsConfig { bind, token })
}

/// `ONESTOP_ARGON2_MEMORY_KIB` (19456), `ONESTOP_ARGON2_ITERATIONS` (2), `ONESTOP_ARGON2_PARALLELISM`
/// (1); production refuses less than the default.
fn password_hash_cost(environment: Environment) -> anyhow::Result<crate::services::auth::password::HashCost> {
    let default = crate::services::auth::password::HashCost::OWASP;
    crate::services::auth::password::HashCost {
        memory_kib: parse_var("ONESTOP_ARGON2_MEMORY_KIB", default.memory_kib)?,
        iterations: parse_var("ONESTOP_ARGON2_ITERATIONS", default.iterations)?,
        parallelism: parse_var("ONESTOP_ARGON2_PARALLELISM", default.parallelism)?,
    }
    .check(environment == Environment::Production)
}
