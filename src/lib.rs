//! onestop: the one-stop ("single window") filing portal backend, in layers (outside in):
//!
//! - [`http`]: routes, the GraphQL endpoint, live sockets, public pages, health and metrics;
//! - [`graphql`]: the schema — thin resolvers that read the caller and call a service;
//! - [`services`]: the use cases, one module per domain; every rule that needs the database,
//!   every state change (one transaction each) and who may make it;
//! - [`domain`]: values and rules without I/O (identifiers, the state machine, certificates);
//! - [`platform`]: what the layers run on — database, clock, live events, email outbox,
//!   sealing, idempotency, telemetry, pagination.
//!
//! Beside them: [`app`] (start-up, serve, shut down; demo data), [`config`] (`ONESTOP_*`
//! settings) and [`error`] (the one error type and its mapping to `extensions.code`).

pub mod app;
pub mod config;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod platform;
pub mod services;

/// rustls finds two crypto providers in this build (lettre brings ring, others aws-lc-rs) and
/// panics unless one is chosen before the first TLS connection.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
