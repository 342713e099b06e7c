//! `GET /documents/{id}`: the bytes of a document, for callers who may see its case
//! (`Authorization: Bearer …`), with its content type and an attachment disposition.

use poem::{
    IntoResponse, Request, Response, handler,
    http::{StatusCode, header},
    web::{Data, Path},
};
use uuid::Uuid;

use super::graphql::caller_from;
use crate::{error::AppError, platform::state::AppState, services::access, services::auth::Need, services::documents};

/// RFC 5987 encoding of a file name for `filename*=UTF-8''…`.
fn encode_filename(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[handler]
pub async fn download(req: &Request, Path(id): Path<String>, state: Data<&AppState>) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else { return StatusCode::BAD_REQUEST.into_response() };
    let caller = caller_from(&state, req.headers());
    // Documents are case data: an integrator's token needs `cases:read` (checked before
    // anything about the document is looked up).
    if caller.require_user().is_ok() && caller.require_scope(Need::Read).is_err() {
        return StatusCode::FORBIDDEN.into_response();
    }
    let result = match access::load_scope(&state.db, &caller).await {
        Ok(scope) => documents::download(&state, &scope, id).await,
        Err(err) => Err(err),
    };
    match result {
        Ok((doc, bytes)) => Response::builder()
            .status(StatusCode::OK)
            .content_type(doc.content_type.as_str())
            .header(
                header::CONTENT_DISPOSITION,
                format!("attachment; filename*=UTF-8''{}", encode_filename(&doc.filename)),
            )
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .header("x-content-sha256", doc.sha256.as_str())
            .body(bytes),
        Err(AppError::Unauthenticated(_)) => StatusCode::UNAUTHORIZED.into_response(),
        Err(AppError::NotFound(_) | AppError::Forbidden(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(AppError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Err(other) => {
            tracing::error!(error = %other.detail(), "document download failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
