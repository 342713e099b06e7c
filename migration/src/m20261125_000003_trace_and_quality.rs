use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProductBatches::Table)
                    .col(uuid(ProductBatches::Id).primary_key())
                    .col(uuid(ProductBatches::MerchantId))
                    .col(string_len(ProductBatches::ProductName, 200))
                    .col(string_len(ProductBatches::Category, 32))
                    .col(string_len(ProductBatches::OriginRegionCode, 6))
                    .col(string_len(ProductBatches::BatchNumber, 64))
                    .col(date(ProductBatches::ProductionDate))
                    .col(big_integer(ProductBatches::Quantity))
                    .col(string_len_uniq(ProductBatches::TraceCode, 32))
                    .col(big_integer(ProductBatches::ScanCount))
                    .col(boolean(ProductBatches::SuspectedCounterfeit))
                    .col(timestamp_with_time_zone(ProductBatches::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProductBatches::Table, ProductBatches::MerchantId)
                            .to(Merchants::Table, Merchants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_product_batches_merchant_batch")
                    .table(ProductBatches::Table)
                    .col(ProductBatches::MerchantId)
                    .col(ProductBatches::BatchNumber)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TraceScans::Table)
                    .col(uuid(TraceScans::Id).primary_key())
                    .col(uuid(TraceScans::BatchId))
                    .col(timestamp_with_time_zone(TraceScans::At))
                    .col(string_len(TraceScans::ClientHash, 64))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TraceScans::Table, TraceScans::BatchId)
                            .to(ProductBatches::Table, ProductBatches::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_trace_scans_batch_at")
                    .table(TraceScans::Table)
                    .col(TraceScans::BatchId)
                    .col(TraceScans::At)
                    .to_owned(),
            )
            .await?;
        // Distinct addresses per batch and time bucket: one row each, so counting them is an
        // index range, not a scan of every view.
        manager
            .create_table(
                Table::create()
                    .table(TraceScanAddresses::Table)
                    .col(uuid(TraceScanAddresses::BatchId))
                    .col(big_integer(TraceScanAddresses::Bucket))
                    .col(string_len(TraceScanAddresses::ClientHash, 64))
                    .primary_key(
                        Index::create()
                            .col(TraceScanAddresses::BatchId)
                            .col(TraceScanAddresses::Bucket)
                            .col(TraceScanAddresses::ClientHash),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SpotChecks::Table)
                    .col(uuid(SpotChecks::Id).primary_key())
                    .col(uuid(SpotChecks::MerchantId))
                    .col(uuid_null(SpotChecks::BatchId))
                    .col(string_len(SpotChecks::Channel, 16))
                    .col(string_len(SpotChecks::Category, 32))
                    .col(string_len(SpotChecks::RegionCode, 6))
                    .col(string_len(SpotChecks::Result, 8))
                    .col(text_null(SpotChecks::Findings))
                    .col(timestamp_with_time_zone(SpotChecks::CheckedAt))
                    .col(uuid(SpotChecks::OfficerId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SpotChecks::Table, SpotChecks::MerchantId)
                            .to(Merchants::Table, Merchants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("idx_spot_checks_batch", vec![SpotChecks::BatchId, SpotChecks::CheckedAt]),
            ("idx_spot_checks_merchant", vec![SpotChecks::MerchantId, SpotChecks::CheckedAt]),
            ("idx_spot_checks_campaign", vec![SpotChecks::CheckedAt, SpotChecks::RegionCode]),
        ] {
            let mut index = Index::create();
            index.name(name).table(SpotChecks::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }

        // Consecutive passing spot checks since the last failure (three lower the risk level).
        manager
            .alter_table(
                Table::alter().table(Merchants::Table).add_column(integer(Merchants::PassStreak).default(0)).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Merchants::Table).drop_column(Merchants::PassStreak).to_owned())
            .await?;
        for table in [
            SpotChecks::Table.into_iden(),
            TraceScanAddresses::Table.into_iden(),
            TraceScans::Table.into_iden(),
            ProductBatches::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Merchants {
    Table,
    Id,
    PassStreak,
}

#[derive(DeriveIden)]
enum ProductBatches {
    Table,
    Id,
    MerchantId,
    ProductName,
    Category,
    OriginRegionCode,
    BatchNumber,
    ProductionDate,
    Quantity,
    TraceCode,
    ScanCount,
    SuspectedCounterfeit,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TraceScans {
    Table,
    Id,
    BatchId,
    At,
    ClientHash,
}

#[derive(DeriveIden)]
enum TraceScanAddresses {
    Table,
    BatchId,
    Bucket,
    ClientHash,
}

#[derive(DeriveIden, Clone)]
enum SpotChecks {
    Table,
    Id,
    MerchantId,
    BatchId,
    Channel,
    Category,
    RegionCode,
    Result,
    Findings,
    CheckedAt,
    OfficerId,
}
