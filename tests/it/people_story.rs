//! Issue 13's story, end to end through the API: an owner brings in a staff member and a
//! customs broker, the broker files the customs part of a case and nothing else, and the
//! merchant later amends its address and cancels its FX registration — with the public pages
//! telling the truth at the end.

use serde_json::{Value, json};

use crate::{
    agents::{broker, grant},
    both_backends,
    fixtures::{filing_data, filing_of},
    helpers::{Backend, TestApp, spawn_app},
    licences::{approve, china_today, public_check as public},
    members::{INVITE, join},
};

both_backends!(staff_and_a_broker_file_then_the_merchant_amends_and_cancels);

/// Submits a change case of `type` for the licence, (for amendments) with `data`; approves it.
async fn change(
    app: &TestApp,
    token: &str,
    officer: &crate::fixtures::Staff,
    licence: &Value,
    case_type: &str,
    data: Option<Value>,
) {
    let opened = app
        .gql("mutation($ids: [ID!]!, $t: CaseType!) { createChangeCase(licenceIds: $ids, type: $t) { id filings { id version } } }", json!({ "ids": [licence["id"]], "t": case_type }), Some(token))
        .await;
    let case = opened.data()["createChangeCase"].clone();
    if let Some(data) = data {
        let filing = &case["filings"][0];
        app.update_filing(token, filing["id"].as_str().expect("id"), filing["version"].as_i64().expect("v"), data)
            .await
            .data();
    }
    let submitted = app.submit_case(token, case["id"].as_str().expect("case")).await;
    approve(app, officer, &submitted.data()["submitCase"]["filings"][0]).await;
}

async fn staff_and_a_broker_file_then_the_merchant_amends_and_cancels(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let owner = app.merchant("hanyuan@example.cn", "510100", None).await;
    app.gql(INVITE, json!({ "e": "clerk@example.cn", "r": "STAFF" }), Some(&owner.token)).await.data();
    let (clerk, _) = join(&app, "clerk@example.cn").await;
    let broker_token = broker(&app, "broker@example.cn").await;
    let until = (china_today() + chrono::Duration::days(90)).format("%Y-%m-%d").to_string();
    grant(&app, &owner, "broker@example.cn", &["CUSTOMS"], &until).await;

    // The owner opens the case; the clerk fills in REGISTRATION and FX, the broker CUSTOMS.
    let created = app.create_case(&owner.token, &["REGISTRATION", "CUSTOMS", "FX"]).await;
    let case_id = created.data()["createCase"]["id"].as_str().expect("case").to_string();
    let filings = created.data()["createCase"]["filings"].as_array().expect("filings").clone();
    for kind in ["REGISTRATION", "FX"] {
        app.update_filing(&clerk, filing_of(&filings, kind)["id"].as_str().expect("id"), 1, filing_data(kind))
            .await
            .data();
    }
    let customs = filing_of(&filings, "CUSTOMS")["id"].as_str().expect("id").to_string();
    app.update_filing(&broker_token, &customs, 1, filing_data("CUSTOMS")).await.data();
    for kind in ["REGISTRATION", "FX"] {
        let id = filing_of(&filings, kind)["id"].as_str().expect("id");
        assert_eq!(
            app.update_filing(&broker_token, id, 2, filing_data(kind)).await.error_code(),
            "NOT_FOUND",
            "the broker files CUSTOMS only"
        );
    }
    assert_eq!(app.submit_case(&broker_token, &case_id).await.error_code(), "FORBIDDEN");
    let submitted = app.submit_case(&clerk, &case_id).await;
    let filings = submitted.data()["submitCase"]["filings"].as_array().expect("filings").clone();
    let trail = app
        .gql(
            "query($id: ID!) { case(id: $id) { events { action filingId actor { email } onBehalfOfMerchantId } } }",
            json!({ "id": case_id }),
            Some(&owner.token),
        )
        .await;
    let broker_edit = trail.data()["case"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["filingId"] == customs.as_str() && e["actor"]["email"] == "broker@example.cn")
        .cloned();
    assert!(
        broker_edit.is_some_and(|e| e["onBehalfOfMerchantId"].is_string()),
        "the broker's edit names the merchant it acted for"
    );

    // Each agency approves; each approval issues a licence.
    let mut licences = std::collections::HashMap::new();
    for (kind, agency) in [("REGISTRATION", "MARKET_REGULATION"), ("CUSTOMS", "CUSTOMS"), ("FX", "FOREIGN_EXCHANGE")] {
        let officer = app.staff(&format!("{}@gov.cn", kind.to_lowercase()), "OFFICER", agency, &["510100"]).await;
        let fresh = app.filing(&officer.token, filing_of(&filings, kind)["id"].as_str().expect("id")).await;
        licences.insert(kind, (approve(&app, &officer, &fresh.data()["filing"]).await["licence"].clone(), officer));
    }

    // Later: the registered address changes by amendment, and the FX registration is cancelled.
    let mut moved = filing_data("REGISTRATION");
    moved["registration"]["address"] = json!("四川省雅安市汉源县富林镇1号");
    let (registration, registrar) = &licences["REGISTRATION"];
    change(&app, &owner.token, registrar, registration, "AMENDMENT", Some(moved)).await;
    let (fx, fx_officer) = &licences["FX"];
    change(&app, &owner.token, fx_officer, fx, "CANCELLATION", None).await;
    let me = app.gql("{ merchant { address licences { kind status } } }", json!({}), Some(&owner.token)).await;
    assert_eq!(me.data()["merchant"]["address"], "四川省雅安市汉源县富林镇1号");
    let statuses: Vec<(String, String)> = me.data()["merchant"]["licences"]
        .as_array()
        .expect("licences")
        .iter()
        .map(|l| (l["kind"].as_str().unwrap_or("").to_string(), l["status"].as_str().unwrap_or("").to_string()))
        .collect();
    assert!(
        statuses.contains(&("FX".into(), "CANCELLED".into()))
            && statuses.contains(&("CUSTOMS".into(), "ACTIVE".into())),
        "{statuses:?}"
    );

    // The public pages tell the truth.
    let fx_page = public(&app, fx["number"].as_str().expect("n")).await;
    assert_eq!(
        (fx_page["valid"].as_bool(), fx_page["certificates"][0]["status"].as_str()),
        (Some(false), Some("CANCELLED"))
    );
    let registration_page = public(&app, registration["number"].as_str().expect("n")).await;
    assert_eq!(registration_page["valid"], true);
    let history: Vec<&str> = registration_page["certificates"][0]["history"]
        .as_array()
        .expect("h")
        .iter()
        .filter_map(|h| h["action"].as_str())
        .collect();
    assert_eq!(history, ["issued", "amended"]);
    assert_eq!(public(&app, licences["CUSTOMS"].0["number"].as_str().expect("n")).await["valid"], true);
}
