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
