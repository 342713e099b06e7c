//! `GET /c/{number}`: is this licence number real, and is it still valid? Kind, agency, holder
//! (partly masked), issue date, validity, current status and the dated history — enough to confirm a certificate someone holds in hand, not to harvest a
//! register by walking numbers.

use poem::{
    IntoResponse, Request, Response, handler,
    http::StatusCode,
    web::{Data, Path},
};
use serde_json::json;

use super::{
    ScanLimiter, app_error, china_date, internal, message, render, secured, svg_response, wants_json, within_limit,
};
use crate::{
    domain::{
        labels::{Labelled, licence_action},
        pii::mask_name,
    },
    platform::state::AppState,
    services::{licences, trace},
};
use entity::enums::LicenceStatus;

/// One licence as anyone may see it: kind, agency, masked holder, status and its history as
/// action and date — never a note or a person.
fn public_json(l: &licences::PublicLicence) -> serde_json::Value {
    let status = l.licence.status.label();
    let history: Vec<serde_json::Value> = l
        .history
        .iter()
        .map(|e| {
            let action = licence_action(&e.action);
            json!({ "action": e.action, "action_zh": action.zh, "action_en": action.en, "date": china_date(e.at) })
        })
        .collect();
    json!({
        "kind": l.licence.kind.as_str(), "kind_zh": l.licence.kind.name_zh(),
        "agency": l.licence.agency.as_str(), "agency_zh": l.licence.agency.label().zh, "agency_en": l.licence.agency.label().en,
        "holder": mask_name(&l.holder), "region_code": l.region_code,
        "date": china_date(l.licence.issued_at),
        "valid_until": l.licence.valid_until.map(|d| d.format("%Y-%m-%d").to_string()),
        "status": l.licence.status.as_str(), "status_zh": status.zh, "status_en": status.en,
        "active": l.licence.status == LicenceStatus::Active,
        "history": history,
    })
}

/// `GET /c/{number}`: is this certificate number real? Agency, holder, date, status.
#[handler]
pub async fn certificate_page(
    req: &Request,
    Path(raw): Path<String>,
    state: Data<&AppState>,
    limiter: Data<&std::sync::Arc<ScanLimiter>>,
) -> Response {
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
    let found = match licences::public_register(&state.db, &number).await {
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
    // Valid only while some licence with the number is ACTIVE: a cancelled or expired one
    // must never look valid.
    let valid = found.iter().any(|l| l.licence.status == LicenceStatus::Active);
    let certificates: Vec<serde_json::Value> = found.iter().map(public_json).collect();
    if wants_json(req) {
        return secured(
            poem::web::Json(json!({ "number": number, "valid": valid, "certificates": certificates })).into_response(),
        );
    }
    match render("certificate.html", json!({ "number": number, "valid": valid, "certificates": certificates })) {
        Ok(html) => secured(poem::web::Html(html).into_response()),
        Err(err) => internal(err.into()),
    }
}

/// `GET /c/{number}/qr.svg`: to print on paper certificates.
#[handler]
pub async fn certificate_qr_svg(
    req: &Request,
    Path(raw): Path<String>,
    state: Data<&AppState>,
    limiter: Data<&std::sync::Arc<ScanLimiter>>,
) -> Response {
    if let Err(refused) = within_limit(&state, &limiter, req).await {
        return refused;
    }
    let Some(number) = trace::parse_certificate_number(&raw) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match licences::public_register(&state.db, &number).await {
        Ok(found) if !found.is_empty() => svg_response(&format!("{}/c/{number}", state.config.public_base_url)),
        Ok(_) => StatusCode::NOT_FOUND.into_response(),
        Err(err) => app_error(req, err),
    }
}
