use std::time::Duration;

use poem::{handler, http::StatusCode, web::Data};

use crate::platform::state::AppState;

/// The process is up.
#[handler]
pub async fn healthz() -> &'static str {
    "ok"
}

/// The database answers (within 2 s): a load balancer sends traffic only while this is 200.
#[handler]
pub async fn readyz(state: Data<&AppState>) -> (StatusCode, &'static str) {
    match tokio::time::timeout(Duration::from_secs(2), state.db.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready"),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
        Err(_) => {
            tracing::warn!("readiness check: database did not answer in time");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
