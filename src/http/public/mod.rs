//! Public pages, no login: the product trace page (`/t/{code}`), QR codes, and certificate
//! verification (`/c/{number}`). HTML for people, JSON with `Accept: application/json`;
//! server-rendered from auto-escaping templates; rate-limited per client address.

use std::{net::IpAddr, sync::LazyLock};

use minijinja::Environment;
use poem::{
    IntoResponse, Request, Response,
    http::{StatusCode, header},
};
use qrcode::{EcLevel, QrCode};
use serde_json::json;

use crate::{
    error::AppError,
    platform::{
        limits::{Limited, Outage, RateLimit},
        state::AppState,
    },
};

mod certificate;
mod trace_view;

pub use certificate::{certificate_page, certificate_qr_svg};
pub use trace_view::{digital_link_page, trace_page, trace_qr_png, trace_qr_svg};

static PAGES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in [
        ("base.html", include_str!("../../../templates/public/base.html")),
        ("trace.html", include_str!("../../../templates/public/trace.html")),
        ("certificate.html", include_str!("../../../templates/public/certificate.html")),
        ("message.html", include_str!("../../../templates/public/message.html")),
    ] {
        if let Err(err) = env.add_template(name, source) {
            tracing::error!(template = name, error = %err, "public template does not compile");
        }
    }
    env
});

/// Scans per client address, shared by every public page (and by every instance when Redis is
/// configured; if it does not answer, the pages stay up: this limit fails open).
pub struct ScanLimiter(RateLimit);

impl ScanLimiter {
    pub fn new(per_minute: u32, shared: Option<crate::platform::limits::SharedStore>) -> Self {
        Self(RateLimit::new("public-pages", per_minute, Outage::Allow, shared))
    }

    /// `Err(seconds to wait)` when the address (its /64 for IPv6) is over its quota.
    async fn check(&self, address: IpAddr) -> Result<(), u64> {
        let key = crate::http::rate_key(address).to_string();
        self.0.check(key.as_bytes()).await.map_err(|limited| match limited {
            Limited::Wait(seconds) => seconds,
            // An `Allow` limit never refuses for an outage; should one, ask for a short wait.
            Limited::Unavailable => 1,
        })
    }
}

fn client_address(state: &AppState, req: &Request) -> IpAddr {
    crate::http::client_ip(state, req).unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

pub(super) fn wants_json(req: &Request) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json") && !accept.starts_with("text/html"))
}

/// Pages forbid scripts, frames and foreign content; nothing is sniffed.
pub(super) fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("no-referrer"));
    response
}

pub(super) fn render(template: &str, context: serde_json::Value) -> Result<String, minijinja::Error> {
    PAGES.get_template(template)?.render(context)
}

/// A short page (or JSON) explaining a refusal.
pub(super) fn message(
    req: &Request,
    status: StatusCode,
    zh: (&str, &str),
    en: (&str, &str),
    code: Option<&str>,
) -> Response {
    if wants_json(req) {
        let body = json!({ "error": status.canonical_reason().unwrap_or("error"), "message": en.1 });
        return secured(poem::web::Json(body).with_status(status).into_response());
    }
    let context = json!({
        "title_zh": zh.0, "text_zh": zh.1, "title_en": en.0, "text_en": en.1,
        "code": code, "warning": status != StatusCode::OK,
    });
    match render("message.html", context) {
        Ok(html) => secured(poem::web::Html(html).with_status(status).into_response()),
        Err(err) => internal(err.into()),
    }
}

pub(super) fn internal(err: anyhow::Error) -> Response {
    tracing::error!(error = ?err, "public page failed");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

pub(super) fn app_error(req: &Request, err: AppError) -> Response {
    match err {
        AppError::Unavailable(_) => message(
            req,
            StatusCode::SERVICE_UNAVAILABLE,
            ("暂时无法访问", "服务暂时不可用，请稍后再试。"),
            ("Unavailable", "The service is temporarily unavailable; please retry shortly."),
            None,
        ),
        other => internal(anyhow::anyhow!(other.detail())),
    }
}

/// The client's address, or the 429 answer when it is over the per-address limit (the trip is
/// recorded as a security event, once a minute per address).
pub(super) async fn within_limit(state: &AppState, limiter: &ScanLimiter, req: &Request) -> Result<IpAddr, Response> {
    let address = client_address(state, req);
    match limiter.check(address).await {
        Ok(()) => Ok(address),
        Err(wait) => {
            let limited = crate::error::AppError::RateLimited { retry_after_secs: wait };
            crate::services::audit::security::tripped(state, "public pages", Some(address), limited).await;
            Err(rate_limited(req, wait))
        }
    }
}

fn rate_limited(req: &Request, retry_after: u64) -> Response {
    let mut response = message(
        req,
        StatusCode::TOO_MANY_REQUESTS,
        ("请求过于频繁", "请稍后再试。"),
        ("Too many requests", "Please retry in a moment."),
        None,
    );
    if let Ok(value) = retry_after.to_string().parse() {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

pub(super) fn qr(url: &str) -> Result<QrCode, qrcode::types::QrError> {
    QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M)
}

pub(super) fn svg_response(url: &str) -> Response {
    match qr(url) {
        Ok(code) => {
            let svg = code.render::<qrcode::render::svg::Color>().min_dimensions(240, 240).quiet_zone(true).build();
            secured(svg.with_content_type("image/svg+xml").into_response())
        }
        Err(err) => internal(anyhow::anyhow!("QR code: {err}")),
    }
}

/// A date as people in China read it (China time).
pub(super) fn china_date(at: chrono::DateTime<chrono::Utc>) -> String {
    let china = chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    at.with_timezone(&china).format("%Y-%m-%d").to_string()
}
