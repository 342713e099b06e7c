//! Scopes kept between requests (PostgreSQL): a change of access reaches every instance at
//! once — made through the API on either instance, or by SQL behind the servers' backs.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    both_backends,
    helpers::{Backend, ServeProcess, TestApp, free_port, gql_at, spawn_app},
};

both_backends!(a_change_of_access_reaches_every_instance_at_once);

const READ: &str = "query($id: ID!) { case(id: $id) { reference } }";

/// Whether `token` reads the case on the server at `base`.
async fn reads(base: &str, token: &str, case_id: &str) -> bool {
    let answer = gql_at(base, Some(token), READ, json!({ "id": case_id })).await;
    match answer["errors"][0]["extensions"]["code"].as_str() {
        None => answer["data"]["case"]["reference"].is_string(),
        Some("NOT_FOUND") => false,
        Some(other) => panic!("unexpected answer {other}: {answer}"),
    }
}

/// The other instance learns of a change through NOTIFY: allowed a moment to arrive.
async fn soon(base: &str, token: &str, case_id: &str, expected: bool, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while reads(base, token, case_id).await != expected {
        assert!(tokio::time::Instant::now() < deadline, "{what}: still {} after 3 s on {base}", !expected);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Revokes or restores every share with a bare UPDATE, as a hand fix would.
async fn set_revoked(app: &TestApp, revoked: bool) {
    use sea_orm::{EntityTrait, sea_query::Expr};
    let at = revoked.then(chrono::Utc::now);
    entity::case_share::Entity::update_many()
        .col_expr(entity::case_share::Column::RevokedAt, Expr::value(at))
        .exec(&app.state.db)
        .await
        .expect("update case_shares");
}

async fn a_change_of_access_reaches_every_instance_at_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let data = tempfile::tempdir().expect("tempdir");
    let other = ServeProcess::start(&app, data.path(), free_port(), &[], std::process::Stdio::null()).ready().await;
    let (one, two) = (app.base_url.as_str(), other.base_url.as_str());
    let merchant = app.merchant("kept@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let (case_id, _) = app.submitted_case(&merchant, &["CUSTOMS"]).await;
    let customs = app.staff("kept-sup@gov.cn", "SUPERVISOR", "CUSTOMS", &["510100"]).await;
    let amr = app.staff("kept-amr@gov.cn", "OFFICER", "MARKET_REGULATION", &["510100"]).await;

    // Read twice on each instance: the market regulator's scope is kept there (PostgreSQL).
    for base in [one, two, one, two] {
        assert!(!reads(base, &amr.token, &case_id).await, "nothing shared yet");
    }
    // Shared through the API on instance one: there at once, on instance two as soon as the
    // notification arrives.
    let share =
        "mutation($c: ID!) { shareCase(caseId: $c, agency: MARKET_REGULATION, note: \"请协查 please look\") { id } }";
    let shared: Value = gql_at(one, Some(&customs.token), share, json!({ "c": case_id })).await;
    let share_id = shared["data"]["shareCase"]["id"].as_str().unwrap_or_else(|| panic!("{shared}")).to_string();
    assert!(reads(one, &amr.token, &case_id).await, "the instance that shared reads the share at once");
    soon(two, &amr.token, &case_id, true, "the share").await;

    // Revoked on instance two: gone there at once, and from instance one.
    let revoke = "mutation($id: ID!) { revokeCaseShare(id: $id) { revokedAt } }";
    let revoked = gql_at(two, Some(&customs.token), revoke, json!({ "id": share_id })).await;
    assert!(revoked["data"]["revokeCaseShare"]["revokedAt"].is_string(), "{revoked}");
    assert!(!reads(two, &amr.token, &case_id).await, "the instance that revoked refuses at once");
    soon(one, &amr.token, &case_id, false, "the revocation").await;

    // Changed by SQL, no mutation on any instance (a hand fix, another tool): both follow.
    set_revoked(&app, false).await;
    soon(one, &amr.token, &case_id, true, "the share restored by SQL").await;
    soon(two, &amr.token, &case_id, true, "the share restored by SQL").await;
    set_revoked(&app, true).await;
    soon(one, &amr.token, &case_id, false, "the share revoked by SQL").await;
    soon(two, &amr.token, &case_id, false, "the share revoked by SQL").await;
}
