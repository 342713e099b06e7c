//! Webhooks against a real HTTP receiver started by the test: signed, ordered, retried, and
//! disabled (with an email to the owner) when the receiver keeps failing.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicU16, Ordering},
};
use std::time::Duration;

use poem::{
    EndpointExt, Request, Route, Server, handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    post,
    web::Data,
};
use serde_json::{Value, json};

use crate::{
    both_backends,
    fixtures::filing_of,
    helpers::{Backend, TestApp, spawn_app},
};

both_backends!(webhooks_are_signed_ordered_retried_and_disabled);
both_backends!(deliveries_staged_before_they_were_jobs_are_sent_once);

/// A webhook receiver: records what it accepts (status 200); answers `status` otherwise, with
/// `Location: redirect` for a 3xx.
#[derive(Clone)]
pub struct Receiver {
    pub got: Arc<Mutex<Vec<(String, String, String)>>>,
    pub status: Arc<AtomicU16>,
    pub redirect: Arc<Mutex<Option<String>>>,
    /// Every request, accepted or not.
    pub hits: Arc<std::sync::atomic::AtomicUsize>,
}

impl Receiver {
    pub fn accepted(&self) -> usize {
        self.got.lock().map(|g| g.len()).unwrap_or(0)
    }
}

#[handler]
async fn hook(req: &Request, body: String, receiver: Data<&Receiver>) -> poem::Response {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    receiver.hits.fetch_add(1, Ordering::SeqCst);
    let status = receiver.status.load(Ordering::SeqCst);
    if status == 200
        && let Ok(mut got) = receiver.got.lock()
    {
        got.push((header("x-onestop-event-id"), header("x-onestop-signature"), body));
    }
    let mut response = poem::Response::builder().status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
    if let Some(location) = receiver.redirect.lock().ok().and_then(|l| l.clone()) {
        response = response.header("location", location);
    }
    response.finish()
}

/// A receiver on 127.0.0.1: its URL and handle.
pub async fn start_receiver() -> (String, Receiver) {
    let receiver = Receiver {
        got: Default::default(),
        status: Arc::new(AtomicU16::new(200)),
        redirect: Default::default(),
        hits: Default::default(),
    };
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.expect("bind receiver");
    let addr = acceptor.local_addr()[0].as_socket_addr().copied().expect("addr");
    let app = Route::new().at("/hook", post(hook)).data(receiver.clone());
    tokio::spawn(async move {
        let _ = Server::new_with_acceptor(acceptor).run(app).await;
    });
    (format!("http://{addr}/hook"), receiver)
}

/// Drains the queue (the deliveries due now go out), then `check` must hold.
pub async fn delivered(app: &TestApp, what: &str, check: impl FnOnce() -> bool) {
    app.run_pending_jobs().await;
    assert!(check(), "not delivered: {what}");
}

pub async fn client_token(app: &TestApp, merchant_token: &str) -> String {
    let created = app
        .gql(
            "mutation { createApiClient(name: \"erp\", scopes: [\"cases:read\"]) { clientId clientSecret } }",
            json!({}),
            Some(merchant_token),
        )
        .await;
    let c = &created.data()["createApiClient"];
    let response = app
        .client
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", c["clientId"].as_str().expect("id")),
            ("client_secret", c["clientSecret"].as_str().expect("secret")),
        ])
        .send()
        .await
        .expect("token");
    let body: Value = response.json().await.expect("json");
    body["access_token"].as_str().expect("token").to_string()
}

