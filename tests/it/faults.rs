//! Faults: a PostgreSQL outage (a private server the test starts on a spare port, never the
//! machine's shared one) and a SIGKILL in the middle of a burst of state changes.

use std::{path::PathBuf, process::Command, time::Duration};

use serde_json::{Value, json};

use crate::{
    both_backends,
    fixtures::filing_data,
    helpers::{Backend, ServeProcess, TestApp, free_port, gql_at, spawn_app},
};

/// A PostgreSQL cluster of the test's own, in a temporary directory, on a spare port.
struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    /// `None` (skipped with a note) when the PostgreSQL server programs or the `postgres`
    /// account are missing outside CI; in CI that is a failure.
    fn start() -> Option<Self> {
        let Some(bin) = std::fs::read_dir("/usr/lib/postgresql").ok().and_then(|versions| {
            versions.filter_map(Result::ok).map(|v| v.path().join("bin")).filter(|b| b.join("initdb").exists()).max()
        }) else {
            assert!(std::env::var("CI").is_err(), "CI needs the PostgreSQL server programs (initdb, pg_ctl)");
            eprintln!("skipping: no PostgreSQL server programs under /usr/lib/postgresql");
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let cluster = Self { dir, bin, port };
        // initdb refuses to run as root; the cluster belongs to the `postgres` account.
        let owner = nix_ids("postgres");
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(cluster.dir.path(), Some(uid), Some(gid)).expect("chown");
        }
        let data = cluster.data().display().to_string();
        let initdb = cluster.bin.join("initdb").display().to_string();
        cluster.run(&[&initdb, "-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"]);
        cluster.pg_ctl("start");
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn run(&self, args: &[&str]) {
        let status = if nix_ids("postgres").is_some() && is_root() {
            Command::new("runuser").args(["-u", "postgres", "--"]).args(args).output()
        } else {
            Command::new(args[0]).args(&args[1..]).output()
        }
        .expect("run a PostgreSQL program");
        assert!(status.status.success(), "{args:?}: {}", String::from_utf8_lossy(&status.stderr));
    }

    fn pg_ctl(&self, action: &str) {
        let pg_ctl = self.bin.join("pg_ctl").display().to_string();
        let data = self.data().display().to_string();
        let log = self.dir.path().join("postgres.log").display().to_string();
        let options =
            format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.path().display());
        match action {
            "start" => self.run(&[&pg_ctl, "-D", &data, "-o", &options, "-l", &log, "-w", "start"]),
            _ => self.run(&[&pg_ctl, "-D", &data, "-m", "immediate", "-w", "stop"]),
        }
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let pg_ctl = self.bin.join("pg_ctl").display().to_string();
        let data = self.data().display().to_string();
        let args = [pg_ctl.as_str(), "-D", &data, "-m", "immediate", "stop"];
        let _ = if is_root() {
            Command::new("runuser").args(["-u", "postgres", "--"]).args(args).output()
        } else {
            Command::new(args[0]).args(&args[1..]).output()
        };
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The uid and gid of an account, from `id`.
fn nix_ids(user: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| {
        Command::new("id")
            .args([flag, user])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
    };
    Some((id("-u")?, id("-g")?))
}

const LOGIN: &str = "mutation { login(email: \"nobody@example.cn\", password: \"Whatever-123456\") { accessToken } }";
const REGISTER: &str = "mutation($e: String!) { registerMerchantUser(email: $e, password: \"Li-Wei-Sichuan-Pepper-2026\", displayName: \"Li\") { id } }";

async fn wait_for_readyz(client: &reqwest::Client, base: &str, status: u16, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let got = client.get(format!("{base}/readyz")).send().await.map(|r| r.status().as_u16()).unwrap_or(0);
        if got == status {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "/readyz stayed {got}, expected {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// PostgreSQL stops: `/readyz` turns 503 and requests fail fast with SERVICE_UNAVAILABLE.
/// It comes back: the server recovers by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_fails_fast_and_recovers_by_itself_postgres() {
    let Some(postgres) = PrivatePostgres::start() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = crate::helpers::test_config(&postgres.url(), dir.path(), 0);
    config.mail.smtp_url = None;
    config.db_acquire_timeout = Duration::from_secs(2);
    let application = onestop::app::Application::build(config).await.expect("build");
    let base = format!("http://{}", application.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(application.serve(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client");

    wait_for_readyz(&client, &base, 200, Duration::from_secs(10)).await;
    let answer = gql_at(&base, None, LOGIN, json!({})).await;
    assert_eq!(answer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{answer}");

    postgres.pg_ctl("stop");
    wait_for_readyz(&client, &base, 503, Duration::from_secs(15)).await;
    for query in [LOGIN, REGISTER] {
        let answer = gql_at(&base, None, query, json!({ "e": "outage@example.cn" })).await;
        assert_eq!(answer["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE", "{answer}");
        assert!(answer["errors"][0]["extensions"]["requestId"].is_string(), "points to the log line");
    }

    postgres.pg_ctl("start");
    wait_for_readyz(&client, &base, 200, Duration::from_secs(30)).await;
    let answer = gql_at(&base, None, LOGIN, json!({})).await;
    assert_eq!(answer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "recovered: {answer}");
    let answer = gql_at(&base, None, REGISTER, json!({ "e": "after@example.cn" })).await;
    assert!(answer["errors"].is_null(), "writes work again: {answer}");
    let again = gql_at(&base, None, REGISTER, json!({ "e": "outage@example.cn" })).await;
    assert!(again["errors"].is_null(), "the refused registration left nothing behind: {again}");
    let _ = stop.send(());
}

both_backends!(acknowledged_changes_survive_a_kill_9_during_a_burst);

fn serve_process(app: &TestApp, data: &std::path::Path, port: u16, run_jobs: &str) -> ServeProcess {
    // A lease of 2 s: a message in flight at the kill is another runner's 2 s later.
    let env = [
        ("ONESTOP_OUTBOX_POLL_MS", "20"),
        ("ONESTOP_OUTBOX_LEASE_SECS", "2"),
        ("ONESTOP_SMTP_TIMEOUT_SECS", "1"),
        ("ONESTOP_RUN_JOBS", run_jobs),
    ];
    ServeProcess::start(app, data, port, &env, std::process::Stdio::null())
}

/// A burst of submissions and comments against a real `onestop serve`, killed with SIGKILL
/// in the middle. After a restart: every acknowledged change is there, no case is half
/// submitted, the audit chains verify, and every email goes out exactly once.
async fn acknowledged_changes_survive_a_kill_9_during_a_burst(backend: Backend) {
    // The in-process app provides the database, fixtures and the SMTP sink; it runs no jobs
    // until the test drains the queue.
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("burst@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let mut drafts = Vec::new();
    for _ in 0..24 {
        let created = app.create_case(&merchant.token, &["TAX"]).await;
        let case = created.data()["createCase"].clone();
        let filing = &case["filings"][0];
        let id = filing["id"].as_str().expect("id");
        app.update_filing(&merchant.token, id, filing["version"].as_i64().expect("v"), filing_data("TAX")).await.data();
        drafts.push(case["id"].as_str().expect("case id").to_string());
    }
    let data = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let mut server = serve_process(&app, data.path(), port, "true");
    wait_for_readyz(&client, &base, 200, Duration::from_secs(30)).await;

    // Four clients, each submitting its share of the cases and commenting on each one.
    let acks = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::<(String, &'static str)>::new()));
    let mut clients = Vec::new();
    for share in drafts.chunks(6) {
        let (share, acks, client, base, token) =
            (share.to_vec(), acks.clone(), client.clone(), base.clone(), merchant.token.clone());
        clients.push(tokio::spawn(async move {
            for case_id in share {
                for (document, what) in [
                    ("mutation($id: ID!) { addComment(caseId: $id, body: \"please hurry\") { id } }", "comment"),
                    ("mutation($id: ID!) { submitCase(id: $id) { id } }", "submit"),
                ] {
                    let sent = client
                        .post(format!("{base}/graphql"))
                        .bearer_auth(&token)
                        .json(&json!({ "query": document, "variables": { "id": case_id } }))
                        .send()
                        .await;
                    let Ok(response) = sent else { return };
                    let Ok(body) = response.json::<Value>().await else { return };
                    if body["errors"].is_null() {
                        acks.lock().await.push((case_id.clone(), what));
                    }
                }
            }
        }));
    }
    // Kill once a third of the work is acknowledged.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while acks.lock().await.len() < 16 {
        assert!(tokio::time::Instant::now() < deadline, "the burst made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    for client in clients {
        let _ = client.await;
    }
    let acknowledged = acks.lock().await.clone();
    assert!(acknowledged.len() < 48, "the kill came before the end of the burst");

    // Restart (without its runner), then drain the queue once the killed server's leases
    // ran out: every message still to send goes now.
    let _restarted = serve_process(&app, data.path(), port, "false");
    wait_for_readyz(&client, &base, 200, Duration::from_secs(30)).await;
    app.later(Duration::from_secs(3)).await;
    let pending = app.query_row("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'email' AND state <> 'DONE'").await;
    assert_eq!(pending.try_get::<i64>("", "n").expect("n"), 0, "the outbox drained");

    // Every acknowledged change is present; every case is all-or-nothing.
    for case_id in &drafts {
        let case = app.case(&merchant.token, case_id).await;
        let case = &case.data()["case"];
        let submitted = case["status"] != "DRAFT";
        let filing_status = case["filings"][0]["status"].as_str().expect("status");
        assert_eq!(filing_status != "DRAFT", submitted, "case and filing agree: {case}");
        if acknowledged.contains(&(case_id.clone(), "submit")) {
            assert!(submitted, "an acknowledged submission is lost: {case}");
        }
        let submissions =
            case["events"].as_array().expect("events").iter().filter(|e| e["action"] == "filing.submitted").count();
        assert_eq!(submissions, usize::from(submitted), "one audit event per submission: {case}");
    }
    let comments = app.count("comments").await;
    let acked_comments = acknowledged.iter().filter(|(_, w)| *w == "comment").count() as i64;
    assert!(comments >= acked_comments, "{comments} comments stored, {acked_comments} acknowledged");
    let verified = onestop::services::audit::verify_all(&app.state.db).await.map_err(|e| e.detail()).expect("verify");
    assert!(verified.is_ok(), "audit chains: {verified:?}");

    // Every outbox message reached SMTP; a message in flight at the kill may have been handed
    // over again after the restart, under the same Message-ID (at-least-once hand-off,
    // deduplicable by the receiver), and nothing else is repeated.
    let outbox: Vec<String> = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let emails = entity::job::Entity::find().filter(entity::job::Column::Kind.eq("email"));
        emails.all(&app.state.db).await.expect("outbox").into_iter().map(|m| m.id.to_string()).collect()
    };
    let mails = app.smtp.all().await;
    let mut ids: Vec<String> =
        mails.iter().map(|m| m.message_id().split('@').next().unwrap_or_default().to_string()).collect();
    let handed_over = ids.len();
    ids.sort();
    ids.dedup();
    let mut expected = outbox.clone();
    expected.sort();
    assert_eq!(ids, expected, "every outbox message delivered, under its own Message-ID");
    assert!(
        handed_over <= outbox.len() + 1,
        "{handed_over} hand-offs for {} messages: only the one in flight may repeat",
        outbox.len()
    );
}
