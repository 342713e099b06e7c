use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables whose writes did not notify: logs, queues and secrets, which no kept answer read.
const UNWATCHED: &str = "'idempotency_keys', 'one_time_tokens', 'outbox_messages', 'refresh_tokens', 'seaql_migrations', \
    'security_events', 'trace_scan_addresses', 'trace_scans', 'webhook_deliveries'";

/// PostgreSQL: every change of any other table notifies `onestop_data_changed` in its own
/// transaction — delivered at commit to every instance, which then drops the answers it kept
/// (`platform::answers`). Statement-level triggers with an empty payload: PostgreSQL folds the
/// notifications of one transaction into one. SQLite kept no answers and needed nothing.
/// Kept answers were removed in issue 25; migration 30 drops these triggers again.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_triggers(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_triggers(manager).await
    }
}

/// The function and a trigger on every watched table (also what migration 30 undoes).
pub(crate) async fn create_triggers(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    manager
        .get_connection()
        .execute_unprepared(&format!(
                "CREATE FUNCTION onestop_data_changed() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN PERFORM pg_notify('onestop_data_changed', ''); RETURN NULL; END $$; \
                 DO $$ DECLARE t text; BEGIN \
                   FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename NOT IN ({UNWATCHED}) LOOP \
                     EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I \
                       FOR EACH STATEMENT EXECUTE FUNCTION onestop_data_changed()', t || '_data_changed', t); \
                   END LOOP; END $$"
        ))
        .await?;
    Ok(())
}

/// Dropping the function drops every trigger that calls it.
pub(crate) async fn drop_triggers(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    manager.get_connection().execute_unprepared("DROP FUNCTION IF EXISTS onestop_data_changed() CASCADE").await?;
    Ok(())
}
