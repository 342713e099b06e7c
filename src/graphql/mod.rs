//! The GraphQL API: thin resolvers that read the caller and the input and call a service.

mod decision_objects;
mod filing_data;
mod filing_objects;
mod inspection_objects;
mod job_objects;
mod licence_objects;
mod loaders;
mod mutation;
mod objects;
mod people_objects;
mod preflight;
mod quality_objects;
mod query;
mod requirement_objects;
mod security_objects;
mod share_objects;
mod stats_objects;
mod subscription;
mod trail_objects;
mod types;
mod webhook_objects;

use async_graphql::{Context, Schema, dataloader::DataLoader};
use tokio::sync::OnceCell;
use uuid::Uuid;

pub use preflight::Preflight;

use crate::{
    error::{AppError, AppResult},
    platform::state::AppState,
    services::access::{self, Scope},
    services::auth::{Caller, Need},
};

/// The root query: the v1 workflow and each v2 capability in its own module.
#[derive(async_graphql::MergedObject, Default)]
pub struct Query(
    query::WorkflowQuery,
    requirement_objects::RequirementQuery,
    decision_objects::DecisionQuery,
    licence_objects::LicenceQuery,
    people_objects::PeopleQuery,
    share_objects::ShareQuery,
    stats_objects::StatsQuery,
    inspection_objects::InspectionQuery,
    job_objects::JobQuery,
);

#[derive(async_graphql::MergedObject, Default)]
pub struct Mutation(
    mutation::WorkflowMutation,
    requirement_objects::RequirementMutation,
    decision_objects::DecisionMutation,
    licence_objects::LicenceMutation,
    people_objects::PeopleMutation,
    share_objects::ShareMutation,
    inspection_objects::InspectionMutation,
);

pub type OnestopSchema = Schema<Query, Mutation, subscription::Subscription>;

/// The schema and the checks each document passes before it runs (HTTP and WebSocket).
#[derive(Clone)]
pub struct Api {
    pub schema: OnestopSchema,
    /// For documents that only introspect (GraphiQL's schema query is 13 levels deep, over
    /// the depth limit for data): the same schema with a depth limit of 32. None in production,
    /// where introspection is off.
    pub introspection: Option<OnestopSchema>,
    pub preflight: std::sync::Arc<Preflight>,
}

impl Api {
    /// The schema a document that passed the preflight runs on.
    pub fn schema_for(&self, checked: &preflight::Checked) -> &OnestopSchema {
        match &self.introspection {
            Some(schema) if checked.introspection_only => schema,
            _ => &self.schema,
        }
    }
}

const INTROSPECTION_DEPTH: usize = 32;

/// The schema with its limits; fails when the trusted-operations manifest is unreadable.
pub fn build_api(state: AppState) -> anyhow::Result<Api> {
    let limits = state.config.limits.clone();
    let trusted = match &limits.trusted_operations {
        Some(path) => {
            let trusted = preflight::TrustedOperations::load(path)?;
            tracing::info!(operations = trusted.len(), "only trusted operations will run");
            Some(trusted)
        }
        None => None,
    };
    let preflight = Preflight {
        examined: Default::default(),
        max_aliases: limits.max_aliases,
        max_root_fields: limits.max_root_fields,
        trusted,
    };
    let production = state.config.environment == crate::config::Environment::Production;
    let introspection = (!production).then(|| build_schema(state.clone(), INTROSPECTION_DEPTH));
    Ok(Api { schema: build_schema(state, limits.max_depth), introspection, preflight: std::sync::Arc::new(preflight) })
}

