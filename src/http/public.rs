//! Public pages, no login: the product trace page (`/t/{code}`), QR codes, and certificate
//! verification (`/c/{number}`). HTML for people, JSON with `Accept: application/json`;
//! server-rendered from auto-escaping templates; rate-limited per client address.

use std::{
    net::IpAddr,
    num::NonZeroU32,
    sync::{
        LazyLock,
        atomic::{AtomicU64, Ordering},
    },
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::{Clock, DefaultClock}};
use minijinja::Environment;
use poem::{
    IntoResponse, Request, Response, handler,
    http::{StatusCode, header},
    web::{Data, Path, Query},
};
use qrcode::{EcLevel, QrCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    domain::{FilingKind, region_names::region_name},
    error::AppError,
    state::AppState,
    trace::{self, TraceData},
};

static PAGES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in [
        ("base.html", include_str!("../../templates/public/base.html")),
        ("trace.html", include_str!("../../templates/public/trace.html")),
        ("certificate.html", include_str!("../../templates/public/certificate.html")),
        ("message.html", include_str!("../../templates/public/message.html")),
    ] {
        if let Err(err) = env.add_template(name, source) {
            tracing::error!(template = name, error = %err, "public template does not compile");
        }
    }
    env
});

/// Scans per client address (token bucket), shared by every public page.
pub struct ScanLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    checks: AtomicU64,
}

impl ScanLimiter {
    pub fn new(per_minute: u32) -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN));
        Self { limiter: RateLimiter::keyed(quota), checks: AtomicU64::new(0) }
    }

    /// `Err(seconds to wait)` when the address is over its quota.
    fn check(&self, address: IpAddr) -> Result<(), u64> {
        // Forget idle addresses now and then so the table stays small.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&address)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()).as_secs().max(1))
    }
}

fn client_address(state: &AppState, req: &Request) -> IpAddr {
    crate::http::client_ip(state, req).unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

fn wants_json(req: &Request) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json") && !accept.starts_with("text/html"))
}

/// Pages forbid scripts, frames and foreign content; nothing is sniffed.
fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("no-referrer"));
    response
}

fn render(template: &str, context: serde_json::Value) -> Result<String, minijinja::Error> {
    PAGES.get_template(template)?.render(context)
}

