//! Product batches, the public trace page, QR codes, scan counting, copy detection, spot
//! checks, risk levels and the online/offline comparison.

use serde_json::json;

use crate::{
    both_backends,
    fixtures::filing_of,
    helpers::{Backend, PUBLIC_BASE_URL, TestApp, spawn_app, spawn_app_with},
};

both_backends!(
    batches_are_registered_with_validation_and_unguessable_codes,
    the_trace_page_shows_the_product_counts_scans_and_escapes_text,
    qr_codes_decode_to_the_trace_url,
    concurrent_scans_are_counted_exactly_and_copies_are_flagged,
    scans_are_rate_limited_per_address,
    certificates_can_be_verified_by_anyone,
    spot_checks_are_for_inspection_officers_in_their_regions,
    failed_checks_raise_the_risk_level_and_passes_lower_it,
    the_comparison_counts_online_and_offline_per_category,
    one_client_cannot_flag_a_batch_as_a_copy,
    public_pages_cannot_publish_personal_numbers,
);

const REGISTER: &str = "mutation($i: ProductBatchInput!) { registerProductBatch(input: $i) { id traceCode traceUrl scanCount suspectedCounterfeit quantity productionDate merchant { id } } }";

fn batch(name: &str, number: &str, quantity: i64) -> serde_json::Value {
    json!({ "i": {
        "productName": name, "category": "AGRICULTURAL", "originRegionCode": "511800",
        "batchNumber": number, "productionDate": "2026-09-01", "quantity": quantity
    }})
}

/// Registers a batch for a fresh merchant and returns (merchant token, merchant id, code).
async fn merchant_with_batch(
    app: &TestApp,
    email: &str,
    uscc: Option<&str>,
    quantity: i64,
) -> (String, String, String) {
    let merchant = app.merchant(email, "510100", uscc).await;
    let created =
        app.gql(REGISTER, batch("汉源花椒 Hanyuan pepper", "HY-2026-09", quantity), Some(&merchant.token)).await;
    let data = &created.data()["registerProductBatch"];
    (
        merchant.token,
        data["merchant"]["id"].as_str().expect("id").to_string(),
        data["traceCode"].as_str().expect("code").to_string(),
    )
}

async fn get(app: &TestApp, path: &str, accept: &str, from: &str) -> reqwest::Response {
    app.client.get(app.url(path)).header("accept", accept).header("x-forwarded-for", from).send().await.expect("GET")
}

async fn batches_are_registered_with_validation_and_unguessable_codes(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("batch@example.cn", "510100", None).await;
    let first = app.gql(REGISTER, batch("花椒", "B-1", 100), Some(&merchant.token)).await;
    let first = &first.data()["registerProductBatch"];
    let code = first["traceCode"].as_str().expect("code");
    assert_eq!(code.len(), 16, "16 Crockford characters = 80 bits");
    assert!(code.bytes().all(|b| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b)), "{code}");
    assert_eq!(first["traceUrl"], format!("{PUBLIC_BASE_URL}/t/{code}"));
    assert_eq!(first["productionDate"], "2026-09-01");
    let second = app.gql(REGISTER, batch("花椒", "B-2", 100), Some(&merchant.token)).await;
    assert_ne!(second.data()["registerProductBatch"]["traceCode"], code, "codes are random, not sequential");

    let duplicate = app.gql(REGISTER, batch("花椒", "B-1", 5), Some(&merchant.token)).await;
    assert_eq!(duplicate.error_code(), "CONFLICT");
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(2)).format("%Y-%m-%d").to_string();
    let bad = app
        .gql(
            REGISTER,
            json!({ "i": {
                "productName": " ", "category": "FOOD", "originRegionCode": "310000",
                "batchNumber": "B-3", "productionDate": tomorrow, "quantity": 0
            }}),
            Some(&merchant.token),
        )
        .await;
    let mut fields = bad.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["originRegionCode", "productName", "productionDate", "quantity"]);
    let bad_date = app
        .gql(REGISTER, json!({ "i": { "productName": "x", "category": "FOOD", "originRegionCode": "510100", "batchNumber": "B-4", "productionDate": "2026-13-45", "quantity": 1 }}), Some(&merchant.token))
        .await;
    assert_eq!(bad_date.error_code(), "BAD_REQUEST");

    let officer = app.staff("o@gov.cn", "OFFICER", "INSPECTION", &["510100"]).await;
    assert_eq!(app.gql(REGISTER, batch("x", "X", 1), Some(&officer.token)).await.error_code(), "FORBIDDEN");
    assert_eq!(app.gql(REGISTER, batch("x", "X", 1), None).await.error_code(), "UNAUTHENTICATED");

    let listed = app
        .gql("{ productBatches { batchNumber scanCount spotChecks { id } } }", json!({}), Some(&merchant.token))
        .await;
    let numbers: Vec<&str> = listed.data()["productBatches"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|b| b["batchNumber"].as_str())
        .collect();
    assert_eq!(numbers, vec!["B-2", "B-1"]);
    assert_eq!(app.count("product_batches").await, 2);
}

