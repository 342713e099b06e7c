//! Nothing reachable without login exposes a person, contact data or an internal finding.
//!
//! Every query of the served schema (found by introspection, so public queries that land later
//! are covered without editing this file) is run anonymously with every field it can select; the
//! ones that answer without UNAUTHENTICATED/FORBIDDEN are the public entry points, and no type
//! reachable from them may be a person-bearing type or have a personal field. The answers, and
//! the public pages `/t/` and `/c/` (HTML and JSON), must not contain any of the personal data
//! the test seeded.

use serde_json::{Value, json};

use crate::{
    both_backends,
    fixtures::filing_of,
    helpers::{Backend, TestApp, spawn_app},
    introspect::{Schema, named, written},
};

both_backends!(anonymous_callers_reach_no_personal_data);

/// Types that describe people or carry contact data, findings or case internals.
const PRIVATE_TYPES: &[&str] =
    &["User", "Merchant", "Person", "SpotCheck", "Comment", "AuditEvent", "Case", "Filing", "ProductBatch", "Document"];
/// Field names that name personal or internal data, whatever type holds them.
const PRIVATE_FIELDS: &[&str] = &[
    "email",
    "phone",
    "address",
    "idnumber",
    "bankaccount",
    "finding",
    "displayname",
    "officer",
    "risklevel",
    "contactperson",
    "invoicecontact",
    "actor",
    "author",
    "assignee",
];

