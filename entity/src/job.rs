use sea_orm::entity::prelude::*;

/// A piece of background work (`platform::jobs`): an email to send, and soon the other loops'
/// work. Written in the transaction of the change that causes it; claimed by a runner under a
/// lease, retried with one backoff rule, parked after its kind's number of attempts.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// What runs it: `email`, …
    pub kind: String,
    /// The job's own data as JSON (never shown: it may hold an email's text).
    pub payload: String,
    pub state: crate::enums::JobStatus,
    /// When it may run (next): its schedule, or its retry after a failure.
    pub run_at: DateTimeUtc,
    /// Runs started so far.
    pub attempts: i32,
    /// While RUNNING: when the runner's claim lapses and another may take it.
    pub lease_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    /// At most one job carries it (unique): enqueued once however often.
    pub dedupe_key: Option<String>,
    /// Jobs with the same key run one at a time, in the order they were enqueued.
    pub ordering_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
