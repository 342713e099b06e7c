use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

/// Sealed webhook secrets (`v1:` + base64 of nonce, ciphertext and tag) are longer than the 64
/// characters the clear ones needed. SQLite does not enforce lengths; PostgreSQL does.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("ALTER TABLE webhook_endpoints ALTER COLUMN secret TYPE text")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // Sealed values do not fit the old width; widening is kept.
        Ok(())
    }
}