/// The schema: no extensions (see `preflight`), so fields resolve on async-graphql's fast path.
fn build_schema(state: AppState, max_depth: usize) -> OnestopSchema {
    let db = state.db.clone();
    let limits = state.config.limits.clone();
    let production = state.config.environment == crate::config::Environment::Production;
    let mut builder = Schema::build(Query::default(), Mutation::default(), subscription::Subscription)
        .limit_depth(max_depth)
        .limit_complexity(limits.max_complexity);
    if production {
        // No schema tour or "did you mean" hints for strangers in production.
        builder = builder.disable_introspection().disable_suggestions();
    }
    builder
        .data(DataLoader::new(loaders::UserById(db.clone()), tokio::spawn))
        .data(DataLoader::new(loaders::SpotCheckByDraw(db.clone()), tokio::spawn))
        .data(DataLoader::new(loaders::MerchantById(db.clone()), tokio::spawn))
        .data(DataLoader::new(loaders::CaseById(db.clone()), tokio::spawn))
        .data(DataLoader::new(loaders::FilingsByCase(db.clone()), tokio::spawn))
        .data(DataLoader::new(loaders::RegionsByUser(db.clone()), tokio::spawn))
        .data(DataLoader::new(loaders::RuleVersionsByRule(db), tokio::spawn))
        .data(state)
        .finish()
}

/// The schema without any state, for `onestop export-schema`.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), subscription::Subscription).finish().sdl()
}

/// The application state and the caller of the current request.
pub(crate) fn parts<'a>(ctx: &Context<'a>) -> (&'a AppState, &'a Caller) {
    static ANONYMOUS: Caller = Caller::Anonymous;
    let state = ctx.data_unchecked::<AppState>();
    let caller = ctx.data_opt::<Caller>().unwrap_or(&ANONYMOUS);
    (state, caller)
}

/// What a resolver already read for this request with its own statement — the review queue's
/// cases and merchants, joined to the page — for the objects below it, which would otherwise
/// ask the database again (issue 15: a queue page in ≤ 3 statements).
#[derive(Default)]
pub struct Preloaded {
    cases: std::sync::Mutex<std::collections::HashMap<Uuid, entity::case::Model>>,
    merchants: std::sync::Mutex<std::collections::HashMap<Uuid, entity::merchant::Model>>,
    users: std::sync::Mutex<std::collections::HashMap<Uuid, entity::user::Model>>,
    /// Every filing of a case, by the case's id (case detail reads them with the case).
    filings: std::sync::Mutex<std::collections::HashMap<Uuid, Vec<entity::filing::Model>>>,
}

impl Preloaded {
    pub(crate) fn keep(
        &self,
        cases: impl IntoIterator<Item = entity::case::Model>,
        merchants: impl IntoIterator<Item = entity::merchant::Model>,
        users: impl IntoIterator<Item = entity::user::Model>,
    ) {
        if let Ok(mut kept) = self.users.lock() {
            kept.extend(users.into_iter().map(|u| (u.id, u)));
        }
        if let Ok(mut kept) = self.cases.lock() {
            kept.extend(cases.into_iter().map(|c| (c.id, c)));
        }
        if let Ok(mut kept) = self.merchants.lock() {
            kept.extend(merchants.into_iter().map(|m| (m.id, m)));
        }
    }

    /// A case detail's rows: its merchant, its filings and their assignees.
    pub(crate) fn keep_bundle(&self, bundle: crate::services::cases::CaseBundle) -> entity::case::Model {
        let crate::services::cases::CaseBundle { case, merchant, filings, assignees } = bundle;
        if let Ok(mut kept) = self.filings.lock() {
            kept.insert(case.id, filings);
        }
        self.keep([], [merchant], assignees);
        case
    }

    /// Every filing of the case, if this request read them already.
    pub(crate) fn filings_of(ctx: &Context<'_>, case_id: Uuid) -> Option<Vec<entity::filing::Model>> {
        ctx.data_opt::<Self>()?.filings.lock().ok()?.get(&case_id).cloned()
    }

    pub(crate) fn case(ctx: &Context<'_>, id: Uuid) -> Option<entity::case::Model> {
        ctx.data_opt::<Self>()?.cases.lock().ok()?.get(&id).cloned()
    }

