use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Joint supervision (大部门联动, issue 14): a case shared read-only with another agency
/// (optionally one region), by a supervisor who may see it or by the portal itself (risk level
/// 3: `shared_by` null), until revoked.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CaseShares::Table)
                    .col(uuid(CaseShares::Id).primary_key())
                    .col(uuid(CaseShares::CaseId))
                    .col(string_len(CaseShares::Agency, 32))
                    .col(string_len_null(CaseShares::RegionCode, 6))
                    .col(string_len_null(CaseShares::FromAgency, 32))
                    .col(uuid_null(CaseShares::SharedBy))
                    .col(text(CaseShares::Note))
                    .col(timestamp_with_time_zone(CaseShares::At))
                    .col(timestamp_with_time_zone_null(CaseShares::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_case_shares_case")
                    .table(CaseShares::Table)
                    .col(CaseShares::CaseId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_case_shares_agency")
                    .table(CaseShares::Table)
                    .col(CaseShares::Agency)
                    .col(CaseShares::RevokedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CaseShares::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum CaseShares {
    Table,
    Id,
    CaseId,
    Agency,
    RegionCode,
    FromAgency,
    SharedBy,
    Note,
    At,
    RevokedAt,
}
