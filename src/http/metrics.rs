//! Prometheus metrics through the `metrics` facade. The recorder is process-wide, installed
//! once (several apps in one test process share it).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poem::{
    IntoResponse, Request, Response, handler,
    http::{StatusCode, header},
    web::Data,
};
use subtle::ConstantTimeEq;

use crate::platform::state::AppState;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

pub fn install() {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_duration_seconds".into()), LATENCY_BUCKETS)
            .ok()?
            .build_recorder();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder).ok()?;
        Some(handle)
    });
}

/// `/metrics` on the main listener: only to `Authorization: Bearer <ONESTOP_METRICS_TOKEN>`;
/// 404 to everyone else, as if there were no such page.
#[handler]
pub async fn render_with_token(req: &Request, state: Data<&AppState>) -> Response {
    let offered =
        req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let allowed = match (&state.config.metrics.token, offered) {
        (Some(token), Some(offered)) => bool::from(token.as_bytes().ct_eq(offered.as_bytes())),
        _ => false,
    };
    if allowed { render_metrics().into_response() } else { StatusCode::NOT_FOUND.into_response() }
}

/// `/metrics` on its own listener (`ONESTOP_METRICS_BIND`): to whoever reaches it.
#[handler]
pub async fn render() -> impl IntoResponse {
    render_metrics()
}

fn render_metrics() -> impl IntoResponse {
    match HANDLE.get().and_then(Option::as_ref) {
        Some(handle) => handle.render().with_content_type("text/plain; version=0.0.4").into_response(),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}
