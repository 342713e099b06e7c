//! What case emails say: one definition of the merchant's case update and of the message to a
//! member of staff about one filing (assignment, transfer, deadline).

use entity::{case, filing, merchant, user};
use serde_json::{Value, json};

use crate::platform::state::AppState;

fn china() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// One line per filing in a case email.
pub fn filing_line(f: &filing::Model) -> Value {
    json!({
        "name_zh": f.kind.name_zh(),
        "kind": f.kind.as_str(),
        "status": f.status.as_str(),
        "due_at": f.due_at.map(|d| d.with_timezone(&china()).format("%Y-%m-%d %H:%M").to_string()),
    })
}

/// The merchant's case update: the case, its filings, an officer's note, a certificate.
pub fn merchant_context(
    state: &AppState,
    merchant: &merchant::Model,
    case: &case::Model,
    filings: &[&filing::Model],
    note: Option<&str>,
    certificate_number: Option<&str>,
) -> Value {
    let first = filings.first();
    json!({
        "display_name": merchant.name,
        "reference": case.reference,
        "filings": filings.iter().map(|f| filing_line(f)).collect::<Vec<_>>(),
        "filing_zh": first.map(|f| f.kind.name_zh()),
        "filing_kind": first.map(|f| f.kind.as_str()),
        "note": note,
        "certificate_number": certificate_number,
        "link": format!("{}/cases/{}", state.config.public_base_url, case.id),
    })
}

/// A message to a member of staff about one filing of a case.
pub fn staff_context(
    state: &AppState,
    to: &user::Model,
    case: &case::Model,
    filing: &filing::Model,
    note: Option<&str>,
) -> Value {
    json!({
        "display_name": to.display_name,
        "reference": case.reference,
        "filings": [filing_line(filing)],
        "note": note,
        "link": format!("{}/filings/{}", state.config.public_base_url, filing.id),
    })
}
