use crate::services::auth::Need;
use async_graphql::{Context, ID, InputObject, Object, Result};

use super::quality_objects::{ChannelComparison, ProductBatch, TraceView};
use super::{
    objects::{
        Case, CaseConnection, Filing, FilingConnection, Merchant, WorkloadRow, case_connection, filing_connection,
    },
    parts, scope,
    types::User,
    uuid_arg,
};
use crate::{
    domain::filing_data::Date,
    domain::{CaseStatus, FilingKind, FilingStatus, Uscc},
    error::AppError,
    services::auth::{Caller, accounts},
    services::cases,
    services::filings::{self, QueueFilter},
    services::merchants,
    services::quality,
    services::trace,
};

#[derive(Default)]
pub struct WorkflowQuery;

#[derive(InputObject, Default)]
pub struct FilingFilter {
    pub kinds: Option<Vec<FilingKind>>,
    pub statuses: Option<Vec<FilingStatus>>,
    pub region_codes: Option<Vec<String>>,
    pub assigned_to_me: Option<bool>,
    pub overdue: Option<bool>,
}

#[Object]
impl WorkflowQuery {
    /// The caller; null when not logged in.
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let (state, caller) = parts(ctx);
        if let Caller::Anonymous = caller {
            return Ok(None);
        }
        let principal = caller.require_user()?;
        Ok(accounts::find_user(state, principal.user_id).await?.map(User))
    }

    /// The caller's own merchant profile; null until it is saved.
    async fn merchant(&self, ctx: &Context<'_>) -> Result<Option<Merchant>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        Ok(merchants::own_merchant(state, scope).await?.map(Merchant))
    }

    async fn case(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Case>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        let case_id = uuid_arg("id", &id)?;
        // The case with its merchant, filings and assignees in one statement; the objects
        // below find them in the request's `Preloaded`.
        let bundle = cases::find_visible_bundle(&state.db, scope, case_id).await?;
        let preloaded = ctx.data::<super::Preloaded>()?;
        Ok(Some(Case(preloaded.keep_bundle(bundle))))
    }

    /// The cases the caller may see, newest first.
    #[graphql(complexity = "(first.unwrap_or(20).clamp(1, 100) as usize) * child_complexity")]
    async fn cases(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<CaseStatus>,
    ) -> Result<CaseConnection> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        Ok(case_connection(cases::list_cases(state, scope, first, after, status, None).await?))
    }

    async fn filing(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Filing>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        Ok(Some(Filing(filings::find_visible(state, scope, uuid_arg("id", &id)?).await?)))
    }

    /// Officers: filings of their agency in their regions, soonest deadline first.
    #[graphql(complexity = "(first.unwrap_or(20).clamp(1, 100) as usize) * child_complexity")]
    async fn review_queue(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<FilingFilter>,
    ) -> Result<FilingConnection> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        let filter = filter.unwrap_or_default();
        let filter = QueueFilter {
            kinds: filter.kinds,
            statuses: filter.statuses,
            region_codes: filter.region_codes,
            assigned_to_me: filter.assigned_to_me,
            overdue: filter.overdue,
        };
        let page = filings::review_queue(state, scope, first, after, filter).await?;
        let (page, cases, others) = page.split(|item| (item.filing, item.case, (item.merchant, item.assignee)));
        let (merchants, assignees): (Vec<_>, Vec<_>) = others.into_iter().unzip();
        if let Some(preloaded) = ctx.data_opt::<super::Preloaded>() {
            preloaded.keep(cases, merchants, assignees.into_iter().flatten());
        }
        Ok(filing_connection(page))
    }

    /// Supervisors: filings by agency, region and status, with overdue counts.
    async fn workload(&self, ctx: &Context<'_>) -> Result<Vec<WorkloadRow>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        let rows = filings::workload(state, scope).await?;
        Ok(rows.into_iter().map(WorkloadRow::try_from).collect::<Result<_, _>>()?)
    }

    /// The caller's product batches (merchants), newest first.
    #[graphql(complexity = "(first.unwrap_or(20).clamp(1, 100) as usize) * child_complexity")]
    async fn product_batches(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Vec<ProductBatch>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        Ok(trace::list_batches(state, scope, first, after).await?.into_iter().map(ProductBatch).collect())
    }

    /// Public: what a consumer sees for a trace code (null when unknown). Not counted as a scan.
    async fn trace(&self, ctx: &Context<'_>, code: String) -> Result<Option<TraceView>> {
        let (state, _) = parts(ctx);
        let code = trace::parse_trace_code(&code).ok_or_else(|| AppError::validation("code", "is not a trace code"))?;
        Ok(trace::trace_data(state, &code, None).await?.map(TraceView))
    }

    /// Inspection staff and admins: spot-check counts and pass rates online vs offline, per
    /// category (China dates, both ends included).
    async fn spot_check_comparison(
        &self,
        ctx: &Context<'_>,
        from: Option<Date>,
        to: Option<Date>,
        region_code: Option<String>,
        #[graphql(desc = "only the checks of this inspection plan's draws")] plan_id: Option<async_graphql::ID>,
    ) -> Result<Vec<ChannelComparison>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?;
        let plan = plan_id.as_ref().map(|p| super::uuid_arg("planId", p)).transpose()?;
        let rows =
            quality::comparison(state, scope, from.map(|d| d.0), to.map(|d| d.0), region_code.clone(), plan).await?;
        Ok(rows
            .into_iter()
            .map(|row| ChannelComparison::from_row(row, region_code.clone()))
            .collect::<Result<_, _>>()?)
    }

    /// API clients: all (admin) or the merchant's own.
    async fn api_clients(&self, ctx: &Context<'_>) -> Result<Vec<ApiClient>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::UserOnly).await?;
        Ok(crate::services::auth::clients::list_clients(state, scope).await?.into_iter().map(ApiClient).collect())
    }

    /// API clients: their webhook endpoints.
    async fn webhooks(&self, ctx: &Context<'_>) -> Result<Vec<super::webhook_objects::WebhookEndpoint>> {
        let (state, caller) = parts(ctx);
        Ok(crate::services::webhooks::endpoints(state, caller)
            .await?
            .into_iter()
            .map(super::webhook_objects::WebhookEndpoint)
            .collect())
    }

    /// Administrators: security events (logins, token reuse, role grants, API clients,
    /// throttling), newest first, optionally of one kind.
    #[graphql(complexity = "(first.unwrap_or(20).clamp(1, 100) as usize) * child_complexity")]
    async fn security_events(
        &self,
        ctx: &Context<'_>,
        kind: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<super::security_objects::SecurityEventConnection> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::UserOnly).await?;
        let page = crate::services::audit::security::list(state, scope, kind.as_deref(), first, after).await?;
        Ok(super::security_objects::security_event_connection(page))
    }

    /// API clients: the newest deliveries of one of their endpoints.
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        endpoint_id: ID,
        first: Option<i32>,
    ) -> Result<Vec<super::webhook_objects::WebhookDelivery>> {
        let (state, caller) = parts(ctx);
        let first = crate::platform::pagination::page_size(first)?;
        let endpoint_id = uuid_arg("endpointId", &endpoint_id)?;
        Ok(crate::services::webhooks::deliveries(state, caller, endpoint_id, first)
            .await?
            .into_iter()
            .map(super::webhook_objects::WebhookDelivery)
            .collect())
    }

    /// Public helper for forms: is this a valid Unified Social Credit Code (GB 32100, or a
    /// legally issued code on the portal's allow-list)?
    async fn validate_uscc(&self, ctx: &Context<'_>, code: String) -> bool {
        let (state, _) = parts(ctx);
        Uscc::parse_allowing("code", &code, &state.config.uscc_allow_list).is_ok()
    }
}

/// An integrator's OAuth client (without its secret).
pub struct ApiClient(entity::api_client::Model);

#[Object]
impl ApiClient {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn client_id(&self) -> &str {
        &self.0.client_id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn scopes(&self) -> Vec<String> {
        serde_json::from_str(&self.0.scopes).unwrap_or_default()
    }
    async fn merchant_id(&self) -> Option<ID> {
        self.0.merchant_id.map(|m| ID(m.to_string()))
    }
    async fn agency(&self) -> Option<&str> {
        self.0.agency.map(|a| a.as_str())
    }
    async fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.created_at
    }
    async fn revoked_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.0.revoked_at
    }
}
