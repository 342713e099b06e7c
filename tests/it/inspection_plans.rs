//! 双随机、一公开: a supervisor draws merchants and inspectors at random from a recorded seed —
//! never an inspector who decided a filing of the merchant in the last year — anyone can
//! re-draw the plan with `onestop replay-plan`, only a drawn inspector records the draw's check
//! (once), and the results are public without any person in them.

use serde_json::{Value, json};

use crate::{
    both_backends,
    fixtures::filing_of,
    helpers::{Backend, TestApp, spawn_app},
    licences::approve,
};

both_backends!(a_random_plan_excludes_conflicts_replays_from_its_seed_and_publishes_results);

const CREATE: &str = "mutation($i: InspectionPlanInput!) { createInspectionPlan(input: $i) {
    id name seed sampleSize draws { id merchant { id name } inspectors { id email } } } }";

fn plan(sample: i32, per_draw: i32) -> Value {
    json!({ "i": { "name": "2026年第四季度食品双随机抽查 Q4 random food checks", "regionCodes": ["510100"], "categories": ["AGRICULTURAL"],
        "sampleSize": sample, "inspectorsPerDraw": per_draw, "riskWeighted": true, "excludeCheckedWithinDays": 30 } })
}

/// `onestop replay-plan <id>` against the test's database: (success, output).
fn replay(app: &TestApp, id: &str) -> (bool, String) {
    let output = crate::helpers::run_cli(app, &["replay-plan", id]);
    (output.status.success(), String::from_utf8_lossy(&output.stdout).to_string())
}

