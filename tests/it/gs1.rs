//! GS1 Digital Link: a batch with a GTIN gets a QR code any GS1 scanner app understands —
//! `{base}/01/{gtin14}/10/{batch}` — which resolves to the same trace page; `(gtin, batch)` is
//! unique across merchants (a clash is a security event); expired batches are flagged.

use serde_json::{Value, json};

use crate::{
    both_backends,
    helpers::{Backend, PUBLIC_BASE_URL, TestApp, spawn_app},
};

both_backends!(a_gs1_scanner_opens_the_trace_page_through_the_digital_link);
both_backends!(gtins_are_checked_unique_per_batch_and_expiry_is_flagged);

const REGISTER: &str =
    "mutation($i: ProductBatchInput!) { registerProductBatch(input: $i) { traceCode gtin expiryDate digitalLinkUrl } }";

fn batch(gtin: &str, number: &str, produced: &str, expires: &str) -> Value {
    json!({ "i": {
        "productName": "汉源花椒 Hanyuan pepper", "category": "AGRICULTURAL", "originRegionCode": "511800",
        "batchNumber": number, "productionDate": produced, "quantity": 500, "gtin": gtin, "expiryDate": expires
    }})
}

async fn get(app: &TestApp, path: &str, accept: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("accept", accept)
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .expect("page")
}

async fn a_gs1_scanner_opens_the_trace_page_through_the_digital_link(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("gs1@example.cn", "510100", None).await;
    let created = app
        .gql(REGISTER, batch("4006381333931", "HY-2026-09", "2026-09-01", "2028-09-01"), Some(&merchant.token))
        .await;
    let created = created.data()["registerProductBatch"].clone();
    let code = created["traceCode"].as_str().expect("code").to_string();
    assert_eq!(created["gtin"], "04006381333931", "kept as GTIN-14");
    let link = format!("{PUBLIC_BASE_URL}/01/04006381333931/10/HY-2026-09");
    assert_eq!(created["digitalLinkUrl"], link.as_str());

    // The printed QR code decodes to the Digital Link …
    let png = get(&app, &format!("/t/{code}/qr.png?size=300"), "image/png").await.bytes().await.expect("png");
    let image = image::load_from_memory(&png).expect("a PNG").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    let (_, content) = grids[0].decode().expect("decodes");
    assert_eq!(content, link);
    // … and following it opens the batch's trace page, as JSON or HTML, counted as a scan.
    let path = content.strip_prefix(PUBLIC_BASE_URL).expect("our link");
    let page: Value = get(&app, path, "application/json").await.json().await.expect("json");
    assert_eq!(
        (page["traceCode"].as_str(), page["gtin"].as_str(), page["expired"].as_bool()),
        (Some(code.as_str()), Some("04006381333931"), Some(false))
    );
    let html = get(&app, path, "text/html").await;
    assert_eq!(html.status(), 200);
    assert!(html.text().await.expect("html").contains("汉源花椒"));
    let short: Value =
        get(&app, "/01/4006381333931/10/HY-2026-09", "application/json").await.json().await.expect("json");
    assert_eq!(short["traceCode"], code.as_str(), "the 13-digit form names the same GTIN");
    assert_eq!(get(&app, "/01/04006381333931/10/HY-2026-10", "text/html").await.status(), 404, "an unknown pair");
    assert_eq!(get(&app, "/01/04006381333932/10/HY-2026-09", "text/html").await.status(), 400, "a wrong check digit");
    app.scans_settled().await;
    let row = app.query_row("SELECT scan_count FROM product_batches").await;
    assert_eq!(row.try_get::<i64>("", "scan_count").expect("n"), 3, "each opened page is a scan");
}

async fn gtins_are_checked_unique_per_batch_and_expiry_is_flagged(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let first = app.merchant("first@example.cn", "510100", None).await;
    let second = app.merchant("second@example.cn", "510100", None).await;
    app.gql(REGISTER, batch("96385074", "LOT-1", "2026-01-10", "2026-03-01"), Some(&first.token)).await.data();
    let clash = app.gql(REGISTER, batch("96385074", "LOT-1", "2026-01-10", "2026-03-01"), Some(&second.token)).await;
    assert_eq!(clash.error_code(), "CONFLICT", "another merchant's GTIN and batch");
    assert_eq!(app.count_where("security_events", "kind = 'gtin.claimed'").await, 1);
    assert!(app.gql(REGISTER, batch("96385074", "LOT-2", "2026-01-10", "2027-03-01"), Some(&second.token)).await.data()["registerProductBatch"].is_object());

    let bad_digit = app.gql(REGISTER, batch("96385075", "LOT-3", "2026-01-10", "2027-03-01"), Some(&first.token)).await;
    assert_eq!(bad_digit.error_fields(), ["gtin"]);
    let bad_batch = app.gql(REGISTER, batch("96385074", "LOT/3", "2026-01-10", "2027-03-01"), Some(&first.token)).await;
    assert_eq!(bad_batch.error_fields(), ["batchNumber"]);
    let backwards = app.gql(REGISTER, batch("96385074", "LOT-4", "2026-01-10", "2025-03-01"), Some(&first.token)).await;
    assert_eq!(backwards.error_fields(), ["expiryDate"]);

    // LOT-1 expired on 2026-03-01: the page says so.
    let page: Value = get(&app, "/01/00000096385074/10/LOT-1", "application/json").await.json().await.expect("json");
    assert_eq!((page["expired"].as_bool(), page["expiryDate"].as_str()), (Some(true), Some("2026-03-01")));
    let html = get(&app, "/01/00000096385074/10/LOT-1", "text/html").await.text().await.expect("html");
    assert!(html.contains("已过保质期"), "a warning on the page");
    let code = page["traceCode"].as_str().expect("code");
    let view =
        app.gql("query($c: String!) { trace(code: $c) { gtin expiryDate expired } }", json!({ "c": code }), None).await;
    assert_eq!(view.data()["trace"], json!({ "gtin": "00000096385074", "expiryDate": "2026-03-01", "expired": true }));
}
