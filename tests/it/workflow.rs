//! Rules of the case workflow: validation, versions, concurrency, transactions, queue,
//! workload, withdrawal, the audit chain and the number of SQL statements a page costs.

use serde_json::json;

use crate::{
    both_backends,
    fixtures::{filing_data, filing_of},
    helpers::{Backend, GOOD_PASSWORD, spawn_app},
};

both_backends!(
    invalid_input_is_refused_field_by_field_and_stores_nothing,
    login_needs_a_verified_email_and_submission_complete_filings,
    references_have_no_gaps_or_duplicates_under_concurrent_creation,
    two_officers_deciding_at_once_exactly_one_wins,
    a_failed_notification_rolls_the_whole_transition_back,
    only_the_assignee_or_a_supervisor_decides,
    review_queue_pages_and_filters_and_workload_counts,
    withdrawing_a_case_withdraws_undecided_filings,
    the_audit_chain_detects_tampering,
    a_page_of_cases_costs_a_bounded_number_of_statements,
    a_review_queue_page_costs_two_statements_however_long,
);

async fn invalid_input_is_refused_field_by_field_and_stores_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let (token, _) = app.verified_merchant("v@example.cn").await;
    let no_profile = app.create_case(&token, &["CUSTOMS"]).await;
    assert_eq!(no_profile.error_code(), "VALIDATION");
    assert_eq!(no_profile.error_fields(), vec!["profile"]);

    let profile = "mutation($i: MerchantProfileInput!) { saveMerchantProfile(input: $i) { id } }";
    let bad = app
        .gql(
            profile,
            json!({ "i": {
                "name": "", "uscc": "91510100MA6CGUR3KA", "regionCode": "110000", "address": "x",
                "contactEmail": "nope", "contactPhone": "12345", "storeUrls": ["ftp://x"]
            }}),
            Some(&token),
        )
        .await;
    assert_eq!(bad.error_code(), "VALIDATION");
    let mut fields = bad.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["contactEmail", "contactPhone", "name", "regionCode", "storeUrls[0]", "uscc"]);
    assert_eq!(app.count("merchants").await, 0);

    let merchant = app.merchant("w@example.cn", "530100", None).await;
    for (kinds, why) in [(json!([]), "empty"), (json!(["TAX", "TAX"]), "duplicate")] {
        let refused = app
            .gql(
                "mutation($k: [FilingKind!]!) { createCase(kinds: $k) { id } }",
                json!({ "k": kinds }),
                Some(&merchant.token),
            )
            .await;
        assert_eq!(refused.error_code(), "VALIDATION", "{why}");
    }
    let created = app.create_case(&merchant.token, &["REGISTRATION", "INSPECTION", "FX"]).await;
    let filings = created.data()["createCase"]["filings"].as_array().expect("filings").clone();
    let registration = filing_of(&filings, "REGISTRATION")["id"].as_str().expect("id").to_string();
    let inspection = filing_of(&filings, "INSPECTION")["id"].as_str().expect("id").to_string();
    let fx = filing_of(&filings, "FX")["id"].as_str().expect("id").to_string();

    let wrong_kind = app.update_filing(&merchant.token, &registration, 1, filing_data("TAX")).await;
    assert_eq!(wrong_kind.error_code(), "VALIDATION");
    assert_eq!(wrong_kind.error_fields(), vec!["data"]);

    let mut bad_registration = filing_data("REGISTRATION");
    bad_registration["registration"]["legalRepresentative"]["idNumber"] = json!("510107199003074219");
    bad_registration["registration"]["registeredCapital"] = json!("-5");
    bad_registration["registration"]["companyName"] = json!("   ");
    let refused = app.update_filing(&merchant.token, &registration, 1, bad_registration).await;
    let mut fields = refused.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "data.registration.companyName",
            "data.registration.legalRepresentative.idNumber",
            "data.registration.registeredCapital",
        ]
    );

    let mut bad_inspection = filing_data("INSPECTION");
    bad_inspection["inspection"]["products"][0]["hsCode"] = json!("09042100");
    bad_inspection["inspection"]["products"][0]["originRegionCode"] = json!("330100");
    let refused = app.update_filing(&merchant.token, &inspection, 1, bad_inspection).await;
    let mut fields = refused.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["data.inspection.products[0].hsCode", "data.inspection.products[0].originRegionCode"]);

    let mut bad_fx = filing_data("FX");
    bad_fx["fx"]["currencies"] = json!(["USD", "XYZ"]);
    let refused = app.update_filing(&merchant.token, &fx, 1, bad_fx).await;
    assert_eq!(refused.error_fields(), vec!["data.fx.currencies[1]"]);

    // Money is a decimal string: a JSON number is refused by the scalar itself.
    let mut float_money = filing_data("FX");
    float_money["fx"]["expectedAnnualReceiptsUsd"] = json!(0.1);
    assert_eq!(app.update_filing(&merchant.token, &fx, 1, float_money).await.error_code(), "BAD_REQUEST");
    // Two keys of the oneOf input at once.
    let two = json!({ "fx": filing_data("FX")["fx"], "tax": filing_data("TAX")["tax"] });
    assert_eq!(app.update_filing(&merchant.token, &fx, 1, two).await.error_code(), "BAD_REQUEST");

    let stale = app.update_filing(&merchant.token, &fx, 7, filing_data("FX")).await;
    assert_eq!(stale.error_code(), "VERSION_CONFLICT");

    // Nothing above was stored: every filing is still version 1 without data.
    let row = app.query_row("SELECT COUNT(*) AS n FROM filings WHERE version = 1 AND data IS NULL").await;
    assert_eq!(row.try_get::<i64>("", "n").expect("n"), 3);
    let fine = app.update_filing(&merchant.token, &fx, 1, filing_data("FX")).await;
    let data = app
        .gql(
            "query($id: ID!) { filing(id: $id) { data { ... on FxData { currencies expectedAnnualReceiptsUsd } } } }",
            json!({ "id": fx }),
            Some(&merchant.token),
        )
        .await;
    assert_eq!(fine.data()["updateFiling"]["version"], 2);
    assert_eq!(data.data()["filing"]["data"]["currencies"], json!(["USD", "EUR"]), "normalised");
    assert_eq!(data.data()["filing"]["data"]["expectedAnnualReceiptsUsd"], "800000");
}