async fn the_trace_page_shows_the_product_counts_scans_and_escapes_text(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("page@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let created = app.gql(REGISTER, batch("<script>alert(1)</script> 花椒", "P-1", 1000), Some(&merchant.token)).await;
    let code = created.data()["registerProductBatch"]["traceCode"].as_str().expect("code").to_string();

    let page = get(&app, &format!("/t/{code}"), "text/html", "203.0.113.7").await;
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"].to_str().expect("csp").contains("default-src 'none'"));
    let html = page.text().await.expect("html");
    assert!(!html.contains("<script>alert(1)</script>"), "no raw script");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "shown as text");
    assert!(html.contains("四川省 雅安市"), "origin by name");
    assert!(
        html.contains("91510100MA6CGUR3KG") && html.contains("自行申报，未核验"),
        "a typed USCC is declared, not verified"
    );
    assert!(
        html.contains("农产品") && html.contains("Agricultural products") && !html.contains("AGRICULTURAL"),
        "categories by name"
    );
    assert!(html.contains("暂无抽检记录"), "no spot check yet");

    // Lower-case and hyphenated input is the same code; JSON on request.
    let spaced = format!("{}-{}", &code[..8], &code[8..]).to_lowercase();
    let json: serde_json::Value =
        get(&app, &format!("/t/{spaced}"), "application/json", "203.0.113.8").await.json().await.expect("json");
    assert_eq!(json["traceCode"], code.as_str());
    assert_eq!(json["merchantVerified"], false, "a USCC typed into the profile proves nothing");
    assert_eq!(json["merchantUsccStatus"], "declared");
    assert_eq!(json["categoryName"]["zh"], "农产品");
    assert_eq!(json["originRegionCode"], "511800");
    assert_eq!(json["scanCount"], 2, "both views counted");
    assert_eq!(json["suspectedCounterfeit"], false);

    let unknown = get(&app, "/t/0000000000000000", "text/html", "203.0.113.9").await;
    assert_eq!(unknown.status(), 404);
    assert!(unknown.text().await.expect("html").contains("未找到该溯源码"));
    let malformed = get(&app, "/t/not-a-code!", "application/json", "203.0.113.9").await;
    assert_eq!(malformed.status(), 400);

    // The GraphQL view is public and is not a scan.
    let view = app
        .gql("query($c: String!) { trace(code: $c) { productName merchantVerified scanCount latestSpotCheck { result } } }", json!({ "c": code }), None)
        .await;
    assert_eq!(view.data()["trace"]["scanCount"], 2);
    let none = app.gql("{ trace(code: \"0000000000000000\") { productName } }", json!({}), None).await;
    assert_eq!(none.data()["trace"], serde_json::Value::Null);
    app.scans_settled().await;
    let row = app.query_row("SELECT COUNT(*) AS n FROM trace_scans WHERE client_hash NOT LIKE '203.%'").await;
    assert_eq!(row.try_get::<i64>("", "n").expect("n"), 2, "addresses are stored only as hashes");
}

