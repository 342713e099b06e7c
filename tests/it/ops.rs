//! Health, readiness, metrics, request ids, request limits, and the email outbox under SMTP
//! failure.

use std::time::Duration;

use serde_json::json;

use crate::{
    both_backends,
    helpers::{Backend, GOOD_PASSWORD, TestDb, spawn_app, spawn_app_with, start, test_config},
    smtp::SmtpSink,
};

both_backends!(
    graphiql_needs_nothing_but_this_server,
    logins_are_throttled_per_account_without_locking_others_out,
    deep_or_costly_queries_are_refused,
    health_metrics_and_request_ids,
    metrics_on_the_main_listener_need_the_token,
    readyz_turns_503_when_the_database_is_gone,
    email_waits_out_an_smtp_outage_and_is_delivered_once,
    malformed_and_oversized_requests_get_clear_errors,
);

/// With `ONESTOP_METRICS_TOKEN` the main listener answers `/metrics` to that bearer token only;
/// `ONESTOP_METRICS_BIND=off` leaves no listener of its own.
async fn metrics_on_the_main_listener_need_the_token(backend: Backend) {
    const TOKEN: &str = "a-metrics-token-of-32-characters";
    let Some(app) = spawn_app_with(backend, |c| {
        c.metrics = onestop::config::MetricsConfig { bind: None, token: Some(TOKEN.into()) }
    })
    .await
    else {
        return;
    };
    assert!(app.metrics_url.is_none());
    let get = |token: Option<&str>| {
        let request = app.client.get(app.url("/metrics"));
        let request = match token {
            Some(t) => request.bearer_auth(t),
            None => request,
        };
        async move { request.send().await.expect("metrics") }
    };
    assert_eq!(get(None).await.status(), 404);
    assert_eq!(get(Some("a-metrics-token-of-32-characterz")).await.status(), 404);
    assert_eq!(get(Some(&TOKEN[..20])).await.status(), 404);
    let answer = get(Some(TOKEN)).await;
    assert_eq!(answer.status(), 200);
    assert!(answer.text().await.expect("text").contains("onestop_"));
}

async fn health_metrics_and_request_ids(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let health = app.client.get(app.url("/healthz")).send().await.expect("healthz");
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 200);

    let given =
        app.client.get(app.url("/healthz")).header("x-request-id", "trace-abc-123").send().await.expect("healthz");
    assert_eq!(given.headers()["x-request-id"], "trace-abc-123");
    let made = app.client.get(app.url("/healthz")).send().await.expect("healthz");
    let made_id = made.headers()["x-request-id"].to_str().expect("ascii").to_string();
    assert!(uuid::Uuid::parse_str(&made_id).is_ok(), "generated ids are UUIDs: {made_id}");
    let hostile =
        app.client.get(app.url("/healthz")).header("x-request-id", "bad id with spaces").send().await.expect("healthz");
    assert_ne!(hostile.headers()["x-request-id"], "bad id with spaces");

    app.gql("query { validateUscc(code: \"91510100MA61R2XX0X\") }", json!({}), None).await.data();
    // Outside review 2, finding 3: the main listener keeps /metrics to itself.
    assert_eq!(app.client.get(app.url("/metrics")).send().await.expect("metrics").status(), 404);
    let metrics = app.client.get(app.metrics_url.as_deref().expect("metrics listener")).send().await.expect("metrics");
    assert_eq!(metrics.status(), 200);
    let body = metrics.text().await.expect("text");
    assert!(body.contains("onestop_graphql_requests_total{operation=\"query validateUscc\",outcome=\"ok\"}"), "{body}");
    assert!(body.contains("onestop_graphql_request_duration_seconds_bucket{operation=\"query validateUscc\""));
}

/// The attribute values `name="…"` of an HTML page, in order.
fn attributes(html: &str, name: &str) -> Vec<String> {
    let marker = format!("{name}=\"");
    html.match_indices(&marker)
        .filter_map(|(at, _)| html[at + marker.len()..].split('"').next().map(str::to_string))
        .collect()
}