async fn login_needs_a_verified_email_and_submission_complete_filings(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    // An unverified address cannot log in — with the answer a wrong password gets, so a login
    // after a sign-up tells nobody whether the address was free.
    app.register("u@example.cn", GOOD_PASSWORD, "Unverified").await.data();
    let unverified = app.login("u@example.cn", GOOD_PASSWORD).await;
    let wrong = app.login("u@example.cn", "Not-The-Password-123").await;
    let unknown = app.login("nobody@example.cn", GOOD_PASSWORD).await;
    assert_eq!(unverified.error_code(), "UNAUTHENTICATED");
    assert_eq!(unverified.error_message(), wrong.error_message());
    assert_eq!(wrong.error_message(), unknown.error_message());
    let mail = app.mail_for("u@example.cn", 1).await.remove(0);
    app.gql("mutation($t: String!) { verifyEmail(token: $t) }", json!({ "t": mail.link_token() }), None).await.data();
    app.login("u@example.cn", GOOD_PASSWORD).await.data();

    let merchant = app.merchant("c@example.cn", "520100", None).await;
    let created = app.create_case(&merchant.token, &["CUSTOMS", "TAX"]).await;
    let case_id = created.data()["createCase"]["id"].as_str().expect("id").to_string();
    let incomplete = app.submit_case(&merchant.token, &case_id).await;
    assert_eq!(incomplete.error_code(), "VALIDATION");
    let mut fields = incomplete.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["filings.CUSTOMS.data", "filings.CUSTOMS.uscc", "filings.TAX.data", "filings.TAX.uscc"]);
    let case = app.case(&merchant.token, &case_id).await;
    assert_eq!(case.data()["case"]["status"], "DRAFT");
}

async fn references_have_no_gaps_or_duplicates_under_concurrent_creation(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("r@example.cn", "620100", None).await;
    let other = app.merchant("r2@example.cn", "620100", None).await;
    let attempts = (0..12).map(|i| {
        let token = if i % 2 == 0 { merchant.token.clone() } else { other.token.clone() };
        let app = &app;
        async move { app.create_case(&token, &["INSPECTION"]).await }
    });
    let results = futures_util::future::join_all(attempts).await;
    let mut numbers: Vec<u32> = results
        .iter()
        .map(|r| {
            let reference = r.data()["createCase"]["reference"].as_str().expect("reference").to_string();
            reference.rsplit('-').next().expect("seq").parse().expect("number")
        })
        .collect();
    numbers.sort();
    assert_eq!(numbers, (1..=12).collect::<Vec<u32>>());
}

