//! onestop: the one-stop ("single window") filing portal backend.

pub mod access;
pub mod app;
pub mod audit;
pub mod cases;
pub mod clock;
pub mod auth;
pub mod config;
pub mod db;
pub mod deadlines;
pub mod documents;
pub mod domain;
pub mod error;
pub mod events;
pub mod filings;
pub mod graphql;
pub mod idempotency;
pub mod http;
pub mod merchants;
pub mod notify;
pub mod pagination;
pub mod quality;
pub mod sealed;
pub mod seed;
pub mod state;
pub mod telemetry;
pub mod trace;
pub mod webhooks;

/// rustls finds two crypto providers in this build (lettre brings ring, others aws-lc-rs) and
/// panics unless one is chosen before the first TLS connection.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
