//! Straight-through decisions (秒批): decision rules approve simple filings in the submitting
//! transaction, exactly as an officer would; everything else is referred with explanations.

use serde_json::{Value, json};

use crate::{
    both_backends,
    fixtures::{Merchant, filing_data, filing_of},
    helpers::{Backend, ServeProcess, TestApp, free_port, gql_at, spawn_app},
    hooks::{client_token, delivered, start_receiver},
};

both_backends!(a_matching_rule_approves_with_every_side_effect_of_an_officer);
both_backends!(a_referred_filing_explains_why_and_is_decided_when_its_registration_is);
both_backends!(a_rule_change_is_audited_and_takes_effect_at_the_next_submission);
both_backends!(simulation_counts_are_exact_on_a_seeded_history);
both_backends!(a_rule_approval_racing_an_officer_has_exactly_one_outcome);
both_backends!(a_queue_of_referred_filings_reads_their_rules_in_one_query);

const SAVE: &str = "mutation($id: ID, $i: DecisionRuleInput!) { saveDecisionRule(id: $id, input: $i) {
    id agency kind name condition enabled version updatedBy { displayName } history { version condition enabled actor { displayName } } } }";
const SMALL_FX: &str = "merchant.riskLevel == 0 && filing.data.expectedAnnualReceiptsUsd < 1000000.0";
const DECISION: &str = "decidedBy certificateNumber status version automaticDecision { outcome evaluations { ruleId ruleName ruleVersion matched explanation } }";

/// A valid USCC of its own for merchant `n` (declared codes shared by two merchants are
/// disputed, and block approvals).
fn uscc(n: u32) -> String {
    use onestop::domain::{certificates::uscc_from, filing_data::CompanyType};
    uscc_from(CompanyType::LimitedLiability, "510100", &format!("{:08}", 31_000_000 + n)).expect("valid")
}

fn rule(condition: &str, enabled: bool) -> Value {
    json!({ "kind": "FX", "name": "小额外汇名录登记 / small FX list registrations", "condition": condition, "enabled": enabled })
}

async fn fx_supervisor(app: &TestApp, email: &str, region: &str) -> String {
    app.staff(email, "SUPERVISOR", "FOREIGN_EXCHANGE", &[region]).await.token
}

async fn save_rule(app: &TestApp, token: &str, id: Option<&str>, input: Value) -> Value {
    app.gql(SAVE, json!({ "id": id, "i": input }), Some(token)).await.data()["saveDecisionRule"].clone()
}

/// An FX filing of a v1 case (declared USCC, FX only) with `receipts`, submitted.
async fn submitted_fx(app: &TestApp, merchant: &Merchant, receipts: &str) -> (String, Value) {
    let created = app.create_case(&merchant.token, &["FX"]).await;
    let case = &created.data()["createCase"];
    let case_id = case["id"].as_str().expect("id").to_string();
    let fx = &case["filings"][0];
    let mut data = filing_data("FX");
    data["fx"]["expectedAnnualReceiptsUsd"] = json!(receipts);
    app.update_filing(&merchant.token, fx["id"].as_str().expect("id"), fx["version"].as_i64().expect("v"), data)
        .await
        .data();
    app.submit_case(&merchant.token, &case_id).await.data();
    (case_id, fx.clone())
}

async fn read_filing(app: &TestApp, token: &str, id: &str) -> Value {
    app.gql(
        &format!("query($id: ID!) {{ filing(id: $id) {{ {DECISION} blockedBy }} }}"),
        json!({ "id": id }),
        Some(token),
    )
    .await
    .data()["filing"]
        .clone()
}

