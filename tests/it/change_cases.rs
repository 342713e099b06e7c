//! Change cases (变更 / 延续 / 注销): an amendment of the registered address, a renewal that
//! extends validity (approved by a decision rule that reads `case.type`), a cancellation of
//! one licence, and a registration's cancellation that takes the dependent licences with it —
//! with the public pages telling the truth at every step.

use serde_json::{Value, json};

use crate::{
    both_backends,
    fixtures::{Merchant, filing_data, filing_of},
    helpers::{Backend, TestApp, spawn_app},
    licences::{LICENCE, approve, china_today, public_check},
};

both_backends!(an_amendment_changes_the_registered_address_through_review);
both_backends!(renewals_extend_and_cancellations_end_licences_with_their_dependents);

const CREATE: &str = "mutation($ids: [ID!]!, $t: CaseType!) { createChangeCase(licenceIds: $ids, type: $t) {
    id type status filings { id kind status version certificateNumber licence { id } } } }";

async fn create(app: &TestApp, merchant: &Merchant, ids: &[&Value], case_type: &str) -> crate::helpers::Gql {
    let ids: Vec<&Value> = ids.to_vec();
    app.gql(CREATE, json!({ "ids": ids, "t": case_type }), Some(&merchant.token)).await
}

async fn licence_of(app: &TestApp, token: &str, number: &str, kind: &str) -> Value {
    let found = app
        .gql(
            &format!("query($n: String!, $k: FilingKind!) {{ licence(number: $n, kind: $k) {{ {LICENCE} }} }}"),
            json!({ "n": number, "k": kind }),
            Some(token),
        )
        .await;
    found.data()["licence"].clone()
}

