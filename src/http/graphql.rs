use std::time::Instant;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{BatchRequest, ParseRequestError, http::MultipartOptions};
use async_graphql_poem::GraphQLProtocol;
use poem::web::websocket::WebSocket;
use poem::{
    Body, IntoResponse, Request, Response, handler,
    http::{HeaderMap, StatusCode, header},
    web::{Data, Json},
};
use tokio_util::compat::TokioAsyncReadCompatExt;

use super::RequestId;
use crate::{
    graphql::{Api, Preloaded, ScopeCache},
    platform::state::AppState,
    platform::writes,
    services::auth::{Caller, jwt::TokenError},
};

/// `GET /graphql/ws`: subscriptions over graphql-transport-ws (and the older graphql-ws).
/// The access token comes in `connection_init`: `{"Authorization": "Bearer …"}` (or
/// `{"accessToken": "…"}`); the caller is re-checked for the life of the socket (`live`).
#[handler]
pub async fn subscriptions(
    api: Data<&Api>,
    state: Data<&AppState>,
    protocol: GraphQLProtocol,
    websocket: WebSocket,
    req: &Request,
) -> impl IntoResponse {
    let api = api.clone();
    let state = state.clone();
    // Operations over the socket are throttled and recorded by address like those over HTTP.
    let address = crate::http::client_ip(&state, req).map(crate::http::ClientAddress);
    websocket
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| super::live::serve(stream, api, state, protocol.0, address))
}

/// Reads `Authorization: Bearer <jwt>`. No header: anonymous. A header that does not verify:
/// a caller whose every protected request is refused with the reason.
pub(crate) fn caller_from(state: &AppState, headers: &HeaderMap) -> Caller {
    let Some(value) = headers.get("authorization") else {
        return Caller::Anonymous;
    };
    let Some(token) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
    else {
        return Caller::InvalidToken("Authorization header must be 'Bearer <token>'");
    };
    match state.jwt.verify(token.trim()) {
        Ok(principal) => Caller::User(principal),
        Err(TokenError::Expired) => Caller::InvalidToken("access token has expired"),
        Err(TokenError::Invalid) => Caller::InvalidToken("access token is invalid"),
    }
}

/// A GraphQL-shaped error answer for requests refused before execution.
fn refused(status: StatusCode, code: &str, message: &str, field: Option<&str>) -> Response {
    let mut extensions = serde_json::json!({ "code": code });
    if let Some(field) = field {
        extensions["fields"] = serde_json::json!([{ "field": field, "message": message }]);
    }
    Json(serde_json::json!({ "data": null, "errors": [{ "message": message, "extensions": extensions }] }))
        .with_status(status)
        .into_response()
}

/// Reads the GraphQL request: JSON up to `ONESTOP_MAX_BODY_BYTES` (one operation or a batch),
/// or a multipart upload (GraphQL multipart request spec) with one file of at most
/// `ONESTOP_UPLOAD_MAX_BYTES`.
async fn read_request(state: &AppState, req: &Request, body: Body) -> Result<BatchRequest, Response> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let multipart = content_type.as_deref().is_some_and(|c| c.starts_with("multipart/"));
    let length =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if !multipart && length.is_some_and(|n| n > state.config.max_body_bytes) {
        return Err(refused(StatusCode::PAYLOAD_TOO_LARGE, "BAD_REQUEST", "request body too large", None));
    }
    let options = MultipartOptions::default().max_file_size(state.config.documents.max_bytes).max_num_files(1);
    match async_graphql::http::receive_batch_body(content_type, body.into_async_read().compat(), options).await {
        Ok(BatchRequest::Batch(requests)) if requests.len() > state.config.limits.max_batch => {
            let limit = state.config.limits.max_batch;
            tracing::warn!(operations = requests.len(), limit, "batch refused");
            Err(refused(
                StatusCode::BAD_REQUEST,
                "BATCH_TOO_LARGE",
                &format!("the batch has {} operations; at most {limit} are allowed", requests.len()),
                None,
            ))
        }
        Ok(batch) => Ok(batch),
        Err(ParseRequestError::PayloadTooLarge) => Err(refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            "VALIDATION",
            &format!("file is larger than {} bytes", state.config.documents.max_bytes),
            Some("file"),
        )),
        Err(err) => Err(refused(StatusCode::BAD_REQUEST, "BAD_REQUEST", &err.to_string(), None)),
    }
}

