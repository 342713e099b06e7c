//! One-time corrections (一次性补正): every field and document at fault in one request, listed
//! to the merchant and in one email; resubmission refused while any is untouched; the review
//! clock resumes with the working days that were left.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::{
    both_backends,
    fixtures::{filing_data, filing_of},
    helpers::{Backend, spawn_app},
    requirements::upload_typed,
};

both_backends!(a_correction_round_trip_lists_every_item_and_refuses_while_untouched);

const ASK: &str = "mutation($id: ID!, $v: Int!, $items: [CorrectionItemInput!]) {
    requestCorrection(id: $id, expectedVersion: $v, note: \"请一次性补正 please correct\", items: $items) { status version dueAt } }";
const ITEMS: &str = "query($id: ID!) { filing(id: $id) { version dueAt submittedAt correctionItems { id field documentType message resolved } } }";
const RESUBMIT: &str = "mutation($id: ID!, $v: Int!) { resubmitFiling(id: $id, expectedVersion: $v) { status version dueAt submittedAt } }";

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc)).expect("a time")
}

async fn a_correction_round_trip_lists_every_item_and_refuses_while_untouched(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("fix@example.cn", "510100", None).await;
    let officer = app.staff("mr@gov.cn", "OFFICER", "MARKET_REGULATION", &["510100"]).await;
    let (case_id, filings) = app.submitted_case(&merchant, &["REGISTRATION"]).await;
    let registration = filing_of(&filings, "REGISTRATION");
    let id = registration["id"].as_str().expect("id").to_string();
    let first_due = time(&registration["dueAt"]);
    let claimed =
        app.decide(&officer.token, "claimFiling", &id, registration["version"].as_i64().expect("v"), None).await;
    let version = claimed.data()["claimFiling"]["version"].as_i64().expect("v");

    // Items that name nothing, or a field the filing does not have, are refused; nothing moves.
    let bad = json!([
        { "field": "legalRepresentative.passportNumber", "message": "护照 passport" },
        { "message": "什么都没指明 names nothing" },
        { "documentId": "0192f1c2-7a3b-7c4d-8e5f-0123456789ab", "message": "no such document" },
    ]);
    let refused = app.gql(ASK, json!({ "id": id, "v": version, "items": bad }), Some(&officer.token)).await;
    assert_eq!(refused.error_code(), "VALIDATION");
    assert_eq!(refused.error_fields(), vec!["items.0.field", "items.1.field", "items.2.documentId"]);
    assert_eq!(app.filing(&officer.token, &id).await.data()["filing"]["status"], "UNDER_REVIEW");

    let items = json!([
        { "field": "legalRepresentative.idNumber", "message": "与身份证不符 does not match the ID card" },
        { "field": "registeredCapital", "message": "注册资本与章程不一致 differs from the articles" },
        { "documentType": "ID_CARD_COPY", "message": "请上传清晰的身份证复印件 upload a legible ID card copy" },
    ]);
    let asked_at = Utc::now();
    let asked = app.gql(ASK, json!({ "id": id, "v": version, "items": items }), Some(&officer.token)).await;
    assert_eq!(asked.data()["requestCorrection"]["status"], "NEEDS_CORRECTION");
    let left = onestop::domain::working_days::Calendar::built_in().working_days_between(asked_at, first_due);

    // The merchant sees every item, and gets all of them in one email.
    let shown = app.gql(ITEMS, json!({ "id": id }), Some(&merchant.token)).await;
    let listed = shown.data()["filing"]["correctionItems"].as_array().expect("items").clone();
    assert_eq!(
        listed.iter().map(|i| i["field"].clone()).collect::<Vec<_>>(),
        vec![json!("legalRepresentative.idNumber"), json!("registeredCapital"), Value::Null]
    );
    assert_eq!(listed[2]["documentType"], "ID_CARD_COPY");
    assert!(listed.iter().all(|i| i["resolved"] == false));
    let mail = app.mail_for("fix@example.cn", 3).await.remove(2);
    for expected in [
        "legalRepresentative.idNumber: 与身份证不符",
        "registeredCapital: 注册资本与章程不一致",
        "ID_CARD_COPY: 请上传清晰的身份证复印件",
    ] {
        assert!(mail.text().contains(expected), "the email lists {expected}: {}", mail.text());
    }

    // Untouched: refused, one entry per item.
    let v = shown.data()["filing"]["version"].as_i64().expect("v");
    let untouched = app.gql(RESUBMIT, json!({ "id": id, "v": v }), Some(&merchant.token)).await;
    assert_eq!(untouched.error_code(), "VALIDATION");
    assert_eq!(
        untouched.error_fields(),
        vec![
            "corrections.legalRepresentative.idNumber",
            "corrections.registeredCapital",
            "corrections.documents.ID_CARD_COPY"
        ]
    );

    // Half done: only what is still untouched is named.
    let mut data = filing_data("REGISTRATION");
    data["registration"]["legalRepresentative"]["idNumber"] = json!("11010519491231002X");
    let edited = app.update_filing(&merchant.token, &id, v, data.clone()).await;
    let v = edited.data()["updateFiling"]["version"].as_i64().expect("v");
    let half = app.gql(RESUBMIT, json!({ "id": id, "v": v }), Some(&merchant.token)).await;
    assert_eq!(half.error_fields(), vec!["corrections.registeredCapital", "corrections.documents.ID_CARD_COPY"]);
    // A document uploaded to the case as a whole is not one "uploaded to the filing".
    upload_typed(&app, &merchant.token, &case_id, None, "ID_CARD_COPY").await.data();
    let still = app.gql(RESUBMIT, json!({ "id": id, "v": v }), Some(&merchant.token)).await;
    assert_eq!(still.error_fields(), vec!["corrections.registeredCapital", "corrections.documents.ID_CARD_COPY"]);

    data["registration"]["registeredCapital"] = json!("800000.00");
    let edited = app.update_filing(&merchant.token, &id, v, data).await;
    let v = edited.data()["updateFiling"]["version"].as_i64().expect("v");
    upload_typed(&app, &merchant.token, &case_id, Some(&id), "ID_CARD_COPY").await.data();
    let done = app.gql(RESUBMIT, json!({ "id": id, "v": v }), Some(&merchant.token)).await;
    let done = &done.data()["resubmitFiling"];
    assert_eq!(done["status"], "SUBMITTED");
    // The clock resumes with the working days that were left, not wall-clock seconds.
    let calendar = onestop::domain::working_days::Calendar::built_in();
    assert_eq!(time(&done["dueAt"]), calendar.add_working_days(time(&done["submittedAt"]), left));
    let after = app.gql(ITEMS, json!({ "id": id }), Some(&officer.token)).await;
    assert!(after.data()["filing"]["correctionItems"].as_array().expect("items").iter().all(|i| i["resolved"] == true));
}
