use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables a caller's scope is read from.
const TABLES: [&str; 5] = ["users", "user_regions", "case_shares", "merchant_members", "agent_authorizations"];

/// PostgreSQL: every change of the tables a user's scope is read from notifies
/// `onestop_access_changed` in its own transaction — delivered at commit to every instance, which
/// then drops the scopes it kept (`services::access::known`). Statement-level triggers: one
/// notification per statement, and PostgreSQL folds equal ones of a transaction into one.
/// SQLite keeps no scopes and needs nothing.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE FUNCTION onestop_access_changed() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN PERFORM pg_notify('onestop_access_changed', TG_TABLE_NAME); RETURN NULL; END $$",
        )
        .await?;
        for table in TABLES {
            db.execute_unprepared(&format!(
                "CREATE TRIGGER {table}_access_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} \
                 FOR EACH STATEMENT EXECUTE FUNCTION onestop_access_changed()"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for table in TABLES {
            db.execute_unprepared(&format!("DROP TRIGGER {table}_access_changed ON {table}")).await?;
        }
        db.execute_unprepared("DROP FUNCTION onestop_access_changed()").await?;
        Ok(())
    }
}