async fn qr_codes_decode_to_the_trace_url(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let (_, _, code) = merchant_with_batch(&app, "qr@example.cn", None, 10).await;
    let png = get(&app, &format!("/t/{code}/qr.png?size=300"), "image/png", "198.51.100.1").await;
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["content-type"], "image/png");
    let bytes = png.bytes().await.expect("png");
    let image = image::load_from_memory(&bytes).expect("a PNG").to_luma8();
    assert!(image.width() >= 300, "at least the requested size");
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    let (meta, content) = grids[0].decode().expect("decodes");
    assert_eq!(content, format!("{PUBLIC_BASE_URL}/t/{code}"));
    assert!(meta.ecc_level <= 1, "error correction M (1) or higher (H = 2 is not used here): {}", meta.ecc_level);

    let svg = get(&app, &format!("/t/{code}/qr.svg"), "image/svg+xml", "198.51.100.1").await;
    assert_eq!(svg.status(), 200);
    assert!(svg.text().await.expect("svg").starts_with("<?xml"));
    assert_eq!(get(&app, &format!("/t/{code}/qr.png?size=5000"), "image/png", "198.51.100.1").await.status(), 400);
    assert_eq!(get(&app, "/t/0000000000000000/qr.svg", "image/svg+xml", "198.51.100.1").await.status(), 404);
    app.scans_settled().await;
    let row = app.query_row("SELECT scan_count FROM product_batches").await;
    assert_eq!(row.try_get::<i64>("", "scan_count").expect("n"), 0, "printing labels is not scanning");
}

async fn concurrent_scans_are_counted_exactly_and_copies_are_flagged(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    // 20 units: copy suspicion at more than 3 × 20 = 60 scans.
    let (_, _, code) = merchant_with_batch(&app, "scan@example.cn", None, 20).await;
    let path = format!("/t/{code}");
    let scans = (0..50).map(|i| {
        let app = &app;
        let path = path.clone();
        async move { get(app, &path, "application/json", &format!("192.0.2.{}", i % 10)).await.status() }
    });
    let statuses = futures_util::future::join_all(scans).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let json: serde_json::Value = get(&app, &path, "application/json", "192.0.2.1").await.json().await.expect("json");
    assert_eq!(json["scanCount"], 51, "no lost increments");
    app.scans_settled().await;
    let stored = app.query_row("SELECT scan_count FROM product_batches").await;
    assert_eq!(stored.try_get::<i64>("", "scan_count").expect("n"), 51, "all stored");
    assert_eq!(json["suspectedCounterfeit"], false);
    for _ in 0..9 {
        get(&app, &path, "application/json", "192.0.2.1").await;
    }
    app.scans_settled().await;
    let past_views: serde_json::Value =
        get(&app, &path, "application/json", "192.0.2.1").await.json().await.expect("json");
    assert_eq!(past_views["scanCount"], 61);
    assert_eq!(
        past_views["suspectedCounterfeit"], false,
        "61 views > 3 × 20, but from 10 scanners: the rule counts scanners"
    );

    // Too many distinct addresses for a batch of 20 trips it too.
    let (_, _, other) = merchant_with_batch(&app, "scan2@example.cn", None, 20).await;
    for i in 0..20 {
        get(&app, &format!("/t/{other}"), "application/json", &format!("198.18.0.{i}")).await;
    }
    app.scans_settled().await;
    let fine: serde_json::Value =
        get(&app, &format!("/t/{other}"), "application/json", "198.18.0.1").await.json().await.expect("json");
    assert_eq!(fine["suspectedCounterfeit"], false, "20 addresses for 20 units is plausible");
    get(&app, &format!("/t/{other}"), "application/json", "198.18.1.1").await;
    // The address rule is evaluated when the scans are written.
    app.scans_settled().await;
    let tripped: serde_json::Value =
        get(&app, &format!("/t/{other}"), "application/json", "198.18.1.1").await.json().await.expect("json");
    assert_eq!(tripped["suspectedCounterfeit"], true, "21 addresses for 20 units is not");
    assert_eq!(tripped["scanCount"], 23);
    let html = get(&app, &format!("/t/{other}"), "text/html", "198.18.1.1").await.text().await.expect("html");
    assert!(html.contains("疑似被复制"), "the page warns");
}

