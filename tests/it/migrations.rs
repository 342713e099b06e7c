//! Data migrations, run on rows written under the schema before them (both databases).

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, Value};
use serde_json::json;
use uuid::Uuid;

use crate::{
    both_backends,
    helpers::{Backend, TestDb},
};

both_backends!(
    kept_answers_leave_no_trigger_behind,
    outbox_messages_become_jobs_and_nothing_is_sent_twice,
    typed_usccs_become_declared_and_spot_checks_get_their_agency,
    officer_regions_move_from_json_to_rows,
    certificate_numbers_issued_twice_stop_the_migration_with_their_names,
    approvals_already_stored_become_licences,
    filings_already_received_are_counted_in_the_rollup,
);

/// Inserts one row with bound values (placeholders as the backend writes them).
async fn insert(db: &DatabaseConnection, table: &str, row: &[(&str, Value)]) {
    let backend = db.get_database_backend();
    let columns: Vec<&str> = row.iter().map(|(c, _)| *c).collect();
    let marks: Vec<String> =
        (1..=row.len()).map(|i| if backend == DbBackend::Postgres { format!("${i}") } else { "?".into() }).collect();
    let sql = format!("INSERT INTO {table} ({}) VALUES ({})", columns.join(", "), marks.join(", "));
    db.execute_raw(Statement::from_sql_and_values(backend, sql, row.iter().map(|(_, v)| v.clone())))
        .await
        .unwrap_or_else(|e| panic!("insert into {table}: {e}"));
}

async fn user(db: &DatabaseConnection, email: &str, role: &str, agency: Option<&str>) -> Uuid {
    user_in(db, email, role, agency, "[\"510100\"]").await
}

async fn user_in(db: &DatabaseConnection, email: &str, role: &str, agency: Option<&str>, regions: &str) -> Uuid {
    let id = Uuid::now_v7();
    let now = chrono::Utc::now();
    insert(
        db,
        "users",
        &[
            ("id", id.into()),
            ("email", email.into()),
            ("display_name", "x".into()),
            ("role", role.into()),
            ("agency", agency.map(str::to_string).into()),
            ("regions", regions.into()),
            ("created_at", now.into()),
            ("updated_at", now.into()),
        ],
    )
    .await;
    id
}

async fn merchant(db: &DatabaseConnection, owner: Uuid, uscc: &str) -> Uuid {
    let id = Uuid::now_v7();
    let now = chrono::Utc::now();
    insert(
        db,
        "merchants",
        &[
            ("id", id.into()),
            ("owner_user_id", owner.into()),
            ("name", "m".into()),
            ("uscc", uscc.into()),
            ("region_code", "510100".into()),
            ("address", "a".into()),
            ("contact_email", "m@example.cn".into()),
            ("contact_phone", "+8613800000000".into()),
            ("store_urls", "[]".into()),
            ("categories", "[]".into()),
            ("risk_level", 0i32.into()),
            ("pass_streak", 0i32.into()),
            ("created_at", now.into()),
            ("updated_at", now.into()),
        ],
    )
    .await;
    id
}

async fn approved_registration(db: &DatabaseConnection, merchant: Uuid, uscc: &str) {
    approved_filing(db, merchant, "REGISTRATION", uscc).await;
}

/// A completed case holding one approved filing of `kind` with certificate `number`.
async fn approved_filing(db: &DatabaseConnection, merchant: Uuid, kind: &str, number: &str) {
    let (case, now) = (Uuid::now_v7(), chrono::Utc::now());
    insert(
        db,
        "cases",
        &[
            ("id", case.into()),
            ("reference", format!("510100-2026-{}", &case.simple().to_string()[26..]).into()),
            ("merchant_id", merchant.into()),
            ("region_code", "510100".into()),
            ("status", "COMPLETED".into()),
            ("created_at", now.into()),
            ("updated_at", now.into()),
        ],
    )
    .await;
    let agency = if kind == "REGISTRATION" { "MARKET_REGULATION" } else { kind };
    insert(
        db,
        "filings",
        &[
            ("id", Uuid::now_v7().into()),
            ("case_id", case.into()),
            ("kind", kind.into()),
            ("agency", agency.into()),
            ("status", "APPROVED".into()),
            ("version", 5i32.into()),
            ("region_code", "510100".into()),
            ("certificate_number", number.into()),
            ("uscc", (number.len() == 18).then(|| number.to_string()).into()),
            ("created_at", now.into()),
            ("updated_at", now.into()),
        ],
    )
    .await;
}

