//! The GraphQL API: thin resolvers that read the caller and the input and call a service.

mod mutation;
mod observe;
mod query;
mod types;

use async_graphql::{Context, EmptySubscription, Schema};

pub use observe::{OperationLabel, OperationObserver};

use crate::{auth::Caller, state::AppState};

pub type OnestopSchema = Schema<query::Query, mutation::Mutation, EmptySubscription>;

pub fn build_schema(state: AppState) -> OnestopSchema {
    Schema::build(query::Query, mutation::Mutation, EmptySubscription)
        .data(state)
        .extension(OperationObserver)
        .finish()
}

/// The schema without any state, for `onestop export-schema`.
pub fn sdl() -> String {
    Schema::build(query::Query, mutation::Mutation, EmptySubscription)
        .finish()
        .sdl()
}

/// The application state and the caller of the current request.
pub(crate) fn parts<'a>(ctx: &Context<'a>) -> (&'a AppState, &'a Caller) {
    static ANONYMOUS: Caller = Caller::Anonymous;
    let state = ctx.data_unchecked::<AppState>();
    let caller = ctx.data_opt::<Caller>().unwrap_or(&ANONYMOUS);
    (state, caller)
}