/// The trail of one filing: (action, actor email or null, to-status, note).
async fn trail(app: &TestApp, token: &str, case_id: &str, filing_id: &str) -> Vec<(String, Value, Value, String)> {
    let case = app.case(token, case_id).await;
    case.data()["case"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["filingId"] == filing_id || e["filingId"].is_null())
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_string(),
                e["actor"]["email"].clone(),
                e["toStatus"].clone(),
                e["note"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn a_matching_rule_approves_with_every_side_effect_of_an_officer(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let supervisor = fx_supervisor(&app, "fx-sup@gov.cn", "510100").await;
    let officer = app.staff("fx-officer@gov.cn", "OFFICER", "FOREIGN_EXCHANGE", &["510100"]).await;
    let saved = save_rule(&app, &supervisor, None, rule(SMALL_FX, true)).await;
    let rule_id = saved["id"].as_str().expect("id").to_string();

    // Both merchants listen for approvals through their API clients.
    let (url, receiver) = start_receiver().await;
    let small = app.merchant("small@example.cn", "510100", Some(&uscc(1))).await;
    let large = app.merchant("large@example.cn", "510100", Some(&uscc(2))).await;
    for merchant in [&small, &large] {
        let token = client_token(&app, &merchant.token).await;
        app.gql(
            "mutation($u: String!) { registerWebhook(url: $u, eventTypes: [\"filing.approved\"]) { secret } }",
            json!({ "u": url }),
            Some(&token),
        )
        .await
        .data();
    }

    // The small one is approved within submitCase, by the rule.
    let (auto_case, auto_fx) = submitted_fx(&app, &small, "800000").await;
    let auto_id = auto_fx["id"].as_str().expect("id");
    let decided = read_filing(&app, &officer.token, auto_id).await;
    assert_eq!(decided["status"], "APPROVED");
    assert_eq!(decided["decidedBy"], "RULE");
    assert!(decided["certificateNumber"].as_str().expect("certificate").starts_with("FX510100"), "{decided}");
    assert_eq!(decided["automaticDecision"]["outcome"], "AUTO_APPROVED");
    assert_eq!(decided["automaticDecision"]["evaluations"][0]["matched"], true);
    assert_eq!(decided["automaticDecision"]["evaluations"][0]["ruleId"], rule_id.as_str());
    let own_view = read_filing(&app, &small.token, auto_id).await;
    assert_eq!(own_view["automaticDecision"]["outcome"], "AUTO_APPROVED");
    assert_eq!(own_view["automaticDecision"]["evaluations"], json!([]), "merchants see the outcome only");

    // The large one is referred, and an officer approves it.
    let (manual_case, manual_fx) = submitted_fx(&app, &large, "2500000").await;
    let manual_id = manual_fx["id"].as_str().expect("id");
    let referred = read_filing(&app, &officer.token, manual_id).await;
    assert_eq!(referred["status"], "SUBMITTED");
    assert_eq!(referred["automaticDecision"]["outcome"], "REFERRED");
    let claimed =
        app.decide(&officer.token, "claimFiling", manual_id, referred["version"].as_i64().expect("v"), None).await;
    let v = claimed.data()["claimFiling"]["version"].as_i64().expect("v");
    let approved = app.decide(&officer.token, "approveFiling", manual_id, v, None).await;
    assert_eq!(approved.data()["approveFiling"]["status"], "APPROVED");
    assert_eq!(read_filing(&app, &officer.token, manual_id).await["decidedBy"], "OFFICER");

    // The two streams: the same approval event (the rule's with a null actor, its id, version
    // and facts), the same completion, emails, webhook deliveries and decision records.
    let auto = trail(&app, &small.token, &auto_case, auto_id).await;
    let manual = trail(&app, &large.token, &manual_case, manual_id).await;
    let actions = |t: &[(String, Value, Value, String)]| t.iter().map(|e| e.0.clone()).collect::<Vec<_>>();
    assert_eq!(
        actions(&auto),
        vec!["case.created", "filing.updated", "filing.submitted", "filing.approved", "case.completed"]
    );
    assert_eq!(
        actions(&manual),
        vec![
            "case.created",
            "filing.updated",
            "filing.submitted",
            "filing.claimed",
            "filing.approved",
            "case.completed"
        ]
    );
    let referral = manual.iter().find(|e| e.0 == "filing.submitted").expect("submission");
    assert!(referral.3.contains("referred to an officer"), "the trail tells the merchant the outcome: {}", referral.3);
    assert!(!referral.3.contains("condition"), "and not the rules' explanations: {}", referral.3);
    let rule_approval = auto.iter().find(|e| e.0 == "filing.approved").expect("approval");
    let officer_approval = manual.iter().find(|e| e.0 == "filing.approved").expect("approval");
    assert_eq!(rule_approval.1, Value::Null, "no person approved it");
    assert!(officer_approval.1.is_string());
    assert_eq!(rule_approval.2, officer_approval.2);
    assert!(
        rule_approval.3.contains(&rule_id)
            && rule_approval.3.contains(" v1")
            && rule_approval.3.contains("\"expectedAnnualReceiptsUsd\":800000.0"),
        "{}",
        rule_approval.3
    );
    for email in ["small@example.cn", "large@example.cn"] {
        let mails = app.mail_for(email, 3).await;
        let subjects: Vec<String> = mails.iter().map(|m| m.subject()).collect();
        assert!(
            subjects.iter().any(|s| s.contains("批准") || s.to_lowercase().contains("approved")),
            "{email}: {subjects:?}"
        );
    }
    delivered(&app, "both approvals", || receiver.accepted() == 2).await;
    assert_eq!(app.count_where("decision_records", "decided_by = 'RULE' AND outcome = 'APPROVED'").await, 1);
    assert_eq!(app.count_where("decision_records", "decided_by = 'OFFICER' AND outcome = 'APPROVED'").await, 1);
}

async fn a_referred_filing_explains_why_and_is_decided_when_its_registration_is(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let supervisor = fx_supervisor(&app, "fx-sup@gov.cn", "510100").await;
    save_rule(&app, &supervisor, None, rule(SMALL_FX, true)).await;
    let mr = app.staff("mr@gov.cn", "OFFICER", "MARKET_REGULATION", &["510100"]).await;
    let fx_officer = app.staff("fx@gov.cn", "OFFICER", "FOREIGN_EXCHANGE", &["510100"]).await;
    let merchant = app.merchant("new@example.cn", "510100", None).await;
    let (case_id, filings) = app.submitted_case(&merchant, &["REGISTRATION", "FX"]).await;
    let fx_id = filing_of(&filings, "FX")["id"].as_str().expect("id").to_string();
    let fx = read_filing(&app, &fx_officer.token, &fx_id).await;
    assert_eq!(fx["status"], "SUBMITTED");
    assert_eq!(fx["blockedBy"], json!(["REGISTRATION"]));
    assert_eq!(fx["automaticDecision"]["outcome"], "REFERRED");
    let explanation = fx["automaticDecision"]["evaluations"][0]["explanation"].as_str().expect("explanation");
    assert!(explanation.contains("waits for REGISTRATION"), "{explanation}");

    // The registration's approval decides the FX filing in the same transaction.
    let registration = filing_of(&filings, "REGISTRATION");
    let reg_id = registration["id"].as_str().expect("id");
    let claimed =
        app.decide(&mr.token, "claimFiling", reg_id, registration["version"].as_i64().expect("v"), None).await;
    let v = claimed.data()["claimFiling"]["version"].as_i64().expect("v");
    app.decide(&mr.token, "approveFiling", reg_id, v, None).await.data();
    let fx = read_filing(&app, &fx_officer.token, &fx_id).await;
    assert_eq!(fx["status"], "APPROVED");
    assert_eq!(fx["decidedBy"], "RULE");
    assert_eq!(fx["blockedBy"], json!([]));
    let case = app.case(&merchant.token, &case_id).await;
    assert_eq!(case.data()["case"]["status"], "COMPLETED");

    // A rule that does not hold explains itself too; a missing fact is "not applied".
    let returning_rule = json!({ "kind": "FX", "name": "老客户 / returning merchants", "condition": "history.approvedBefore > 0", "enabled": true });
    let returning_id = save_rule(&app, &supervisor, None, returning_rule.clone()).await["id"].clone();
    let other = app.merchant("other@example.cn", "510100", Some(&uscc(3))).await;
    let (_, big) = submitted_fx(&app, &other, "5000000").await;
    let fx = read_filing(&app, &fx_officer.token, big["id"].as_str().expect("id")).await;
    assert_eq!(fx["automaticDecision"]["outcome"], "REFERRED");
    let explanations: Vec<&str> = fx["automaticDecision"]["evaluations"]
        .as_array()
        .expect("evaluations")
        .iter()
        .filter_map(|e| e["explanation"].as_str())
        .collect();
    assert_eq!(explanations.len(), 2);
    assert!(explanations.iter().all(|e| e.starts_with("the condition does not hold")), "{explanations:?}");

    // The merchant's record as a rule reads it: its approvals, then a failed spot check.
    let mut disabled = returning_rule;
    disabled["enabled"] = json!(false);
    save_rule(&app, &supervisor, returning_id.as_str(), disabled).await;
    let returning =
        "history.approvedBefore >= 1 && 'REGISTRATION' in merchant.approvedKinds && merchant.failedChecks == 0";
    save_rule(
        &app,
        &supervisor,
        None,
        json!({ "kind": "FX", "name": "record", "condition": returning, "enabled": true }),
    )
    .await;
    let (_, again) = submitted_fx(&app, &merchant, "5000000").await;
    assert_eq!(
        read_filing(&app, &fx_officer.token, again["id"].as_str().expect("id")).await["status"],
        "APPROVED",
        "an FX and a REGISTRATION approved before"
    );
    let inspector = app.staff("insp@gov.cn", "OFFICER", "INSPECTION", &["510100"]).await;
    let merchant_id =
        app.gql("{ merchant { id } }", json!({}), Some(&merchant.token)).await.data()["merchant"]["id"].clone();
    let failed = json!({ "i": { "merchantId": merchant_id, "channel": "ONLINE", "category": "AGRICULTURAL", "regionCode": "510100", "result": "FAIL", "findings": "标签不符 label mismatch" } });
    app.gql("mutation($i: SpotCheckInput!) { recordSpotCheck(input: $i) { id } }", failed, Some(&inspector.token))
        .await
        .data();
    let (_, after) = submitted_fx(&app, &merchant, "5000000").await;
    let after = read_filing(&app, &fx_officer.token, after["id"].as_str().expect("id")).await;
    assert_eq!(after["status"], "SUBMITTED", "a failed check now");
    let record = &after["automaticDecision"]["evaluations"];
    assert_eq!(record.as_array().expect("evaluations").iter().filter(|e| e["matched"] == true).count(), 0, "{record}");
}

async fn a_rule_change_is_audited_and_takes_effect_at_the_next_submission(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let supervisor = fx_supervisor(&app, "fx-sup@gov.cn", "510100").await;
    let officer = app.staff("fx-officer@gov.cn", "OFFICER", "FOREIGN_EXCHANGE", &["510100"]).await;
    let customs_supervisor = app.staff("customs-sup@gov.cn", "SUPERVISOR", "CUSTOMS", &["510100"]).await;
    let admin = app.admin_token().await;
    let merchant = app.merchant("m@example.cn", "510100", Some(&uscc(4))).await;

    // Who may keep FX rules: FX supervisors only; bad conditions are refused with a position.
    assert_eq!(
        app.gql(SAVE, json!({ "i": rule(SMALL_FX, true) }), Some(&officer.token)).await.error_code(),
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql(SAVE, json!({ "i": rule(SMALL_FX, true) }), Some(&customs_supervisor.token)).await.error_code(),
        "FORBIDDEN"
    );
    assert_eq!(app.gql(SAVE, json!({ "i": rule(SMALL_FX, true) }), Some(&admin)).await.error_code(), "FORBIDDEN");
    let broken = app.gql(SAVE, json!({ "i": rule("filing.data.bankAccount == '1'", true) }), Some(&supervisor)).await;
    assert_eq!(broken.error_code(), "VALIDATION");
    assert!(broken.error_message().contains("filing.data.bankAccount at 1:1 is not a documented fact"), "{}", broken.0);
    assert_eq!(app.count("decision_rules").await, 0);

    let draft = save_rule(&app, &supervisor, None, rule(SMALL_FX, false)).await;
    let (_, first) = submitted_fx(&app, &merchant, "800000").await;
    let first_id = first["id"].as_str().expect("id").to_string();
    let first = read_filing(&app, &officer.token, &first_id).await;
    assert_eq!(first["status"], "SUBMITTED", "a disabled rule decides nothing");
    assert_eq!(first["automaticDecision"], Value::Null, "no rule ran");

    // Enabled on another instance: this one, which has the rules in memory since the first
    // submission, must see the change at the next submission.
    let data = tempfile::tempdir().expect("tempdir");
    let other = ServeProcess::start(&app, data.path(), free_port(), &[], std::process::Stdio::null()).ready().await;
    let answer =
        gql_at(&other.base_url, Some(&supervisor), SAVE, json!({ "id": draft["id"], "i": rule(SMALL_FX, true) })).await;
    let enabled = answer["data"]["saveDecisionRule"].clone();
    assert_eq!(enabled["version"], 2);
    assert_eq!(
        enabled["history"].as_array().expect("history").iter().map(|h| h["enabled"].clone()).collect::<Vec<_>>(),
        vec![json!(false), json!(true)]
    );
    assert_eq!(enabled["history"][1]["actor"]["displayName"], "Staff fx-sup");
    assert_eq!(
        read_filing(&app, &officer.token, &first_id).await["status"],
        "SUBMITTED",
        "earlier submissions stay referred"
    );
    let (_, second) = submitted_fx(&app, &merchant, "800000").await;
    let second = read_filing(&app, &officer.token, second["id"].as_str().expect("id")).await;
    assert_eq!(second["status"], "APPROVED");
    assert_eq!(second["automaticDecision"]["evaluations"][0]["ruleVersion"], 2);
    assert_eq!(app.count_where("security_events", "kind = 'decision_rule.saved'").await, 2);

    // Who reads them: the agency's supervisors and administrators.
    let list = "query($a: Agency) { decisionRules(agency: $a) { id version } }";
    assert_eq!(
        app.gql(list, json!({}), Some(&supervisor)).await.data()["decisionRules"].as_array().expect("rules").len(),
        1
    );
    assert_eq!(
        app.gql(list, json!({ "a": "FOREIGN_EXCHANGE" }), Some(&admin)).await.data()["decisionRules"]
            .as_array()
            .expect("rules")
            .len(),
        1
    );
    assert_eq!(app.gql(list, json!({}), Some(&customs_supervisor.token)).await.data()["decisionRules"], json!([]));
    assert_eq!(
        app.gql(list, json!({ "a": "FOREIGN_EXCHANGE" }), Some(&customs_supervisor.token)).await.error_code(),
        "FORBIDDEN"
    );
    assert_eq!(app.gql(list, json!({}), Some(&officer.token)).await.error_code(), "FORBIDDEN");
    assert_eq!(app.gql(list, json!({}), Some(&merchant.token)).await.error_code(), "FORBIDDEN");
}

const SIMULATE: &str = "query($i: DecisionRuleInput!, $d: Int) { simulateDecisionRule(input: $i, lastDays: $d) {
    evaluated wouldApprove wouldApproveButOfficerRejected sample { id } } }";

