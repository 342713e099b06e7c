//! sea-orm entities of onestop, one module per table. Identifiers are UUID v7 (time-ordered,
//! so primary-key indexes stay append-mostly); timestamps are UTC.

pub mod agent;
pub mod agent_authorization;
pub mod api_client;
pub mod audit_event;
pub mod case;
pub mod case_counter;
pub mod case_share;
pub mod comment;
pub mod correction_item;
pub mod decision_record;
pub mod decision_rule;
pub mod decision_rule_version;
pub mod document;
pub mod enums;
pub mod idempotency_key;
pub mod licence;
pub mod licence_event;
pub mod filing;
pub mod merchant;
pub mod merchant_member;
pub mod one_time_token;
pub mod product_batch;
pub mod outbox_message;
pub mod refresh_token;
pub mod requirement_rule;
pub mod requirement_rule_version;
pub mod rule_counter;
pub mod security_event;
pub mod spot_check;
pub mod trace_scan;
pub mod trace_scan_address;
pub mod user;
pub mod user_region;
pub mod webhook_delivery;
pub mod webhook_endpoint;
