//! OpenTelemetry (built with `--features otlp`): a real `onestop serve` process sends the spans
//! of one request — continuing the caller's W3C `traceparent` — to a local OTLP/HTTP receiver:
//! the request, the service call inside it and its SQL statements (their text only: the email
//! the request carried appears nowhere in the exported spans).

use std::sync::{Arc, Mutex};

use poem::{EndpointExt, Route, handler, listener::TcpListener, post, web::Data};
use serde_json::{Value, json};

use crate::{
    both_backends,
    fixtures::filing_data,
    helpers::{Backend, GOOD_PASSWORD, ServeProcess, free_port, gql_at, spawn_app, spawn_idle_app},
};

both_backends!(
    one_request_arrives_at_an_otlp_receiver_as_its_spans,
    a_webhook_delivery_continues_the_trace_of_the_change
);

type Received = Arc<Mutex<Vec<Value>>>;

#[handler]
fn traces(body: String, received: Data<&Received>) -> &'static str {
    if let (Ok(value), Ok(mut all)) = (serde_json::from_str::<Value>(&body), received.lock()) {
        all.push(value);
    }
    "{}"
}

/// Every exported span of the trace `trace_id`.
fn spans_of(received: &Received, trace_id: &str) -> Vec<Value> {
    let all = received.lock().map(|a| a.clone()).unwrap_or_default();
    all.iter()
        .flat_map(|export| export["resourceSpans"].as_array().cloned().unwrap_or_default())
        .flat_map(|resource| resource["scopeSpans"].as_array().cloned().unwrap_or_default())
        .flat_map(|scope| scope["spans"].as_array().cloned().unwrap_or_default())
        .filter(|span| span["traceId"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(trace_id)))
        .collect()
}

fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["attributes"].as_array()?.iter().find(|a| a["key"] == key)?["value"]["stringValue"].as_str()
}