async fn simulation_counts_are_exact_on_a_seeded_history(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let supervisor = fx_supervisor(&app, "fx-sup@gov.cn", "510100").await;
    let elsewhere = fx_supervisor(&app, "fx-sup-530@gov.cn", "530000").await;
    let officer = app.staff("fx-officer@gov.cn", "OFFICER", "FOREIGN_EXCHANGE", &["510100"]).await;
    // Seven FX filings decided by the officer: small ones approved ×3 and rejected ×2, large
    // ones approved ×2. One more is still open (not a decision).
    let seeded = [
        ("800000", "approveFiling"),
        ("900000", "approveFiling"),
        ("500000", "approveFiling"),
        ("700000", "rejectFiling"),
        ("999999", "rejectFiling"),
        ("2000000", "approveFiling"),
        ("3000000", "approveFiling"),
    ];
    let mut small_ids = Vec::new();
    for (i, (receipts, decision)) in seeded.iter().enumerate() {
        let merchant = app.merchant(&format!("m{i}@example.cn"), "510100", Some(&uscc(10 + i as u32))).await;
        let (_, fx) = submitted_fx(&app, &merchant, receipts).await;
        let id = fx["id"].as_str().expect("id");
        let version = read_filing(&app, &officer.token, id).await["version"].as_i64().expect("v");
        let claimed = app.decide(&officer.token, "claimFiling", id, version, None).await;
        let v = claimed.data()["claimFiling"]["version"].as_i64().expect("v");
        app.decide(&officer.token, decision, id, v, Some("审核 checked")).await.data();
        if receipts.len() < 7 {
            small_ids.push(id.to_string());
        }
    }
    let open = app.merchant("open@example.cn", "510100", Some(&uscc(30))).await;
    submitted_fx(&app, &open, "100").await;

    let answer = app.gql(SIMULATE, json!({ "i": rule(SMALL_FX, true) }), Some(&supervisor)).await;
    let result = &answer.data()["simulateDecisionRule"];
    assert_eq!(result["evaluated"], 7);
    assert_eq!(result["wouldApprove"], 5);
    assert_eq!(result["wouldApproveButOfficerRejected"], 2);
    let mut sample: Vec<String> = result["sample"]
        .as_array()
        .expect("sample")
        .iter()
        .filter_map(|f| f["id"].as_str().map(str::to_string))
        .collect();
    sample.sort();
    small_ids.sort();
    assert_eq!(sample, small_ids);
    let everything = app.gql(SIMULATE, json!({ "i": rule("true", true), "d": 1 }), Some(&supervisor)).await;
    assert_eq!(everything.data()["simulateDecisionRule"]["wouldApprove"], 7);
    // Another region's supervisor replays nothing of this region; others may not simulate.
    let blind = app.gql(SIMULATE, json!({ "i": rule(SMALL_FX, true) }), Some(&elsewhere)).await;
    assert_eq!(blind.data()["simulateDecisionRule"]["evaluated"], 0);
    assert_eq!(
        app.gql(SIMULATE, json!({ "i": rule(SMALL_FX, true) }), Some(&officer.token)).await.error_code(),
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql(SIMULATE, json!({ "i": rule(SMALL_FX, true), "d": 0 }), Some(&supervisor)).await.error_fields(),
        vec!["lastDays"]
    );
    assert_eq!(app.count("decision_rules").await, 0, "simulating saves nothing");
}

