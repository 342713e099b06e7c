//! Licences after approval: every approval issues one (number, status, validity, history),
//! seen by the holder, the issuing agency's staff covering the holder's region and
//! administrators; the public check tells its current status; the sweeper warns 30 and 7
//! days before expiry and marks it EXPIRED — once, however many instances sweep.

use chrono::{Months, NaiveDate};
use serde_json::{Value, json};

use crate::{
    both_backends,
    fixtures::{Merchant, Staff, filing_of},
    helpers::{Backend, TestApp, run_pending_jobs_of, spawn_app, spawn_app_with},
};

both_backends!(an_approval_issues_a_licence_that_the_right_people_see);
both_backends!(a_registration_and_a_tax_registration_share_the_uscc_as_their_number);
both_backends!(the_sweeper_warns_and_expires_exactly_once_across_two_instances);

pub const LICENCE: &str =
    "id kind agency number status issuedAt validUntil history { action note filingId } merchant { name }";

/// Today in China, as licences date themselves.
pub fn china_today() -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive()
}

/// Claims and approves `filing` as `officer`; the approved filing with its licence.
pub async fn approve(app: &TestApp, officer: &Staff, filing: &Value) -> Value {
    let id = filing["id"].as_str().expect("id");
    let claimed = app.decide(&officer.token, "claimFiling", id, filing["version"].as_i64().expect("v"), None).await;
    let version = claimed.data()["claimFiling"]["version"].as_i64().expect("claimed");
    let approved = app.decide(&officer.token, "approveFiling", id, version, Some("资料齐全")).await;
    assert_eq!(approved.data()["approveFiling"]["status"], "APPROVED", "{:?}", approved.0);
    let read = app
        .gql(
            &format!("query($id: ID!) {{ filing(id: $id) {{ certificateNumber licence {{ {LICENCE} }} }} }}"),
            json!({ "id": id }),
            Some(&officer.token),
        )
        .await;
    read.data()["filing"].clone()
}

/// A merchant with an approved INSPECTION filing: the merchant, the officer, the licence.
pub async fn inspection_licence(app: &TestApp, email: &str) -> (Merchant, Staff, Value) {
    let merchant = app.merchant(email, "510100", Some("91510100MA6CGUR3KG")).await;
    let officer = app.staff(&format!("ciq-{email}"), "OFFICER", "INSPECTION", &["510100"]).await;
    let (_, filings) = app.submitted_case(&merchant, &["INSPECTION"]).await;
    let approved = approve(app, &officer, filing_of(&filings, "INSPECTION")).await;
    (merchant, officer, approved["licence"].clone())
}

/// `/c/{number}` as JSON.
pub async fn public_check(app: &TestApp, number: &str) -> Value {
    app.client
        .get(app.url(&format!("/c/{number}")))
        .header("accept", "application/json")
        .send()
        .await
        .expect("page")
        .json()
        .await
        .expect("json")
}

