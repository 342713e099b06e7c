//! Webhook destinations (SSRF): special-use addresses in every spelling and unresolvable names
//! are refused at registration; at delivery the name is resolved again and the connection goes
//! to exactly the checked addresses (no DNS rebinding); redirects are not followed; deliveries
//! queued before a client is revoked are not sent.

use std::{
    collections::{HashMap, VecDeque},
    future::Future,
    net::IpAddr,
    pin::Pin,
    sync::{Arc, Mutex, atomic::Ordering},
    time::Duration,
};

use onestop::services::webhooks::destination::{HostLookup, Lookup, SystemLookup};
use serde_json::{Value, json};

use crate::{
    both_backends,
    helpers::{Backend, TestApp, spawn_app_with},
    hooks::{client_token, start_receiver},
};

both_backends!(
    special_use_and_unresolvable_destinations_are_refused,
    a_name_that_rebinds_to_a_private_address_is_not_delivered_to,
    deliveries_connect_to_the_checked_address_and_never_follow_redirects,
    deliveries_queued_before_a_client_is_revoked_are_not_sent,
);

/// Resolves the names it was given, answer after answer (the last one repeats); other names
/// go to the system resolver.
#[derive(Clone, Default)]
struct ScriptedDns {
    answers: Arc<Mutex<HashMap<String, VecDeque<Vec<IpAddr>>>>>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl ScriptedDns {
    fn answer(self, host: &str, answers: &[&[&str]]) -> Self {
        let parsed = answers.iter().map(|a| a.iter().map(|ip| ip.parse().expect("ip")).collect()).collect();
        self.answers.lock().expect("lock").insert(host.to_string(), parsed);
        self
    }

    fn asked(&self, host: &str) -> usize {
        self.asked.lock().expect("lock").iter().filter(|h| *h == host).count()
    }
}

impl HostLookup for ScriptedDns {
    fn lookup(&self, host: &str) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> {
        self.asked.lock().expect("lock").push(host.to_string());
        let scripted = self
            .answers
            .lock()
            .expect("lock")
            .get_mut(host)
            .and_then(|queue| if queue.len() > 1 { queue.pop_front() } else { queue.front().cloned() });
        match scripted {
            Some(addresses) => Box::pin(async move { Ok(addresses) }),
            None => SystemLookup.lookup(host),
        }
    }
}

async fn app_with_dns(backend: Backend, dns: &ScriptedDns, allow_private: bool) -> Option<TestApp> {
    let lookup = Lookup(Arc::new(dns.clone()));
    spawn_app_with(backend, move |c| {
        c.webhooks.allow_private = allow_private;
        c.webhooks.lookup = lookup;
        // Refused deliveries count as failures; keep the endpoints enabled for the test.
        c.webhooks.disable_after = 1000;
    })
    .await
}

const REGISTER: &str = "mutation($u: String!) { registerWebhook(url: $u) { endpoint { id url } } }";
const DELIVERIES: &str =
    "query($e: ID!) { webhookDeliveries(endpointId: $e) { status attempts lastStatus lastError } }";

async fn register(app: &TestApp, token: &str, url: &str) -> String {
    let registered = app.gql(REGISTER, json!({ "u": url }), Some(token)).await;
    registered.data()["registerWebhook"]["endpoint"]["id"].as_str().expect("id").to_string()
}

/// The endpoint's deliveries that have been tried, once the oldest has been tried `attempts`
/// times (deliveries of one filing go out in order, so later ones wait for it) or all settled.
/// The deliveries of `endpoint` once each has been attempted `attempts` times or settled: the
/// queue is drained, and the clock moved past each retry's backoff until then.
async fn attempted(app: &TestApp, token: &str, endpoint: &str, attempts: i64) -> Vec<Value> {
    app.run_pending_jobs().await;
    for _ in 0..10 {
        let log = app.gql(DELIVERIES, json!({ "e": endpoint }), Some(token)).await;
        let deliveries = log.data()["webhookDeliveries"].as_array().cloned().unwrap_or_default();
        let settled = !deliveries.is_empty() && deliveries.iter().all(|d| d["status"] != "pending");
        if settled || deliveries.iter().any(|d| d["attempts"].as_i64().unwrap_or(0) >= attempts) {
            return deliveries
                .into_iter()
                .filter(|d| d["attempts"].as_i64().unwrap_or(0) > 0 || d["status"] != "pending")
                .collect();
        }
        app.later(Duration::from_secs(60)).await;
    }
    panic!("deliveries of {endpoint} not attempted {attempts} times");
}

async fn special_use_and_unresolvable_destinations_are_refused(backend: Backend) {
    let dns = ScriptedDns::default().answer("sneaky.example.com", &[&["93.184.216.34", "10.0.0.7"]]);
    let Some(app) = app_with_dns(backend, &dns, false).await else { return };
    let merchant = app.merchant("ssrf@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let token = client_token(&app, &merchant.token).await;
    for url in [
        "http://[::1]:9/x",
        "http://[::ffff:127.0.0.1]:9/x",
        "http://[::ffff:a9fe:a9fe]/latest",
        "http://[64:ff9b::a9fe:a9fe]/latest",
        "http://[::127.0.0.1]/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://[ff02::1]/",
        "http://localhost.:9/",
        "http://localhost:9/",
        "http://127.0.0.1:9/",
        "http://0x7f.1/",
        "http://2130706433/",
        "http://0.0.0.0/",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/",
        "http://198.18.0.1/",
        "http://224.0.0.1/",
        "http://192.168.1.1/",
        "http://sneaky.example.com/",
        "http://no-such-host.invalid/",
        "http://user:pass@93.184.216.34/",
    ] {
        let refused = app.gql(REGISTER, json!({ "u": url }), Some(&token)).await;
        assert_eq!(refused.error_code(), "VALIDATION", "{url} must be refused: {:?}", refused.0);
        assert_eq!(refused.error_fields(), vec!["url"], "{url}");
        // One answer for "private" and "does not resolve": no mapping of internal names.
        assert!(
            refused.error_message().contains("not an allowed destination") || url.starts_with("http://user"),
            "{url}: {}",
            refused.error_message()
        );
    }
    assert_eq!(app.count("webhook_endpoints").await, 0, "nothing was registered");
    // A public destination is accepted.
    let dns_ok = app.gql(REGISTER, json!({ "u": "https://93.184.216.34/hook" }), Some(&token)).await;
    assert!(dns_ok.data()["registerWebhook"]["endpoint"]["id"].is_string());
}

async fn a_name_that_rebinds_to_a_private_address_is_not_delivered_to(backend: Backend) {
    let (url, receiver) = start_receiver().await;
    let port = url.split(':').nth(2).and_then(|p| p.split('/').next()).expect("port").to_string();
    // Public when registered and when checked before the delivery, loopback (where the receiver
    // listens) when the connection resolves it: only the connect-time check stops this one.
    let dns =
        ScriptedDns::default().answer("rebind.example.com", &[&["93.184.216.34"], &["93.184.216.34"], &["127.0.0.1"]]);
    let Some(app) = app_with_dns(backend, &dns, false).await else { return };
    let merchant = app.merchant("rebind@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let token = client_token(&app, &merchant.token).await;
    let endpoint = register(&app, &token, &format!("http://rebind.example.com:{port}/hook")).await;
    app.submitted_case(&merchant, &["CUSTOMS"]).await;
    for delivery in attempted(&app, &token, &endpoint, 1).await {
        let error = delivery["lastError"].as_str().unwrap_or_default();
        assert!(error.contains("not an allowed destination"), "refused: {delivery}");
        assert!(!error.contains("127.0.0.1"), "the log names no internal address: {error}");
    }
    assert!(dns.asked("rebind.example.com") >= 3, "resolved again to connect");
    assert_eq!(receiver.hits.load(Ordering::SeqCst), 0, "nothing reached the private address");
}

async fn deliveries_connect_to_the_checked_address_and_never_follow_redirects(backend: Backend) {
    let (target_url, target) = start_receiver().await;
    let (redirecting_url, redirecting) = start_receiver().await;
    redirecting.status.store(307, Ordering::SeqCst);
    *redirecting.redirect.lock().expect("lock") = Some(target_url.clone());
    let target_port = target_url.split(':').nth(2).and_then(|p| p.split('/').next()).expect("port").to_string();
    // The system resolver does not know this name: only a connection through the checking
    // resolver reaches the receiver.
    let dns = ScriptedDns::default().answer("receiver.test", &[&["127.0.0.1"]]);
    let Some(app) = app_with_dns(backend, &dns, true).await else { return };
    let merchant = app.merchant("redirect@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let token = client_token(&app, &merchant.token).await;
    let by_name = register(&app, &token, &format!("http://receiver.test:{target_port}/hook")).await;
    let redirected = register(&app, &token, &redirecting_url).await;
    app.submitted_case(&merchant, &["CUSTOMS"]).await;
    let direct = attempted(&app, &token, &by_name, i64::MAX).await;
    assert!(direct.iter().all(|d| d["status"] == "delivered"), "{direct:?}");
    for refused in attempted(&app, &token, &redirected, 2).await {
        assert_eq!(refused["status"], "pending", "retried: {refused}");
        assert_eq!(refused["lastStatus"], 307, "a redirect is a failed delivery: {refused}");
    }
    assert!(redirecting.hits.load(Ordering::SeqCst) >= 2);
    assert_eq!(target.accepted(), direct.len(), "only the direct deliveries arrived; no redirect was followed");
}

async fn deliveries_queued_before_a_client_is_revoked_are_not_sent(backend: Backend) {
    let (url, receiver) = start_receiver().await;
    receiver.status.store(503, Ordering::SeqCst);
    // The endpoint is not disabled by its failures: the revocation is what stops it. (An
    // attempt whose check passed just before a revocation would still go out, in flight like a
    // mail already handed over; here the first attempts are over when the client is revoked.)
    let Some(app) = spawn_app_with(backend, |c| c.webhooks.disable_after = 1000).await else { return };
    let merchant = app.merchant("revoked-hooks@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let token = client_token(&app, &merchant.token).await;
    let endpoint = register(&app, &token, &url).await;
    app.submitted_case(&merchant, &["CUSTOMS", "FX"]).await;
    attempted(&app, &token, &endpoint, 1).await;
    let queued = app.count("webhook_deliveries").await;
    let clients = app.gql("{ apiClients { id } }", json!({}), Some(&merchant.token)).await;
    let client_id = clients.data()["apiClients"][0]["id"].as_str().expect("id").to_string();
    app.gql("mutation($id: ID!) { revokeApiClient(id: $id) }", json!({ "id": client_id }), Some(&merchant.token))
        .await
        .data();
    receiver.status.store(200, Ordering::SeqCst);
    // Their retries come: each finds the client revoked and cancels its delivery.
    app.later(Duration::from_secs(3600)).await;
    assert_eq!(
        app.count_where("webhook_deliveries", "status = 'pending'").await,
        0,
        "the queued deliveries were cancelled"
    );
    assert_eq!(app.count_where("webhook_deliveries", "status = 'cancelled'").await, queued);
    assert_eq!(receiver.accepted(), 0, "nothing was sent after the revocation");
}
