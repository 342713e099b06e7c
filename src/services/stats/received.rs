//! The received rollup (`received_filings`): one counter per China day, agency, kind and
//! deciding region, raised in the submission's transaction. Statistics read it instead of
//! grouping every filing with its case.

use std::collections::BTreeMap;

use entity::{filing, received_filings};
use sea_orm::{
    ConnectionTrait, EntityTrait, Set,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use crate::{error::AppResult, platform::clock};

/// Counts `submitted` filings as received today. Called last in the submission's transaction,
/// so the counter rows (shared by every submission of the day in a region) stay locked only
/// until its commit.
pub async fn count_received<C: ConnectionTrait>(
    db: &C,
    submitted: &[filing::Model],
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    let day = at.with_timezone(&clock::china()).date_naive();
    let mut counts: BTreeMap<(entity::enums::Agency, entity::enums::FilingKind, &str), i64> = BTreeMap::new();
    for f in submitted {
        *counts.entry((f.agency, f.kind, f.region_code.as_str())).or_default() += 1;
    }
    if counts.is_empty() {
        return Ok(());
    }
    let rows = counts.into_iter().map(|((agency, kind, region), n)| received_filings::ActiveModel {
        day: Set(day),
        agency: Set(agency),
        kind: Set(kind),
        region_code: Set(region.to_string()),
        received: Set(n),
    });
    received_filings::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([
                received_filings::Column::Day,
                received_filings::Column::Agency,
                received_filings::Column::Kind,
                received_filings::Column::RegionCode,
            ])
            .value(
                received_filings::Column::Received,
                Expr::col((received_filings::Entity, received_filings::Column::Received))
                    .add(Expr::cust("excluded.received")),
            )
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}