/// A short page (or JSON) explaining a refusal.
fn message(req: &Request, status: StatusCode, zh: (&str, &str), en: (&str, &str), code: Option<&str>) -> Response {
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

fn internal(err: anyhow::Error) -> Response {
    tracing::error!(error = ?err, "public page failed");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

fn app_error(req: &Request, err: AppError) -> Response {
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
async fn within_limit(state: &AppState, limiter: &ScanLimiter, req: &Request) -> Result<IpAddr, Response> {
    let address = client_address(state, req);
    match limiter.check(address) {
        Ok(()) => Ok(address),
        Err(wait) => {
            let limited = crate::error::AppError::RateLimited { retry_after_secs: wait };
            crate::audit::security::tripped(state, "public pages", Some(address), limited).await;
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

/// What the trace page and `trace(code)` show, as JSON.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceJson {
    pub trace_code: String,
    pub product_name: String,
    pub category: String,
    pub origin_region_code: String,
    pub origin_region_name: String,
    pub batch_number: String,
    pub production_date: String,
    pub merchant_name: String,
    pub merchant_uscc: Option<String>,
    pub merchant_verified: bool,
    pub latest_spot_check: Option<SpotCheckJson>,
    pub scan_count: i64,
    pub suspected_counterfeit: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpotCheckJson {
    pub checked_at: String,
    pub checked_on: String,
    pub channel: String,
    pub channel_zh: &'static str,
    pub category: String,
    pub result: String,
}

impl From<&TraceData> for TraceJson {
    fn from(data: &TraceData) -> Self {
        let china = chrono::FixedOffset::east_opt(8 * 3600).expect("offset");
        Self {
            trace_code: data.batch.trace_code.clone(),
            product_name: data.batch.product_name.clone(),
            category: data.batch.category.clone(),
            origin_region_code: data.batch.origin_region_code.clone(),
            origin_region_name: region_name(&data.batch.origin_region_code),
            batch_number: data.batch.batch_number.clone(),
            production_date: data.batch.production_date.format("%Y-%m-%d").to_string(),
            merchant_name: data.merchant.name.clone(),
            merchant_uscc: data.merchant.uscc.clone(),
            merchant_verified: data.merchant_verified(),
            latest_spot_check: data.latest_check.as_ref().map(|c| SpotCheckJson {
                checked_at: c.checked_at.to_rfc3339(),
                checked_on: c.checked_at.with_timezone(&china).format("%Y-%m-%d").to_string(),
                channel_zh: if c.channel == "ONLINE" { "网购抽检" } else { "市场抽检" },
                channel: c.channel.clone(),
                category: c.category.clone(),
                result: c.result.clone(),
            }),
            scan_count: data.scan_count,
            suspected_counterfeit: data.batch.suspected_counterfeit,
        }
    }
}

fn snake_context(view: &TraceJson) -> serde_json::Value {
    json!({
        "product_name": view.product_name, "category": view.category,
        "batch_number": view.batch_number, "origin_region_code": view.origin_region_code,
        "origin_region_name": view.origin_region_name, "production_date": view.production_date,
        "merchant_name": view.merchant_name, "merchant_uscc": view.merchant_uscc,
        "merchant_verified": view.merchant_verified, "scan_count": view.scan_count,
        "suspected_counterfeit": view.suspected_counterfeit,
        "latest_spot_check": view.latest_spot_check.as_ref().map(|c| json!({
            "checked_on": c.checked_on, "channel": c.channel, "channel_zh": c.channel_zh, "result": c.result,
        })),
    })
}

fn malformed_code(req: &Request, code: &str) -> Response {
    message(
        req,
        StatusCode::BAD_REQUEST,
        ("溯源码格式错误", "这不是一个有效的溯源码，请检查后重试。"),
        ("Malformed code", "This is not a valid trace code."),
        Some(code),
    )
}

fn unknown_code(req: &Request, code: &str) -> Response {
    message(
        req,
        StatusCode::NOT_FOUND,
        ("未找到该溯源码", "平台上没有这个溯源码。该产品可能是仿冒品，请向市场监管部门反映。"),
        ("Unknown code", "No product carries this code here; the product may be counterfeit."),
        Some(code),
    )
}

/// `GET /t/{code}`: the trace page; every view is a counted scan.
#[handler]
pub async fn trace_page(req: &Request, Path(raw): Path<String>, state: Data<&AppState>, limiter: Data<&std::sync::Arc<ScanLimiter>>) -> Response {
    let address = match within_limit(&state, &limiter, req).await {
        Ok(address) => address,
        Err(refused) => return refused,
    };
    let Some(code) = trace::parse_trace_code(&raw) else { return malformed_code(req, &raw) };
    let view = match trace::trace_data(&state, &code, Some((&state.config.trace, &address.to_string()))).await {
        Ok(Some(data)) => TraceJson::from(&data),
        Ok(None) => return unknown_code(req, &code),
        Err(err) => return app_error(req, err),
    };
    if wants_json(req) {
        return secured(poem::web::Json(view).into_response());
    }
    match render("trace.html", snake_context(&view)) {
        Ok(html) => secured(poem::web::Html(html).into_response()),
        Err(err) => internal(err.into()),
    }
}

#[derive(Deserialize)]
pub struct QrParams {
    size: Option<u32>,
}

fn qr(url: &str) -> Result<QrCode, qrcode::types::QrError> {
    QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M)
}

fn svg_response(url: &str) -> Response {
    match qr(url) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color>()
                .min_dimensions(240, 240)
                .quiet_zone(true)
                .build();
            secured(svg.with_content_type("image/svg+xml").into_response())
        }
        Err(err) => internal(anyhow::anyhow!("QR code: {err}")),
    }
}

/// Looks the code up for the QR endpoints (no scan is counted for printing a label).
async fn known_code(req: &Request, state: &AppState, raw: &str) -> Result<String, Response> {
    let Some(code) = trace::parse_trace_code(raw) else { return Err(malformed_code(req, raw)) };
    match trace::find_batch(&state.db, &code).await {
        Ok(Some(batch)) => Ok(batch.trace_code),
        Ok(None) => Err(unknown_code(req, &code)),
        Err(err) => Err(app_error(req, err)),
    }
}

/// `GET /t/{code}/qr.svg`: the QR code of the trace URL (error correction M).
#[handler]
pub async fn trace_qr_svg(req: &Request, Path(raw): Path<String>, state: Data<&AppState>, limiter: Data<&std::sync::Arc<ScanLimiter>>) -> Response {
    if let Err(refused) = within_limit(&state, &limiter, req).await {
        return refused;
    }
    match known_code(req, &state, &raw).await {
        Ok(code) => svg_response(&trace::trace_url(&state, &code)),
        Err(response) => response,
    }
}

pub const QR_MIN: u32 = 64;
pub const QR_MAX: u32 = 1024;

/// `GET /t/{code}/qr.png?size=N` (64 ≤ N ≤ 1024, default 256).
#[handler]
pub async fn trace_qr_png(
    req: &Request,
    Path(raw): Path<String>,
    Query(params): Query<QrParams>,
    state: Data<&AppState>,
    limiter: Data<&std::sync::Arc<ScanLimiter>>,
) -> Response {
    if let Err(refused) = within_limit(&state, &limiter, req).await {
        return refused;
    }
    let size = params.size.unwrap_or(256);
    if !(QR_MIN..=QR_MAX).contains(&size) {
        return message(
            req,
            StatusCode::BAD_REQUEST,
            ("尺寸无效", "size 须在 64 到 1024 之间。"),
            ("Bad size", "size must be between 64 and 1024 pixels."),
            None,
        );
    }
    let code = match known_code(req, &state, &raw).await {
        Ok(code) => code,
        Err(response) => return response,
    };
    let png = qr(&trace::trace_url(&state, &code)).map_err(|e| anyhow::anyhow!("QR code: {e}")).and_then(|qr| {
        let image = qr.render::<image::Luma<u8>>().min_dimensions(size, size).max_dimensions(size.max(QR_MIN) * 2, size.max(QR_MIN) * 2).build();
        let mut bytes = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageLuma8(image).write_to(&mut bytes, image::ImageFormat::Png)?;
        Ok(bytes.into_inner())
    });
    match png {
        Ok(bytes) => secured(bytes.with_content_type("image/png").into_response()),
        Err(err) => internal(err),
    }
}

fn agency_zh(kind: FilingKind) -> &'static str {
    match kind {
        FilingKind::Registration => "市场监督管理局",
        FilingKind::Customs => "海关",
        FilingKind::Inspection => "检验检疫",
        FilingKind::Tax => "税务局",
        FilingKind::Fx => "国家外汇管理局",
    }
}

/// `GET /c/{number}`: is this certificate number real? Agency, holder, date, status.
#[handler]
pub async fn certificate_page(req: &Request, Path(raw): Path<String>, state: Data<&AppState>, limiter: Data<&std::sync::Arc<ScanLimiter>>) -> Response {
    if let Err(refused) = within_limit(&state, &limiter, req).await {
        return refused;
    }
    let Some(number) = trace::parse_certificate_number(&raw) else {
        return message(
            req,
            StatusCode::BAD_REQUEST,
            ("编号格式错误", "这不是一个有效的证书编号。"),
            ("Malformed number", "This is not a valid certificate number."),
            Some(&raw),
        );
    };
    let found = match trace::certificates(&state.db, &number).await {
        Ok(found) => found,
        Err(err) => return app_error(req, err),
    };
    if found.is_empty() {
        return message(
            req,
            StatusCode::NOT_FOUND,
            ("未找到该证书", "平台没有签发过这个编号的证书，请警惕伪造证书。"),
            ("Not found", "No certificate with this number was issued here; it may be forged."),
            Some(&number),
        );
    }
    let china = chrono::FixedOffset::east_opt(8 * 3600).expect("offset");
    let certificates: Vec<serde_json::Value> = found
        .iter()
        .map(|c| {
            json!({
                "kind": c.kind.as_str(), "kind_zh": c.kind.name_zh(),
                "agency": c.kind.agency().as_str(), "agency_zh": agency_zh(c.kind),
                "holder": c.holder, "region_code": c.region_code,
                "date": c.decided_at.map(|d| d.with_timezone(&china).format("%Y-%m-%d").to_string()),
                "status": c.status.as_str(),
            })
        })
        .collect();
    if wants_json(req) {
        return secured(poem::web::Json(json!({ "number": number, "valid": true, "certificates": certificates })).into_response());
    }
    match render("certificate.html", json!({ "number": number, "certificates": certificates })) {
        Ok(html) => secured(poem::web::Html(html).into_response()),
        Err(err) => internal(err.into()),
    }
}

/// `GET /c/{number}/qr.svg`: to print on paper certificates.
#[handler]
pub async fn certificate_qr_svg(req: &Request, Path(raw): Path<String>, state: Data<&AppState>, limiter: Data<&std::sync::Arc<ScanLimiter>>) -> Response {
    if let Err(refused) = within_limit(&state, &limiter, req).await {
        return refused;
    }
    let Some(number) = trace::parse_certificate_number(&raw) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match trace::certificates(&state.db, &number).await {
        Ok(found) if !found.is_empty() => svg_response(&format!("{}/c/{number}", state.config.public_base_url)),
        Ok(_) => StatusCode::NOT_FOUND.into_response(),
        Err(err) => app_error(req, err),
    }
}
