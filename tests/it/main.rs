//! Integration tests: each one starts the real server on a random port with a fresh database
//! (SQLite file and PostgreSQL database) and a real SMTP listener, and drives it over HTTP.

mod databases;
mod draining;
mod fixtures;
mod helpers;
mod hooks;
mod inspection_plans;
mod integrators;
mod introspect;
mod jobs;
mod live;
mod live_access;
mod migrations;
mod servers;
mod smtp;
mod templates;

mod access;
mod accounts;
mod agents;
mod change_cases;
mod corrections;
mod cross_region;
mod decisions;
mod declared_uscc;
mod documents;
mod faults;
mod gs1;
mod hardening;
mod joint_supervision;
mod known_scopes;
mod licences;
mod members;
mod ops;
mod overload;
mod people_story;
mod privacy;
mod processing_times;
mod profile;
mod properties;
mod public_surface;
mod requirements;
mod rule_budget;
mod sessions;
mod shared_limits;
mod shared_masking;
mod snapshots;
mod statement_counts;
mod stats;
mod story;
mod sweep;
#[cfg(feature = "otlp")]
mod telemetry;
mod trace;
mod webhook_guard;
mod workflow;