async fn text(db: &DatabaseConnection, sql: &str) -> Option<String> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_string()))
        .await
        .expect("query")
        .expect("row");
    row.try_get::<Option<String>>("", "v").expect("column v")
}

async fn typed_usccs_become_declared_and_spot_checks_get_their_agency(backend: Backend) {
    let Some(test_db) = TestDb::create_for_test(backend).await else { return };
    let db = Database::connect(&test_db.url).await.expect("connect");
    // The schema as it was before the review fixes (nine migrations).
    Migrator::up(&db, Some(9)).await.expect("migrate to 9");
    let typed_owner = user(&db, "typed@example.cn", "MERCHANT", None).await;
    let typed = merchant(&db, typed_owner, "91510100MA6CGUR3KG").await;
    let issued_owner = user(&db, "issued@example.cn", "MERCHANT", None).await;
    let issued = merchant(&db, issued_owner, "91510100MA61234567").await;
    approved_registration(&db, issued, "91510100MA61234567").await;
    let officer = user(&db, "customs@gov.cn", "OFFICER", Some("CUSTOMS")).await;
    let check = Uuid::now_v7();
    insert(
        &db,
        "spot_checks",
        &[
            ("id", check.into()),
            ("merchant_id", typed.into()),
            ("channel", "ONLINE".into()),
            ("category", "FOOD".into()),
            ("region_code", "510100".into()),
            ("result", "PASS".into()),
            ("checked_at", chrono::Utc::now().into()),
            ("officer_id", officer.into()),
        ],
    )
    .await;

    Migrator::up(&db, None).await.expect("migrate to the end");
    let of = |id: Uuid| match backend {
        Backend::Postgres => format!("'{id}'"),
        Backend::Sqlite => format!("X'{}'", id.simple()),
    };
    let column = |col: &str, table: &str, id: Uuid| format!("SELECT {col} AS v FROM {table} WHERE id = {}", of(id));
    assert_eq!(text(&db, &column("uscc", "merchants", typed)).await, None, "a typed code is no longer verified");
    assert_eq!(text(&db, &column("declared_uscc", "merchants", typed)).await.as_deref(), Some("91510100MA6CGUR3KG"));
    assert_eq!(
        text(&db, &column("uscc", "merchants", issued)).await.as_deref(),
        Some("91510100MA61234567"),
        "an approved registration keeps it"
    );
    assert_eq!(text(&db, &column("declared_uscc", "merchants", issued)).await, None);
    assert_eq!(
        text(&db, &column("agency", "spot_checks", check)).await.as_deref(),
        Some("CUSTOMS"),
        "the recording officer's agency"
    );

    // Rolled back, the typed code is where it was.
    let applied = Migrator::get_applied_migrations(&db).await.expect("applied").len();
    Migrator::down(&db, Some((applied - 9) as u32)).await.expect("roll back to 9");
    assert_eq!(text(&db, &column("uscc", "merchants", typed)).await.as_deref(), Some("91510100MA6CGUR3KG"));
    db.close().await.ok();
}

