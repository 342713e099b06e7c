//! Database migrations, applied in order by `onestop serve` / `onestop migrate`.
pub use sea_orm_migration::prelude::*;

mod m20261125_000001_accounts_and_outbox;
mod m20261125_000002_cases_and_filings;
mod m20261125_000003_trace_and_quality;
mod m20261125_000004_documents_and_clients;
mod m20261125_000005_deadline_notices;
mod m20261125_000006_webhooks;
mod m20261126_000007_security_events;
mod m20261126_000008_sealed_webhook_secrets;
mod m20261126_000009_audit_via_client;
mod m20261126_000010_declared_uscc;
mod m20261126_000011_user_regions;
mod m20261126_000012_certificate_numbers;
mod m20261127_000013_requirements;
mod m20261127_000014_decisions_and_corrections;
mod m20261127_000015_decision_rule_generation;
mod m20261128_000016_licences;
mod m20261128_000017_members_and_agents;
mod m20261128_000018_gs1_digital_link;
mod m20261128_000019_case_shares;
mod m20261128_000020_cross_region_filing;
mod m20261128_000021_processing_times;
mod m20261128_000022_inspection_plans;
mod m20261129_000023_received_rollup;
mod m20261129_000024_decided_rollup;
mod m20261129_000025_filing_office;
mod m20261130_000026_access_changed;
mod m20261201_000027_delivery_traceparent;
mod m20261202_000028_data_changed;
mod m20261204_000029_jobs;
mod m20261204_000030_no_kept_answers;

/// The statement that counts every recorded decision into the monthly rollup (migration 24,
/// and `onestop rebuild-stats` after rows were fixed by hand).
pub use m20261129_000024_decided_rollup::backfill as decided_rollup_backfill;
mod rows;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_accounts_and_outbox::Migration),
            Box::new(m20261125_000002_cases_and_filings::Migration),
            Box::new(m20261125_000003_trace_and_quality::Migration),
            Box::new(m20261125_000004_documents_and_clients::Migration),
            Box::new(m20261125_000005_deadline_notices::Migration),
            Box::new(m20261125_000006_webhooks::Migration),
            Box::new(m20261126_000007_security_events::Migration),
            Box::new(m20261126_000008_sealed_webhook_secrets::Migration),
            Box::new(m20261126_000009_audit_via_client::Migration),
            Box::new(m20261126_000010_declared_uscc::Migration),
            Box::new(m20261126_000011_user_regions::Migration),
            Box::new(m20261126_000012_certificate_numbers::Migration),
            Box::new(m20261127_000013_requirements::Migration),
            Box::new(m20261127_000014_decisions_and_corrections::Migration),
            Box::new(m20261127_000015_decision_rule_generation::Migration),
            Box::new(m20261128_000016_licences::Migration),
            Box::new(m20261128_000017_members_and_agents::Migration),
            Box::new(m20261128_000018_gs1_digital_link::Migration),
            Box::new(m20261128_000019_case_shares::Migration),
            Box::new(m20261128_000020_cross_region_filing::Migration),
            Box::new(m20261128_000021_processing_times::Migration),
            Box::new(m20261128_000022_inspection_plans::Migration),
            Box::new(m20261129_000023_received_rollup::Migration),
            Box::new(m20261129_000024_decided_rollup::Migration),
            Box::new(m20261129_000025_filing_office::Migration),
            Box::new(m20261130_000026_access_changed::Migration),
            Box::new(m20261201_000027_delivery_traceparent::Migration),
            Box::new(m20261202_000028_data_changed::Migration),
            Box::new(m20261204_000029_jobs::Migration),
            Box::new(m20261204_000030_no_kept_answers::Migration),
        ]
    }
}
