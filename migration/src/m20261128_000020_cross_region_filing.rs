use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Cross-region filing (跨省通办, issue 14): a merchant away from home files at the office of
/// the region where it is (`receiving_region_code`); the filing waits in that office's queue
/// until it acknowledges receipt (`received_at`), then goes to the home region's office.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in
            [string_len_null(Filings::ReceivingRegionCode, 6), timestamp_with_time_zone_null(Filings::ReceivedAt)]
        {
            manager.alter_table(Table::alter().table(Filings::Table).add_column(column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Filings::ReceivedAt, Filings::ReceivingRegionCode] {
            manager.alter_table(Table::alter().table(Filings::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Filings {
    Table,
    ReceivingRegionCode,
    ReceivedAt,
}
