//! Throttling of the authentication endpoints (login, password reset, the OAuth token
//! endpoint): token buckets per account key (`login:…`, `reset:…`, `client:…`) and per client
//! address — an IPv6 address by its /64 — (governor). Buckets refill, so an attacker can slow an account down but never lock
//! it out for good.

use std::{
    net::IpAddr,
    num::NonZeroU32,
    sync::atomic::{AtomicU64, Ordering},
};

use sha2::{Digest, Sha256};

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

use crate::error::{AppError, AppResult};

pub struct LoginThrottle {
    per_account: DefaultKeyedRateLimiter<[u8; 32]>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    checks: AtomicU64,
}

fn quota(per_minute: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl LoginThrottle {
    pub fn new(per_account_per_minute: u32, per_address_per_minute: u32) -> Self {
        Self {
            per_account: RateLimiter::keyed(quota(per_account_per_minute)),
            per_address: RateLimiter::keyed(quota(per_address_per_minute)),
            checks: AtomicU64::new(0),
        }
    }

    /// `RATE_LIMITED` (with the seconds to wait) when either bucket is empty.
    pub fn check(&self, account: &str, address: Option<IpAddr>) -> AppResult<()> {
        // Now and then forget buckets that are full again, so the maps stay as large as the
        // recent traffic, not as all traffic ever.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.per_account.retain_recent();
            self.per_address.retain_recent();
        }
        let wait = |not_until: governor::NotUntil<governor::clock::QuantaInstant>| AppError::RateLimited {
            retry_after_secs: not_until.wait_time_from(DefaultClock::default().now()).as_secs().max(1),
        };
        if let Some(address) = address {
            self.per_address.check_key(&crate::http::rate_key(address)).map_err(|n| {
                tracing::warn!("login throttled for a client address");
                wait(n)
            })?;
        }
        // Keyed by a hash: a client-chosen "email" of any length costs 32 bytes, not its size.
        let key: [u8; 32] = Sha256::digest(account.trim().to_lowercase().as_bytes()).into();
        self.per_account.check_key(&key).map_err(|n| {
            tracing::warn!("login throttled for an account");
            wait(n)
        })
    }
}
