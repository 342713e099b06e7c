//! Every decision keeps its processing time — working days from the first submission, the
//! holiday calendar applied and correction pauses left out — and whether it was on time, for
//! statistics; `/metrics` counts decisions by agency, kind and decider.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde_json::json;

use crate::{
    both_backends,
    fixtures::filing_of,
    helpers::{Backend, TestApp, spawn_app_with},
    licences::{approve, china_today},
};

both_backends!(decisions_keep_working_days_without_holidays_and_correction_pauses);

fn weekday(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Working days after `from` up to and including `to`, weekends and `holiday` skipped: counted
/// by hand, independently of the server's calendar.
fn by_hand(from: NaiveDate, to: NaiveDate, holiday: NaiveDate) -> i64 {
    from.iter_days().skip(1).take_while(|d| *d <= to).filter(|d| weekday(*d) && *d != holiday).count() as i64
}

/// 10:00 China time on `date`, as the databases take it.
fn ten_am(date: NaiveDate) -> String {
    format!("'{} 02:00:00+00:00'", date.format("%Y-%m-%d"))
}

/// A UUID as the database's SQL writes it.
fn literal(app: &TestApp, id: &str) -> String {
    match app.state.db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => format!("'{id}'"),
        _ => format!("X'{}'", id.replace('-', "")),
    }
}

async fn id_of(app: &TestApp, sql: &str) -> String {
    app.query_row(sql).await.try_get::<uuid::Uuid>("", "id").expect("id").to_string()
}

async fn decisions_keep_working_days_without_holidays_and_correction_pauses(backend: Backend) {
    let today = china_today();
    // A weekday in the fortnight before is a public holiday.
    let holiday = (4..12).map(|n| today - Duration::days(n)).find(|d| weekday(*d)).expect("a weekday");
    let calendar = format!("{} off\n", holiday.format("%Y-%m-%d"));
    let Some(app) = spawn_app_with(backend, |c| {
        c.calendar = onestop::domain::working_days::Calendar::parse(&calendar).expect("calendar")
    })
    .await
    else {
        return;
    };
    let merchant = app.merchant("times@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let customs = app.staff("customs@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;
    let fx = app.staff("fx@gov.cn", "OFFICER", "FOREIGN_EXCHANGE", &["510100"]).await;
    let (_, filings) = app.submitted_case(&merchant, &["CUSTOMS", "FX"]).await;
    let submitted = today - Duration::days(14);
    // The history: both were submitted a fortnight ago.
    for kind in ["CUSTOMS", "FX"] {
        let filing = filing_of(&filings, kind)["id"].as_str().expect("id");
        let event = id_of(
            &app,
            &format!(
                "SELECT id FROM audit_events WHERE action = 'filing.submitted' AND filing_id = {}",
                literal(&app, filing)
            ),
        )
        .await;
        app.update_row("audit_events", &format!("at = {}", ten_am(submitted)), &event).await;
    }

    // CUSTOMS: decided today, straight through.
    approve(
        &app,
        &customs,
        &app.filing(&customs.token, filing_of(&filings, "CUSTOMS")["id"].as_str().expect("id")).await.data()["filing"],
    )
    .await;
    // FX: a correction asked nine days ago, answered today.
    let fx_id = filing_of(&filings, "FX")["id"].as_str().expect("id").to_string();
    let v = app.filing(&fx.token, &fx_id).await.data()["filing"]["version"].as_i64().expect("v");
    let v = app.decide(&fx.token, "claimFiling", &fx_id, v, None).await.data()["claimFiling"]["version"]
        .as_i64()
        .expect("v");
    let v = app.decide(&fx.token, "requestCorrection", &fx_id, v, Some("补充币种 add the currencies")).await.data()["requestCorrection"]["version"].as_i64().expect("v");
    let asked = today - Duration::days(9);
    let event = id_of(&app, "SELECT id FROM audit_events WHERE action = 'filing.correction_requested'").await;
    app.update_row("audit_events", &format!("at = {}", ten_am(asked)), &event).await;
    let mut fixed = crate::fixtures::filing_data("FX");
    fixed["fx"]["currencies"] = json!(["USD", "EUR", "JPY"]);
    let v = app.update_filing(&merchant.token, &fx_id, v, fixed).await.data()["updateFiling"]["version"]
        .as_i64()
        .expect("v");
    app.gql(
        "mutation($id: ID!, $v: Int!) { resubmitFiling(id: $id, expectedVersion: $v) { id } }",
        json!({ "id": fx_id, "v": v }),
        Some(&merchant.token),
    )
    .await
    .data();
    approve(&app, &fx, &app.filing(&fx.token, &fx_id).await.data()["filing"]).await;

    let stored = |kind: &'static str| {
        let app = &app;
        async move {
            let row = app
                .query_row(&format!(
                    "SELECT working_days, correction_rounds FROM decision_records WHERE kind = '{kind}'"
                ))
                .await;
            (
                row.try_get::<i32>("", "working_days").expect("days") as i64,
                row.try_get::<i32>("", "correction_rounds").expect("rounds"),
            )
        }
    };
    let all_of_it = by_hand(submitted, today, holiday);
    assert_eq!(stored("CUSTOMS").await, (all_of_it, 0), "weekends and the holiday skipped");
    assert_eq!(stored("FX").await, (all_of_it - by_hand(asked, today, holiday), 1), "the correction pause left out");
    assert_eq!(app.count_where("decision_records", "on_time IS NOT NULL").await, 2);

    // Statistics over this whole month come from the monthly rollup each decision raised in its
    // transaction; up to today, from the records themselves: the same figures.
    let month_start = today.with_day(1).expect("first");
    let month_end = (month_start + Duration::days(32)).with_day(1).expect("next") - Duration::days(1);
    let admin = app.admin_token().await;
    let by_kind = |from: NaiveDate, to: NaiveDate| {
        let (app, admin) = (&app, &admin);
        async move {
            let query = "query($f: Date!, $t: Date!) { processingStats(from: $f, to: $t, groupBy: [KIND]) { kind decided medianWorkingDays correctionRounds onTimeShare } }";
            let answer = app.gql(query, json!({ "f": from.to_string(), "t": to.to_string() }), Some(admin)).await;
            answer.data()["processingStats"].clone()
        }
    };
    let whole_month = by_kind(month_start, month_end).await;
    let row = |kind: &str| {
        whole_month.as_array().and_then(|rows| rows.iter().find(|r| r["kind"] == kind)).cloned().expect("row")
    };
    assert_eq!(
        (row("CUSTOMS")["decided"].as_i64(), row("CUSTOMS")["medianWorkingDays"].as_f64()),
        (Some(1), Some(all_of_it as f64))
    );
    assert_eq!(
        (row("FX")["correctionRounds"].as_i64(), row("FX")["medianWorkingDays"].as_f64()),
        (Some(1), Some((all_of_it - by_hand(asked, today, holiday)) as f64))
    );
    assert_eq!(whole_month, by_kind(today, today).await, "rollup and records agree");

    let metrics = app
        .client
        .get(app.metrics_url.as_deref().expect("metrics listener"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.lines().any(|l| l.starts_with("onestop_filings_decided_total")
            && l.contains("agency=\"FOREIGN_EXCHANGE\"")
            && l.contains("by=\"OFFICER\"")),
        "decisions are counted by agency, kind and decider"
    );
    assert!(metrics.contains("onestop_filing_working_days"), "and their working days");
}