/// GraphiQL on an intranet without internet: every script and style the page references comes
/// from this server, and its CSP allows nothing else.
async fn graphiql_needs_nothing_but_this_server(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let page = app.client.get(app.url("/graphql")).send().await.expect("graphiql");
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().expect("csp").to_string();
    assert!(csp.contains("script-src 'self';") && !csp.contains("http"), "{csp}");
    let html = page.text().await.expect("html");
    let referenced: Vec<String> = attributes(&html, "src").into_iter().chain(attributes(&html, "href")).collect();
    assert_eq!(referenced.len(), 6, "four scripts and two stylesheets: {referenced:?}");
    for path in &referenced {
        assert!(path.starts_with("/graphql/assets/"), "{path} is not served here");
        let asset = app.client.get(app.url(path)).send().await.expect("asset");
        assert_eq!(asset.status(), 200, "{path}");
        let content_type = asset.headers()["content-type"].to_str().expect("type").to_string();
        let expected = if path.ends_with(".css") { "text/css" } else { "text/javascript" };
        assert!(content_type.starts_with(expected), "{path}: {content_type}");
        let body = asset.text().await.expect("body");
        assert!(!body.is_empty(), "{path} is empty");
        if path.ends_with("graphiql.min.js") {
            assert!(
                body.contains("GraphiQL=t(e.React,e.ReactDOM)"),
                "the browser build of GraphiQL, which needs React and ReactDOM only"
            );
        }
    }
    let start =
        app.client.get(app.url("/graphql/assets/start.js")).send().await.expect("start").text().await.expect("js");
    assert!(start.contains("\"/graphql/ws\"") && start.contains("\"/graphql\""), "GraphiQL talks to this server");
    assert_eq!(app.client.get(app.url("/graphql/assets/nothing.js")).send().await.expect("404").status(), 404);

    // GraphiQL's schema query (graphql-js getIntrospectionQuery) is deeper than the depth limit
    // for data; a document that only introspects gets the room it needs, nothing else does.
    let type_ref = (0..8).fold(String::from("kind name"), |inner, _| format!("kind name ofType {{ {inner} }}"));
    let introspection = format!(
        "query IntrospectionQuery {{ __schema {{ queryType {{ name }} mutationType {{ name }} subscriptionType {{ name }} \
         types {{ kind name description fields(includeDeprecated: true) {{ name args {{ name type {{ {type_ref} }} }} type {{ {type_ref} }} }} \
         inputFields {{ name type {{ {type_ref} }} }} interfaces {{ {type_ref} }} enumValues(includeDeprecated: true) {{ name }} possibleTypes {{ {type_ref} }} }} \
         directives {{ name locations args {{ name type {{ {type_ref} }} }} }} }} }}"
    );
    let schema = app.gql(&introspection, json!({}), None).await;
    assert!(schema.data()["__schema"]["types"].as_array().is_some_and(|t| t.len() > 50), "GraphiQL loads the schema");
    let deep_data = format!("{{ me {{ id }} __schema {{ types {{ fields {{ type {{ {type_ref} }} }} }} }} }}");
    assert_eq!(
        app.gql(&deep_data, json!({}), None).await.error_code(),
        "QUERY_TOO_DEEP",
        "data beside introspection keeps the limit"
    );
}

async fn readyz_turns_503_when_the_database_is_gone(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    assert_eq!(app.client.get(app.url("/readyz")).send().await.expect("readyz").status(), 200);
    match backend {
        // The database server side goes away: the test database is dropped under the app.
        Backend::Postgres => {
            let name = app.db.url.rsplit('/').next().expect("db name").to_string();
            crate::helpers::drop_pg_database(&name);
        }
        // An embedded SQLite cannot be "unreachable"; closing the pool is the nearest fault.
        Backend::Sqlite => app.state.db.close_by_ref().await.expect("close"),
    }
    let started = std::time::Instant::now();
    let ready = app.client.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 503);
    assert!(app.client.get(app.url("/healthz")).send().await.expect("healthz").status() == 200);

    // Requests that need the database fail with a code, not a hang or a leaked message.
    let login = app.login("x@example.cn", GOOD_PASSWORD).await;
    let code = login.error_code();
    assert!(code == "SERVICE_UNAVAILABLE" || code == "INTERNAL", "got {code}");
    assert!(login.0["errors"][0]["extensions"]["requestId"].is_string());
    assert!(!login.error_message().to_lowercase().contains("sql"), "{}", login.error_message());
    assert!(started.elapsed() < Duration::from_secs(20), "fails fast");
}

