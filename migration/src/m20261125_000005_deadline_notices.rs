use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// When the deadline sweeper told the assignee that a deadline is one working day away, and
/// the supervisors that it has passed: each is sent once.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Filings::ReminderSentAt, Filings::OverdueNotifiedAt] {
            manager
                .alter_table(Table::alter().table(Filings::Table).add_column(timestamp_with_time_zone_null(column)).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Filings::ReminderSentAt, Filings::OverdueNotifiedAt] {
            manager.alter_table(Table::alter().table(Filings::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Filings {
    Table,
    ReminderSentAt,
    OverdueNotifiedAt,
}