async fn two_officers_deciding_at_once_exactly_one_wins(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("race@example.cn", "500100", Some("91510100MA6CGUR3KG")).await;
    let officer = app.staff("o@gov.cn", "OFFICER", "TAX", &["500100"]).await;
    let supervisor = app.staff("s@gov.cn", "SUPERVISOR", "TAX", &["500100"]).await;
    for round in 0..3 {
        let (case_id, filings) = app.submitted_case(&merchant, &["TAX"]).await;
        let tax = filing_of(&filings, "TAX");
        let id = tax["id"].as_str().expect("id").to_string();
        let claimed = app.decide(&officer.token, "claimFiling", &id, tax["version"].as_i64().expect("v"), None).await;
        let v = claimed.data()["claimFiling"]["version"].as_i64().expect("v");
        // Round 0: two approvals; later rounds: an approval against a rejection.
        let second = if round == 0 { "approveFiling" } else { "rejectFiling" };
        let (a, b) = tokio::join!(
            app.decide(&officer.token, "approveFiling", &id, v, Some("ok")),
            app.decide(&supervisor.token, second, &id, v, Some("not ok")),
        );
        let outcomes = [&a, &b];
        let wins = outcomes.iter().filter(|r| r.0.get("errors").is_none()).count();
        assert_eq!(wins, 1, "exactly one decision wins: {} / {}", a.0, b.0);
        let loser = outcomes.iter().find(|r| r.0.get("errors").is_some()).expect("a loser");
        assert_eq!(loser.error_code(), "VERSION_CONFLICT");
        let case = app.case(&merchant.token, &case_id).await;
        let decisions = case.data()["case"]["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["action"] == "filing.approved" || e["action"] == "filing.rejected")
            .count();
        assert_eq!(decisions, 1, "one decision on the trail");
    }
    let verified = onestop::services::audit::verify_all(&app.state.db).await.map_err(|e| e.detail()).expect("verify");
    assert!(verified.is_ok(), "{verified:?}");
}

async fn a_failed_notification_rolls_the_whole_transition_back(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("tx@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let officer = app.staff("fx@gov.cn", "OFFICER", "FOREIGN_EXCHANGE", &["510100"]).await;
    let (case_id, filings) = app.submitted_case(&merchant, &["FX"]).await;
    let fx = filing_of(&filings, "FX");
    let id = fx["id"].as_str().expect("id").to_string();
    let claimed = app.decide(&officer.token, "claimFiling", &id, fx["version"].as_i64().expect("v"), None).await;
    let v = claimed.data()["claimFiling"]["version"].as_i64().expect("v");
    let events_before = app.count("audit_events").await;

    // Sabotage the outbox: the approval's email insert fails inside its transaction.
    let db = &app.state.db;
    use sea_orm::ConnectionTrait;
    db.execute_unprepared("ALTER TABLE jobs RENAME TO jobs_away").await.expect("rename");
    let failed = app.decide(&officer.token, "approveFiling", &id, v, None).await;
    db.execute_unprepared("ALTER TABLE jobs_away RENAME TO jobs").await.expect("rename back");
    assert_eq!(failed.error_code(), "INTERNAL");
    assert_eq!(failed.error_message(), "internal error", "details are not leaked");
    assert!(failed.0["errors"][0]["extensions"]["requestId"].is_string());

    let after = app.filing(&officer.token, &id).await;
    assert_eq!(after.data()["filing"]["status"], "UNDER_REVIEW");
    assert_eq!(after.data()["filing"]["version"], v);
    assert_eq!(after.data()["filing"]["certificateNumber"], serde_json::Value::Null);
    assert_eq!(app.count("audit_events").await, events_before, "no audit event either");
    let case = app.case(&merchant.token, &case_id).await;
    assert_eq!(case.data()["case"]["status"], "IN_REVIEW");
    // And with the outbox back, the same request goes through.
    app.decide(&officer.token, "approveFiling", &id, v, None).await.data();
}

async fn only_the_assignee_or_a_supervisor_decides(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("d@example.cn", "540100", Some("91510100MA6CGUR3KG")).await;
    let first = app.staff("one@gov.cn", "OFFICER", "CUSTOMS", &["540100"]).await;
    let second = app.staff("two@gov.cn", "OFFICER", "CUSTOMS", &["540100", "650100"]).await;
    let elsewhere = app.staff("far@gov.cn", "OFFICER", "CUSTOMS", &["650100"]).await;
    let supervisor = app.staff("boss@gov.cn", "SUPERVISOR", "CUSTOMS", &["540100"]).await;
    let (_, filings) = app.submitted_case(&merchant, &["CUSTOMS"]).await;
    let customs = filing_of(&filings, "CUSTOMS");
    let id = customs["id"].as_str().expect("id").to_string();
    let v = customs["version"].as_i64().expect("v");

    let premature = app.decide(&first.token, "approveFiling", &id, v, None).await;
    assert_eq!(premature.error_code(), "INVALID_TRANSITION", "claim before deciding");
    let claimed = app.decide(&first.token, "claimFiling", &id, v, None).await;
    let v = claimed.data()["claimFiling"]["version"].as_i64().expect("v");
    let again = app.decide(&second.token, "claimFiling", &id, v, None).await;
    assert_eq!(again.error_code(), "INVALID_TRANSITION");
    let not_mine = app.decide(&second.token, "approveFiling", &id, v, None).await;
    assert_eq!(not_mine.error_code(), "FORBIDDEN");
    let no_note = app.decide(&first.token, "rejectFiling", &id, v, Some("  ")).await;
    assert_eq!(no_note.error_fields(), vec!["note"]);

    // The supervisor reassigns: only to an officer whose regions cover the filing.
    let assign = "mutation($id: ID!, $o: ID!, $v: Int!) { assignFiling(id: $id, officerId: $o, expectedVersion: $v) { version assignee { email } } }";
    let refused = app.gql(assign, json!({ "id": id, "o": elsewhere.id, "v": v }), Some(&supervisor.token)).await;
    assert_eq!(refused.error_fields(), vec!["officerId"]);
    let by_officer = app.gql(assign, json!({ "id": id, "o": second.id, "v": v }), Some(&first.token)).await;
    assert_eq!(by_officer.error_code(), "FORBIDDEN");
    let assigned = app.gql(assign, json!({ "id": id, "o": second.id, "v": v }), Some(&supervisor.token)).await;
    assert_eq!(assigned.data()["assignFiling"]["assignee"]["email"], "two@gov.cn");
    let v = assigned.data()["assignFiling"]["version"].as_i64().expect("v");
    let mail = app.mail_for("two@gov.cn", 1).await.remove(0);
    assert!(mail.subject().contains("assigned"), "{}", mail.subject());

    assert_eq!(app.decide(&first.token, "approveFiling", &id, v, None).await.error_code(), "FORBIDDEN");
    let approved = app.decide(&second.token, "approveFiling", &id, v, None).await;
    assert_eq!(approved.data()["approveFiling"]["status"], "APPROVED");
    let after = approved.data()["approveFiling"]["version"].as_i64().expect("v");
    assert_eq!(
        app.decide(&supervisor.token, "rejectFiling", &id, after, Some("no")).await.error_code(),
        "INVALID_TRANSITION"
    );
}

async fn review_queue_pages_and_filters_and_workload_counts(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("q@example.cn", "610100", Some("91510100MA6CGUR3KG")).await;
    let officer = app.staff("tax@gov.cn", "OFFICER", "TAX", &["610100"]).await;
    let supervisor = app.staff("taxboss@gov.cn", "SUPERVISOR", "TAX", &["610100"]).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let (_, filings) = app.submitted_case(&merchant, &["TAX", "FX"]).await;
        let tax = filing_of(&filings, "TAX");
        ids.push((tax["id"].as_str().expect("id").to_string(), tax["version"].as_i64().expect("v")));
    }
    // Claim two; make one of them overdue by moving its deadline into the past.
    for (id, version) in &ids[..2] {
        app.decide(&officer.token, "claimFiling", id, *version, None).await.data();
    }
    let ids: Vec<String> = ids.into_iter().map(|(id, _)| id).collect();
    app.update_row("filings", "due_at = '2020-01-06 09:00:00+00:00'", &ids[1]).await;

    let page = "query($a: String, $f: FilingFilter) { reviewQueue(first: 2, after: $a, filter: $f) { edges { cursor node { id kind overdue } } pageInfo { hasNextPage hasPreviousPage endCursor } } }";
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let answer = app.gql(page, json!({ "a": after }), Some(&officer.token)).await;
        let queue = &answer.data()["reviewQueue"];
        for edge in queue["edges"].as_array().expect("edges") {
            assert_eq!(edge["node"]["kind"], "TAX", "an officer sees its agency only");
            seen.push(edge["node"]["id"].as_str().expect("id").to_string());
        }
        if queue["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = queue["pageInfo"]["endCursor"].as_str().map(str::to_string);
        // A new filing arriving between pages does not shift or repeat the pages.
        if seen.len() == 2 {
            app.submitted_case(&merchant, &["TAX"]).await;
        }
    }
    assert_eq!(seen[0], ids[1], "the overdue filing (soonest deadline) comes first");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no filing twice");
    assert_eq!(seen.len(), 6, "every filing once, including the one added meanwhile");

    let filtered = |filter: serde_json::Value| {
        let app = &app;
        let token = officer.token.clone();
        async move {
            let answer = app
                .gql(
                    "query($f: FilingFilter) { reviewQueue(first: 100, filter: $f) { nodes { id } } }",
                    json!({ "f": filter }),
                    Some(&token),
                )
                .await;
            answer.data()["reviewQueue"]["nodes"].as_array().expect("nodes").len()
        }
    };
    assert_eq!(filtered(json!({ "overdue": true })).await, 1);
    assert_eq!(filtered(json!({ "assignedToMe": true })).await, 2);
    assert_eq!(filtered(json!({ "statuses": ["SUBMITTED"] })).await, 4);
    assert_eq!(filtered(json!({ "kinds": ["FX"] })).await, 0);
    assert_eq!(filtered(json!({ "regionCodes": ["620100"] })).await, 0);
    let too_many = app.gql("{ reviewQueue(first: 1000) { nodes { id } } }", json!({}), Some(&officer.token)).await;
    assert_eq!(too_many.error_fields(), vec!["first"]);
    let forged = app.gql("{ reviewQueue(after: \"bm9wZQ\") { nodes { id } } }", json!({}), Some(&officer.token)).await;
    assert_eq!(forged.error_fields(), vec!["after"]);

    // Decided filings and those waiting on the merchant leave the default queue (the open
    // work); `statuses` shows them, and a resubmitted filing is back.
    let version = |id: String| {
        let app = &app;
        let token = officer.token.clone();
        async move { app.filing(&token, &id).await.data()["filing"]["version"].as_i64().expect("version") }
    };
    app.decide(&officer.token, "approveFiling", &ids[0], version(ids[0].clone()).await, None).await.data();
    app.decide(&officer.token, "claimFiling", &ids[2], version(ids[2].clone()).await, None).await.data();
    app.decide(&officer.token, "requestCorrection", &ids[2], version(ids[2].clone()).await, Some("请补充开户许可证"))
        .await
        .data();
    assert_eq!(filtered(json!({})).await, 4, "6 filings, one approved, one with the merchant");
    assert_eq!(filtered(json!(null)).await, 4);
    assert_eq!(filtered(json!({ "statuses": [] })).await, 4, "an empty list is no filter either");
    assert_eq!(filtered(json!({ "statuses": ["APPROVED"] })).await, 1);
    assert_eq!(filtered(json!({ "statuses": ["NEEDS_CORRECTION"] })).await, 1);
    let resubmitted = app
        .gql(
            "mutation($id: ID!, $v: Int!) { resubmitFiling(id: $id, expectedVersion: $v) { status } }",
            json!({ "id": ids[2], "v": version(ids[2].clone()).await }),
            Some(&merchant.token),
        )
        .await;
    assert_eq!(resubmitted.data()["resubmitFiling"]["status"], "SUBMITTED");
    assert_eq!(filtered(json!({})).await, 5, "resubmitted work is open again");

    let workload =
        app.gql("{ workload { agency regionCode status count overdue } }", json!({}), Some(&supervisor.token)).await;
    let rows = workload.data()["workload"].as_array().expect("rows").clone();
    let row = |status: &str| rows.iter().find(|r| r["status"] == status).cloned().expect("row");
    assert!(rows.iter().all(|r| r["agency"] == "TAX" && r["regionCode"] == "610100"));
    assert_eq!(row("UNDER_REVIEW")["count"], 1);
    assert_eq!(row("UNDER_REVIEW")["overdue"], 1);
    assert_eq!(row("APPROVED")["count"], 1);
    assert_eq!(row("SUBMITTED")["count"], 4);
    assert_eq!(row("SUBMITTED")["overdue"], 0);
}

async fn withdrawing_a_case_withdraws_undecided_filings(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("wd@example.cn", "630100", Some("91510100MA6CGUR3KG")).await;
    let officer = app.staff("insp@gov.cn", "OFFICER", "INSPECTION", &["630100"]).await;
    let (case_id, filings) = app.submitted_case(&merchant, &["INSPECTION", "TAX"]).await;
    let withdraw = "mutation($id: ID!) { withdrawCase(id: $id) { status filings { status } } }";
    let done = app.gql(withdraw, json!({ "id": case_id }), Some(&merchant.token)).await;
    assert_eq!(done.data()["withdrawCase"]["status"], "WITHDRAWN");
    assert!(done.data()["withdrawCase"]["filings"].as_array().expect("f").iter().all(|f| f["status"] == "WITHDRAWN"));
    assert_eq!(
        app.gql(withdraw, json!({ "id": case_id }), Some(&merchant.token)).await.error_code(),
        "INVALID_TRANSITION"
    );
    let inspection = filing_of(&filings, "INSPECTION");
    let claim = app
        .decide(
            &officer.token,
            "claimFiling",
            inspection["id"].as_str().expect("id"),
            inspection["version"].as_i64().expect("v") + 1,
            None,
        )
        .await;
    assert_eq!(claim.error_code(), "INVALID_TRANSITION");

    // Once something is approved the case can no longer be withdrawn.
    let (case_id, filings) = app.submitted_case(&merchant, &["INSPECTION"]).await;
    let inspection = filing_of(&filings, "INSPECTION");
    let id = inspection["id"].as_str().expect("id");
    let claimed = app.decide(&officer.token, "claimFiling", id, inspection["version"].as_i64().expect("v"), None).await;
    let v = claimed.data()["claimFiling"]["version"].as_i64().expect("v");
    app.decide(&officer.token, "approveFiling", id, v, None).await.data();
    assert_eq!(
        app.gql(withdraw, json!({ "id": case_id }), Some(&merchant.token)).await.error_code(),
        "INVALID_TRANSITION"
    );
}

async fn the_audit_chain_detects_tampering(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("audit@example.cn", "640100", Some("91510100MA6CGUR3KG")).await;
    let (case_id, _) = app.submitted_case(&merchant, &["TAX", "FX"]).await;
    app.gql(
        "mutation($c: ID!) { addComment(caseId: $c, body: \"请尽快审核\") { id } }",
        json!({ "c": case_id }),
        Some(&merchant.token),
    )
    .await
    .data();
    let case = app.case(&merchant.token, &case_id).await;
    let events = case.data()["case"]["events"].as_array().expect("events").clone();
    assert_eq!(events.len(), 1 + 2 + 2 + 1, "created, 2 updates, 2 submissions, comment");
    assert!(events.iter().all(|e| e["hash"].as_str().is_some_and(|h| h.len() == 64)));

    let verify = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_onestop"))
            .arg("verify-audit")
            .env("ONESTOP_DATABASE_URL", &app.db.url)
            .env("ONESTOP_DATA_DIR", app.db.dir())
            .env("ONESTOP_LOG", "error")
            .output()
            .expect("run onestop verify-audit")
    };
    let ok = verify();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("OK: 6 audit events"));

    use sea_orm::ConnectionTrait;
    app.state
        .db
        .execute_unprepared("UPDATE audit_events SET note = 'edited afterwards' WHERE action = 'comment.added'")
        .await
        .expect("tamper");
    let broken = verify();
    assert_eq!(broken.status.code(), Some(1));
    let report = String::from_utf8_lossy(&broken.stdout);
    assert!(report.contains("BROKEN") && report.contains("#6"), "{report}");
}

