//! The use cases, one module per domain. Rules live here once: who may do what (`access`), every
//! state change as one transaction that writes the row, its audit event, its outbox and its live
//! event together, and the queries that read within the caller's scope.

pub mod access;
pub mod agents;
pub mod audit;
pub mod auth;
pub mod automatic;
pub mod cases;
pub mod deadlines;
pub mod documents;
pub mod filings;
pub mod inspections;
pub mod licences;
pub mod members;
pub mod merchants;
pub mod quality;
pub mod requirements;
pub mod shares;
pub mod stats;
pub mod trace;
pub mod webhooks;
