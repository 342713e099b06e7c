//! The load scenario of bench/load.sh: officers reading their review queue, merchants updating
//! draft filings, officers deciding (claim + request correction), and — in the second phase —
//! 20 more clients hammering `login`. Prints throughput, p50/p99 and errors per operation and
//! phase; conflicts between deciders racing for the same filing (VERSION_CONFLICT,
//! INVALID_TRANSITION) are deliberate and counted apart from unexpected errors.
//!
//! Then each kind of client runs alone for ALONE_SECONDS (queue, update, decide), so the server's
//! CPU time and SQL statements per request can be told apart per operation: with SERVER_PID
//! set, every phase prints the server's utime+stime (from /proc/<pid>/stat) and statements (its
//! /metrics counter) divided by the phase's requests. A decision is a claim or a correction
//! request; its figures are those of the decide phase with the queue reads the deciders make in
//! it taken out at the queue phase's per-request cost.
//!
//! Usage: onestop-bench-load <base-url>
//!   (env: PHASE_SECONDS, ALONE_SECONDS, QUEUE, UPDATE, DECIDE, LOGIN, MERCHANTS, SERVER_PID)

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};

const PASSWORD: &str = "Bench-Peppercorn-Lantern-2026";
const OFFICERS: [&str; 5] = ["registration", "customs", "inspection", "tax", "fx"];
const PHASES: [&str; 5] = ["base", "with-login", "queue-alone", "update-alone", "decide-alone"];

#[derive(Default)]
struct Samples {
    latencies_us: Vec<u64>,
    errors: BTreeMap<String, u64>,
    conflicts: u64,
}

#[derive(Clone)]
struct Recorder {
    phase: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<BTreeMap<(usize, &'static str), Samples>>>,
}

impl Recorder {
    fn record(&self, phase: usize, op: &'static str, took: Duration, outcome: Outcome) {
        let Ok(mut all) = self.samples.lock() else { return };
        let samples = all.entry((phase, op)).or_default();
        samples.latencies_us.push(took.as_micros() as u64);
        match outcome {
            Outcome::Ok => {}
            Outcome::Conflict => samples.conflicts += 1,
            Outcome::Error(code) => *samples.errors.entry(code).or_default() += 1,
        }
    }

    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    /// The same recorder with its own stop switch, for a group of clients stopped together.
    fn group(&self) -> Self {
        Self { phase: self.phase.clone(), stop: Arc::default(), samples: self.samples.clone() }
    }
}

enum Outcome {
    Ok,
    Conflict,
    Error(String),
}

struct Client {
    http: reqwest::Client,
    url: String,
}

impl Client {
    async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Result<Value, String> {
        let mut request = self.http.post(&self.url).json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| format!("transport: {e}"))?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| format!("HTTP {status}: {e}"))?;
        match body["errors"][0]["extensions"]["code"].as_str() {
            Some(code) => Err(code.to_string()),
            None if status.is_success() => Ok(body["data"].clone()),
            None => Err(format!("HTTP {status}")),
        }
    }

    async fn login(&self, email: &str) -> anyhow::Result<String> {
        let data = self
            .gql(
                None,
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
                json!({ "e": email, "p": PASSWORD }),
            )
            .await
            .map_err(|e| anyhow::anyhow!("login {email}: {e}"))?;
        Ok(data["login"]["accessToken"].as_str().unwrap_or_default().to_string())
    }
}

fn outcome(result: &Result<Value, String>, conflicts_expected: bool) -> Outcome {
    match result {
        Ok(_) => Outcome::Ok,
        Err(code) if conflicts_expected && (code == "VERSION_CONFLICT" || code == "INVALID_TRANSITION") => {
            Outcome::Conflict
        }
        Err(code) => Outcome::Error(code.clone()),
    }
}

async fn timed(
    recorder: &Recorder,
    op: &'static str,
    conflicts_expected: bool,
    call: impl std::future::Future<Output = Result<Value, String>>,
) -> Result<Value, String> {
    let phase = recorder.phase.load(Ordering::Relaxed);
    let started = Instant::now();
    let result = call.await;
    recorder.record(phase, op, started.elapsed(), outcome(&result, conflicts_expected));
    result
}

const QUEUE: &str = "query($f: FilingFilter) { reviewQueue(first: 20, filter: $f) { edges { node { id kind status version dueAt case { reference merchant { name } } assignee { email } } } } }";

