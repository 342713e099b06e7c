//! Logs to stderr and, with the `otlp` feature and `ONESTOP_OTLP_ENDPOINT`, OpenTelemetry
//! traces (see [`otlp`]).

#[cfg(feature = "otlp")]
pub mod otlp;

use tracing_subscriber::{EnvFilter, Layer, Registry, fmt, prelude::*};

use crate::{
    config::{Config, LogFormat},
    domain::pii::ScrubbingStderr,
};

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
    let logs = match config.log_format {
        LogFormat::Json => fmt::layer().json().with_current_span(true).with_writer(|| ScrubbingStderr).boxed(),
        LogFormat::Pretty => fmt::layer().with_writer(|| ScrubbingStderr).boxed(),
    };
    #[allow(unused_mut)]
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![logs.with_filter(filter).boxed()];
    #[cfg(feature = "otlp")]
    let traces = config.otlp_endpoint.as_deref().and_then(|endpoint| match otlp::Pipeline::start(endpoint) {
        Ok(pipeline) => {
            layers.push(pipeline.layer());
            Some(pipeline)
        }
        Err(err) => {
            eprintln!("OpenTelemetry traces are off: {err:#}");
            None
        }
    });
    #[cfg(not(feature = "otlp"))]
    if config.otlp_endpoint.is_some() {
        eprintln!("ONESTOP_OTLP_ENDPOINT is set but this binary was built without the `otlp` feature");
    }
    if tracing_subscriber::registry().with(layers).try_init().is_err() {
        eprintln!("tracing was already initialised");
    }
    TelemetryGuard {
        #[cfg(feature = "otlp")]
        traces,
    }
}
