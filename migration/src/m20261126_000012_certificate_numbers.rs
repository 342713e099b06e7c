use sea_orm_migration::{prelude::*, sea_orm::Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Certificate numbers are unique per kind, guarded by the database (numbers are drawn at
/// random and a clash is retried), except TAX, whose number is the merchant's USCC.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Numbers were drawn and checked under a per-case lock, so two approvals in different
        // cases at the same moment could have drawn the same one. Say which, rather than fail
        // on the index with a bare constraint error.
        let db = manager.get_connection();
        let duplicates = db
            .query_all_raw(Statement::from_string(
                manager.get_database_backend(),
                "SELECT kind, certificate_number FROM filings WHERE certificate_number IS NOT NULL AND kind <> 'TAX' \
                 GROUP BY kind, certificate_number HAVING COUNT(*) > 1",
            ))
            .await?;
        if !duplicates.is_empty() {
            let list: Vec<String> = duplicates
                .iter()
                .map(|row| {
                    let kind = row.try_get::<String>("", "kind").unwrap_or_default();
                    let number = row.try_get::<String>("", "certificate_number").unwrap_or_default();
                    format!("{kind} {number}")
                })
                .collect();
            return Err(DbErr::Migration(format!(
                "certificate numbers issued twice: {}. Give each of those filings its own number \
                 (UPDATE filings SET certificate_number = … WHERE id = …, and tell the holder), then start again",
                list.join(", ")
            )));
        }
        db.execute_unprepared(
            "CREATE UNIQUE INDEX uq_filings_certificate_number ON filings (kind, certificate_number) \
                 WHERE certificate_number IS NOT NULL AND kind <> 'TAX'",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("uq_filings_certificate_number").table(Filings::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Filings {
    Table,
}