async fn a_random_plan_excludes_conflicts_replays_from_its_seed_and_publishes_results(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let mut merchants = Vec::new();
    for n in 0..3 {
        merchants.push(app.merchant(&format!("m{n}@example.cn"), "510100", Some("91510100MA6CGUR3KG")).await);
    }
    let officers = [
        app.staff("o1@gov.cn", "OFFICER", "INSPECTION", &["510100"]).await,
        app.staff("o2@gov.cn", "OFFICER", "INSPECTION", &["510100"]).await,
        app.staff("o3@gov.cn", "OFFICER", "INSPECTION", &["510100"]).await,
    ];
    let supervisor = app.staff("sup@gov.cn", "SUPERVISOR", "INSPECTION", &["510100"]).await;
    // o1 approved an inspection filing of m0: it may not inspect m0 within the year.
    let (_, filings) = app.submitted_case(&merchants[0], &["INSPECTION"]).await;
    approve(&app, &officers[0], filing_of(&filings, "INSPECTION")).await;
    let m0 = app.gql("{ merchant { id } }", json!({}), Some(&merchants[0].token)).await.data()["merchant"]["id"]
        .as_str()
        .expect("id")
        .to_string();

    // Refusals name what is short.
    assert_eq!(
        app.gql(CREATE, plan(3, 1), Some(&supervisor.token)).await.error_fields(),
        ["inspectorsPerDraw"],
        "at least two"
    );
    let few = app.gql(CREATE, plan(4, 2), Some(&supervisor.token)).await;
    assert!(few.error_message().contains("only 3 eligible merchants"), "{}", few.error_message());
    let conflicted = app.gql(CREATE, plan(3, 3), Some(&supervisor.token)).await;
    assert!(
        conflicted.error_message().contains("only 2 eligible inspectors"),
        "m0 has two: {}",
        conflicted.error_message()
    );
    assert_eq!(app.gql(CREATE, plan(3, 2), Some(&officers[1].token)).await.error_code(), "FORBIDDEN");
    let customs = app.staff("customs-sup@gov.cn", "SUPERVISOR", "CUSTOMS", &["510100"]).await;
    assert_eq!(app.gql(CREATE, plan(3, 2), Some(&customs.token)).await.error_code(), "FORBIDDEN");

    let created = app.gql(CREATE, plan(3, 2), Some(&supervisor.token)).await;
    let created = created.data()["createInspectionPlan"].clone();
    assert_eq!(created["seed"].as_str().expect("seed").len(), 64);
    let draws = created["draws"].as_array().expect("draws").clone();
    assert_eq!(draws.len(), 3);
    for draw in &draws {
        let inspectors: Vec<&str> =
            draw["inspectors"].as_array().expect("inspectors").iter().filter_map(|i| i["email"].as_str()).collect();
        assert_eq!(inspectors.len(), 2);
        assert_ne!(inspectors[0], inspectors[1], "distinct inspectors");
        if draw["merchant"]["id"] == m0.as_str() {
            assert!(!inspectors.contains(&"o1@gov.cn"), "o1 decided m0's filing: {inspectors:?}");
        }
    }
    let plan_id = created["id"].as_str().expect("plan").to_string();
    let (ok, out) = replay(&app, &plan_id);
    assert!(ok && out.contains("all 3 draws match"), "{out}");

    // Who sees the plan: the supervisor all of it, a drawn inspector its own draws.
    let list = "{ inspectionPlans { id draws { id inspectors { email } } } }";
    assert_eq!(
        app.gql(list, json!({}), Some(&supervisor.token)).await.data()["inspectionPlans"][0]["draws"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let first = &draws[0];
    let inspector_email = first["inspectors"][0]["email"].as_str().expect("email");
    let inspector = officers
        .iter()
        .zip(["o1@gov.cn", "o2@gov.cn", "o3@gov.cn"])
        .find(|(_, e)| *e == inspector_email)
        .map(|(o, _)| o)
        .expect("officer");
    let own = app.gql(list, json!({}), Some(&inspector.token)).await;
    let own_draws = own.data()["inspectionPlans"][0]["draws"].as_array().expect("draws").clone();
    assert!(
        own_draws.iter().all(|d| d["inspectors"].as_array().expect("i").iter().any(|i| i["email"] == inspector_email))
    );
    assert_eq!(app.gql(list, json!({}), Some(&merchants[0].token)).await.error_code(), "FORBIDDEN");

    // The draw's check: a drawn inspector, the draw's merchant, once.
    let record = "mutation($i: SpotCheckInput!) { recordSpotCheck(input: $i) { id result } }";
    let input = |merchant: &Value| {
        json!({ "i": { "merchantId": merchant, "channel": "ONLINE", "category": "AGRICULTURAL", "regionCode": "510100",
        "result": "PASS", "findings": "合格 passed", "drawId": first["id"] } })
    };
    let stranger = officers
        .iter()
        .find(|o| !first["inspectors"].to_string().contains(&format!("\"{}\"", o.id)))
        .expect("an undrawn officer");
    assert_eq!(app.gql(record, input(&first["merchant"]["id"]), Some(&stranger.token)).await.error_code(), "FORBIDDEN");
    let other_merchant = draws[1]["merchant"]["id"].clone();
    assert_eq!(app.gql(record, input(&other_merchant), Some(&inspector.token)).await.error_fields(), ["merchantId"]);
    assert_eq!(
        app.gql(record, input(&first["merchant"]["id"]), Some(&inspector.token)).await.data()["recordSpotCheck"]["result"],
        "PASS"
    );
    assert_eq!(
        app.gql(record, input(&first["merchant"]["id"]), Some(&inspector.token)).await.error_code(),
        "CONFLICT",
        "once per draw"
    );
    // The plan shows which draw was checked, and only that one.
    let checked =
        app.gql("{ inspectionPlans { draws { id spotCheck { result } } } }", json!({}), Some(&supervisor.token)).await;
    let checks: Vec<(Value, Value)> = checked.data()["inspectionPlans"][0]["draws"]
        .as_array()
        .expect("draws")
        .iter()
        .map(|d| (d["id"].clone(), d["spotCheck"]["result"].clone()))
        .collect();
    assert_eq!(
        checks.iter().filter(|(_, r)| !r.is_null()).cloned().collect::<Vec<_>>(),
        [(first["id"].clone(), json!("PASS"))]
    );

    // 一公开: the business and the plan, no person; and the plan's own comparison.
    let public = app
        .gql(
            "{ publicInspectionResults { merchantName merchantUscc regionCode category channel result planName } }",
            json!({}),
            None,
        )
        .await;
    let rows = public.data()["publicInspectionResults"].as_array().expect("rows").clone();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["merchantName"], first["merchant"]["name"]);
    assert!(rows[0]["planName"].as_str().expect("plan").contains("双随机"));
    assert!(!public.0.to_string().contains("gov.cn"), "no inspector in public");
    let comparison = app
        .gql(
            "query($p: ID) { spotCheckComparison(planId: $p) { category online onlinePassed } }",
            json!({ "p": plan_id }),
            Some(&supervisor.token),
        )
        .await;
    assert_eq!(comparison.data()["spotCheckComparison"][0]["online"], 1);

    // Tampering with a stored draw shows in the replay.
    let swapped = json!([first["inspectors"][1]["id"], first["inspectors"][0]["id"]]).to_string();
    app.update_row("inspection_draws", &format!("inspectors = '{swapped}'"), first["id"].as_str().expect("draw")).await;
    let (ok, out) = replay(&app, &plan_id);
    assert!(!ok && out.contains("DIFFERS"), "{out}");
}