async fn read_queue(client: Arc<Client>, token: String, recorder: Recorder) {
    while recorder.running() {
        let _ = timed(&recorder, "queue", false, client.gql(Some(&token), QUEUE, json!({}))).await;
    }
}

/// Edits its draft until stopped; gives the draft back with its latest version.
async fn update_drafts(
    client: Arc<Client>,
    token: String,
    filing_id: String,
    mut version: i64,
    recorder: Recorder,
) -> Draft {
    let mutation = "mutation($id: ID!, $v: Int!, $d: FilingDataInput!) { updateFiling(id: $id, expectedVersion: $v, data: $d) { version } }";
    let mut round = 0u64;
    while recorder.running() {
        round += 1;
        let data = json!({ "inspection": {
            "categories": ["AGRICULTURAL", "FOOD"],
            "products": [{ "name": format!("汉源花椒 第{round}批"), "hsCode": "0904210000", "originRegionCode": "511823" }]
        }});
        let result = timed(
            &recorder,
            "update",
            false,
            client.gql(Some(&token), mutation, json!({ "id": filing_id, "v": version, "d": data })),
        )
        .await;
        if let Ok(data) = result {
            version = data["updateFiling"]["version"].as_i64().unwrap_or(version + 1);
        }
    }
    (token, filing_id, version)
}

type Draft = (String, String, i64);

async fn decide(client: Arc<Client>, token: String, seed: usize, recorder: Recorder) {
    let claim = "mutation($id: ID!, $v: Int!) { claimFiling(id: $id, expectedVersion: $v) { version } }";
    let correct = "mutation($id: ID!, $v: Int!, $n: String!) { requestCorrection(id: $id, expectedVersion: $v, note: $n) { version } }";
    let mut pick = seed;
    while recorder.running() {
        let queue = timed(
            &recorder,
            "queue",
            false,
            client.gql(Some(&token), QUEUE, json!({ "f": { "statuses": ["SUBMITTED"] } })),
        )
        .await;
        let Ok(queue) = queue else { continue };
        let edges = queue["reviewQueue"]["edges"].as_array().cloned().unwrap_or_default();
        if edges.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        pick = pick.wrapping_mul(31).wrapping_add(7);
        let node = &edges[pick % edges.len()]["node"];
        let (id, version) = (node["id"].clone(), node["version"].as_i64().unwrap_or(0));
        let claimed =
            timed(&recorder, "decide", true, client.gql(Some(&token), claim, json!({ "id": id, "v": version }))).await;
        let Ok(claimed) = claimed else { continue };
        let version = claimed["claimFiling"]["version"].as_i64().unwrap_or(version + 1);
        let note = "请补充产品检验报告 / please attach the product test report";
        let _ = timed(
            &recorder,
            "decide",
            true,
            client.gql(Some(&token), correct, json!({ "id": id, "v": version, "n": note })),
        )
        .await;
    }
}

