//! A USCC typed into a profile is declared, not verified: the trace page says so, a second
//! merchant may declare the same code (the market-regulation supervisors of both regions are
//! emailed and a security event recorded) instead of locking the real holder out, and only an
//! approved REGISTRATION of the merchant makes it verified.

use serde_json::{Value, json};

use crate::{
    both_backends,
    fixtures::filing_of,
    helpers::{Backend, TestApp, spawn_app},
};

both_backends!(a_typed_uscc_is_declared_until_a_registration_verifies_it);

const USCC: &str = "91510100MA6CGUR3KG";
const PROFILE: &str = "mutation($i: MerchantProfileInput!) { saveMerchantProfile(input: $i) { id uscc usccVerified } }";

async fn trace_json(app: &TestApp, token: &str, number: &str) -> Value {
    let registered = app
        .gql(
            "mutation($i: ProductBatchInput!) { registerProductBatch(input: $i) { traceCode } }",
            json!({ "i": { "productName": "花椒", "category": "FOOD", "originRegionCode": "510100", "batchNumber": number, "productionDate": "2026-09-01", "quantity": 10 } }),
            Some(token),
        )
        .await;
    let code = registered.data()["registerProductBatch"]["traceCode"].as_str().expect("code").to_string();
    app.client
        .get(app.url(&format!("/t/{code}")))
        .header("accept", "application/json")
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json")
}

/// Files, claims and approves a REGISTRATION for the merchant: the approval's answer.
async fn approve_registration(
    app: &TestApp,
    merchant: &crate::fixtures::Merchant,
    officer: &str,
) -> crate::helpers::Gql {
    let (_, filings) = app.submitted_case(merchant, &["REGISTRATION"]).await;
    let f = filing_of(&filings, "REGISTRATION");
    let id = f["id"].as_str().expect("id");
    let claimed = app.decide(officer, "claimFiling", id, f["version"].as_i64().expect("v"), None).await;
    let version = claimed.data()["claimFiling"]["version"].as_i64().expect("v");
    app.decide(officer, "approveFiling", id, version, None).await
}

