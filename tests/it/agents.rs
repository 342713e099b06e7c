//! Agents: a customs broker registers, the merchant's OWNER grants it CUSTOMS until a date, and
//! it files the customs part of the merchant's cases and nothing else — sees only those
//! filings, their events, comments and documents, of the merchant only its name, USCC, region
//! and address — until the grant is revoked or expires, when its requests and its live socket
//! lose access at once.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    both_backends,
    fixtures::{Merchant, filing_data, filing_of},
    helpers::{Backend, GOOD_PASSWORD, TestApp, spawn_app},
    licences::{approve, china_today},
    live::subscribe_at,
};

both_backends!(a_broker_files_the_customs_part_and_nothing_else);
both_backends!(a_grant_revoked_on_one_instance_closes_the_brokers_socket_on_another);

const REGISTER: &str =
    "mutation($e: String!, $u: String!) { registerAgent(email: $e, password: \"Ziggurat-Peppercorn-47-Lantern\",
    displayName: \"王经纪\", organisation: \"成都蓉欧报关有限公司\", uscc: $u) { id email } }";
const GRANT: &str = "mutation($e: String!, $k: [FilingKind!]!, $d: Date!) { grantAgentAuthorization(agentEmail: $e, kinds: $k, validUntil: $d) {
    id kinds validUntil revokedAt agent { email } merchant { name } } }";
const REVOKE: &str = "mutation($id: ID!) { revokeAgentAuthorization(id: $id) { id revokedAt } }";
/// The broker organisation's USCC (valid, of its own).
fn broker_uscc() -> String {
    use onestop::domain::{certificates::uscc_from, filing_data::CompanyType};
    uscc_from(CompanyType::LimitedLiability, "510100", "32000001").expect("valid")
}

fn in_days(days: i64) -> String {
    (china_today() + chrono::Duration::days(days)).format("%Y-%m-%d").to_string()
}

/// A registered, verified agent, logged in.
pub async fn broker(app: &TestApp, email: &str) -> String {
    let registered = app.gql(REGISTER, json!({ "e": email, "u": broker_uscc() }), None).await;
    assert_eq!(registered.data()["registerAgent"]["email"], email);
    let mail = app.mail_for(email, 1).await.remove(0);
    let verified =
        app.gql("mutation($t: String!) { verifyEmail(token: $t) }", json!({ "t": mail.link_token() }), None).await;
    assert_eq!(verified.data()["verifyEmail"], true);
    app.login(email, GOOD_PASSWORD).await.data()["login"]["accessToken"].as_str().expect("token").to_string()
}

/// The owner's grant to `email` for `kinds`: its id.
pub async fn grant(app: &TestApp, owner: &Merchant, email: &str, kinds: &[&str], until: &str) -> String {
    let granted = app.gql(GRANT, json!({ "e": email, "k": kinds, "d": until }), Some(&owner.token)).await;
    granted.data()["grantAgentAuthorization"]["id"].as_str().expect("grant").to_string()
}

