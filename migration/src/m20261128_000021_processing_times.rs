use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Processing times kept with every decision (the rollup processing statistics and service
/// levels read, issue 14): when the filing was first submitted, the working days from then to
/// the decision with correction pauses left out (holiday calendar applied), whether the
/// decision came within the deadline, and how many corrections were asked. Decisions recorded
/// before this migration keep them null (they are left out of medians and shares).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            timestamp_with_time_zone_null(DecisionRecords::SubmittedAt),
            integer_null(DecisionRecords::WorkingDays),
            boolean_null(DecisionRecords::OnTime),
            integer_null(DecisionRecords::CorrectionRounds),
        ] {
            manager.alter_table(Table::alter().table(DecisionRecords::Table).add_column(column).to_owned()).await?;
        }
        // Statistics read a window of decisions (administrators across agencies).
        manager
            .create_index(
                Index::create()
                    .name("idx_decision_records_at")
                    .table(DecisionRecords::Table)
                    .col(DecisionRecords::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("idx_decision_records_at").table(DecisionRecords::Table).to_owned())
            .await?;
        for column in [
            DecisionRecords::CorrectionRounds,
            DecisionRecords::OnTime,
            DecisionRecords::WorkingDays,
            DecisionRecords::SubmittedAt,
        ] {
            manager.alter_table(Table::alter().table(DecisionRecords::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum DecisionRecords {
    Table,
    At,
    SubmittedAt,
    WorkingDays,
    OnTime,
    CorrectionRounds,
}