async fn officer_regions_move_from_json_to_rows(backend: Backend) {
    let Some(test_db) = TestDb::create_for_test(backend).await else { return };
    let db = Database::connect(&test_db.url).await.expect("connect");
    Migrator::up(&db, Some(10)).await.expect("migrate to 10");
    let two = user_in(&db, "two@gov.cn", "SUPERVISOR", Some("CUSTOMS"), "[\"530100\", \"510100\", \"530100\"]").await;
    let none = user_in(&db, "merchant@example.cn", "MERCHANT", None, "[]").await;
    let odd = user_in(&db, "odd@gov.cn", "OFFICER", Some("TAX"), "null").await;
    Migrator::up(&db, None).await.expect("migrate to the end");
    let regions = |id: Uuid| {
        let db = &db;
        async move {
            let literal = match backend {
                Backend::Postgres => format!("'{id}'"),
                Backend::Sqlite => format!("X'{}'", id.simple()),
            };
            let sql = format!("SELECT region_code FROM user_regions WHERE user_id = {literal} ORDER BY position");
            db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .expect("query")
                .iter()
                .map(|row| row.try_get::<String>("", "region_code").expect("code"))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        regions(two).await,
        vec!["530100", "510100"],
        "one row per region, in the given order, duplicates merged"
    );
    assert!(regions(none).await.is_empty());
    assert!(regions(odd).await.is_empty(), "a value that is not an array counts as no regions");

    // Rolled back, the JSON column holds them again.
    let applied = Migrator::get_applied_migrations(&db).await.expect("applied").len();
    Migrator::down(&db, Some((applied - 10) as u32)).await.expect("roll back to 10");
    let literal = match backend {
        Backend::Postgres => format!("'{two}'"),
        Backend::Sqlite => format!("X'{}'", two.simple()),
    };
    let json = text(&db, &format!("SELECT regions AS v FROM users WHERE id = {literal}")).await.expect("regions");
    let parsed: Vec<String> = serde_json::from_str(&json).expect("JSON");
    assert_eq!(parsed, vec!["530100", "510100"]);
    db.close().await.ok();
}

async fn certificate_numbers_issued_twice_stop_the_migration_with_their_names(backend: Backend) {
    let Some(test_db) = TestDb::create_for_test(backend).await else { return };
    let db = Database::connect(&test_db.url).await.expect("connect");
    Migrator::up(&db, Some(10)).await.expect("migrate to 10");
    for i in 0..2 {
        let owner = user(&db, &format!("twin{i}@example.cn"), "MERCHANT", None).await;
        let merchant = merchant(&db, owner, &format!("91510100MA6CGUR3K{i}")).await;
        approved_filing(&db, merchant, "CUSTOMS", "7901911234").await;
    }
    let refused = Migrator::up(&db, None).await.expect_err("the index cannot be built on duplicates");
    let message = refused.to_string();
    assert!(message.contains("CUSTOMS 7901911234"), "names the duplicate: {message}");
    db.close().await.ok();
}

async fn approvals_already_stored_become_licences(backend: Backend) {
    let Some(test_db) = TestDb::create_for_test(backend).await else { return };
    let db = Database::connect(&test_db.url).await.expect("connect");
    Migrator::up(&db, Some(15)).await.expect("migrate to 15");
    let owner = Uuid::now_v7();
    let now = chrono::Utc::now();
    insert(
        &db,
        "users",
        &[
            ("id", owner.into()),
            ("email", "holder@example.cn".into()),
            ("display_name", "x".into()),
            ("role", "MERCHANT".into()),
            ("created_at", now.into()),
            ("updated_at", now.into()),
        ],
    )
    .await;
    let holder = merchant(&db, owner, "91510100MA61234567").await;
    approved_registration(&db, holder, "91510100MA61234567").await;
    approved_filing(&db, holder, "TAX", "91510100MA61234567").await;
    approved_filing(&db, holder, "TAX", "91510100MA61234567").await;
    approved_filing(&db, holder, "INSPECTION", "CIQ5101002026000001").await;
    Migrator::up(&db, None).await.expect("migrate to the end");

    let count = |sql: &str| {
        let db = &db;
        let sql = sql.to_string();
        async move {
            let row = db
                .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .expect("query")
                .expect("row");
            row.try_get::<i64>("", "n").expect("n")
        }
    };
    assert_eq!(count("SELECT COUNT(*) AS n FROM licences WHERE kind = 'REGISTRATION' AND number = '91510100MA61234567' AND status = 'ACTIVE'").await, 1, "the verified USCC is a registration licence");
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM licences WHERE kind = 'TAX' AND number = '91510100MA61234567'").await,
        1,
        "one TAX licence for two approvals"
    );
    assert_eq!(count("SELECT COUNT(*) AS n FROM licence_events WHERE action = 'reissued'").await, 1);
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM licences WHERE kind = 'INSPECTION' AND valid_until IS NOT NULL").await,
        1,
        "inspection expires"
    );
    assert_eq!(count("SELECT COUNT(*) AS n FROM licences WHERE kind <> 'INSPECTION' AND valid_until IS NULL").await, 2);
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM filings WHERE licence_id IS NULL").await,
        0,
        "every approval points at its licence"
    );
    assert_eq!(count("SELECT COUNT(*) AS n FROM licence_events WHERE action = 'issued'").await, 3);
    db.close().await.ok();
}