async fn a_typed_uscc_is_declared_until_a_registration_verifies_it(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    for (email, agency, region) in [
        ("mr-chengdu@gov.cn", "MARKET_REGULATION", "510100"),
        ("mr-kunming@gov.cn", "MARKET_REGULATION", "530100"),
        ("tax-chengdu@gov.cn", "TAX", "510100"),
    ] {
        app.staff(email, "SUPERVISOR", agency, &[region]).await;
    }
    let holder = app.merchant("holder@example.cn", "510100", Some(USCC)).await;

    // Declared: shown as such, not verified.
    let page = trace_json(&app, &holder.token, "D-1").await;
    assert_eq!((page["merchantUscc"].as_str(), page["merchantVerified"].as_bool()), (Some(USCC), Some(false)));
    assert_eq!(page["merchantUsccStatus"], "declared");

    // A second merchant (another region) declares the same code: allowed, and reported.
    let claimant = app.merchant("claimant@example.cn", "530100", Some(USCC)).await;
    let mine = app.gql("{ merchant { uscc usccVerified } }", json!({}), Some(&claimant.token)).await;
    assert_eq!(mine.data()["merchant"], json!({ "uscc": USCC, "usccVerified": false }));
    for supervisor in ["mr-chengdu@gov.cn", "mr-kunming@gov.cn"] {
        let mail = app.mail_for(supervisor, 1).await;
        let alert = mail.iter().find(|m| m.subject().contains(USCC)).unwrap_or_else(|| panic!("{supervisor} was told"));
        assert!(
            alert.text().contains("holder@example.cn") && alert.text().contains("claimant@example.cn"),
            "names both merchants"
        );
    }
    let admin = app.admin_token().await;
    let events = app
        .gql("{ securityEvents(kind: \"uscc.declared_twice\") { nodes { kind detail } } }", json!({}), Some(&admin))
        .await;
    assert_eq!(events.data()["securityEvents"]["nodes"].as_array().map(Vec::len), Some(1));
    assert!(events.data()["securityEvents"]["nodes"][0]["detail"].as_str().unwrap_or_default().contains(USCC));
    assert!(
        app.smtp.to("tax-chengdu@gov.cn").await.iter().all(|m| !m.subject().contains(USCC)),
        "other agencies are not bothered"
    );
    // Saving again without a change does not repeat the alert.
    let again = app
        .gql("{ merchant { name regionCode address contactEmail contactPhone } }", json!({}), Some(&claimant.token))
        .await;
    let m = &again.data()["merchant"];
    let resaved = app
        .gql(PROFILE, json!({ "i": { "name": m["name"], "uscc": USCC, "regionCode": m["regionCode"], "address": m["address"], "contactEmail": m["contactEmail"], "contactPhone": m["contactPhone"] } }), Some(&claimant.token))
        .await;
    assert_eq!(resaved.data()["saveMerchantProfile"]["usccVerified"], false);
    assert_eq!(app.count_where("security_events", "kind = 'uscc.declared_twice'").await, 1);

    // Nothing is issued under a code two merchants claim until a registration verifies it.
    let tax = app.staff("tax-officer@gov.cn", "OFFICER", "TAX", &["530100"]).await;
    let (_, filings) = app.submitted_case(&claimant, &["TAX"]).await;
    let f = filing_of(&filings, "TAX");
    let claimed = app
        .decide(&tax.token, "claimFiling", f["id"].as_str().expect("id"), f["version"].as_i64().expect("v"), None)
        .await;
    let v = claimed.data()["claimFiling"]["version"].as_i64().expect("v");
    let refused = app.decide(&tax.token, "approveFiling", f["id"].as_str().expect("id"), v, None).await;
    assert_eq!(refused.error_code(), "DEPENDENCY_NOT_MET", "no taxpayer record under a disputed code");

    // The real holder's REGISTRATION verifies the code declared at submission (kept, not
    // replaced); the profile cannot swap it while the registration is open.
    let officer = app.staff("mr-officer@gov.cn", "OFFICER", "MARKET_REGULATION", &["510100", "530100"]).await;
    let (_, filings) = app.submitted_case(&holder, &["REGISTRATION"]).await;
    let registration = filing_of(&filings, "REGISTRATION");
    assert_eq!(registration["uscc"], USCC, "the officer sees the code to verify");
    let swap = app
        .gql(PROFILE, json!({ "i": { "name": "Holder", "uscc": "91510100MA6123456W", "regionCode": "510100", "address": "成都", "contactEmail": "holder@example.cn", "contactPhone": "13800138000" } }), Some(&holder.token))
        .await;
    assert_eq!(swap.error_fields(), vec!["uscc"], "no swap while the registration is open");
    assert!(swap.error_message().contains("REGISTRATION"), "{}", swap.error_message());
    let id = registration["id"].as_str().expect("id");
    let claimed =
        app.decide(&officer.token, "claimFiling", id, registration["version"].as_i64().expect("v"), None).await;
    let version = claimed.data()["claimFiling"]["version"].as_i64().expect("v");
    let approved = app.decide(&officer.token, "approveFiling", id, version, None).await;
    assert_eq!(approved.data()["approveFiling"]["certificateNumber"], USCC);
    let page = trace_json(&app, &holder.token, "D-2").await;
    assert_eq!(
        (page["merchantVerified"].as_bool(), page["merchantUsccStatus"].as_str()),
        (Some(true), Some("verified"))
    );
    let html = app
        .client
        .get(app.url(&format!("/t/{}", page["traceCode"].as_str().expect("code"))))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("html");
    assert!(html.contains("已核验"));

    // The claimant's registration cannot verify a code another merchant's registration verified.
    let refused = approve_registration(&app, &claimant, &officer.token).await;
    assert_eq!(refused.error_code(), "CONFLICT");
    let page = trace_json(&app, &claimant.token, "D-3").await;
    assert_eq!(page["merchantVerified"], false);

    // Without any USCC, a registration issues a new one, verified.
    let newcomer = app.merchant("newcomer@example.cn", "510100", None).await;
    let issued = approve_registration(&app, &newcomer, &officer.token).await;
    let issued = issued.data()["approveFiling"]["certificateNumber"].as_str().expect("USCC").to_string();
    assert_ne!(issued, USCC);
    let mine = app.gql("{ merchant { uscc usccVerified } }", json!({}), Some(&newcomer.token)).await;
    assert_eq!(mine.data()["merchant"], json!({ "uscc": issued, "usccVerified": true }));
}
