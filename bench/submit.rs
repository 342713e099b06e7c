//! `submitCase` with and without decision rules (issue 12): CONNECTIONS clients each submit
//! five-filing draft cases (REGISTRATION, CUSTOMS, INSPECTION, TAX, FX; data filled in
//! beforehand through the API) back to back, in ROUNDS alternating rounds — no decision rule,
//! then RULES enabled rules per kind that do not hold (every filing is referred; REGISTRATION
//! and INSPECTION run all their rules, the filings waiting for REGISTRATION none), and so on — against the same server and
//! database, so a growing database or a warming cache favours neither. Prints, per rule setting,
//! requests, rps, p50/p99 and errors, and the server's CPU time and SQL statements per request
//! (from /proc/SERVER_PID/stat and /metrics); then the p99 ratio.
//!
//! Usage: onestop-bench-submit <base-url>   (env: SERVER_PID, DATABASE_URL, CONNECTIONS, CASES,
//! RULES, ROUNDS; ONLY=rules|none and READY_FILE for profiling)

use std::time::{Duration, Instant};

use sea_orm::{ActiveModelTrait, Database, Set};
use serde_json::{Value, json};
use uuid::Uuid;

const PASSWORD: &str = "Bench-Peppercorn-Lantern-2026";
const KINDS: [&str; 5] = ["REGISTRATION", "CUSTOMS", "INSPECTION", "TAX", "FX"];

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn gql(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Result<Value, String> {
    let mut request = http.post(url).json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let body: Value = request.send().await.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())?;
    match body["errors"][0]["extensions"]["code"].as_str() {
        Some(code) => Err(format!("{code}: {}", body["errors"][0]["message"])),
        None => Ok(body["data"].clone()),
    }
}

fn data(kind: &str) -> Value {
    match kind {
        "REGISTRATION" => {
            json!({ "registration": { "companyName": "成都川味花椒合作社", "companyType": "FARMER_COOPERATIVE", "registeredCapital": "500000.00",
            "legalRepresentative": { "name": "李伟", "idNumber": "510107199003074218" }, "address": "四川省成都市锦江区春熙路1号", "businessScope": "花椒种植、加工与网络销售" } })
        }
        "CUSTOMS" => {
            json!({ "customs": { "customsDistrictCode": "7901", "businessType": "ECOMMERCE_ENTERPRISE", "contactPerson": "王芳", "expectedAnnualTradeUsd": "1200000.50" } })
        }
        "INSPECTION" => {
            json!({ "inspection": { "categories": ["AGRICULTURAL", "FOOD"], "products": [{ "name": "汉源花椒", "hsCode": "0904210000", "originRegionCode": "511823" }] } })
        }
        "TAX" => {
            json!({ "tax": { "taxpayerType": "SMALL_SCALE", "bankName": "中国农业银行成都分行", "bankAccount": "6228480402564890018", "invoiceContact": "王芳 028-86000000" } })
        }
        _ => {
            json!({ "fx": { "bankName": "中国银行四川省分行", "expectedAnnualReceiptsUsd": "800000", "currencies": ["USD"] } })
        }
    }
}

/// A filled five-filing draft case of the merchant; its id.
async fn draft(http: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<String> {
    let created = gql(
        http,
        url,
        Some(token),
        "mutation($k: [FilingKind!]) { createCase(kinds: $k) { id filings { id kind version } } }",
        json!({ "k": KINDS }),
    )
    .await
    .map_err(anyhow::Error::msg)?;
    for f in created["createCase"]["filings"].as_array().cloned().unwrap_or_default() {
        let update = "mutation($id: ID!, $v: Int!, $d: FilingDataInput!) { updateFiling(id: $id, expectedVersion: $v, data: $d) { version } }";
        gql(
            http,
            url,
            Some(token),
            update,
            json!({ "id": f["id"], "v": f["version"], "d": data(f["kind"].as_str().unwrap_or_default()) }),
        )
        .await
        .map_err(anyhow::Error::msg)?;
    }
    Ok(created["createCase"]["id"].as_str().unwrap_or_default().to_string())
}

/// RULES rules per kind whose conditions read several facts and do not hold.
async fn create_rules(per_kind: usize) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let db = Database::connect(std::env::var("DATABASE_URL")?).await?;
    let now = chrono::Utc::now();
    for kind in onestop::domain::FilingKind::ALL {
        for n in 0..per_kind {
            let condition = format!(
                "merchant.failedChecks > {} || history.rejectedBefore > {} || case.kinds.exists(k, k == 'X{n}') || filing.regionCode == '99{n:04}'",
                100 + n,
                100 + n
            );
            let id = Uuid::now_v7();
            let rule = entity::decision_rule::ActiveModel {
                id: Set(id),
                agency: Set(kind.agency()),
                kind: Set(*kind),
                name: Set(format!("bench rule {n}")),
                condition: Set(condition.clone()),
                enabled: Set(false),
                version: Set(1),
                updated_by: Set(Uuid::nil()),
                updated_at: Set(now),
            };
            rule.insert(&db).await?;
        }
    }
    Ok(db)
}

async fn set_rules(db: &sea_orm::DatabaseConnection, enabled: bool) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    db.execute_unprepared(&format!("UPDATE decision_rules SET enabled = {enabled}")).await?;
    // As a save does: the instances reload the enabled rules when this moves.
    db.execute_unprepared("UPDATE rule_counters SET value = value + 1 WHERE name = 'decisions'").await?;
    Ok(())
}

fn cpu_ms(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    ticks * 10.0 // USER_HZ = 100
}