async fn a_page_of_cases_costs_a_bounded_number_of_statements(backend: Backend) {
    let Some(app) = crate::helpers::spawn_idle_app(backend).await else { return };
    let merchant = app.merchant("n1@example.cn", "650100", Some("91510100MA6CGUR3KG")).await;
    let officer = app.staff("n1fx@gov.cn", "OFFICER", "FOREIGN_EXCHANGE", &["650100"]).await;
    let query = "query($n: Int) { cases(first: $n) { nodes { reference filings { kind status assignee { email } } merchant { name } } } }";
    let mut costs = Vec::new();
    for target in [3usize, 12] {
        while app.count("cases").await < target as i64 {
            let (_, filings) = app.submitted_case(&merchant, &["FX", "TAX"]).await;
            let fx = filing_of(&filings, "FX");
            app.decide(
                &officer.token,
                "claimFiling",
                fx["id"].as_str().expect("id"),
                fx["version"].as_i64().expect("v"),
                None,
            )
            .await
            .data();
        }
        costs.push(
            crate::helpers::fewest_statements(&app, query, json!({ "n": 50 }), &merchant.token, |answer| {
                assert_eq!(answer.data()["cases"]["nodes"].as_array().expect("nodes").len(), target);
            })
            .await,
        );
    }
    assert_eq!(costs[0], costs[1], "statements do not grow with the page: {costs:?}");
    assert!(costs[1] <= 8, "a handful of statements per page: {costs:?}");
}

