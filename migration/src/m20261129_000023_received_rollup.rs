use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Filings received per China day, agency, kind and (deciding) region, counted in the
/// submission's transaction: `processingStats` reads this rollup instead of grouping every
/// filing joined with its case (210 ms at 100,000 cases, issue 14's benchmark). Filings
/// already submitted are counted here under their case's first submission day.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReceivedFilings::Table)
                    .col(date(ReceivedFilings::Day))
                    .col(string_len(ReceivedFilings::Agency, 32))
                    .col(string_len(ReceivedFilings::Kind, 32))
                    .col(string_len(ReceivedFilings::RegionCode, 12))
                    .col(big_integer(ReceivedFilings::Received))
                    .primary_key(
                        Index::create()
                            .col(ReceivedFilings::Day)
                            .col(ReceivedFilings::Agency)
                            .col(ReceivedFilings::Kind)
                            .col(ReceivedFilings::RegionCode),
                    )
                    .to_owned(),
            )
            .await?;
        let day = match manager.get_database_backend() {
            DatabaseBackend::Postgres => "CAST((c.submitted_at AT TIME ZONE 'UTC') + interval '8 hours' AS DATE)",
            _ => "date(c.submitted_at, '+8 hours')",
        };
        let backfill = format!(
            "INSERT INTO received_filings (day, agency, kind, region_code, received) \
             SELECT {day}, f.agency, f.kind, f.region_code, COUNT(*) FROM filings f JOIN cases c ON c.id = f.case_id \
             WHERE f.status <> 'DRAFT' AND c.submitted_at IS NOT NULL GROUP BY 1, 2, 3, 4"
        );
        manager.get_connection().execute_unprepared(&backfill).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ReceivedFilings::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ReceivedFilings {
    Table,
    Day,
    Agency,
    Kind,
    RegionCode,
    Received,
}
