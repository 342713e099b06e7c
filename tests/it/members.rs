//! A merchant's members: the OWNER invites STAFF (new address or existing merchant account,
//! the same answer either way), STAFF file and see the merchant's cases but manage nothing,
//! events record who acted for which merchant, and a removed member's sessions end at once.

use serde_json::{Value, json};

use crate::{
    both_backends,
    helpers::{Backend, GOOD_PASSWORD, TestApp, spawn_app},
};

both_backends!(an_owner_brings_in_staff_who_file_but_manage_nothing);

pub const INVITE: &str = "mutation($e: String!, $r: MerchantRole!) { inviteMerchantMember(email: $e, role: $r) { role user { email displayName } } }";

/// Logs in `email` (after setting its password from the invitation if it is new).
pub async fn join(app: &TestApp, email: &str) -> (String, String) {
    let mail = app
        .mail_for(email, 1)
        .await
        .into_iter()
        .find(|m| m.subject().contains("added you") || m.subject().contains("onestop"))
        .expect("invitation");
    let reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";
    assert_eq!(
        app.gql(reset, json!({ "t": mail.link_token(), "p": GOOD_PASSWORD }), None).await.data()["resetPassword"],
        true
    );
    let login = app.login(email, GOOD_PASSWORD).await;
    let session = &login.data()["login"];
    (
        session["accessToken"].as_str().expect("token").to_string(),
        session["refreshToken"].as_str().expect("refresh").to_string(),
    )
}

