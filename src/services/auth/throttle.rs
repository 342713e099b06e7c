//! Throttling of the authentication endpoints (login, password reset, sign-up, the OAuth token
//! endpoint): a bucket per account key (`login:…`, `reset:…`, `client:…`) and per client
//! address — an IPv6 address by its /64. Buckets refill, so an attacker can slow an account down
//! but never lock it out for good. Shared by every instance when Redis is configured
//! (`platform::limits`); if Redis does not answer, these limits refuse (fail closed).

use std::net::IpAddr;

use crate::{
    error::{AppError, AppResult},
    platform::limits::{Limited, Outage, RateLimit, SharedStore},
};

pub struct LoginThrottle {
    per_account: RateLimit,
    per_address: RateLimit,
}

impl LoginThrottle {
    pub fn new(per_account_per_minute: u32, per_address_per_minute: u32, shared: Option<SharedStore>) -> Self {
        Self {
            per_account: RateLimit::new("login-account", per_account_per_minute, Outage::Refuse, shared.clone()),
            per_address: RateLimit::new("login-address", per_address_per_minute, Outage::Refuse, shared),
        }
    }

    /// `RATE_LIMITED` (with the seconds to wait) when either bucket is empty; `UNAVAILABLE`
    /// when the shared limits cannot be asked.
    pub async fn check(&self, account: &str, address: Option<IpAddr>) -> AppResult<()> {
        if let Some(address) = address {
            let key = crate::http::rate_key(address).to_string();
            self.per_address.check(key.as_bytes()).await.map_err(|limited| refusal(limited, "a client address"))?;
        }
        let key = account.trim().to_lowercase();
        self.per_account.check(key.as_bytes()).await.map_err(|limited| refusal(limited, "an account"))
    }
}

fn refusal(limited: Limited, whose: &str) -> AppError {
    match limited {
        Limited::Wait(retry_after_secs) => {
            tracing::warn!("login throttled for {whose}");
            AppError::RateLimited { retry_after_secs }
        }
        Limited::Unavailable => {
            AppError::Unavailable("sign-in is paused for a moment: the rate limits cannot be checked".into())
        }
    }
}