async fn an_approval_issues_a_licence_that_the_right_people_see(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let (merchant, officer, licence) = inspection_licence(&app, "lic@example.cn").await;
    let number = licence["number"].as_str().expect("number").to_string();
    assert!(number.starts_with("CIQ510100"), "{number}");
    assert_eq!(licence["kind"], "INSPECTION");
    assert_eq!(licence["agency"], "INSPECTION");
    assert_eq!(licence["status"], "ACTIVE");
    let three_years = china_today().checked_add_months(Months::new(36)).expect("date");
    assert_eq!(licence["validUntil"], three_years.format("%Y-%m-%d").to_string(), "inspection: 36 months by default");
    assert_eq!(licence["history"][0]["action"], "issued");
    assert_eq!(licence["history"][0]["note"], Value::Null);
    assert!(licence["history"][0]["filingId"].is_string());

    let find =
        "query($n: String!, $k: FilingKind!) { licence(number: $n, kind: $k) { number status merchant { name } } }";
    let ask = |token: Option<String>, kind: &'static str| {
        let app = &app;
        let number = number.clone();
        async move { app.gql(find, json!({ "n": number, "k": kind }), token.as_deref()).await }
    };
    assert_eq!(
        ask(Some(merchant.token.clone()), "INSPECTION").await.data()["licence"]["number"],
        number.as_str(),
        "the holder"
    );
    assert_eq!(
        ask(Some(officer.token.clone()), "INSPECTION").await.data()["licence"]["merchant"]["name"],
        "商户 lic@example.cn",
        "the issuing agency in the region"
    );
    assert_eq!(
        ask(Some(app.admin_token().await), "INSPECTION").await.data()["licence"]["status"],
        "ACTIVE",
        "an administrator"
    );
    let elsewhere = app.staff("ciq-yn@gov.cn", "OFFICER", "INSPECTION", &["530100"]).await;
    let customs = app.staff("customs@gov.cn", "SUPERVISOR", "CUSTOMS", &["510100"]).await;
    let stranger = app.merchant("other@example.cn", "510100", None).await;
    for token in [elsewhere.token, customs.token.clone(), stranger.token.clone()] {
        assert_eq!(ask(Some(token), "INSPECTION").await.error_code(), "NOT_FOUND");
    }
    assert_eq!(ask(Some(merchant.token.clone()), "TAX").await.error_code(), "NOT_FOUND", "the kind is part of the key");
    assert_eq!(ask(None, "INSPECTION").await.error_code(), "UNAUTHENTICATED");

    // Merchant.licences: the holder sees it; the customs supervisor reaching the merchant does not.
    let mine = app.gql("{ merchant { licences { number status } } }", json!({}), Some(&merchant.token)).await;
    assert_eq!(mine.data()["merchant"]["licences"], json!([{ "number": number, "status": "ACTIVE" }]));
    let theirs = app.gql("{ merchant { licences { number } } }", json!({}), Some(&stranger.token)).await;
    assert_eq!(theirs.data()["merchant"]["licences"], json!([]));

    // The public check: valid, dated history, nothing personal and no note.
    let public = public_check(&app, &number).await;
    assert_eq!(public["valid"], true);
    let entry = &public["certificates"][0];
    assert_eq!(entry["status"], "ACTIVE");
    assert_eq!(entry["valid_until"], three_years.format("%Y-%m-%d").to_string());
    assert_eq!(entry["history"][0]["action"], "issued");
    assert!(!public.to_string().contains("资料齐全"), "the officer's note stays inside: {public}");
    assert!(!public.to_string().contains("lic@example.cn"), "{public}");
}

async fn a_registration_and_a_tax_registration_share_the_uscc_as_their_number(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.licence_validity = onestop::config::LicenceValidity::parse("TAX=12").expect("validity");
    })
    .await
    else {
        return;
    };
    let merchant = app.merchant("newco@example.cn", "510100", None).await;
    let registrar = app.staff("amr@gov.cn", "OFFICER", "MARKET_REGULATION", &["510100"]).await;
    let tax = app.staff("tax@gov.cn", "OFFICER", "TAX", &["510100"]).await;
    let (_, filings) = app.submitted_case(&merchant, &["REGISTRATION", "TAX"]).await;
    let registration = approve(&app, &registrar, filing_of(&filings, "REGISTRATION")).await;
    let uscc = registration["certificateNumber"].as_str().expect("a USCC was issued").to_string();
    assert_eq!(registration["licence"]["number"], uscc.as_str());
    assert_eq!(registration["licence"]["kind"], "REGISTRATION");
    assert_eq!(registration["licence"]["validUntil"], Value::Null, "a business registration does not expire");
    let fresh = app.filing(&tax.token, filing_of(&filings, "TAX")["id"].as_str().expect("id")).await;
    let tax_filing = approve(&app, &tax, &fresh.data()["filing"]).await;
    assert_eq!(tax_filing["licence"]["number"], uscc.as_str(), "TAX carries the USCC");
    let a_year = china_today().checked_add_months(Months::new(12)).expect("date");
    assert_eq!(
        tax_filing["licence"]["validUntil"],
        a_year.format("%Y-%m-%d").to_string(),
        "validity is configured per kind"
    );

    let public = public_check(&app, &uscc).await;
    let kinds: Vec<&str> =
        public["certificates"].as_array().expect("list").iter().filter_map(|c| c["kind"].as_str()).collect();
    assert_eq!(kinds, ["REGISTRATION", "TAX"]);
    // The decision on TAX saw the registration licence among the merchant's facts.
    let facts = app.query_row("SELECT facts FROM decision_records WHERE kind = 'TAX'").await;
    let facts: Value = serde_json::from_str(&facts.try_get::<String>("", "facts").expect("facts")).expect("json");
    assert_eq!(
        facts["merchant"]["licences"],
        json!([{ "kind": "REGISTRATION", "status": "ACTIVE", "validUntil": null }])
    );
}

