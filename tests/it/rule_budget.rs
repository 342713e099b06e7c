//! Outside review 2, finding 1: a rule condition can no longer freeze the server. A costly
//! condition is refused when it is saved or simulated; one that slips past the budget (here: a
//! server whose budget was raised) is cut off at the deadline, counts as not matched with the
//! reason shown, is not started again, and `/healthz` keeps answering meanwhile.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{
    both_backends,
    fixtures::filing_data,
    helpers::{Backend, TestApp, spawn_app, spawn_app_with},
};

both_backends!(the_reviewers_condition_is_refused_wherever_a_rule_is_saved_or_simulated);
both_backends!(a_condition_past_the_budget_is_cut_off_at_the_deadline_while_the_server_answers);

const SAVE_DECISION: &str = "mutation($i: DecisionRuleInput!) { saveDecisionRule(input: $i) { id version } }";
const SAVE_REQUIREMENT: &str = "mutation($i: RequirementRuleInput!) { saveRequirementRule(input: $i) { id version } }";
const SIMULATE: &str = "query($i: DecisionRuleInput!) { simulateDecisionRule(input: $i) { evaluated wouldApprove } }";
const REQUIREMENTS: &str = "query($p: CaseProfileInput!) { requirements(profile: $p) { filings { kind } undetermined { kind ruleName reason } } }";
const DEADLINE_MS: u64 = 100;

/// `[0,0,…]` with `n` elements.
fn zeros(n: usize) -> String {
    format!("[{}]", vec!["0"; n].join(","))
}

/// The reviewer's condition (848 characters as they wrote it): four nested comprehensions over
/// 100-element lists.
fn reviewers_condition() -> String {
    let h = zeros(100);
    format!("{h}.all(a, {h}.all(b, {h}.all(c, {h}.all(d, true))))")
}

/// Three levels (allowed nesting) of 100 × 100 × 300 elements: about 3 million steps, seconds
/// of a core in a debug build — far past the default budget.
fn heavy_condition() -> String {
    format!("{}.all(a, {}.all(b, {}.all(c, true)))", zeros(100), zeros(100), zeros(300))
}

/// A valid USCC of its own for merchant `n`.
fn uscc(n: u32) -> String {
    use onestop::domain::{certificates::uscc_from, filing_data::CompanyType};
    uscc_from(CompanyType::LimitedLiability, "510100", &format!("{:08}", 32_000_000 + n)).expect("valid")
}

fn fx_rule(condition: &str) -> Value {
    json!({ "kind": "FX", "name": "小额外汇 / small FX", "condition": condition, "enabled": true })
}

fn customs_requirement(condition: &str) -> Value {
    json!({
        "name": "重规则 / heavy rule", "kind": "CUSTOMS", "documentType": null, "condition": condition, "level": "MANDATORY",
        "description": "测试 / test", "legalBasis": "《测试》", "enabled": true
    })
}

fn profile() -> Value {
    json!({ "companyType": "SOLE_PROPRIETORSHIP", "categories": ["HANDICRAFT"], "hsCodes": [], "crossBorder": true })
}

async fn the_reviewers_condition_is_refused_wherever_a_rule_is_saved_or_simulated(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let supervisor = app.staff("fx-sup@gov.cn", "SUPERVISOR", "FOREIGN_EXCHANGE", &["510100"]).await.token;
    let admin = app.admin_token().await;
    let condition = reviewers_condition();
    assert!(condition.len() > 800 && condition.len() <= 2000, "within the length limit");
    let refused = [
        app.gql(SAVE_DECISION, json!({ "i": fx_rule(&condition) }), Some(&supervisor)).await,
        app.gql(SIMULATE, json!({ "i": fx_rule(&condition) }), Some(&supervisor)).await,
        app.gql(SAVE_REQUIREMENT, json!({ "i": customs_requirement(&condition) }), Some(&admin)).await,
    ];
    for answer in &refused {
        assert_eq!(answer.error_code(), "VALIDATION", "{}", answer.0);
        assert_eq!(answer.error_fields(), vec!["input.condition"]);
        assert!(
            answer.error_message().contains("nests comprehensions (all, exists, map, filter) 4 deep; at most 3"),
            "{}",
            answer.0
        );
    }
    // Allowed nesting over long lists is refused for its steps, with the budget named.
    let steps = app.gql(SAVE_DECISION, json!({ "i": fx_rule(&heavy_condition()) }), Some(&supervisor)).await;
    assert!(
        steps.error_message().contains("evaluation steps") && steps.error_message().contains("at most 100000"),
        "{}",
        steps.0
    );
    let regex = app
        .gql(SAVE_DECISION, json!({ "i": fx_rule("filing.data.bankName.matches('^中国.*')") }), Some(&supervisor))
        .await;
    assert!(regex.error_message().contains("regular expressions"), "{}", regex.0);
    assert_eq!(app.count("decision_rules").await, 0, "nothing was saved");
    assert_eq!(app.count("requirement_rules").await, 16, "only the default ruleset");
    // An ordinary comprehension still saves.
    let fine = app
        .gql(
            SAVE_DECISION,
            json!({ "i": fx_rule("filing.data.currencies.all(c, c in ['USD', 'EUR'])") }),
            Some(&supervisor),
        )
        .await;
    assert_eq!(fine.data()["saveDecisionRule"]["version"], 1);
}

