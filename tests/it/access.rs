//! The role matrix: every query and mutation of the case workflow, requirements, decision rules
//! and licences, tried as every kind of caller (merchants' owners and staff, agents in every
//! state of their grant, agency staff of the case's agency and of agencies it was shared with), against a filing of the CUSTOMS agency in region
//! 510100 (and merchant A's CUSTOMS licence).

use serde_json::{Value, json};

use crate::{
    both_backends,
    fixtures::{FILING_FIELDS, Merchant, filing_data},
    helpers::{Backend, Gql, TestApp, spawn_app},
};

both_backends!(every_operation_as_every_role);

/// Callers, in the order of the expectation columns below.
const ACTORS: [&str; N] = [
    "anonymous",
    "merchant A (owner)",
    "merchant B",
    "customs officer 510100",
    "inspection officer 510100 (wrong agency)",
    "customs officer 530000 (wrong region)",
    "customs supervisor 510100",
    "admin",
    "merchant A's STAFF",
    "agent granted CUSTOMS by A",
    "agent granted by B only",
    "agent whose grant A revoked",
    "agent whose grant from A expired",
    "tax officer 510100 (case never shared with tax)",
    "market-regulation officer 510100 (case shared with it)",
    "FX officer 510100 (share revoked)",
];
const N: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// Succeeds.
    Ok,
    /// Succeeds, and the target case/filing is in the answer.
    Sees,
    /// Succeeds, and the target is not in the answer.
    Blind,
    Denied(&'static str),
}

use Expect::{Blind, Denied, Ok as Yes, Sees};
const UNAUTH: Expect = Denied("UNAUTHENTICATED");
const FORBID: Expect = Denied("FORBIDDEN");
const NF: Expect = Denied("NOT_FOUND");
/// An agent naming no merchant (`merchantId`).
const INVALID: Expect = Denied("VALIDATION");

#[derive(Clone, Copy, Debug, PartialEq)]
enum Prepared {
    Draft,
    Submitted,
    UnderReview,
    NeedsCorrection,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Case,
    Filing,
    Cases,
    ReviewQueue,
    Workload,
    OwnMerchant,
    SaveProfile,
    CreateCase,
    UpdateFiling,
    SubmitCase,
    ResubmitFiling,
    WithdrawCase,
    AddComment,
    ClaimFiling,
    AssignFiling,
    RequestCorrection,
    ApproveFiling,
    RejectFiling,
    Requirements,
    CreateCaseFromProfile,
    RequirementRules,
    SaveRequirementRule,
    DecisionRules,
    SaveDecisionRule,
    SimulateDecisionRule,
    Licence,
    CreateChangeCase,
    Jobs,
}

