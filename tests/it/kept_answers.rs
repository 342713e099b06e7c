//! Answers kept between requests (issue 15, PostgreSQL): a read asked again with the same
//! token is answered from memory — and never after anything it may have read changed, on
//! this instance or another, through the API or by SQL behind the servers' backs; never for
//! another token; never an error. SQLite keeps nothing.

use std::time::Duration;

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::{
    both_backends,
    fixtures::filing_of,
    helpers::{Backend, Gql, ServeProcess, TestApp, free_port, gql_at, spawn_app_with},
};

both_backends!(a_repeated_read_is_answered_from_memory_until_anything_changes);

const QUEUE: &str = "{ reviewQueue(first: 20) { nodes { id status dueAt assignee { email } } } }";

/// Statements the server ran for one request, and its answer.
async fn costs(app: &TestApp, query: &str, variables: Value, token: &str) -> (u64, Gql) {
    let before = app.state.sql_statements.load(std::sync::atomic::Ordering::SeqCst);
    let answer = app.gql(query, variables, Some(token)).await;
    (app.state.sql_statements.load(std::sync::atomic::Ordering::SeqCst) - before, answer)
}

/// Asks until an answer costs no statement (the listener may still be starting), at most 3 s.
async fn kept(app: &TestApp, query: &str, variables: Value, token: &str) -> Gql {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let (statements, answer) = costs(app, query, variables.clone(), token).await;
        if statements == 0 {
            return answer;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {statements} statements after 3 s: nothing kept");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn a_repeated_read_is_answered_from_memory_until_anything_changes(backend: Backend) {
    // Kept for a minute: only a change can make an answer fresh again in this test.
    let Some(app) = spawn_app_with(backend, |c| c.answer_cache_ttl = Duration::from_secs(60)).await else { return };
    let merchant = app.merchant("answers@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let officer = app.staff("answers-customs@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;
    let (case_id, filings) = app.submitted_case(&merchant, &["CUSTOMS"]).await;
    let filing = filing_of(&filings, "CUSTOMS");
    let filing_id = filing["id"].as_str().expect("id").to_string();

    let first = app.gql(QUEUE, json!({}), Some(&officer.token)).await;
    assert_eq!(first.data()["reviewQueue"]["nodes"][0]["status"], "SUBMITTED");
    if backend == Backend::Sqlite {
        for _ in 0..3 {
            let (statements, again) = costs(&app, QUEUE, json!({}), &officer.token).await;
            assert!(statements > 0, "SQLite keeps no answer");
            assert_eq!(again.0, first.0);
        }
        return;
    }
    let again = kept(&app, QUEUE, json!({}), &officer.token).await;
    assert_eq!(again.0, first.0, "the kept answer is the answer");

    // Another token with the same document: its own answer (another region sees nothing).
    let far = app.staff("answers-far@gov.cn", "OFFICER", "CUSTOMS", &["530100"]).await;
    let (statements, theirs) = costs(&app, QUEUE, json!({}), &far.token).await;
    assert!(statements > 0);
    assert_eq!(theirs.data()["reviewQueue"]["nodes"], json!([]));
    // Errors are never kept.
    let read = "query($id: ID!) { case(id: $id) { reference } }";
    for _ in 0..2 {
        let (statements, answer) = costs(&app, read, json!({ "id": case_id }), &far.token).await;
        assert_eq!(answer.error_code(), "NOT_FOUND");
        assert!(statements > 0, "an error is computed every time");
    }

    // A mutation on this instance: the next read shows it at once.
    app.decide(&officer.token, "claimFiling", &filing_id, filing["version"].as_i64().expect("v"), None).await.data();
    let (statements, claimed) = costs(&app, QUEUE, json!({}), &officer.token).await;
    assert!(statements > 0, "the claim dropped the kept answer");
    let node = &claimed.data()["reviewQueue"]["nodes"][0];
    assert_eq!((node["status"].as_str(), node["assignee"]["email"].as_str()), (Some("UNDER_REVIEW"), Some("answers-customs@gov.cn")));
    kept(&app, QUEUE, json!({}), &officer.token).await;

    // A write through the server's pool outside any request (as a background worker's): at
    // once too, without waiting for PostgreSQL's notification.
    let due = "2030-01-02T03:04:05Z";
    sql(&app, &format!("UPDATE filings SET due_at = '{due}' WHERE id = '{filing_id}'")).await;
    let (_, moved) = costs(&app, QUEUE, json!({}), &officer.token).await;
    assert!(moved.data()["reviewQueue"]["nodes"][0]["dueAt"].as_str().is_some_and(|d| d.starts_with("2030-01-02T03:04:05")), "{moved:?}");

    // Access taken away: the kept answer is not served to a caller who lost the region.
    kept(&app, QUEUE, json!({}), &officer.token).await;
    sql(&app, &format!("DELETE FROM user_regions WHERE user_id = '{}'", officer.id)).await;
    let (_, after) = costs(&app, QUEUE, json!({}), &officer.token).await;
    assert_eq!(after.data()["reviewQueue"]["nodes"], json!([]), "{after:?}");
}

/// One statement on the server's own pool (its statement callback sees it).
async fn sql(app: &TestApp, statement: &str) {
    let backend = app.state.db.get_database_backend();
    app.state.db.execute_raw(sea_orm::Statement::from_string(backend, statement)).await.expect(statement);
}

const METRICS_TOKEN: &str = "kept-answers-test-metrics-token";

/// `onestop_kept_answers_total{outcome="hit"}` of the server at `base`.
async fn hits(base: &str) -> u64 {
    let request = reqwest::Client::new().get(format!("{base}/metrics")).bearer_auth(METRICS_TOKEN);
    let text = request.send().await.expect("metrics").text().await.expect("text");
    text.lines()
        .find(|l| l.starts_with("onestop_kept_answers_total") && l.contains("outcome=\"hit\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A claim on one instance reaches the answers another instance kept, through PostgreSQL's
/// notification (kept for a minute there: nothing else could make them fresh).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_another_instance_drops_the_answers_kept_there_postgres() {
    let Some(app) = spawn_app_with(Backend::Postgres, |c| c.answer_cache_ttl = Duration::from_secs(60)).await else { return };
    let data = tempfile::tempdir().expect("tempdir");
    let env = [("ONESTOP_ANSWER_CACHE_MS", "60000"), ("ONESTOP_METRICS_TOKEN", METRICS_TOKEN)];
    let other = ServeProcess::start(&app, data.path(), free_port(), &env, std::process::Stdio::null()).ready().await;
    let two = other.base_url.as_str();
    let merchant = app.merchant("answers2@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let officer = app.staff("answers2-customs@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;
    let (_, filings) = app.submitted_case(&merchant, &["CUSTOMS"]).await;
    let filing = filing_of(&filings, "CUSTOMS");

    let status = |answer: &Value| answer["data"]["reviewQueue"]["nodes"][0]["status"].as_str().map(str::to_string);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let before = hits(two).await;
        let answer = gql_at(two, Some(&officer.token), QUEUE, json!({})).await;
        assert_eq!(status(&answer).as_deref(), Some("SUBMITTED"), "{answer}");
        if hits(two).await > before {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the other instance keeps no answer");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    app.decide(&officer.token, "claimFiling", filing["id"].as_str().expect("id"), filing["version"].as_i64().expect("v"), None).await.data();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let answer = gql_at(two, Some(&officer.token), QUEUE, json!({})).await;
        if status(&answer).as_deref() == Some("UNDER_REVIEW") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the other instance still answers {answer} 3 s after the claim");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Every table but the logs, queues and secrets no answer reads has migration 28's trigger —
/// a table added later without one would let kept answers go stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_but_the_logs_notifies_its_changes_postgres() {
    let Some(app) = crate::helpers::spawn_idle_app(Backend::Postgres).await else { return };
    let rows = app
        .state
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT t.tablename FROM pg_tables t WHERE t.schemaname = current_schema() AND NOT EXISTS \
             (SELECT 1 FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid \
              WHERE c.relname = t.tablename AND g.tgname = t.tablename || '_data_changed') ORDER BY 1",
        ))
        .await
        .expect("tables");
    let silent: Vec<String> = rows.iter().map(|r| r.try_get::<String>("", "tablename").expect("name")).collect();
    let mut unwatched: Vec<String> = onestop::platform::answers::UNWATCHED_TABLES.iter().map(|t| t.to_string()).collect();
    unwatched.sort();
    assert_eq!(silent, unwatched);
}
