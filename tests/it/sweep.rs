//! The bad-input sweep: every mutation of the served schema (found by introspection, so new
//! ones are covered without editing this file) is sent — as a merchant, an officer, a
//! supervisor, an admin and anonymously — with missing arguments, wrong types, 1 MB strings,
//! negative and overflowing numbers and invalid UTF-8. Each answer must be a
//! JSON error with a precise code (never INTERNAL, never a 5xx) and the database must not
//! change.

use futures_util::StreamExt;
use serde_json::{Map, Value, json};

use crate::{
    both_backends,
    helpers::{Backend, TestApp, spawn_app_with},
    introspect::{Schema, named, written},
};

both_backends!(every_mutation_refuses_bad_input_and_changes_nothing);

/// Sets the leaf at `path` (through objects and the first element of lists).
fn set_at(value: &mut Value, path: &[String], leaf: Value) {
    match (path.first(), value) {
        (None, slot) => *slot = leaf,
        (Some(_), Value::Array(items)) if !items.is_empty() => set_at(&mut items[0], path, leaf),
        (Some(key), Value::Object(map)) => {
            if let Some(inner) = map.get_mut(key) {
                set_at(inner, &path[1..], leaf);
            }
        }
        _ => {}
    }
}

/// A bad request: its label, document, variables and the code it must get (if one is known).
type Case = (String, String, Map<String, Value>, Option<&'static str>);

struct Mutation {
    name: String,
    args: Vec<(String, Value)>,
    returns_object: bool,
}

impl Mutation {
    /// The document calling the mutation with the given arguments as variables.
    fn document(&self, with: &[&str]) -> String {
        let definitions: Vec<String> = self
            .args
            .iter()
            .filter(|(n, _)| with.contains(&n.as_str()))
            .map(|(n, t)| format!("${n}: {}", written(t)))
            .collect();
        let arguments: Vec<String> = with.iter().map(|n| format!("{n}: ${n}")).collect();
        let selection = if self.returns_object { " { __typename }" } else { "" };
        let call =
            if arguments.is_empty() { self.name.clone() } else { format!("{}({})", self.name, arguments.join(", ")) };
        if definitions.is_empty() {
            format!("mutation {{ {call}{selection} }}")
        } else {
            format!("mutation({}) {{ {call}{selection} }}", definitions.join(", "))
        }
    }
}

/// What the database holds, coarsely: row counts of every table and the filings' versions.
/// Security events are left out on purpose: a refused login *is* recorded.
async fn fingerprint(app: &TestApp) -> Vec<(String, i64)> {
    let tables = [
        "users",
        "refresh_tokens",
        "one_time_tokens",
        "merchants",
        "cases",
        "case_counters",
        "filings",
        "audit_events",
        "comments",
        "product_batches",
        "trace_scans",
        "spot_checks",
        "documents",
        "api_clients",
        "idempotency_keys",
        "webhook_endpoints",
        "webhook_deliveries",
        "trace_scan_addresses",
    ];
    let mut print = Vec::new();
    for table in tables {
        print.push((table.to_string(), app.count(table).await));
    }
    // Jobs other than emails (the sweep's chain) come and go by themselves.
    print.push(("email jobs".to_string(), app.count_where("jobs", "kind = 'email'").await));
    let versions = app.query_row("SELECT CAST(COALESCE(SUM(version), 0) AS BIGINT) AS n FROM filings").await;
    print.push(("filing versions".into(), versions.try_get::<i64>("", "n").expect("sum")));
    print
}

async fn post_raw(app: &TestApp, token: Option<&str>, body: impl Into<reqwest::Body>) -> (u16, Option<Value>) {
    let mut request = app.client.post(app.url("/graphql")).header("content-type", "application/json").body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("post");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("body");
    (status, serde_json::from_slice(&bytes).ok())
}

fn first_code(body: &Option<Value>) -> Option<String> {
    body.as_ref()?.get("errors")?.get(0)?.get("extensions")?.get("code")?.as_str().map(str::to_string)
}

async fn every_mutation_refuses_bad_input_and_changes_nothing(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        // Big enough that 1 MB strings reach the validators instead of stopping at the door.
        c.max_body_bytes = 4 * 1024 * 1024;
        c.limits.max_complexity = 1_000_000;
    })
    .await
    else {
        return;
    };
    let merchant = app.merchant("sweep@example.cn", "510100", None).await;
    let officer = app.staff("sweep-officer@gov.cn", "OFFICER", "MARKET_REGULATION", &["510100"]).await;
    let supervisor = app.staff("sweep-supervisor@gov.cn", "SUPERVISOR", "MARKET_REGULATION", &["510100"]).await;
    let admin = app.admin_token().await;
    // Real ids, so that abuse of one argument meets a case and a filing that exist.
    let (case_id, filings) = app.submitted_case(&merchant, &["REGISTRATION"]).await;
    let filing_id = filings[0]["id"].as_str().expect("filing id").to_string();
    let schema = Schema::load(&app, Some(&merchant.token)).await;
    let mutations: Vec<Mutation> = schema.root["mutationType"]["fields"]
        .as_array()
        .expect("mutations")
        .iter()
        .map(|m| Mutation {
            name: m["name"].as_str().expect("name").to_string(),
            args: m["args"]
                .as_array()
                .expect("args")
                .iter()
                .map(|a| (a["name"].as_str().expect("arg").to_string(), a["type"].clone()))
                .collect(),
            returns_object: named(&m["type"]).0 == "OBJECT",
        })
        .collect();
    assert!(mutations.len() >= 25, "found {} mutations", mutations.len());

    let before = fingerprint(&app).await;
    let huge = "长".repeat(350_000); // ≈ 1 MB of UTF-8
    let mut problems: Vec<String> = Vec::new();
    let mut sent = 0;
    for mutation in &mutations {
        let all: Vec<&str> = mutation.args.iter().map(|(n, _)| n.as_str()).collect();
        let plausible: Map<String, Value> = mutation
            .args
            .iter()
            .map(|(n, t)| {
                let value = match n.as_str() {
                    "caseId" => json!(case_id),
                    "id" | "filingId" => json!(filing_id),
                    _ => schema.plausible(t, 0),
                };
                (n.clone(), value)
            })
            .collect();
        let mut cases: Vec<Case> = Vec::new();
        for (arg, t) in &mutation.args {
            if t["kind"] == "NON_NULL" {
                let without: Vec<&str> = all.iter().copied().filter(|n| n != arg).collect();
                cases.push((
                    format!("without {arg}"),
                    mutation.document(&without),
                    plausible.clone(),
                    Some("BAD_REQUEST"),
                ));
            }
            let mut wrong = plausible.clone();
            wrong.insert(arg.clone(), schema.wrong(t));
            cases.push((format!("{arg} of the wrong type"), mutation.document(&all), wrong, Some("BAD_REQUEST")));
            let mut leaves = Vec::new();
            schema.leaves(t, vec![], 0, &mut leaves);
            for (path, kind) in leaves {
                let abuses: Vec<(String, Value)> = match kind {
                    "Int" => vec![
                        ("-1".into(), json!(-1)),
                        ("-2^31-1".into(), json!(-2_147_483_649i64)),
                        ("2^31".into(), json!(2_147_483_648i64)),
                        ("1e300".into(), json!(1e300)),
                    ],
                    _ => vec![("1 MB".into(), json!(huge))],
                };
                for (label, leaf) in abuses {
                    let mut variables = plausible.clone();
                    if let Some(value) = variables.get_mut(arg) {
                        set_at(value, &path, leaf);
                    }
                    cases.push((
                        format!("{arg}.{} = {label}", path.join(".")),
                        mutation.document(&all),
                        variables,
                        None,
                    ));
                }
            }
        }
        // Each case's body is written once and sent by every caller.
        let bodies: Vec<bytes::Bytes> = cases
            .iter()
            .map(|(_, document, variables, _)| {
                serde_json::to_vec(&json!({ "query": document, "variables": variables })).expect("json").into()
            })
            .collect();
        let requests = cases.iter().zip(&bodies).flat_map(|(case, body)| {
            [
                ("merchant", Some(merchant.token.as_str())),
                ("officer", Some(officer.token.as_str())),
                ("supervisor", Some(supervisor.token.as_str())),
                ("admin", Some(admin.as_str())),
                ("anonymous", None),
            ]
            .map(|c| (case, body, c))
        });
        // Four at a time: the server, not this loop, is what is tested.
        let answers: Vec<_> = futures_util::stream::iter(requests)
            .map(|((label, _, _, expected), body, (caller, token))| {
                let app = &app;
                async move {
                    let (status, answer) = post_raw(app, token, body.clone()).await;
                    (format!("{} {label} (as {caller})", mutation.name), *expected, status, answer)
                }
            })
            .buffer_unordered(4)
            .collect()
            .await;
        for (what, expected, status, answer) in answers {
            sent += 1;
            let code = first_code(&answer);
            if answer.is_none() || status >= 500 {
                problems.push(format!("{what}: HTTP {status}, body not JSON"));
            } else if code.as_deref() == Some("INTERNAL") {
                problems.push(format!("{what}: INTERNAL"));
            } else if let Some(expected) = expected
                && code.as_deref() != Some(expected)
            {
                problems.push(format!("{what}: expected {expected}, got {code:?}"));
            }
        }
        // Invalid UTF-8 inside the JSON body.
        let mut body = format!("{{\"query\": \"{}\", \"variables\": {{}}}}", mutation.document(&all)).into_bytes();
        let at = body.len() - 3;
        body.splice(at..at, [0xff, 0xfe, 0xc3]);
        let (status, answer) = post_raw(&app, Some(&merchant.token), body).await;
        sent += 1;
        if status != 400 || first_code(&answer).as_deref() != Some("BAD_REQUEST") {
            problems.push(format!("{} with invalid UTF-8: HTTP {status}, {:?}", mutation.name, first_code(&answer)));
        }
    }
    assert!(problems.is_empty(), "{} of {sent} bad requests were mishandled:\n{}", problems.len(), problems.join("\n"));
    assert!(sent > 1000, "only {sent} requests sent");
    assert_eq!(fingerprint(&app).await, before, "the database changed");
    let health = app.client.get(app.url("/healthz")).send().await.expect("healthz");
    assert_eq!(health.status(), 200);
}

