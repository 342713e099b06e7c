//! DataLoaders: lists of cases and filings resolve their related rows in one query per
//! relation instead of one per row (no N+1).

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use entity::{case, decision_rule_version, filing, merchant, spot_check, user, user_region};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::error::AppError;

/// Loader failures reach resolvers as an `Arc`ed database error.
pub type LoadError = Arc<DbErr>;

pub fn load_error(err: LoadError) -> AppError {
    AppError::Internal(anyhow::anyhow!("loading related rows: {err}"))
}

/// A merchant by id through the request's DataLoader (NOT_FOUND if it vanished).
pub(crate) async fn merchant_by_id(
    ctx: &async_graphql::Context<'_>,
    id: Uuid,
) -> async_graphql::Result<super::objects::Merchant> {
    let found = ctx
        .data_unchecked::<async_graphql::dataloader::DataLoader<MerchantById>>()
        .load_one(id)
        .await
        .map_err(load_error)?;
    Ok(super::objects::Merchant(found.ok_or_else(|| AppError::NotFound("merchant".into()))?))
}

/// A user by id through the request's DataLoader (NOT_FOUND if it vanished).
pub(crate) async fn user_by_id(
    ctx: &async_graphql::Context<'_>,
    id: Uuid,
) -> async_graphql::Result<super::types::User> {
    let found = ctx
        .data_unchecked::<async_graphql::dataloader::DataLoader<UserById>>()
        .load_one(id)
        .await
        .map_err(load_error)?;
    Ok(super::types::User(found.ok_or_else(|| AppError::NotFound("user".into()))?))
}

pub struct UserById(pub DatabaseConnection);
/// The spot check recorded for an inspection draw, if any.
pub struct SpotCheckByDraw(pub DatabaseConnection);
pub struct MerchantById(pub DatabaseConnection);
pub struct CaseById(pub DatabaseConnection);
pub struct FilingsByCase(pub DatabaseConnection);
/// Officers' and supervisors' regions.
pub struct RegionsByUser(pub DatabaseConnection);
/// Every saved version of a decision rule (for the evaluations of automatic decisions).
pub struct RuleVersionsByRule(pub DatabaseConnection);

impl Loader<Uuid> for RuleVersionsByRule {
    type Value = Vec<decision_rule_version::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = decision_rule_version::Entity::find()
            .filter(decision_rule_version::Column::RuleId.is_in(keys.to_vec()))
            .all(&self.0)
            .await
            .map_err(Arc::new)?;
        let mut grouped: HashMap<Uuid, Vec<decision_rule_version::Model>> = HashMap::new();
        for row in rows {
            grouped.entry(row.rule_id).or_default().push(row);
        }
        Ok(grouped)
    }
}

impl Loader<Uuid> for RegionsByUser {
    type Value = Vec<String>;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = user_region::Entity::find()
            .filter(user_region::Column::UserId.is_in(keys.to_vec()))
            .order_by_asc(user_region::Column::Position)
            .all(&self.0)
            .await
            .map_err(Arc::new)?;
        let mut grouped: HashMap<Uuid, Vec<String>> = HashMap::new();
        for row in rows {
            grouped.entry(row.user_id).or_default().push(row.region_code);
        }
        Ok(grouped)
    }
}

impl Loader<Uuid> for UserById {
    type Value = user::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows =
            user::Entity::find().filter(user::Column::Id.is_in(keys.to_vec())).all(&self.0).await.map_err(Arc::new)?;
        Ok(rows.into_iter().map(|r| (r.id, r)).collect())
    }
}

impl Loader<Uuid> for SpotCheckByDraw {
    type Value = spot_check::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = spot_check::Entity::find()
            .filter(spot_check::Column::DrawId.is_in(keys.to_vec()))
            .all(&self.0)
            .await
            .map_err(Arc::new)?;
        Ok(rows.into_iter().filter_map(|r| r.draw_id.map(|draw| (draw, r))).collect())
    }
}

/// Users by id in one DataLoader batch, in the order asked (those that vanished left out).
pub(crate) async fn users_by_ids(
    ctx: &async_graphql::Context<'_>,
    ids: &[Uuid],
) -> async_graphql::Result<Vec<super::types::User>> {
    let found = ctx
        .data_unchecked::<async_graphql::dataloader::DataLoader<UserById>>()
        .load_many(ids.iter().copied())
        .await
        .map_err(load_error)?;
    Ok(ids.iter().filter_map(|id| found.get(id).cloned().map(super::types::User)).collect())
}

impl Loader<Uuid> for MerchantById {
    type Value = merchant::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = merchant::Entity::find()
            .filter(merchant::Column::Id.is_in(keys.to_vec()))
            .all(&self.0)
            .await
            .map_err(Arc::new)?;
        Ok(rows.into_iter().map(|r| (r.id, r)).collect())
    }
}

impl Loader<Uuid> for CaseById {
    type Value = case::Model;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows =
            case::Entity::find().filter(case::Column::Id.is_in(keys.to_vec())).all(&self.0).await.map_err(Arc::new)?;
        Ok(rows.into_iter().map(|r| (r.id, r)).collect())
    }
}

impl Loader<Uuid> for FilingsByCase {
    type Value = Vec<filing::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = filing::Entity::find()
            .filter(filing::Column::CaseId.is_in(keys.to_vec()))
            .order_by_asc(filing::Column::Id)
            .all(&self.0)
            .await
            .map_err(Arc::new)?;
        let mut grouped: HashMap<Uuid, Vec<filing::Model>> = HashMap::new();
        for row in rows {
            grouped.entry(row.case_id).or_default().push(row);
        }
        Ok(grouped)
    }
}