/// Outside review 2, finding 5: the free text a trace page publishes carries no personal
/// number. A batch or profile name with one is refused, naming the field; a batch stored before
/// is shown masked.
async fn public_pages_cannot_publish_personal_numbers(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("names@example.cn", "510100", None).await;
    for (name, kind) in [
        ("汉源花椒 联系李伟 13800138000", "a phone number"),
        ("花椒 028-88889999", "a phone number"),
        ("花椒 身份证 510107199003074218", "a resident ID number"),
        ("花椒 6228480402564890018", "a bank account number"),
    ] {
        let refused = app.gql(REGISTER, batch(name, "N-1", 10), Some(&merchant.token)).await;
        assert_eq!(refused.error_code(), "VALIDATION", "{name}");
        assert_eq!(refused.error_fields(), vec!["productName"]);
        assert!(refused.error_message().contains(&format!("must not contain {kind}")), "{}", refused.0);
    }
    assert_eq!(app.count("product_batches").await, 0, "nothing registered");
    let profile = "mutation($i: MerchantProfileInput!) { saveMerchantProfile(input: $i) { id } }";
    let input = json!({ "name": "李伟花椒店 13800138000", "regionCode": "510100", "address": "成都", "contactEmail": "names@example.cn",
        "contactPhone": "028 8888 8888", "storeUrls": [], "categories": ["AGRICULTURAL"] });
    let answer = app.gql(profile, json!({ "i": input }), Some(&merchant.token)).await;
    assert_eq!(answer.error_fields(), vec!["name"], "{}", answer.0);

    let (_, _, code) = merchant_with_batch(&app, "older-name@example.cn", None, 10).await;
    let row = app.query_row(&format!("SELECT id FROM product_batches WHERE trace_code = '{code}'")).await;
    let id: uuid::Uuid = row.try_get("", "id").expect("id");
    app.update_row("product_batches", "product_name = '花椒 13800138000'", &id.to_string()).await;
    let page: serde_json::Value =
        get(&app, &format!("/t/{code}"), "application/json", "198.51.100.9").await.json().await.expect("json");
    assert_eq!(page["productName"], "花椒 138****8000");
}

