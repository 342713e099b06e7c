//! The HTTP surface: routes, the GraphQL endpoint, health, metrics and request ids.

mod documents;
mod graphiql;
mod graphql;
mod health;
mod live;
pub mod metrics;
mod oauth;
pub mod public;
mod request_id;

use poem::{
    EndpointExt, Route,
    endpoint::BoxEndpoint,
    get,
    http::{Method, header},
    middleware::{Cors, SetHeader, SizeLimit},
};

pub use request_id::RequestId;

/// The client's address as the server sees it (for throttling).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddress(pub std::net::IpAddr);

/// The client's address: the peer, or — with `ONESTOP_TRUST_FORWARDED_FOR`, behind one
/// trusted proxy — the last `X-Forwarded-For` entry, the one that proxy appended. Earlier
/// entries are whatever the client chose to send, so they are never used.
pub fn client_ip(state: &crate::platform::state::AppState, req: &poem::Request) -> Option<std::net::IpAddr> {
    if state.config.trace.trust_forwarded_for {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .last()
            .and_then(|v| v.trim().parse().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    req.remote_addr().as_socket_addr().map(|a| a.ip())
}

/// The key an address is throttled under: an IPv6 address by its /64 (one subscriber usually
/// holds a whole /64, so per-address limits on full IPv6 addresses are no limit at all), an
/// IPv4 address — also written IPv4-mapped — as it is.
pub fn rate_key(address: std::net::IpAddr) -> std::net::IpAddr {
    use std::net::{IpAddr, Ipv6Addr};
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

use crate::{graphql::Api, platform::state::AppState};

pub fn routes(state: AppState, api: Api) -> BoxEndpoint<'static> {
    // The hard cap on any POST body. JSON bodies are held to ONESTOP_MAX_BODY_BYTES in the
    // handler, and an upload over ONESTOP_UPLOAD_MAX_BYTES (but under this cap) gets a GraphQL
    // VALIDATION error from the multipart reader rather than a bare 413.
    let max_body = state.config.max_body_bytes.max(state.config.documents.max_bytes * 2 + 1024 * 1024);
    let origins = state.config.cors_origins.clone();
    let app = Route::new()
        .at(
            "/graphql",
            // SizeLimit refuses requests without Content-Length, so it guards POST only.
            get(graphiql::page).post(graphql::graphql.with(SizeLimit::new(max_body)).catch_error(size_refused)),
        )
        .at("/graphql/ws", get(graphql::subscriptions))
        .at("/graphql/assets/:name", get(graphiql::asset))
        .at("/oauth/token", poem::post(oauth::token.with(SizeLimit::new(16 * 1024))))
        .at("/documents/:id", get(documents::download))
        .at("/healthz", get(health::healthz))
        .at("/readyz", get(health::readyz))
        .at("/metrics", get(metrics::render_with_token))
        .at("/t/:code", get(public::trace_page))
        .at("/t/:code/qr.svg", get(public::trace_qr_svg))
        .at("/t/:code/qr.png", get(public::trace_qr_png))
        .at("/01/:gtin/10/:batch", get(public::digital_link_page))
        .at("/c/:number", get(public::certificate_page))
        .at("/c/:number/qr.svg", get(public::certificate_qr_svg))
        .data(std::sync::Arc::new(public::ScanLimiter::new(
            state.config.trace.scans_per_minute,
            state.shared_limits.clone(),
        )))
        .data(api)
        .data(state)
        // Every response: no MIME sniffing, no framing, no referrer leaks.
        .with(
            SetHeader::new()
                .overriding(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
                .overriding(header::X_FRAME_OPTIONS, "DENY")
                .overriding(header::REFERRER_POLICY, "no-referrer"),
        );
    // Browsers may call the API cross-origin only from the configured origins.
    let app = if origins.is_empty() {
        app.boxed()
    } else {
        app.with(Cors::new().allow_origins(origins).allow_methods([Method::GET, Method::POST]).allow_headers([
            "authorization",
            "content-type",
            "idempotency-key",
            "x-request-id",
        ]))
        .boxed()
    };
    app.around(request_id::around).boxed()
}

/// A POST body the size limit refused (no `Content-Length`, or too large), answered as every
/// other refusal of `/graphql` is: a JSON error with a code, under its own HTTP status.
async fn size_refused(err: poem::error::SizedLimitError) -> poem::Response {
    use poem::IntoResponse;
    let (status, message) = match err {
        poem::error::SizedLimitError::MissingContentLength => {
            (poem::http::StatusCode::LENGTH_REQUIRED, "the request needs a Content-Length")
        }
        poem::error::SizedLimitError::PayloadTooLarge => {
            (poem::http::StatusCode::PAYLOAD_TOO_LARGE, "the request body is too large")
        }
    };
    let body = serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": "BAD_REQUEST" } }] });
    poem::web::Json(body).with_status(status).into_response()
}
