//! OpenTelemetry traces over OTLP/HTTP (JSON) to `ONESTOP_OTLP_ENDPOINT` (built with the
//! `otlp` feature; off unless the variable is set). Each HTTP request is a span that continues
//! the caller's W3C `traceparent`; every instrumented service call is a span inside it; every
//! SQL statement is a span with the statement's text only — bound values never leave the
//! process, and neither do log fields: the spans carry what the `tracing` spans name
//! (request id, method, path, ids), which is why no personal data may be put in a span field.

use std::{sync::OnceLock, time::SystemTime};

use opentelemetry::{
    Context, KeyValue,
    propagation::{Extractor, TextMapPropagator},
    trace::TraceContextExt,
    trace::{Span, SpanKind, Status, Tracer, TracerProvider},
};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::{
    Resource,
    propagation::TraceContextPropagator,
    trace::{SdkTracerProvider, Tracer as SdkTracer},
};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// The tracer SQL statement spans are made with; set while a pipeline runs.
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

pub struct Pipeline {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl Pipeline {
    /// Exports batches to `{endpoint}/v1/traces` from a background thread.
    pub fn start(endpoint: &str) -> anyhow::Result<Self> {
        let endpoint = endpoint.trim_end_matches('/');
        let url = if endpoint.ends_with("/v1/traces") { endpoint.to_string() } else { format!("{endpoint}/v1/traces") };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpJson)
            .with_endpoint(url)
            .build()?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(Resource::builder().with_service_name("onestop").build())
            .build();
        let tracer = provider.tracer("onestop");
        let _ = TRACER.set(tracer.clone());
        Ok(Self { provider, tracer })
    }

    /// The `tracing` layer that turns spans (INFO and above) into OpenTelemetry spans.
    pub fn layer(&self) -> Box<dyn Layer<Registry> + Send + Sync> {
        tracing_opentelemetry::layer().with_tracer(self.tracer.clone()).with_filter(EnvFilter::new("info")).boxed()
    }

    pub fn shutdown(self) {
        if let Err(err) = self.provider.shutdown() {
            eprintln!("OpenTelemetry: {err}");
        }
    }
}

/// HTTP headers as a propagation carrier.
struct Headers<'a>(&'a poem::http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Makes `span` continue the trace of the request's `traceparent` (W3C Trace Context), if any.
pub fn continue_trace(span: &tracing::Span, headers: &poem::http::HeaderMap) {
    if TRACER.get().is_none() || !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    let _ = span.set_parent(parent);
}

/// The current span's W3C `traceparent`, while traces are exported (for work done later in
/// its name: a webhook delivery).
pub fn current_traceparent() -> Option<String> {
    TRACER.get()?;
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = std::collections::HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

/// A client span for sending a webhook delivery, child of the `traceparent` it was staged
/// under, and the `traceparent` header that names it; without an exporter the stored value is
/// passed on as it is (the receiver still joins the caller's trace).
pub fn delivery_span(traceparent: &str) -> (Option<opentelemetry_sdk::trace::Span>, String) {
    let Some(tracer) = TRACER.get() else { return (None, traceparent.to_string()) };
    let stored = std::collections::HashMap::from([("traceparent".to_string(), traceparent.to_string())]);
    let parent = TraceContextPropagator::new().extract(&stored);
    let span = tracer.span_builder("webhook.deliver").with_kind(SpanKind::Client).start_with_context(tracer, &parent);
    let context = parent.with_remote_span_context(span.span_context().clone());
    let mut carrier = std::collections::HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    let header = carrier.remove("traceparent").unwrap_or_else(|| traceparent.to_string());
    (Some(span), header)
}

/// Marks a delivery span failed.
pub fn failed(span: &mut opentelemetry_sdk::trace::Span, reason: String) {
    span.set_status(Status::error(reason));
}

/// A span for one SQL statement that has just run (`elapsed` long), a child of the current
/// span: its text with placeholders, never its values.
pub fn statement_span(sql: &str, elapsed: std::time::Duration, failed: bool, system: &'static str) {
    let Some(tracer) = TRACER.get() else { return };
    let parent: Context = tracing::Span::current().context();
    let end = SystemTime::now();
    let start = end.checked_sub(elapsed).unwrap_or(end);
    let mut span = tracer
        .span_builder("sql")
        .with_kind(SpanKind::Client)
        .with_start_time(start)
        .with_attributes([KeyValue::new("db.system.name", system), KeyValue::new("db.query.text", sql.to_string())])
        .start_with_context(tracer, &parent);
    if failed {
        span.set_status(Status::error("statement failed"));
    }
    span.end_with_timestamp(end);
}
