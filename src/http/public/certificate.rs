//! `GET /c/{number}`: is this certificate number real? Kind, agency, holder (partly masked),
//! date and status — enough to confirm a certificate someone holds in hand, not to harvest a
//! register by walking numbers.

use poem::{
    IntoResponse, Request, Response, handler,
    http::StatusCode,
    web::{Data, Path},
};
use serde_json::json;

use super::{app_error, china_date, internal, message, render, secured, svg_response, wants_json, within_limit, ScanLimiter};
use crate::{domain::{labels::Labelled, pii::mask_name}, platform::state::AppState, services::trace};

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
    let certificates: Vec<serde_json::Value> = found
        .iter()
        .map(|c| {
            json!({
                "kind": c.kind.as_str(), "kind_zh": c.kind.name_zh(),
                "agency": c.kind.agency().as_str(), "agency_zh": c.kind.agency().label().zh, "agency_en": c.kind.agency().label().en,
                "holder": mask_name(&c.holder), "region_code": c.region_code,
                "date": c.decided_at.map(china_date),
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