/// Outside review 2, finding 4: one client cannot flag a batch. The reviewer's 60 views from one
/// address on a batch of 10 flag nothing, nor do eleven addresses of one IPv6 /64; eleven
/// addresses do (the window rule), and so do more scanners over the days than 3 × the batch
/// (each address counted once a window).
async fn one_client_cannot_flag_a_batch_as_a_copy(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.trace.scans_per_minute = 1000).await else { return };
    let (_, _, code) = merchant_with_batch(&app, "one@example.cn", None, 10).await;
    let path = format!("/t/{code}");
    for _ in 0..60 {
        assert_eq!(get(&app, &path, "application/json", "203.0.113.7").await.status(), 200);
    }
    for i in 0..11 {
        get(&app, &path, "application/json", &format!("2001:db8:7:7::{i:x}")).await;
    }
    app.scans_settled().await;
    let one: serde_json::Value = get(&app, &path, "application/json", "203.0.113.7").await.json().await.expect("json");
    assert_eq!(one["scanCount"], 72);
    assert_eq!(one["suspectedCounterfeit"], false, "two scanners, however many views");
    for i in 0..9 {
        get(&app, &path, "application/json", &format!("203.0.113.{}", 100 + i)).await;
    }
    app.scans_settled().await;
    let several: serde_json::Value =
        get(&app, &path, "application/json", "203.0.113.7").await.json().await.expect("json");
    assert_eq!(several["suspectedCounterfeit"], true, "11 scanners in a window for 10 units");

    // Scanners of earlier windows count too: 29 earlier ones and two today exceed 3 × 10.
    let (_, _, older) = merchant_with_batch(&app, "older@example.cn", None, 10).await;
    let row = app.query_row(&format!("SELECT id FROM product_batches WHERE trace_code = '{older}'")).await;
    let batch_id: uuid::Uuid = row.try_get("", "id").expect("id");
    let window = app.state.config.trace.window.as_secs() as i64;
    let bucket = chrono::Utc::now().timestamp().div_euclid(window);
    use sea_orm::ConnectionTrait;
    let db = &app.state.db;
    for day in 1..=29 {
        let insert = sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            if db.get_database_backend() == sea_orm::DbBackend::Postgres {
                "INSERT INTO trace_scan_addresses (batch_id, bucket, client_hash) VALUES ($1, $2, $3)"
            } else {
                "INSERT INTO trace_scan_addresses (batch_id, bucket, client_hash) VALUES (?, ?, ?)"
            },
            [batch_id.into(), (bucket - day).into(), format!("earlier-scanner-{day}").into()],
        );
        db.execute_raw(insert).await.expect("earlier scanner");
    }
    get(&app, &format!("/t/{older}"), "application/json", "203.0.113.7").await;
    app.scans_settled().await;
    let seen: serde_json::Value =
        get(&app, &format!("/t/{older}"), "application/json", "203.0.113.7").await.json().await.expect("json");
    assert_eq!(seen["suspectedCounterfeit"], false, "30 scanners for 10 units is still plausible");
    get(&app, &format!("/t/{older}"), "application/json", "203.0.113.8").await;
    app.scans_settled().await;
    let copied: serde_json::Value =
        get(&app, &format!("/t/{older}"), "application/json", "203.0.113.7").await.json().await.expect("json");
    assert_eq!(copied["suspectedCounterfeit"], true, "31 scanners over the windows > 3 × 10");
}

async fn scans_are_rate_limited_per_address(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.trace.scans_per_minute = 5).await else { return };
    let (_, _, code) = merchant_with_batch(&app, "rate@example.cn", None, 1000).await;
    let path = format!("/t/{code}");
    for _ in 0..5 {
        assert_eq!(get(&app, &path, "application/json", "100.64.0.1").await.status(), 200);
    }
    let limited = get(&app, &path, "application/json", "100.64.0.1").await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().get("retry-after").is_some());
    assert_eq!(get(&app, &path, "application/json", "100.64.0.2").await.status(), 200, "other addresses are served");
    // IPv6: one subscriber holds a whole /64, so its addresses share one budget.
    for i in 1..=5 {
        assert_eq!(get(&app, &path, "application/json", &format!("2001:db8:1:2::{i:x}")).await.status(), 200);
    }
    assert_eq!(get(&app, &path, "application/json", "2001:db8:1:2:ffff::6").await.status(), 429, "same /64");
    assert_eq!(
        get(&app, "/c/CIQ5101002026000001", "application/json", "2001:db8:1:2::99").await.status(),
        429,
        "certificate checks too"
    );
    assert_eq!(
        get(&app, &path, "application/json", "2001:db8:1:3::1").await.status(),
        200,
        "the next /64 is someone else"
    );
    app.scans_settled().await;
    let row = app.query_row("SELECT scan_count FROM product_batches").await;
    assert_eq!(row.try_get::<i64>("", "scan_count").expect("n"), 12, "refused requests are not counted");
}

