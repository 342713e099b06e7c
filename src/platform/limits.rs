//! Rate limits by key: a token bucket per key in this instance's memory (governor), or — with
//! `ONESTOP_REDIS_URL` set — one GCRA cell per key in Redis, so N instances behind a balancer
//! allow what one would, not N times as much.
//!
//! GCRA (the generic cell rate algorithm) keeps one number per key, the theoretical arrival time
//! of the next request; the check and the update are one Lua script, so two instances racing on
//! one key cannot both take its last token. The time is Redis's (`TIME`), so instances with
//! skewed clocks still agree. Quotas mean what governor's `Quota::per_minute(n)` means: a burst of
//! `n`, refilled one every `60/n` seconds.
//!
//! When Redis does not answer within `ONESTOP_REDIS_TIMEOUT_MS`, each limit does what its
//! [`Outage`] says: public pages stay up (fail open), sign-in and token endpoints refuse (fail
//! closed), so an outage of the limiter never becomes an outage of the password guard. Both are
//! logged (at most once per limit every 10 s) and counted in
//! `onestop_rate_limit_backend_failures_total`.

use std::{
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};
use redis::aio::ConnectionManager;
use sha2::{Digest, Sha256};

/// What a limit does when the shared store cannot be asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
    /// Let the request through (public pages: availability first).
    Allow,
    /// Refuse the request (sign-in, resets, tokens: the password guard first).
    Refuse,
}

/// Why a request was not let through.
#[derive(Debug, PartialEq, Eq)]
pub enum Limited {
    /// Over the quota: retry after this many seconds (at least 1).
    Wait(u64),
    /// The shared store did not answer and the limit fails closed.
    Unavailable,
}

/// The connection to Redis that every limit of an instance shares.
#[derive(Clone)]
pub struct SharedStore {
    connection: ConnectionManager,
    timeout: Duration,
    script: Arc<redis::Script>,
}

/// GCRA in one step. KEYS[1]: the cell; ARGV[1]: emission interval (ms); ARGV[2]: burst.
/// Returns 0 when allowed (and stores the new arrival time), else the milliseconds to wait.
const GCRA: &str = r"
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
local allowed_at = next_tat - tolerance
if allowed_at > now then return allowed_at - now end
redis.call('SET', KEYS[1], next_tat, 'PX', next_tat - now)
return 0
";

impl SharedStore {
    /// Connects lazily: an instance starts (and serves public pages) while Redis is down.
    pub fn new(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).map_err(|e| anyhow::anyhow!("ONESTOP_REDIS_URL: {e}"))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self { connection, timeout, script: Arc::new(redis::Script::new(GCRA)) })
    }

    /// Milliseconds to wait (0: allowed), or the store's failure.
    async fn take(&self, cell: &str, interval_ms: u64, burst: u32) -> anyhow::Result<u64> {
        let mut connection = self.connection.clone();
        let mut invocation = self.script.key(cell);
        invocation.arg(interval_ms).arg(burst);
        let answer = tokio::time::timeout(self.timeout, invocation.invoke_async::<u64>(&mut connection)).await;
        answer.map_err(|_| anyhow::anyhow!("no answer within {:?}", self.timeout))?.map_err(anyhow::Error::from)
    }
}

/// One named limit (`login-account`, `public-pages`, …) over keys of any kind.
pub struct RateLimit {
    name: &'static str,
    per_minute: u32,
    outage: Outage,
    local: DefaultKeyedRateLimiter<[u8; 32]>,
    shared: Option<SharedStore>,
    checks: AtomicU64,
    /// When this limit last logged a store failure (seconds since the epoch).
    last_failure_log: AtomicU64,
}

impl RateLimit {
    pub fn new(name: &'static str, per_minute: u32, outage: Outage, shared: Option<SharedStore>) -> Self {
        let per_minute = per_minute.max(1);
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        Self {
            name,
            per_minute,
            outage,
            local: RateLimiter::keyed(quota),
            shared,
            checks: AtomicU64::new(0),
            last_failure_log: AtomicU64::new(0),
        }
    }

    /// Takes one token of `key`'s bucket. Keys are hashed first: a client-chosen key of any
    /// length costs 32 bytes here and 64 hex digits in Redis, and Redis never sees an address
    /// or an email in clear.
    pub async fn check(&self, key: &[u8]) -> Result<(), Limited> {
        let hashed: [u8; 32] = Sha256::digest(key).into();
        match &self.shared {
            Some(store) => self.check_shared(store, &hashed).await,
            None => self.check_local(&hashed),
        }
    }

    fn check_local(&self, key: &[u8; 32]) -> Result<(), Limited> {
        // Now and then forget buckets that are full again, so the map stays as large as the
        // recent traffic, not as all traffic ever.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.local.retain_recent();
        }
        self.local
            .check_key(key)
            .map_err(|n| Limited::Wait(n.wait_time_from(DefaultClock::default().now()).as_secs().max(1)))
    }

    async fn check_shared(&self, store: &SharedStore, key: &[u8; 32]) -> Result<(), Limited> {
        let cell = format!("onestop:limit:{}:{}", self.name, hex::encode(key));
        let interval_ms = 60_000 / u64::from(self.per_minute);
        match store.take(&cell, interval_ms, self.per_minute).await {
            Ok(0) => Ok(()),
            Ok(wait_ms) => Err(Limited::Wait(wait_ms.div_ceil(1000).max(1))),
            Err(error) => self.store_failed(&error),
        }
    }

    fn store_failed(&self, error: &anyhow::Error) -> Result<(), Limited> {
        let outcome = match self.outage {
            Outage::Allow => "allowed",
            Outage::Refuse => "refused",
        };
        metrics::counter!("onestop_rate_limit_backend_failures_total", "limit" => self.name, "outcome" => outcome)
            .increment(1);
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let last = self.last_failure_log.load(Ordering::Relaxed);
        if now >= last + 10
            && self.last_failure_log.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            tracing::warn!(limit = self.name, outcome, error = %error, "the shared rate-limit store did not answer");
        }
        match self.outage {
            Outage::Allow => Ok(()),
            Outage::Refuse => Err(Limited::Unavailable),
        }
    }
}
