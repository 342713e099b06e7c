//! argon2id hashing on a small pool of its own threads, so a burst of logins cannot stall the
//! async workers that serve every other request, nor take every core: at most
//! `ONESTOP_PASSWORD_HASH_CONCURRENCY` hashes run at once (default: half the cores), at a lower
//! CPU priority (nice +10). Under a login flood the logins queue and slow down; queue reads and
//! decisions keep the machine. The queue itself is bounded (`ONESTOP_PASSWORD_HASH_QUEUE`): a
//! flood from many addresses cannot make every login wait behind it — past the bound the
//! answer is SERVICE_UNAVAILABLE at once (retry shortly).

use std::{
    panic::AssertUnwindSafe,
    sync::{Arc, LazyLock, Mutex, OnceLock, mpsc},
};

use anyhow::anyhow;
use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};

use crate::error::{AppError, AppResult};

/// How much a new hash costs: argon2id with `memory_kib`, `iterations`, `parallelism`. The
/// default (m=19456 KiB, t=2, p=1) is the OWASP recommendation and the production minimum;
/// tests use less (`ONESTOP_ARGON2_*`). A hash carries its own parameters, so changing them
/// never locks anyone out: verification reads them from the stored hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl HashCost {
    pub const OWASP: Self = Self { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 };

    /// Refuses a cost argon2 cannot run, and, in production, one below the OWASP setting.
    pub fn check(self, production: bool) -> anyhow::Result<Self> {
        argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| anyhow!("ONESTOP_ARGON2_*: {e}"))?;
        if production && (self.memory_kib < Self::OWASP.memory_kib || self.iterations < Self::OWASP.iterations) {
            anyhow::bail!(
                "ONESTOP_ARGON2_MEMORY_KIB and ONESTOP_ARGON2_ITERATIONS may not be below {} KiB and {} in production",
                Self::OWASP.memory_kib,
                Self::OWASP.iterations
            );
        }
        Ok(self)
    }
}

impl Default for HashCost {
    fn default() -> Self {
        Self::OWASP
    }
}

static COST: OnceLock<HashCost> = OnceLock::new();

/// Sets the cost of new hashes for this process; the first call wins (`Application::build`).
pub fn set_cost(cost: HashCost) {
    let _ = COST.set(cost);
}

fn hasher() -> Argon2<'static> {
    let cost = COST.get().copied().unwrap_or_default();
    match argon2::Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None) {
        Ok(params) => Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params),
        // Checked at start-up (`HashCost::check`); the OWASP default otherwise.
        Err(_) => Argon2::default(),
    }
}

type Job = Box<dyn FnOnce() + Send>;

static POOL: OnceLock<mpsc::SyncSender<Job>> = OnceLock::new();

/// Jobs waiting beyond those running, by default.
pub const DEFAULT_QUEUE: usize = 64;

/// Starts the hashing threads with room for `queue` waiting jobs; the first call wins
/// (`Application::build` makes it).
pub fn start_pool(threads: usize, queue: usize) {
    let _ = POOL.set(spawn_pool(threads, queue));
}

pub fn default_concurrency() -> usize {
    std::thread::available_parallelism().map(|n| n.get() / 2).unwrap_or(1).max(1)
}

fn spawn_pool(threads: usize, queue: usize) -> mpsc::SyncSender<Job> {
    let (sender, receiver) = mpsc::sync_channel::<Job>(queue);
    let receiver = Arc::new(Mutex::new(receiver));
    for i in 0..threads.max(1) {
        let receiver = receiver.clone();
        let spawned = std::thread::Builder::new().name(format!("argon2-{i}")).spawn(move || {
            lower_priority();
            loop {
                let job = match receiver.lock() {
                    Ok(queue) => queue.recv(),
                    Err(_) => return,
                };
                let Ok(job) = job else { return };
                // A panicking hash must not take its thread (and a share of the pool) with it.
                let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
            }
        });
        if let Err(err) = spawned {
            tracing::error!(error = %err, "could not start a password hashing thread");
        }
    }
    sender
}

/// nice +10 for the calling thread: argon2 gets the cores the requests leave over.
#[allow(unsafe_code)]
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread's own id; no memory is shared.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

/// Runs one argon2 computation on the hashing pool.
async fn on_pool<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    let pool = POOL.get_or_init(|| spawn_pool(default_concurrency(), DEFAULT_QUEUE));
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        // The request gave up (client gone, timeout): do not spend a core on it.
        if !done.is_closed() {
            let _ = done.send(work());
        }
    });
    match pool.try_send(job) {
        Ok(()) => {}
        Err(mpsc::TrySendError::Full(_)) => {
            metrics::counter!("onestop_password_hash_queue_full_total").increment(1);
            tracing::warn!("password hashing queue full; refusing");
            return Err(AppError::Unavailable("too many password checks are waiting".into()));
        }
        Err(mpsc::TrySendError::Disconnected(_)) => return Err(anyhow!("password hashing pool is gone").into()),
    }
    Ok(result.await.map_err(|_| anyhow!("password hashing failed"))?)
}

pub async fn hash_password(password: String) -> AppResult<String> {
    on_pool(move || {
        hasher().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| anyhow!("hashing password: {e}"))
    })
    .await?
    .map_err(AppError::from)
}

/// A hash of a password nobody knows, verified when the account does not exist (or has no
/// password yet) so that a wrong email costs the same time as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hasher()
        .hash_password(crate::services::auth::tokens::random_token().as_bytes())
        .map(|h| h.to_string())
        .unwrap_or_default()
});

/// True when `password` matches `stored`; with `None` runs a full verification anyway.
pub async fn verify_password(password: String, stored: Option<String>) -> AppResult<bool> {
    on_pool(move || {
        let (hash, real) = match stored {
            Some(h) => (h, true),
            None => (DUMMY_HASH.clone(), false),
        };
        let parsed = match PasswordHash::new(&hash) {
            Ok(p) => p,
            Err(e) => return Err(anyhow!("stored password hash unreadable: {e}")),
        };
        let matches = hasher().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(real && matches)
    })
    .await?
    .map_err(AppError::from)
}

#[cfg(test)]
mod tests {
    use super::HashCost;

    #[test]
    fn production_refuses_a_cost_below_the_owasp_setting() {
        let cheap = HashCost { memory_kib: 64, iterations: 1, parallelism: 1 };
        assert!(cheap.check(false).is_ok(), "development and tests may use less");
        assert!(
            cheap
                .check(true)
                .expect_err("refused")
                .to_string()
                .contains("may not be below 19456 KiB and 2 in production")
        );
        assert!(HashCost::OWASP.check(true).is_ok());
        assert!(
            HashCost { memory_kib: 1, iterations: 1, parallelism: 1 }.check(false).is_err(),
            "argon2's own minimum"
        );
    }
}
