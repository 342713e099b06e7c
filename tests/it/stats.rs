//! Processing statistics against figures computed by hand: five customs decisions whose
//! processing times are set to known values (how they are computed is `processing_times`),
//! grouped every way, within each caller's reach; and the public service levels.

use chrono::Datelike;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::{
    both_backends,
    fixtures::{Merchant, Staff, filing_of},
    helpers::{Backend, TestApp, spawn_app},
    licences::{approve, china_today},
};

both_backends!(processing_stats_match_hand_computed_figures_within_each_callers_reach);

const STATS: &str = "query($f: Date!, $t: Date!, $g: [StatsDimension!]!, $a: Agency, $r: String) {
    processingStats(from: $f, to: $t, groupBy: $g, agency: $a, regionCode: $r) {
    agency kind regionCode officer { email } month received decided approved rejected autoApproved correctionRounds medianWorkingDays p90WorkingDays onTimeShare } }";

/// One customs filing of `merchant` decided by `officer` (approved, or rejected); its id.
async fn decided(app: &TestApp, merchant: &Merchant, officer: &Staff, reject: bool) -> String {
    let (_, filings) = app.submitted_case(merchant, &["CUSTOMS"]).await;
    let filing = filing_of(&filings, "CUSTOMS");
    let id = filing["id"].as_str().expect("id").to_string();
    if reject {
        let v = app
            .decide(&officer.token, "claimFiling", &id, filing["version"].as_i64().expect("v"), None)
            .await
            .data()["claimFiling"]["version"]
            .as_i64()
            .expect("v");
        app.decide(&officer.token, "rejectFiling", &id, v, Some("经营范围不符 outside the business scope"))
            .await
            .data();
    } else {
        approve(app, officer, filing).await;
    }
    id
}

/// Sets the decision's processing time to known values.
async fn times(app: &TestApp, filing: &str, days: i32, on_time: bool, rounds: i32) {
    let literal = match app.state.db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => format!("'{filing}'"),
        _ => format!("X'{}'", filing.replace('-', "")),
    };
    let sql = format!(
        "UPDATE decision_records SET working_days = {days}, on_time = {on_time}, correction_rounds = {rounds} WHERE filing_id = {literal}"
    );
    app.state.db.execute_unprepared(&sql).await.expect("set times");
}

async fn ask(
    app: &TestApp,
    token: Option<&str>,
    group_by: &[&str],
    agency: Option<&str>,
    region: Option<&str>,
) -> crate::helpers::Gql {
    let today = china_today().format("%Y-%m-%d").to_string();
    let from = (china_today() - chrono::Duration::days(30)).format("%Y-%m-%d").to_string();
    app.gql(STATS, json!({ "f": from, "t": today, "g": group_by, "a": agency, "r": region }), token).await
}

fn rows(answer: &crate::helpers::Gql) -> Vec<Value> {
    answer.data()["processingStats"].as_array().expect("rows").clone()
}

