use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// GS1 Digital Link on product batches (issue 14): `gtin` (14 digits) and `expiry_date`;
/// `(gtin, batch_number)` is unique across merchants, since the link `/01/{gtin}/10/{batch}`
/// must name one batch.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [string_len_null(ProductBatches::Gtin, 14), date_null(ProductBatches::ExpiryDate)] {
            manager.alter_table(Table::alter().table(ProductBatches::Table).add_column(column).to_owned()).await?;
        }
        manager
            .get_connection()
            .execute_unprepared("CREATE UNIQUE INDEX uq_product_batches_gtin_batch ON product_batches (gtin, batch_number) WHERE gtin IS NOT NULL")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("uq_product_batches_gtin_batch").table(ProductBatches::Table).to_owned())
            .await?;
        for column in [ProductBatches::ExpiryDate, ProductBatches::Gtin] {
            manager.alter_table(Table::alter().table(ProductBatches::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ProductBatches {
    Table,
    Gtin,
    ExpiryDate,
}
