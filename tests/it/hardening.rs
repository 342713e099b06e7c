//! Hardening: limits on the shape of GraphQL documents and batches, trusted operations.

use serde_json::{Value, json};

use crate::{
    both_backends,
    helpers::{Backend, ExtraServer, ServeProcess, TestApp, free_port, spawn_app, spawn_app_with},
};

both_backends!(
    alias_root_field_and_batch_limits_refuse_abuse,
    only_trusted_operations_run_when_configured,
    jwt_keys_rotate_with_the_old_key_accepted_until_retired,
    security_events_are_recorded_with_actor_and_address_hash,
    personal_numbers_are_masked_for_administrators,
    verification_emails_can_be_resent_within_the_throttle,
    the_client_address_is_the_last_forwarded_entry,
);

async fn post(app: &TestApp, body: &Value, token: Option<&str>) -> (u16, Value) {
    let mut request = app.client.post(app.url("/graphql")).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("post");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_else(|| panic!("no error code in {body}"))
}

async fn alias_root_field_and_batch_limits_refuse_abuse(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.limits.max_aliases = 5;
        c.limits.max_root_fields = 4;
        c.limits.max_batch = 3;
    })
    .await
    else {
        return;
    };
    let (token, _) = app.verified_merchant("shape@example.cn").await;
    let before = app.count("audit_events").await;

    // Six aliased logins in one document: refused before any of them runs.
    let logins: String = (0..6)
        .map(|i| format!("a{i}: login(email: \"shape@example.cn\", password: \"guess-{i}\") {{ accessToken }} "))
        .collect();
    let (_, body) = post(&app, &json!({ "query": format!("mutation {{ {logins} }}") }), None).await;
    assert_eq!(code(&body), "TOO_MANY_ALIASES");
    assert!(body["data"].is_null(), "nothing ran: {body}");
    // Aliases hidden in a fragment count too.
    let fragment = "query { me { ...F } } fragment F on User { a: id b: id c: id d: id e: id f: id }";
    let (_, body) = post(&app, &json!({ "query": fragment }), Some(&token)).await;
    assert_eq!(code(&body), "TOO_MANY_ALIASES");
    // Five are fine.
    let (_, body) = post(&app, &json!({ "query": "{ me { a: id b: id c: id d: id e: id } }" }), Some(&token)).await;
    assert!(body["errors"].is_null(), "{body}");

    // Root fields, also through a fragment spread at the root.
    let (_, body) = post(&app, &json!({ "query": "{ me { id } cases { pageInfo { hasNextPage } } productBatches { pageInfo { hasNextPage } } ...R } fragment R on Query { m2: me { email } apiClients { id } }" }), Some(&token)).await;
    assert_eq!(code(&body), "TOO_MANY_ROOT_FIELDS");
    let (_, body) =
        post(&app, &json!({ "query": "{ me { id } cases { pageInfo { hasNextPage } } }" }), Some(&token)).await;
    assert!(body["errors"].is_null(), "{body}");

    // Batches: up to three operations, each answered in order; four are refused as a whole.
    let one = json!({ "query": "{ me { email } }" });
    let (status, body) = post(&app, &json!([one, one, { "query": "{ nope }" }]), Some(&token)).await;
    assert_eq!(status, 200);
    let answers = body.as_array().expect("a batch answers with an array");
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0]["data"]["me"]["email"], "shape@example.cn");
    assert_eq!(answers[2]["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    let (status, body) = post(&app, &json!([one, one, one, one]), Some(&token)).await;
    assert_eq!(status, 400);
    assert_eq!(code(&body), "BATCH_TOO_LARGE");
    let (_, body) = post(&app, &json!([]), Some(&token)).await;
    assert_eq!(code(&body), "BAD_REQUEST");
    // A batch of mutations cannot hide behind one idempotency key.
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .header("idempotency-key", "k-1")
        .json(&json!([one, one]))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 400);
    assert_eq!(app.count("audit_events").await, before, "refused documents changed nothing");
}

