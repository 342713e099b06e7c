use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The W3C `traceparent` of the request whose change staged a webhook delivery (null when traces
/// are not exported), so the delivery, sent later by the worker, continues that trace and the
/// receiver's own trace joins it (issue 15: `traceparent` accepted AND propagated).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("webhook_deliveries"))
                    .add_column(ColumnDef::new(Alias::new("traceparent")).string_len(64).null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("webhook_deliveries"))
                    .drop_column(Alias::new("traceparent"))
                    .to_owned(),
            )
            .await
    }
}
