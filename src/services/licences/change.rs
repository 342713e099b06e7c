//! What the approval of a change-case filing does to the licence it references: an AMENDMENT
//! records the change (a registration's new name and address become the merchant's), a
//! RENEWAL extends the validity, a CANCELLATION ends the licence — and a registration's
//! cancellation ends the merchant's CUSTOMS, TAX, FX and INSPECTION licences with it, in the
//! same transaction, each with its own audit event (the portal as the actor) and one email.

use chrono::Months;
use entity::{
    enums::{CaseType, LicenceStatus},
    filing, licence, merchant,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QuerySelect, Set,
    sea_query::LockType,
};
use uuid::Uuid;

use crate::{
    domain::{FilingKind, filing_data::FilingData},
    error::{AppError, AppResult},
    platform::{clock, notify::EmailKind},
    services::cases::{Actor, CaseChange},
};

/// Applies the approved change of `filing` (of a change case) to its licence; the licence as
/// it now is.
pub async fn apply(
    change: &mut CaseChange<'_>,
    filing: &filing::Model,
    actor: Actor,
    note: Option<&str>,
) -> AppResult<licence::Model> {
    let id = filing.licence_id.ok_or_else(|| anyhow::anyhow!("a change-case filing without its licence"))?;
    let current = locked(change, id).await?;
    let case_type = change.case.case_type;
    let (action, allowed): (&str, &[LicenceStatus]) = match case_type {
        CaseType::Renewal => ("renewed", &[LicenceStatus::Active, LicenceStatus::Expired]),
        CaseType::Cancellation => {
            ("cancelled", &[LicenceStatus::Active, LicenceStatus::Suspended, LicenceStatus::Expired])
        }
        _ => ("amended", &[LicenceStatus::Active]),
    };
    if !allowed.contains(&current.status) {
        return Err(AppError::InvalidTransition(format!(
            "the licence is {} now: this {case_type} can no longer be approved",
            current.status
        )));
    }
    let now = clock::now();
    let mut active: licence::ActiveModel = current.clone().into();
    match case_type {
        CaseType::Renewal => {
            let months = change.state().config.licence_validity.months(current.kind).unwrap_or(0);
            let from = current.valid_until.unwrap_or_default().max(clock::china_today());
            active.valid_until = Set(from.checked_add_months(Months::new(months)));
            active.status = Set(LicenceStatus::Active);
            active.month_notice_at = Set(None);
            active.week_notice_at = Set(None);
        }
        CaseType::Cancellation => active.status = Set(LicenceStatus::Cancelled),
        _ => amend_merchant(change, filing).await?,
    }
    active.version = Set(current.version + 1);
    active.updated_at = Set(now);
    let saved = active.update(change.txn()).await?;
    super::record(change.txn(), &saved, action, note, Some(filing.id), actor).await?;
    if case_type == CaseType::Cancellation && saved.kind == FilingKind::Registration {
        cancel_dependents(change, &saved, filing.id).await?;
    }
    Ok(saved)
}

/// The licence row, locked for this change (PostgreSQL; SQLite has one writer).
async fn locked(change: &CaseChange<'_>, id: Uuid) -> AppResult<licence::Model> {
    let mut query = licence::Entity::find_by_id(id);
    if change.txn().get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock(LockType::Update);
    }
    Ok(query.one(change.txn()).await?.ok_or_else(|| anyhow::anyhow!("licence {id} vanished"))?)
}

/// A registration amendment carries the company's name and address: they become the
/// merchant's (the profile no longer changes them once a registration licence is active).
async fn amend_merchant(change: &mut CaseChange<'_>, filing: &filing::Model) -> AppResult<()> {
    let data: Option<FilingData> =
        filing.data.as_deref().map(serde_json::from_str).transpose().map_err(anyhow::Error::from)?;
    let Some(FilingData::Registration(registration)) = data else { return Ok(()) };
    let mut active: merchant::ActiveModel = change.merchant.clone().into();
    active.name = Set(registration.company_name.clone());
    active.address = Set(registration.address.clone());
    active.updated_at = Set(clock::now());
    change.merchant = active.update(change.txn()).await?;
    Ok(())
}

/// Cancels every other licence of the merchant that still stands, with the registration.
async fn cancel_dependents(
    change: &mut CaseChange<'_>,
    registration: &licence::Model,
    filing_id: Uuid,
) -> AppResult<()> {
    let standing = licence::Entity::find()
        .filter(licence::Column::MerchantId.eq(registration.merchant_id))
        .filter(licence::Column::Kind.ne(FilingKind::Registration))
        .filter(licence::Column::Status.ne(LicenceStatus::Cancelled))
        .all(change.txn())
        .await?;
    let note = format!("cancelled with the registration {}", registration.number);
    let mut cancelled = Vec::with_capacity(standing.len());
    for l in standing {
        let version = l.version;
        let mut active: licence::ActiveModel = l.into();
        active.status = Set(LicenceStatus::Cancelled);
        active.version = Set(version + 1);
        active.updated_at = Set(clock::now());
        let saved = active.update(change.txn()).await?;
        super::record(change.txn(), &saved, "cancelled", Some(&note), Some(filing_id), Actor::System).await?;
        let trail = format!("{} {} {note}", saved.kind, saved.number);
        change.system_event("licence.cancelled", None, Some(&trail)).await?;
        cancelled.push(saved);
    }
    if !cancelled.is_empty() {
        let listed: Vec<&licence::Model> = cancelled.iter().collect();
        let (state, holder) = (change.state(), change.merchant.clone());
        super::expiry::notify(change.txn(), state, &holder, &listed, EmailKind::LicencesCancelled, None).await?;
        change.queued_email();
    }
    Ok(())
}
