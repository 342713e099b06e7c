//! The job queue (issue 25, step 1): emails are jobs; administrators see the queue without
//! payloads; scheduled jobs, dedupe keys, ordering keys, cancel and reschedule; a job that
//! keeps failing is parked. Tests drain the queue (`run_pending_jobs`) instead of waiting.

use std::time::Duration;

use onestop::platform::{
    jobs::{self, Options, Waiting},
    notify::EmailPayload,
};
use serde_json::{Value, json};

use crate::{
    both_backends,
    helpers::{Backend, TestApp, spawn_app_with, spawn_app_without_jobs},
};

both_backends!(administrators_see_the_queue_and_nobody_else_does);
both_backends!(scheduled_deduplicated_ordered_and_cancelled_jobs_run_as_asked);
both_backends!(a_job_that_keeps_failing_is_parked_with_its_error);
both_backends!(the_sweep_is_one_job_a_slot_and_old_finished_jobs_go);

const JOBS: &str = "query($s: JobState, $first: Int, $after: String) { jobs(state: $s, first: $first, after: $after) {
    nodes { id kind state runAt attempts lastError createdAt } pageInfo { hasNextPage endCursor } } }";

fn email(to: &str, subject: &str) -> EmailPayload {
    EmailPayload {
        to: to.into(),
        subject: subject.into(),
        text: format!("{subject} (text)"),
        html: format!("<p>{subject}</p>"),
    }
}

async fn enqueue(app: &TestApp, job: &EmailPayload, options: Options<'_>) -> Option<uuid::Uuid> {
    jobs::enqueue(&app.state.db, job, options).await.map_err(|e| e.detail()).expect("enqueue")
}

async fn jobs_in(app: &TestApp, token: &str, state: Option<&str>) -> Vec<Value> {
    let answer = app.gql(JOBS, json!({ "s": state, "first": 100 }), Some(token)).await;
    answer.data()["jobs"]["nodes"].as_array().expect("nodes").clone()
}

async fn subjects(app: &TestApp) -> Vec<String> {
    app.smtp.all().await.iter().map(|m| m.subject().to_string()).collect()
}

