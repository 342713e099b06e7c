use std::time::Instant;

use async_graphql::http::GraphiQLSource;
use async_graphql_poem::{GraphQLRequest, GraphQLResponse};
use poem::{
    handler,
    http::HeaderMap,
    web::{Data, Html},
};

use super::RequestId;
use crate::{
    auth::{Caller, Principal, jwt::TokenError},
    graphql::{OnestopSchema, OperationLabel, ScopeCache},
    state::AppState,
};

#[handler]
pub async fn graphiql() -> Html<String> {
    Html(GraphiQLSource::build().endpoint("/graphql").title("onestop GraphiQL").finish())
}

/// Reads `Authorization: Bearer <jwt>`. No header: anonymous. A header that does not verify:
/// a caller whose every protected request is refused with the reason.
fn caller_from(state: &AppState, headers: &HeaderMap) -> Caller {
    let Some(value) = headers.get("authorization") else {
        return Caller::Anonymous;
    };
    let Some(token) = value.to_str().ok().and_then(|v| {
        v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer "))
    }) else {
        return Caller::InvalidToken("Authorization header must be 'Bearer <token>'");
    };
    match state.jwt.verify(token.trim()) {
        Ok((user_id, role)) => Caller::User(Principal { user_id, role }),
        Err(TokenError::Expired) => Caller::InvalidToken("access token has expired"),
        Err(TokenError::Invalid) => Caller::InvalidToken("access token is invalid"),
    }
}

#[handler]
pub async fn graphql(
    schema: Data<&OnestopSchema>,
    state: Data<&AppState>,
    request_id: Data<&RequestId>,
    headers: &HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse {
    let started = Instant::now();
    let label = OperationLabel::default();
    let caller = caller_from(&state, headers);
    let request = request
        .0
        .data(caller)
        .data(ScopeCache::default())
        .data(label.clone())
        .data(request_id.0.clone());
    let mut response = schema.execute(request).await;

    let mut rejected = false;
    for error in response.errors.iter_mut() {
        let code = error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .map(|v| v.to_string().trim_matches('"').to_string());
        let extensions = error.extensions.get_or_insert_with(Default::default);
        match code.as_deref() {
            // Parse and validation errors of the GraphQL document itself.
            None => {
                rejected = true;
                extensions.set("code", "BAD_REQUEST");
            }
            Some("INTERNAL") | Some("SERVICE_UNAVAILABLE") => {
                extensions.set("requestId", request_id.0.0.as_str());
            }
            Some(_) => {}
        }
    }
    let operation = if rejected {
        "invalid".to_string()
    } else {
        label.get().unwrap_or_else(|| "unknown".into())
    };
    let outcome = if response.errors.is_empty() { "ok" } else { "error" };
    let elapsed = started.elapsed().as_secs_f64();
    metrics::counter!("onestop_graphql_requests_total", "operation" => operation.clone(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("onestop_graphql_request_duration_seconds", "operation" => operation.clone())
        .record(elapsed);
    tracing::info!(operation = %operation, outcome, elapsed_ms = elapsed * 1000.0, "graphql");
    response.into()
}