/// Arbitrary request bodies (random bytes, random JSON, GraphQL-looking token soup) through
/// the request parser and the GraphQL parser: the server never fails, and always answers
/// with a JSON error carrying a code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_bodies_always_get_a_json_error_sqlite() {
    use proptest::{
        prelude::*,
        strategy::ValueTree,
        test_runner::{Config, TestRunner},
    };
    let Some(app) = crate::helpers::spawn_app(Backend::Sqlite).await else { return };
    let tokens: Vec<&'static str> = vec![
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        "query",
        "mutation",
        "subscription",
        "fragment",
        "on",
        "...",
        "$v",
        ":",
        "!",
        "\"",
        "\"\"\"",
        "@skip(if: true)",
        "me",
        "cases",
        "login",
        "__schema",
        "__typename",
        "first: 99999999999",
        "#",
        "\\u0000",
        "é",
        "长",
        "1e999",
        "-0",
        "null",
        ",",
        "=",
        "|",
        "&",
        "\n",
    ];
    let soup = proptest::collection::vec(proptest::sample::select(tokens), 0..60).prop_map(|parts| parts.join(" "));
    let bodies = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2048),
        any::<String>().prop_map(|s| serde_json::to_vec(&json!({ "query": s })).expect("json")),
        soup.clone().prop_map(|q| serde_json::to_vec(&json!({ "query": q })).expect("json")),
        (soup, any::<String>(), any::<i64>()).prop_map(|(q, name, n)| {
            serde_json::to_vec(&json!({ "query": q, "operationName": name, "variables": { "v": n, "w": [name] } })).expect("json")
        }),
        Just(b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]".to_vec()),
        Just(br#"{"query": 5, "variables": "nope"}"#.to_vec()),
    ];
    let content_types = [
        "application/json",
        "application/graphql-response+json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
    ];
    let mut runner = TestRunner::new(Config { failure_persistence: None, ..Config::default() });
    let mut failures = Vec::new();
    for i in 0..400 {
        let body = bodies.new_tree(&mut runner).expect("case").current();
        let content_type = content_types[i % content_types.len()];
        let response = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        let answer: Option<Value> = response.json().await.ok();
        let code = answer.as_ref().and_then(|a| a["errors"][0]["extensions"]["code"].as_str().map(str::to_string));
        let fine = status < 500 && code.as_deref().is_some_and(|c| c != "INTERNAL");
        if !fine {
            failures.push(format!(
                "HTTP {status} code {code:?} for {content_type} body {:?}",
                String::from_utf8_lossy(&body)
            ));
        }
    }
    assert!(failures.is_empty(), "{} bodies mishandled:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(app.client.get(app.url("/healthz")).send().await.expect("healthz").status(), 200);
}