both_backends!(a_supervisor_transfers_a_filing_to_another_region);

async fn a_supervisor_transfers_a_filing_to_another_region(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("move@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let officer = app.staff("chengdu@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;
    let chengdu = app.staff("chengdu-boss@gov.cn", "SUPERVISOR", "CUSTOMS", &["510100"]).await;
    let kunming = app.staff("kunming-boss@gov.cn", "SUPERVISOR", "CUSTOMS", &["530100"]).await;
    let kunming_officer = app.staff("kunming@gov.cn", "OFFICER", "CUSTOMS", &["530100"]).await;
    let (case_id, filings) = app.submitted_case(&merchant, &["CUSTOMS"]).await;
    let customs = filing_of(&filings, "CUSTOMS");
    let id = customs["id"].as_str().expect("id").to_string();
    let claimed = app.decide(&officer.token, "claimFiling", &id, customs["version"].as_i64().expect("v"), None).await;
    let v = claimed.data()["claimFiling"]["version"].as_i64().expect("v");

    let transfer = "mutation($id: ID!, $r: String!, $v: Int!, $n: String!) { transferFiling(id: $id, regionCode: $r, expectedVersion: $v, note: $n) { status regionCode version assignee { id } } }";
    let vars = |r: &str, v: i64| json!({ "id": id, "r": r, "v": v, "n": "口岸在昆明 the port is in Kunming" });
    assert_eq!(app.gql(transfer, vars("530100", v), Some(&officer.token)).await.error_code(), "FORBIDDEN");
    assert_eq!(app.gql(transfer, vars("530100", v), Some(&kunming.token)).await.error_code(), "NOT_FOUND");
    assert_eq!(app.gql(transfer, vars("310000", v), Some(&chengdu.token)).await.error_fields(), vec!["regionCode"]);
    assert_eq!(app.gql(transfer, vars("530100", v - 1), Some(&chengdu.token)).await.error_code(), "VERSION_CONFLICT");
    let moved = app.gql(transfer, vars("530100", v), Some(&chengdu.token)).await;
    let moved = &moved.data()["transferFiling"];
    assert_eq!(moved["regionCode"], "530100");
    assert_eq!(moved["status"], "SUBMITTED", "back in the queue of the new office");
    assert_eq!(moved["assignee"], serde_json::Value::Null);

    // The old office no longer sees it; the new one does, and both supervisors were told.
    assert_eq!(app.filing(&officer.token, &id).await.error_code(), "NOT_FOUND");
    let queue = app.gql("{ reviewQueue { nodes { id } } }", json!({}), Some(&kunming_officer.token)).await;
    assert_eq!(queue.data()["reviewQueue"]["nodes"][0]["id"], id.as_str());
    for supervisor in ["chengdu-boss@gov.cn", "kunming-boss@gov.cn"] {
        let mail = app.mail_for(supervisor, 1).await.remove(0);
        assert!(mail.subject().contains("transferred"), "{}", mail.subject());
    }
    let case = app.case(&merchant.token, &case_id).await;
    let events = case.data()["case"]["events"].as_array().expect("events").clone();
    let transferred = events.iter().find(|e| e["action"] == "filing.transferred").expect("audit event");
    assert!(transferred["note"].as_str().is_some_and(|n| n.starts_with("510100 → 530100")));
}

both_backends!(deadlines_remind_the_assignee_and_report_overdue_filings_once);

async fn deadlines_remind_the_assignee_and_report_overdue_filings_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("late@example.cn", "620100", Some("91510100MA6CGUR3KG")).await;
    let officer = app.staff("late-officer@gov.cn", "OFFICER", "TAX", &["620100"]).await;
    let supervisor = app.staff("late-boss@gov.cn", "SUPERVISOR", "TAX", &["620100"]).await;
    let elsewhere = app.staff("other-boss@gov.cn", "SUPERVISOR", "TAX", &["630100"]).await;
    let _ = (supervisor, elsewhere);
    let (_, filings) = app.submitted_case(&merchant, &["TAX"]).await;
    let tax = filing_of(&filings, "TAX");
    let id = tax["id"].as_str().expect("id").to_string();
    app.decide(&officer.token, "claimFiling", &id, tax["version"].as_i64().expect("v"), None).await.data();

    // Due in an hour: at the next sweep the assignee is reminded, once.
    // RFC 3339 with a T: how sqlx writes timestamps into SQLite, so text comparisons agree.
    let soon = (app.state.clock.now() + chrono::Duration::hours(1) + app.state.config.sweep_interval)
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string();
    app.update_row("filings", &format!("due_at = '{soon}'"), &id).await;
    app.next_sweep().await;
    let reminder = app.mail_for("late-officer@gov.cn", 1).await.remove(0);
    assert!(reminder.subject().contains("deadline"), "{}", reminder.subject());
    // Past due: the supervisors of the filing's region are told, once.
    app.update_row("filings", "due_at = '2020-01-06 09:00:00+00:00'", &id).await;
    app.next_sweep().await;
    let notice = app.mail_for("late-boss@gov.cn", 1).await.remove(0);
    assert!(notice.subject().contains("passed"), "{}", notice.subject());
    // Later sweeps send nothing again.
    app.next_sweep().await;
    app.next_sweep().await;
    assert_eq!(app.smtp.to("late-officer@gov.cn").await.len(), 1, "one reminder");
    assert_eq!(app.smtp.to("late-boss@gov.cn").await.len(), 1, "one overdue notice");
    assert!(app.smtp.to("other-boss@gov.cn").await.is_empty(), "other regions' supervisors are not told");
    let queue = app
        .gql("{ reviewQueue(filter: {overdue: true}) { nodes { id overdue } } }", json!({}), Some(&officer.token))
        .await;
    assert_eq!(queue.data()["reviewQueue"]["nodes"][0]["overdue"], true);
}

