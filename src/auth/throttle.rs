//! Throttling of the authentication endpoints (login, password reset, the OAuth token
//! endpoint): token buckets per account key (`login:…`, `reset:…`, `client:…`) and per client
//! address (governor). Buckets refill, so an attacker can slow an account down but never lock
//! it out for good.

use std::{net::IpAddr, num::NonZeroU32};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::{Clock, DefaultClock}};

use crate::error::{AppError, AppResult};

pub struct LoginThrottle {
    per_account: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
}

fn quota(per_minute: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl LoginThrottle {
    pub fn new(per_account_per_minute: u32, per_address_per_minute: u32) -> Self {
        Self {
            per_account: RateLimiter::keyed(quota(per_account_per_minute)),
            per_address: RateLimiter::keyed(quota(per_address_per_minute)),
        }
    }

    /// `RATE_LIMITED` (with the seconds to wait) when either bucket is empty.
    pub fn check(&self, account: &str, address: Option<IpAddr>) -> AppResult<()> {
        let wait = |not_until: governor::NotUntil<governor::clock::QuantaInstant>| AppError::RateLimited {
            retry_after_secs: not_until.wait_time_from(DefaultClock::default().now()).as_secs().max(1),
        };
        if let Some(address) = address {
            self.per_address.check_key(&address).map_err(|n| {
                tracing::warn!("login throttled for a client address");
                wait(n)
            })?;
        }
        self.per_account.check_key(&account.trim().to_lowercase()).map_err(|n| {
            tracing::warn!("login throttled for an account");
            wait(n)
        })
    }
}
