//! Outside review 2, finding 2: an agency a case was shared with reads every free text of it
//! with personal numbers masked — filing data, comments, event notes, correction messages,
//! file names, the share note — the legal representative's name in part, and personal
//! documents listed without their bytes. The deciding agency still reads them in full.

use serde_json::json;

use crate::{
    both_backends,
    fixtures::{filing_data, filing_of},
    helpers::{Backend, TestApp, spawn_app},
    requirements::{self, upload_typed},
};

both_backends!(a_shared_case_shows_no_personal_number_anywhere_to_the_receiving_agency);

/// A resident ID number planted in every free text (not the legal representative's own).
const PLANTED: &str = "11010519491231002X";
const PLANTED_MASKED: &str = "1101**********002X";
const LEGAL_REP_ID: &str = "510107199003074218";
const PHONE: &str = "13800138000";

const READ: &str = "query($id: ID!) { case(id: $id) {
    filings { kind decisionNote
      data {
        ... on RegistrationData { companyName address businessScope legalRepresentative { name idNumber } }
        ... on TaxData { bankName bankAccount invoiceContact }
      }
      correctionItems { message }
      requiredDocuments { documents { id filename downloadable } }
    }
    events { action note }
    comments { body }
    documents { id filename documentType downloadable }
    shares { note } } }";

async fn upload_named(
    app: &TestApp,
    token: &str,
    case_id: &str,
    filing_id: &str,
    document_type: &str,
    name: &str,
) -> String {
    let uploaded = requirements::upload_named(app, token, case_id, Some(filing_id), document_type, name).await;
    uploaded.data()["uploadDocument"]["id"].as_str().expect("id").to_string()
}

