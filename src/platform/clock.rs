//! Timestamps as the databases keep them: PostgreSQL stores microseconds, so values are
//! truncated before they are written; what is read back then equals what was written (hashes,
//! cursors and comparisons agree on both databases).

use chrono::{DateTime, SubsecRound, Utc};

pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// China Standard Time (UTC+8), in which dates on licences, references and pages are written.
pub fn china() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// Today's date in China.
pub fn china_today() -> chrono::NaiveDate {
    now().with_timezone(&china()).date_naive()
}

/// The time scheduled work goes by: which jobs are due, what a sweep finds late or expiring,
/// a webhook's retry window. It is the wall clock, unless a test moved it ahead
/// (`advance`) to reach scheduled work without waiting; nothing outside tests moves it.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    ahead_micros: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        now() + chrono::Duration::microseconds(self.ahead_micros.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Today's date in China by this clock.
    pub fn china_today(&self) -> chrono::NaiveDate {
        self.now().with_timezone(&china()).date_naive()
    }

    /// Moves this clock ahead by `by` (tests: "a day later" without a day's wait).
    pub fn advance(&self, by: std::time::Duration) {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.ahead_micros.fetch_add(micros, std::sync::atomic::Ordering::SeqCst);
    }
}
