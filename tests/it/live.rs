//! GraphQL subscriptions over WebSocket (graphql-transport-ws): each caller receives only the
//! events of filings it may see, after the change commits.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::{
    both_backends,
    fixtures::filing_of,
    helpers::{Backend, ServeProcess, TestApp, free_port, spawn_app},
};
use std::process::Stdio;

both_backends!(subscribers_receive_the_events_they_may_see);
both_backends!(two_instances_drain_one_outbox_without_duplicates);

pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn subscribe(app: &TestApp, token: &str, query: &str) -> Socket {
    subscribe_at(&app.base_url, token, query).await
}

pub async fn subscribe_at(base_url: &str, token: &str, query: &str) -> Socket {
    let mut socket = connect_at(base_url, token).await;
    start(&mut socket, "1", query).await;
    socket
}

/// A socket past `connection_init` (acknowledged).
pub async fn connect_at(base_url: &str, token: &str) -> Socket {
    let url = base_url.replace("http://", "ws://") + "/graphql/ws";
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().expect("header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("connect");
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    socket.send(Message::Text(init.to_string().into())).await.expect("init");
    let ack = next_json(&mut socket, Duration::from_secs(5)).await.expect("ack");
    assert_eq!(ack["type"], "connection_ack");
    socket
}

/// Starts operation `id` on the socket.
pub async fn start(socket: &mut Socket, id: &str, query: &str) {
    let subscribe = json!({ "id": id, "type": "subscribe", "payload": { "query": query } });
    socket.send(Message::Text(subscribe.to_string().into())).await.expect("subscribe");
    // Let the server register the subscription before anything happens.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

pub async fn next_json(socket: &mut Socket, wait: Duration) -> Option<Value> {
    loop {
        match tokio::time::timeout(wait, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return serde_json::from_str(&text).ok(),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

/// Every `next` payload received until `wait` passes without a message.
async fn drain(socket: &mut Socket, wait: Duration) -> Vec<Value> {
    let mut events = Vec::new();
    while let Some(message) = next_json(socket, wait).await {
        if message["type"] == "next" {
            events.push(message["payload"]["data"]["filingEvents"].clone());
        } else if message["type"] == "error" {
            panic!("subscription error: {message}");
        }
    }
    events
}

async fn subscribers_receive_the_events_they_may_see(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("live@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let stranger = app.merchant("stranger@example.cn", "510100", None).await;
    let customs = app.staff("live-customs@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;
    let query = "subscription { filingEvents { action at filing { id kind status version } } }";
    let mut merchant_socket = subscribe(&app, &merchant.token, query).await;
    let mut customs_socket = subscribe(&app, &customs.token, query).await;
    let mut stranger_socket = subscribe(&app, &stranger.token, query).await;

    let (_, filings) = app.submitted_case(&merchant, &["CUSTOMS", "TAX"]).await;
    let filing = filing_of(&filings, "CUSTOMS");
    let claimed = app
        .decide(
            &customs.token,
            "claimFiling",
            filing["id"].as_str().expect("id"),
            filing["version"].as_i64().expect("v"),
            None,
        )
        .await;
    claimed.data();

    let mine = drain(&mut merchant_socket, Duration::from_millis(700)).await;
    let actions: Vec<&str> = mine.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "filing.submitted").count(), 2, "{actions:?}");
    assert!(actions.contains(&"filing.claimed"), "{actions:?}");
    let claim = mine.iter().find(|e| e["action"] == "filing.claimed").expect("claim event");
    assert_eq!(claim["filing"]["status"], "UNDER_REVIEW", "sent after the commit: the new state");

    let theirs = drain(&mut customs_socket, Duration::from_millis(300)).await;
    assert!(!theirs.is_empty());
    assert!(theirs.iter().all(|e| e["filing"]["kind"] == "CUSTOMS"), "never another agency's filing: {theirs:?}");
    assert!(theirs.iter().any(|e| e["action"] == "filing.claimed"));

    assert!(drain(&mut stranger_socket, Duration::from_millis(300)).await.is_empty(), "nothing for others");

    // A bad token is refused at connection_init.
    let url = app.base_url.replace("http://", "ws://") + "/graphql/ws";
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().expect("header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("connect");
    let init = json!({ "type": "connection_init", "payload": { "Authorization": "Bearer forged" } });
    socket.send(Message::Text(init.to_string().into())).await.expect("init");
    let refused = next_json(&mut socket, Duration::from_secs(3)).await;
    assert!(refused.is_none_or(|m| m["type"] != "connection_ack"), "no ack for a forged token");
}

/// Two `onestop serve` processes on one PostgreSQL database: an event caused on instance A
/// reaches a subscriber connected to instance B (LISTEN/NOTIFY).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_on_one_instance_reaches_subscribers_of_another_postgres() {
    let Some(app) = spawn_app(Backend::Postgres).await else { return };
    let merchant = app.merchant("multi@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let customs = app.staff("multi-customs@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;

    let data = tempfile::tempdir().expect("tempdir");
    let second = ServeProcess::start(&app, data.path(), free_port(), &[], Stdio::null()).ready().await;
    let other = second.base_url.clone();

    let mut socket =
        subscribe_at(&other, &merchant.token, "subscription { filingEvents { action filing { kind status } } }").await;
    let (_, filings) = app.submitted_case(&merchant, &["CUSTOMS"]).await;
    let filing = filing_of(&filings, "CUSTOMS");
    app.decide(
        &customs.token,
        "claimFiling",
        filing["id"].as_str().expect("id"),
        filing["version"].as_i64().expect("v"),
        None,
    )
    .await
    .data();

    let events = drain(&mut socket, Duration::from_millis(1500)).await;
    let actions: Vec<&str> = events.iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"filing.submitted"), "{actions:?}");
    assert!(actions.contains(&"filing.claimed"), "{actions:?}");
}

/// Two instances draining one outbox at once send every message exactly once.
async fn two_instances_drain_one_outbox_without_duplicates(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let other = app.another_instance().await;
    for i in 0..100 {
        onestop::platform::notify::enqueue_email(
            &app.state.db,
            &app.state.templates,
            &format!("reader{i}@example.cn"),
            onestop::platform::notify::EmailKind::PasswordReset,
            json!({ "display_name": format!("Reader {i}"), "link": format!("http://onestop.test/reset-password?token=t{i}") }),
        )
        .await
        .map_err(|e| e.detail())
        .expect("enqueue");
    }
    let (here, there) =
        futures_util::future::join(app.run_pending_jobs(), crate::helpers::run_pending_jobs_of(&other)).await;
    // The hundred emails and the start-up sweep.
    assert_eq!(here + there, 101, "each job ran once, on one of the two ({here} + {there})");
    let mails = app.smtp.all().await;
    let mut recipients: Vec<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(mails.len(), 100, "no message sent twice");
    assert_eq!(recipients.len(), 100, "every message sent");
}

fn second_instance(app: &TestApp, data: &std::path::Path, port: u16) -> ServeProcess {
    let env = [
        ("ONESTOP_OUTBOX_POLL_MS", "20"),
        ("ONESTOP_OUTBOX_RETRY_BASE_MS", "100"),
        ("ONESTOP_SMTP_TIMEOUT_SECS", "3"),
        ("ONESTOP_OUTBOX_LEASE_SECS", "2"),
    ];
    ServeProcess::start(app, data, port, &env, Stdio::null())
}

/// A server killed with SIGKILL while it hands a message to SMTP loses nothing: after the
/// claim's lease runs out, another instance sends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_send_loses_no_message_postgres() {
    use std::sync::atomic::Ordering;
    // The in-process app provides the database; it runs jobs only when the test drains them.
    let Some(app) = spawn_app(Backend::Postgres).await else { return };
    let data = tempfile::tempdir().expect("tempdir");
    let port = free_port();

    app.smtp.delay_ms.store(5000, Ordering::SeqCst);
    let mut first = second_instance(&app, data.path(), port);
    for i in 0..3 {
        onestop::platform::notify::enqueue_email(
            &app.state.db,
            &app.state.templates,
            &format!("crash{i}@example.cn"),
            onestop::platform::notify::EmailKind::PasswordReset,
            json!({ "display_name": format!("Crash {i}"), "link": format!("http://onestop.test/reset-password?token=c{i}") }),
        )
        .await
        .map_err(|e| e.detail())
        .expect("enqueue");
    }
    tokio::time::timeout(Duration::from_secs(30), app.smtp.first_data())
        .await
        .expect("the instance never started sending");
    // SIGKILL in the middle of the SMTP transaction.
    first.kill();
    assert!(app.smtp.all().await.is_empty(), "nothing was handed off");

    // Once the killed server's leases ran out (4 s: one SMTP timeout and a second), this
    // instance sends what it held.
    app.smtp.delay_ms.store(0, Ordering::SeqCst);
    assert_eq!(app.run_pending_jobs().await, 0, "its claims stand until their leases end");
    app.later(Duration::from_secs(10)).await;
    let mut recipients: Vec<String> = app.smtp.all().await.iter().flat_map(|m| m.to.clone()).collect();
    assert_eq!(recipients.len(), 3, "each message handed off once");
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), 3);
}