async fn one_request_arrives_at_an_otlp_receiver_as_its_spans(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let email = "otel-merchant@example.cn";
    app.register(email, GOOD_PASSWORD, "Otel Merchant").await.data();

    let received: Received = Arc::default();
    let port = free_port();
    let receiver = Route::new().at("/v1/traces", post(traces)).data(received.clone());
    tokio::spawn(poem::Server::new(TcpListener::bind(format!("127.0.0.1:{port}"))).run(receiver));
    let data = tempfile::tempdir().expect("data dir");
    let endpoint = format!("http://127.0.0.1:{port}");
    let env = [("ONESTOP_OTLP_ENDPOINT", endpoint.as_str()), ("OTEL_BSP_SCHEDULE_DELAY", "100")];
    let server = ServeProcess::start(&app, data.path(), free_port(), &env, std::process::Stdio::null()).ready().await;

    let (trace_id, caller_span) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/graphql", server.base_url))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&json!({ "query": "mutation($e: String!) { resendVerificationEmail(email: $e) }", "variables": { "e": email } }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["data"]["resendVerificationEmail"], true, "{answer}");

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let spans = loop {
        let spans = spans_of(&received, trace_id);
        let has = |name: &str| spans.iter().any(|s| s["name"] == name);
        if has("request") && has("resend_verification") && has("sql") {
            break spans;
        }
        assert!(tokio::time::Instant::now() < deadline, "spans of the trace never arrived: {spans:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let by_name = |name: &str| spans.iter().find(|s| s["name"] == name).cloned().expect("span");
    let request = by_name("request");
    assert_eq!(
        request["parentSpanId"].as_str().map(str::to_ascii_lowercase).as_deref(),
        Some(caller_span),
        "the request continues the caller's trace"
    );
    assert_eq!(attribute(&request, "path"), Some("/graphql"));
    let service = by_name("resend_verification");
    assert_eq!(service["parentSpanId"], request["spanId"], "the service call is inside the request");
    let statements: Vec<&str> =
        spans.iter().filter(|s| s["name"] == "sql").filter_map(|s| attribute(s, "db.query.text")).collect();
    assert!(statements.iter().any(|sql| sql.contains("FROM") && sql.contains("users")), "{statements:?}");
    let exported = serde_json::to_string(&spans).expect("json");
    assert!(!exported.contains(email), "a bound value or a log field left the process: {exported}");
}

/// What a webhook receiver was sent as `traceparent`, one entry per delivery.
type TraceHeaders = Arc<Mutex<Vec<String>>>;

#[handler]
fn hook(req: &poem::Request, seen: Data<&TraceHeaders>) -> &'static str {
    let traceparent = req.headers().get("traceparent").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if let Ok(mut all) = seen.lock() {
        all.push(traceparent);
    }
    "ok"
}

/// A change made under the caller's `traceparent` stages a webhook delivery; the worker sends it
/// later with a `traceparent` of the same trace, naming the delivery's own span, which arrives at
/// the OTLP receiver as a child of the request's trace.
async fn a_webhook_delivery_continues_the_trace_of_the_change(backend: Backend) {
    // The in-process server's own webhook worker stays idle: the process below delivers.
    let Some(app) = spawn_idle_app(backend).await else { return };
    let merchant = app.merchant("otel-hooks@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let client = crate::hooks::client_token(&app, &merchant.token).await;

    let (received, seen): (Received, TraceHeaders) = (Arc::default(), Arc::default());
    // One receiver for both: the spans at /v1/traces, the deliveries at /hook.
    let port = free_port();
    let receiver =
        Route::new().at("/v1/traces", post(traces)).at("/hook", post(hook)).data(received.clone()).data(seen.clone());
    tokio::spawn(poem::Server::new(TcpListener::bind(format!("127.0.0.1:{port}"))).run(receiver));
    let data = tempfile::tempdir().expect("data dir");
    let endpoint = format!("http://127.0.0.1:{port}");
    let env = [
        ("ONESTOP_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("ONESTOP_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("ONESTOP_WEBHOOK_POLL_MS", "100"),
    ];
    let server = ServeProcess::start(&app, data.path(), free_port(), &env, std::process::Stdio::null()).ready().await;
    // Registered on the process that delivers, so its data key seals the signing secret.
    let register =
        "mutation($u: String!) { registerWebhook(url: $u, eventTypes: [\"filing.submitted\"]) { endpoint { id } } }";
    let registered =
        gql_at(&server.base_url, Some(&client), register, json!({ "u": format!("http://127.0.0.1:{port}/hook") }))
            .await;
    assert!(registered["data"]["registerWebhook"]["endpoint"]["id"].is_string(), "{registered}");

    let created = app.create_case(&merchant.token, &["CUSTOMS"]).await;
    let case = &created.data()["createCase"];
    let filing = &case["filings"][0];
    app.update_filing(
        &merchant.token,
        filing["id"].as_str().expect("id"),
        filing["version"].as_i64().expect("v"),
        filing_data("CUSTOMS"),
    )
    .await
    .data();
    let (trace_id, caller_span) = ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331");
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/graphql", server.base_url))
        .bearer_auth(&merchant.token)
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&json!({ "query": "mutation($id: ID!) { submitCase(id: $id) { status } }", "variables": { "id": case["id"] } }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["data"]["submitCase"]["status"], "IN_REVIEW", "{answer}");

    // The server process delivers (its data key opens the signing secret), on its own runner.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while !seen.lock().is_ok_and(|s| !s.is_empty()) {
        assert!(tokio::time::Instant::now() < deadline, "the delivery never arrived");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let header = seen.lock().expect("lock")[0].clone();
    let parts: Vec<&str> = header.split('-').collect();
    assert_eq!(parts.len(), 4, "a W3C traceparent: {header}");
    assert_eq!(parts[1], trace_id, "the delivery continues the caller's trace: {header}");
    assert_ne!(parts[2], caller_span, "it names the delivery's own span: {header}");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let delivery = loop {
        if let Some(span) = spans_of(&received, trace_id).into_iter().find(|s| s["name"] == "webhook.deliver") {
            break span;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the delivery's span never arrived: {:?}",
            spans_of(&received, trace_id)
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(
        delivery["spanId"].as_str().map(str::to_ascii_lowercase).as_deref(),
        Some(parts[2]),
        "the header names the exported span"
    );
    let request =
        spans_of(&received, trace_id).into_iter().find(|s| s["name"] == "request").expect("the request's span");
    assert_eq!(request["traceId"], delivery["traceId"]);
}
