//! Supervision figures: `processingStats` for supervisors and administrators, and the public
//! `serviceLevels` (per kind: statutory days, the real median and on-time share).

use async_graphql::{Context, Object, Result, SimpleObject, dataloader::DataLoader};

use super::{
    loaders::{UserById, load_error},
    parts, scope,
    types::User,
};
use crate::{
    domain::{Agency, FilingKind, filing_data::Date},
    services::{
        auth::Need,
        stats::{self, StatsDimension, StatsRequest, StatsRow},
    },
};

#[derive(Default)]
pub struct StatsQuery;

#[Object]
impl StatsQuery {
    /// Received, decided, approved, rejected, auto-approved, correction rounds, median and p90
    /// working days from submission to decision (correction pauses left out, holidays
    /// skipped) and the on-time share, grouped by the dimensions asked for, over `from`–`to`
    /// (China dates, inclusive). Supervisors: their agency and regions; administrators: all.
    async fn processing_stats(
        &self,
        ctx: &Context<'_>,
        from: Date,
        to: Date,
        group_by: Vec<StatsDimension>,
        agency: Option<Agency>,
        region_code: Option<String>,
    ) -> Result<Vec<ProcessingStatsRow>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        let request = StatsRequest { from: from.0, to: to.0, group_by, agency, region_code };
        Ok(stats::processing_stats(state, scope, request).await?.into_iter().map(ProcessingStatsRow).collect())
    }

    /// Public, no login: per kind, the statutory review time and how long the last 90 days'
    /// decisions really took.
    async fn service_levels(&self, ctx: &Context<'_>) -> Result<Vec<ServiceLevel>> {
        let (state, _) = parts(ctx);
        Ok(stats::service_levels(state)
            .await?
            .into_iter()
            .map(|(kind, days, row)| ServiceLevel {
                kind,
                agency: kind.agency(),
                statutory_working_days: i32::try_from(days).unwrap_or(i32::MAX),
                median_working_days: row.median_working_days,
                on_time_share: row.on_time_share,
                sample: i32::try_from(row.decided).unwrap_or(i32::MAX),
            })
            .collect())
    }
}

#[derive(SimpleObject)]
pub struct ServiceLevel {
    kind: FilingKind,
    agency: Agency,
    statutory_working_days: i32,
    median_working_days: Option<f64>,
    on_time_share: Option<f64>,
    /// Decisions of the last 90 days counted.
    sample: i32,
}

pub struct ProcessingStatsRow(StatsRow);

fn int(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[Object(guard = "super::Reads::CASES")]
impl ProcessingStatsRow {
    async fn agency(&self) -> Option<Agency> {
        self.0.agency
    }
    async fn kind(&self) -> Option<FilingKind> {
        self.0.kind
    }
    async fn region_code(&self) -> Option<&str> {
        self.0.region_code.as_deref()
    }
    async fn officer(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(id) = self.0.officer else { return Ok(None) };
        let loader = ctx.data_unchecked::<DataLoader<UserById>>();
        Ok(loader.load_one(id).await.map_err(load_error)?.map(User))
    }
    /// YYYY-MM (China time).
    async fn month(&self) -> Option<&str> {
        self.0.month.as_deref()
    }
    async fn received(&self) -> i32 {
        int(self.0.received)
    }
    async fn decided(&self) -> i32 {
        int(self.0.decided)
    }
    async fn approved(&self) -> i32 {
        int(self.0.approved)
    }
    async fn rejected(&self) -> i32 {
        int(self.0.rejected)
    }
    async fn auto_approved(&self) -> i32 {
        int(self.0.auto_approved)
    }
    async fn correction_rounds(&self) -> i32 {
        int(self.0.correction_rounds)
    }
    async fn median_working_days(&self) -> Option<f64> {
        self.0.median_working_days
    }
    async fn p90_working_days(&self) -> Option<f64> {
        self.0.p90_working_days
    }
    async fn on_time_share(&self) -> Option<f64> {
        self.0.on_time_share
    }
}
