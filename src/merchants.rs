//! The merchant's shared company profile.

use async_graphql::InputObject;
use entity::merchant;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set, SqlErr,
};
use uuid::Uuid;

use crate::{
    access::Scope,
    clock,
    domain::{Email, Uscc, filing_data::ProductCategory, identifiers as id},
    error::{AppError, AppResult, Problems},
    state::AppState,
};

#[derive(InputObject, Clone, Debug)]
pub struct MerchantProfileInput {
    pub name: String,
    pub uscc: Option<String>,
    pub region_code: String,
    pub address: String,
    pub contact_email: String,
    pub contact_phone: String,
    pub store_urls: Option<Vec<String>>,
    pub categories: Option<Vec<ProductCategory>>,
}

struct ValidProfile {
    name: String,
    uscc: Option<String>,
    region_code: String,
    address: String,
    contact_email: String,
    contact_phone: String,
    store_urls: Vec<String>,
    categories: Vec<ProductCategory>,
}

fn validate(state: &AppState, input: MerchantProfileInput) -> AppResult<ValidProfile> {
    let mut problems = Problems::default();
    let mut check = |r: AppResult<String>| problems.take(r);
    let name = check(id::text("name", &input.name, 200, false));
    let uscc = input
        .uscc
        .as_deref()
        .filter(|u| !u.trim().is_empty())
        .map(|u| check(Uscc::parse("uscc", u).map(|u| u.as_str().to_string())));
    let region_code = check(state.config.regions.parse("regionCode", &input.region_code).map(|r| r.to_string()));
    let address = check(id::text("address", &input.address, 300, false));
    let contact_email = check(Email::parse("contactEmail", &input.contact_email).map(|e| e.to_string()));
    let contact_phone = check(id::phone("contactPhone", &input.contact_phone));
    let urls = input.store_urls.unwrap_or_default();
    if urls.len() > 20 {
        check(Err(AppError::validation("storeUrls", "at most 20 store URLs")));
    }
    let store_urls: Vec<String> = urls
        .iter()
        .enumerate()
        .map(|(i, u)| check(id::store_url(&format!("storeUrls[{i}]"), u)))
        .collect();
    let mut categories = input.categories.unwrap_or_default();
    categories.dedup();
    problems.finish(ValidProfile { name, uscc, region_code, address, contact_email, contact_phone, store_urls, categories })
}

fn uscc_conflict(err: DbErr) -> AppError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            AppError::Conflict("another merchant already holds this USCC".into())
        }
        _ => err.into(),
    }
}

/// Creates or updates the caller's profile. A USCC on record (given, or issued when
/// registration was approved) cannot be changed here.
pub async fn save_profile(
    state: &AppState,
    scope: &Scope,
    input: MerchantProfileInput,
) -> AppResult<merchant::Model> {
    let Scope::Merchant { user_id, merchant_id, .. } = scope else {
        return Err(AppError::Forbidden("only a merchant's user has a merchant profile".into()));
    };
    let profile = validate(state, input)?;
    let now = clock::now();
    if let Some(uscc) = &profile.uscc {
        let holder = merchant::Entity::find()
            .filter(merchant::Column::Uscc.eq(uscc.as_str()))
            .one(&state.db)
            .await?;
        if holder.is_some_and(|h| Some(h.id) != *merchant_id) {
            return Err(AppError::Conflict("another merchant already holds this USCC".into()));
        }
    }
    let existing = match merchant_id {
        Some(id) => merchant::Entity::find_by_id(*id).one(&state.db).await?,
        None => None,
    };
    let saved = match existing {
        Some(current) => {
            let uscc = match (&current.uscc, profile.uscc) {
                (Some(on_record), Some(given)) if *on_record != given => {
                    return Err(AppError::validation("uscc", "the USCC on record cannot be changed"));
                }
                (Some(on_record), _) => Some(on_record.clone()),
                (None, given) => given,
            };
            let mut active: merchant::ActiveModel = current.into();
            active.name = Set(profile.name);
            active.uscc = Set(uscc);
            active.region_code = Set(profile.region_code);
            active.address = Set(profile.address);
            active.contact_email = Set(profile.contact_email);
            active.contact_phone = Set(profile.contact_phone);
            active.store_urls = Set(json(&profile.store_urls)?);
            active.categories = Set(json(&profile.categories)?);
            active.updated_at = Set(now);
            active.update(&state.db).await.map_err(uscc_conflict)?
        }
        None => merchant::ActiveModel {
            id: Set(Uuid::now_v7()),
            owner_user_id: Set(*user_id),
            name: Set(profile.name),
            uscc: Set(profile.uscc),
            region_code: Set(profile.region_code),
            address: Set(profile.address),
            contact_email: Set(profile.contact_email),
            contact_phone: Set(profile.contact_phone),
            store_urls: Set(json(&profile.store_urls)?),
            categories: Set(json(&profile.categories)?),
            risk_level: Set(0),
            pass_streak: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&state.db)
        .await
        .map_err(uscc_conflict)?,
    };
    Ok(saved)
}

fn json<T: serde::Serialize>(value: &T) -> AppResult<String> {
    Ok(serde_json::to_string(value).map_err(anyhow::Error::from)?)
}

/// The caller's own merchant (merchants only; `None` until a profile is saved).
pub async fn own_merchant(state: &AppState, scope: &Scope) -> AppResult<Option<merchant::Model>> {
    match scope {
        Scope::Merchant { merchant_id: Some(id), .. } => {
            Ok(merchant::Entity::find_by_id(*id).one(&state.db).await?)
        }
        _ => Ok(None),
    }
}

pub async fn find_by_owner<C: ConnectionTrait>(db: &C, user_id: Uuid) -> AppResult<Option<merchant::Model>> {
    Ok(merchant::Entity::find().filter(merchant::Column::OwnerUserId.eq(user_id)).one(db).await?)
}