async fn a_broker_files_the_customs_part_and_nothing_else(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let owner = app.merchant("coop@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let merchant_id = app.gql("{ merchant { id } }", json!({}), Some(&owner.token)).await.data()["merchant"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let token = broker(&app, "broker@example.cn").await;
    // Registering like merchants: a known address gets the same answer and no second account.
    let again = app.gql(REGISTER, json!({ "e": "broker@example.cn", "u": broker_uscc() }), None).await;
    assert_eq!(again.data()["registerAgent"]["email"], "broker@example.cn");
    assert_eq!(app.count_where("users", "email = 'broker@example.cn'").await, 1);
    assert_eq!(
        app.gql(REGISTER, json!({ "e": "b2@example.cn", "u": "91510100MA6123456X" }), None).await.error_fields(),
        ["uscc"]
    );

    // The grant: only to a registered agent, not in the past.
    assert_eq!(
        app.gql(GRANT, json!({ "e": "nobody@example.cn", "k": ["CUSTOMS"], "d": in_days(30) }), Some(&owner.token))
            .await
            .error_fields(),
        ["agentEmail"]
    );
    assert_eq!(
        app.gql(GRANT, json!({ "e": "broker@example.cn", "k": ["CUSTOMS"], "d": in_days(-1) }), Some(&owner.token))
            .await
            .error_fields(),
        ["validUntil"]
    );
    assert_eq!(
        app.gql(GRANT, json!({ "e": "broker@example.cn", "k": ["CUSTOMS"], "d": in_days(30) }), Some(&token))
            .await
            .error_code(),
        "FORBIDDEN"
    );
    let grant_id = grant(&app, &owner, "broker@example.cn", &["CUSTOMS"], &in_days(30)).await;
    let clients = app
        .gql(
            "{ agentClients { kinds validUntil merchant { id name uscc regionCode address } } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(clients.data()["agentClients"][0]["kinds"], json!(["CUSTOMS"]));
    assert_eq!(clients.data()["agentClients"][0]["merchant"]["uscc"], "91510100MA6CGUR3KG");
    let contact = app.gql("{ agentClients { merchant { contactEmail } } }", json!({}), Some(&token)).await;
    assert_eq!(contact.error_code(), "FORBIDDEN", "no contact data of the client");
    let members = app
        .gql("{ agentClients { merchant { members { role } authorizations { id } } } }", json!({}), Some(&token))
        .await;
    assert_eq!(members.data()["agentClients"][0]["merchant"], json!({ "members": [], "authorizations": [] }));

    // Cases for the client: granted kinds only, and only with the client named.
    let create = "mutation($k: [FilingKind!]!, $m: ID) { createCase(kinds: $k, merchantId: $m) { id filings { id kind version } } }";
    assert_eq!(app.gql(create, json!({ "k": ["CUSTOMS"] }), Some(&token)).await.error_fields(), ["merchantId"]);
    let refused = app.gql(create, json!({ "k": ["CUSTOMS", "INSPECTION"], "m": merchant_id }), Some(&token)).await;
    assert_eq!(refused.error_code(), "FORBIDDEN");
    assert!(refused.error_message().contains("INSPECTION"), "{}", refused.error_message());
    let stranger = app.merchant("stranger@example.cn", "510100", None).await;
    let stranger_id =
        app.gql("{ merchant { id } }", json!({}), Some(&stranger.token)).await.data()["merchant"]["id"].clone();
    assert_eq!(
        app.gql(create, json!({ "k": ["CUSTOMS"], "m": stranger_id }), Some(&token)).await.error_code(),
        "NOT_FOUND"
    );

    let created = app.gql(create, json!({ "k": ["CUSTOMS"], "m": merchant_id }), Some(&token)).await;
    let case_id = created.data()["createCase"]["id"].as_str().expect("case").to_string();
    let customs = created.data()["createCase"]["filings"][0].clone();
    app.update_filing(&token, customs["id"].as_str().expect("id"), 1, filing_data("CUSTOMS")).await.data();
    assert_eq!(app.submit_case(&token, &case_id).await.data()["submitCase"]["status"], "IN_REVIEW");
    let events = app
        .gql(
            "query($id: ID!) { case(id: $id) { events { action actor { email } onBehalfOfMerchantId } } }",
            json!({ "id": case_id }),
            Some(&owner.token),
        )
        .await;
    let submitted: Vec<Value> = events.data()["case"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["action"] == "filing.submitted")
        .cloned()
        .collect();
    assert_eq!(submitted[0]["actor"]["email"], "broker@example.cn");
    assert_eq!(submitted[0]["onBehalfOfMerchantId"], merchant_id.as_str());
    let told = app.mail_for("coop@example.cn", 1).await;
    assert!(told.iter().any(|m| m.subject().contains("An agent submitted")), "the owner was not told");

    // The owner's mixed case: the broker sees and files its CUSTOMS filing only.
    let (mixed, filings) = {
        let made = app.create_case(&owner.token, &["CUSTOMS", "INSPECTION"]).await;
        let case = made.data()["createCase"].clone();
        (case["id"].as_str().expect("id").to_string(), case["filings"].as_array().expect("f").clone())
    };
    let inspection = filing_of(&filings, "INSPECTION")["id"].as_str().expect("id").to_string();
    app.gql("mutation($c: ID!, $f: ID) { addComment(caseId: $c, filingId: $f, body: \"检验材料 inspection papers\") { id } }", json!({ "c": mixed, "f": inspection }), Some(&owner.token)).await.data();
    let seen = app
        .gql(
            "query($id: ID!) { case(id: $id) { filings { kind } comments { body } events { filingId } } }",
            json!({ "id": mixed }),
            Some(&token),
        )
        .await;
    assert_eq!(seen.data()["case"]["filings"], json!([{ "kind": "CUSTOMS" }]));
    assert_eq!(seen.data()["case"]["comments"], json!([]), "the inspection comment is not its business");
    assert!(!seen.0.to_string().contains(&inspection), "nothing of the INSPECTION filing: {}", seen.0);
    assert_eq!(app.update_filing(&token, &inspection, 1, filing_data("INSPECTION")).await.error_code(), "NOT_FOUND");
    let customs_mixed = filing_of(&filings, "CUSTOMS")["id"].as_str().expect("id").to_string();
    assert!(
        app.update_filing(&token, &customs_mixed, 1, filing_data("CUSTOMS")).await.data()["updateFiling"]["id"]
            .is_string()
    );
    assert_eq!(app.submit_case(&token, &mixed).await.error_code(), "FORBIDDEN", "not every filing is within the grant");
    assert_eq!(
        app.gql(
            "mutation($c: ID!) { addComment(caseId: $c, body: \"x\") { id } }",
            json!({ "c": mixed }),
            Some(&token)
        )
        .await
        .error_code(),
        "FORBIDDEN"
    );

    // The approval issues the client's licence; the broker reads it and may file its change.
    let officer = app.staff("customs@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;
    let fresh = app.filing(&officer.token, customs["id"].as_str().expect("id")).await;
    let licence = approve(&app, &officer, &fresh.data()["filing"]).await["licence"].clone();
    let find = "query($n: String!) { licence(number: $n, kind: CUSTOMS) { id status } }";
    assert_eq!(
        app.gql(find, json!({ "n": licence["number"] }), Some(&token)).await.data()["licence"]["status"],
        "ACTIVE"
    );
    let change = "mutation($ids: [ID!]!, $m: ID) { createChangeCase(licenceIds: $ids, type: CANCELLATION, merchantId: $m) { id type } }";
    let opened = app.gql(change, json!({ "ids": [licence["id"]], "m": merchant_id }), Some(&token)).await;
    let change_id = opened.data()["createChangeCase"]["id"].as_str().expect("case").to_string();
    assert_eq!(
        app.gql("mutation($id: ID!) { withdrawCase(id: $id) { status } }", json!({ "id": change_id }), Some(&token))
            .await
            .data()["withdrawCase"]["status"],
        "WITHDRAWN"
    );

    // Revoked: nothing of the client any more.
    let revoked = app.gql(REVOKE, json!({ "id": grant_id }), Some(&owner.token)).await;
    assert!(revoked.data()["revokeAgentAuthorization"]["revokedAt"].is_string());
    assert_eq!(
        app.gql("query($id: ID!) { case(id: $id) { id } }", json!({ "id": case_id }), Some(&token)).await.error_code(),
        "NOT_FOUND"
    );
    assert_eq!(app.gql("{ agentClients { id } }", json!({}), Some(&token)).await.data()["agentClients"], json!([]));
    assert_eq!(
        app.gql(create, json!({ "k": ["CUSTOMS"], "m": merchant_id }), Some(&token)).await.error_code(),
        "NOT_FOUND"
    );
    assert_eq!(app.gql(find, json!({ "n": licence["number"] }), Some(&token)).await.error_code(), "NOT_FOUND");
    let history =
        app.gql("{ merchant { authorizations { revokedAt agent { email } } } }", json!({}), Some(&owner.token)).await;
    assert!(history.data()["merchant"]["authorizations"][0]["revokedAt"].is_string());
}

async fn a_grant_revoked_on_one_instance_closes_the_brokers_socket_on_another(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let owner = app.merchant("live-coop@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let token = broker(&app, "live-broker@example.cn").await;
    let grant_id = grant(&app, &owner, "live-broker@example.cn", &["CUSTOMS"], &in_days(10)).await;
    // The socket is on a second instance; the revocation is made on the first.
    let data = tempfile::tempdir().expect("tempdir");
    let other = crate::helpers::ServeProcess::start(
        &app,
        data.path(),
        crate::helpers::free_port(),
        &[],
        std::process::Stdio::null(),
    )
    .ready()
    .await;
    let mut socket =
        subscribe_at(&other.base_url, &token, "subscription { filingEvents { action filing { kind } } }").await;
    // Served over the socket while granted …
    let query = json!({ "id": "q1", "type": "subscribe", "payload": { "query": "{ agentClients { kinds } }" } });
    futures_util::SinkExt::send(&mut socket, tokio_tungstenite::tungstenite::Message::Text(query.to_string().into()))
        .await
        .expect("send");
    let first = crate::live::next_json(&mut socket, Duration::from_secs(5)).await.expect("an answer while granted");
    assert_eq!(first["payload"]["data"]["agentClients"][0]["kinds"], json!(["CUSTOMS"]), "{first}");
    // … until the owner revokes on the first instance.
    app.gql(REVOKE, json!({ "id": grant_id }), Some(&owner.token)).await.data();
    app.submitted_case(&owner, &["CUSTOMS"]).await;
    // An event reaches the other instance through NOTIFY on PostgreSQL; on SQLite the next
    // operation over the socket finds the grant gone.
    let again = json!({ "id": "2", "type": "subscribe", "payload": { "query": "{ cases { nodes { id } } }" } });
    let _ = futures_util::SinkExt::send(
        &mut socket,
        tokio_tungstenite::tungstenite::Message::Text(again.to_string().into()),
    )
    .await;
    let (closed, events) = crate::live_access::until_closed(&mut socket, Duration::from_secs(5)).await;
    assert_eq!(closed.map(|c| c.0), Some(4403), "closed once the grant is revoked");
    let leaked: Vec<&Value> = events.iter().filter(|e| !e["data"].is_null()).collect();
    assert!(leaked.is_empty(), "nothing after the revocation: {leaked:?}");
}
