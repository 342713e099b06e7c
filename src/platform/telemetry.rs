use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::{
    config::{Config, LogFormat},
    domain::pii::ScrubbingStderr,
};

/// Logs to stderr, filtered by `ONESTOP_LOG`, as text or JSON (`ONESTOP_LOG_FORMAT`), with
/// resident ID and bank account numbers masked in every line.
pub fn init(config: &Config) {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match config.log_format {
        LogFormat::Json => registry
            .with(fmt::layer().json().with_current_span(true).with_writer(|| ScrubbingStderr))
            .try_init(),
        LogFormat::Pretty => registry.with(fmt::layer().with_writer(|| ScrubbingStderr)).try_init(),
    };
    if result.is_err() {
        eprintln!("tracing was already initialised");
    }
}
