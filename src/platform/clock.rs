//! Timestamps as the databases keep them: PostgreSQL stores microseconds, so values are
//! truncated before they are written; what is read back then equals what was written (hashes,
//! cursors and comparisons agree on both databases).

use chrono::{DateTime, SubsecRound, Utc};

pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
