//! Cross-region filing (跨省通办): a Chengdu merchant in Kunming files at the Kunming office;
//! until that office acknowledges receipt the filing is in its queue only, and it may only
//! acknowledge it or ask for a correction; then the Chengdu office decides as usual.

use serde_json::{Value, json};

use crate::{
    both_backends,
    fixtures::{FILING_FIELDS, filing_data},
    helpers::{Backend, TestApp, spawn_app},
};

both_backends!(a_filing_made_away_from_home_is_received_there_and_decided_at_home);

const ACK: &str = "mutation($id: ID!, $v: Int!) { acknowledgeReceipt(id: $id, expectedVersion: $v) { status version receivingRegionCode receivedAt } }";

async fn queue_ids(app: &TestApp, token: &str) -> String {
    app.gql("{ reviewQueue(first: 100) { nodes { id } } }", json!({}), Some(token)).await.0.to_string()
}

async fn version(app: &TestApp, token: &str, id: &str) -> i64 {
    app.filing(token, id).await.data()["filing"]["version"].as_i64().expect("version")
}

async fn a_filing_made_away_from_home_is_received_there_and_decided_at_home(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("away@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let chengdu = app.staff("cd-customs@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;
    let chengdu_sup = app.staff("cd-sup@gov.cn", "SUPERVISOR", "CUSTOMS", &["510100"]).await;
    let kunming = app.staff("km-customs@gov.cn", "OFFICER", "CUSTOMS", &["530100"]).await;
    let kunming_tax = app.staff("km-tax@gov.cn", "OFFICER", "TAX", &["530100"]).await;
    let create = format!(
        "mutation($r: String) {{ createCase(kinds: [CUSTOMS], receivingRegionCode: $r) {{ id filings {{ {FILING_FIELDS} receivingRegionCode }} }} }}"
    );
    assert_eq!(
        app.gql(&create, json!({ "r": "510100" }), Some(&merchant.token)).await.error_fields(),
        ["receivingRegionCode"],
        "home is not away"
    );
    assert_eq!(
        app.gql(&create, json!({ "r": "110100" }), Some(&merchant.token)).await.error_fields(),
        ["receivingRegionCode"],
        "Beijing is not served"
    );
    let created = app.gql(&create, json!({ "r": "530100" }), Some(&merchant.token)).await;
    let case_id = created.data()["createCase"]["id"].as_str().expect("case").to_string();
    let filing: Value = created.data()["createCase"]["filings"][0].clone();
    let id = filing["id"].as_str().expect("id").to_string();
    assert_eq!(
        (filing["receivingRegionCode"].as_str(), filing["regionCode"].as_str()),
        (Some("530100"), Some("510100"))
    );
    app.update_filing(&merchant.token, &id, 1, filing_data("CUSTOMS")).await.data();
    assert_eq!(app.submit_case(&merchant.token, &case_id).await.data()["submitCase"]["status"], "IN_REVIEW");

    // In the receiving office's queue only; nobody decides before receipt.
    assert!(queue_ids(&app, &kunming.token).await.contains(&id));
    assert!(!queue_ids(&app, &chengdu.token).await.contains(&id));
    let v = version(&app, &kunming.token, &id).await;
    assert_eq!(
        app.decide(&chengdu_sup.token, "claimFiling", &id, v, None).await.error_code(),
        "FORBIDDEN",
        "the home office waits for receipt"
    );
    assert_eq!(
        app.decide(&kunming.token, "claimFiling", &id, v, None).await.error_code(),
        "INVALID_TRANSITION",
        "the receiving office does not decide"
    );
    assert_eq!(
        app.gql(ACK, json!({ "id": id, "v": v }), Some(&kunming_tax.token)).await.error_code(),
        "NOT_FOUND",
        "another agency"
    );
    assert_eq!(app.gql(ACK, json!({ "id": id, "v": v }), Some(&merchant.token)).await.error_code(), "FORBIDDEN");

    // The receiving office may ask for a correction; the merchant's fix comes back to it.
    let corrected =
        app.decide(&kunming.token, "requestCorrection", &id, v, Some("请补充报关联系人 add the customs contact")).await;
    assert_eq!(corrected.data()["requestCorrection"]["status"], "NEEDS_CORRECTION");
    let v = corrected.data()["requestCorrection"]["version"].as_i64().expect("v");
    let mut fixed = filing_data("CUSTOMS");
    fixed["customs"]["contactPerson"] = json!("王芳 13800000000");
    let v =
        app.update_filing(&merchant.token, &id, v, fixed).await.data()["updateFiling"]["version"].as_i64().expect("v");
    let resubmit = "mutation($id: ID!, $v: Int!) { resubmitFiling(id: $id, expectedVersion: $v) { status version } }";
    let v =
        app.gql(resubmit, json!({ "id": id, "v": v }), Some(&merchant.token)).await.data()["resubmitFiling"]["version"]
            .as_i64()
            .expect("v");
    assert!(queue_ids(&app, &kunming.token).await.contains(&id), "back with the receiving office");

    // Received: now the home office's, as usual.
    let received = app.gql(ACK, json!({ "id": id, "v": v }), Some(&kunming.token)).await;
    let received = received.data()["acknowledgeReceipt"].clone();
    assert_eq!(
        (received["status"].as_str(), received["receivingRegionCode"].as_str()),
        (Some("SUBMITTED"), Some("530100"))
    );
    assert!(received["receivedAt"].is_string());
    let v = received["version"].as_i64().expect("v");
    assert_eq!(
        app.gql(ACK, json!({ "id": id, "v": v }), Some(&kunming.token)).await.error_code(),
        "FORBIDDEN",
        "the home office's now"
    );
    assert!(queue_ids(&app, &chengdu.token).await.contains(&id));
    assert!(!queue_ids(&app, &kunming.token).await.contains(&id));
    let claimed = app.decide(&chengdu.token, "claimFiling", &id, v, None).await;
    let v = claimed.data()["claimFiling"]["version"].as_i64().expect("v");
    assert_eq!(
        app.decide(&chengdu.token, "approveFiling", &id, v, None).await.data()["approveFiling"]["status"],
        "APPROVED"
    );
    let trail = app.case(&merchant.token, &case_id).await;
    let actions: Vec<&str> = trail.data()["case"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"filing.received") && actions.contains(&"filing.approved"), "{actions:?}");
    assert!(
        app.filing(&kunming.token, &id).await.data()["filing"]["id"].is_string(),
        "the receiving office still reads it"
    );
}
