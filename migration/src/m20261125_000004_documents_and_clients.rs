use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Documents::Table)
                    .col(uuid(Documents::Id).primary_key())
                    .col(uuid(Documents::CaseId))
                    .col(uuid_null(Documents::FilingId))
                    .col(uuid(Documents::UploaderId))
                    .col(string_len(Documents::Filename, 200))
                    .col(string_len(Documents::ContentType, 64))
                    .col(big_integer(Documents::Size))
                    .col(string_len(Documents::Sha256, 64))
                    .col(string_len(Documents::ObjectKey, 200))
                    .col(timestamp_with_time_zone(Documents::UploadedAt))
                    .foreign_key(
                        ForeignKey::create().from(Documents::Table, Documents::CaseId).to(Cases::Table, Cases::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_documents_case").table(Documents::Table).col(Documents::CaseId).to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiClients::Table)
                    .col(uuid(ApiClients::Id).primary_key())
                    .col(string_len_uniq(ApiClients::ClientId, 64))
                    .col(string(ApiClients::SecretHash))
                    .col(string_len(ApiClients::Name, 100))
                    .col(text(ApiClients::Scopes))
                    .col(uuid_null(ApiClients::MerchantId))
                    .col(string_len_null(ApiClients::Agency, 32))
                    .col(uuid(ApiClients::CreatedBy))
                    .col(timestamp_with_time_zone(ApiClients::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiClients::RevokedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ApiClients::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Documents::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ApiClients {
    Table,
    Id,
    ClientId,
    SecretHash,
    Name,
    Scopes,
    MerchantId,
    Agency,
    CreatedBy,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Cases {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
    CaseId,
    FilingId,
    UploaderId,
    Filename,
    ContentType,
    Size,
    Sha256,
    ObjectKey,
    UploadedAt,
}