/// The selection of every field of a type (to `depth`), fields needing arguments left out.
fn select_all(schema: &Schema, type_name: &str, depth: usize) -> String {
    let ty = &schema.types[type_name];
    match ty["kind"].as_str() {
        Some("OBJECT") if depth > 0 => {
            let fields: Vec<String> = ty["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|f| f["args"].as_array().is_none_or(|a| a.iter().all(|arg| arg["type"]["kind"] != "NON_NULL")))
                .filter_map(|f| {
                    let name = f["name"].as_str()?;
                    let (kind, inner) = named(&f["type"]);
                    match kind {
                        "OBJECT" | "UNION" | "INTERFACE" => {
                            let sub = select_all(schema, inner, depth - 1);
                            (!sub.is_empty()).then(|| format!("{name} {sub}"))
                        }
                        _ => Some(name.to_string()),
                    }
                })
                .collect();
            if fields.is_empty() { String::new() } else { format!("{{ __typename {} }}", fields.join(" ")) }
        }
        Some("UNION" | "INTERFACE") if depth > 0 => {
            let parts: Vec<String> = ty["possibleTypes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["name"].as_str())
                .map(|p| (p, select_all(schema, p, depth - 1)))
                .filter(|(_, sub)| !sub.is_empty())
                .map(|(p, sub)| format!("... on {p} {sub}"))
                .collect();
            format!("{{ __typename {} }}", parts.join(" "))
        }
        _ => String::new(),
    }
}

/// Every type reachable from `type_name` through object fields.
fn reachable(schema: &Schema, type_name: &str, seen: &mut Vec<String>) {
    if seen.iter().any(|s| s == type_name) {
        return;
    }
    seen.push(type_name.to_string());
    let ty = &schema.types[type_name];
    for field in ty["fields"].as_array().into_iter().flatten() {
        reachable(schema, named(&field["type"]).1, seen);
    }
    for possible in ty["possibleTypes"].as_array().into_iter().flatten() {
        reachable(schema, possible["name"].as_str().unwrap_or_default(), seen);
    }
}

/// Seeds a merchant with contact data, an officer, a failed spot check with findings and an
/// approved certificate; returns (trace code, certificate number, the personal strings).
async fn seed(app: &TestApp) -> (String, String, Vec<String>) {
    let merchant = app.merchant("secret-contact@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    // The business name is public; the fixture's name carries the email, so give a real one.
    app.gql(
        "mutation($i: MerchantProfileInput!) { saveMerchantProfile(input: $i) { id } }",
        json!({ "i": {
            "name": "成都川味花椒合作社", "regionCode": "510100", "address": "成都市高新区天府大道100号",
            "contactEmail": "secret-contact@example.cn", "contactPhone": "+86 138 0000 0000"
        }}),
        Some(&merchant.token),
    )
    .await
    .data();
    let inspector = app.staff("secret-inspector@gov.cn", "OFFICER", "INSPECTION", &["510100"]).await;
    let batch = app
        .gql(
            "mutation($i: ProductBatchInput!) { registerProductBatch(input: $i) { traceCode merchant { id } } }",
            json!({ "i": { "productName": "花椒", "category": "FOOD", "originRegionCode": "510100", "batchNumber": "S-1", "productionDate": "2026-09-01", "quantity": 10 } }),
            Some(&merchant.token),
        )
        .await;
    let code = batch.data()["registerProductBatch"]["traceCode"].as_str().expect("code").to_string();
    let merchant_id = batch.data()["registerProductBatch"]["merchant"]["id"].as_str().expect("id").to_string();
    app.gql(
        "mutation($i: SpotCheckInput!) { recordSpotCheck(input: $i) { id } }",
        json!({ "i": { "merchantId": merchant_id, "channel": "ONLINE", "category": "FOOD", "regionCode": "510100", "result": "FAIL", "findings": "SECRET-FINDING 重金属超标" } }),
        Some(&inspector.token),
    )
    .await
    .data();
    let (_, filings) = app.submitted_case(&merchant, &["INSPECTION"]).await;
    let f = filing_of(&filings, "INSPECTION");
    let id = f["id"].as_str().expect("id");
    let claimed = app.decide(&inspector.token, "claimFiling", id, f["version"].as_i64().expect("v"), None).await;
    let v = claimed.data()["claimFiling"]["version"].as_i64().expect("v");
    let approved = app.decide(&inspector.token, "approveFiling", id, v, None).await;
    let number = approved.data()["approveFiling"]["certificateNumber"].as_str().expect("number").to_string();
    // What the fixtures put in: contact email and phone (as stored and as typed), address,
    // the officer's address and name, the finding, the merchant user's name.
    let secrets = [
        "secret-contact",
        "secret-inspector",
        "13800000000",
        "138 0000 0000",
        "天府大道",
        "SECRET-FINDING",
        "Staff secret",
        "Test Merchant",
    ];
    (code, number, secrets.iter().map(|s| s.to_string()).collect())
}

fn assert_clean(what: &str, body: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(!body.contains(secret.as_str()), "{what} exposes {secret:?}: {body}");
    }
}

async fn anonymous_callers_reach_no_personal_data(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let (code, number, secrets) = seed(&app).await;
    let schema = Schema::load(&app, None).await;
    let mut public = Vec::new();
    for field in schema.root["queryType"]["fields"].as_array().expect("queries") {
        let name = field["name"].as_str().expect("name");
        let args: Vec<(String, Value)> = field["args"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| (a["name"].as_str().unwrap_or_default().to_string(), a["type"].clone()))
            .collect();
        let variables: serde_json::Map<String, Value> = args
            .iter()
            .map(|(n, t)| {
                let value = match n.as_str() {
                    "code" => json!(code),
                    "number" => json!(number),
                    _ => schema.plausible(t, 0),
                };
                (n.clone(), value)
            })
            .collect();
        let definitions: Vec<String> = args.iter().map(|(n, t)| format!("${n}: {}", written(t))).collect();
        let call_args: Vec<String> = args.iter().map(|(n, _)| format!("{n}: ${n}")).collect();
        let (_, return_type) = named(&field["type"]);
        let selection = select_all(&schema, return_type, 4);
        let document = match (definitions.is_empty(), call_args.is_empty()) {
            (true, _) => format!("query {{ {name} {selection} }}"),
            _ => format!("query({}) {{ {name}({}) {selection} }}", definitions.join(", "), call_args.join(", ")),
        };
        let answer = app.gql(&document, Value::Object(variables), None).await;
        let code = answer.0["errors"][0]["extensions"]["code"].as_str().map(str::to_string);
        assert_ne!(code.as_deref(), Some("INTERNAL"), "{name}: {}", answer.0);
        assert!(
            !matches!(code.as_deref(), Some("BAD_REQUEST" | "QUERY_TOO_DEEP" | "QUERY_TOO_COMPLEX")),
            "{name}: the generated query must be valid and within the limits: {}",
            answer.0
        );
        assert_clean(&format!("anonymous {name}"), &answer.0.to_string(), &secrets);
        let refused = matches!(code.as_deref(), Some("UNAUTHENTICATED" | "FORBIDDEN"));
        let answered_something = !answer.0["data"][name].is_null();
        if !refused && answered_something {
            public.push(name.to_string());
            let mut types = Vec::new();
            reachable(&schema, return_type, &mut types);
            for type_name in &types {
                assert!(!PRIVATE_TYPES.contains(&type_name.as_str()), "public {name} reaches {type_name}");
                for f in schema.types[type_name.as_str()]["fields"].as_array().into_iter().flatten() {
                    let field_name = f["name"].as_str().unwrap_or_default().to_lowercase();
                    assert!(
                        !PRIVATE_FIELDS.iter().any(|p| field_name.contains(p)),
                        "public {name} reaches {type_name}.{field_name}"
                    );
                }
            }
        }
    }
    // The walk found the public entry points (and would find new ones).
    for expected in ["trace", "validateUscc", "requirements"] {
        assert!(public.iter().any(|p| p == expected), "{expected} is public: {public:?}");
    }

    // The public pages, for people and machines.
    for path in [format!("/t/{code}"), format!("/c/{number}"), format!("/c/{}", "91510100MA6CGUR3KG")] {
        for accept in ["text/html", "application/json"] {
            let response = app.client.get(app.url(&path)).header("accept", accept).send().await.expect("GET");
            let body = response.text().await.expect("body");
            assert_clean(&format!("{path} ({accept})"), &body, &secrets);
        }
    }
}