/// Migration 23 counts the filings already submitted under their case's first submission day
/// in China (17:30 UTC on 31 March is 1 April there); drafts and unsubmitted cases count nothing.
async fn filings_already_received_are_counted_in_the_rollup(backend: Backend) {
    let Some(test_db) = TestDb::create_for_test(backend).await else { return };
    let db = Database::connect(&test_db.url).await.expect("connect");
    Migrator::up(&db, Some(22)).await.expect("migrate to 22");
    let (owner, now) = (Uuid::now_v7(), chrono::Utc::now());
    insert(
        &db,
        "users",
        &[
            ("id", owner.into()),
            ("email", "received@example.cn".into()),
            ("display_name", "x".into()),
            ("role", "MERCHANT".into()),
            ("created_at", now.into()),
            ("updated_at", now.into()),
        ],
    )
    .await;
    let holder = merchant(&db, owner, "91510100MA61234567").await;
    let submitted_at =
        chrono::DateTime::parse_from_rfc3339("2026-03-31T17:30:00Z").expect("instant").with_timezone(&chrono::Utc);
    for (reference, submitted, statuses) in [
        ("510100-2026-000001", Some(submitted_at), ["SUBMITTED", "APPROVED", "DRAFT"]),
        ("510100-2026-000002", None, ["DRAFT", "DRAFT", "DRAFT"]),
    ] {
        let (case, now) = (Uuid::now_v7(), chrono::Utc::now());
        insert(
            &db,
            "cases",
            &[
                ("id", case.into()),
                ("reference", reference.into()),
                ("merchant_id", holder.into()),
                ("region_code", "510100".into()),
                ("status", "IN_REVIEW".into()),
                ("created_at", now.into()),
                ("submitted_at", submitted.into()),
                ("updated_at", now.into()),
            ],
        )
        .await;
        for (kind, status) in ["CUSTOMS", "TAX", "FX"].into_iter().zip(statuses) {
            let agency = if kind == "FX" { "FOREIGN_EXCHANGE" } else { kind };
            insert(
                &db,
                "filings",
                &[
                    ("id", Uuid::now_v7().into()),
                    ("case_id", case.into()),
                    ("kind", kind.into()),
                    ("agency", agency.into()),
                    ("status", status.into()),
                    ("version", 2i32.into()),
                    ("region_code", "510100".into()),
                    ("created_at", now.into()),
                    ("updated_at", now.into()),
                ],
            )
            .await;
        }
    }
    Migrator::up(&db, None).await.expect("migrate to the end");
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT CAST(day AS TEXT) AS day, kind, agency, region_code, received FROM received_filings ORDER BY kind",
        ))
        .await
        .expect("rollup");
    let rows: Vec<(String, String, String, String, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get("", "day").expect("day"),
                r.try_get("", "kind").expect("kind"),
                r.try_get("", "agency").expect("agency"),
                r.try_get("", "region_code").expect("region"),
                r.try_get("", "received").expect("n"),
            )
        })
        .collect();
    let expected =
        |kind: &str| ("2026-04-01".to_string(), kind.to_string(), kind.to_string(), "510100".to_string(), 1i64);
    assert_eq!(rows, [expected("CUSTOMS"), expected("TAX")]);
    db.close().await.ok();
}

