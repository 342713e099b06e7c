use sea_orm_migration::{prelude::*, schema::*};

/// Security events (logins, token reuse, role grants, API clients, throttling): outside any
/// case, so not in the per-case audit chains.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SecurityEvents::Table)
                    .col(uuid(SecurityEvents::Id).primary_key())
                    .col(timestamp_with_time_zone(SecurityEvents::At))
                    .col(string_len(SecurityEvents::Kind, 40))
                    .col(uuid_null(SecurityEvents::ActorId))
                    .col(uuid_null(SecurityEvents::SubjectId))
                    .col(string_len_null(SecurityEvents::AddressHash, 64))
                    .col(text_null(SecurityEvents::Detail))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_security_events_kind")
                    .table(SecurityEvents::Table)
                    .col(SecurityEvents::Kind)
                    .col(SecurityEvents::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SecurityEvents::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum SecurityEvents {
    Table,
    Id,
    At,
    Kind,
    ActorId,
    SubjectId,
    AddressHash,
    Detail,
}