async fn only_trusted_operations_run_when_configured(backend: Backend) {
    use sha2::Digest;
    let me = "query Me { me { email role } }";
    let hash = hex::encode(sha2::Sha256::digest(me.as_bytes()));
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = dir.path().join("trusted.json");
    std::fs::write(&manifest, json!({ hash.clone(): me }).to_string()).expect("manifest");
    let Some(app) = spawn_app_with(backend, |c| c.limits.trusted_operations = Some(manifest.clone())).await else {
        return;
    };
    // Unknown text: refused. The trusted text: runs. Only its hash: runs.
    let (_, body) = post(&app, &json!({ "query": "{ __typename }" }), None).await;
    assert_eq!(code(&body), "OPERATION_NOT_TRUSTED");
    let (_, body) = post(&app, &json!({ "query": me }), None).await;
    assert_eq!(body, json!({ "data": { "me": null } }), "the trusted operation ran (anonymous: no one)");
    let by_hash = json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } });
    let (_, body) = post(&app, &by_hash, None).await;
    assert_eq!(body, json!({ "data": { "me": null } }), "the operation ran by its hash");
    let unknown = json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": "00".repeat(32) } } });
    let (_, body) = post(&app, &unknown, None).await;
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");
    let mismatched =
        json!({ "query": "{ __typename }", "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } });
    let (_, body) = post(&app, &mismatched, None).await;
    assert_eq!(code(&body), "BAD_REQUEST");

    // A manifest whose hash does not match its text stops the server from starting.
    std::fs::write(&manifest, json!({ "00".repeat(32): me }).to_string()).expect("manifest");
    let db = crate::helpers::TestDb::create_for_test(backend).await.expect("db");
    let mut config = crate::helpers::test_config(&db.url, db.dir(), 0);
    config.limits.trusted_operations = Some(manifest.clone());
    let failed = onestop::app::Application::build(config).await;
    assert!(failed.is_err(), "a stale manifest must fail at start-up");
}

impl ExtraServer {
    async fn me(&self, token: &str) -> Value {
        crate::helpers::gql_at(&self.base_url, Some(token), "{ me { email } }", json!({})).await
    }

    async fn login(&self, email: &str) -> String {
        let query = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
        let body = crate::helpers::gql_at(
            &self.base_url,
            None,
            query,
            json!({ "e": email, "p": crate::helpers::GOOD_PASSWORD }),
        )
        .await;
        body["data"]["login"]["accessToken"].as_str().unwrap_or_else(|| panic!("login: {body}")).to_string()
    }
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).expect("header").kid.expect("kid")
}