async fn a_rule_approval_racing_an_officer_has_exactly_one_outcome(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let supervisor = fx_supervisor(&app, "fx-sup@gov.cn", "510100").await;
    save_rule(&app, &supervisor, None, rule(SMALL_FX, true)).await;
    let mr = app.staff("mr@gov.cn", "OFFICER", "MARKET_REGULATION", &["510100"]).await;
    let fx_officer = app.staff("fx@gov.cn", "OFFICER", "FOREIGN_EXCHANGE", &["510100"]).await;
    let mut outcomes = Vec::new();
    for round in 0..6 {
        let merchant = app.merchant(&format!("race{round}@example.cn"), "510100", None).await;
        let (case_id, filings) = app.submitted_case(&merchant, &["REGISTRATION", "FX"]).await;
        let registration = filing_of(&filings, "REGISTRATION");
        let reg_id = registration["id"].as_str().expect("id").to_string();
        let claimed =
            app.decide(&mr.token, "claimFiling", &reg_id, registration["version"].as_i64().expect("v"), None).await;
        let reg_version = claimed.data()["claimFiling"]["version"].as_i64().expect("v");
        let fx_id = filing_of(&filings, "FX")["id"].as_str().expect("id").to_string();
        let fx_version = read_filing(&app, &fx_officer.token, &fx_id).await["version"].as_i64().expect("v");
        // The registration's approval (which runs the FX rule) against the FX officer's claim.
        let (approval, claim) = tokio::join!(
            app.decide(&mr.token, "approveFiling", &reg_id, reg_version, None),
            app.decide(&fx_officer.token, "claimFiling", &fx_id, fx_version, None),
        );
        approval.data();
        let fx = read_filing(&app, &fx_officer.token, &fx_id).await;
        let events = trail(&app, &merchant.token, &case_id, &fx_id).await;
        let approvals = events.iter().filter(|e| e.0 == "filing.approved" && e.1.is_null()).count();
        let claims = events.iter().filter(|e| e.0 == "filing.claimed").count();
        match claim.0.get("errors") {
            None => {
                assert_eq!(
                    (fx["status"].as_str(), approvals, claims),
                    (Some("UNDER_REVIEW"), 0, 1),
                    "round {round}: the claim won"
                );
                outcomes.push("claimed");
            }
            Some(_) => {
                assert!(
                    matches!(claim.error_code().as_str(), "VERSION_CONFLICT" | "INVALID_TRANSITION"),
                    "{}",
                    claim.0
                );
                assert_eq!(
                    (fx["status"].as_str(), approvals, claims),
                    (Some("APPROVED"), 1, 0),
                    "round {round}: the rule won"
                );
                outcomes.push("rule");
            }
        }
    }
    assert_eq!(outcomes.len(), 6);
}