/// Emails about licences to `address`, by subject.
async fn licence_mails(app: &TestApp, address: &str) -> Vec<String> {
    app.smtp
        .to(address)
        .await
        .into_iter()
        .map(|m| m.subject())
        .filter(|s| s.contains("licence") || s.contains("expire"))
        .collect()
}

async fn the_sweeper_warns_and_expires_exactly_once_across_two_instances(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("expiry@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let officer = app.staff("ciq@gov.cn", "OFFICER", "INSPECTION", &["510100"]).await;
    let mut licences = Vec::new();
    for _ in 0..3 {
        let (_, filings) = app.submitted_case(&merchant, &["INSPECTION"]).await;
        licences.push(approve(&app, &officer, filing_of(&filings, "INSPECTION")).await["licence"].clone());
    }
    let today = china_today();
    let date = |days: i64| (today + chrono::Duration::days(days)).format("'%Y-%m-%d'").to_string();
    let id = |n: usize| licences[n]["id"].as_str().expect("id").to_string();
    app.update_row("licences", &format!("valid_until = {}", date(20)), &id(0)).await;
    app.update_row("licences", &format!("valid_until = {}", date(5)), &id(1)).await;
    app.update_row("licences", &format!("valid_until = {}", date(-1)), &id(2)).await;
    // A second holder in the same batch as the first one's 7-day notice: each gets its own.
    let other = app.merchant("expiry-other@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let (_, filings) = app.submitted_case(&other, &["INSPECTION"]).await;
    let other_licence = approve(&app, &officer, filing_of(&filings, "INSPECTION")).await["licence"].clone();
    app.update_row("licences", &format!("valid_until = {}", date(6)), other_licence["id"].as_str().expect("id")).await;

    // Two instances drain the queue at once, slot after slot; and their sweeps also run at
    // the same moment outside the queue (as two instances' slots may overlap): every notice
    // is sent once.
    let other = app.another_instance().await;
    for _ in 0..3 {
        for state in [&app.state, &other] {
            state.clock.advance(app.state.config.sweep_interval);
        }
        futures_util::future::join(app.run_pending_jobs(), run_pending_jobs_of(&other)).await;
        let (a, b) = futures_util::future::join(
            onestop::services::deadlines::sweep(&app.state),
            onestop::services::deadlines::sweep(&other),
        )
        .await;
        a.and(b).map_err(|e| e.detail()).expect("sweeps");
        app.run_pending_jobs().await;
    }
    let mut mails = licence_mails(&app, "expiry@example.cn").await;
    mails.sort();
    assert_eq!(mails.len(), 3, "{mails:?}");
    assert!(mails.iter().filter(|s| s.contains("within 30 days")).count() == 1, "{mails:?}");
    assert!(mails.iter().filter(|s| s.contains("within 7 days")).count() == 1, "{mails:?}");
    assert!(mails.iter().filter(|s| s.contains("expired")).count() == 1, "{mails:?}");
    assert_eq!(app.count_where("licence_events", "action = 'expired'").await, 1);
    let others = licence_mails(&app, "expiry-other@example.cn").await;
    assert!(others.len() == 1 && others[0].contains("within 7 days"), "{others:?}");

    let find = "query($n: String!) { licence(number: $n, kind: INSPECTION) { status history { action } } }";
    let expired = app.gql(find, json!({ "n": licences[2]["number"] }), Some(&merchant.token)).await;
    assert_eq!(expired.data()["licence"]["status"], "EXPIRED");
    assert_eq!(expired.data()["licence"]["history"], json!([{ "action": "issued" }, { "action": "expired" }]));
    let public = public_check(&app, licences[2]["number"].as_str().expect("number")).await;
    assert_eq!(public["valid"], false, "an expired licence does not look valid");
    assert_eq!(public["certificates"][0]["status"], "EXPIRED");
    let still = public_check(&app, licences[0]["number"].as_str().expect("number")).await;
    assert_eq!(still["valid"], true);
}
