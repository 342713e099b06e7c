//! Rate limits shared by instances through Redis (`ONESTOP_REDIS_URL`): two instances on one
//! database and one Redis (started by the test) allow together what one allows; without Redis
//! each counts alone; when Redis stops answering, public pages stay up and sign-in refuses.

use serde_json::json;

use crate::{
    both_backends,
    helpers::{Backend, ExtraServer, RedisServer, TestApp, gql_at, spawn_app_with},
};

both_backends!(
    two_instances_on_one_redis_share_the_login_and_public_page_limits,
    without_redis_each_instance_counts_alone,
    when_redis_stops_answering_public_pages_stay_up_and_sign_in_refuses,
);

const LOGIN: &str = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";

async fn login_code(base_url: &str, email: &str) -> String {
    let answer = gql_at(base_url, None, LOGIN, json!({ "e": email, "p": "Not-The-Password-1" })).await;
    answer["errors"][0]["extensions"]["code"].as_str().unwrap_or("none").to_string()
}

/// The public certificate check of a number nobody holds: 404, or 429 when over the limit.
async fn certificate_status(base_url: &str) -> u16 {
    let url = format!("{base_url}/c/CIQ5101002026000001");
    let response = reqwest::Client::new().get(url).header("accept", "application/json").send().await.expect("GET");
    response.status().as_u16()
}

/// The app and a second instance of it on the same database, both configured by `adjust`.
async fn two_instances(
    backend: Backend,
    adjust: impl Fn(&mut onestop::config::Config) + Clone,
) -> Option<(TestApp, ExtraServer)> {
    let app = spawn_app_with(backend, adjust.clone()).await?;
    let mut config = crate::helpers::test_config(&app.db.url, app.db.dir(), 0);
    adjust(&mut config);
    let second = ExtraServer::start(config).await;
    Some((app, second))
}

fn limits(redis: Option<String>) -> impl Fn(&mut onestop::config::Config) + Clone {
    move |config| {
        config.login_per_account_per_minute = 4;
        config.trace.scans_per_minute = 4;
        config.redis = redis
            .clone()
            .map(|url| onestop::config::RedisConfig { url, timeout: std::time::Duration::from_millis(500) });
    }
}

async fn two_instances_on_one_redis_share_the_login_and_public_page_limits(backend: Backend) {
    let redis = RedisServer::start().await;
    let Some((app, second)) = two_instances(backend, limits(Some(redis.url.clone()))).await else { return };
    // Four attempts in all, alternating: each instance has seen two, the account four.
    for base in [&app.base_url, &second.base_url, &app.base_url, &second.base_url] {
        assert_eq!(login_code(base, "shared@example.cn").await, "UNAUTHENTICATED");
    }
    for base in [&app.base_url, &second.base_url] {
        assert_eq!(login_code(base, "shared@example.cn").await, "RATE_LIMITED", "the account's budget is spent");
    }
    assert_eq!(login_code(&second.base_url, "other@example.cn").await, "UNAUTHENTICATED", "other accounts are not");
    for base in [&app.base_url, &second.base_url, &app.base_url, &second.base_url] {
        assert_eq!(certificate_status(base).await, 404);
    }
    assert_eq!(certificate_status(&app.base_url).await, 429, "five public requests from one address");
    assert_eq!(certificate_status(&second.base_url).await, 429);
}

async fn without_redis_each_instance_counts_alone(backend: Backend) {
    let Some((app, second)) = two_instances(backend, limits(None)).await else { return };
    for base in [&app.base_url, &second.base_url, &app.base_url, &second.base_url] {
        assert_eq!(login_code(base, "alone@example.cn").await, "UNAUTHENTICATED");
    }
    // Four in all, but two per instance: each still has two of its four.
    for base in [&app.base_url, &second.base_url] {
        assert_eq!(login_code(base, "alone@example.cn").await, "UNAUTHENTICATED", "per-instance budgets");
    }
}

async fn when_redis_stops_answering_public_pages_stay_up_and_sign_in_refuses(backend: Backend) {
    let mut redis = RedisServer::start().await;
    let Some(app) = spawn_app_with(backend, limits(Some(redis.url.clone()))).await else { return };
    assert_eq!(login_code(&app.base_url, "outage@example.cn").await, "UNAUTHENTICATED", "Redis answers");
    redis.kill();
    for _ in 0..6 {
        // More than the quota of 4: nothing is counted while Redis is away, and the page serves.
        assert_eq!(certificate_status(&app.base_url).await, 404, "public pages fail open");
    }
    let refused = app.gql(LOGIN, json!({ "e": "outage@example.cn", "p": "Not-The-Password-1" }), None).await;
    assert_eq!(refused.error_code(), "SERVICE_UNAVAILABLE", "sign-in fails closed");
    let reset =
        app.gql("mutation($e: String!) { requestPasswordReset(email: $e) }", json!({ "e": "x@example.cn" }), None);
    assert_eq!(reset.await.error_code(), "SERVICE_UNAVAILABLE", "so do reset requests");
    let token = app.client.post(app.url("/oauth/token")).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", "cl_unknown"),
        ("client_secret", "secret"),
    ]);
    assert_eq!(token.send().await.expect("POST").status(), 503, "and the token endpoint");
    // Both outcomes are counted for operators (and logged).
    let metrics_url = app.metrics_url.clone().expect("metrics listener");
    let metrics = app.client.get(metrics_url).send().await.expect("metrics").text().await.expect("text");
    // (The address is checked before the account, so the refusal is the address limit's.)
    for (limit, outcome) in [("public-pages", "allowed"), ("login-address", "refused")] {
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with("onestop_rate_limit_backend_failures_total")
                    && l.contains(&format!("limit=\"{limit}\""))
                    && l.contains(&format!("outcome=\"{outcome}\""))
            })
            .unwrap_or_else(|| panic!("no failure count for {limit}/{outcome} in:\n{metrics}"));
        let count: f64 = line.rsplit(' ').next().and_then(|v| v.parse().ok()).expect("a count");
        assert!(count >= 1.0, "{line}");
    }
}
