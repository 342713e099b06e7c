use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Certificate numbers are unique per kind, guarded by the database (numbers are drawn at
/// random and a clash is retried), except TAX, whose number is the merchant's USCC.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
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
