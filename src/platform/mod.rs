//! What the services run on: the database connection, the clock, live events across
//! instances, the email outbox, sealed secrets, idempotency keys, telemetry and pagination.

pub mod clock;
pub mod db;
pub mod events;
pub mod idempotency;
pub mod jobs;
pub mod limits;
pub mod notify;
pub mod pagination;
pub mod rows;
pub mod rule_runner;
pub mod sealed;
pub mod state;
pub mod telemetry;
pub mod writes;