fn table() -> Vec<(Op, Prepared, [Expect; N])> {
    use Prepared::*;
    vec![
        //                 anon    A      B     cust   insp   cust530 sup    admin  staffA agent  none   revoked expired tax   shared  unshared
        (Op::Case, Submitted, [UNAUTH, Yes, NF, Yes, Yes, NF, Yes, Yes, Yes, Yes, NF, NF, NF, NF, Yes, NF]),
        (Op::Filing, Submitted, [UNAUTH, Yes, NF, Yes, NF, NF, Yes, Yes, Yes, Yes, NF, NF, NF, NF, Yes, NF]),
        (
            Op::Cases,
            Submitted,
            [UNAUTH, Sees, Blind, Sees, Sees, Blind, Sees, Sees, Sees, Sees, Blind, Blind, Blind, Blind, Sees, Blind],
        ),
        (
            Op::ReviewQueue,
            Submitted,
            [
                UNAUTH, FORBID, FORBID, Sees, Blind, Blind, Sees, Sees, FORBID, FORBID, FORBID, FORBID, FORBID, Blind,
                Blind, Blind,
            ],
        ),
        (
            Op::Workload,
            Submitted,
            [
                UNAUTH, FORBID, FORBID, FORBID, FORBID, FORBID, Yes, Yes, FORBID, FORBID, FORBID, FORBID, FORBID,
                FORBID, FORBID, FORBID,
            ],
        ),
        (
            Op::OwnMerchant,
            Submitted,
            [UNAUTH, Yes, Yes, Yes, Yes, Yes, Yes, Yes, Yes, Yes, Yes, Yes, Yes, Yes, Yes, Yes],
        ),
        (
            Op::SaveProfile,
            Submitted,
            [
                UNAUTH, Yes, Yes, FORBID, FORBID, FORBID, FORBID, FORBID, FORBID, FORBID, FORBID, FORBID, FORBID,
                FORBID, FORBID, FORBID,
            ],
        ),
        (
            Op::CreateCase,
            Submitted,
            [
                UNAUTH, Yes, Yes, FORBID, FORBID, FORBID, FORBID, FORBID, Yes, INVALID, INVALID, INVALID, INVALID,
                FORBID, FORBID, FORBID,
            ],
        ),
        (
            Op::UpdateFiling,
            Draft,
            [UNAUTH, Yes, NF, FORBID, NF, NF, FORBID, FORBID, Yes, Yes, NF, NF, NF, NF, FORBID, NF],
        ),
        (
            Op::SubmitCase,
            Draft,
            [UNAUTH, Yes, NF, FORBID, FORBID, NF, FORBID, FORBID, Yes, FORBID, NF, NF, NF, NF, FORBID, NF],
        ),
        (
            Op::ResubmitFiling,
            NeedsCorrection,
            [UNAUTH, Yes, NF, FORBID, NF, NF, FORBID, FORBID, Yes, Yes, NF, NF, NF, NF, FORBID, NF],
        ),
        (
            Op::WithdrawCase,
            Submitted,
            [UNAUTH, Yes, NF, FORBID, FORBID, NF, FORBID, FORBID, Yes, FORBID, NF, NF, NF, NF, FORBID, NF],
        ),
        (Op::AddComment, Submitted, [UNAUTH, Yes, NF, Yes, NF, NF, Yes, FORBID, Yes, Yes, NF, NF, NF, NF, FORBID, NF]),
        (
            Op::ClaimFiling,
            Submitted,
            [UNAUTH, FORBID, NF, Yes, NF, NF, Yes, FORBID, FORBID, FORBID, NF, NF, NF, NF, FORBID, NF],
        ),
        (
            Op::AssignFiling,
            Submitted,
            [UNAUTH, FORBID, NF, FORBID, NF, NF, Yes, FORBID, FORBID, FORBID, NF, NF, NF, NF, FORBID, NF],
        ),
        (
            Op::RequestCorrection,
            UnderReview,
            [UNAUTH, FORBID, NF, Yes, NF, NF, Yes, FORBID, FORBID, FORBID, NF, NF, NF, NF, FORBID, NF],
        ),
        (
            Op::ApproveFiling,
            UnderReview,
            [UNAUTH, FORBID, NF, Yes, NF, NF, Yes, FORBID, FORBID, FORBID, NF, NF, NF, NF, FORBID, NF],
        ),
        (
            Op::RejectFiling,
            UnderReview,
            [UNAUTH, FORBID, NF, Yes, NF, NF, Yes, FORBID, FORBID, FORBID, NF, NF, NF, NF, FORBID, NF],
        ),
        (Op::Requirements, Submitted, [Yes, Yes, Yes, Yes, Yes, Yes, Yes, Yes, Yes, Yes, Yes, Yes, Yes, Yes, Yes, Yes]),
        (
            Op::CreateCaseFromProfile,
            Submitted,
            [
                UNAUTH, Yes, Yes, FORBID, FORBID, FORBID, FORBID, FORBID, Yes, INVALID, INVALID, INVALID, INVALID,
                FORBID, FORBID, FORBID,
            ],
        ),
        (
            Op::RequirementRules,
            Submitted,
            [
                UNAUTH, FORBID, FORBID, FORBID, FORBID, FORBID, FORBID, Yes, FORBID, FORBID, FORBID, FORBID, FORBID,
                FORBID, FORBID, FORBID,
            ],
        ),
        (
            Op::Jobs,
            Submitted,
            [
                UNAUTH, FORBID, FORBID, FORBID, FORBID, FORBID, FORBID, Yes, FORBID, FORBID, FORBID, FORBID, FORBID,
                FORBID, FORBID, FORBID,
            ],
        ),
        (
            Op::SaveRequirementRule,
            Submitted,
            [
                UNAUTH, FORBID, FORBID, FORBID, FORBID, FORBID, FORBID, Yes, FORBID, FORBID, FORBID, FORBID, FORBID,
                FORBID, FORBID, FORBID,
            ],
        ),
        (
            Op::DecisionRules,
            Submitted,
            [
                UNAUTH, FORBID, FORBID, FORBID, FORBID, FORBID, Yes, Yes, FORBID, FORBID, FORBID, FORBID, FORBID,
                FORBID, FORBID, FORBID,
            ],
        ),
        (
            Op::SaveDecisionRule,
            Submitted,
            [
                UNAUTH, FORBID, FORBID, FORBID, FORBID, FORBID, Yes, FORBID, FORBID, FORBID, FORBID, FORBID, FORBID,
                FORBID, FORBID, FORBID,
            ],
        ),
        (
            Op::SimulateDecisionRule,
            Submitted,
            [
                UNAUTH, FORBID, FORBID, FORBID, FORBID, FORBID, Yes, FORBID, FORBID, FORBID, FORBID, FORBID, FORBID,
                FORBID, FORBID, FORBID,
            ],
        ),
        (Op::Licence, Submitted, [UNAUTH, Yes, NF, Yes, NF, NF, Yes, Yes, Yes, Yes, NF, NF, NF, NF, NF, NF]),
        (
            Op::CreateChangeCase,
            Submitted,
            [
                UNAUTH, Yes, NF, FORBID, FORBID, FORBID, FORBID, FORBID, Yes, INVALID, INVALID, INVALID, INVALID,
                FORBID, FORBID, FORBID,
            ],
        ),
    ]
}

