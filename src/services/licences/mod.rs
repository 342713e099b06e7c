//! Licences that live after approval: issued by every approval (`issue`), changed by change
//! cases (`change`), expired by the sweeper (`expiry`), and read here within the caller's
//! scope — the holder, staff of the issuing agency covering the holder's region, ADMIN — or
//! publicly by number (`/c/{number}`: kind, status and dated history, nothing personal).

pub mod change;
pub mod expiry;
mod issue;

pub use issue::{issue, record, valid_until};

use entity::{enums::LicenceStatus, licence, licence_event, merchant};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::{
    domain::FilingKind,
    error::{AppError, AppResult},
    services::access::Scope,
};

/// Whether the caller may see a licence of a merchant in `merchant_region`.
pub fn may_see(scope: &Scope, licence: &licence::Model, merchant_region: &str) -> bool {
    match scope {
        Scope::Admin { .. } => true,
        Scope::Merchant { merchant_id, .. } => *merchant_id == Some(licence.merchant_id),
        Scope::Agent { grants, .. } => grants.iter().any(|g| g.allows(licence.merchant_id, licence.kind)),
        Scope::Agency { .. } => scope
            .require_staff()
            .is_ok_and(|staff| staff.agency == licence.agency && staff.covers_region(merchant_region)),
    }
}

/// The licence `(number, kind)` if the caller may see it, else NOT_FOUND.
pub async fn find_by_number<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    number: &str,
    kind: FilingKind,
) -> AppResult<licence::Model> {
    let number = number.trim().to_ascii_uppercase();
    let found = licence::Entity::find()
        .filter(licence::Column::Kind.eq(kind))
        .filter(licence::Column::Number.eq(number))
        .one(db)
        .await?;
    visible(db, scope, found).await
}

/// The licence `id` if the caller may see it, else NOT_FOUND.
pub async fn find_by_id<C: ConnectionTrait>(db: &C, scope: &Scope, id: Uuid) -> AppResult<licence::Model> {
    let found = licence::Entity::find_by_id(id).one(db).await?;
    visible(db, scope, found).await
}

async fn visible<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    found: Option<licence::Model>,
) -> AppResult<licence::Model> {
    let not_found = || AppError::NotFound("licence".into());
    let licence = found.ok_or_else(not_found)?;
    let holder = merchant::Entity::find_by_id(licence.merchant_id).one(db).await?.ok_or_else(not_found)?;
    if may_see(scope, &licence, &holder.region_code) { Ok(licence) } else { Err(not_found()) }
}

/// The merchant's licences the caller may see, oldest first.
pub async fn of_merchant<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    holder: &merchant::Model,
) -> AppResult<Vec<licence::Model>> {
    let all = licence::Entity::find()
        .filter(licence::Column::MerchantId.eq(holder.id))
        .order_by_asc(licence::Column::IssuedAt)
        .order_by_asc(licence::Column::Id)
        .all(db)
        .await?;
    Ok(all.into_iter().filter(|l| may_see(scope, l, &holder.region_code)).collect())
}

/// A licence's history, oldest first.
pub async fn history<C: ConnectionTrait>(db: &C, licence_id: Uuid) -> AppResult<Vec<licence_event::Model>> {
    Ok(licence_event::Entity::find()
        .filter(licence_event::Column::LicenceId.eq(licence_id))
        .order_by_asc(licence_event::Column::At)
        .order_by_asc(licence_event::Column::Id)
        .all(db)
        .await?)
}

/// One licence as the public check shows it: no note, no person, the holder's name only.
pub struct PublicLicence {
    pub licence: licence::Model,
    pub holder: String,
    pub region_code: String,
    pub history: Vec<licence_event::Model>,
}

/// Every licence with this number (a USCC is both the registration and the tax number).
#[tracing::instrument(skip_all, fields(number = %number))]
pub async fn public_register<C: ConnectionTrait>(db: &C, number: &str) -> AppResult<Vec<PublicLicence>> {
    let found = licence::Entity::find()
        .filter(licence::Column::Number.eq(number))
        .find_also_related(merchant::Entity)
        .order_by_asc(licence::Column::Kind)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(found.len());
    for (licence, holder) in found {
        let history = history(db, licence.id).await?;
        let (holder, region_code) = holder.map(|m| (m.name, m.region_code)).unwrap_or_default();
        out.push(PublicLicence { licence, holder, region_code, history });
    }
    Ok(out)
}

/// The merchant's registration licence status, if it holds one (the trace page's "verified"
/// mark needs it ACTIVE).
pub async fn registration_status<C: ConnectionTrait>(db: &C, merchant_id: Uuid) -> AppResult<Option<LicenceStatus>> {
    Ok(licence::Entity::find()
        .filter(licence::Column::MerchantId.eq(merchant_id))
        .filter(licence::Column::Kind.eq(FilingKind::Registration))
        .order_by_desc(licence::Column::IssuedAt)
        .one(db)
        .await?
        .map(|l| l.status))
}
