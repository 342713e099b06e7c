//! Logs to stderr and, with the `otlp` feature and `ONESTOP_OTLP_ENDPOINT`, OpenTelemetry
//! traces (see [`otlp`]).

#[cfg(feature = "otlp")]
pub mod otlp;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};
#[cfg(feature = "otlp")]
use tracing_subscriber::{Layer, Registry};

use crate::{
    config::{Config, LogFormat},
    domain::pii::ScrubbingStderr,
};

/// The current span's W3C `traceparent` while traces are exported (`None` otherwise): stored
/// with work that is done later in the request's name (webhook deliveries).
pub fn current_traceparent() -> Option<String> {
    #[cfg(feature = "otlp")]
    return otlp::current_traceparent();
    #[cfg(not(feature = "otlp"))]
    None
}

/// The span an outgoing call made for stored work runs in (ended when dropped; nothing without
/// an exporter).
pub struct OutgoingSpan(#[cfg(feature = "otlp")] Option<opentelemetry_sdk::trace::Span>);

impl OutgoingSpan {
    pub fn failed(&mut self, reason: &str) {
        #[cfg(feature = "otlp")]
        if let Some(span) = self.0.as_mut() {
            otlp::failed(span, reason.to_string());
        }
        let _ = reason;
    }
}

/// For work stored under `traceparent`: its span and the `traceparent` header to send, which
/// names that span (or, without an exporter, passes the stored value on).
pub fn outgoing(traceparent: &str) -> (OutgoingSpan, String) {
    #[cfg(feature = "otlp")]
    {
        let (span, header) = otlp::delivery_span(traceparent);
        (OutgoingSpan(span), header)
    }
    #[cfg(not(feature = "otlp"))]
    (OutgoingSpan(), traceparent.to_string())
}

/// Flushes what is still buffered for export when the process ends.
#[must_use = "traces are flushed when the guard is dropped"]
pub struct TelemetryGuard {
    #[cfg(feature = "otlp")]
    traces: Option<otlp::Pipeline>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        #[cfg(feature = "otlp")]
        if let Some(traces) = self.traces.take() {
            traces.shutdown();
        }
    }
}

/// Logs to stderr, filtered by `ONESTOP_LOG`, as text or JSON (`ONESTOP_LOG_FORMAT`), with
/// resident ID and bank account numbers masked in every line; traces to the OTLP endpoint
/// when there is one.
pub fn init(config: &Config) -> TelemetryGuard {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    #[cfg(feature = "otlp")]
    let traces = config.otlp_endpoint.as_deref().and_then(|endpoint| match otlp::Pipeline::start(endpoint) {
        Ok(pipeline) => Some(pipeline),
        Err(err) => {
            eprintln!("OpenTelemetry traces are off: {err:#}");
            None
        }
    });
    #[cfg(not(feature = "otlp"))]
    if config.otlp_endpoint.is_some() {
        eprintln!("ONESTOP_OTLP_ENDPOINT is set but this binary was built without the `otlp` feature");
    }
    #[cfg(feature = "otlp")]
    let installed = match &traces {
        Some(pipeline) => with_traces(config, filter, pipeline),
        None => logs_only(config, filter),
    };
    #[cfg(not(feature = "otlp"))]
    let installed = logs_only(config, filter);
    if installed.is_err() {
        eprintln!("tracing was already initialised");
    }
    TelemetryGuard {
        #[cfg(feature = "otlp")]
        traces,
    }
}

/// Logs only: the filter applies to the whole subscriber, so spans and events below its level
/// are never even built (a per-layer filter leaves that decision to each call: ~10 % more CPU
/// per trace-page request, issue 15).
fn logs_only(config: &Config, filter: EnvFilter) -> Result<(), tracing_subscriber::util::TryInitError> {
    let registry = tracing_subscriber::registry().with(filter);
    match config.log_format {
        LogFormat::Json => {
            registry.with(fmt::layer().json().with_current_span(true).with_writer(|| ScrubbingStderr)).try_init()
        }
        LogFormat::Pretty => registry.with(fmt::layer().with_writer(|| ScrubbingStderr)).try_init(),
    }
}

/// Logs filtered by `ONESTOP_LOG` and traces at their own level, each layer with its filter.
#[cfg(feature = "otlp")]
fn with_traces(
    config: &Config,
    filter: EnvFilter,
    traces: &otlp::Pipeline,
) -> Result<(), tracing_subscriber::util::TryInitError> {
    let logs = match config.log_format {
        LogFormat::Json => fmt::layer().json().with_current_span(true).with_writer(|| ScrubbingStderr).boxed(),
        LogFormat::Pretty => fmt::layer().with_writer(|| ScrubbingStderr).boxed(),
    };
    let layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![logs.with_filter(filter).boxed(), traces.layer()];
    tracing_subscriber::registry().with(layers).try_init()
}