both_backends!(seed_demo_shows_an_automatic_approval_and_a_referral);

async fn seed_demo_shows_an_automatic_approval_and_a_referral(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    onestop::app::seed::seed_demo(&app.state).await.expect("seed-demo");
    onestop::app::seed::seed_demo(&app.state).await.expect("a second run changes nothing");
    let admin = app.admin_token().await;
    let cases = app
        .gql(
            &format!("{{ cases(first: 10) {{ nodes {{ reference merchant {{ name }} requirements {{ rulesetVersion }} filings {{ kind {DECISION} }} }} }} }}"),
            json!({}),
            Some(&admin),
        )
        .await;
    let nodes = cases.data()["cases"]["nodes"].as_array().expect("cases").clone();
    assert_eq!(nodes.len(), 1, "one demo case, however often seed-demo runs");
    let filings = nodes[0]["filings"].as_array().expect("filings").clone();
    let fx = filing_of(&filings, "FX");
    assert_eq!((fx["status"].as_str(), fx["decidedBy"].as_str()), (Some("APPROVED"), Some("RULE")));
    let inspection = filing_of(&filings, "INSPECTION");
    assert_eq!(inspection["status"], "SUBMITTED");
    assert_eq!(inspection["automaticDecision"]["outcome"], "REFERRED");
    assert!(
        inspection["automaticDecision"]["evaluations"][0]["explanation"]
            .as_str()
            .expect("why")
            .contains("does not hold")
    );
    // The rule's approval issued the FX licence; the co-op has a clerk and a broker.
    assert_eq!(app.count_where("licences", "kind = 'FX' AND status = 'ACTIVE'").await, 1);
    assert_eq!(app.count_where("merchant_members", "role = 'STAFF'").await, 1);
    assert_eq!(app.count_where("agent_authorizations", "revoked_at IS NULL").await, 1);
}