async fn administrators_see_the_queue_and_nobody_else_does(backend: Backend) {
    let Some(app) = spawn_app_without_jobs(backend).await else { return };
    let admin = app.admin_token().await;
    let merchant = app.merchant("queue@example.cn", "510100", None).await;
    let officer = app.staff("queue-officer@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;
    app.run_pending_jobs().await;
    let of_kind = |jobs: Vec<Value>, kind: &str| jobs.into_iter().filter(|j| j["kind"] == kind).collect::<Vec<_>>();
    let done = of_kind(jobs_in(&app, &admin, Some("DONE")).await, "email");
    assert!(!done.is_empty() && done.iter().all(|j| j["state"] == "DONE" && j["attempts"] == 1), "{done:?}");
    let later = chrono::Utc::now() + chrono::Duration::hours(2);
    enqueue(&app, &email("later@example.cn", "Later"), Options { run_at: Some(later), ..Default::default() }).await;
    let scheduled = jobs_in(&app, &admin, Some("SCHEDULED")).await;
    assert_eq!(of_kind(scheduled.clone(), "email").len(), 1, "{scheduled:?}");
    assert_eq!(of_kind(scheduled, "sweep").len(), 1, "the next slot's sweep");
    assert_eq!(jobs_in(&app, &admin, Some("DUE")).await.len(), 0);
    // Newest first, paged; no payload anywhere: no recipient, no subject, no text.
    let first = app.gql(JOBS, json!({ "first": 1 }), Some(&admin)).await;
    let newest = first.data()["jobs"]["nodes"][0].clone();
    assert_eq!(
        (newest["kind"].as_str(), newest["state"].as_str()),
        (Some("email"), Some("SCHEDULED")),
        "the last enqueued"
    );
    let cursor = first.data()["jobs"]["pageInfo"]["endCursor"].clone();
    let next = app.gql(JOBS, json!({ "first": 1, "after": cursor }), Some(&admin)).await;
    let older = next.data()["jobs"]["nodes"][0].clone();
    assert!(
        older["id"] != newest["id"] && older["createdAt"].as_str() <= newest["createdAt"].as_str(),
        "{older} after {newest}"
    );
    let everything = app.gql(JOBS, json!({ "first": 100 }), Some(&admin)).await.0.to_string();
    for secret in ["later@example.cn", "queue@example.cn", "Later", "token="] {
        assert!(!everything.contains(secret), "{secret} shown: {everything}");
    }
    let fields = app.gql("{ __type(name: \"Job\") { fields { name } } }", json!({}), Some(&admin)).await;
    assert!(!fields.0.to_string().contains("payload"), "no payload field: {}", fields.0);
    // Every other caller is refused.
    assert_eq!(app.gql(JOBS, json!({}), Some(&merchant.token)).await.error_code(), "FORBIDDEN");
    assert_eq!(app.gql(JOBS, json!({}), Some(&officer.token)).await.error_code(), "FORBIDDEN");
    assert_eq!(app.gql(JOBS, json!({}), None).await.error_code(), "UNAUTHENTICATED");
}

async fn scheduled_deduplicated_ordered_and_cancelled_jobs_run_as_asked(backend: Backend) {
    let Some(app) = spawn_app_without_jobs(backend).await else { return };
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    // A scheduled job holds back the later jobs of its ordering key, not the others.
    let first = enqueue(
        &app,
        &email("a@example.cn", "A"),
        Options { run_at: Some(later), ordering_key: Some("endpoint:1"), ..Default::default() },
    )
    .await;
    enqueue(&app, &email("b@example.cn", "B"), Options { ordering_key: Some("endpoint:1"), ..Default::default() })
        .await;
    enqueue(&app, &email("c@example.cn", "C"), Options::default()).await;
    app.run_pending_jobs().await;
    assert_eq!(subjects(&app).await, ["C"], "A is scheduled later, and B waits for A");
    let moved = jobs::reschedule(&app.state.db, Waiting::Id(first.expect("id")), chrono::Utc::now())
        .await
        .map_err(|e| e.detail())
        .expect("reschedule");
    assert_eq!(moved, 1);
    app.run_pending_jobs().await;
    assert_eq!(subjects(&app).await, ["C", "A", "B"], "A before B: they share an ordering key");

    // A running job of the key holds back the others, whenever they were enqueued (another
    // runner's transaction may commit after a later one's).
    let x =
        enqueue(&app, &email("x@example.cn", "X"), Options { ordering_key: Some("endpoint:2"), ..Default::default() })
            .await
            .expect("x");
    let y =
        enqueue(&app, &email("y@example.cn", "Y"), Options { ordering_key: Some("endpoint:2"), ..Default::default() })
            .await
            .expect("y");
    app.update_row(
        "jobs",
        "state = 'RUNNING', attempts = 1, lease_until = '2999-01-01 00:00:00+00:00'",
        &y.to_string(),
    )
    .await;
    app.run_pending_jobs().await;
    assert_eq!(subjects(&app).await, ["C", "A", "B"], "X waits while Y runs elsewhere");
    app.update_row("jobs", "state = 'DONE', lease_until = NULL", &y.to_string()).await;
    app.run_pending_jobs().await;
    assert_eq!(subjects(&app).await, ["C", "A", "B", "X"]);
    let _ = x;

    // A dedupe key enqueues once, however often it is asked, done or not.
    let key = Some("licence:7:30d");
    let reminder = Options { run_at: Some(later), dedupe_key: key, ..Default::default() };
    assert!(enqueue(&app, &email("d@example.cn", "D"), reminder).await.is_some());
    assert!(enqueue(&app, &email("d@example.cn", "D"), reminder).await.is_none());
    assert!(
        enqueue(&app, &email("d@example.cn", "D"), Options { dedupe_key: Some("once"), ..Default::default() })
            .await
            .is_some()
    );
    app.run_pending_jobs().await;
    assert!(
        enqueue(&app, &email("d@example.cn", "D"), Options { dedupe_key: Some("once"), ..Default::default() })
            .await
            .is_none()
    );
    // Cancelling by prefix removes the waiting reminders of licence 7 only.
    enqueue(
        &app,
        &email("e@example.cn", "E"),
        Options { run_at: Some(later), dedupe_key: Some("licence:70:30d"), ..Default::default() },
    )
    .await;
    let cancelled =
        jobs::cancel(&app.state.db, Waiting::DedupePrefix("licence:7:")).await.map_err(|e| e.detail()).expect("cancel");
    assert_eq!(cancelled, 1);
    assert_eq!(app.count_where("jobs", "dedupe_key = 'licence:70:30d'").await, 1);
    assert_eq!(app.count_where("jobs", "dedupe_key = 'licence:7:30d'").await, 0);
    assert_eq!(subjects(&app).await, ["C", "A", "B", "X", "D"]);
}

async fn a_job_that_keeps_failing_is_parked_with_its_error(backend: Backend) {
    // SMTP is down (a port nothing listens on); two attempts, the retry due at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("probe").local_addr().expect("addr").port();
    let Some(app) = spawn_app_with(backend, |c| {
        c.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        c.mail.max_attempts = 2;
        c.mail.retry_base = Duration::ZERO;
        c.run_jobs = false;
        c.sweep_interval = Duration::from_secs(3600);
    })
    .await
    else {
        return;
    };
    let admin = app.admin_token().await;
    enqueue(&app, &email("down@example.cn", "Down"), Options::default()).await;
    app.run_pending_jobs().await;
    let parked = jobs_in(&app, &admin, Some("PARKED")).await;
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(parked[0]["attempts"], 2);
    assert!(parked[0]["lastError"].as_str().is_some_and(|e| !e.is_empty()), "{parked:?}");
    assert!(app.smtp.all().await.is_empty());
    app.run_pending_jobs().await;
    assert_eq!(jobs_in(&app, &admin, Some("PARKED")).await[0]["attempts"], 2, "a parked job is not run again");
}

/// The deadline sweep is a job per slot of the sweep interval, enqueued once however many
/// instances start (its dedupe key), each scheduling the next; the sweep removes jobs finished
/// more than 30 days ago.
async fn the_sweep_is_one_job_a_slot_and_old_finished_jobs_go(backend: Backend) {
    use onestop::services::deadlines::{Sweep, sweep};
    let Some(app) = spawn_app_without_jobs(backend).await else { return };
    app.run_pending_jobs().await;
    let slot = Sweep::slot_of(&app.state, chrono::Utc::now());
    for _ in 0..3 {
        Sweep::start(&app.state).await.map_err(|e| e.detail()).expect("start");
    }
    assert_eq!(
        app.count_where("jobs", &format!("kind = 'sweep' AND dedupe_key = 'sweep:{slot}'")).await,
        1,
        "one a slot"
    );
    assert_eq!(
        app.count_where("jobs", &format!("kind = 'sweep' AND dedupe_key = 'sweep:{}' AND state = 'QUEUED'", slot + 1))
            .await,
        1,
        "the next is scheduled"
    );

    let old = enqueue(&app, &email("old@example.cn", "Old"), Options::default()).await.expect("id");
    let recent = enqueue(&app, &email("recent@example.cn", "Recent"), Options::default()).await.expect("id");
    app.run_pending_jobs().await;
    app.update_row("jobs", "finished_at = '2000-01-01 00:00:00+00:00'", &old.to_string()).await;
    sweep(&app.state).await.map_err(|e| e.detail()).expect("sweep");
    let id_is = |id: uuid::Uuid| match backend {
        Backend::Postgres => format!("id = '{id}'"),
        Backend::Sqlite => format!("id = X'{}'", id.simple()),
    };
    assert_eq!(app.count_where("jobs", &id_is(old)).await, 0, "finished long ago: removed");
    assert_eq!(app.count_where("jobs", &id_is(recent)).await, 1, "finished now: kept");
}
