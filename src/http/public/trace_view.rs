//! `GET /t/{code}`: the page a phone opens from a product's QR code, and the QR codes.
//! Shows the product, the merchant's business name and USCC (verified or only declared), and
//! the latest spot check as the public may see it: channel, result, date, agency and region —
//! never an officer, a finding or the merchant's contact data.

use poem::{
    IntoResponse, Request, Response, handler,
    http::StatusCode,
    web::{Data, Path, Query},
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    ScanLimiter, app_error, china_date, internal, message, qr, render, secured, svg_response, wants_json, within_limit,
};
use crate::{
    domain::{
        filing_data::{ProductCategory, SpotCheckChannel, SpotCheckResult},
        labels::{Label, Labelled},
        pii::scrub_personal,
        region_names::region_name,
    },
    error::AppResult,
    platform::state::AppState,
    services::trace::{self, TraceData},
};

/// What the trace page shows, as JSON (`Accept: application/json`). Enum values are for
/// machines; the `…Name` fields are what people read.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceJson {
    pub trace_code: String,
    pub product_name: String,
    pub category: String,
    pub category_name: Label,
    pub origin_region_code: String,
    pub origin_region_name: String,
    pub batch_number: String,
    pub production_date: String,
    /// 14 digits, when the batch carries a GTIN.
    pub gtin: Option<String>,
    pub expiry_date: Option<String>,
    /// Past its expiry date.
    pub expired: bool,
    pub merchant_name: String,
    pub merchant_uscc: Option<String>,
    /// A REGISTRATION of this merchant was approved here.
    pub merchant_verified: bool,
    /// `verified`, `declared` (typed into the profile, not verified) or null (none known).
    pub merchant_uscc_status: Option<&'static str>,
    pub latest_spot_check: Option<PublicSpotCheckJson>,
    pub scan_count: i64,
    pub suspected_counterfeit: bool,
}

/// A spot check as the public sees it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicSpotCheckJson {
    pub checked_at: String,
    pub checked_on: String,
    pub channel: String,
    pub channel_name: Label,
    pub result: String,
    pub result_name: Label,
    pub agency: String,
    pub agency_name: Label,
    pub region_code: String,
    pub region_name: String,
}

