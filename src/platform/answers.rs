//! Answers kept between requests (issue 15): a read-only query asked again with the same
//! access token, document and variables is answered with the bytes of its last answer, as long
//! as nothing it may have read has changed since — and for at most `ONESTOP_ANSWER_CACHE_MS`
//! (1 s by default), because some fields follow the clock (`overdue`).
//!
//! What "nothing changed" means, as for kept scopes (`services::access::known`):
//! - PostgreSQL only, and only while the instance listens: triggers on every table but
//!   `UNWATCHED_TABLES` (migration 28) NOTIFY `onestop_data_changed` in the writing
//!   transaction; PostgreSQL delivers it at commit to every instance, which then drops every
//!   answer it kept. A mutation, a background worker, another instance or a hand-run SQL fix
//!   are all covered. SQLite keeps nothing (the command-line tools may write the same file).
//! - the instance that ran an operation which wrote such a table drops them as the operation
//!   returns (`platform::writes`), so a client reads its own writes at once;
//! - an answer computed while something changed is never kept (the generation read before
//!   the query ran must still stand when it is kept);
//! - only queries whose every root field is in `CACHEABLE_ROOTS` (case-workflow reads with no
//!   side effect), only answers without errors, only for a caller whose token verified
//!   (the token is part of the key: one caller's answer never reaches another), never with
//!   `Cache-Control: no-cache` or an `Idempotency-Key`.
//!
//! Revocation stays immediate: a token that no longer verifies never reaches the cache, and
//! deactivating an account or revoking a client writes a watched table.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// The PostgreSQL channel migration 28's triggers notify.
pub const CHANNEL: &str = "onestop_data_changed";

/// Tables no kept answer is read from (logs, queues, secrets): writes to them do not drop
/// answers. Migration 28 puts its trigger on every other table; a test checks that they agree.
pub const UNWATCHED_TABLES: [&str; 9] = [
    "idempotency_keys",
    "jobs",
    "one_time_tokens",
    "refresh_tokens",
    "seaql_migrations",
    "security_events",
    "trace_scan_addresses",
    "trace_scans",
    "webhook_deliveries",
];

/// Root fields whose answers may be kept: reads of the case workflow, which write nothing and
/// read none of `UNWATCHED_TABLES`.
pub const CACHEABLE_ROOTS: [&str; 6] = ["__typename", "case", "cases", "filing", "reviewQueue", "workload"];

/// The longest `ONESTOP_ANSWER_CACHE_MS` allowed: fields follow the clock.
pub const LONGEST: Duration = Duration::from_secs(60);

/// All kept answers together stay under this many bytes (keys and bodies); the least recently
/// used go first.
const MOST_BYTES: usize = 8 * 1024 * 1024;
/// A larger answer is not kept.
const LARGEST: usize = 256 * 1024;

pub fn is_watched(table: &str) -> bool {
    !UNWATCHED_TABLES.iter().any(|t| t.eq_ignore_ascii_case(table))
}

/// An answer as it was sent, with the operation's label for the metrics.
#[derive(Clone)]
pub struct Answer {
    pub body: String,
    pub label: Option<String>,
}

struct Kept {
    answer: Answer,
    generation: u64,
    until: Instant,
}

struct Store {
    answers: lru::LruCache<String, Kept>,
    bytes: usize,
}

pub struct KeptAnswers {
    /// Zero: nothing is kept.
    ttl: Duration,
    /// Moves on every possible change; a kept answer stands only with the generation it was
    /// computed under.
    generation: AtomicU64,
    listening: AtomicBool,
    store: Mutex<Store>,
}

