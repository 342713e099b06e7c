//! Overload answers "retry shortly", never INTERNAL: a writer that cannot get SQLite's lock
//! within the busy timeout, and logins beyond the bounded password-hashing queue, answer
//! SERVICE_UNAVAILABLE with `Retry-After` — and lose nothing.

use std::time::Duration;

use sea_orm::{Database, TransactionTrait};
use serde_json::{Value, json};

use crate::{
    both_backends,
    helpers::{Backend, GOOD_PASSWORD, ServeProcess, free_port, spawn_app_with},
};

both_backends!(logins_beyond_the_hashing_queue_are_refused_at_once_not_queued);

const BATCH: &str = "mutation($i: ProductBatchInput!) { registerProductBatch(input: $i) { traceCode } }";
const PROFILE: &str = "mutation($i: MerchantProfileInput!) { saveMerchantProfile(input: $i) { name } }";

async fn post(app: &crate::helpers::TestApp, token: &str, query: &str, variables: Value) -> (Option<String>, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("post");
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
    (retry_after, response.json().await.expect("json"))
}

/// SQLite only: PostgreSQL writers queue on row locks rather than on one database lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_sqlite_lock_answers_service_unavailable_and_loses_nothing_sqlite() {
    let Some(app) = spawn_app_with(Backend::Sqlite, |c| c.sqlite_busy_timeout = Duration::from_millis(200)).await
    else {
        return;
    };
    let merchant = app.merchant("locked@example.cn", "510100", None).await;
    let batch = json!({ "i": { "productName": "花椒", "category": "FOOD", "originRegionCode": "510100", "batchNumber": "L-1", "productionDate": "2026-09-01", "quantity": 5 } });
    let profile = json!({ "i": { "name": "改名", "regionCode": "510100", "address": "成都", "contactEmail": "locked@example.cn", "contactPhone": "13800138000" } });

    // Another process holds the write lock (a backup, a long migration, an operator's shell).
    let other = Database::connect(&app.db.url).await.expect("second connection");
    let held = other
        .begin_with_options(sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await
        .expect("write lock");
    for (query, variables) in [(BATCH, &batch), (PROFILE, &profile)] {
        let (retry_after, answer) = post(&app, &merchant.token, query, variables.clone()).await;
        assert_eq!(answer["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE", "{answer}");
        assert_eq!(answer["errors"][0]["extensions"]["retryAfter"], 1);
        assert_eq!(retry_after.as_deref(), Some("1"), "Retry-After header");
    }
    held.rollback().await.expect("release");
    assert_eq!(app.count("product_batches").await, 0, "nothing half-written");
    // The retry the answer asked for goes through.
    let (_, answer) = post(&app, &merchant.token, BATCH, batch).await;
    assert!(answer["data"]["registerProductBatch"]["traceCode"].is_string(), "{answer}");
    let (_, answer) = post(&app, &merchant.token, PROFILE, profile).await;
    assert_eq!(answer["data"]["saveMerchantProfile"]["name"], "改名");
}

async fn logins_beyond_the_hashing_queue_are_refused_at_once_not_queued(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |_| {}).await else { return };
    app.verified_merchant("flood@example.cn").await;
    // A real server with one hashing thread and room for two waiting hashes.
    let data = tempfile::tempdir().expect("tempdir");
    let env = [
        ("ONESTOP_PASSWORD_HASH_CONCURRENCY", "1"),
        ("ONESTOP_PASSWORD_HASH_QUEUE", "2"),
        ("ONESTOP_LOGIN_PER_ACCOUNT_PER_MINUTE", "100000"),
        ("ONESTOP_LOGIN_PER_ADDRESS_PER_MINUTE", "100000"),
    ];
    let server = ServeProcess::start(&app, data.path(), free_port(), &env, std::process::Stdio::null()).ready().await;
    let client = reqwest::Client::new();
    let attempts = (0..40).map(|i| {
        let client = client.clone();
        let url = format!("{}/graphql", server.base_url);
        let password = if i % 2 == 0 { GOOD_PASSWORD.to_string() } else { format!("wrong-{i}") };
        // Unknown addresses are verified against the server's own hash at its full cost (the
        // test process hashed the account's password cheaply): they fill the queue.
        let email = if i % 2 == 0 { "flood@example.cn".to_string() } else { format!("nobody-{i}@example.cn") };
        async move {
            let body = json!({ "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }", "variables": { "e": email, "p": password } });
            let response = client.post(url).json(&body).send().await.expect("the server answers");
            let status = response.status().as_u16();
            let retry_after = response.headers().get("retry-after").is_some();
            let answer: Value = response.json().await.expect("json");
            (status, retry_after, answer["errors"][0]["extensions"]["code"].as_str().map(str::to_string))
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let refused: Vec<_> =
        answers.iter().filter(|(_, _, code)| code.as_deref() == Some("SERVICE_UNAVAILABLE")).collect();
    assert!(!refused.is_empty(), "a full queue refuses: {answers:?}");
    assert!(refused.iter().all(|(_, retry_after, _)| *retry_after), "with Retry-After");
    assert!(answers.iter().all(|(status, _, _)| *status < 500), "no 5xx: {answers:?}");
    assert!(answers.iter().all(|(_, _, code)| code.as_deref() != Some("INTERNAL")), "no INTERNAL: {answers:?}");
    // Those within the bound got a real answer (a session, or a wrong password's refusal).
    let answered = answers.iter().filter(|(_, _, code)| code.as_deref() != Some("SERVICE_UNAVAILABLE")).count();
    assert!(answered >= 1, "logins within the bound are answered: {answers:?}");
    // Once the flood is over, logins work again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = crate::helpers::gql_at(
        &server.base_url,
        None,
        "mutation { login(email: \"flood@example.cn\", password: \"Ziggurat-Peppercorn-47-Lantern\") { accessToken } }",
        json!({}),
    )
    .await;
    assert!(after["data"]["login"]["accessToken"].is_string(), "{after}");
}