/// Runs `operation` while `/healthz` is asked every 20 ms; the operation's answer, how long it
/// took, and the slowest health answer.
async fn while_probing_health<T>(
    app: &TestApp,
    operation: impl std::future::Future<Output = T>,
) -> (T, Duration, Duration) {
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let client = app.client.clone();
    let url = app.url("/healthz");
    let probe = tokio::spawn(async move {
        let mut slowest = Duration::ZERO;
        let mut answered = 0;
        let mut every = tokio::time::interval(Duration::from_millis(20));
        loop {
            let started = Instant::now();
            let status = client.get(&url).send().await.map(|r| r.status().as_u16()).unwrap_or(0);
            assert_eq!(status, 200);
            slowest = slowest.max(started.elapsed());
            answered += 1;
            tokio::select! {
                _ = &mut stopped => break,
                _ = every.tick() => {}
            }
        }
        (slowest, answered)
    });
    let started = Instant::now();
    let result = operation.await;
    let took = started.elapsed();
    stop.send(()).ok();
    let (slowest, answered) = probe.await.expect("probe");
    assert!(answered >= 2, "health was asked while the operation ran");
    (result, took, slowest)
}

/// An FX filing of merchant `n`'s own v1 case, filled in: (case id, filing id).
async fn fx_case(app: &TestApp, n: u32) -> (String, String, String) {
    let merchant = app.merchant(&format!("m{n}@example.cn"), "510100", Some(&uscc(n))).await;
    let case = app.create_case(&merchant.token, &["FX"]).await;
    let case_id = case.data()["createCase"]["id"].as_str().expect("id").to_string();
    let fx = case.data()["createCase"]["filings"][0].clone();
    let fx_id = fx["id"].as_str().expect("id").to_string();
    app.update_filing(&merchant.token, &fx_id, fx["version"].as_i64().expect("v"), filing_data("FX")).await.data();
    (merchant.token, case_id, fx_id)
}

