use sea_orm_migration::{prelude::*, schema::*};

/// Which API client an audited action came through (the actor stays the user the client acts
/// for: the merchant's owner, or the admin who created an agency's client).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(AuditEvents::Table).add_column(uuid_null(AuditEvents::ViaClientId)).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(AuditEvents::Table).drop_column(AuditEvents::ViaClientId).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    ViaClientId,
}