async fn processing_stats_match_hand_computed_figures_within_each_callers_reach(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("stats@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let kunming_uscc = onestop::domain::certificates::uscc_from(
        onestop::domain::filing_data::CompanyType::LimitedLiability,
        "530100",
        "33000002",
    )
    .expect("valid");
    let kunming_merchant = app.merchant("km@example.cn", "530100", Some(&kunming_uscc)).await;
    let (a, b) = (
        app.staff("a@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await,
        app.staff("b@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await,
    );
    let kunming = app.staff("km@gov.cn", "OFFICER", "CUSTOMS", &["530100"]).await;
    let supervisor = app.staff("sup@gov.cn", "SUPERVISOR", "CUSTOMS", &["510100"]).await;
    for (officer, reject, days, on_time, rounds) in
        [(&a, false, 2, true, 0), (&a, false, 4, true, 1), (&b, false, 6, false, 0), (&b, true, 9, true, 0)]
    {
        let id = decided(&app, &merchant, officer, reject).await;
        times(&app, &id, days, on_time, rounds).await;
    }
    let elsewhere = decided(&app, &kunming_merchant, &kunming, false).await;
    times(&app, &elsewhere, 0, true, 0).await;
    // The monthly rollup was raised with the decisions' real times; recount it from the
    // corrected records, as an operator would after fixing rows by hand.
    let rebuilt = crate::helpers::run_cli(&app, &["rebuild-stats"]);
    assert!(rebuilt.status.success() && String::from_utf8_lossy(&rebuilt.stdout).contains("rebuilt"), "{rebuilt:?}");

    // The supervisor: Chengdu only. Median of 2, 4, 6, 9 = 5; p90 (nearest rank 4 of 4) = 9.
    let by_kind = rows(&ask(&app, Some(&supervisor.token), &["KIND"], None, None).await);
    assert_eq!(by_kind.len(), 1);
    // The same figures over this whole month (read from the monthly rollup) as over the last
    // 30 days (read from the records, unless today ends the month).
    let month_start = china_today().with_day(1).expect("first");
    let month_end = (month_start + chrono::Duration::days(32)).with_day(1).expect("next") - chrono::Duration::days(1);
    let whole_month = app
        .gql(
            STATS,
            json!({ "f": month_start.to_string(), "t": month_end.to_string(), "g": ["KIND"] }),
            Some(&supervisor.token),
        )
        .await;
    assert_eq!(rows(&whole_month), by_kind, "rollup and records agree");
    // A window with a whole month between two partial ones reads both edges row by row.
    let spanning = app.gql(STATS, json!({ "f": (month_start - chrono::Duration::days(40)).to_string(), "t": china_today().to_string(), "g": ["KIND"] }), Some(&supervisor.token)).await;
    assert_eq!(rows(&spanning), by_kind, "edges and whole months add up");
    let row = &by_kind[0];
    assert_eq!(row["kind"], "CUSTOMS");
    let counts: Vec<i64> = ["received", "decided", "approved", "rejected", "autoApproved", "correctionRounds"]
        .iter()
        .map(|k| row[*k].as_i64().expect("n"))
        .collect();
    assert_eq!(counts, [4, 4, 3, 1, 0, 1]);
    assert_eq!(
        (row["medianWorkingDays"].as_f64(), row["p90WorkingDays"].as_f64(), row["onTimeShare"].as_f64()),
        (Some(5.0), Some(9.0), Some(0.75))
    );
    let by_officer = rows(&ask(&app, Some(&supervisor.token), &["OFFICER"], None, None).await);
    let officer = |email: &str| by_officer.iter().find(|r| r["officer"]["email"] == email).cloned().expect("row");
    assert_eq!(
        (officer("a@gov.cn")["medianWorkingDays"].as_f64(), officer("a@gov.cn")["p90WorkingDays"].as_f64()),
        (Some(3.0), Some(4.0))
    );
    assert_eq!(
        (officer("b@gov.cn")["medianWorkingDays"].as_f64(), officer("b@gov.cn")["rejected"].as_i64()),
        (Some(7.5), Some(1))
    );
    let by_month = rows(&ask(&app, Some(&supervisor.token), &["MONTH", "AGENCY", "REGION"], None, None).await);
    assert_eq!(by_month.len(), 1);
    assert_eq!(by_month[0]["month"], china_today().format("%Y-%m").to_string());
    assert_eq!((by_month[0]["agency"].as_str(), by_month[0]["regionCode"].as_str()), (Some("CUSTOMS"), Some("510100")));
    assert_eq!(
        rows(&ask(&app, Some(&supervisor.token), &[], None, None).await)[0]["decided"],
        4,
        "no grouping: the totals"
    );

    // Reach: other agencies and regions are refused; officers and merchants are too.
    assert_eq!(
        ask(&app, Some(&supervisor.token), &["KIND"], Some("FOREIGN_EXCHANGE"), None).await.error_code(),
        "FORBIDDEN"
    );
    assert_eq!(ask(&app, Some(&supervisor.token), &["KIND"], None, Some("530100")).await.error_code(), "FORBIDDEN");
    assert_eq!(ask(&app, Some(&a.token), &["KIND"], None, None).await.error_code(), "FORBIDDEN");
    assert_eq!(ask(&app, Some(&merchant.token), &["KIND"], None, None).await.error_code(), "FORBIDDEN");
    assert_eq!(ask(&app, None, &["KIND"], None, None).await.error_code(), "UNAUTHENTICATED");
    let backwards =
        app.gql(STATS, json!({ "f": "2026-12-31", "t": "2026-01-01", "g": ["KIND"] }), Some(&supervisor.token)).await;
    assert_eq!(backwards.error_fields(), ["to"]);
    let admin = app.admin_token().await;
    let by_region = rows(&ask(&app, Some(&admin), &["REGION"], None, None).await);
    let decided_per_region: Vec<(String, i64)> = by_region
        .iter()
        .map(|r| (r["regionCode"].as_str().unwrap_or("").to_string(), r["decided"].as_i64().unwrap_or(0)))
        .collect();
    assert_eq!(decided_per_region, [("510100".to_string(), 4), ("530100".to_string(), 1)]);

    // In public: per kind, 0, 2, 4, 6, 9 → median 4; four of five on time.
    let levels = app
        .gql(
            "{ serviceLevels { kind agency statutoryWorkingDays medianWorkingDays onTimeShare sample } }",
            json!({}),
            None,
        )
        .await;
    let customs = levels.data()["serviceLevels"]
        .as_array()
        .expect("levels")
        .iter()
        .find(|l| l["kind"] == "CUSTOMS")
        .cloned()
        .expect("customs");
    assert_eq!(
        customs,
        json!({ "kind": "CUSTOMS", "agency": "CUSTOMS", "statutoryWorkingDays": 5, "medianWorkingDays": 4.0, "onTimeShare": 0.8, "sample": 5 })
    );
    let fx = levels.data()["serviceLevels"]
        .as_array()
        .expect("levels")
        .iter()
        .find(|l| l["kind"] == "FX")
        .cloned()
        .expect("fx");
    assert_eq!((fx["sample"].as_i64(), fx["medianWorkingDays"].is_null()), (Some(0), true));
}