async fn a_condition_past_the_budget_is_cut_off_at_the_deadline_while_the_server_answers(backend: Backend) {
    // Three evaluators: the decision and requirement rules that run away keep theirs until
    // they finish (the interpreter cannot be interrupted), the simulation needs the third.
    let Some(app) = spawn_app_with(backend, |c| {
        c.rules.cost_budget = u64::MAX;
        c.rules.deadline = Duration::from_millis(DEADLINE_MS);
        c.rules.threads = 3;
    })
    .await
    else {
        return;
    };
    let supervisor = app.staff("fx-sup@gov.cn", "SUPERVISOR", "FOREIGN_EXCHANGE", &["510100"]).await.token;
    let officer = app.staff("fx-officer@gov.cn", "OFFICER", "FOREIGN_EXCHANGE", &["510100"]).await.token;
    let admin = app.admin_token().await;
    let read = "query($id: ID!) { filing(id: $id) { status version automaticDecision { outcome evaluations { matched explanation } } } }";
    let explanation = |filing: &Value| {
        filing["automaticDecision"]["evaluations"][0]["explanation"].as_str().unwrap_or_default().to_string()
    };
    let cut_off = format!("did not finish within {DEADLINE_MS} ms: counted as not matched");

    // A decision an officer made, for the simulation to replay.
    let (token, case_id, decided) = fx_case(&app, 0).await;
    app.submit_case(&token, &case_id).await.data();
    let version =
        app.gql(read, json!({ "id": decided }), Some(&officer)).await.data()["filing"]["version"].as_i64().expect("v");
    let claimed = app.decide(&officer, "claimFiling", &decided, version, None).await;
    let version = claimed.data()["claimFiling"]["version"].as_i64().expect("v");
    app.decide(&officer, "approveFiling", &decided, version, Some("审核 checked")).await.data();
    let light = app.gql(SIMULATE, json!({ "i": fx_rule("true") }), Some(&supervisor)).await;
    assert_eq!(light.data()["simulateDecisionRule"]["evaluated"], 1);

    // Decision rules: the submission answers promptly, the filing is referred with the reason.
    let saved = app.gql(SAVE_DECISION, json!({ "i": fx_rule(&heavy_condition()) }), Some(&supervisor)).await;
    assert_eq!(saved.data()["saveDecisionRule"]["version"], 1, "the raised budget lets it through");
    let (token, case_id, fx_id) = fx_case(&app, 1).await;
    let (submitted, took, slowest) = while_probing_health(&app, app.submit_case(&token, &case_id)).await;
    submitted.data();
    assert!(took < Duration::from_millis(2000), "submitCase took {took:?}");
    assert!(slowest < Duration::from_millis(100), "/healthz took {slowest:?} while the rule ran");
    let filing = app.gql(read, json!({ "id": fx_id }), Some(&officer)).await.data()["filing"].clone();
    assert_eq!(filing["status"], "SUBMITTED");
    assert_eq!(filing["automaticDecision"]["outcome"], "REFERRED");
    assert_eq!(filing["automaticDecision"]["evaluations"][0]["matched"], false);
    // Cut off before the lock, it is judged again under it: "ran out of time earlier".
    let why = explanation(&filing);
    assert!(why.contains(&format!("{DEADLINE_MS} ms")) && why.contains("counted as not matched"), "{filing}");

    // The next submission does not start it again.
    let (token, case_id, fx_id) = fx_case(&app, 2).await;
    let started = Instant::now();
    app.submit_case(&token, &case_id).await.data();
    assert!(started.elapsed() < Duration::from_millis(DEADLINE_MS * 10));
    let again = app.gql(read, json!({ "id": fx_id }), Some(&officer)).await.data()["filing"].clone();
    assert!(explanation(&again).contains("ran out of time earlier"), "{again}");

    // Requirement rules, on the anonymous query.
    app.gql(SAVE_REQUIREMENT, json!({ "i": customs_requirement(&heavy_condition()) }), Some(&admin)).await.data();
    let (answer, took, slowest) =
        while_probing_health(&app, app.gql(REQUIREMENTS, json!({ "p": profile() }), None)).await;
    assert!(took < Duration::from_millis(2000), "requirements took {took:?}");
    assert!(slowest < Duration::from_millis(100), "/healthz took {slowest:?} while the rule ran");
    let undetermined = answer.data()["requirements"]["undetermined"].as_array().expect("undetermined").clone();
    let ours = undetermined.iter().find(|u| u["ruleName"] == "重规则 / heavy rule").expect("the heavy rule is shown");
    assert!(ours["reason"].as_str().unwrap_or_default().contains(&cut_off), "{ours}");

    // The simulation: a draft that runs out of time on a decision is refused as too costly.
    let (simulated, took, slowest) =
        while_probing_health(&app, app.gql(SIMULATE, json!({ "i": fx_rule(&heavy_condition()) }), Some(&supervisor)))
            .await;
    assert!(took < Duration::from_millis(2000), "simulateDecisionRule took {took:?}");
    assert!(slowest < Duration::from_millis(100), "/healthz took {slowest:?} while the simulation ran");
    assert_eq!(simulated.error_code(), "VALIDATION", "{}", simulated.0);
    assert!(
        simulated
            .error_message()
            .contains(&format!("is too costly to evaluate: it did not finish within {DEADLINE_MS} ms")),
        "{}",
        simulated.0
    );
}