/// Migration 29: the outbox's messages become email jobs under their ids. A pending one is sent
/// after the upgrade (under its own Message-ID), a sent one is not sent again, a failed one
/// stays parked; rolled back, they are messages again.
async fn outbox_messages_become_jobs_and_nothing_is_sent_twice(backend: Backend) {
    let Some(test_db) = TestDb::create_for_test(backend).await else { return };
    let db = Database::connect(&test_db.url).await.expect("connect");
    Migrator::up(&db, Some(28)).await.expect("migrate to 28");
    let now = chrono::Utc::now();
    let payload = |to: &str| {
        json!({ "to": to, "subject": format!("Subject for {to}"), "text": "text", "html": "<p>html</p>" }).to_string()
    };
    let mut ids = Vec::new();
    for (to, status, sent_at) in [
        ("pending@example.cn", "pending", None),
        ("sent@example.cn", "sent", Some(now)),
        ("failed@example.cn", "failed", None),
    ] {
        let id = Uuid::now_v7();
        ids.push(id);
        insert(
            &db,
            "outbox_messages",
            &[
                ("id", id.into()),
                ("kind", "email".into()),
                ("payload", payload(to).into()),
                ("status", status.into()),
                ("attempts", (if status == "failed" { 10 } else { 1 }).into()),
                ("next_attempt_at", now.into()),
                ("last_error", Option::<String>::None.into()),
                ("created_at", now.into()),
                ("sent_at", sent_at.into()),
            ],
        )
        .await;
    }
    Migrator::up(&db, None).await.expect("migrate to the end");
    let state = |id: Uuid| {
        let literal = match backend {
            Backend::Postgres => format!("'{id}'"),
            Backend::Sqlite => format!("X'{}'", id.simple()),
        };
        format!("SELECT state AS v FROM jobs WHERE kind = 'email' AND id = {literal}")
    };
    assert_eq!(text(&db, &state(ids[0])).await.as_deref(), Some("QUEUED"));
    assert_eq!(text(&db, &state(ids[1])).await.as_deref(), Some("DONE"));
    assert_eq!(text(&db, &state(ids[2])).await.as_deref(), Some("PARKED"));
    db.close().await.ok();

    // The server on the upgraded database sends the pending one only, under its id.
    onestop::install_crypto_provider();
    let smtp = crate::smtp::SmtpSink::default();
    let port = smtp.start_on(0).await;
    let config = crate::helpers::test_config(&test_db.url, test_db.dir(), port);
    let app = crate::helpers::start(test_db, smtp.clone(), config).await;
    let mails = app.mail_for("pending@example.cn", 1).await;
    assert!(mails[0].message_id().starts_with(&ids[0].to_string()), "{}", mails[0].message_id());
    app.run_pending_jobs().await;
    let to: Vec<Vec<String>> = smtp.all().await.iter().map(|m| m.to.clone()).collect();
    assert_eq!(to, vec![vec!["pending@example.cn".to_string()]], "nothing else is sent");

    // Rolled back (30, then 29), they are messages again.
    let db = &app.state.db;
    Migrator::down(db, Some(2)).await.expect("roll back 30 and 29");
    let status = text(db, "SELECT status AS v FROM outbox_messages WHERE payload LIKE '%sent@example.cn%'").await;
    assert_eq!(status.as_deref(), Some("sent"));
    assert_eq!(
        text(db, "SELECT status AS v FROM outbox_messages WHERE payload LIKE '%pending@example.cn%'").await.as_deref(),
        Some("sent")
    );
}

/// Migration 30: the data-change triggers of 28 (for kept answers, now removed) are gone, so a
/// write on PostgreSQL notifies nobody; rolled back, they return.
async fn kept_answers_leave_no_trigger_behind(backend: Backend) {
    let Some(test_db) = TestDb::create_for_test(backend).await else { return };
    let db = Database::connect(&test_db.url).await.expect("connect");
    let triggers = "SELECT CAST(COUNT(*) AS TEXT) AS v FROM pg_trigger WHERE tgname LIKE '%_data_changed'";
    Migrator::up(&db, Some(28)).await.expect("migrate to 28");
    if backend == Backend::Postgres {
        assert_ne!(text(&db, triggers).await.as_deref(), Some("0"), "28 put triggers on the tables");
    }
    Migrator::up(&db, None).await.expect("migrate to the end");
    if backend == Backend::Postgres {
        assert_eq!(text(&db, triggers).await.as_deref(), Some("0"));
        let function = "SELECT CAST(COUNT(*) AS TEXT) AS v FROM pg_proc WHERE proname = 'onestop_data_changed'";
        assert_eq!(text(&db, function).await.as_deref(), Some("0"));
    }
    Migrator::down(&db, Some(1)).await.expect("roll back 30");
    if backend == Backend::Postgres {
        assert_ne!(text(&db, triggers).await.as_deref(), Some("0"), "rolled back, the triggers return");
    }
    Migrator::up(&db, None).await.expect("and forward again");
    db.close().await.ok();
}
