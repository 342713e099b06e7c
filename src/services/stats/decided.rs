//! The monthly decisions rollup (`decided_filings`, migration 24): one counter per China month
//! and combination of agency, kind, region, officer, decider, outcome, working days and on
//! time, raised in the decision's transaction. `processingStats` reads whole months here and
//! the days at a window's edges from `decision_records`.

use entity::{decided_filings, decision_record};
use sea_orm::{
    ConnectionTrait, EntityTrait, IdenStatic, Set,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use uuid::Uuid;

use crate::{error::AppResult, platform::clock};

/// Counts one decision just recorded.
pub async fn count_decided<C: ConnectionTrait>(db: &C, record: &decision_record::Model) -> AppResult<()> {
    let row = decided_filings::ActiveModel {
        month: Set(record.at.with_timezone(&clock::china()).format("%Y-%m").to_string()),
        agency: Set(record.agency),
        kind: Set(record.kind),
        region_code: Set(record.region_code.clone()),
        officer_id: Set(record.actor_id.unwrap_or(Uuid::nil())),
        decided_by: Set(record.decided_by),
        outcome: Set(record.outcome),
        working_days: Set(record.working_days.unwrap_or(-1)),
        on_time: Set(record.on_time.map_or(-1, i16::from)),
        decisions: Set(1),
        correction_rounds: Set(i64::from(record.correction_rounds.unwrap_or(0))),
    };
    use decided_filings::Column as C;
    let add = |column: C| {
        Expr::col((decided_filings::Entity, column)).add(Expr::cust(format!("excluded.{}", column.as_str())))
    };
    decided_filings::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                C::Month,
                C::Agency,
                C::Kind,
                C::RegionCode,
                C::OfficerId,
                C::DecidedBy,
                C::Outcome,
                C::WorkingDays,
                C::OnTime,
            ])
            .value(C::Decisions, add(C::Decisions))
            .value(C::CorrectionRounds, add(C::CorrectionRounds))
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Recounts the rollup from `decision_records` in one transaction (`onestop rebuild-stats`,
/// after decision rows were corrected by hand).
pub async fn rebuild(db: &sea_orm::DatabaseConnection) -> AppResult<u64> {
    let txn = crate::platform::db::begin_write(db).await?;
    decided_filings::Entity::delete_many().exec(&txn).await?;
    let counted =
        txn.execute_unprepared(&migration::decided_rollup_backfill(db.get_database_backend())).await?.rows_affected();
    txn.commit().await?;
    Ok(counted)
}