async fn certificates_can_be_verified_by_anyone(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("cert@example.cn", "530100", Some("91510100MA6CGUR3KG")).await;
    let officer = app.staff("ciq@gov.cn", "OFFICER", "INSPECTION", &["530100"]).await;
    let (_, filings) = app.submitted_case(&merchant, &["INSPECTION"]).await;
    let f = filing_of(&filings, "INSPECTION");
    let id = f["id"].as_str().expect("id");
    let claimed = app.decide(&officer.token, "claimFiling", id, f["version"].as_i64().expect("v"), None).await;
    let v = claimed.data()["claimFiling"]["version"].as_i64().expect("v");
    let approved = app.decide(&officer.token, "approveFiling", id, v, None).await;
    let number = approved.data()["approveFiling"]["certificateNumber"].as_str().expect("number").to_string();

    let json: serde_json::Value =
        get(&app, &format!("/c/{number}"), "application/json", "192.0.2.50").await.json().await.expect("json");
    assert_eq!(json["valid"], true);
    assert_eq!(json["certificates"][0]["agency"], "INSPECTION");
    assert_eq!(json["certificates"][0]["holder"], "商户**************cn", "the holder is partly masked");
    let html = get(&app, &format!("/c/{number}"), "text/html", "192.0.2.50").await.text().await.expect("html");
    assert!(html.contains("有效 Valid"));
    assert!(html.contains("商户**************cn") && !html.contains("cert@example.cn"), "masked on the page too");
    let forged = get(&app, "/c/CIQ5301002026999999", "text/html", "192.0.2.50").await;
    assert_eq!(forged.status(), 404);
    assert!(forged.text().await.expect("html").contains("伪造"));
    assert_eq!(get(&app, "/c/%3Cscript%3E", "text/html", "192.0.2.50").await.status(), 400);
    let svg = get(&app, &format!("/c/{number}/qr.svg"), "image/svg+xml", "192.0.2.50").await;
    assert_eq!(svg.status(), 200);
}

const RECORD: &str = "mutation($i: SpotCheckInput!) { recordSpotCheck(input: $i) { id result channel officer { email } merchant { riskLevel } } }";

fn check(
    merchant_id: &str,
    batch: Option<&str>,
    channel: &str,
    category: &str,
    region: &str,
    result: &str,
) -> serde_json::Value {
    json!({ "i": {
        "merchantId": merchant_id, "batchId": batch, "channel": channel, "category": category,
        "regionCode": region, "result": result, "findings": "农药残留超标 pesticide residue above limit"
    }})
}

