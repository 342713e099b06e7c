use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Declared versus verified USCCs, and the agency of a spot check (outside review, issue 10).
///
/// - `merchants.uscc` now holds only a USCC issued or verified here (by an approved
///   REGISTRATION of that merchant) and stays unique. A USCC a merchant merely typed into its
///   profile goes to `merchants.declared_uscc`, which is not unique: a second merchant
///   declaring the same code no longer locks the real holder out. Typed codes that no approved
///   registration backs move there.
/// - `spot_checks.agency`: the recording officer's agency, so public views can name the agency
///   without reaching the officer.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Merchants::Table)
                    .add_column(string_len_null(Merchants::DeclaredUscc, 18))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_merchants_declared_uscc")
                    .table(Merchants::Table)
                    .col(Merchants::DeclaredUscc)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE merchants SET declared_uscc = uscc, uscc = NULL \
             WHERE uscc IS NOT NULL AND NOT EXISTS ( \
               SELECT 1 FROM filings f JOIN cases c ON c.id = f.case_id \
               WHERE c.merchant_id = merchants.id AND f.kind = 'REGISTRATION' \
                 AND f.status = 'APPROVED' AND f.certificate_number = merchants.uscc)",
        )
        .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(SpotChecks::Table)
                    .add_column(string_len(SpotChecks::Agency, 32).default("INSPECTION"))
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared(
            "UPDATE spot_checks SET agency = COALESCE( \
               (SELECT u.agency FROM users u WHERE u.id = spot_checks.officer_id AND u.agency IS NOT NULL), 'INSPECTION')",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(SpotChecks::Table).drop_column(SpotChecks::Agency).to_owned()).await?;
        // Declared codes go back where they were, except where that would break uniqueness
        // (the code is verified for, or declared by, another merchant): those are lost.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE merchants SET uscc = declared_uscc \
                 WHERE uscc IS NULL AND declared_uscc IS NOT NULL \
                   AND NOT EXISTS (SELECT 1 FROM merchants o WHERE o.id <> merchants.id \
                     AND (o.uscc = merchants.declared_uscc OR o.declared_uscc = merchants.declared_uscc))",
            )
            .await?;
        manager
            .drop_index(Index::drop().name("idx_merchants_declared_uscc").table(Merchants::Table).to_owned())
            .await?;
        manager
            .alter_table(Table::alter().table(Merchants::Table).drop_column(Merchants::DeclaredUscc).to_owned())
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Merchants {
    Table,
    DeclaredUscc,
}

#[derive(DeriveIden)]
enum SpotChecks {
    Table,
    Agency,
}