async fn email_waits_out_an_smtp_outage_and_is_delivered_once(backend: Backend) {
    onestop::install_crypto_provider();
    let Some(db) = TestDb::create_for_test(backend).await else { return };
    // A port with nothing listening: SMTP is down.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
        probe.local_addr().expect("addr").port()
    };
    let config = test_config(&db.url, db.dir(), port);
    let smtp = SmtpSink::default();
    let app = start(db, smtp.clone(), config).await;

    app.register("outage@example.cn", GOOD_PASSWORD, "Outage").await.data();
    // Two attempts, the second after its backoff: both fail, the message is kept.
    app.run_pending_jobs().await;
    app.later(Duration::from_secs(3600)).await;
    let row = app.query_row("SELECT attempts, state, last_error FROM jobs WHERE kind = 'email'").await;
    let attempts: i32 = row.try_get("", "attempts").expect("attempts");
    let state: String = row.try_get("", "state").expect("state");
    assert_eq!((attempts, state.as_str()), (2, "QUEUED"), "a failed send keeps the message for its retry");
    let error: Option<String> = row.try_get("", "last_error").expect("last_error");
    assert!(error.is_some(), "the failure is recorded");
    assert!(smtp.all().await.is_empty());

    // SMTP comes back on the same port: at its next retry the message goes out, exactly once.
    smtp.start_on(port).await;
    assert!(app.run_pending_jobs().await == 0, "the retry waits for its time");
    app.later(Duration::from_secs(3600)).await;
    let mails = app.mail_for("outage@example.cn", 1).await;
    assert!(mails[0].subject().contains("Verify"));
    app.later(Duration::from_secs(3600)).await;
    assert_eq!(smtp.all().await.len(), 1, "delivered once, not again on later passes");
    let sent = app
        .query_row("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'email' AND state = 'DONE' AND finished_at IS NOT NULL")
        .await;
    assert_eq!(sent.try_get::<i64>("", "n").expect("n"), 1);
}

async fn malformed_and_oversized_requests_get_clear_errors(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let unknown = app.gql("{ nonsense }", json!({}), None).await;
    assert_eq!(unknown.error_code(), "BAD_REQUEST");
    let wrong_type = app.gql("mutation { login(email: 5, password: \"x\") { accessToken } }", json!({}), None).await;
    assert_eq!(wrong_type.error_code(), "BAD_REQUEST");
    let missing_var =
        app.gql("mutation($e: String!) { login(email: $e, password: \"x\") { accessToken } }", json!({}), None).await;
    assert_eq!(missing_var.error_code(), "BAD_REQUEST");

    let not_json = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body("{ this is not json")
        .send()
        .await
        .expect("post");
    assert_eq!(not_json.status(), 400);

    // The test server caps bodies at 256 KiB; a 1 MB string is refused before parsing.
    let huge = "x".repeat(1024 * 1024);
    let too_big = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": "mutation($e: String!) { requestPasswordReset(email: $e) }", "variables": { "e": huge } }))
        .send()
        .await
        .expect("post");
    assert_eq!(too_big.status(), 413);
    assert_eq!(
        too_big.json::<serde_json::Value>().await.expect("json")["errors"][0]["extensions"]["code"],
        "BAD_REQUEST"
    );
    // An empty multipart body goes without Content-Length (the property sweep found it): a JSON
    // error too, not a bare 411.
    let no_length = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "multipart/form-data; boundary=x")
        .body("")
        .send()
        .await
        .expect("post");
    assert!(no_length.status().as_u16() < 500);
    assert!(
        no_length.json::<serde_json::Value>().await.expect("json")["errors"][0]["extensions"]["code"].is_string(),
        "a JSON error with a code"
    );
    assert_eq!(app.count_where("jobs", "kind = 'email'").await, 0);

    // A fresh connection: after a 413 the server closes the one whose body it did not read,
    // and a request sent on it meanwhile fails (seen once in a full run).
    let bad_auth = reqwest::Client::new()
        .post(app.url("/graphql"))
        .header("authorization", "Basic abc")
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .expect("post");
    let body: serde_json::Value = bad_auth.json().await.expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