impl TraceJson {
    fn build(data: &TraceData) -> AppResult<Self> {
        let category = ProductCategory::parse(&data.batch.category)?;
        let latest_spot_check = match &data.latest_check {
            Some(check) => {
                let (channel, result) =
                    (SpotCheckChannel::parse(&check.channel)?, SpotCheckResult::parse(&check.result)?);
                let agency = check.agency;
                Some(PublicSpotCheckJson {
                    checked_at: check.checked_at.to_rfc3339(),
                    checked_on: china_date(check.checked_at),
                    channel: channel.as_str(),
                    channel_name: channel.label(),
                    result: result.as_str(),
                    result_name: result.label(),
                    agency: agency.as_str().to_string(),
                    agency_name: agency.label(),
                    region_code: check.region_code.clone(),
                    region_name: region_name(&check.region_code),
                })
            }
            None => None,
        };
        let merchant = &data.merchant;
        Ok(Self {
            trace_code: data.batch.trace_code.clone(),
            // Batches registered before numbers were refused in names: masked here.
            product_name: scrub_personal(&data.batch.product_name).into_owned(),
            category: category.as_str(),
            category_name: category.label(),
            origin_region_code: data.batch.origin_region_code.clone(),
            origin_region_name: region_name(&data.batch.origin_region_code),
            batch_number: data.batch.batch_number.clone(),
            production_date: data.batch.production_date.format("%Y-%m-%d").to_string(),
            gtin: data.batch.gtin.clone(),
            expiry_date: data.batch.expiry_date.map(|d| d.format("%Y-%m-%d").to_string()),
            expired: data.expired(),
            merchant_name: scrub_personal(&merchant.name).into_owned(),
            merchant_uscc: merchant.known_uscc().map(str::to_string),
            merchant_verified: data.merchant_verified(),
            merchant_uscc_status: data.uscc_status(),
            latest_spot_check,
            scan_count: data.scan_count,
            suspected_counterfeit: data.batch.suspected_counterfeit,
        })
    }
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
pub async fn trace_page(
    req: &Request,
    Path(raw): Path<String>,
    state: Data<&AppState>,
    limiter: Data<&std::sync::Arc<ScanLimiter>>,
) -> Response {
    let address = match within_limit(&state, &limiter, req).await {
        Ok(address) => address,
        Err(refused) => return refused,
    };
    let Some(code) = trace::parse_trace_code(&raw) else { return malformed_code(req, &raw) };
    serve(req, &state, &code, address).await
}

/// `GET /01/{gtin}/10/{batch}`: a GS1 Digital Link (what a GS1 scanner app opens) resolves to
/// the same page, counted as a scan; an unknown pair is 404.
#[handler]
pub async fn digital_link_page(
    req: &Request,
    Path((raw_gtin, batch)): Path<(String, String)>,
    state: Data<&AppState>,
    limiter: Data<&std::sync::Arc<ScanLimiter>>,
) -> Response {
    let address = match within_limit(&state, &limiter, req).await {
        Ok(address) => address,
        Err(refused) => return refused,
    };
    let shown = format!("01/{raw_gtin}/10/{batch}");
    let Ok(gtin) = crate::domain::gtin::Gtin::parse("gtin", &raw_gtin) else { return malformed_code(req, &shown) };
    match trace::find_by_digital_link(&state.db, &gtin, &batch).await {
        Ok(Some(found)) => serve(req, &state, &found.trace_code, address).await,
        Ok(None) => unknown_code(req, &shown),
        Err(err) => app_error(req, err),
    }
}

/// The page (HTML, or JSON by `Accept`) of a known code, the view counted as a scan.
async fn serve(req: &Request, state: &AppState, code: &str, address: std::net::IpAddr) -> Response {
    let view = match trace::trace_data(state, code, Some((&state.config.trace, address))).await {
        Ok(Some(data)) => TraceJson::build(&data),
        Ok(None) => return unknown_code(req, code),
        Err(err) => return app_error(req, err),
    };
    let view = match view {
        Ok(view) => view,
        Err(err) => return app_error(req, err),
    };
    if wants_json(req) {
        return secured(poem::web::Json(view).into_response());
    }
    // The template reads the same fields (snake_case, through serde_json).
    match serde_json::to_value(&view)
        .map_err(anyhow::Error::from)
        .and_then(|v| Ok(render("trace.html", json!({ "view": v }))?))
    {
        Ok(html) => secured(poem::web::Html(html).into_response()),
        Err(err) => internal(err),
    }
}

#[derive(Deserialize)]
pub struct QrParams {
    size: Option<u32>,
}

/// What the QR code of a known code encodes (its Digital Link with a GTIN, else its trace URL);
/// no scan is counted for printing a label.
async fn known_code(req: &Request, state: &AppState, raw: &str) -> Result<String, Response> {
    let Some(code) = trace::parse_trace_code(raw) else { return Err(malformed_code(req, raw)) };
    match trace::find_batch(&state.db, &code).await {
        Ok(Some(batch)) => Ok(trace::qr_url(state, &batch)),
        Ok(None) => Err(unknown_code(req, &code)),
        Err(err) => Err(app_error(req, err)),
    }
}

/// `GET /t/{code}/qr.svg`: the QR code of the trace URL (error correction M).
#[handler]
pub async fn trace_qr_svg(
    req: &Request,
    Path(raw): Path<String>,
    state: Data<&AppState>,
    limiter: Data<&std::sync::Arc<ScanLimiter>>,
) -> Response {
    if let Err(refused) = within_limit(&state, &limiter, req).await {
        return refused;
    }
    match known_code(req, &state, &raw).await {
        Ok(url) => svg_response(&url),
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
    let url = match known_code(req, &state, &raw).await {
        Ok(url) => url,
        Err(response) => return response,
    };
    let png = qr(&url).map_err(|e| anyhow::anyhow!("QR code: {e}")).and_then(|qr| {
        let image = qr
            .render::<image::Luma<u8>>()
            .min_dimensions(size, size)
            .max_dimensions(size.max(QR_MIN) * 2, size.max(QR_MIN) * 2)
            .build();
        let mut bytes = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageLuma8(image).write_to(&mut bytes, image::ImageFormat::Png)?;
        Ok(bytes.into_inner())
    });
    match png {
        Ok(bytes) => secured(bytes.with_content_type("image/png").into_response()),
        Err(err) => internal(err),
    }
}