impl KeptAnswers {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            store: Mutex::new(Store { answers: lru::LruCache::unbounded(), bytes: 0 }),
        }
    }

    /// The kept answer for `key`, if it still stands.
    pub fn get(&self, key: &str) -> Option<Answer> {
        let generation = self.generation()?;
        let mut store = self.store.lock().ok()?;
        let kept = store.answers.get(key)?;
        (kept.generation == generation && Instant::now() < kept.until).then(|| kept.answer.clone())
    }

    /// The generation to compute an answer under, or `None` when nothing may be kept now.
    pub fn generation(&self) -> Option<u64> {
        (!self.ttl.is_zero() && self.listening.load(Ordering::Acquire)).then(|| self.generation.load(Ordering::Acquire))
    }

    /// Keeps an answer computed under `generation`, unless something changed since.
    pub fn keep(&self, key: String, answer: Answer, generation: u64) {
        let body_len = answer.body.len();
        let size = key.len() + body_len;
        if size > LARGEST || self.generation() != Some(generation) {
            return;
        }
        // Not past China midnight either: an agent's grants end with the day, unwritten.
        let until = Instant::now() + self.ttl.min(crate::services::access::known::until_china_midnight());
        let Ok(mut store) = self.store.lock() else { return };
        // Under the lock: `changed` bumps and clears under it too, so an answer computed before
        // a change cannot slip in after the clear.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        match store.answers.put(key, Kept { answer, generation, until }) {
            Some(old) => store.bytes = store.bytes.saturating_sub(old.answer.body.len()) + body_len,
            None => store.bytes += size,
        }
        while store.bytes > MOST_BYTES {
            let Some((key, old)) = store.answers.pop_lru() else { break };
            store.bytes = store.bytes.saturating_sub(key.len() + old.answer.body.len());
        }
    }

    /// Something an answer may have read changed: drop every kept answer.
    pub fn changed(&self) {
        let store = self.store.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut store) = store {
            store.answers.clear();
            store.bytes = 0;
        }
    }

    /// The listener is listening (after its `LISTEN`) or lost its connection: either way
    /// notifications may have been missed, so what was kept is dropped.
    pub fn listening(&self, on: bool) {
        self.listening.store(on, Ordering::Release);
        self.changed();
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.store.lock().map(|s| s.bytes).unwrap_or(0)
    }
}

/// What identifies an answer: the caller's token (its SHA-256: tokens are not kept in memory)
/// and everything the request asks. Built only for callers whose token verified.
pub fn key(token: &str, request: &async_graphql::Request) -> Option<String> {
    use sha2::{Digest, Sha256};
    if !request.uploads.is_empty() {
        return None;
    }
    let variables = serde_json::to_string(&request.variables).ok()?;
    let extensions = if request.extensions.is_empty() { String::new() } else { serde_json::to_string(&request.extensions).ok()? };
    let operation = request.operation_name.as_deref().unwrap_or_default();
    let token = hex::encode(Sha256::digest(token.as_bytes()));
    Some(format!("{token}\u{0}{operation}\u{0}{variables}\u{0}{extensions}\u{0}{}", request.query))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> Answer {
        Answer { body: body.into(), label: None }
    }

    #[test]
    fn an_answer_is_kept_only_while_listening_and_only_under_its_generation() {
        let kept = KeptAnswers::new(Duration::from_secs(60));
        assert_eq!(kept.generation(), None, "nothing is kept before the listener listens");
        kept.listening(true);
        let generation = kept.generation().expect("listening");
        kept.keep("a".into(), answer("{}"), generation);
        assert_eq!(kept.get("a").map(|a| a.body), Some("{}".to_string()));

        // Computed before a change, offered after it: not kept; and the change dropped the rest.
        let before = kept.generation().expect("listening");
        kept.changed();
        kept.keep("b".into(), answer("{}"), before);
        assert!(kept.get("a").is_none() && kept.get("b").is_none());

        kept.keep("c".into(), answer("{}"), kept.generation().expect("listening"));
        kept.listening(false);
        assert!(kept.get("c").is_none());
        assert_eq!(kept.generation(), None);

        let off = KeptAnswers::new(Duration::ZERO);
        off.listening(true);
        assert_eq!(off.generation(), None, "a zero lifetime keeps nothing");
    }

    #[test]
    fn kept_answers_stay_under_their_byte_budget_and_expire() {
        let kept = KeptAnswers::new(Duration::from_millis(30));
        kept.listening(true);
        let generation = kept.generation().expect("listening");
        let body = "x".repeat(100 * 1024);
        for n in 0..200 {
            kept.keep(format!("key {n}"), answer(&body), generation);
        }
        assert!(kept.bytes() <= MOST_BYTES, "{} bytes", kept.bytes());
        assert!(kept.get("key 199").is_some() && kept.get("key 0").is_none(), "the least recently used went first");
        kept.keep("huge".into(), answer(&"x".repeat(LARGEST + 1)), generation);
        assert!(kept.get("huge").is_none());
        std::thread::sleep(Duration::from_millis(40));
        assert!(kept.get("key 199").is_none(), "expired");
    }

    #[test]
    fn only_log_and_secret_tables_are_unwatched() {
        assert!(is_watched("filings") && is_watched("users") && is_watched("product_batches"));
        assert!(!is_watched("trace_scans") && !is_watched("refresh_tokens") && !is_watched("security_events"));
    }
}