/// The documented procedure: new secret in `ONESTOP_JWT_SECRET`, the old one moved to
/// `ONESTOP_JWT_PREVIOUS_SECRETS`; after one access-token lifetime the old one is removed.
async fn jwt_keys_rotate_with_the_old_key_accepted_until_retired(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |_| {}).await else { return };
    let (old_token, _) = app.verified_merchant("rotate@example.cn").await;
    let old_secret = app.jwt_secret.clone();
    let new_secret = format!("rotated-secret-{}", uuid::Uuid::new_v4().simple());
    let config_with = |secret: &str, previous: Vec<String>| {
        let mut config = crate::helpers::test_config(&app.db.url, app.db.dir(), 0);
        config.jwt.secret = secret.to_string();
        config.jwt.previous_secrets = previous;
        config.mail.smtp_url = None;
        config
    };

    // During the rotation: old tokens still work, new ones carry the new key id.
    let rotating = ExtraServer::start(config_with(&new_secret, vec![old_secret.clone()])).await;
    assert_eq!(rotating.me(&old_token).await["data"]["me"]["email"], "rotate@example.cn");
    let new_token = rotating.login("rotate@example.cn").await;
    assert_ne!(kid_of(&new_token), kid_of(&old_token));
    assert_eq!(rotating.me(&new_token).await["data"]["me"]["email"], "rotate@example.cn");
    drop(rotating);

    // Old secret retired: its tokens are refused; the new ones keep working.
    let rotated = ExtraServer::start(config_with(&new_secret, vec![])).await;
    let refused = rotated.me(&old_token).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{refused}");
    assert_eq!(rotated.me(&new_token).await["data"]["me"]["email"], "rotate@example.cn");
    // A token signed with an unknown secret but a known key id is refused too.
    let forged = {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(kid_of(&new_token));
        let claims: Value =
            serde_json::from_slice(&base64_decode(new_token.split('.').nth(1).expect("claims"))).expect("claims json");
        jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(old_secret.as_bytes()))
            .expect("sign")
    };
    assert_eq!(rotated.me(&forged).await["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

fn base64_decode(segment: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(segment).expect("base64url")
}

const EVENTS: &str = "query($k: String, $n: Int) { securityEvents(kind: $k, first: $n) { nodes { kind actorId subjectId addressHash detail } pageInfo { hasNextPage } } }";

async fn security_events_are_recorded_with_actor_and_address_hash(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.login_per_account_per_minute = 4).await else { return };
    let admin = app.admin_token().await;
    let merchant = app.merchant("sec@example.cn", "510100", None).await;
    let me = app.me(&merchant.token).await;
    let merchant_user = me.data()["me"]["id"].as_str().expect("id").to_string();
    let here = onestop::services::trace::client_hash(&app.state.config.trace, "127.0.0.1");

    // Failed logins: a wrong password (the account is named) and an unknown account.
    app.login("sec@example.cn", "Wrong-Password-123").await;
    app.login("ghost@example.cn", "Wrong-Password-123").await;
    // A refresh token presented twice: reuse detected.
    let session = app.login("sec@example.cn", crate::helpers::GOOD_PASSWORD).await;
    let first_refresh = session.data()["login"]["refreshToken"].as_str().expect("refresh").to_string();
    app.refresh(&first_refresh).await.data();
    assert_eq!(app.refresh(&first_refresh).await.error_code(), "UNAUTHENTICATED");
    // A role granted by the admin; an API client created and revoked by the merchant.
    let officer = app
        .gql(
            "mutation($i: OfficerInput!) { createOfficer(input: $i) { id } }",
            json!({ "i": { "email": "li.tax@example.cn", "displayName": "Li", "role": "SUPERVISOR", "agency": "TAX", "regions": ["510100"] } }),
            Some(&admin),
        )
        .await;
    let officer_id = officer.data()["createOfficer"]["id"].as_str().expect("id").to_string();
    app.gql(
        "mutation { createApiClient(name: \"erp\", scopes: [\"cases:read\"]) { clientId } }",
        json!({}),
        Some(&merchant.token),
    )
    .await
    .data();
    let clients = app.gql("{ apiClients { id } }", json!({}), Some(&merchant.token)).await;
    let client_row = clients.data()["apiClients"][0]["id"].as_str().expect("id").to_string();
    app.gql("mutation($id: ID!) { revokeApiClient(id: $id) }", json!({ "id": client_row }), Some(&merchant.token))
        .await
        .data();
    // Password-reset requests over the limit: one trip recorded, however often it repeats.
    for _ in 0..7 {
        app.gql("mutation { requestPasswordReset(email: \"flood@example.cn\") }", json!({}), None).await;
    }

    let events = |kind: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let answer = app.gql(EVENTS, json!({ "k": kind, "n": 50 }), Some(&admin)).await;
            answer.data()["securityEvents"]["nodes"].as_array().expect("nodes").clone()
        }
    };
    let failed = events("login.failed").await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0]["subjectId"], Value::Null, "newest first: the unknown account");
    assert_eq!(failed[0]["detail"], "unknown account");
    assert_eq!(failed[1]["subjectId"], merchant_user.as_str());
    assert!(failed.iter().all(|e| e["addressHash"] == here.as_str()), "address kept as its salted hash");
    let succeeded = events("login.succeeded").await;
    assert!(succeeded.iter().any(|e| e["actorId"] == merchant_user.as_str() && e["addressHash"] == here.as_str()));
    let reused = events("refresh.reused").await;
    assert_eq!(reused.len(), 1);
    assert_eq!(reused[0]["subjectId"], merchant_user.as_str());
    let granted = events("role.granted").await;
    assert_eq!(granted.len(), 2, "the admin (command line) and the supervisor: {granted:?}");
    assert_eq!(granted[0]["subjectId"], officer_id.as_str());
    assert!(granted[0]["actorId"].is_string());
    assert_eq!(granted[0]["detail"], "SUPERVISOR of TAX in 510100");
    assert_eq!(events("api_client.created").await[0]["subjectId"], client_row.as_str());
    let revoked = events("api_client.revoked").await;
    assert_eq!((revoked.len(), revoked[0]["actorId"].clone()), (1, Value::from(merchant_user.as_str())));
    let trips = events("rate_limit.tripped").await;
    assert_eq!(trips.len(), 1, "one trip recorded for a flood: {trips:?}");
    assert_eq!(trips[0]["detail"], "password reset");

    // Only administrators read them; kinds are checked; nothing stores a raw address.
    let refused = app.gql(EVENTS, json!({}), Some(&merchant.token)).await;
    assert_eq!(refused.error_code(), "FORBIDDEN");
    assert_eq!(app.gql(EVENTS, json!({ "k": "nope" }), Some(&admin)).await.error_code(), "VALIDATION");
    let raw = app.query_row("SELECT COUNT(*) AS n FROM security_events WHERE detail LIKE '%127.0.0.1%' OR address_hash LIKE '%127.0.0.1%'").await;
    assert_eq!(raw.try_get::<i64>("", "n").expect("n"), 0);
}