fn actions(licence: &Value) -> Vec<String> {
    licence["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["action"].as_str().map(str::to_string))
        .collect()
}

const PROFILE: &str =
    "mutation($i: MerchantProfileInput!) { saveMerchantProfile(input: $i) { name address contactPhone } }";

fn profile(name: &str, address: &str, phone: &str) -> Value {
    json!({ "i": {
        "name": name, "regionCode": "510100", "address": address, "contactEmail": "amend@example.cn",
        "contactPhone": phone, "categories": ["AGRICULTURAL"]
    }})
}

async fn an_amendment_changes_the_registered_address_through_review(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("amend@example.cn", "510100", None).await;
    let registrar = app.staff("amr@gov.cn", "OFFICER", "MARKET_REGULATION", &["510100"]).await;
    let (_, filings) = app.submitted_case(&merchant, &["REGISTRATION"]).await;
    let registration = approve(&app, &registrar, filing_of(&filings, "REGISTRATION")).await["licence"].clone();
    let name = "商户 amend@example.cn";

    // The registered address no longer changes in the profile; contact data still does.
    let refused =
        app.gql(PROFILE, profile(name, "成都市武侯区新地址 8 号", "+86 138 0000 0000"), Some(&merchant.token)).await;
    assert_eq!(refused.error_code(), "VALIDATION");
    assert_eq!(refused.error_fields(), ["address"]);
    assert!(refused.0.to_string().contains("createChangeCase"), "{:?}", refused.0);
    let contact =
        app.gql(PROFILE, profile(name, "成都市高新区天府大道100号", "+86 139 1111 2222"), Some(&merchant.token)).await;
    assert_eq!(contact.data()["saveMerchantProfile"]["contactPhone"], "+8613911112222");

    // What a change case may not be.
    assert_eq!(create(&app, &merchant, &[&registration["id"]], "NEW").await.error_code(), "VALIDATION");
    assert_eq!(create(&app, &merchant, &[], "AMENDMENT").await.error_code(), "VALIDATION");
    assert_eq!(
        create(&app, &merchant, &[&registration["id"]], "RENEWAL").await.error_code(),
        "VALIDATION",
        "a registration does not expire"
    );
    let stranger = app.merchant("stranger@example.cn", "510100", None).await;
    assert_eq!(create(&app, &stranger, &[&registration["id"]], "CANCELLATION").await.error_code(), "NOT_FOUND");

    let opened = create(&app, &merchant, &[&registration["id"]], "AMENDMENT").await;
    let case = opened.data()["createChangeCase"].clone();
    assert_eq!((case["type"].as_str(), case["status"].as_str()), (Some("AMENDMENT"), Some("DRAFT")));
    let filing = case["filings"][0].clone();
    assert_eq!((filing["kind"].as_str(), &filing["licence"]["id"]), (Some("REGISTRATION"), &registration["id"]));
    assert_eq!(
        create(&app, &merchant, &[&registration["id"]], "CANCELLATION").await.error_code(),
        "CONFLICT",
        "one change at a time"
    );

    let case_id = case["id"].as_str().expect("id");
    let empty = app.submit_case(&merchant.token, case_id).await;
    assert_eq!(empty.error_fields(), ["filings.REGISTRATION.data"], "an amendment carries the new data");
    let mut data = filing_data("REGISTRATION");
    data["registration"]["address"] = json!("");
    let id = filing["id"].as_str().expect("id");
    let invalid = app.update_filing(&merchant.token, id, filing["version"].as_i64().expect("v"), data.clone()).await;
    assert_eq!(invalid.error_code(), "VALIDATION", "validated like a new filing");
    data["registration"]["address"] = json!("成都市武侯区新地址 8 号");
    data["registration"]["companyName"] = json!("成都川味花椒专业合作社");
    app.update_filing(&merchant.token, id, filing["version"].as_i64().expect("v"), data).await.data();
    let submitted = app.submit_case(&merchant.token, case_id).await;
    let amended = approve(
        &app,
        &registrar,
        filing_of(submitted.data()["submitCase"]["filings"].as_array().expect("f"), "REGISTRATION"),
    )
    .await;
    assert_eq!(amended["certificateNumber"], Value::Null, "nothing new is issued");
    assert_eq!(actions(&amended["licence"]), ["issued", "amended"]);
    assert_eq!(amended["licence"]["history"][1]["note"], "资料齐全");
    assert_eq!(amended["licence"]["status"], "ACTIVE");

    let me = app.gql("{ merchant { name address uscc } }", json!({}), Some(&merchant.token)).await;
    assert_eq!(me.data()["merchant"]["address"], "成都市武侯区新地址 8 号");
    assert_eq!(me.data()["merchant"]["name"], "成都川味花椒专业合作社");
    assert_eq!(me.data()["merchant"]["uscc"], registration["number"], "the USCC stays");
    let public = public_check(&app, registration["number"].as_str().expect("number")).await;
    assert_eq!(public["valid"], true);
    let history: Vec<&str> = public["certificates"][0]["history"]
        .as_array()
        .expect("h")
        .iter()
        .filter_map(|h| h["action"].as_str())
        .collect();
    assert_eq!(history, ["issued", "amended"]);
    assert!(!public.to_string().contains("资料齐全"), "no note in public");
    assert!(
        create(&app, &merchant, &[&registration["id"]], "AMENDMENT").await.data()["createChangeCase"]["id"].is_string(),
        "decided: the licence is free again"
    );
}

const RULE: &str = "mutation($i: DecisionRuleInput!) { saveDecisionRule(input: $i) { id enabled } }";

async fn renewals_extend_and_cancellations_end_licences_with_their_dependents(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("cancel@example.cn", "510100", None).await;
    let staff = [
        ("REGISTRATION", app.staff("amr@gov.cn", "OFFICER", "MARKET_REGULATION", &["510100"]).await),
        ("INSPECTION", app.staff("ciq@gov.cn", "OFFICER", "INSPECTION", &["510100"]).await),
        ("TAX", app.staff("tax@gov.cn", "OFFICER", "TAX", &["510100"]).await),
        ("FX", app.staff("fx@gov.cn", "OFFICER", "FOREIGN_EXCHANGE", &["510100"]).await),
    ];
    let officer = |kind: &str| &staff.iter().find(|(k, _)| *k == kind).expect("officer").1;
    let (_, filings) = app.submitted_case(&merchant, &["REGISTRATION", "INSPECTION", "TAX", "FX"]).await;
    let mut licences = std::collections::HashMap::new();
    for kind in ["REGISTRATION", "INSPECTION", "TAX", "FX"] {
        let fresh = app.filing(&officer(kind).token, filing_of(&filings, kind)["id"].as_str().expect("id")).await;
        licences.insert(kind, approve(&app, officer(kind), &fresh.data()["filing"]).await["licence"].clone());
    }
    let batch = json!({ "i": { "productName": "汉源花椒", "category": "AGRICULTURAL", "originRegionCode": "511800",
        "batchNumber": "HY-1", "productionDate": "2026-09-01", "quantity": 100 } });
    let code = app
        .gql(
            "mutation($i: ProductBatchInput!) { registerProductBatch(input: $i) { traceCode } }",
            batch,
            Some(&merchant.token),
        )
        .await;
    let trace = format!("/t/{}", code.data()["registerProductBatch"]["traceCode"].as_str().expect("code"));
    let page = |app: &TestApp| {
        let request = app.client.get(app.url(&trace)).header("accept", "application/json");
        async move { request.send().await.expect("trace").json::<Value>().await.expect("json") }
    };
    assert_eq!(page(&app).await["merchantVerified"], true);

    // RENEWAL, approved by a rule of the inspection agency that reads `case.type`.
    let supervisor = app.staff("ciq-sup@gov.cn", "SUPERVISOR", "INSPECTION", &["510100"]).await;
    let rule = json!({ "i": { "kind": "INSPECTION", "name": "延续自动办理 / renewals", "condition": "case.type == 'RENEWAL' && merchant.riskLevel == 0", "enabled": true } });
    assert_eq!(app.gql(RULE, rule, Some(&supervisor.token)).await.data()["saveDecisionRule"]["enabled"], true);
    let inspection = &licences["INSPECTION"];
    let soon = china_today() + chrono::Duration::days(10);
    app.update_row(
        "licences",
        &format!("valid_until = '{}'", soon.format("%Y-%m-%d")),
        inspection["id"].as_str().expect("id"),
    )
    .await;
    assert_eq!(
        create(&app, &merchant, &[&licences["FX"]["id"]], "RENEWAL").await.error_code(),
        "VALIDATION",
        "FX does not expire"
    );
    let renewal = create(&app, &merchant, &[&inspection["id"]], "RENEWAL").await;
    let renewal_id = renewal.data()["createChangeCase"]["id"].as_str().expect("id").to_string();
    let submitted = app.submit_case(&merchant.token, &renewal_id).await;
    assert_eq!(
        submitted.data()["submitCase"]["filings"][0]["status"],
        "APPROVED",
        "renewals need no data; the rule approved it"
    );
    let renewed = licence_of(&app, &merchant.token, inspection["number"].as_str().expect("n"), "INSPECTION").await;
    let extended = soon.checked_add_months(chrono::Months::new(36)).expect("date");
    assert_eq!(renewed["validUntil"], extended.format("%Y-%m-%d").to_string(), "36 months more from the old end");
    assert_eq!(actions(&renewed), ["issued", "renewed"]);

    // CANCELLATION of the FX registration alone.
    let fx = &licences["FX"];
    let cancel_fx = create(&app, &merchant, &[&fx["id"]], "CANCELLATION").await;
    let case_id = cancel_fx.data()["createChangeCase"]["id"].as_str().expect("id").to_string();
    let submitted = app.submit_case(&merchant.token, &case_id).await;
    approve(&app, officer("FX"), &submitted.data()["submitCase"]["filings"][0]).await;
    let fx_number = fx["number"].as_str().expect("n");
    assert_eq!(licence_of(&app, &merchant.token, fx_number, "FX").await["status"], "CANCELLED");
    let public = public_check(&app, fx_number).await;
    assert_eq!(
        (public["valid"].as_bool(), public["certificates"][0]["status"].as_str()),
        (Some(false), Some("CANCELLED"))
    );
    assert_eq!(
        create(&app, &merchant, &[&fx["id"]], "AMENDMENT").await.error_code(),
        "VALIDATION",
        "a cancelled licence cannot be amended"
    );

    // CANCELLATION of the registration: INSPECTION and TAX follow; FX was already cancelled.
    let registration = &licences["REGISTRATION"];
    let closing = create(&app, &merchant, &[&registration["id"]], "CANCELLATION").await;
    let case_id = closing.data()["createChangeCase"]["id"].as_str().expect("id").to_string();
    let submitted = app.submit_case(&merchant.token, &case_id).await;
    approve(&app, officer("REGISTRATION"), &submitted.data()["submitCase"]["filings"][0]).await;
    let uscc = registration["number"].as_str().expect("n");
    for (kind, number) in
        [("REGISTRATION", uscc), ("TAX", uscc), ("INSPECTION", inspection["number"].as_str().expect("n"))]
    {
        assert_eq!(licence_of(&app, &merchant.token, number, kind).await["status"], "CANCELLED", "{kind}");
    }
    let tax = licence_of(&app, &merchant.token, uscc, "TAX").await;
    assert_eq!(tax["history"][1]["action"], "cancelled");
    assert!(tax["history"][1]["note"].as_str().expect("note").contains(uscc), "names the registration");
    let trail = app.case(&merchant.token, &case_id).await;
    let cascaded: Vec<&Value> = trail.data()["case"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["action"] == "licence.cancelled")
        .collect();
    assert_eq!(cascaded.len(), 2, "one audit event per dependent licence");
    assert!(cascaded.iter().all(|e| e["actor"].is_null()), "the portal is the actor");
    let mails = app.mail_for("cancel@example.cn", 1).await;
    let listing: Vec<_> =
        mails.into_iter().filter(|m| m.subject().contains("cancelled with your registration")).collect();
    assert_eq!(listing.len(), 1, "one email");
    assert!(
        listing[0].text().contains("INSPECTION")
            && listing[0].text().contains("TAX")
            && !listing[0].text().contains(" FX "),
        "{}",
        listing[0].text()
    );
    let public = public_check(&app, uscc).await;
    assert_eq!(public["valid"], false, "neither the registration nor the tax registration stands");
    let after = page(&app).await;
    assert_eq!(
        (after["merchantVerified"].as_bool(), after["merchantUsccStatus"].as_str()),
        (Some(false), Some("cancelled"))
    );
}
