//! How many SQL statements the hot paths cost (issue 15): each statement is two round trips to
//! the database, which were most of the server's time per request. The answers are checked
//! too, so a cheaper request that shows less or the wrong rows fails.

use serde_json::json;

use crate::{
    both_backends,
    fixtures::{filing_data, filing_of},
    helpers::{Backend, spawn_idle_app},
};

both_backends!(a_case_detail_costs_three_statements, a_draft_update_and_a_claim_cost_a_fixed_number_of_statements);

const DETAIL: &str = "query($id: ID!) { case(id: $id) { reference status merchant { name uscc } \
    filings { id kind status version assignee { email } } events { action filingId hash } comments { body filingId } } }";

/// The case with its merchant, filings and their assignees (one statement), its events (one)
/// and its comments (one) — and on SQLite, where scopes are not kept, the caller's scope.
async fn a_case_detail_costs_three_statements(backend: Backend) {
    let Some(app) = spawn_idle_app(backend).await else { return };
    let merchant = app.merchant("detail@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let customs = app.staff("detail-customs@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;
    let (case_id, filings) = app.submitted_case(&merchant, &["CUSTOMS", "TAX"]).await;
    let (customs_filing, tax_filing) = (filing_of(&filings, "CUSTOMS"), filing_of(&filings, "TAX"));
    let customs_id = customs_filing["id"].as_str().expect("id").to_string();
    let tax_id = tax_filing["id"].as_str().expect("id").to_string();
    app.decide(&customs.token, "claimFiling", &customs_id, customs_filing["version"].as_i64().expect("v"), None)
        .await
        .data();
    let comment = "mutation($c: ID!, $f: ID, $b: String!) { addComment(caseId: $c, filingId: $f, body: $b) { id } }";
    app.gql(comment, json!({ "c": case_id, "f": tax_id, "b": "税务 only for tax" }), Some(&merchant.token))
        .await
        .data();
    app.gql(comment, json!({ "c": case_id, "f": null, "b": "全部 for everyone" }), Some(&merchant.token)).await.data();

    let scope_statements = if backend == Backend::Postgres { 0 } else { 1 };
    // The customs officer: the customs filing only, with its assignee; no tax event or comment.
    let officer_cost =
        crate::helpers::fewest_statements(&app, DETAIL, json!({ "id": case_id }), &customs.token, |answer| {
            let case = &answer.data()["case"];
            assert_eq!(case["merchant"]["name"], "商户 detail@example.cn", "{case}");
            let shown = case["filings"].as_array().expect("filings");
            assert_eq!(shown.len(), 1, "{case}");
            assert_eq!(shown[0]["id"], customs_id.as_str());
            assert_eq!(shown[0]["status"], "UNDER_REVIEW");
            assert_eq!(shown[0]["assignee"]["email"], "detail-customs@gov.cn");
            let events = case["events"].as_array().expect("events");
            assert!(
                events.iter().any(|e| e["filingId"] == customs_id.as_str() && e["action"] == "filing.claimed"),
                "{events:?}"
            );
            assert!(events.iter().all(|e| e["filingId"] != tax_id.as_str()), "no tax event for customs: {events:?}");
            let comments: Vec<&str> = case["comments"]
                .as_array()
                .expect("comments")
                .iter()
                .map(|c| c["body"].as_str().expect("body"))
                .collect();
            assert_eq!(comments, ["全部 for everyone"]);
        })
        .await;
    assert_eq!(officer_cost, 3 + scope_statements, "case with merchant, filings and assignees; events; comments");

    // The merchant: both filings (the tax one unassigned), every event and comment.
    let merchant_cost =
        crate::helpers::fewest_statements(&app, DETAIL, json!({ "id": case_id }), &merchant.token, |answer| {
            let case = &answer.data()["case"];
            let shown = case["filings"].as_array().expect("filings");
            let kinds: Vec<&str> = shown.iter().map(|f| f["kind"].as_str().expect("kind")).collect();
            assert_eq!(kinds, ["CUSTOMS", "TAX"]);
            // Staff addresses reach a merchant masked (privacy), from the same joined row.
            assert_eq!(shown[0]["assignee"]["email"], "d***@gov.cn");
            assert!(shown[1]["assignee"].is_null());
            let events = case["events"].as_array().expect("events");
            assert!(events.iter().any(|e| e["filingId"] == tax_id.as_str()), "{events:?}");
            assert_eq!(case["comments"].as_array().expect("comments").len(), 2);
        })
        .await;
    // A merchant's scope is two statements where it is not kept (the account, its memberships).
    assert_eq!(merchant_cost, 3 + 2 * scope_statements);

    // Not the officer's region: NOT_FOUND, as before.
    let elsewhere = app.staff("detail-far@gov.cn", "OFFICER", "CUSTOMS", &["530100"]).await;
    assert_eq!(app.gql(DETAIL, json!({ "id": case_id }), Some(&elsewhere.token)).await.error_code(), "NOT_FOUND");
}

/// A change opens with two statements (the case row lock, then the case with its merchant,
/// filings and audit chain head), whatever it is; the counts here are the whole request.
async fn a_draft_update_and_a_claim_cost_a_fixed_number_of_statements(backend: Backend) {
    let Some(app) = spawn_idle_app(backend).await else { return };
    let merchant = app.merchant("writes@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let officer = app.staff("writes-customs@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;
    let created = app.create_case(&merchant.token, &["CUSTOMS"]).await;
    let draft = created.data()["createCase"]["filings"][0].clone();
    let id = draft["id"].as_str().expect("id").to_string();
    let statements = || app.state.sql_statements.load(std::sync::atomic::Ordering::SeqCst);

    let mut version = draft["version"].as_i64().expect("version");
    let mut update_costs = Vec::new();
    for _ in 0..3 {
        let before = statements();
        let updated = app.update_filing(&merchant.token, &id, version, filing_data("CUSTOMS")).await;
        update_costs.push(statements() - before);
        version = updated.data()["updateFiling"]["version"].as_i64().expect("version");
    }
    let update_cost = *update_costs.iter().min().expect("three");
    println!("updateFiling: {update_costs:?} statements");

    let (_, filings) = app.submitted_case(&merchant, &["CUSTOMS"]).await;
    let customs = filing_of(&filings, "CUSTOMS");
    // The officer has read the queue, as officers do before claiming: on PostgreSQL the scope is kept.
    app.gql("{ reviewQueue { nodes { id } } }", json!({}), Some(&officer.token)).await.data();
    let before = statements();
    let claimed = app
        .decide(
            &officer.token,
            "claimFiling",
            customs["id"].as_str().expect("id"),
            customs["version"].as_i64().expect("v"),
            None,
        )
        .await;
    let claim_cost = statements() - before;
    assert_eq!(claimed.data()["claimFiling"]["status"], "UNDER_REVIEW");
    println!("claimFiling: {claim_cost} statements");

    // The case-row lock, the case with its merchant, filings and chain head, the filing row,
    // its audit event, the webhook endpoints that may see it, and on PostgreSQL the live event's
    // NOTIFY (SQLite publishes after commit) — and a claim moves the filing, so the case status
    // is derived and written, and the answer shows the new assignee (one more). Where scopes are
    // not kept (SQLite), the caller's scope too (a merchant's: two). Before issue 15's third
    // session: 12 and 15 on PostgreSQL (`bench/load.sh`).
    let (update_expected, claim_expected) = if backend == Backend::Postgres { (6, 8) } else { (7, 8) };
    assert_eq!(update_cost, update_expected, "updateFiling: {update_costs:?}");
    assert_eq!(claim_cost, claim_expected, "claimFiling");
}
