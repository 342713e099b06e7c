//! Joint supervision (大部门联动): a customs supervisor shares a case read-only with market
//! regulation in one region — its staff then read every filing (personal numbers masked), its
//! events and comments, and act on nothing — and revokes it; a merchant reaching risk level 3
//! has its open cases shared with market regulation by the portal.

use serde_json::{Value, json};

use crate::{
    both_backends,
    fixtures::filing_of,
    helpers::{Backend, TestApp, spawn_app},
};

both_backends!(a_supervisor_shares_a_case_read_only_and_revokes_it);
both_backends!(a_merchant_at_risk_level_3_is_shared_with_market_regulation_by_the_portal);

const SHARE: &str = "mutation($c: ID!, $a: Agency!, $r: String, $n: String!) { shareCase(caseId: $c, agency: $a, regionCode: $r, note: $n) {
    id agency regionCode note revokedAt sharedBy { displayName } case { id } } }";
const READ: &str = "query($id: ID!) { case(id: $id) { filings { kind data { ... on TaxData { bankAccount } } } events { action actor { displayName } note } comments { body } shares { agency revokedAt } } }";

fn share(case: &str, agency: &str, region: Option<&str>) -> Value {
    json!({ "c": case, "a": agency, "r": region, "n": "疑似虚假贸易，请协查 suspected sham trade: please look" })
}

async fn wait_for_subject(app: &TestApp, to: &str, words: &str) {
    let mails = app.mail_for(to, 1).await;
    assert!(mails.iter().any(|m| m.subject().contains(words)), "no mail '{words}' to {to}");
}

