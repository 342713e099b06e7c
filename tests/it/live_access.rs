//! A live socket re-checks its caller before every operation, before every event and when its
//! token expires: it closes with 4401 (token expired or no longer valid) or 4403 (access
//! revoked or narrowed) and sends nothing after — also when the change was made on another
//! instance.

use std::{process::Stdio, time::Duration};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    both_backends,
    helpers::{Backend, ServeProcess, TestApp, free_port, spawn_app, spawn_app_with},
    live::{Socket, connect_at, start, subscribe_at},
};

both_backends!(
    an_officer_whose_regions_were_narrowed_gets_no_further_event,
    access_widened_then_narrowed_again_closes_the_socket,
    a_socket_closes_with_4401_when_its_token_expires,
    a_client_revoked_on_another_instance_is_cut_off_there_at_once,
);

const EVENTS: &str = "subscription { filingEvents { action filing { id kind regionCode } } }";

/// Reads until the server closes the socket: the close code and reason, and every event that
/// arrived before it.
pub async fn until_closed(socket: &mut Socket, wait: Duration) -> (Option<(u16, String)>, Vec<Value>) {
    let mut events = Vec::new();
    loop {
        match tokio::time::timeout(wait, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let message: Value = serde_json::from_str(&text).unwrap_or_default();
                if message["type"] == "next" {
                    events.push(message["payload"].clone());
                }
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                return (frame.map(|f| (u16::from(f.code), f.reason.to_string())), events);
            }
            Ok(Some(Ok(_))) => continue,
            _ => return (None, events),
        }
    }
}

async fn an_officer_whose_regions_were_narrowed_gets_no_further_event(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("narrow@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let officer = app.staff("narrow-customs@gov.cn", "OFFICER", "CUSTOMS", &["510100", "530100"]).await;
    let mut socket = subscribe_at(&app.base_url, &officer.token, EVENTS).await;
    // An administrator takes Chengdu away from the officer.
    app.set_regions(&officer.id, &["530100"]).await;
    app.submitted_case(&merchant, &["CUSTOMS"]).await;
    let (closed, events) = until_closed(&mut socket, Duration::from_secs(5)).await;
    assert_eq!(closed.map(|c| c.0), Some(4403), "closed for narrowed access");
    assert!(events.is_empty(), "no event after the narrowing: {events:?}");
}

async fn access_widened_then_narrowed_again_closes_the_socket(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("kunming@example.cn", "530100", Some("91510100MA6CGUR3KG")).await;
    let officer = app.staff("widened@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;
    let mut socket = connect_at(&app.base_url, &officer.token).await;
    // Kunming is added, a subscription starts with it, and Kunming is taken away again: the
    // socket's access is now narrower than what its subscription was given.
    app.set_regions(&officer.id, &["510100", "530100"]).await;
    start(&mut socket, "1", EVENTS).await;
    app.set_regions(&officer.id, &["510100"]).await;
    app.submitted_case(&merchant, &["CUSTOMS"]).await;
    let (closed, events) = until_closed(&mut socket, Duration::from_secs(5)).await;
    assert_eq!(closed.map(|c| c.0), Some(4403), "closed for narrowed access");
    assert!(events.is_empty(), "no Kunming event after the narrowing: {events:?}");
}

async fn a_socket_closes_with_4401_when_its_token_expires(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.jwt.access_ttl = Duration::from_secs(2)).await else { return };
    let merchant = app.merchant("expiry@example.cn", "510100", None).await;
    let mut socket = subscribe_at(&app.base_url, &merchant.token, EVENTS).await;
    let started = tokio::time::Instant::now();
    let (closed, _) = until_closed(&mut socket, Duration::from_secs(6)).await;
    assert_eq!(closed.map(|c| c.0), Some(4401), "closed at expiry");
    assert!(started.elapsed() < Duration::from_secs(4), "at expiry, not at the next event");
}

async fn a_client_revoked_on_another_instance_is_cut_off_there_at_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("revoked-live@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let token = crate::hooks::client_token(&app, &merchant.token).await;
    let data = tempfile::tempdir().expect("tempdir");
    let other = ServeProcess::start(&app, data.path(), free_port(), &[], Stdio::null()).ready().await;
    let mut socket = subscribe_at(&other.base_url, &token, EVENTS).await;
    // The client works over the socket on instance B …
    let query = json!({ "id": "2", "type": "subscribe", "payload": { "query": "{ cases { nodes { id } } }" } });
    socket.send(Message::Text(query.to_string().into())).await.expect("send");
    let first = crate::live::next_json(&mut socket, Duration::from_secs(5)).await.expect("an answer");
    assert!(first["payload"]["errors"].is_null(), "served before the revocation: {first}");
    // … until its merchant revokes it on instance A.
    let clients = app.gql("{ apiClients { id } }", json!({}), Some(&merchant.token)).await;
    let id = clients.data()["apiClients"][0]["id"].clone();
    app.gql("mutation($id: ID!) { revokeApiClient(id: $id) }", json!({ "id": id }), Some(&merchant.token)).await.data();
    revoked_elsewhere_closes(&app, &merchant, &mut socket).await;
}

/// After the revocation: an event (it reaches B through NOTIFY on PostgreSQL) or the next
/// operation over the socket finds the client revoked; the socket closes with 4403 and nothing
/// of the case is sent.
async fn revoked_elsewhere_closes(app: &TestApp, merchant: &crate::fixtures::Merchant, socket: &mut Socket) {
    app.submitted_case(merchant, &["CUSTOMS"]).await;
    let again = json!({ "id": "3", "type": "subscribe", "payload": { "query": "{ cases { nodes { id } } }" } });
    let _ = socket.send(Message::Text(again.to_string().into())).await;
    let (closed, events) = until_closed(socket, Duration::from_secs(5)).await;
    assert_eq!(closed.map(|c| c.0), Some(4403), "closed for revoked access");
    let leaked: Vec<&Value> = events.iter().filter(|e| !e["data"].is_null()).collect();
    assert!(leaked.is_empty(), "nothing sent after the revocation: {leaked:?}");
}