async fn webhooks_are_signed_ordered_retried_and_disabled(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let (url, receiver) = start_receiver().await;
    let merchant = app.merchant("hooks@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let officer = app.staff("hooks-officer@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;
    let token = client_token(&app, &merchant.token).await;

    let register = "mutation($u: String!, $t: [String!]) { registerWebhook(url: $u, eventTypes: $t) { secret endpoint { id url eventTypes } } }";
    assert_eq!(
        app.gql(register, json!({ "u": url }), Some(&merchant.token)).await.error_code(),
        "FORBIDDEN",
        "users register through a client"
    );
    assert_eq!(app.gql(register, json!({ "u": "ftp://example.cn/x" }), Some(&token)).await.error_fields(), vec!["url"]);
    let registered =
        app.gql(register, json!({ "u": url, "t": ["filing.submitted", "filing.claimed"] }), Some(&token)).await;
    let secret = registered.data()["registerWebhook"]["secret"].as_str().expect("secret").to_string();
    let endpoint_id = registered.data()["registerWebhook"]["endpoint"]["id"].as_str().expect("id").to_string();

    // Submission: delivered, signed, with the event id.
    let (_, filings) = app.submitted_case(&merchant, &["CUSTOMS"]).await;
    delivered(&app, "the submission event", || receiver.got.lock().map(|g| !g.is_empty()).unwrap_or(false)).await;
    let (event_id, signature, body) = receiver.got.lock().expect("lock")[0].clone();
    let payload: Value = serde_json::from_str(&body).expect("json body");
    assert_eq!(payload["type"], "filing.submitted");
    assert_eq!(payload["id"], event_id.as_str(), "the header names the event");
    let timestamp: i64 =
        signature.split(',').next().and_then(|t| t.strip_prefix("t=")).and_then(|t| t.parse().ok()).expect("t=");
    assert_eq!(
        signature,
        onestop::services::webhooks::signature(&secret, timestamp, &body),
        "HMAC-SHA256 over timestamp and body"
    );

    // The signing secret is sealed at rest; a row left in clear by an older version is read as
    // it is and sealed at start-up.
    let stored = || async {
        app.query_row("SELECT secret FROM webhook_endpoints").await.try_get::<String>("", "secret").expect("secret")
    };
    let sealed = stored().await;
    assert!(sealed.starts_with("v1:") && !sealed.contains(&secret), "sealed: {sealed}");
    assert_eq!(app.state.config.data_key.open(&sealed).expect("opens"), secret);
    assert!(onestop::platform::sealed::DataKey::random().open(&sealed).is_err(), "another key does not open it");
    {
        use sea_orm::ConnectionTrait;
        app.state
            .db
            .execute_unprepared(&format!("UPDATE webhook_endpoints SET secret = '{secret}'"))
            .await
            .expect("legacy row");
    }
    assert_eq!(
        onestop::services::webhooks::seal_legacy_secrets(&app.state).await.map_err(|e| e.detail()).expect("seal"),
        1
    );
    let resealed = stored().await;
    assert!(resealed.starts_with("v1:"));
    assert_eq!(app.state.config.data_key.open(&resealed).expect("opens"), secret);

    // The receiver fails for a while: the claim is retried until it gets through.
    receiver.status.store(500, Ordering::SeqCst);
    let filing = filing_of(&filings, "CUSTOMS");
    app.decide(
        &officer.token,
        "claimFiling",
        filing["id"].as_str().expect("id"),
        filing["version"].as_i64().expect("v"),
        None,
    )
    .await
    .data();
    let log = "query($e: ID!) { webhookDeliveries(endpointId: $e) { id eventType status attempts lastStatus } }";
    // The first attempt now, the second after its backoff (the clock moves ahead).
    app.run_pending_jobs().await;
    assert_eq!(app.run_pending_jobs().await, 0, "the retry waits for its backoff");
    app.later(Duration::from_secs(1)).await;
    let deliveries = app.gql(log, json!({ "e": endpoint_id }), Some(&token)).await;
    assert_eq!(deliveries.data()["webhookDeliveries"][0]["attempts"], 2, "retried");
    assert_eq!(deliveries.data()["webhookDeliveries"][0]["lastStatus"], 500);
    assert_eq!(deliveries.data()["webhookDeliveries"][0]["status"], "pending");
    receiver.status.store(200, Ordering::SeqCst);
    app.later(Duration::from_secs(1)).await;
    assert!(receiver.got.lock().map(|g| g.len() >= 2).unwrap_or(false), "the retried claim got through");
    let got = receiver.got.lock().expect("lock").clone();
    let types: Vec<String> = got
        .iter()
        .map(|(_, _, b)| serde_json::from_str::<Value>(b).map(|v| v["type"].to_string()).unwrap_or_default())
        .collect();
    assert_eq!(types, vec!["\"filing.submitted\"", "\"filing.claimed\""], "in order, each once");

    // A receiver that keeps failing gets its endpoint disabled, and the owner is told.
    receiver.status.store(503, Ordering::SeqCst);
    app.submitted_case(&merchant, &["CUSTOMS"]).await;
    // Four failures in a row (each retry after its backoff) disable the endpoint.
    for _ in 0..4 {
        app.later(Duration::from_secs(60)).await;
    }
    assert!(
        app.mail_for("hooks@example.cn", 1).await.iter().any(|m| m.subject().contains("webhook")),
        "the owner was emailed"
    );
    let endpoints = app.gql("{ webhooks { id disabledAt consecutiveFailures } }", json!({}), Some(&token)).await;
    assert!(endpoints.data()["webhooks"][0]["disabledAt"].is_string());

    // What was queued before the endpoint was disabled is not sent once the receiver is back.
    receiver.status.store(200, Ordering::SeqCst);
    let accepted = receiver.accepted();
    app.later(Duration::from_secs(3600)).await;
    let deliveries = app.gql(log, json!({ "e": endpoint_id }), Some(&token)).await;
    let statuses: Vec<String> = deliveries.data()["webhookDeliveries"]
        .as_array()
        .expect("list")
        .iter()
        .map(|d| d["status"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(!statuses.iter().any(|s| s == "pending"), "deliveries stayed pending: {statuses:?}");
    assert!(statuses.iter().any(|s| s == "cancelled"), "queued deliveries are cancelled: {statuses:?}");
    assert_eq!(receiver.accepted(), accepted, "nothing reached the receiver after the endpoint was disabled");
}

/// Issue 25: a delivery is a job with its row. One staged by the version before (a pending row
/// without a job) gets its job at start-up, once however often that runs, and is sent once.
async fn deliveries_staged_before_they_were_jobs_are_sent_once(backend: Backend) {
    use onestop::services::webhooks::DeliverWebhook;
    let Some(app) = crate::helpers::spawn_app_without_jobs(backend).await else { return };
    let (url, receiver) = start_receiver().await;
    let merchant = app.merchant("adopted@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let token = client_token(&app, &merchant.token).await;
    let register = "mutation($u: String!) { registerWebhook(url: $u) { endpoint { id } } }";
    app.gql(register, json!({ "u": url }), Some(&token)).await.data();
    app.submitted_case(&merchant, &["CUSTOMS"]).await;
    let deliveries = app.count("webhook_deliveries").await;
    assert!(deliveries >= 1);
    assert_eq!(app.count_where("jobs", "kind = 'webhook'").await, deliveries, "a job with each delivery");
    // As the version before left them: pending rows, no jobs.
    {
        use sea_orm::ConnectionTrait;
        app.state.db.execute_unprepared("DELETE FROM jobs WHERE kind = 'webhook'").await.expect("delete");
    }
    for _ in 0..2 {
        DeliverWebhook::adopt_pending(&app.state).await.map_err(|e| e.detail()).expect("adopt");
    }
    assert_eq!(app.count_where("jobs", "kind = 'webhook'").await, deliveries, "once each");
    app.run_pending_jobs().await;
    assert_eq!(receiver.accepted() as i64, deliveries, "each sent once");
    assert_eq!(app.count_where("webhook_deliveries", "status = 'delivered'").await, deliveries);
    app.run_pending_jobs().await;
    assert_eq!(receiver.accepted() as i64, deliveries, "and not again");
}