async fn statements(http: &reqwest::Client, base: &str) -> f64 {
    let request = http.get(format!("{base}/metrics"));
    // The main listener serves /metrics only to the metrics token (bench scripts set it).
    let request = match std::env::var("ONESTOP_METRICS_TOKEN") {
        Ok(token) => request.bearer_auth(token),
        Err(_) => request,
    };
    let text = match request.send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    text.lines()
        .find_map(|l| l.strip_prefix("onestop_sql_statements_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied().unwrap_or(0) as f64 / 1000.0
}

/// What one rule setting measured over its rounds.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    errors: usize,
    seconds: f64,
    cpu_ms: f64,
    statements: f64,
}

/// One round: every client submits its drafts.
async fn round(
    http: &reqwest::Client,
    base: &str,
    tally: &mut Tally,
    work: Vec<(String, Vec<String>)>,
) -> anyhow::Result<()> {
    let url = format!("{base}/graphql");
    let pid = std::env::var("SERVER_PID").unwrap_or_default();
    let (cpu0, st0) = (cpu_ms(&pid), statements(http, base).await);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (token, cases) in work {
        let (http, url) = (http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for id in cases {
                let t = Instant::now();
                let result = gql(
                    &http,
                    &url,
                    Some(&token),
                    "mutation($id: ID!) { submitCase(id: $id) { status } }",
                    json!({ "id": id }),
                )
                .await;
                out.push((t.elapsed().as_micros() as u64, result.is_err()));
            }
            out
        }));
    }
    for task in tasks {
        for (us, failed) in task.await? {
            tally.latencies_us.push(us);
            tally.errors += usize::from(failed);
        }
    }
    tally.seconds += started.elapsed().as_secs_f64();
    tally.cpu_ms += cpu_ms(&pid) - cpu0;
    tally.statements += statements(http, base).await - st0;
    Ok(())
}

fn report(label: &str, tally: &mut Tally) -> f64 {
    tally.latencies_us.sort_unstable();
    let n = tally.latencies_us.len() as f64;
    let p99 = percentile(&tally.latencies_us, 0.99);
    println!(
        "{label:<10} {:>8} {:>8.1} {:>8.1} {:>8.1} {:>7} {:>8.2} {:>8.1}",
        tally.latencies_us.len(),
        n / tally.seconds,
        percentile(&tally.latencies_us, 0.50),
        p99,
        tally.errors,
        tally.cpu_ms / n,
        tally.statements / n
    );
    p99
}

/// Logs the clients of round `r` in and drafts their cases.
async fn prepare(
    http: &reqwest::Client,
    url: &str,
    r: usize,
    connections: usize,
    cases: usize,
) -> anyhow::Result<Vec<(String, Vec<String>)>> {
    let mut work = Vec::new();
    for c in 0..connections {
        let email = format!("merchant{}@bench.onestop.cn", c + connections * r);
        let login = gql(
            http,
            url,
            None,
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
            json!({ "e": email, "p": PASSWORD }),
        )
        .await
        .map_err(anyhow::Error::msg)?;
        let token = login["login"]["accessToken"].as_str().unwrap_or_default().to_string();
        let mut ids = Vec::new();
        for _ in 0..cases {
            ids.push(draft(http, url, &token).await?);
        }
        work.push((token, ids));
    }
    Ok(work)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    onestop::install_crypto_provider();
    let base = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:18434".into());
    let (connections, cases, rules, rounds) =
        (env_or("CONNECTIONS", 32), env_or("CASES", 10), env_or("RULES", 20), env_or("ROUNDS", 6));
    let http = reqwest::Client::builder().pool_max_idle_per_host(128).timeout(Duration::from_secs(60)).build()?;
    let url = format!("{base}/graphql");
    let mut work = Vec::new();
    for r in 0..rounds {
        work.push(prepare(&http, &url, r, connections, cases).await?);
    }
    let db = create_rules(rules).await?;
    // The drafts doubled the cases: planner statistics as a database in service has them.
    sea_orm::ConnectionTrait::execute_unprepared(&db, "ANALYZE").await?;
    let (mut none, mut some) = (Tally::default(), Tally::default());
    // For profiling: ONLY=rules (or none) runs every round with the rules (or without); READY_FILE is written when
    // the drafts are ready and the rounds start 2 s later (attach a profiler meanwhile).
    let only = std::env::var("ONLY").unwrap_or_default();
    if let Ok(path) = std::env::var("READY_FILE") {
        std::fs::write(path, "ready")?;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    for (r, round_work) in work.into_iter().enumerate() {
        let with_rules = match only.as_str() {
            "rules" => true,
            "none" => false,
            _ => r % 2 == 1,
        };
        set_rules(&db, with_rules).await?;
        let tally = if with_rules { &mut some } else { &mut none };
        let (before, seconds) = (tally.latencies_us.len(), tally.seconds);
        round(&http, &base, tally, round_work).await?;
        let mut latencies = tally.latencies_us[before..].to_vec();
        latencies.sort_unstable();
        let rps = latencies.len() as f64 / (tally.seconds - seconds);
        let (p50, p99) = (percentile(&latencies, 0.50), percentile(&latencies, 0.99));
        eprintln!(
            "round {r} ({}): {} requests, {rps:.1} rps, p50 {p50:.1} ms, p99 {p99:.1} ms",
            if with_rules { "rules" } else { "none" },
            latencies.len()
        );
    }
    println!(
        "{:<10} {:>8} {:>8} {:>8} {:>8} {:>7} {:>8} {:>8}",
        "rules", "requests", "rps", "p50_ms", "p99_ms", "errors", "cpu_ms", "stmts"
    );
    let base_p99 = report("none", &mut none);
    let rules_p99 = report(&format!("{rules}/kind"), &mut some);
    println!("p99 ratio ({rules} rules per kind / none): {:.2}", rules_p99 / base_p99);
    Ok(())
}
