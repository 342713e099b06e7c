//! The load scenario of bench/load.sh: officers reading their review queue, merchants updating
//! draft filings, officers deciding (claim + request correction), and — in the second phase —
//! 20 more clients hammering `login`. Prints throughput, p50/p99 and errors per operation and
//! phase; conflicts between deciders racing for the same filing (VERSION_CONFLICT,
//! INVALID_TRANSITION) are deliberate and counted apart from unexpected errors.
//!
//! Usage: onestop-bench-load <base-url>   (env: PHASE_SECONDS, QUEUE, UPDATE, DECIDE, LOGIN, MERCHANTS)

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
const PHASES: [&str; 2] = ["base", "with-login"];

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
            .gql(None, "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }", json!({ "e": email, "p": PASSWORD }))
            .await
            .map_err(|e| anyhow::anyhow!("login {email}: {e}"))?;
        Ok(data["login"]["accessToken"].as_str().unwrap_or_default().to_string())
    }
}

fn outcome(result: &Result<Value, String>, conflicts_expected: bool) -> Outcome {
    match result {
        Ok(_) => Outcome::Ok,
        Err(code) if conflicts_expected && (code == "VERSION_CONFLICT" || code == "INVALID_TRANSITION") => Outcome::Conflict,
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

async fn update_drafts(client: Arc<Client>, token: String, filing_id: String, mut version: i64, recorder: Recorder) {
    let mutation = "mutation($id: ID!, $v: Int!, $d: FilingDataInput!) { updateFiling(id: $id, expectedVersion: $v, data: $d) { version } }";
    let mut round = 0u64;
    while recorder.running() {
        round += 1;
        let data = json!({ "inspection": {
            "categories": ["AGRICULTURAL", "FOOD"],
            "products": [{ "name": format!("汉源花椒 第{round}批"), "hsCode": "0904210000", "originRegionCode": "511823" }]
        }});
        let result = timed(&recorder, "update", false, client.gql(Some(&token), mutation, json!({ "id": filing_id, "v": version, "d": data }))).await;
        if let Ok(data) = result {
            version = data["updateFiling"]["version"].as_i64().unwrap_or(version + 1);
        }
    }
}

async fn decide(client: Arc<Client>, token: String, seed: usize, recorder: Recorder) {
    let claim = "mutation($id: ID!, $v: Int!) { claimFiling(id: $id, expectedVersion: $v) { version } }";
    let correct = "mutation($id: ID!, $v: Int!, $n: String!) { requestCorrection(id: $id, expectedVersion: $v, note: $n) { version } }";
    let mut pick = seed;
    while recorder.running() {
        let queue = timed(&recorder, "queue", false, client.gql(Some(&token), QUEUE, json!({ "f": { "statuses": ["SUBMITTED"] } }))).await;
        let Ok(queue) = queue else { continue };
        let edges = queue["reviewQueue"]["edges"].as_array().cloned().unwrap_or_default();
        if edges.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        pick = pick.wrapping_mul(31).wrapping_add(7);
        let node = &edges[pick % edges.len()]["node"];
        let (id, version) = (node["id"].clone(), node["version"].as_i64().unwrap_or(0));
        let claimed = timed(&recorder, "decide", true, client.gql(Some(&token), claim, json!({ "id": id, "v": version }))).await;
        let Ok(claimed) = claimed else { continue };
        let version = claimed["claimFiling"]["version"].as_i64().unwrap_or(version + 1);
        let note = "请补充产品检验报告 / please attach the product test report";
        let _ = timed(&recorder, "decide", true, client.gql(Some(&token), correct, json!({ "id": id, "v": version, "n": note }))).await;
    }
}

async fn hammer_login(client: Arc<Client>, first: usize, merchants: usize, recorder: Recorder) {
    let mut i = first;
    while recorder.running() {
        let email = format!("merchant{}@bench.onestop.cn", i % merchants);
        let mutation = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
        let _ = timed(&recorder, "login", false, client.gql(None, mutation, json!({ "e": email, "p": PASSWORD }))).await;
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    onestop::install_crypto_provider();
    let base = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:18431".into());
    let seconds = env_or("PHASE_SECONDS", 60) as u64;
    let (queue_n, update_n, decide_n, login_n) = (env_or("QUEUE", 24), env_or("UPDATE", 10), env_or("DECIDE", 10), env_or("LOGIN", 20));
    let merchants = env_or("MERCHANTS", 1000);
    let http = reqwest::Client::builder().pool_max_idle_per_host(128).timeout(Duration::from_secs(30)).build()?;
    let client = Arc::new(Client { http, url: format!("{base}/graphql") });

    // Tokens and draft filings, made through the API before the clock starts.
    let mut officers = Vec::new();
    for name in OFFICERS {
        officers.push(client.login(&format!("{name}@bench.onestop.cn")).await?);
    }
    let mut drafts = Vec::new();
    for i in 0..update_n {
        let token = client.login(&format!("merchant{}@bench.onestop.cn", merchants - 1 - i)).await?;
        let created = client
            .gql(Some(&token), "mutation { createCase(kinds: [INSPECTION]) { filings { id version } } }", json!({}))
            .await
            .map_err(|e| anyhow::anyhow!("createCase: {e}"))?;
        let filing = &created["createCase"]["filings"][0];
        drafts.push((token, filing["id"].as_str().unwrap_or_default().to_string(), filing["version"].as_i64().unwrap_or(1)));
    }

    let recorder = Recorder { phase: Arc::default(), stop: Arc::default(), samples: Arc::default() };
    let mut workers = Vec::new();
    for i in 0..queue_n {
        workers.push(tokio::spawn(read_queue(client.clone(), officers[i % officers.len()].clone(), recorder.clone())));
    }
    for (token, filing, version) in drafts {
        workers.push(tokio::spawn(update_drafts(client.clone(), token, filing, version, recorder.clone())));
    }
    for i in 0..decide_n {
        workers.push(tokio::spawn(decide(client.clone(), officers[i % officers.len()].clone(), i + 1, recorder.clone())));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let base_elapsed = started.elapsed();

    recorder.phase.store(1, Ordering::Relaxed);
    for i in 0..login_n {
        workers.push(tokio::spawn(hammer_login(client.clone(), i, merchants, recorder.clone())));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let login_elapsed = started.elapsed();
    recorder.stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.await;
    }

    let samples = recorder.samples.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    println!("{:<11} {:<14} {:>8} {:>8} {:>8} {:>8} {:>7} {:>9}", "phase", "operation", "requests", "rps", "p50_ms", "p99_ms", "errors", "conflicts");
    let mut unexpected = 0u64;
    let mut others_p99 = [0.0f64; 2];
    for (phase, elapsed) in [(0usize, base_elapsed), (1, login_elapsed)] {
        let mut others: Vec<u64> = Vec::new();
        let mut others_errors = 0;
        let mut others_conflicts = 0;
        for op in ["queue", "update", "decide", "login"] {
            let Some(s) = samples.get(&(phase, op)) else { continue };
            let mut sorted = s.latencies_us.clone();
            sorted.sort_unstable();
            let errors: u64 = s.errors.values().sum();
            unexpected += errors;
            if op != "login" {
                others.extend(&sorted);
                others_errors += errors;
                others_conflicts += s.conflicts;
            }
            println!(
                "{:<11} {:<14} {:>8} {:>8.0} {:>8.1} {:>8.1} {:>7} {:>9}",
                PHASES[phase], op, sorted.len(), sorted.len() as f64 / elapsed.as_secs_f64(),
                percentile(&sorted, 0.50), percentile(&sorted, 0.99), errors, s.conflicts
            );
            if !s.errors.is_empty() {
                println!("{:<11}   errors: {:?}", "", s.errors);
            }
        }
        others.sort_unstable();
        others_p99[phase] = percentile(&others, 0.99);
        println!(
            "{:<11} {:<14} {:>8} {:>8.0} {:>8.1} {:>8.1} {:>7} {:>9}",
            PHASES[phase], "all-but-login", others.len(), others.len() as f64 / elapsed.as_secs_f64(),
            percentile(&others, 0.50), others_p99[phase], others_errors, others_conflicts
        );
    }
    let ratio = if others_p99[0] > 0.0 { others_p99[1] / others_p99[0] } else { 0.0 };
    println!("RESULT p99_ratio={ratio:.2} unexpected_errors={unexpected}");
    Ok(())
}
