//! Issuing a licence on approval (officer or rule alike: `filings::approval::approve` calls
//! this inside the approval's transaction).

use chrono::{Months, NaiveDate};
use entity::{enums::LicenceStatus, filing, licence, licence_event};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::{
    config::LicenceValidity,
    domain::FilingKind,
    error::{AppError, AppResult},
    platform::clock,
    services::cases::{Actor, CaseChange},
};

/// The last valid day of a licence of `kind` issued or renewed `from` (none: no expiry).
pub fn valid_until(validity: &LicenceValidity, kind: FilingKind, from: NaiveDate) -> Option<NaiveDate> {
    validity.months(kind).and_then(|m| from.checked_add_months(Months::new(m)))
}

/// The licence the approval of `filing` issues, numbered `number`. A number the merchant
/// held before (a TAX registration on its USCC, filed again after a cancellation) is issued
/// again rather than duplicated; a number another merchant holds is a CONFLICT.
pub async fn issue(
    change: &CaseChange<'_>,
    filing: &filing::Model,
    number: &str,
    actor: Actor,
) -> AppResult<licence::Model> {
    let db = change.txn();
    let now = clock::now();
    let until = valid_until(&change.state().config.licence_validity, filing.kind, clock::china_today());
    let existing = licence::Entity::find()
        .filter(licence::Column::Kind.eq(filing.kind))
        .filter(licence::Column::Number.eq(number))
        .one(db)
        .await?;
    let (saved, action) = match existing {
        Some(held) if held.merchant_id != change.merchant.id => {
            return Err(AppError::Conflict(format!("{} number {number} is held by another merchant", filing.kind)));
        }
        Some(held) => {
            let version = held.version;
            let mut active: licence::ActiveModel = held.into();
            active.status = Set(LicenceStatus::Active);
            active.issued_at = Set(now);
            active.valid_until = Set(until);
            active.filing_id = Set(filing.id);
            active.month_notice_at = Set(None);
            active.week_notice_at = Set(None);
            active.version = Set(version + 1);
            active.updated_at = Set(now);
            (active.update(db).await?, "reissued")
        }
        None => {
            let new = licence::ActiveModel {
                id: Set(Uuid::now_v7()),
                merchant_id: Set(change.merchant.id),
                kind: Set(filing.kind),
                agency: Set(filing.agency),
                number: Set(number.to_string()),
                status: Set(LicenceStatus::Active),
                issued_at: Set(now),
                valid_until: Set(until),
                filing_id: Set(filing.id),
                month_notice_at: Set(None),
                week_notice_at: Set(None),
                version: Set(1),
                updated_at: Set(now),
            };
            (new.insert(db).await?, "issued")
        }
    };
    record(db, &saved, action, None, Some(filing.id), actor).await?;
    Ok(saved)
}

/// Appends one step to a licence's history.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    licence: &licence::Model,
    action: &str,
    note: Option<&str>,
    filing_id: Option<Uuid>,
    actor: Actor,
) -> AppResult<licence_event::Model> {
    Ok(licence_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        licence_id: Set(licence.id),
        at: Set(clock::now()),
        action: Set(action.to_string()),
        note: Set(note.map(str::to_string)),
        filing_id: Set(filing_id),
        actor_id: Set(actor.user_id()),
    }
    .insert(db)
    .await?)
}