    pub(crate) fn merchant(ctx: &Context<'_>, id: Uuid) -> Option<entity::merchant::Model> {
        ctx.data_opt::<Self>()?.merchants.lock().ok()?.get(&id).cloned()
    }

    pub(crate) fn user(ctx: &Context<'_>, id: Uuid) -> Option<entity::user::Model> {
        ctx.data_opt::<Self>()?.users.lock().ok()?.get(&id).cloned()
    }
}

/// Per-request cache of the caller's scope (loaded once, on first use).
#[derive(Default)]
pub struct ScopeCache(OnceCell<Scope>);

impl ScopeCache {
    /// A cache holding a scope already loaded (a live socket's operation gets the one its
    /// caller check just read).
    pub fn with(scope: Scope) -> Self {
        Self(OnceCell::new_with(Some(scope)))
    }
}

/// What the caller may reach; UNAUTHENTICATED without a valid login, FORBIDDEN when an
/// integrator's token lacks the scope the operation needs.
pub(crate) async fn scope<'a>(ctx: &Context<'a>, need: Need) -> AppResult<&'a Scope> {
    parts(ctx).1.require_scope(need)?;
    loaded_scope(ctx).await
}

/// The caller's scope without asking for an integrator scope: for fields inside objects the
/// caller already reached (e.g. whether to mask a filing's data).
pub(crate) async fn loaded_scope<'a>(ctx: &Context<'a>) -> AppResult<&'a Scope> {
    let (state, caller) = parts(ctx);
    let cache =
        ctx.data_opt::<ScopeCache>().ok_or_else(|| AppError::Internal(anyhow::anyhow!("no scope cache in request")))?;
    cache.0.get_or_try_init(|| access::scope_for(state, caller)).await
}

/// The scope an integrator's token needs to read an object's fields, checked on the object
/// (`#[Object(guard = "Reads::CASES")]`) rather than at the entry point: a token that reached a
/// filing through `approveFiling` with only `decisions:write` does not reach its case, merchant
/// or data. Users' tokens carry every scope of their role and pass.
pub(crate) struct Reads(&'static [Need]);

impl Reads {
    /// Case-workflow objects: `cases:read`.
    pub const CASES: Self = Self(&[Need::Read]);
    /// Product batches: `cases:read` or `trace:write` (the client that registered them).
    pub const BATCHES: Self = Self(&[Need::Read, Need::Trace]);
}

impl async_graphql::Guard for Reads {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let caller = parts(ctx).1;
        let mut outcome = Ok(());
        for need in self.0 {
            outcome = caller.require_scope(*need);
            if outcome.is_ok() {
                break;
            }
        }
        Ok(outcome?)
    }
}

/// For a merchant's fields beyond name, USCC, region and address: an agent acting for the
/// merchant does not read them (FORBIDDEN).
pub(crate) struct NotAgent;

impl async_graphql::Guard for NotAgent {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        if matches!(loaded_scope(ctx).await?, Scope::Agent { .. }) {
            return Err(
                AppError::Forbidden("an agent sees a client's name, USCC, region and address only".into()).into()
            );
        }
        Ok(())
    }
}

/// For the few fields any holder of the object may read (its id, and a decision's outcome).
pub(crate) struct Anyone;

impl async_graphql::Guard for Anyone {
    async fn check(&self, _ctx: &Context<'_>) -> async_graphql::Result<()> {
        Ok(())
    }
}

/// Parses a GraphQL `ID` argument as a UUID, naming the argument when it is malformed.
pub(crate) fn uuid_arg(field: &str, id: &async_graphql::ID) -> AppResult<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|_| AppError::validation(field, "is not a valid ID"))
}

/// The client's address as the server sees it (for throttling and security events).
pub(crate) fn client_address(ctx: &Context<'_>) -> Option<std::net::IpAddr> {
    ctx.data_opt::<crate::http::ClientAddress>().map(|a| a.0)
}
