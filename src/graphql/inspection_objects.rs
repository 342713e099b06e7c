//! 双随机、一公开: inspection plans, their draws, and the public results of plan-drawn checks.

use async_graphql::{Context, ID, Object, Result, SimpleObject, dataloader::DataLoader};
use chrono::{DateTime, Utc};
use entity::inspection_draw;

use super::{
    loaders::{SpotCheckByDraw, load_error, merchant_by_id, user_by_id, users_by_ids},
    objects::Merchant,
    parts,
    quality_objects::{ProductBatch, SpotCheck},
    scope,
    types::User,
};
use crate::{
    domain::{
        Agency,
        filing_data::{Date, ProductCategory, SpotCheckChannel, SpotCheckResult},
    },
    services::{
        auth::Need,
        inspections::{self, InspectionPlanInput},
    },
};

#[derive(Default)]
pub struct InspectionQuery;

#[Object]
impl InspectionQuery {
    /// Supervisors of the plan's agency in its regions and administrators: plans with every
    /// draw; an officer: the plans it was drawn in, with its own draws.
    async fn inspection_plans(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        #[graphql(desc = "unused: plans are few")] after: Option<String>,
    ) -> Result<Vec<InspectionPlan>> {
        let _ = after;
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        Ok(inspections::list_plans(state, scope, first).await?.into_iter().map(InspectionPlan).collect())
    }

    /// Public (一公开), no login: finished plan-drawn checks — the business, its USCC, region,
    /// category, channel, result, date and plan; never an inspector or a finding.
    async fn public_inspection_results(
        &self,
        ctx: &Context<'_>,
        region_code: Option<String>,
        from: Option<Date>,
        to: Option<Date>,
    ) -> Result<Vec<PublicInspectionResult>> {
        let (state, _) = parts(ctx);
        let rows = inspections::public_results(state, region_code, from.map(|d| d.0), to.map(|d| d.0)).await?;
        rows.into_iter()
            .map(|r| {
                Ok(PublicInspectionResult {
                    merchant_name: r.merchant_name,
                    merchant_uscc: r.merchant_uscc,
                    region_code: r.check.region_code.clone(),
                    category: ProductCategory::parse(&r.check.category)?,
                    channel: SpotCheckChannel::parse(&r.check.channel)?,
                    result: SpotCheckResult::parse(&r.check.result)?,
                    checked_at: r.check.checked_at,
                    plan_name: r.plan_name,
                })
            })
            .collect()
    }
}

#[derive(Default)]
pub struct InspectionMutation;

#[Object]
impl InspectionMutation {
    /// Supervisors of INSPECTION or MARKET_REGULATION, inside their regions: draws merchants and
    /// their inspectors at random from a recorded seed.
    async fn create_inspection_plan(&self, ctx: &Context<'_>, input: InspectionPlanInput) -> Result<InspectionPlan> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Write).await?;
        Ok(InspectionPlan(inspections::create_plan(state, scope, input).await?))
    }
}

#[derive(SimpleObject)]
pub struct PublicInspectionResult {
    merchant_name: String,
    merchant_uscc: Option<String>,
    region_code: String,
    category: ProductCategory,
    channel: SpotCheckChannel,
    result: SpotCheckResult,
    checked_at: DateTime<Utc>,
    plan_name: Option<String>,
}

pub struct InspectionPlan(inspections::Plan);

#[Object(guard = "super::Reads::CASES")]
impl InspectionPlan {
    async fn id(&self) -> ID {
        ID(self.0.plan.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.plan.name
    }
    async fn agency(&self) -> Agency {
        self.0.plan.agency
    }
    async fn region_codes(&self) -> Vec<String> {
        serde_json::from_str(&self.0.plan.region_codes).unwrap_or_default()
    }
    async fn sample_size(&self) -> i32 {
        self.0.plan.sample_size
    }
    /// 64 hex digits: with the stored candidate lists, anyone can re-draw the plan.
    async fn seed(&self) -> &str {
        &self.0.plan.seed
    }
    async fn created_by(&self, ctx: &Context<'_>) -> Result<User> {
        user_by_id(ctx, self.0.plan.created_by).await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.plan.created_at
    }
    async fn draws(&self) -> Vec<InspectionDraw> {
        self.0.draws.iter().cloned().map(InspectionDraw).collect()
    }
}

pub struct InspectionDraw(inspection_draw::Model);

#[Object(guard = "super::Reads::CASES")]
impl InspectionDraw {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn merchant(&self, ctx: &Context<'_>) -> Result<Merchant> {
        merchant_by_id(ctx, self.0.merchant_id).await
    }
    /// Draws name merchants, not batches: the inspectors choose what to sample.
    async fn batch(&self) -> Option<ProductBatch> {
        None
    }
    /// The draw's inspectors, in the drawn order (one DataLoader batch for all draws of a page).
    async fn inspectors(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        let ids = serde_json::from_str::<Vec<uuid::Uuid>>(&self.0.inspectors).unwrap_or_default();
        users_by_ids(ctx, &ids).await
    }
    async fn spot_check(&self, ctx: &Context<'_>) -> Result<Option<SpotCheck>> {
        let loader = ctx.data_unchecked::<DataLoader<SpotCheckByDraw>>();
        Ok(loader.load_one(self.0.id).await.map_err(load_error)?.map(SpotCheck))
    }
}
