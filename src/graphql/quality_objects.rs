//! GraphQL objects of traceability and quality: product batches, spot checks, the public
//! trace view and the channel comparison.

use async_graphql::{Context, ID, Object, Result, SimpleObject, dataloader::DataLoader};
use chrono::{DateTime, Utc};
use entity::{product_batch, spot_check};

use super::{
    loaders::{UserById, load_error},
    objects::Merchant,
    parts,
    types::User,
};
use crate::{
    domain::{
        Agency,
        filing_data::{Date, ProductCategory, SpotCheckChannel, SpotCheckResult},
    },
    error::AppError,
    services::quality,
    services::trace,
};

fn id(uuid: uuid::Uuid) -> ID {
    ID(uuid.to_string())
}

pub struct ProductBatch(pub product_batch::Model);

#[Object(guard = "super::Reads::BATCHES")]
impl ProductBatch {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn merchant(&self, ctx: &Context<'_>) -> Result<Merchant> {
        super::loaders::merchant_by_id(ctx, self.0.merchant_id).await
    }
    async fn product_name(&self) -> &str {
        &self.0.product_name
    }
    async fn category(&self) -> Result<ProductCategory> {
        Ok(ProductCategory::parse(&self.0.category)?)
    }
    async fn origin_region_code(&self) -> &str {
        &self.0.origin_region_code
    }
    async fn batch_number(&self) -> &str {
        &self.0.batch_number
    }
    async fn production_date(&self) -> Date {
        Date(self.0.production_date)
    }
    async fn quantity(&self) -> i32 {
        i32::try_from(self.0.quantity).unwrap_or(i32::MAX)
    }
    async fn trace_code(&self) -> &str {
        &self.0.trace_code
    }
    /// {public base url}/t/{traceCode}
    async fn trace_url(&self, ctx: &Context<'_>) -> String {
        let (state, _) = parts(ctx);
        trace::trace_url(state, &self.0.trace_code)
    }
    async fn scan_count(&self) -> i32 {
        i32::try_from(self.0.scan_count).unwrap_or(i32::MAX)
    }
    async fn suspected_counterfeit(&self) -> bool {
        self.0.suspected_counterfeit
    }
    /// 14 digits; with it the QR code is a GS1 Digital Link.
    async fn gtin(&self) -> Option<&str> {
        self.0.gtin.as_deref()
    }
    async fn expiry_date(&self) -> Option<Date> {
        self.0.expiry_date.map(Date)
    }
    /// {public base url}/01/{gtin}/10/{batchNumber}: what the QR code encodes when the batch
    /// has a GTIN (any GS1 scanner app opens it); resolves to the trace page.
    async fn digital_link_url(&self, ctx: &Context<'_>) -> Option<String> {
        let (state, _) = parts(ctx);
        trace::digital_link(state, &self.0)
    }
    async fn spot_checks(&self, ctx: &Context<'_>) -> Result<Vec<SpotCheck>> {
        let (state, _) = parts(ctx);
        Ok(quality::checks_of_batch(state, self.0.id).await?.into_iter().map(SpotCheck).collect())
    }
}

pub struct SpotCheck(pub spot_check::Model);

#[Object(guard = "super::Reads::CASES")]
impl SpotCheck {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn batch(&self, ctx: &Context<'_>) -> Result<Option<ProductBatch>> {
        let Some(batch_id) = self.0.batch_id else { return Ok(None) };
        let (state, _) = parts(ctx);
        use sea_orm::EntityTrait;
        Ok(product_batch::Entity::find_by_id(batch_id).one(&state.db).await.map_err(AppError::from)?.map(ProductBatch))
    }
    async fn merchant(&self, ctx: &Context<'_>) -> Result<Merchant> {
        super::loaders::merchant_by_id(ctx, self.0.merchant_id).await
    }
    async fn channel(&self) -> Result<SpotCheckChannel> {
        Ok(SpotCheckChannel::parse(&self.0.channel)?)
    }
    async fn category(&self) -> Result<ProductCategory> {
        Ok(ProductCategory::parse(&self.0.category)?)
    }
    async fn region_code(&self) -> &str {
        &self.0.region_code
    }
    async fn result(&self) -> Result<SpotCheckResult> {
        Ok(SpotCheckResult::parse(&self.0.result)?)
    }
    async fn findings(&self) -> Option<&str> {
        self.0.findings.as_deref()
    }
    async fn checked_at(&self) -> DateTime<Utc> {
        self.0.checked_at
    }
    async fn officer(&self, ctx: &Context<'_>) -> Result<User> {
        let loader = ctx.data_unchecked::<DataLoader<UserById>>();
        let user = loader.load_one(self.0.officer_id).await.map_err(load_error)?;
        Ok(User(user.ok_or_else(|| AppError::NotFound("user".into()))?))
    }
}