async fn deep_or_costly_queries_are_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let (token, _) = app.verified_merchant("limits@example.cn").await;
    // Case → filings → case → filings … nests without end unless limited.
    let mut deep = String::from("id");
    for _ in 0..8 {
        deep = format!("filings {{ case {{ {deep} }} }}");
    }
    let answer = app.gql(&format!("{{ cases {{ nodes {{ {deep} }} }} }}"), json!({}), Some(&token)).await;
    assert_eq!(answer.error_code(), "QUERY_TOO_DEEP");
    // 100 cases × 100 merchant cases × fields: far above the budget.
    let costly = "{ cases(first: 100) { nodes { merchant { cases(first: 100) { nodes { reference status filings { kind status version } } } } } } }";
    let answer = app.gql(costly, json!({}), Some(&token)).await;
    assert_eq!(answer.error_code(), "QUERY_TOO_COMPLEX");
    app.gql("{ cases(first: 50) { nodes { reference filings { kind } } } }", json!({}), Some(&token)).await.data();
}

async fn logins_are_throttled_per_account_without_locking_others_out(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.login_per_account_per_minute = 3).await else { return };
    app.verified_merchant("target@example.cn").await;
    app.verified_merchant("bystander@example.cn").await;
    for _ in 0..2 {
        assert_eq!(app.login("target@example.cn", "Wrong-Password-123").await.error_code(), "UNAUTHENTICATED");
    }
    let limited = app.login("target@example.cn", GOOD_PASSWORD).await;
    assert_eq!(limited.error_code(), "RATE_LIMITED");
    assert!(limited.0["errors"][0]["extensions"]["retryAfter"].as_u64().is_some_and(|s| s >= 1));
    // Other accounts are not affected.
    app.login("bystander@example.cn", GOOD_PASSWORD).await.data();
    // Password reset requests are throttled the same way, account or not.
    let reset = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    for _ in 0..3 {
        assert_eq!(
            app.gql(reset, json!({ "e": "nobody@example.cn" }), None).await.data()["requestPasswordReset"],
            true
        );
    }
    assert_eq!(app.gql(reset, json!({ "e": "nobody@example.cn" }), None).await.error_code(), "RATE_LIMITED");
    // And so is the token endpoint, per client id.
    for expected in [401, 401, 401, 429] {
        let response = app
            .client
            .post(app.url("/oauth/token"))
            .form(&[("grant_type", "client_credentials"), ("client_id", "osc_guess"), ("client_secret", "guess")])
            .send()
            .await
            .expect("token");
        assert_eq!(response.status(), expected);
    }

    // Every response says: no sniffing, no framing.
    let response = app.client.get(app.url("/healthz")).send().await.expect("healthz");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    let graphiql = app.client.get(app.url("/graphql")).send().await.expect("graphiql");
    assert!(graphiql.headers()["content-security-policy"].to_str().expect("csp").contains("frame-ancestors 'none'"));
}

/// The server's connections to a PostgreSQL on this host are plain: sqlx's default would
/// encrypt every statement over loopback (the machine's PostgreSQL has `ssl = on`), which
/// protects nothing and cost a fifth of the server's CPU per request (issue 15).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_talks_to_a_postgresql_on_this_host_without_tls() {
    let Some(app) = spawn_app(Backend::Postgres).await else { return };
    app.gql("{ serviceLevels { agency } }", json!({}), None).await.data();
    let sql = "SELECT COUNT(*) AS connections, COUNT(*) FILTER (WHERE s.ssl) AS encrypted \
               FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.datname = current_database()";
    let row = app.query_row(sql).await;
    let connections: i64 = row.try_get("", "connections").expect("connections");
    let encrypted: i64 = row.try_get("", "encrypted").expect("encrypted");
    assert!(connections >= 1, "the server holds connections to its database");
    assert_eq!(encrypted, 0, "{encrypted} of {connections} connections use TLS");
}