async fn an_owner_brings_in_staff_who_file_but_manage_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let owner = app.merchant("owner@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let merchant_id =
        app.gql("{ merchant { id } }", json!({}), Some(&owner.token)).await.data()["merchant"]["id"].clone();

    // A new address and an existing merchant account get answers of the same shape.
    let fresh = app.gql(INVITE, json!({ "e": "clerk@example.cn", "r": "STAFF" }), Some(&owner.token)).await;
    let (existing_token, _) = app.verified_merchant("known@example.cn").await;
    let known = app.gql(INVITE, json!({ "e": "known@example.cn", "r": "STAFF" }), Some(&owner.token)).await;
    assert_eq!(
        fresh.data()["inviteMerchantMember"],
        json!({ "role": "STAFF", "user": { "email": "clerk@example.cn", "displayName": "clerk" } })
    );
    assert_eq!(
        known.data()["inviteMerchantMember"],
        json!({ "role": "STAFF", "user": { "email": "known@example.cn", "displayName": "known" } })
    );
    assert_eq!(
        app.gql(INVITE, json!({ "e": "known@example.cn", "r": "STAFF" }), Some(&owner.token)).await.error_code(),
        "CONFLICT",
        "one merchant per user"
    );
    let other = app.merchant("other@example.cn", "510100", None).await;
    assert_eq!(
        app.gql(INVITE, json!({ "e": "other@example.cn", "r": "STAFF" }), Some(&owner.token)).await.error_code(),
        "CONFLICT"
    );
    assert_eq!(
        app.gql(INVITE, json!({ "e": "x@example.cn", "r": "OWNER" }), Some(&owner.token)).await.error_code(),
        "VALIDATION"
    );
    assert_eq!(
        app.gql(INVITE, json!({ "e": "x@example.cn", "r": "STAFF" }), Some(&other.token)).await.data()["inviteMerchantMember"]
            ["role"],
        "STAFF",
        "each owner its own team"
    );

    let (clerk, clerk_refresh) = join(&app, "clerk@example.cn").await;
    assert_eq!(
        app.gql("{ merchant { id } }", json!({}), Some(&existing_token)).await.data()["merchant"]["id"],
        merchant_id,
        "the existing account joined"
    );

    // STAFF file like the owner …
    let created = app.create_case(&clerk, &["INSPECTION"]).await;
    let case_id = created.data()["createCase"]["id"].as_str().expect("case").to_string();
    let filing = created.data()["createCase"]["filings"][0].clone();
    app.update_filing(&clerk, filing["id"].as_str().expect("id"), 1, crate::fixtures::filing_data("INSPECTION"))
        .await
        .data();
    assert_eq!(app.submit_case(&clerk, &case_id).await.data()["submitCase"]["status"], "IN_REVIEW");
    let trail = app
        .gql(
            "query($id: ID!) { case(id: $id) { events { action onBehalfOfMerchantId actor { email } } } }",
            json!({ "id": case_id }),
            Some(&owner.token),
        )
        .await;
    let events = trail.data()["case"]["events"].as_array().expect("events").clone();
    let submitted: Vec<&Value> = events.iter().filter(|e| e["action"] == "filing.submitted").collect();
    assert_eq!(submitted[0]["actor"]["email"], "clerk@example.cn");
    assert_eq!(submitted[0]["onBehalfOfMerchantId"], merchant_id);
    let cases = app.gql("{ cases(first: 10) { nodes { id } } }", json!({}), Some(&owner.token)).await;
    assert!(cases.0.to_string().contains(&case_id), "the owner sees the staff member's case");

    // … but manage nothing.
    assert_eq!(
        app.gql(INVITE, json!({ "e": "y@example.cn", "r": "STAFF" }), Some(&clerk)).await.error_code(),
        "FORBIDDEN"
    );
    let remove = "mutation($u: ID!) { removeMerchantMember(userId: $u) }";
    let members = app.gql("{ merchant { members { role user { id email } } } }", json!({}), Some(&owner.token)).await;
    let listed = members.data()["merchant"]["members"].as_array().expect("members").clone();
    let roles: Vec<(&str, &str)> =
        listed.iter().map(|m| (m["role"].as_str().unwrap_or(""), m["user"]["email"].as_str().unwrap_or(""))).collect();
    assert_eq!(roles, [("OWNER", "owner@example.cn"), ("STAFF", "clerk@example.cn"), ("STAFF", "known@example.cn")]);
    let clerk_id = listed[1]["user"]["id"].clone();
    let owner_id = listed[0]["user"]["id"].clone();
    assert_eq!(app.gql(remove, json!({ "u": owner_id }), Some(&clerk)).await.error_code(), "FORBIDDEN");
    assert_eq!(
        app.gql("{ merchant { members { role } } }", json!({}), Some(&clerk)).await.data()["merchant"]["members"],
        json!([])
    );
    let client = "mutation { createApiClient(name: \"ERP\", scopes: [\"cases:read\"]) { clientId } }";
    assert_eq!(
        app.gql(client, json!({}), Some(&clerk)).await.error_code(),
        "FORBIDDEN",
        "only the OWNER creates API clients"
    );
    let profile = json!({ "i": { "name": "改名", "regionCode": "510100", "address": "成都", "contactEmail": "x@example.cn", "contactPhone": "13800000000" } });
    let save = "mutation($i: MerchantProfileInput!) { saveMerchantProfile(input: $i) { id } }";
    assert_eq!(app.gql(save, profile, Some(&clerk)).await.error_code(), "FORBIDDEN");

    // The owner stays; a removed member loses the merchant at once.
    assert_eq!(app.gql(remove, json!({ "u": owner_id }), Some(&owner.token)).await.error_code(), "VALIDATION");
    assert_eq!(
        app.gql(remove, json!({ "u": clerk_id }), Some(&owner.token)).await.data()["removeMerchantMember"],
        true
    );
    assert_eq!(app.gql("{ merchant { id } }", json!({}), Some(&clerk)).await.data()["merchant"], Value::Null);
    assert_eq!(
        app.gql("query($id: ID!) { case(id: $id) { id } }", json!({ "id": case_id }), Some(&clerk)).await.error_code(),
        "NOT_FOUND"
    );
    assert!(app.refresh(&clerk_refresh).await.0.get("errors").is_some(), "the session ended");
    assert_eq!(
        app.gql(remove, json!({ "u": clerk_id }), Some(&owner.token)).await.error_code(),
        "NOT_FOUND",
        "already gone"
    );
}
