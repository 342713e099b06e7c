use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables whose writes do not notify: logs, queues and secrets, which no kept answer reads
/// (the server's `platform::answers::UNWATCHED_TABLES`; a test checks that the two agree).
const UNWATCHED: &str = "'idempotency_keys', 'one_time_tokens', 'outbox_messages', 'refresh_tokens', 'seaql_migrations', \
    'security_events', 'trace_scan_addresses', 'trace_scans', 'webhook_deliveries'";

/// PostgreSQL: every change of any other table notifies `onestop_data_changed` in its own
/// transaction — delivered at commit to every instance, which then drops the answers it kept
/// (`platform::answers`). Statement-level triggers with an empty payload: PostgreSQL folds the
/// notifications of one transaction into one. A table added later needs its trigger too (the
/// test `kept_answers::every_table_but_the_logs_notifies_its_changes` fails until it has one).
/// SQLite keeps no answers and needs nothing.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
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

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        // Dropping the function drops every trigger that calls it.
        manager.get_connection().execute_unprepared("DROP FUNCTION onestop_data_changed() CASCADE").await?;
        Ok(())
    }
}
