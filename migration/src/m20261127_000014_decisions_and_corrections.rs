use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Automatic decisions (秒批) and one-time corrections (一次性补正):
///
/// - `decision_rules` (as they stand) and `decision_rule_versions` (every save, immutable):
///   each agency's CEL conditions per kind that approve a filing without an officer.
/// - `decision_records`: every decision, an officer's or a rule's, with the facts as they were
///   (what `simulateDecisionRule` replays drafts over).
/// - `filings.decided_by` (OFFICER / RULE) and `filings.automatic_decision` (JSON: outcome,
///   time, each rule's evaluation); `filings.paused_working_days`: review time left when a
///   correction was requested, in working days.
/// - `correction_items`: each field or document named by a correction request, with the value
///   the field held at the request.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DecisionRules::Table)
                    .col(uuid(DecisionRules::Id).primary_key())
                    .col(string_len(DecisionRules::Agency, 32))
                    .col(string_len(DecisionRules::Kind, 16))
                    .col(string_len(DecisionRules::Name, 200))
                    .col(text(DecisionRules::Condition))
                    .col(boolean(DecisionRules::Enabled))
                    .col(integer(DecisionRules::Version))
                    .col(uuid(DecisionRules::UpdatedBy))
                    .col(timestamp_with_time_zone(DecisionRules::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_decision_rules_kind")
                    .table(DecisionRules::Table)
                    .col(DecisionRules::Agency)
                    .col(DecisionRules::Kind)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DecisionRuleVersions::Table)
                    .col(uuid(DecisionRuleVersions::RuleId))
                    .col(integer(DecisionRuleVersions::Version))
                    .col(string_len(DecisionRuleVersions::Agency, 32))
                    .col(string_len(DecisionRuleVersions::Kind, 16))
                    .col(string_len(DecisionRuleVersions::Name, 200))
                    .col(text(DecisionRuleVersions::Condition))
                    .col(boolean(DecisionRuleVersions::Enabled))
                    .col(uuid(DecisionRuleVersions::ActorId))
                    .col(timestamp_with_time_zone(DecisionRuleVersions::At))
                    .primary_key(Index::create().col(DecisionRuleVersions::RuleId).col(DecisionRuleVersions::Version))
                    .to_owned(),
            )
            .await?;
        create_decision_records(manager).await?;
        create_correction_items(manager).await?;
        for column in [
            string_len_null(Filings::DecidedBy, 16),
            text_null(Filings::AutomaticDecision),
            integer_null(Filings::PausedWorkingDays),
        ] {
            manager.alter_table(Table::alter().table(Filings::Table).add_column(column).to_owned()).await?;
        }
        // Decisions taken before this migration were all officers'.
        manager
            .get_connection()
            .execute_unprepared("UPDATE filings SET decided_by = 'OFFICER' WHERE status IN ('APPROVED', 'REJECTED')")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Filings::PausedWorkingDays, Filings::AutomaticDecision, Filings::DecidedBy] {
            manager.alter_table(Table::alter().table(Filings::Table).drop_column(column).to_owned()).await?;
        }
        for table in [
            CorrectionItems::Table.into_iden(),
            DecisionRecords::Table.into_iden(),
            DecisionRuleVersions::Table.into_iden(),
            DecisionRules::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

async fn create_decision_records(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(DecisionRecords::Table)
                .col(uuid(DecisionRecords::Id).primary_key())
                .col(uuid(DecisionRecords::FilingId))
                .col(uuid(DecisionRecords::CaseId))
                .col(uuid(DecisionRecords::MerchantId))
                .col(string_len(DecisionRecords::Agency, 32))
                .col(string_len(DecisionRecords::Kind, 16))
                .col(string_len(DecisionRecords::RegionCode, 6))
                .col(string_len(DecisionRecords::Outcome, 16))
                .col(string_len(DecisionRecords::DecidedBy, 16))
                .col(uuid_null(DecisionRecords::ActorId))
                .col(uuid_null(DecisionRecords::RuleId))
                .col(integer_null(DecisionRecords::RuleVersion))
                .col(text(DecisionRecords::Facts))
                .col(timestamp_with_time_zone(DecisionRecords::At))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("idx_decision_records_sample")
                .table(DecisionRecords::Table)
                .col(DecisionRecords::Agency)
                .col(DecisionRecords::Kind)
                .col(DecisionRecords::At)
                .to_owned(),
        )
        .await
}

async fn create_correction_items(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(CorrectionItems::Table)
                .col(uuid(CorrectionItems::Id).primary_key())
                .col(uuid(CorrectionItems::FilingId))
                .col(integer(CorrectionItems::Round))
                .col(string_len_null(CorrectionItems::Field, 200))
                .col(string_len_null(CorrectionItems::DocumentType, 32))
                .col(uuid_null(CorrectionItems::DocumentId))
                .col(text(CorrectionItems::Message))
                .col(text_null(CorrectionItems::ValueAtRequest))
                .col(timestamp_with_time_zone(CorrectionItems::RequestedAt))
                .col(timestamp_with_time_zone_null(CorrectionItems::ResolvedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("idx_correction_items_filing")
                .table(CorrectionItems::Table)
                .col(CorrectionItems::FilingId)
                .col(CorrectionItems::Round)
                .to_owned(),
        )
        .await
}

#[derive(DeriveIden)]
enum DecisionRules {
    Table,
    Id,
    Agency,
    Kind,
    Name,
    Condition,
    Enabled,
    Version,
    UpdatedBy,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DecisionRuleVersions {
    Table,
    RuleId,
    Version,
    Agency,
    Kind,
    Name,
    Condition,
    Enabled,
    ActorId,
    At,
}

#[derive(DeriveIden)]
enum DecisionRecords {
    Table,
    Id,
    FilingId,
    CaseId,
    MerchantId,
    Agency,
    Kind,
    RegionCode,
    Outcome,
    DecidedBy,
    ActorId,
    RuleId,
    RuleVersion,
    Facts,
    At,
}

#[derive(DeriveIden)]
enum CorrectionItems {
    Table,
    Id,
    FilingId,
    Round,
    Field,
    DocumentType,
    DocumentId,
    Message,
    ValueAtRequest,
    RequestedAt,
    ResolvedAt,
}

#[derive(DeriveIden)]
enum Filings {
    Table,
    DecidedBy,
    AutomaticDecision,
    PausedWorkingDays,
}
