use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// 双随机、一公开 inspection plans (issue 14): the plan with its seed and the ordered merchant
/// candidates (id and weight), its draws with each one's ordered inspector candidates and the
/// inspectors drawn, and `spot_checks.draw_id` (one check per draw).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(InspectionPlans::Table)
                    .col(uuid(InspectionPlans::Id).primary_key())
                    .col(string_len(InspectionPlans::Name, 200))
                    .col(string_len(InspectionPlans::Agency, 32))
                    .col(text(InspectionPlans::RegionCodes))
                    .col(text_null(InspectionPlans::Categories))
                    .col(integer(InspectionPlans::SampleSize))
                    .col(integer(InspectionPlans::InspectorsPerDraw))
                    .col(boolean(InspectionPlans::RiskWeighted))
                    .col(integer_null(InspectionPlans::ExcludeCheckedWithinDays))
                    .col(string_len(InspectionPlans::Seed, 64))
                    .col(text(InspectionPlans::MerchantCandidates))
                    .col(uuid(InspectionPlans::CreatedBy))
                    .col(timestamp_with_time_zone(InspectionPlans::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(InspectionDraws::Table)
                    .col(uuid(InspectionDraws::Id).primary_key())
                    .col(uuid(InspectionDraws::PlanId))
                    .col(integer(InspectionDraws::Position))
                    .col(uuid(InspectionDraws::MerchantId))
                    .col(text(InspectionDraws::InspectorCandidates))
                    .col(text(InspectionDraws::Inspectors))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_inspection_draws_plan")
                    .table(InspectionDraws::Table)
                    .col(InspectionDraws::PlanId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table(SpotChecks::Table).add_column(uuid_null(SpotChecks::DrawId)).to_owned())
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX uq_spot_checks_draw ON spot_checks (draw_id) WHERE draw_id IS NOT NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("uq_spot_checks_draw").table(SpotChecks::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(SpotChecks::Table).drop_column(SpotChecks::DrawId).to_owned()).await?;
        for table in [InspectionDraws::Table.into_iden(), InspectionPlans::Table.into_iden()] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum InspectionPlans {
    Table,
    Id,
    Name,
    Agency,
    RegionCodes,
    Categories,
    SampleSize,
    InspectorsPerDraw,
    RiskWeighted,
    ExcludeCheckedWithinDays,
    Seed,
    MerchantCandidates,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum InspectionDraws {
    Table,
    Id,
    PlanId,
    Position,
    MerchantId,
    InspectorCandidates,
    Inspectors,
}

#[derive(DeriveIden)]
enum SpotChecks {
    Table,
    DrawId,
}