async fn download_status(app: &TestApp, token: &str, id: &str) -> u16 {
    app.client
        .get(app.url(&format!("/documents/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("download")
        .status()
        .as_u16()
}

async fn a_shared_case_shows_no_personal_number_anywhere_to_the_receiving_agency(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("planted@example.cn", "510100", None).await;
    let amr = app.staff("amr@gov.cn", "OFFICER", "MARKET_REGULATION", &["510100"]).await;
    let amr_sup = app.staff("amr-sup@gov.cn", "SUPERVISOR", "MARKET_REGULATION", &["510100"]).await;
    let customs = app.staff("customs@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;

    // The merchant types the number into every free-text field, comment and file name.
    let created = app.create_case(&merchant.token, &["REGISTRATION", "TAX"]).await;
    let case_id = created.data()["createCase"]["id"].as_str().expect("id").to_string();
    let filings = created.data()["createCase"]["filings"].as_array().expect("filings").clone();
    let registration = filing_of(&filings, "REGISTRATION")["id"].as_str().expect("id").to_string();
    let tax = filing_of(&filings, "TAX")["id"].as_str().expect("id").to_string();
    let mut data = filing_data("REGISTRATION");
    data["registration"]["address"] = json!(format!("四川省成都市锦江区春熙路1号（法人身份证{PLANTED}）"));
    data["registration"]["businessScope"] = json!(format!("花椒种植 联系 {PHONE} 证 {PLANTED}"));
    app.update_filing(&merchant.token, &registration, 1, data).await.data();
    let mut data = filing_data("TAX");
    data["tax"]["invoiceContact"] = json!(format!("王芳 {PLANTED}"));
    app.update_filing(&merchant.token, &tax, 1, data).await.data();
    let id_card =
        upload_named(&app, &merchant.token, &case_id, &registration, "ID_CARD_COPY", &format!("身份证{PLANTED}.pdf"))
            .await;
    let bank = upload_named(&app, &merchant.token, &case_id, &tax, "BANK_ACCOUNT_PROOF", "开户许可证.pdf").await;
    let premises = upload_typed(&app, &merchant.token, &case_id, Some(&registration), "BUSINESS_PREMISES_PROOF").await;
    let premises = premises.data()["uploadDocument"]["id"].as_str().expect("id").to_string();
    app.submit_case(&merchant.token, &case_id).await.data();
    let comment = "mutation($c: ID!, $f: ID, $b: String!) { addComment(caseId: $c, filingId: $f, body: $b) { id } }";
    app.gql(
        comment,
        json!({ "c": case_id, "f": registration, "b": format!("我的身份证号是 {PLANTED}") }),
        Some(&merchant.token),
    )
    .await
    .data();

    // The deciding officer asks for a correction naming it; its supervisor shares the case.
    let version = app.filing(&amr.token, &registration).await.data()["filing"]["version"].as_i64().expect("v");
    let claimed = app.decide(&amr.token, "claimFiling", &registration, version, None).await;
    let version = claimed.data()["claimFiling"]["version"].as_i64().expect("v");
    let ask = "mutation($id: ID!, $v: Int!, $n: String!, $items: [CorrectionItemInput!]) { requestCorrection(id: $id, expectedVersion: $v, note: $n, items: $items) { status } }";
    let items = json!([{ "field": "address", "message": format!("地址中不应写身份证号 {PLANTED}") }]);
    let note = format!("请删除地址中的身份证号 {PLANTED}");
    app.gql(ask, json!({ "id": registration, "v": version, "n": note, "items": items }), Some(&amr.token)).await.data();
    let share = "mutation($c: ID!, $n: String!) { shareCase(caseId: $c, agency: CUSTOMS, note: $n) { id } }";
    app.gql(share, json!({ "c": case_id, "n": format!("疑似冒用身份 {PLANTED}，请协查") }), Some(&amr_sup.token))
        .await
        .data();

    // The deciding agency reads every plant in full: they are really there.
    let full = app.gql(READ, json!({ "id": case_id }), Some(&amr.token)).await.data()["case"].to_string();
    assert!(full.matches(PLANTED).count() >= 6, "{full}");
    assert!(full.contains(LEGAL_REP_ID) && full.contains("李伟"), "{full}");
    assert_eq!(download_status(&app, &amr.token, &id_card).await, 200);

    // The receiving agency reads the whole case, and no personal number in it.
    let shared = app.gql(READ, json!({ "id": case_id }), Some(&customs.token)).await;
    let case = shared.data()["case"].clone();
    let text = case.to_string();
    for secret in [PLANTED, LEGAL_REP_ID, PHONE, "6228480402564890018"] {
        assert!(!text.contains(secret), "{secret} shown to the shared agency: {text}");
    }
    assert!(text.matches(PLANTED_MASKED).count() >= 6, "each plant is there, masked: {text}");
    let registration_read = case["filings"]
        .as_array()
        .expect("filings")
        .iter()
        .find(|f| f["kind"] == "REGISTRATION")
        .expect("registration")
        .clone();
    assert_eq!(registration_read["data"]["legalRepresentative"]["name"], "李*");
    assert!(text.contains("138****8000"), "phone numbers too: {text}");
    let documents = case["documents"].as_array().expect("documents").clone();
    let downloadable = |id: &str| documents.iter().find(|d| d["id"] == id).map(|d| d["downloadable"].clone());
    assert_eq!(downloadable(&id_card), Some(json!(false)), "listed, not served");
    assert_eq!(downloadable(&bank), Some(json!(false)));
    assert_eq!(downloadable(&premises), Some(json!(true)));
    assert_eq!(download_status(&app, &customs.token, &id_card).await, 404);
    assert_eq!(download_status(&app, &customs.token, &bank).await, 404);
    assert_eq!(download_status(&app, &customs.token, &premises).await, 200);
    let mine = app.gql("{ sharedWithMe { note } }", json!({}), Some(&customs.token)).await;
    assert!(!mine.data().to_string().contains(PLANTED), "{}", mine.0);

    // The merchant still reads what it typed.
    let own = app.gql(READ, json!({ "id": case_id }), Some(&merchant.token)).await.data()["case"].to_string();
    assert!(own.contains(PLANTED) && own.contains(LEGAL_REP_ID));
}