const DATA: &str = "query($id: ID!) { filing(id: $id) { data { ... on RegistrationData { legalRepresentative { idNumber } } ... on TaxData { bankAccount } } } }";

async fn personal_numbers_are_masked_for_administrators(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("pii@example.cn", "510100", None).await;
    let tax = app.staff("pii-tax@gov.cn", "OFFICER", "TAX", &["510100"]).await;
    let customs = app.staff("pii-customs@gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;
    let admin = app.admin_token().await;
    let (_, filings) = app.submitted_case(&merchant, &["REGISTRATION", "TAX"]).await;
    let registration = crate::fixtures::filing_of(&filings, "REGISTRATION")["id"].as_str().expect("id").to_string();
    let tax_filing = crate::fixtures::filing_of(&filings, "TAX")["id"].as_str().expect("id").to_string();
    let read = |token: String, id: String| {
        let app = &app;
        async move { app.gql(DATA, json!({ "id": id }), Some(&token)).await }
    };

    // The merchant and the reviewing agency: in full.
    let own = read(merchant.token.clone(), registration.clone()).await;
    assert_eq!(own.data()["filing"]["data"]["legalRepresentative"]["idNumber"], "510107199003074218");
    let reviewing = read(tax.token.clone(), tax_filing.clone()).await;
    assert_eq!(reviewing.data()["filing"]["data"]["bankAccount"], "6228480402564890018");
    // Administrators: masked. Another agency: not visible at all.
    let admin_view = read(admin.clone(), registration.clone()).await;
    assert_eq!(admin_view.data()["filing"]["data"]["legalRepresentative"]["idNumber"], "5101**********4218");
    let admin_tax = read(admin.clone(), tax_filing.clone()).await;
    assert_eq!(admin_tax.data()["filing"]["data"]["bankAccount"], "***************0018");
    assert_eq!(read(customs.token.clone(), tax_filing).await.error_code(), "NOT_FOUND");
}

/// The real binary at debug level: the filing data is logged for support, with the personal
/// numbers masked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_carry_full_personal_numbers_sqlite() {
    let Some(app) = spawn_app(Backend::Sqlite).await else { return };
    let data = tempfile::tempdir().expect("tempdir");
    let log_path = data.path().join("server.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let server =
        ServeProcess::start(&app, data.path(), free_port(), &[("ONESTOP_LOG", "debug")], log.into()).ready().await;
    let base = server.base_url.clone();
    let merchant = app.merchant("pii-log@example.cn", "510100", None).await;
    let case = app.create_case(&merchant.token, &["REGISTRATION", "TAX"]).await;
    for filing in case.data()["createCase"]["filings"].as_array().expect("filings") {
        let kind = filing["kind"].as_str().expect("kind");
        let update = "mutation($id: ID!, $v: Int!, $d: FilingDataInput!) { updateFiling(id: $id, expectedVersion: $v, data: $d) { version } }";
        let variables = json!({ "id": filing["id"], "v": filing["version"], "d": crate::fixtures::filing_data(kind) });
        let body = crate::helpers::gql_at(&base, Some(&merchant.token), update, variables).await;
        assert!(body["errors"].is_null(), "{body}");
    }
    // The server process writes its log as it goes; read until the line is there.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut logged = String::new();
    while !logged.contains("filing data validated") && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        logged = std::fs::read_to_string(&log_path).unwrap_or_default();
    }
    assert!(logged.contains("filing data validated"), "the data was logged at debug level");
    assert!(logged.contains("5101**********4218"), "the ID number appears masked");
    assert!(!logged.contains("510107199003074218"), "never in full");
    assert!(!logged.contains("6228480402564890018"), "nor the bank account");
}

