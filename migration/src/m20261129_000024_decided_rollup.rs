use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Decisions counted per China month and everything statistics group or filter by — agency,
/// kind, deciding region, officer (the nil UUID for a rule), decider, outcome, working days
/// (-1: not known), on time (1, 0, -1: not known) — written in the decision's transaction
/// (`services::stats::decided`). `processingStats` reads whole months of a window here and only
/// the days at its edges from `decision_records`: 25,000 decisions of an agency's year were
/// 40–100 ms of PostgreSQL time a request (issue 14's benchmark). Every key column is NOT NULL
/// (hence the sentinels) so that one upsert finds its row on both databases.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DecidedFilings::Table)
                    .col(string_len(DecidedFilings::Month, 7))
                    .col(string_len(DecidedFilings::Agency, 32))
                    .col(string_len(DecidedFilings::Kind, 32))
                    .col(string_len(DecidedFilings::RegionCode, 12))
                    .col(uuid(DecidedFilings::OfficerId))
                    .col(string_len(DecidedFilings::DecidedBy, 16))
                    .col(string_len(DecidedFilings::Outcome, 32))
                    .col(integer(DecidedFilings::WorkingDays))
                    .col(small_integer(DecidedFilings::OnTime))
                    .col(big_integer(DecidedFilings::Decisions))
                    .col(big_integer(DecidedFilings::CorrectionRounds))
                    .primary_key(
                        Index::create()
                            .col(DecidedFilings::Month)
                            .col(DecidedFilings::Agency)
                            .col(DecidedFilings::Kind)
                            .col(DecidedFilings::RegionCode)
                            .col(DecidedFilings::OfficerId)
                            .col(DecidedFilings::DecidedBy)
                            .col(DecidedFilings::Outcome)
                            .col(DecidedFilings::WorkingDays)
                            .col(DecidedFilings::OnTime),
                    )
                    .to_owned(),
            )
            .await?;
        let sql = backfill(manager.get_database_backend());
        manager.get_connection().execute_unprepared(&sql).await?;
        // The days at a window's edges are read from decision_records by agency and time: a
        // covering index answers them without touching the table (PostgreSQL: index-only
        // scans once vacuumed; SQLite: a covering index).
        let columns = "kind, region_code, actor_id, working_days, outcome, decided_by, on_time, correction_rounds";
        let index = match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                format!("CREATE INDEX idx_decision_records_reach ON decision_records (agency, at) INCLUDE ({columns})")
            }
            _ => format!("CREATE INDEX idx_decision_records_reach ON decision_records (agency, at, {columns})"),
        };
        manager.get_connection().execute_unprepared(&index).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP INDEX idx_decision_records_reach").await?;
        manager.drop_table(Table::drop().table(DecidedFilings::Table).to_owned()).await
    }
}

/// Counts every recorded decision (the same statement as `onestop rebuild-stats`).
pub fn backfill(backend: DatabaseBackend) -> String {
    let (month, nil) = match backend {
        DatabaseBackend::Postgres => (
            "to_char((d.at AT TIME ZONE 'UTC') + interval '8 hours', 'YYYY-MM')",
            "CAST('00000000-0000-0000-0000-000000000000' AS uuid)",
        ),
        _ => ("strftime('%Y-%m', d.at, '+8 hours')", "zeroblob(16)"),
    };
    format!(
        "INSERT INTO decided_filings (month, agency, kind, region_code, officer_id, decided_by, outcome, working_days, on_time, decisions, correction_rounds) \
         SELECT {month}, d.agency, d.kind, d.region_code, COALESCE(d.actor_id, {nil}), d.decided_by, d.outcome, COALESCE(d.working_days, -1), \
                CASE WHEN d.on_time IS NULL THEN -1 WHEN d.on_time THEN 1 ELSE 0 END, COUNT(*), COALESCE(SUM(d.correction_rounds), 0) \
         FROM decision_records d GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9"
    )
}

#[derive(DeriveIden)]
enum DecidedFilings {
    Table,
    Month,
    Agency,
    Kind,
    RegionCode,
    OfficerId,
    DecidedBy,
    Outcome,
    WorkingDays,
    OnTime,
    Decisions,
    CorrectionRounds,
}
