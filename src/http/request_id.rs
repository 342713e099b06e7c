//! Every request gets an id (the client's `x-request-id` when it is sane, else a new UUID),
//! a tracing span that carries it, and the id echoed in the response header.

use std::time::Instant;

use poem::{Endpoint, IntoResponse, Request, Response, Result};
use tracing::Instrument;

#[derive(Clone, Debug)]
pub struct RequestId(pub String);

const HEADER: &str = "x-request-id";

fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

pub async fn around<E: Endpoint>(next: E, mut req: Request) -> Result<Response> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
    );
    #[cfg(feature = "otlp")]
    crate::platform::telemetry::otlp::continue_trace(&span, req.headers());
    async move {
        let started = Instant::now();
        let mut response = match next.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        };
        if let Ok(value) = id.parse() {
            response.headers_mut().insert(HEADER, value);
        }
        let status = response.status().as_u16();
        tracing::info!(status, elapsed_ms = started.elapsed().as_secs_f64() * 1000.0, "request done");
        Ok(response)
    }
    .instrument(span)
    .await
}