async fn verification_emails_can_be_resent_within_the_throttle(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.login_per_account_per_minute = 3).await else { return };
    let resend = "mutation($e: String!) { resendVerificationEmail(email: $e) }";
    app.register("late@example.cn", crate::helpers::GOOD_PASSWORD, "Late Reader").await.data();
    app.mail_for("late@example.cn", 1).await;
    assert_eq!(app.gql(resend, json!({ "e": "late@example.cn" }), None).await.data()["resendVerificationEmail"], true);
    let mails = app.mail_for("late@example.cn", 2).await;
    let fresh = mails[1].link_token();
    assert_ne!(fresh, mails[0].link_token(), "a new link");
    let verified = app.gql("mutation($t: String!) { verifyEmail(token: $t) }", json!({ "t": fresh }), None).await;
    assert_eq!(verified.data()["verifyEmail"], true);
    // Verified (or unknown) addresses get no mail, and the answer is the same.
    assert_eq!(app.gql(resend, json!({ "e": "late@example.cn" }), None).await.data()["resendVerificationEmail"], true);
    assert_eq!(
        app.gql(resend, json!({ "e": "nobody@example.cn" }), None).await.data()["resendVerificationEmail"],
        true
    );
    app.run_pending_jobs().await;
    assert_eq!(app.smtp.all().await.iter().filter(|m| m.to.iter().any(|t| t.contains("late@"))).count(), 2);
    // The fourth request for one address within the minute is refused.
    assert_eq!(app.gql(resend, json!({ "e": "late@example.cn" }), None).await.data()["resendVerificationEmail"], true);
    assert_eq!(app.gql(resend, json!({ "e": "late@example.cn" }), None).await.error_code(), "RATE_LIMITED");
}

/// Behind a trusted proxy the address is the entry the proxy appended (the last); what the
/// client wrote before it is ignored, so it cannot choose its own throttle bucket.
async fn the_client_address_is_the_last_forwarded_entry(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.trace.trust_forwarded_for = true).await else { return };
    let admin = app.admin_token().await;
    let answer: Value = app
        .client
        .post(app.url("/graphql"))
        .header("x-forwarded-for", "203.0.113.9, 198.51.100.7")
        .json(&json!({ "query": "mutation { login(email: \"ghost@example.cn\", password: \"Wrong-Password-123\") { accessToken } }" }))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let events = app.gql(EVENTS, json!({ "k": "login.failed" }), Some(&admin)).await;
    let hash = events.data()["securityEvents"]["nodes"][0]["addressHash"].clone();
    assert_eq!(hash, onestop::services::trace::client_hash(&app.state.config.trace, "198.51.100.7").as_str());
}
