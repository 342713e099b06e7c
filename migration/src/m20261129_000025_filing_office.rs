use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The region whose office acts on a filing now — the receiving office while a cross-region
/// filing awaits receipt (跨省通办), the deciding office otherwise — as a column the database
/// derives itself, with the review queue's index on it. The queue's condition had become an OR
/// of the two cases, which no index answered: PostgreSQL read every filing of the table for a
/// 20-row page (69 ms at 100,000 cases, issue 15's benchmark).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let office = "CASE WHEN receiving_region_code IS NOT NULL AND received_at IS NULL THEN receiving_region_code ELSE region_code END";
        let column = match manager.get_database_backend() {
            DatabaseBackend::Postgres => format!(
                "ALTER TABLE filings ADD COLUMN office_region_code varchar(12) GENERATED ALWAYS AS ({office}) STORED"
            ),
            // SQLite adds only virtual generated columns to a table; they can be indexed.
            _ => {
                format!("ALTER TABLE filings ADD COLUMN office_region_code TEXT GENERATED ALWAYS AS ({office}) VIRTUAL")
            }
        };
        let db = manager.get_connection();
        db.execute_unprepared(&column).await?;
        db.execute_unprepared(
            "CREATE INDEX idx_filings_office_queue ON filings (agency, office_region_code, due_at, id)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX idx_filings_office_queue").await?;
        db.execute_unprepared("ALTER TABLE filings DROP COLUMN office_region_code").await?;
        Ok(())
    }
}
