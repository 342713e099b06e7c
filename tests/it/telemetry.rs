//! OpenTelemetry (built with `--features otlp`): a real `onestop serve` process sends the spans
//! of one request — continuing the caller's W3C `traceparent` — to a local OTLP/HTTP receiver:
//! the request, the service call inside it and its SQL statements (their text only: the email
//! the request carried appears nowhere in the exported spans).

use std::sync::{Arc, Mutex};

use poem::{EndpointExt, Route, handler, listener::TcpListener, post, web::Data};
use serde_json::{Value, json};

use crate::{
    both_backends,
    helpers::{Backend, GOOD_PASSWORD, ServeProcess, free_port, spawn_app},
};

both_backends!(one_request_arrives_at_an_otlp_receiver_as_its_spans);

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
    assert_eq!(request["parentSpanId"].as_str().map(str::to_ascii_lowercase).as_deref(), Some(caller_span), "the request continues the caller's trace");
    assert_eq!(attribute(&request, "path"), Some("/graphql"));
    let service = by_name("resend_verification");
    assert_eq!(service["parentSpanId"], request["spanId"], "the service call is inside the request");
    let statements: Vec<&str> = spans.iter().filter(|s| s["name"] == "sql").filter_map(|s| attribute(s, "db.query.text")).collect();
    assert!(statements.iter().any(|sql| sql.contains("FROM") && sql.contains("users")), "{statements:?}");
    let exported = serde_json::to_string(&spans).expect("json");
    assert!(!exported.contains(email), "a bound value or a log field left the process: {exported}");
}
