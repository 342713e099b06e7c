use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Deadline notices, and idempotency keys.
///
/// When the deadline sweeper told the assignee that a deadline is one working day away, and
/// the supervisors that it has passed: each is sent once.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Filings::ReminderSentAt, Filings::OverdueNotifiedAt] {
            manager
                .alter_table(
                    Table::alter().table(Filings::Table).add_column(timestamp_with_time_zone_null(column)).to_owned(),
                )
                .await?;
        }
        // Idempotency keys of mutations (kept 24 h).
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(string_len(IdempotencyKeys::Owner, 64))
                    .col(string_len(IdempotencyKeys::Key, 200))
                    .col(string_len(IdempotencyKeys::RequestHash, 64))
                    .col(text_null(IdempotencyKeys::Response))
                    .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                    .primary_key(Index::create().col(IdempotencyKeys::Owner).col(IdempotencyKeys::Key))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned()).await?;
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

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Owner,
    Key,
    RequestHash,
    Response,
    CreatedAt,
}