async fn a_supervisor_shares_a_case_read_only_and_revokes_it(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("shared@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let (case_id, filings) = app.submitted_case(&merchant, &["CUSTOMS", "TAX"]).await;
    let customs = app.staff("customs-sup@gov.cn", "SUPERVISOR", "CUSTOMS", &["510100"]).await;
    let customs_officer = app.staff("customs@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;
    let amr = app.staff("amr@gov.cn", "OFFICER", "MARKET_REGULATION", &["510100"]).await;
    let amr_sup = app.staff("amr-sup@gov.cn", "SUPERVISOR", "MARKET_REGULATION", &["510100"]).await;
    let amr_far = app.staff("amr-km@gov.cn", "OFFICER", "MARKET_REGULATION", &["530100"]).await;
    let inspection_sup = app.staff("ciq-sup@gov.cn", "SUPERVISOR", "INSPECTION", &["510100"]).await;
    assert_eq!(
        app.gql(READ, json!({ "id": case_id }), Some(&amr.token)).await.error_code(),
        "NOT_FOUND",
        "before the share"
    );

    // Who may share, and how.
    assert_eq!(
        app.gql(SHARE, share(&case_id, "MARKET_REGULATION", Some("510100")), Some(&customs_officer.token))
            .await
            .error_code(),
        "FORBIDDEN"
    );
    assert_eq!(app.gql(SHARE, share(&case_id, "CUSTOMS", None), Some(&customs.token)).await.error_fields(), ["agency"]);
    assert_eq!(
        app.gql(SHARE, share(&case_id, "MARKET_REGULATION", None), Some(&inspection_sup.token)).await.error_code(),
        "NOT_FOUND"
    );
    assert_eq!(
        app.gql(SHARE, share(&case_id, "MARKET_REGULATION", None), Some(&merchant.token)).await.error_code(),
        "FORBIDDEN"
    );
    let shared = app.gql(SHARE, share(&case_id, "MARKET_REGULATION", Some("510100")), Some(&customs.token)).await;
    let shared = shared.data()["shareCase"].clone();
    assert_eq!((shared["agency"].as_str(), shared["regionCode"].as_str()), (Some("MARKET_REGULATION"), Some("510100")));
    assert_eq!(shared["sharedBy"]["displayName"], "Staff customs-sup");
    assert_eq!(
        app.gql(SHARE, share(&case_id, "MARKET_REGULATION", Some("510100")), Some(&customs.token)).await.error_code(),
        "CONFLICT"
    );
    wait_for_subject(&app, "amr-sup@gov.cn", "joint supervision").await;

    // The receiving staff read the whole case, personal numbers masked …
    let read = app.gql(READ, json!({ "id": case_id }), Some(&amr.token)).await;
    let case = read.data()["case"].clone();
    let kinds: Vec<&str> =
        case["filings"].as_array().expect("filings").iter().filter_map(|f| f["kind"].as_str()).collect();
    assert_eq!(kinds, ["CUSTOMS", "TAX"], "every filing");
    let tax = case["filings"].as_array().expect("filings").iter().find(|f| f["kind"] == "TAX").expect("tax").clone();
    assert!(tax["data"]["bankAccount"].as_str().expect("account").contains('*'), "masked: {tax}");
    assert!(
        case["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["action"] == "case.shared" && e["actor"]["displayName"] == "Staff customs-sup")
    );
    assert_eq!(case["shares"][0]["agency"], "MARKET_REGULATION");
    let mine = app.gql("{ sharedWithMe { case { id } note } }", json!({}), Some(&amr.token)).await;
    assert_eq!(mine.data()["sharedWithMe"][0]["case"]["id"], case_id.as_str());
    assert_eq!(
        app.gql(READ, json!({ "id": case_id }), Some(&amr_far.token)).await.error_code(),
        "NOT_FOUND",
        "another region"
    );
    assert_eq!(
        app.gql("{ sharedWithMe { id } }", json!({}), Some(&amr_far.token)).await.data()["sharedWithMe"],
        json!([])
    );
    assert_eq!(
        app.gql("query($id: ID!) { case(id: $id) { shares { id } } }", json!({ "id": case_id }), Some(&merchant.token))
            .await
            .data()["case"]["shares"],
        json!([])
    );

    // … and act on nothing.
    let customs_filing = filing_of(&filings, "CUSTOMS");
    let claim = app
        .decide(
            &amr.token,
            "claimFiling",
            customs_filing["id"].as_str().expect("id"),
            customs_filing["version"].as_i64().expect("v"),
            None,
        )
        .await;
    assert_eq!(claim.error_code(), "FORBIDDEN");
    let comment = "mutation($c: ID!) { addComment(caseId: $c, body: \"看过 seen\") { id } }";
    assert_eq!(app.gql(comment, json!({ "c": case_id }), Some(&amr.token)).await.error_code(), "FORBIDDEN");
    let queue = app.gql("{ reviewQueue(first: 50) { nodes { id } } }", json!({}), Some(&amr.token)).await;
    assert!(!queue.0.to_string().contains(customs_filing["id"].as_str().expect("id")), "not in the receiving queue");

    // Revoked by the sharing agency only; access ends at once.
    let revoke = "mutation($id: ID!) { revokeCaseShare(id: $id) { revokedAt } }";
    assert_eq!(app.gql(revoke, json!({ "id": shared["id"] }), Some(&amr_sup.token)).await.error_code(), "FORBIDDEN");
    assert!(app.gql(revoke, json!({ "id": shared["id"] }), Some(&customs.token)).await.data()["revokeCaseShare"]["revokedAt"].is_string());
    assert_eq!(
        app.gql(READ, json!({ "id": case_id }), Some(&amr.token)).await.error_code(),
        "NOT_FOUND",
        "after the revocation"
    );
    let trail = app.gql(READ, json!({ "id": case_id }), Some(&customs.token)).await;
    let actions: Vec<&str> = trail.data()["case"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"case.shared") && actions.contains(&"case.share_revoked"), "{actions:?}");
}

async fn a_merchant_at_risk_level_3_is_shared_with_market_regulation_by_the_portal(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("risky@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let merchant_id = app.gql("{ merchant { id } }", json!({}), Some(&merchant.token)).await.data()["merchant"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let (case_id, _) = app.submitted_case(&merchant, &["CUSTOMS"]).await;
    let amr_sup = app.staff("amr-sup@gov.cn", "SUPERVISOR", "MARKET_REGULATION", &["510100"]).await;
    let inspector = app.staff("ciq@gov.cn", "OFFICER", "INSPECTION", &["510100"]).await;
    let record = "mutation($i: SpotCheckInput!) { recordSpotCheck(input: $i) { merchant { riskLevel } } }";
    let fail = json!({ "i": { "merchantId": merchant_id, "channel": "ONLINE", "category": "AGRICULTURAL", "regionCode": "510100", "result": "FAIL", "findings": "农药残留超标" } });
    for level in 1..=3 {
        assert_eq!(
            app.gql(record, fail.clone(), Some(&inspector.token)).await.data()["recordSpotCheck"]["merchant"]["riskLevel"],
            level
        );
        let shares = app.count("case_shares").await;
        assert_eq!(shares, i64::from(level == 3), "shared at level 3, not before");
    }
    app.gql(record, fail, Some(&inspector.token)).await.data();
    assert_eq!(app.count("case_shares").await, 1, "once, not again at every failure");
    let mine = app
        .gql("{ sharedWithMe { case { id } sharedBy { id } agency regionCode } }", json!({}), Some(&amr_sup.token))
        .await;
    assert_eq!(
        mine.data()["sharedWithMe"],
        json!([{ "case": { "id": case_id }, "sharedBy": null, "agency": "MARKET_REGULATION", "regionCode": "510100" }])
    );
    let trail = app
        .gql(
            "query($id: ID!) { case(id: $id) { events { action actor { id } } } }",
            json!({ "id": case_id }),
            Some(&amr_sup.token),
        )
        .await;
    assert!(
        trail.data()["case"]["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["action"] == "case.shared" && e["actor"].is_null())
    );
    wait_for_subject(&app, "amr-sup@gov.cn", "joint supervision").await;
}