async fn a_queue_of_referred_filings_reads_their_rules_in_one_query(backend: Backend) {
    use std::sync::atomic::Ordering;
    // No background work runs unless the test drains the queue: only the page's statements
    // are counted.
    let Some(app) = spawn_app(backend).await else { return };
    let supervisor = fx_supervisor(&app, "fx-sup@gov.cn", "510100").await;
    let officer = app.staff("fx@gov.cn", "OFFICER", "FOREIGN_EXCHANGE", &["510100"]).await;
    for n in 0..2 {
        save_rule(&app, &supervisor, None, json!({ "kind": "FX", "name": format!("rule {n}"), "condition": "merchant.riskLevel > 2", "enabled": true })).await;
    }
    let merchant = app.merchant("queue@example.cn", "510100", Some(&uscc(7))).await;
    let query =
        "{ reviewQueue(first: 50) { nodes { kind automaticDecision { evaluations { ruleName explanation } } } } }";
    let (mut submitted, mut costs) = (0, Vec::new());
    for target in [2usize, 8] {
        while submitted < target {
            submitted_fx(&app, &merchant, "5000000").await;
            submitted += 1;
        }
        let mut fewest = u64::MAX;
        for _ in 0..3 {
            let before = app.state.sql_statements.load(Ordering::SeqCst);
            let answer = app.gql_fresh(query, json!({}), &officer.token).await;
            let after = app.state.sql_statements.load(Ordering::SeqCst);
            let nodes = answer.data()["reviewQueue"]["nodes"].as_array().expect("nodes").clone();
            assert_eq!(nodes.len(), target);
            assert!(
                nodes.iter().all(|n| n["automaticDecision"]["evaluations"][1]["ruleName"] == "rule 1"),
                "{nodes:?}"
            );
            fewest = fewest.min(after - before);
        }
        costs.push(fewest);
    }
    assert_eq!(costs[0], costs[1], "the rules of a page are read once, not per filing: {costs:?}");
}