/// The review queue with each filing's case, merchant and assignee (the benchmark's query) is
/// two statements — the officer's scope (the account with its regions and shared cases) and the
/// page joined with the rest — for 3 filings as for 12, claimed or not.
async fn a_review_queue_page_costs_two_statements_however_long(backend: Backend) {
    let Some(app) = crate::helpers::spawn_idle_app(backend).await else { return };
    let merchant = app.merchant("q3@example.cn", "650100", Some("91510100MA6CGUR3KG")).await;
    let officer = app.staff("q3fx@gov.cn", "OFFICER", "FOREIGN_EXCHANGE", &["650100"]).await;
    let query = "query($n: Int) { reviewQueue(first: $n) { edges { cursor node { id kind status dueAt overdue case { reference merchant { name } } assignee { email } } } pageInfo { hasNextPage endCursor } } }";
    let mut costs = Vec::new();
    // Filing id → (claimed, its case's reference), to check each row's joined parts.
    let mut filed: std::collections::HashMap<String, (bool, String)> = Default::default();
    for target in [3usize, 12] {
        while filed.len() < target {
            let (case_id, filings) = app.submitted_case(&merchant, &["FX"]).await;
            let fx = filing_of(&filings, "FX");
            let claimed = filed.len().is_multiple_of(2);
            if claimed {
                app.decide(
                    &officer.token,
                    "claimFiling",
                    fx["id"].as_str().expect("id"),
                    fx["version"].as_i64().expect("v"),
                    None,
                )
                .await
                .data();
            }
            let reference = app
                .gql("query($id: ID!) { case(id: $id) { reference } }", json!({ "id": case_id }), Some(&merchant.token))
                .await;
            let reference = reference.data()["case"]["reference"].as_str().expect("reference").to_string();
            filed.insert(fx["id"].as_str().expect("id").to_string(), (claimed, reference));
        }
        costs.push(
            crate::helpers::fewest_statements(&app, query, json!({ "n": 100 }), &officer.token, |answer| {
                let edges = answer.data()["reviewQueue"]["edges"].as_array().expect("edges").clone();
                assert_eq!(edges.len(), target);
                assert!(edges.iter().all(|e| e["node"]["case"]["merchant"]["name"].is_string()), "{edges:?}");
                let claimed = edges.iter().filter(|e| e["node"]["assignee"]["email"] == "q3fx@gov.cn").count();
                assert_eq!(claimed, target.div_ceil(2), "every claimed filing shows its assignee");
                // Each row is read back by column position: its filing, case and assignee agree.
                for edge in &edges {
                    let node = &edge["node"];
                    let (was_claimed, reference) = &filed[node["id"].as_str().expect("id")];
                    assert_eq!(node["kind"], "FX");
                    assert_eq!(node["status"], if *was_claimed { "UNDER_REVIEW" } else { "SUBMITTED" }, "{node}");
                    assert_eq!(node["assignee"].is_object(), *was_claimed, "{node}");
                    assert_eq!(node["case"]["reference"], reference.as_str(), "{node}");
                    assert!(node["dueAt"].is_string() && node["overdue"] == false, "{node}");
                }
            })
            .await,
        );
    }
    // The officer's scope and one joined page; on PostgreSQL the scope is kept between
    // requests (`access::known`), so a page is its one statement.
    let per_page = if backend == Backend::Postgres { 1 } else { 2 };
    assert_eq!(costs, [per_page, per_page], "the officer's scope and one joined page: {costs:?}");
}
