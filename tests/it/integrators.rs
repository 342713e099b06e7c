//! Integrators: API clients, the client credentials grant, scopes and revocation.

use serde_json::{Value, json};

use crate::{
    both_backends,
    fixtures::filing_of,
    helpers::{Backend, TestApp, spawn_app},
};

both_backends!(
    clients_get_tokens_limited_to_their_scopes_until_revoked,
    a_repeated_idempotency_key_replays_instead_of_repeating,
    scopes_are_checked_on_every_object_not_only_the_entry_point,
);

const CREATE: &str = "mutation($n: String!, $s: [String!]!, $m: ID, $a: Agency) { createApiClient(name: $n, scopes: $s, merchantId: $m, agency: $a) { clientId clientSecret name scopes } }";

/// A client with `scopes` (an agency's when `agency` is given, else the merchant's) and a
/// token for it.
async fn client_with(app: &TestApp, creator: &str, scopes: &[&str], agency: Option<&str>) -> String {
    let created = app.gql(CREATE, json!({ "n": "client", "s": scopes, "a": agency }), Some(creator)).await;
    let c = &created.data()["createApiClient"];
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", c["clientId"].as_str().expect("id")),
        ("client_secret", c["clientSecret"].as_str().expect("secret")),
    ];
    let (status, body) = token(app, &form).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("token").to_string()
}