struct World {
    merchant_a: Merchant,
    tokens: Vec<Option<String>>,
    customs_officer_id: String,
    /// Merchant A's CUSTOMS licence: (id, number).
    licence: (String, String),
}

struct Target {
    case_id: String,
    customs_id: String,
    version: i64,
}

async fn world(app: &TestApp) -> World {
    // Merchant A files CUSTOMS and INSPECTION with a USCC on record (no REGISTRATION).
    let merchant_a = app.merchant("a@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let merchant_b = app.merchant("b@example.cn", "510100", None).await;
    let customs = app.staff("customs@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;
    let inspection = app.staff("inspection@gov.cn", "OFFICER", "INSPECTION", &["510100"]).await;
    let far = app.staff("customs530@gov.cn", "OFFICER", "CUSTOMS", &["530000"]).await;
    let supervisor = app.staff("supervisor@gov.cn", "SUPERVISOR", "CUSTOMS", &["510100"]).await;
    let admin = app.admin_token().await;
    let staff_a = {
        app.gql(crate::members::INVITE, json!({ "e": "staff-a@example.cn", "r": "STAFF" }), Some(&merchant_a.token))
            .await
            .data();
        crate::members::join(app, "staff-a@example.cn").await.0
    };
    let agents = agents(app, &merchant_a, &merchant_b).await;
    let tax = app.staff("tax@gov.cn", "OFFICER", "TAX", &["510100"]).await;
    let amr = app.staff("amr@gov.cn", "OFFICER", "MARKET_REGULATION", &["510100"]).await;
    let fx = app.staff("fx@gov.cn", "OFFICER", "FOREIGN_EXCHANGE", &["510100"]).await;
    let (_, filings) = app.submitted_case(&merchant_a, &["CUSTOMS"]).await;
    let approved = crate::licences::approve(app, &customs, &filings[0]).await;
    let licence = (
        approved["licence"]["id"].as_str().expect("id").to_string(),
        approved["licence"]["number"].as_str().expect("n").to_string(),
    );
    World {
        licence,
        tokens: vec![
            None,
            Some(merchant_a.token.clone()),
            Some(merchant_b.token.clone()),
            Some(customs.token.clone()),
            Some(inspection.token.clone()),
            Some(far.token.clone()),
            Some(supervisor.token.clone()),
            Some(admin),
            Some(staff_a),
            Some(agents[0].clone()),
            Some(agents[1].clone()),
            Some(agents[2].clone()),
            Some(agents[3].clone()),
            Some(tax.token),
            Some(amr.token),
            Some(fx.token),
        ],
        customs_officer_id: customs.id.clone(),
        merchant_a,
    }
}

/// Four agents: granted CUSTOMS by A; granted only by B; granted by A and revoked; granted by
/// A until a day that has passed.
async fn agents(app: &TestApp, a: &Merchant, b: &Merchant) -> Vec<String> {
    use crate::agents::{broker, grant};
    let month = (crate::licences::china_today() + chrono::Duration::days(30)).format("%Y-%m-%d").to_string();
    let today = crate::licences::china_today().format("%Y-%m-%d").to_string();
    let granted = broker(app, "agent-ok@example.cn").await;
    grant(app, a, "agent-ok@example.cn", &["CUSTOMS"], &month).await;
    let elsewhere = broker(app, "agent-b@example.cn").await;
    grant(app, b, "agent-b@example.cn", &["CUSTOMS", "INSPECTION"], &month).await;
    let revoked = broker(app, "agent-revoked@example.cn").await;
    let id = grant(app, a, "agent-revoked@example.cn", &["CUSTOMS"], &month).await;
    app.gql("mutation($id: ID!) { revokeAgentAuthorization(id: $id) { id } }", json!({ "id": id }), Some(&a.token))
        .await
        .data();
    let expired = broker(app, "agent-expired@example.cn").await;
    let id = grant(app, a, "agent-expired@example.cn", &["CUSTOMS"], &today).await;
    let yesterday = (crate::licences::china_today() - chrono::Duration::days(1)).format("'%Y-%m-%d'").to_string();
    app.update_row("agent_authorizations", &format!("valid_until = {yesterday}"), &id).await;
    vec![granted, elsewhere, revoked, expired]
}

/// The customs supervisor shares the case with market regulation in 510100, and with FX —
/// revoked at once.
async fn share_and_revoke(app: &TestApp, world: &World, case_id: &str) {
    let supervisor = world.tokens[6].as_deref();
    let share = "mutation($c: ID!, $a: Agency!) { shareCase(caseId: $c, agency: $a, regionCode: \"510100\", note: \"联合监管 joint look\") { id } }";
    app.gql(share, json!({ "c": case_id, "a": "MARKET_REGULATION" }), supervisor).await.data();
    let fx = app.gql(share, json!({ "c": case_id, "a": "FOREIGN_EXCHANGE" }), supervisor).await;
    let revoke = "mutation($id: ID!) { revokeCaseShare(id: $id) { id } }";
    app.gql(revoke, json!({ "id": fx.data()["shareCase"]["id"] }), supervisor).await.data();
}

/// A fresh case of merchant A, its CUSTOMS filing brought to `state`.
async fn prepare(app: &TestApp, world: &World, state: Prepared) -> Target {
    let token = &world.merchant_a.token;
    let created = app.create_case(token, &["CUSTOMS", "INSPECTION"]).await;
    let case = &created.data()["createCase"];
    let case_id = case["id"].as_str().expect("id").to_string();
    share_and_revoke(app, world, &case_id).await;
    let mut customs_id = String::new();
    let mut version = 0;
    for filing in case["filings"].as_array().expect("filings") {
        let kind = filing["kind"].as_str().expect("kind");
        let updated = app.update_filing(token, filing["id"].as_str().expect("id"), 1, filing_data(kind)).await;
        if kind == "CUSTOMS" {
            customs_id = filing["id"].as_str().expect("id").to_string();
            version = updated.data()["updateFiling"]["version"].as_i64().expect("v");
        }
    }
    if state == Prepared::Draft {
        return Target { case_id, customs_id, version };
    }
    let submitted = app.submit_case(token, &case_id).await;
    submitted.data();
    version += 1;
    if state == Prepared::Submitted {
        return Target { case_id, customs_id, version };
    }
    let officer = world.tokens[3].as_deref().expect("officer");
    let claimed = app.decide(officer, "claimFiling", &customs_id, version, None).await;
    version = claimed.data()["claimFiling"]["version"].as_i64().expect("v");
    if state == Prepared::UnderReview {
        return Target { case_id, customs_id, version };
    }
    let asked = app.decide(officer, "requestCorrection", &customs_id, version, Some("fix it")).await;
    version = asked.data()["requestCorrection"]["version"].as_i64().expect("v");
    Target { case_id, customs_id, version }
}

async fn run(app: &TestApp, world: &World, op: Op, token: Option<&str>, t: &Target) -> Gql {
    let (query, vars): (String, Value) = match op {
        Op::Case => ("query($id: ID!) { case(id: $id) { id filings { kind } } }".into(), json!({ "id": t.case_id })),
        Op::Filing => (format!("query($id: ID!) {{ filing(id: $id) {{ {FILING_FIELDS} }} }}"), json!({ "id": t.customs_id })),
        Op::Cases => ("{ cases(first: 100) { nodes { id } } }".into(), json!({})),
        Op::ReviewQueue => ("{ reviewQueue(first: 100) { nodes { id } } }".into(), json!({})),
        Op::Workload => ("{ workload { agency regionCode status count overdue } }".into(), json!({})),
        Op::OwnMerchant => ("{ merchant { id } }".into(), json!({})),
        Op::SaveProfile => (
            "mutation($i: MerchantProfileInput!) { saveMerchantProfile(input: $i) { id } }".into(),
            json!({ "i": { "name": "改名 Renamed", "regionCode": "510100", "address": "成都", "contactEmail": "x@example.cn", "contactPhone": "13800000000" } }),
        ),
        Op::CreateCase => ("mutation { createCase(kinds: [INSPECTION]) { id } }".into(), json!({})),
        Op::Requirements => (
            "{ requirements(profile: { companyType: FARMER_COOPERATIVE, categories: [FOOD], crossBorder: true }) { rulesetVersion filings { kind } } }".into(),
            json!({}),
        ),
        Op::CreateCaseFromProfile => (
            "mutation { createCase(profile: { companyType: PARTNERSHIP, categories: [OTHER], crossBorder: false }) { id } }".into(),
            json!({}),
        ),
        Op::DecisionRules => ("{ decisionRules { id version } }".into(), json!({})),
        Op::SaveDecisionRule => (
            "mutation { saveDecisionRule(input: { kind: CUSTOMS, name: \"试行 draft\", condition: \"merchant.riskLevel == 0\", enabled: false }) { id } }".into(),
            json!({}),
        ),
        Op::SimulateDecisionRule => (
            "{ simulateDecisionRule(input: { kind: CUSTOMS, name: \"试行 draft\", condition: \"merchant.riskLevel == 0\", enabled: true }) { evaluated sample { id } } }".into(),
            json!({}),
        ),
        Op::Licence => (
            "query($n: String!) { licence(number: $n, kind: CUSTOMS) { id status history { action } } }".into(),
            json!({ "n": world.licence.1 }),
        ),
        Op::CreateChangeCase => (
            "mutation($ids: [ID!]!) { createChangeCase(licenceIds: $ids, type: AMENDMENT) { id type } }".into(),
            json!({ "ids": [world.licence.0] }),
        ),
        Op::RequirementRules => ("{ requirementRules { id version history { version } } }".into(), json!({})),
        Op::Jobs => ("{ jobs(first: 5) { nodes { id kind state } } }".into(), json!({})),
        Op::SaveRequirementRule => (
            "mutation { saveRequirementRule(input: { name: \"试行 draft\", kind: TAX, condition: \"profile.crossBorder\", level: OPTIONAL,
                description: \"试行规则 a draft rule\", legalBasis: \"《税收征收管理法》第十五条\", enabled: false }) { id } }".into(),
            json!({}),
        ),
        Op::UpdateFiling => (
            "mutation($id: ID!, $v: Int!, $d: FilingDataInput!) { updateFiling(id: $id, expectedVersion: $v, data: $d) { id } }".into(),
            json!({ "id": t.customs_id, "v": t.version, "d": filing_data("CUSTOMS") }),
        ),
        Op::SubmitCase => ("mutation($id: ID!) { submitCase(id: $id) { id } }".into(), json!({ "id": t.case_id })),
        Op::ResubmitFiling => (
            "mutation($id: ID!, $v: Int!) { resubmitFiling(id: $id, expectedVersion: $v) { id } }".into(),
            json!({ "id": t.customs_id, "v": t.version }),
        ),
        Op::WithdrawCase => ("mutation($id: ID!) { withdrawCase(id: $id) { id } }".into(), json!({ "id": t.case_id })),
        Op::AddComment => (
            "mutation($c: ID!, $f: ID) { addComment(caseId: $c, filingId: $f, body: \"请核对 please check\") { id } }".into(),
            json!({ "c": t.case_id, "f": t.customs_id }),
        ),
        Op::ClaimFiling => (
            "mutation($id: ID!, $v: Int!) { claimFiling(id: $id, expectedVersion: $v) { id } }".into(),
            json!({ "id": t.customs_id, "v": t.version }),
        ),
        Op::AssignFiling => (
            "mutation($id: ID!, $o: ID!, $v: Int!) { assignFiling(id: $id, officerId: $o, expectedVersion: $v) { id } }".into(),
            json!({ "id": t.customs_id, "o": world.customs_officer_id, "v": t.version }),
        ),
        Op::RequestCorrection | Op::RejectFiling | Op::ApproveFiling => {
            let name = match op {
                Op::RequestCorrection => "requestCorrection",
                Op::RejectFiling => "rejectFiling",
                _ => "approveFiling",
            };
            (
                format!("mutation($id: ID!, $v: Int!) {{ {name}(id: $id, expectedVersion: $v, note: \"审核意见 review note\") {{ id }} }}"),
                json!({ "id": t.customs_id, "v": t.version }),
            )
        }
    };
    app.gql(&query, vars, token).await
}

/// Whether the answer mentions the target case or filing.
fn mentions(answer: &Gql, t: &Target) -> bool {
    let text = answer.0["data"].to_string();
    text.contains(&t.case_id) || text.contains(&t.customs_id)
}

fn check(op: Op, actor: &str, expect: Expect, answer: &Gql, t: &Target) {
    let has_errors = answer.0.get("errors").is_some();
    match expect {
        Denied(code) => {
            assert!(has_errors, "{op:?} as {actor}: expected {code}, got {}", answer.0);
            assert_eq!(answer.error_code(), code, "{op:?} as {actor}");
        }
        _ => assert!(!has_errors, "{op:?} as {actor}: expected success, got {}", answer.0),
    }
    match expect {
        Sees => assert!(mentions(answer, t), "{op:?} as {actor} should see the target"),
        Blind => assert!(!mentions(answer, t), "{op:?} as {actor} must not see the target"),
        _ => {}
    }
}

async fn every_operation_as_every_role(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let world = world(&app).await;
    for (op, state, expectations) in table() {
        // Refusals change nothing, so they share one target; each success gets a fresh one.
        let shared = prepare(&app, &world, state).await;
        for (i, expect) in expectations.iter().enumerate() {
            if matches!(expect, Denied(_)) {
                let answer = run(&app, &world, op, world.tokens[i].as_deref(), &shared).await;
                check(op, ACTORS[i], *expect, &answer, &shared);
            }
        }
        let after = app.filing(&world.merchant_a.token, &shared.customs_id).await;
        assert_eq!(after.data()["filing"]["version"], shared.version, "{op:?}: refusals left the filing as it was");
        for (i, expect) in expectations.iter().enumerate() {
            if !matches!(expect, Denied(_)) {
                let read_only =
                    matches!(op, Op::Case | Op::Filing | Op::Cases | Op::ReviewQueue | Op::Workload | Op::OwnMerchant);
                let untargeted = matches!(
                    op,
                    Op::Requirements
                        | Op::RequirementRules
                        | Op::Jobs
                        | Op::SaveRequirementRule
                        | Op::DecisionRules
                        | Op::SaveDecisionRule
                        | Op::SimulateDecisionRule
                        | Op::Licence
                        | Op::CreateChangeCase
                );
                let target = if read_only || untargeted {
                    Target {
                        case_id: shared.case_id.clone(),
                        customs_id: shared.customs_id.clone(),
                        version: shared.version,
                    }
                } else {
                    prepare(&app, &world, state).await
                };
                let answer = run(&app, &world, op, world.tokens[i].as_deref(), &target).await;
                check(op, ACTORS[i], *expect, &answer, &target);
                if let Op::CreateChangeCase = op {
                    // One change case at a time per licence: free it for the next caller.
                    let opened = answer.data()["createChangeCase"]["id"].clone();
                    app.gql(
                        "mutation($id: ID!) { withdrawCase(id: $id) { id } }",
                        json!({ "id": opened }),
                        Some(&world.merchant_a.token),
                    )
                    .await
                    .data();
                }
            }
        }
    }

    // Agency staff see the case but never another agency's filing in it.
    let t = prepare(&app, &world, Prepared::Submitted).await;
    let seen = run(&app, &world, Op::Case, world.tokens[4].as_deref(), &t).await;
    let kinds: Vec<&str> =
        seen.data()["case"]["filings"].as_array().expect("filings").iter().filter_map(|f| f["kind"].as_str()).collect();
    assert_eq!(kinds, vec!["INSPECTION"]);
    // A malformed id is a validation error, not a crash or a leak.
    let bad = app.gql("{ case(id: \"not-a-uuid\") { id } }", json!({}), world.tokens[1].as_deref()).await;
    assert_eq!(bad.error_code(), "VALIDATION");
}