async fn spot_checks_are_for_inspection_officers_in_their_regions(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let (merchant_token, merchant_id, _) = merchant_with_batch(&app, "sc@example.cn", None, 10).await;
    let inspector = app.staff("insp@gov.cn", "OFFICER", "INSPECTION", &["510100"]).await;
    let customs = app.staff("cust@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;
    let input = check(&merchant_id, None, "ONLINE", "AGRICULTURAL", "510100", "PASS");
    assert_eq!(app.gql(RECORD, input.clone(), None).await.error_code(), "UNAUTHENTICATED");
    assert_eq!(app.gql(RECORD, input.clone(), Some(&merchant_token)).await.error_code(), "FORBIDDEN");
    assert_eq!(app.gql(RECORD, input.clone(), Some(&customs.token)).await.error_code(), "FORBIDDEN");
    let elsewhere = check(&merchant_id, None, "ONLINE", "AGRICULTURAL", "530100", "PASS");
    assert_eq!(app.gql(RECORD, elsewhere, Some(&inspector.token)).await.error_code(), "FORBIDDEN");
    let other = app.merchant("other@example.cn", "510100", None).await;
    let foreign_batch = app.gql(REGISTER, batch("茶", "T-1", 5), Some(&other.token)).await;
    let foreign_batch = foreign_batch.data()["registerProductBatch"]["id"].as_str().expect("id").to_string();
    let wrong_batch = check(&merchant_id, Some(&foreign_batch), "ONLINE", "AGRICULTURAL", "510100", "PASS");
    assert_eq!(app.gql(RECORD, wrong_batch, Some(&inspector.token)).await.error_fields(), vec!["batchId"]);
    assert_eq!(app.count("spot_checks").await, 0, "nothing recorded by refused calls");
    let recorded = app.gql(RECORD, input, Some(&inspector.token)).await;
    assert_eq!(recorded.data()["recordSpotCheck"]["result"], "PASS");
}

async fn failed_checks_raise_the_risk_level_and_passes_lower_it(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("risk@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let created = app.gql(REGISTER, batch("花椒", "R-1", 100), Some(&merchant.token)).await;
    let batch_id = created.data()["registerProductBatch"]["id"].as_str().expect("id").to_string();
    let code = created.data()["registerProductBatch"]["traceCode"].as_str().expect("code").to_string();
    let merchant_id = created.data()["registerProductBatch"]["merchant"]["id"].as_str().expect("id").to_string();
    let inspector = app.staff("risk-insp@gov.cn", "OFFICER", "INSPECTION", &["510100"]).await;
    let supervisor = app.staff("risk-boss@gov.cn", "SUPERVISOR", "TAX", &["510100"]).await;
    let tax = app.staff("risk-tax@gov.cn", "OFFICER", "TAX", &["510100"]).await;
    app.submitted_case(&merchant, &["TAX"]).await;

    let mut levels = Vec::new();
    for result in ["FAIL", "FAIL", "FAIL", "FAIL", "PASS", "PASS", "PASS", "PASS"] {
        let recorded = app
            .gql(
                RECORD,
                check(&merchant_id, Some(&batch_id), "OFFLINE", "AGRICULTURAL", "510100", result),
                Some(&inspector.token),
            )
            .await;
        levels.push(recorded.data()["recordSpotCheck"]["merchant"]["riskLevel"].as_i64().expect("level"));
        if levels.len() == 4 {
            // At level 3 the merchant's open filings are flagged to supervisors.
            let queue = app.gql("{ reviewQueue { nodes { highRisk } } }", json!({}), Some(&tax.token)).await;
            assert_eq!(queue.data()["reviewQueue"]["nodes"][0]["highRisk"], true);
            let workload = app.gql("{ workload { status count highRisk } }", json!({}), Some(&supervisor.token)).await;
            assert_eq!(workload.data()["workload"][0]["highRisk"], 1);
            // The page shows the failed check.
            let page: serde_json::Value =
                get(&app, &format!("/t/{code}"), "application/json", "192.0.2.200").await.json().await.expect("json");
            assert_eq!(page["latestSpotCheck"]["result"], "FAIL");
            assert_eq!(page["latestSpotCheck"]["channel"], "OFFLINE");
            assert_eq!(page["latestSpotCheck"]["agency"], "INSPECTION");
            assert_eq!(page["latestSpotCheck"]["resultName"]["zh"], "不合格");
            let text = page.to_string();
            assert!(!text.contains("pesticide") && !text.contains("risk-insp"), "no findings, no officer: {text}");
        }
    }
    assert_eq!(levels, vec![1, 2, 3, 3, 3, 3, 2, 2], "FAIL +1 (max 3); three PASS in a row −1");
    let mails = app.mail_for("risk@example.cn", 1 + 1 + 4).await;
    let failed: Vec<_> = mails.iter().filter(|m| m.subject().contains("spot check")).collect();
    assert_eq!(failed.len(), 4, "one email per failed check");
    assert!(failed[0].text().contains("pesticide residue"));
    let page: serde_json::Value =
        get(&app, &format!("/t/{code}"), "application/json", "192.0.2.201").await.json().await.expect("json");
    assert_eq!(page["latestSpotCheck"]["result"], "PASS");
    let view = app
        .gql(
            "query($c: String!) { trace(code: $c) { latestSpotCheck { result channel agency regionCode checkedAt } } }",
            json!({ "c": code }),
            None,
        )
        .await;
    let latest = &view.data()["trace"]["latestSpotCheck"];
    assert_eq!(
        (latest["result"].as_str(), latest["agency"].as_str(), latest["regionCode"].as_str()),
        (Some("PASS"), Some("INSPECTION"), Some("510100"))
    );
    let officer = app
        .gql(
            "query($c: String!) { trace(code: $c) { latestSpotCheck { officer { email } } } }",
            json!({ "c": code }),
            None,
        )
        .await;
    assert_eq!(officer.error_code(), "BAD_REQUEST", "the public spot check has no officer to reach");
}

async fn the_comparison_counts_online_and_offline_per_category(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let (_, merchant_id, _) = merchant_with_batch(&app, "cmp@example.cn", None, 10).await;
    let inspector = app.staff("cmp@gov.cn", "OFFICER", "INSPECTION", &["510100", "520100"]).await;
    let far = app.staff("cmp-far@gov.cn", "OFFICER", "INSPECTION", &["650100"]).await;
    let data = [
        ("ONLINE", "AGRICULTURAL", "510100", "PASS"),
        ("ONLINE", "AGRICULTURAL", "510100", "FAIL"),
        ("ONLINE", "AGRICULTURAL", "520100", "FAIL"),
        ("ONLINE", "AGRICULTURAL", "510100", "PASS"),
        ("OFFLINE", "AGRICULTURAL", "510100", "PASS"),
        ("OFFLINE", "FOOD", "520100", "PASS"),
        ("OFFLINE", "FOOD", "510100", "FAIL"),
    ];
    for (channel, category, region, result) in data {
        app.gql(RECORD, check(&merchant_id, None, channel, category, region, result), Some(&inspector.token))
            .await
            .data();
    }
    let query = "query($r: String, $f: Date, $t: Date) { spotCheckComparison(regionCode: $r, from: $f, to: $t) { category regionCode online onlinePassed offline offlinePassed onlinePassRate offlinePassRate } }";
    let all = app.gql(query, json!({}), Some(&inspector.token)).await;
    let rows = all.data()["spotCheckComparison"].as_array().expect("rows").clone();
    assert_eq!(rows.len(), 2);
    let agri = rows.iter().find(|r| r["category"] == "AGRICULTURAL").expect("agri");
    assert_eq!((agri["online"].as_i64(), agri["onlinePassed"].as_i64()), (Some(4), Some(2)));
    assert_eq!((agri["offline"].as_i64(), agri["offlinePassed"].as_i64()), (Some(1), Some(1)));
    assert_eq!(agri["onlinePassRate"], 0.5);
    assert_eq!(agri["offlinePassRate"], 1.0);
    let food = rows.iter().find(|r| r["category"] == "FOOD").expect("food");
    assert_eq!(food["online"], 0);
    assert_eq!(food["onlinePassRate"], serde_json::Value::Null, "no rate without checks");
    assert_eq!(food["offlinePassRate"], 0.5);

    let sichuan = app.gql(query, json!({ "r": "510100" }), Some(&inspector.token)).await;
    let agri = sichuan.data()["spotCheckComparison"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["category"] == "AGRICULTURAL")
        .cloned()
        .expect("agri");
    assert_eq!((agri["online"].as_i64(), agri["regionCode"].as_str()), (Some(3), Some("510100")));
    let past = app.gql(query, json!({ "f": "2020-01-01", "t": "2020-12-31" }), Some(&inspector.token)).await;
    assert_eq!(past.data()["spotCheckComparison"], json!([]));
    assert_eq!(app.gql(query, json!({ "r": "510100" }), Some(&far.token)).await.error_code(), "FORBIDDEN");
    let far_rows = app.gql(query, json!({}), Some(&far.token)).await;
    assert_eq!(far_rows.data()["spotCheckComparison"], json!([]), "other regions' checks are not counted");
    let merchant = app.merchant("cmp2@example.cn", "510100", None).await;
    assert_eq!(app.gql(query, json!({}), Some(&merchant.token)).await.error_code(), "FORBIDDEN");
}