/// What anyone may see by trace code, without logging in.
pub struct TraceView(pub trace::TraceData);

#[Object]
impl TraceView {
    async fn trace_code(&self) -> &str {
        &self.0.batch.trace_code
    }
    async fn product_name(&self) -> &str {
        &self.0.batch.product_name
    }
    async fn category(&self) -> Result<ProductCategory> {
        Ok(ProductCategory::parse(&self.0.batch.category)?)
    }
    async fn origin_region_code(&self) -> &str {
        &self.0.batch.origin_region_code
    }
    /// The origin as a name, e.g. "四川省 雅安市 (Sichuan)".
    async fn origin_region_name(&self) -> String {
        crate::domain::region_names::region_name(&self.0.batch.origin_region_code)
    }
    async fn batch_number(&self) -> &str {
        &self.0.batch.batch_number
    }
    async fn gtin(&self) -> Option<&str> {
        self.0.batch.gtin.as_deref()
    }
    async fn expiry_date(&self) -> Option<Date> {
        self.0.batch.expiry_date.map(Date)
    }
    /// Past its expiry date: the page warns the consumer.
    async fn expired(&self) -> bool {
        self.0.expired()
    }
    async fn production_date(&self) -> Date {
        Date(self.0.batch.production_date)
    }
    async fn merchant_name(&self) -> &str {
        &self.0.merchant.name
    }
    /// The USCC the merchant is known by: verified here, or only declared (see
    /// `merchantVerified`).
    async fn merchant_uscc(&self) -> Option<&str> {
        self.0.merchant.known_uscc()
    }
    /// A REGISTRATION of this merchant was approved here (its USCC issued or verified); a USCC
    /// only typed into the profile is not.
    async fn merchant_verified(&self) -> bool {
        self.0.merchant_verified()
    }
    /// Only what the public may see: no officer, no findings, no merchant contact data.
    async fn latest_spot_check(&self) -> Option<PublicSpotCheck> {
        self.0.latest_check.clone().map(PublicSpotCheck)
    }
    async fn scan_count(&self) -> i32 {
        i32::try_from(self.0.scan_count).unwrap_or(i32::MAX)
    }
    async fn suspected_counterfeit(&self) -> bool {
        self.0.batch.suspected_counterfeit
    }
}

/// A spot check as anyone may see it on a trace page.
pub struct PublicSpotCheck(spot_check::Model);

#[Object]
impl PublicSpotCheck {
    async fn channel(&self) -> Result<SpotCheckChannel> {
        Ok(SpotCheckChannel::parse(&self.0.channel)?)
    }
    async fn result(&self) -> Result<SpotCheckResult> {
        Ok(SpotCheckResult::parse(&self.0.result)?)
    }
    async fn checked_at(&self) -> DateTime<Utc> {
        self.0.checked_at
    }
    /// The agency that checked (never the officer).
    async fn agency(&self) -> Result<Agency> {
        Ok(self.0.agency)
    }
    async fn region_code(&self) -> &str {
        &self.0.region_code
    }
}

#[derive(SimpleObject)]
pub struct ChannelComparison {
    pub category: ProductCategory,
    pub region_code: Option<String>,
    pub online: i32,
    pub online_passed: i32,
    pub offline: i32,
    pub offline_passed: i32,
    pub online_pass_rate: Option<f64>,
    pub offline_pass_rate: Option<f64>,
}

fn rate(passed: i64, total: i64) -> Option<f64> {
    (total > 0).then(|| passed as f64 / total as f64)
}

impl ChannelComparison {
    pub fn from_row(row: quality::ComparisonRow, region_code: Option<String>) -> Result<Self, AppError> {
        let count = |n: i64| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(Self {
            category: ProductCategory::parse(&row.category)?,
            region_code,
            online: count(row.online),
            online_passed: count(row.online_passed),
            offline: count(row.offline),
            offline_passed: count(row.offline_passed),
            online_pass_rate: rate(row.online_passed, row.online),
            offline_pass_rate: rate(row.offline_passed, row.offline),
        })
    }
}
