//! Users' scopes kept between requests on PostgreSQL, so a request does not read the account,
//! its regions and shares again (one statement of the two a review-queue page costs).
//!
//! Kept only while nothing that a scope is read from may have changed: triggers on those tables
//! (`users`, `user_regions`, `case_shares`, `merchant_members`, `agent_authorizations`;
//! migration 26) NOTIFY `onestop_access_changed` in the changing transaction, PostgreSQL
//! delivers it at commit to every instance, and each instance then drops every scope it
//! kept. Whatever changes them — a mutation, a spot check that shares cases, a hand-run SQL fix,
//! another instance — is covered, without a list of the code paths to keep up to date. On
//! top of that:
//! - the instance that ran an operation which wrote one of those tables drops its scopes as the
//!   operation returns, so its own next request never waits on the notification (every
//!   statement passes `platform::writes`; other mutations leave the kept scopes alone);
//! - nothing is kept while the listener is not listening (start-up, a lost connection: what was
//!   kept is dropped when it listens again, as notifications may have been missed);
//! - a scope loaded before a change is never kept after it (the generation read before the load
//!   must still stand), and none is kept past the next China midnight (an agent's grants end
//!   with the day) or past `MAX_AGE`;
//! - API clients' scopes are not kept (an agency client's regions follow its filings).
//!
//! SQLite (one instance, but the command-line tools may write the same file) keeps nothing.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use uuid::Uuid;

use super::Scope;

/// The PostgreSQL channel the access triggers notify.
pub const CHANNEL: &str = "onestop_access_changed";

/// However quiet the tables, a kept scope is read again after this long.
const MAX_AGE: Duration = Duration::from_secs(300);

/// Past this many kept scopes, the expired ones are swept before another is kept (and all, if
/// none had expired): the map stays small on an instance that sees no change for long.
const MOST_KEPT: usize = 4096;

/// The tables scopes are read from: the tables migration 26 puts its triggers on.
const ACCESS_TABLES: [&str; 5] = ["users", "user_regions", "case_shares", "merchant_members", "agent_authorizations"];

/// Whether a statement writing `table` may change a scope.
pub fn is_access_table(table: &str) -> bool {
    ACCESS_TABLES.iter().any(|a| a.eq_ignore_ascii_case(table))
}

#[derive(Default)]
pub struct KnownScopes {
    /// Moves on every possible change; a kept scope stands only with the generation it was
    /// loaded under.
    generation: AtomicU64,
    listening: AtomicBool,
    kept: Mutex<HashMap<Uuid, Kept>>,
}

struct Kept {
    scope: Scope,
    generation: u64,
    until: Instant,
}

impl KnownScopes {
    /// The user's kept scope, if it still stands.
    pub fn get(&self, user_id: Uuid) -> Option<Scope> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        let generation = self.generation.load(Ordering::Acquire);
        let kept = self.kept.lock().ok()?;
        kept.get(&user_id).filter(|k| k.generation == generation && Instant::now() < k.until).map(|k| k.scope.clone())
    }

    /// The generation to load a scope under, or `None` when nothing may be kept now.
    pub fn generation(&self) -> Option<u64> {
        self.listening.load(Ordering::Acquire).then(|| self.generation.load(Ordering::Acquire))
    }

    /// Keeps a scope loaded under `generation`, unless something changed since.
    pub fn keep(&self, scope: &Scope, generation: u64) {
        if !self.listening.load(Ordering::Acquire) {
            return;
        }
        let until = Instant::now() + MAX_AGE.min(until_china_midnight());
        if let Ok(mut kept) = self.kept.lock() {
            // Under the lock: `changed` bumps and clears under it too, so a scope loaded before
            // a change cannot slip in after the clear.
            if self.generation.load(Ordering::Acquire) == generation {
                if kept.len() >= MOST_KEPT {
                    let now = Instant::now();
                    kept.retain(|_, k| k.until > now);
                    if kept.len() >= MOST_KEPT {
                        kept.clear();
                    }
                }
                kept.insert(scope.user_id(), Kept { scope: scope.clone(), generation, until });
            }
        }
    }

    /// Access may have changed: drop every kept scope.
    pub fn changed(&self) {
        match self.kept.lock() {
            Ok(mut kept) => {
                self.generation.fetch_add(1, Ordering::AcqRel);
                kept.clear();
            }
            Err(_) => {
                self.generation.fetch_add(1, Ordering::AcqRel);
            }
        }
    }

    /// The listener is listening (after its `LISTEN`) or lost its connection: either way
    /// notifications may have been missed, so what was kept is dropped.
    pub fn listening(&self, on: bool) {
        self.listening.store(on, Ordering::Release);
        self.changed();
    }
}

pub(crate) fn until_china_midnight() -> Duration {
    let now = crate::platform::clock::now().with_timezone(&crate::platform::clock::china());
    let tomorrow = now.date_naive().succ_opt().and_then(|d| d.and_hms_opt(0, 0, 0));
    let left = tomorrow.map(|t| (t - now.naive_local()).num_milliseconds()).unwrap_or(0);
    Duration::from_millis(u64::try_from(left).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin(n: u128) -> Scope {
        Scope::Admin { user_id: Uuid::from_u128(n) }
    }

    #[test]
    fn writes_to_access_tables_are_told_from_other_tables() {
        assert!(is_access_table("case_shares") && is_access_table("USERS") && is_access_table("agent_authorizations"));
        assert!(!is_access_table("filings") && !is_access_table("audit_events") && !is_access_table(""));
    }

    #[test]
    fn a_scope_is_kept_only_while_listening_and_only_under_the_generation_it_was_loaded_in() {
        let known = KnownScopes::default();
        assert_eq!(known.generation(), None, "nothing is kept before the listener listens");
        known.keep(&admin(1), 0);
        assert!(known.get(Uuid::from_u128(1)).is_none());

        known.listening(true);
        let generation = known.generation().expect("listening");
        known.keep(&admin(1), generation);
        assert!(known.get(Uuid::from_u128(1)).is_some());

        // Loaded before a change, offered after it: not kept; and the change dropped the rest.
        let before = known.generation().expect("listening");
        known.changed();
        known.keep(&admin(2), before);
        assert!(known.get(Uuid::from_u128(1)).is_none() && known.get(Uuid::from_u128(2)).is_none());

        // A lost listener drops everything and keeps nothing until it listens again.
        known.keep(&admin(3), known.generation().expect("listening"));
        known.listening(false);
        assert!(known.get(Uuid::from_u128(3)).is_none());
        assert_eq!(known.generation(), None);
    }

    #[test]
    fn the_kept_scopes_stay_few() {
        let known = KnownScopes::default();
        known.listening(true);
        let generation = known.generation().expect("listening");
        for n in 0..(MOST_KEPT as u128 + 10) {
            known.keep(&admin(n), generation);
        }
        let kept = known.kept.lock().expect("lock").len();
        assert!(kept <= MOST_KEPT, "{kept} kept");
    }
}