/// Who is asking and from where, shared by every operation of a request.
struct Asker {
    caller: Caller,
    address: Option<crate::http::ClientAddress>,
    request_id: RequestId,
}

#[handler]
pub async fn graphql(
    api: Data<&Api>,
    state: Data<&AppState>,
    request_id: Data<&RequestId>,
    req: &Request,
    body: Body,
) -> Response {
    let batch = match read_request(&state, req, body).await {
        Ok(batch) => batch,
        Err(response) => return response,
    };
    let asker = Asker {
        caller: caller_from(&state, req.headers()),
        address: crate::http::client_ip(&state, req).map(crate::http::ClientAddress),
        request_id: request_id.0.clone(),
    };
    match batch {
        BatchRequest::Single(request) => single(&api, &state, req, &asker, request).await,
        BatchRequest::Batch(requests) => {
            if req.headers().contains_key("idempotency-key") {
                return refused(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION",
                    "Idempotency-Key applies to one operation, not a batch",
                    Some("Idempotency-Key"),
                );
            }
            let mut responses = Vec::with_capacity(requests.len());
            // One after the other: a batch must not take more of the machine than its operations sent one by one.
            for request in requests {
                responses.push(execute(&api, &state, &asker, request).await.response);
            }
            match serde_json::to_string(&responses) {
                Ok(body) => json_body(body),
                Err(err) => {
                    tracing::error!(error = %err, "response does not serialise");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            }
        }
    }
}

/// One operation, with `Idempotency-Key` handling.
async fn single(
    api: &Api,
    state: &AppState,
    req: &Request,
    asker: &Asker,
    request: async_graphql::Request,
) -> Response {
    let idempotency = match claim_idempotency_key(state, req, &asker.caller, &request).await {
        Ok(Claim::Run(key)) => key,
        Ok(Claim::Replay(body)) => return json_body(body).with_header("idempotent-replayed", "true").into_response(),
        Err(response) => return response,
    };
    let Executed { response } = execute(api, state, asker, request).await;
    let body = match serde_json::to_string(&response) {
        Ok(body) => body,
        Err(err) => {
            tracing::error!(error = %err, "response does not serialise");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let retry_after = retry_after(&response);
    if let Some((owner, key)) = idempotency {
        let retryable = response.errors.iter().any(|e| {
            e.extensions.as_ref().and_then(|x| x.get("code")).is_some_and(|c| {
                let c = c.to_string();
                c.contains("INTERNAL") || c.contains("SERVICE_UNAVAILABLE")
            })
        });
        if let Err(err) = crate::platform::idempotency::finish(state, &owner, &key, &body, retryable).await {
            tracing::error!(error = %err.detail(), "idempotency key not recorded");
        }
    }
    match retry_after {
        Some(seconds) => json_body(body).with_header(header::RETRY_AFTER, seconds).into_response(),
        None => json_body(body),
    }
}

/// For an answer that says "retry" (SERVICE_UNAVAILABLE, RATE_LIMITED): the seconds its error
/// advises, for the `Retry-After` header.
fn retry_after(response: &async_graphql::Response) -> Option<u64> {
    response.errors.iter().find_map(|error| {
        let extensions = error.extensions.as_ref()?;
        let code = extensions.get("code")?.to_string();
        if !(code.contains("SERVICE_UNAVAILABLE") || code.contains("RATE_LIMITED")) {
            return None;
        }
        match extensions.get("retryAfter")? {
            async_graphql::Value::Number(n) => n.as_u64(),
            _ => None,
        }
    })
}

/// An operation's response.
struct Executed {
    response: async_graphql::Response,
}

/// Runs one operation; gives document errors a code and internal ones the request id; counts it.
async fn execute(api: &Api, state: &AppState, asker: &Asker, request: async_graphql::Request) -> Executed {
    let started = Instant::now();
    let mut request = request.data(ScopeCache::default()).data(Preloaded::default());
    if let Some(address) = asker.address {
        request = request.data(address);
    }
    let mut request = request.data(asker.caller.clone()).data(asker.request_id.clone());
    let (label, mut response) = match api.preflight.check(&mut request) {
        Ok(checked) => {
            let (response, _) = writes::watching(api.schema_for(&checked).execute(request), |w| state.forget(w)).await;
            (checked.label.clone(), response)
        }
        Err(refusal) => (None, async_graphql::Response::from_errors(vec![refusal])),
    };

    let mut rejected = false;
    for error in response.errors.iter_mut() {
        let code =
            error.extensions.as_ref().and_then(|e| e.get("code")).map(|v| v.to_string().trim_matches('"').to_string());
        let extensions = error.extensions.get_or_insert_with(Default::default);
        match code.as_deref() {
            // Parse and validation errors of the GraphQL document itself.
            None => {
                rejected = true;
                let code = if error.message.contains("nested too deep") {
                    "QUERY_TOO_DEEP"
                } else if error.message.contains("too complex") {
                    "QUERY_TOO_COMPLEX"
                } else {
                    "BAD_REQUEST"
                };
                if code != "BAD_REQUEST" {
                    tracing::warn!(code, "query refused by the limits");
                }
                extensions.set("code", code);
            }
            Some("INTERNAL") | Some("SERVICE_UNAVAILABLE") => {
                extensions.set("requestId", asker.request_id.0.as_str());
            }
            Some(_) => {}
        }
    }
    let operation = if rejected { "invalid".to_string() } else { label.clone().unwrap_or_else(|| "unknown".into()) };
    let outcome = if response.errors.is_empty() { "ok" } else { "error" };
    count(operation, outcome, started);
    Executed { response }
}

/// Counts and logs an operation.
fn count(operation: String, outcome: &'static str, started: Instant) {
    let elapsed = started.elapsed().as_secs_f64();
    metrics::counter!("onestop_graphql_requests_total", "operation" => operation.clone(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("onestop_graphql_request_duration_seconds", "operation" => operation.clone()).record(elapsed);
    tracing::info!(operation = %operation, outcome, elapsed_ms = elapsed * 1000.0, "graphql");
}

fn json_body(body: String) -> Response {
    Response::builder().content_type("application/json").body(body)
}

enum Claim {
    /// Execute; with `Some((owner, key))`, record the response for the key afterwards.
    Run(Option<(String, String)>),
    /// The key was used for this same request: the first response.
    Replay(String),
}

/// `Idempotency-Key` handling for JSON requests (uploads are not covered).
async fn claim_idempotency_key(
    state: &AppState,
    req: &Request,
    caller: &Caller,
    request: &async_graphql::Request,
) -> Result<Claim, Response> {
    let Some(key) = req.headers().get("idempotency-key") else { return Ok(Claim::Run(None)) };
    let key = key.to_str().unwrap_or_default().to_string();
    if !crate::platform::idempotency::valid_key(&key) {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "VALIDATION",
            "Idempotency-Key must be 1 to 200 visible characters",
            Some("Idempotency-Key"),
        ));
    }
    // Anonymous callers do not share one key space: each client address (salted hash) has its
    // own; without an address there is no key space to give.
    let owner = match caller {
        Caller::User(principal) => {
            // A revoked API client's token still verifies until it expires: it must not fetch
            // kept responses either.
            if principal.client.is_some()
                && !crate::services::auth::clients::is_active(&state.db, principal.user_id).await.unwrap_or(false)
            {
                return Err(refused(StatusCode::OK, "UNAUTHENTICATED", "this API client was revoked", None));
            }
            principal.user_id.to_string()
        }
        _ => match crate::http::client_ip(state, req) {
            Some(address) => {
                format!("anon:{}", crate::services::trace::client_hash(&state.config.trace, &address.to_string()))
            }
            None => {
                return Err(refused(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION",
                    "Idempotency-Key needs a login or a client address",
                    Some("Idempotency-Key"),
                ));
            }
        },
    };
    let hash = crate::platform::idempotency::request_hash(request);
    match crate::platform::idempotency::begin(state, &owner, &key, &hash).await {
        Ok(crate::platform::idempotency::Begin::Fresh) => Ok(Claim::Run(Some((owner, key)))),
        Ok(crate::platform::idempotency::Begin::Replay(body)) => Ok(Claim::Replay(body)),
        Err(err) => Err(refused(StatusCode::OK, err.code(), &err.message(), None)),
    }
}
