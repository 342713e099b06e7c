//! `POST /oauth/token`: the OAuth 2.0 client credentials grant (RFC 6749 §4.4), with client
//! authentication in the form body or HTTP Basic (§2.3.1) and the §5.2 error responses.

use base64::Engine;
use poem::{
    IntoResponse, Request, Response, handler,
    http::{StatusCode, header},
    web::{Data, Form, Json},
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    platform::state::AppState,
    services::auth::clients::{self, GrantError},
};

#[derive(Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = Json(json!({ "error": error, "error_description": description }))
        .with_status(status)
        .with_header(header::CACHE_CONTROL, "no-store")
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Basic realm=\"onestop\""));
    }
    response
}

/// `client_id:client_secret` from `Authorization: Basic …`.
fn basic_credentials(req: &Request) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

#[handler]
pub async fn token(req: &Request, state: Data<&AppState>, form: Option<Form<TokenForm>>) -> Response {
    let Some(Form(form)) = form else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send an application/x-www-form-urlencoded body",
        );
    };
    match form.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            );
        }
        None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is required"),
    }
    let credentials = basic_credentials(req).or_else(|| Some((form.client_id.clone()?, form.client_secret.clone()?)));
    let Some((client_id, secret)) = credentials else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication is required");
    };
    let address = crate::http::client_ip(&state, req);
    if let Err(limited) = state.login_throttle.check(&format!("client:{client_id}"), address).await {
        let retry_after_secs = match &limited {
            crate::error::AppError::RateLimited { retry_after_secs } => *retry_after_secs,
            _ => {
                return oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "retry shortly")
                    .with_header(header::RETRY_AFTER, "1")
                    .into_response();
            }
        };
        crate::services::audit::security::tripped(&state, "oauth token", address, limited).await;
        return oauth_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many token requests; retry later")
            .with_header(header::RETRY_AFTER, retry_after_secs.to_string())
            .into_response();
    }
    match clients::exchange(&state, &client_id, &secret, form.scope.as_deref()).await {
        Ok(granted) => Json(json!({
            "access_token": granted.access_token,
            "token_type": "Bearer",
            "expires_in": granted.expires_in,
            "scope": granted.scope,
        }))
        .with_header(header::CACHE_CONTROL, "no-store")
        .into_response(),
        Err(GrantError::InvalidClient) => {
            oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client, wrong secret, or revoked")
        }
        Err(GrantError::InvalidScope) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "the requested scope exceeds what the client was granted",
        ),
        Err(GrantError::Unavailable) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}
