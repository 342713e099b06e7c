//! The licence sweeper: marks licences past their last valid day EXPIRED and tells the holder
//! 30 and 7 days before — each once. Rows are claimed with `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL and every mark is a conditional update, so several instances never act twice;
//! the mark, the history entry and the email are one transaction.

use chrono::{Duration, NaiveDate};
use entity::{enums::LicenceStatus, licence, merchant};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter,
    QuerySelect,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType},
};
use serde_json::json;

use crate::{
    domain::labels::Labelled,
    error::AppResult,
    platform::{
        clock,
        notify::{EmailKind, enqueue_email},
        state::AppState,
    },
    services::cases::Actor,
};

const BATCH: u64 = 100;

/// One pass: expiries, then the 7-day and the 30-day notices. How many emails were queued.
#[tracing::instrument(skip_all)]
pub async fn sweep(state: &AppState) -> AppResult<usize> {
    let today = state.clock.china_today();
    let sent = expire(state, today).await? + warn(state, today, 7).await? + warn(state, today, 30).await?;
    if sent > 0 {
        state.outbox_wakeup.notify_one();
    }
    Ok(sent)
}

/// ACTIVE licences matching `condition`, locked for this instance (skipped if another has them).
async fn claim(
    txn: &DatabaseTransaction,
    condition: Condition,
) -> AppResult<Vec<(licence::Model, Option<merchant::Model>)>> {
    let mut query = licence::Entity::find()
        .filter(licence::Column::Status.eq(LicenceStatus::Active))
        .filter(condition)
        .limit(BATCH);
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let claimed = query.all(txn).await?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    // The holders of the whole batch in one statement (it was one per licence).
    let ids: std::collections::BTreeSet<uuid::Uuid> = claimed.iter().map(|l| l.merchant_id).collect();
    let holders: std::collections::HashMap<uuid::Uuid, merchant::Model> = merchant::Entity::find()
        .filter(merchant::Column::Id.is_in(ids))
        .all(txn)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    Ok(claimed
        .into_iter()
        .map(|l| {
            let holder = holders.get(&l.merchant_id).cloned();
            (l, holder)
        })
        .collect())
}

/// Licences whose last valid day has passed become EXPIRED (the portal as the actor).
async fn expire(state: &AppState, today: NaiveDate) -> AppResult<usize> {
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let mut sent = 0;
    for (l, holder) in claim(&txn, Condition::all().add(licence::Column::ValidUntil.lt(today))).await? {
        let marked = licence::Entity::update_many()
            .col_expr(licence::Column::Status, Expr::value(LicenceStatus::Expired))
            .col_expr(licence::Column::Version, Expr::col(licence::Column::Version).add(1))
            .col_expr(licence::Column::UpdatedAt, Expr::value(clock::now()))
            .filter(licence::Column::Id.eq(l.id))
            .filter(licence::Column::Status.eq(LicenceStatus::Active))
            .exec(&txn)
            .await?;
        if marked.rows_affected != 1 {
            continue;
        }
        let expired = licence::Model { status: LicenceStatus::Expired, ..l };
        super::record(&txn, &expired, "expired", None, None, Actor::System).await?;
        if let Some(holder) = holder {
            notify(&txn, state, &holder, &[&expired], EmailKind::LicenceExpired, None).await?;
            sent += 1;
        }
    }
    txn.commit().await?;
    Ok(sent)
}

/// Tells holders of licences that expire within `days` (30 or 7), once per threshold; a
/// licence already within 7 days gets the 7-day notice only.
async fn warn(state: &AppState, today: NaiveDate, days: i64) -> AppResult<usize> {
    let column = if days <= 7 { licence::Column::WeekNoticeAt } else { licence::Column::MonthNoticeAt };
    let window = Condition::all()
        .add(licence::Column::ValidUntil.gte(today))
        .add(licence::Column::ValidUntil.lte(today + Duration::days(days)))
        .add(column.is_null());
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let mut sent = 0;
    for (l, holder) in claim(&txn, window).await? {
        let now = clock::now();
        let mut mark = licence::Entity::update_many()
            .col_expr(column, Expr::value(now))
            .filter(licence::Column::Id.eq(l.id))
            .filter(column.is_null());
        if days <= 7 {
            // The 30-day notice would come after the 7-day one: it is no longer news.
            mark = mark.col_expr(
                licence::Column::MonthNoticeAt,
                Expr::col(licence::Column::MonthNoticeAt).if_null(Expr::value(now)),
            );
        }
        if mark.exec(&txn).await?.rows_affected != 1 {
            continue;
        }
        if let Some(holder) = holder {
            notify(&txn, state, &holder, &[&l], EmailKind::LicenceExpiring, Some(days)).await?;
            sent += 1;
        }
    }
    txn.commit().await?;
    Ok(sent)
}

/// The holder's email about its licences (also used for a registration's cascade).
pub async fn notify<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    holder: &merchant::Model,
    licences: &[&licence::Model],
    kind: EmailKind,
    days: Option<i64>,
) -> AppResult<()> {
    let lines: Vec<serde_json::Value> = licences
        .iter()
        .map(|l| {
            let status = l.status.label();
            json!({
                "kind": l.kind.as_str(), "kind_zh": l.kind.name_zh(), "number": l.number,
                "status": status.en, "status_zh": status.zh,
                "valid_until": l.valid_until.map(|d| d.format("%Y-%m-%d").to_string()),
                "check_url": format!("{}/c/{}", state.config.public_base_url, l.number),
            })
        })
        .collect();
    let context = json!({
        "display_name": holder.name,
        "licences": lines,
        "days": days,
        "renew": matches!(kind, EmailKind::LicenceExpiring),
    });
    enqueue_email(db, &state.templates, &holder.contact_email, kind, context).await
}
