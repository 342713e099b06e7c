//! Login, access tokens, refresh rotation, reuse detection and logout.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::{
    both_backends,
    helpers::{Backend, GOOD_PASSWORD, spawn_app},
};

both_backends!(
    wrong_email_and_wrong_password_look_the_same,
    refresh_rotates_and_reuse_revokes_the_session,
    logout_revokes_the_session,
    forged_or_expired_access_tokens_are_refused,
);

async fn wrong_email_and_wrong_password_look_the_same(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    app.verified_merchant("known@example.cn").await;
    let wrong_password = app.login("known@example.cn", "Not-The-Password-123").await;
    let unknown_email = app.login("unknown@example.cn", GOOD_PASSWORD).await;
    assert_eq!(wrong_password.error_code(), "UNAUTHENTICATED");
    assert_eq!(unknown_email.error_code(), "UNAUTHENTICATED");
    assert_eq!(wrong_password.error_message(), unknown_email.error_message());
}

async fn refresh_rotates_and_reuse_revokes_the_session(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let (_, first) = app.verified_merchant("rot@example.cn").await;

    let rotated = app.refresh(&first).await;
    let second = rotated.data()["refreshSession"]["refreshToken"].as_str().expect("new").to_string();
    let access = rotated.data()["refreshSession"]["accessToken"].as_str().expect("access").to_string();
    assert_ne!(first, second);
    assert_eq!(app.me(&access).await.data()["me"]["email"], "rot@example.cn");

    // Presenting the old token again means it leaked: the whole session dies, including the
    // token the legitimate holder got last.
    assert_eq!(app.refresh(&first).await.error_code(), "UNAUTHENTICATED");
    assert_eq!(app.refresh(&second).await.error_code(), "UNAUTHENTICATED");

    // Other sessions of the same user are unaffected.
    let other = app.login("rot@example.cn", GOOD_PASSWORD).await;
    let other = other.data()["login"]["refreshToken"].as_str().expect("refresh").to_string();
    app.refresh(&other).await.data();
    assert_eq!(app.refresh("garbage").await.error_code(), "UNAUTHENTICATED");
}

async fn logout_revokes_the_session(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let (_, refresh) = app.verified_merchant("out@example.cn").await;
    let logout = "mutation($t: String!) { logout(refreshToken: $t) }";
    assert_eq!(app.gql(logout, json!({ "t": refresh }), None).await.data()["logout"], true);
    assert_eq!(app.refresh(&refresh).await.error_code(), "UNAUTHENTICATED");
    assert_eq!(app.gql(logout, json!({ "t": refresh }), None).await.data()["logout"], true, "idempotent");
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn forged_or_expired_access_tokens_are_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let (access, _) = app.verified_merchant("jwt@example.cn").await;
    assert_eq!(app.me(&access).await.data()["me"]["role"], "MERCHANT");

    let parts: Vec<&str> = access.split('.').collect();
    let header: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[0]).expect("b64"))
            .expect("json");
    let mut claims: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).expect("b64"))
            .expect("json");
    assert_eq!(header["alg"], "HS256");
    assert!(header["kid"].is_string(), "tokens name their key");
    for claim in ["iss", "aud", "exp", "iat", "sub", "role"] {
        assert!(claims.get(claim).is_some(), "claim {claim} present");
    }

    // Payload changed (role escalated), signature kept.
    let mut escalated = claims.clone();
    escalated["role"] = json!("ADMIN");
    let tampered = format!("{}.{}.{}", parts[0], b64(escalated.to_string().as_bytes()), parts[2]);

    // alg "none", no signature.
    let none = format!(
        "{}.{}.",
        b64(json!({ "alg": "none", "typ": "JWT", "kid": header["kid"] }).to_string().as_bytes()),
        parts[1]
    );

    let key = EncodingKey::from_secret(app.jwt_secret.as_bytes());
    let mut signing_header = Header::new(Algorithm::HS256);
    signing_header.kid = header["kid"].as_str().map(str::to_string);
    let sign = |c: &serde_json::Value| jsonwebtoken::encode(&signing_header, c, &key).expect("sign");

    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("someone-else");
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("evil");
    let now = chrono::Utc::now().timestamp();
    claims["iat"] = json!(now - 3600);
    claims["exp"] = json!(now - 600);
    let expired = sign(&claims);

    let other_key = EncodingKey::from_secret(b"a-completely-different-secret-of-length-32+");
    let foreign = jsonwebtoken::encode(&signing_header, &escalated, &other_key).expect("sign");

    for (what, token) in [
        ("tampered payload", tampered),
        ("alg none", none),
        ("wrong audience", sign(&wrong_aud)),
        ("wrong issuer", sign(&wrong_iss)),
        ("expired", expired),
        ("other key", foreign),
        ("garbage", "not.a.jwt".to_string()),
    ] {
        let me = app.me(&token).await;
        assert_eq!(me.error_code(), "UNAUTHENTICATED", "{what} must be refused");
        if what == "expired" {
            assert!(me.error_message().contains("expired"), "{}", me.error_message());
        }
    }
}