async fn token(app: &TestApp, form: &[(&str, &str)]) -> (u16, Value) {
    let response = app.client.post(app.url("/oauth/token")).form(form).send().await.expect("token");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

async fn clients_get_tokens_limited_to_their_scopes_until_revoked(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("int@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let admin = app.admin_token().await;
    let officer = app.staff("int-officer@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;

    // Who may create which client.
    let refused = app.gql(CREATE, json!({ "n": "erp", "s": ["decisions:write"] }), Some(&merchant.token)).await;
    assert_eq!(refused.error_fields(), vec!["scopes"]);
    assert_eq!(
        app.gql(CREATE, json!({ "n": "x", "s": ["cases:read"] }), Some(&officer.token)).await.error_code(),
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql(CREATE, json!({ "n": "x", "s": ["cases:read"] }), Some(&admin)).await.error_fields(),
        vec!["agency"]
    );
    let shop =
        app.gql(CREATE, json!({ "n": "网店ERP", "s": ["cases:read", "cases:write"] }), Some(&merchant.token)).await;
    let shop = shop.data()["createApiClient"].clone();
    let reader = app.gql(CREATE, json!({ "n": "reporting", "s": ["cases:read"] }), Some(&merchant.token)).await;
    let reader = reader.data()["createApiClient"].clone();
    let customs = app
        .gql(CREATE, json!({ "n": "海关系统", "s": ["cases:read", "decisions:write"], "a": "CUSTOMS" }), Some(&admin))
        .await;
    let customs = customs.data()["createApiClient"].clone();
    let secret_hashes =
        app.query_row("SELECT COUNT(*) AS n FROM api_clients WHERE secret_hash LIKE '$argon2id$%'").await;
    assert_eq!(secret_hashes.try_get::<i64>("", "n").expect("n"), 3, "secrets are stored argon2-hashed");

    // RFC 6749 errors.
    let id = |c: &Value| c["clientId"].as_str().expect("id").to_string();
    let secret = |c: &Value| c["clientSecret"].as_str().expect("secret").to_string();
    let (status, body) =
        token(&app, &[("grant_type", "client_credentials"), ("client_id", &id(&shop)), ("client_secret", "wrong")])
            .await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    let (status, body) =
        token(&app, &[("grant_type", "password"), ("client_id", &id(&shop)), ("client_secret", &secret(&shop))]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")));
    let (status, body) = token(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id(&reader)),
            ("client_secret", &secret(&reader)),
            ("scope", "cases:write"),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")));

    // A merchant's client acts for its merchant within its scopes.
    let (status, granted) = token(
        &app,
        &[("grant_type", "client_credentials"), ("client_id", &id(&shop)), ("client_secret", &secret(&shop))],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(granted["token_type"], "Bearer");
    assert_eq!(granted["scope"], "cases:read cases:write");
    let shop_token = granted["access_token"].as_str().expect("token").to_string();
    let created = app.create_case(&shop_token, &["CUSTOMS"]).await;
    let case_id = created.data()["createCase"]["id"].as_str().expect("id").to_string();
    let (_, read_only) = token(
        &app,
        &[("grant_type", "client_credentials"), ("client_id", &id(&reader)), ("client_secret", &secret(&reader))],
    )
    .await;
    let read_token = read_only["access_token"].as_str().expect("token").to_string();
    assert_eq!(app.create_case(&read_token, &["TAX"]).await.error_code(), "FORBIDDEN", "cases:read cannot write");
    let listed = app.gql("{ cases { nodes { id } } }", json!({}), Some(&read_token)).await;
    assert_eq!(listed.data()["cases"]["nodes"][0]["id"], case_id.as_str());
    assert_eq!(
        app.gql(CREATE, json!({ "n": "x", "s": ["cases:read"] }), Some(&shop_token)).await.error_code(),
        "FORBIDDEN",
        "clients do not make clients"
    );

    // An agency's client decides its agency's filings.
    let (decided_case, filings) = app.submitted_case(&merchant, &["CUSTOMS", "TAX"]).await;
    let (_, agency_grant) = token(
        &app,
        &[("grant_type", "client_credentials"), ("client_id", &id(&customs)), ("client_secret", &secret(&customs))],
    )
    .await;
    let agency_token = agency_grant["access_token"].as_str().expect("token").to_string();
    let queue = app.gql("{ reviewQueue { nodes { id kind } } }", json!({}), Some(&agency_token)).await;
    let kinds: Vec<&str> = queue.data()["reviewQueue"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["kind"].as_str())
        .collect();
    assert_eq!(kinds, vec!["CUSTOMS"]);
    let filing = filing_of(&filings, "CUSTOMS");
    let claimed = app
        .decide(
            &agency_token,
            "claimFiling",
            filing["id"].as_str().expect("id"),
            filing["version"].as_i64().expect("v"),
            None,
        )
        .await;
    assert_eq!(claimed.data()["claimFiling"]["status"], "UNDER_REVIEW");
    assert_eq!(app.create_case(&agency_token, &["TAX"]).await.error_code(), "FORBIDDEN");
    // The trail names the client the claim came through; the merchant's own submission, none.
    let all = app.gql("{ apiClients { id clientId } }", json!({}), Some(&admin)).await;
    let customs_row = all.data()["apiClients"]
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["clientId"] == id(&customs).as_str())
        .expect("row")["id"]
        .clone();
    let trail = app
        .gql(
            "query($id: ID!) { case(id: $id) { events { action viaClientId } } }",
            json!({ "id": decided_case }),
            Some(&merchant.token),
        )
        .await;
    let events = trail.data()["case"]["events"].as_array().expect("events").clone();
    let via =
        |action: &str| events.iter().find(|e| e["action"] == action).map(|e| e["viaClientId"].clone()).expect("event");
    assert_eq!(via("filing.claimed"), customs_row);
    assert_eq!(via("filing.submitted"), Value::Null);
    let verified = onestop::services::audit::verify_all(&app.state.db).await.map_err(|e| e.detail()).expect("verify");
    assert!(verified.is_ok(), "chains with and without the client verify: {verified:?}");

    // Listing and revocation: the revoked client's token stops working at once.
    let clients = app.gql("{ apiClients { clientId name scopes revokedAt } }", json!({}), Some(&merchant.token)).await;
    assert_eq!(clients.data()["apiClients"].as_array().expect("list").len(), 2, "a merchant sees its own clients");
    let all = app.gql("{ apiClients { id clientId } }", json!({}), Some(&admin)).await;
    let shop_row = all.data()["apiClients"]
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["clientId"] == id(&shop).as_str())
        .expect("row")["id"]
        .clone();
    let revoke = app
        .gql("mutation($id: ID!) { revokeApiClient(id: $id) }", json!({ "id": shop_row }), Some(&merchant.token))
        .await;
    assert_eq!(revoke.data()["revokeApiClient"], true);
    assert_eq!(
        app.gql("{ cases { nodes { id } } }", json!({}), Some(&shop_token)).await.error_code(),
        "UNAUTHENTICATED"
    );
    let (status, body) = token(
        &app,
        &[("grant_type", "client_credentials"), ("client_id", &id(&shop)), ("client_secret", &secret(&shop))],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
}

async fn a_repeated_idempotency_key_replays_instead_of_repeating(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("idem@example.cn", "510100", None).await;
    let send = |key: &str, kinds: Value| {
        let app = &app;
        let token = merchant.token.clone();
        let key = key.to_string();
        async move {
            let response = app
                .client
                .post(app.url("/graphql"))
                .bearer_auth(token)
                .header("idempotency-key", key)
                .json(&json!({ "query": "mutation($k: [FilingKind!]!) { createCase(kinds: $k) { id reference } }", "variables": { "k": kinds } }))
                .send()
                .await
                .expect("post");
            let replayed = response.headers().get("idempotent-replayed").is_some();
            let body: Value = response.json().await.expect("json");
            (body, replayed)
        }
    };
    let (first, replayed) = send("order-2026-0001", json!(["INSPECTION"])).await;
    assert!(!replayed);
    let (again, replayed) = send("order-2026-0001", json!(["INSPECTION"])).await;
    assert!(replayed, "the second answer is the stored one");
    assert_eq!(first, again, "same response");
    assert_eq!(app.count("cases").await, 1, "the effect happened once");
    let (different, _) = send("order-2026-0001", json!(["TAX"])).await;
    assert_eq!(different["errors"][0]["extensions"]["code"], "CONFLICT");
    let (other_key, _) = send("order-2026-0002", json!(["INSPECTION"])).await;
    assert_ne!(other_key["data"]["createCase"]["id"], first["data"]["createCase"]["id"]);
    assert_eq!(app.count("cases").await, 2);

    // Responses that carry secrets are kept sealed, and still replay.
    let create_client = |key: &'static str| {
        let app = &app;
        let token = merchant.token.clone();
        async move {
            let response = app.client.post(app.url("/graphql")).bearer_auth(token).header("idempotency-key", key)
                .json(&json!({ "query": "mutation { createApiClient(name: \"erp\", scopes: [\"cases:read\"]) { clientId clientSecret } }" }))
                .send().await.expect("post");
            response.json::<Value>().await.expect("json")
        }
    };
    let created = create_client("client-1").await;
    let secret = created["data"]["createApiClient"]["clientSecret"].as_str().expect("secret").to_string();
    assert_eq!(create_client("client-1").await, created, "replayed");
    assert_eq!(app.count("api_clients").await, 1, "created once");
    let login = |key: &'static str, from: &'static str, password: &'static str| {
        let app = &app;
        async move {
            let response = app.client.post(app.url("/graphql")).header("idempotency-key", key).header("x-forwarded-for", from)
                .json(&json!({ "query": "mutation($p: String!) { login(email: \"idem@example.cn\", password: $p) { refreshToken } }", "variables": { "p": password } }))
                .send().await.expect("post");
            response.json::<Value>().await.expect("json")
        }
    };
    let logged_in = login("login-1", "203.0.113.10", crate::helpers::GOOD_PASSWORD).await;
    let refresh = logged_in["data"]["login"]["refreshToken"].as_str().expect("refresh token").to_string();
    let stored = app
        .count_where("idempotency_keys", &format!("response LIKE '%{secret}%' OR response LIKE '%{refresh}%'"))
        .await;
    assert_eq!(stored, 0, "no secret is stored in clear");
    assert_eq!(
        app.count_where("idempotency_keys", "response IS NOT NULL AND response NOT LIKE 'v1:%'").await,
        0,
        "every kept response is sealed"
    );
    assert_eq!(
        login("login-1", "203.0.113.10", crate::helpers::GOOD_PASSWORD).await,
        logged_in,
        "the same caller replays it"
    );
    // Anonymous callers do not share a key space: another address with the same key is a
    // different caller (it runs its own request instead of getting a CONFLICT or a replay).
    let elsewhere = login("login-1", "198.51.100.20", "a-wrong-password").await;
    assert_ne!(elsewhere["errors"][0]["extensions"]["code"], "CONFLICT");
    assert!(
        elsewhere["data"].is_null() || elsewhere["data"]["login"].is_null(),
        "not the first caller's tokens: {elsewhere}"
    );
    let same_address = login("login-1", "203.0.113.10", "a-wrong-password").await;
    assert_eq!(same_address["errors"][0]["extensions"]["code"], "CONFLICT", "same address, same key, another request");

    // A revoked client's token, still unexpired, does not fetch what it kept either.
    let erp = client_with(&app, &merchant.token, &["cases:read", "cases:write"], None).await;
    let with_key = |token: String| {
        let app = &app;
        async move {
            let response = app
                .client
                .post(app.url("/graphql"))
                .bearer_auth(token)
                .header("idempotency-key", "erp-1")
                .json(&json!({ "query": "mutation { createCase(kinds: [TAX]) { id reference } }" }))
                .send()
                .await
                .expect("post");
            response.json::<Value>().await.expect("json")
        }
    };
    assert!(with_key(erp.clone()).await["data"]["createCase"]["id"].is_string());
    let rows = app.gql("{ apiClients { id name } }", json!({}), Some(&merchant.token)).await;
    let erp_row = rows.data()["apiClients"].as_array().expect("list").last().expect("row")["id"].clone();
    app.gql("mutation($id: ID!) { revokeApiClient(id: $id) }", json!({ "id": erp_row }), Some(&merchant.token))
        .await
        .data();
    let replay = with_key(erp).await;
    assert_eq!(replay["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{replay}");

    // A row kept in clear by an older version is sealed at start-up.
    {
        use sea_orm::ConnectionTrait;
        app.state
            .db
            .execute_unprepared("UPDATE idempotency_keys SET response = '{\"data\":{}}' WHERE key = 'client-1'")
            .await
            .expect("legacy row");
    }
    assert_eq!(
        onestop::platform::idempotency::seal_legacy_responses(&app.state).await.map_err(|e| e.detail()).expect("seal"),
        1
    );
    assert_eq!(app.count_where("idempotency_keys", "response IS NOT NULL AND response NOT LIKE 'v1:%'").await, 0);
}

async fn scopes_are_checked_on_every_object_not_only_the_entry_point(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("scoped@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let admin = app.admin_token().await;
    let decider = client_with(&app, &admin, &["decisions:write"], Some("CUSTOMS")).await;
    let (case_id, filings) = app.submitted_case(&merchant, &["CUSTOMS"]).await;
    let filing = filing_of(&filings, "CUSTOMS");
    let id = filing["id"].as_str().expect("id");

    // The decision's outcome is readable; the case, merchant and data behind it are not.
    let claimed = app.gql(
        "mutation($id: ID!, $v: Int!) { claimFiling(id: $id, expectedVersion: $v) { id status version case { merchant { name contactEmail } } } }",
        json!({ "id": id, "v": filing["version"] }),
        Some(&decider),
    ).await;
    assert_eq!(claimed.0["data"]["claimFiling"]["status"], "UNDER_REVIEW", "the decision itself went through");
    assert_eq!(claimed.error_code(), "FORBIDDEN");
    assert!(claimed.0["data"]["claimFiling"]["case"].is_null());
    let version = claimed.0["data"]["claimFiling"]["version"].as_i64().expect("version");
    for selection in ["data { __typename }", "assignee { email }", "decisionNote", "case { id }"] {
        let approved = app.gql(
            &format!("mutation($id: ID!, $v: Int!) {{ approveFiling(id: $id, expectedVersion: $v) {{ id status version certificateNumber {selection} }} }}"),
            json!({ "id": id, "v": version + 10 }),
            Some(&decider),
        ).await;
        assert_eq!(approved.error_code(), "VERSION_CONFLICT", "{selection}: the write is checked first");
        let read =
            app.gql(&format!("{{ reviewQueue {{ nodes {{ id {selection} }} }} }}"), json!({}), Some(&decider)).await;
        assert_eq!(read.error_code(), "FORBIDDEN", "{selection} needs cases:read");
    }
    let approved = app.decide(&decider, "approveFiling", id, version, None).await;
    assert_eq!(approved.error_code(), "FORBIDDEN", "FILING_FIELDS reach the assignee");
    assert_eq!(approved.0["data"]["approveFiling"]["status"], "APPROVED");
    assert!(approved.0["data"]["approveFiling"]["certificateNumber"].is_string(), "the outcome is there");

    // A trace client registers batches and reads them, but not the merchant behind them.
    let tracer = client_with(&app, &merchant.token, &["trace:write"], None).await;
    let batch = app.gql(
        "mutation($i: ProductBatchInput!) { registerProductBatch(input: $i) { traceCode merchant { contactEmail } } }",
        json!({ "i": { "productName": "花椒", "category": "FOOD", "originRegionCode": "510100", "batchNumber": "SC-1", "productionDate": "2026-09-01", "quantity": 5 } }),
        Some(&tracer),
    ).await;
    assert!(batch.0["data"]["registerProductBatch"]["traceCode"].is_string());
    assert_eq!(batch.error_code(), "FORBIDDEN");

    // Document downloads need cases:read too.
    let writer = client_with(&app, &merchant.token, &["cases:write"], None).await;
    let reader = client_with(&app, &merchant.token, &["cases:read"], None).await;
    let (_, uploaded) =
        crate::documents::upload(&app, &merchant.token, &case_id, None, "licence.pdf", b"%PDF-1.7\n%".to_vec()).await;
    let document = uploaded.data()["uploadDocument"]["id"].as_str().expect("id").to_string();
    let download = |token: String| {
        let url = app.url(&format!("/documents/{document}"));
        let client = app.client.clone();
        async move { client.get(url).bearer_auth(token).send().await.expect("GET").status().as_u16() }
    };
    assert_eq!(download(writer).await, 403, "cases:write alone does not read documents");
    assert_eq!(download(decider.clone()).await, 403);
    assert_eq!(download(reader).await, 200);
    assert_eq!(download(merchant.token.clone()).await, 200, "users' tokens carry their role's scopes");
}