async fn hammer_login(client: Arc<Client>, first: usize, merchants: usize, recorder: Recorder) {
    let mut i = first;
    while recorder.running() {
        let email = format!("merchant{}@bench.onestop.cn", i % merchants);
        let mutation = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
        let _ =
            timed(&recorder, "login", false, client.gql(None, mutation, json!({ "e": email, "p": PASSWORD }))).await;
        i += 7;
    }
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

/// The server's CPU time (ms) and SQL statements so far, when its pid is known.
struct ServerCost {
    pid: Option<u32>,
    metrics_url: String,
    http: reqwest::Client,
}

impl ServerCost {
    async fn read(&self) -> Option<(f64, f64)> {
        let pid = self.pid?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        let tick_ms = 1000.0 / clock_ticks_per_second();
        let request = self.http.get(&self.metrics_url);
        // The main listener serves /metrics only to the metrics token (bench scripts set it).
        let request = match std::env::var("ONESTOP_METRICS_TOKEN") {
            Ok(token) => request.bearer_auth(token),
            Err(_) => request,
        };
        let metrics = request.send().await.ok()?.text().await.ok()?;
        let statements = metrics
            .lines()
            .find_map(|l| l.strip_prefix("onestop_sql_statements_total ").and_then(|v| v.trim().parse::<f64>().ok()))?;
        Some((ticks * tick_ms, statements))
    }
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Runs the clients already started for `seconds` as `phase`; returns the elapsed time and the
/// server's (CPU ms, statements) spent in it.
async fn run_phase(
    recorder: &Recorder,
    phase: usize,
    seconds: u64,
    cost: &ServerCost,
) -> (Duration, Option<(f64, f64)>) {
    recorder.phase.store(phase, Ordering::Relaxed);
    let before = cost.read().await;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let elapsed = started.elapsed();
    let after = cost.read().await;
    let spent = before.zip(after).map(|((c0, s0), (c1, s1))| (c1 - c0, s1 - s0));
    (elapsed, spent)
}

async fn stop(group: &Recorder, workers: Vec<tokio::task::JoinHandle<()>>) {
    group.stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    onestop::install_crypto_provider();
    let base = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:18431".into());
    let seconds = env_or("PHASE_SECONDS", 60) as u64;
    let alone = env_or("ALONE_SECONDS", 20) as u64;
    let (queue_n, update_n, decide_n, login_n) =
        (env_or("QUEUE", 24), env_or("UPDATE", 10), env_or("DECIDE", 10), env_or("LOGIN", 20));
    let merchants = env_or("MERCHANTS", 1000);
    let http = reqwest::Client::builder().pool_max_idle_per_host(128).timeout(Duration::from_secs(30)).build()?;
    let cost = ServerCost {
        pid: std::env::var("SERVER_PID").ok().and_then(|p| p.parse().ok()),
        metrics_url: format!("{base}/metrics"),
        http: http.clone(),
    };
    let client = Arc::new(Client { http, url: format!("{base}/graphql") });

    // Tokens and draft filings, made through the API before the clock starts.
    let mut officers = Vec::new();
    for name in OFFICERS {
        officers.push(client.login(&format!("{name}@bench.onestop.cn")).await?);
    }
    let mut drafts: Vec<Draft> = Vec::new();
    for i in 0..update_n {
        let token = client.login(&format!("merchant{}@bench.onestop.cn", merchants - 1 - i)).await?;
        let created = client
            .gql(Some(&token), "mutation { createCase(kinds: [INSPECTION]) { filings { id version } } }", json!({}))
            .await
            .map_err(|e| anyhow::anyhow!("createCase: {e}"))?;
        let filing = &created["createCase"]["filings"][0];
        drafts.push((
            token,
            filing["id"].as_str().unwrap_or_default().to_string(),
            filing["version"].as_i64().unwrap_or(1),
        ));
    }

    let recorder = Recorder { phase: Arc::default(), stop: Arc::default(), samples: Arc::default() };
    let start_readers = |group: &Recorder| {
        (0..queue_n)
            .map(|i| tokio::spawn(read_queue(client.clone(), officers[i % officers.len()].clone(), group.clone())))
            .collect::<Vec<_>>()
    };
    let start_deciders = |group: &Recorder| {
        (0..decide_n)
            .map(|i| tokio::spawn(decide(client.clone(), officers[i % officers.len()].clone(), i + 1, group.clone())))
            .collect::<Vec<_>>()
    };
    let start_editors = |group: &Recorder, drafts: Vec<Draft>| {
        drafts
            .into_iter()
            .map(|(token, filing, version)| {
                tokio::spawn(update_drafts(client.clone(), token, filing, version, group.clone()))
            })
            .collect::<Vec<_>>()
    };
    let mut phases = Vec::new();

    // Phases 0 and 1: the mix, then the mix with the login flood.
    let mixed = recorder.group();
    let mut workers = start_readers(&mixed);
    workers.extend(start_deciders(&mixed));
    let editors = start_editors(&mixed, std::mem::take(&mut drafts));
    phases.push(run_phase(&recorder, 0, seconds, &cost).await);
    for i in 0..login_n {
        workers.push(tokio::spawn(hammer_login(client.clone(), i, merchants, mixed.clone())));
    }
    phases.push(run_phase(&recorder, 1, seconds, &cost).await);
    stop(&mixed, workers).await;
    for editor in editors {
        drafts.push(editor.await?);
    }

    // Phases 2–4: each kind of client alone.
    let readers = recorder.group();
    let workers = start_readers(&readers);
    phases.push(run_phase(&recorder, 2, alone, &cost).await);
    stop(&readers, workers).await;
    let editing = recorder.group();
    let editors = start_editors(&editing, drafts);
    phases.push(run_phase(&recorder, 3, alone, &cost).await);
    editing.stop.store(true, Ordering::Relaxed);
    for editor in editors {
        let _ = editor.await?;
    }
    let deciding = recorder.group();
    let workers = start_deciders(&deciding);
    phases.push(run_phase(&recorder, 4, alone, &cost).await);
    stop(&deciding, workers).await;

    let samples = recorder.samples.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    report(&samples, &phases)
}

fn report(
    samples: &BTreeMap<(usize, &'static str), Samples>,
    phases: &[(Duration, Option<(f64, f64)>)],
) -> anyhow::Result<()> {
    println!(
        "{:<13} {:<14} {:>8} {:>8} {:>8} {:>8} {:>7} {:>9} {:>8} {:>8}",
        "phase", "operation", "requests", "rps", "p50_ms", "p99_ms", "errors", "conflicts", "cpu_ms", "stmts"
    );
    let mut unexpected = 0u64;
    let mut others_p99 = [0.0f64; 2];
    let count = |phase: usize, op: &str| samples.get(&(phase, op)).map_or(0, |s| s.latencies_us.len()) as f64;
    for (phase, (elapsed, spent)) in phases.iter().enumerate() {
        let mut others: Vec<u64> = Vec::new();
        let (mut others_errors, mut others_conflicts, mut requests) = (0, 0, 0usize);
        for op in ["queue", "update", "decide", "login"] {
            let Some(s) = samples.get(&(phase, op)) else { continue };
            let mut sorted = s.latencies_us.clone();
            sorted.sort_unstable();
            requests += sorted.len();
            let errors: u64 = s.errors.values().sum();
            unexpected += errors;
            if op != "login" {
                others.extend(&sorted);
                others_errors += errors;
                others_conflicts += s.conflicts;
            }
            println!(
                "{:<13} {:<14} {:>8} {:>8.0} {:>8.1} {:>8.1} {:>7} {:>9}",
                PHASES[phase],
                op,
                sorted.len(),
                sorted.len() as f64 / elapsed.as_secs_f64(),
                percentile(&sorted, 0.50),
                percentile(&sorted, 0.99),
                errors,
                s.conflicts
            );
            if !s.errors.is_empty() {
                println!("{:<13}   errors: {:?}", "", s.errors);
            }
        }
        others.sort_unstable();
        if phase < 2 {
            others_p99[phase] = percentile(&others, 0.99);
        }
        let per = |v: f64| if requests > 0 { format!("{:.2}", v / requests as f64) } else { "-".into() };
        let (cpu, stmts) = spent.map_or(("-".into(), "-".into()), |(c, s)| (per(c), per(s)));
        println!(
            "{:<13} {:<14} {:>8} {:>8.0} {:>8.1} {:>8.1} {:>7} {:>9} {:>8} {:>8}",
            PHASES[phase],
            "all-but-login",
            others.len(),
            others.len() as f64 / elapsed.as_secs_f64(),
            percentile(&others, 0.50),
            percentile(&others, 0.99),
            others_errors,
            others_conflicts,
            cpu,
            stmts
        );
    }
    // Per decision: the decide phase less its queue reads at the queue phase's cost per read.
    if let (Some((_, Some((qc, qs)))), Some((_, Some((dc, ds))))) = (phases.get(2), phases.get(4)) {
        let (reads, decisions) = (count(2, "queue"), count(4, "decide"));
        let own_reads = count(4, "queue");
        if reads > 0.0 && decisions > 0.0 {
            let cpu = (dc - own_reads * qc / reads) / decisions;
            let stmts = (ds - own_reads * qs / reads) / decisions;
            println!("RESULT per_decision cpu_ms={cpu:.2} statements={stmts:.2}");
        }
    }
    if let Some((_, Some((uc, us)))) = phases.get(3) {
        let updates = count(3, "update");
        if updates > 0.0 {
            println!("RESULT per_update cpu_ms={:.2} statements={:.2}", uc / updates, us / updates);
        }
    }
    let ratio = if others_p99[0] > 0.0 { others_p99[1] / others_p99[0] } else { 0.0 };
    println!("RESULT p99_ratio={ratio:.2} unexpected_errors={unexpected}");
    Ok(())
}
