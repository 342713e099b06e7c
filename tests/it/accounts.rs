//! Sign-up, email verification, password reset and staff accounts.

use serde_json::json;

use crate::{
    both_backends,
    helpers::{Backend, GOOD_PASSWORD, PUBLIC_BASE_URL, spawn_app, spawn_app_with},
};

both_backends!(
    signup_email_verify_login_me,
    a_taken_email_gets_the_same_answer_and_its_owner_is_told,
    weak_or_malformed_signup_is_refused_and_stores_nothing,
    expired_verification_token_is_refused,
    password_reset_sets_password_and_ends_every_session,
    password_reset_request_reveals_nothing,
    only_admin_creates_officers_who_set_a_password_from_the_invitation,
    create_admin_refuses_a_weak_password,
);

async fn signup_email_verify_login_me(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let registered = app.register("Li.Wei@Example.cn", GOOD_PASSWORD, "李伟 Li Wei").await;
    let user = &registered.data()["registerMerchantUser"];
    assert_eq!(user["email"], "li.wei@example.cn", "addresses are stored lower-case");
    assert_eq!(user["emailVerified"], false);
    assert_eq!(user["role"], "MERCHANT");

    // The verification mail arrives over SMTP, in Chinese and English, text and HTML.
    let mail = app.mail_for("li.wei@example.cn", 1).await.remove(0);
    assert!(mail.subject().contains("Verify your email"), "subject: {}", mail.subject());
    assert!(mail.text().contains("验证"), "text body is Chinese first");
    assert!(mail.text().contains(&format!("{PUBLIC_BASE_URL}/verify-email?token=")));
    let token = mail.link_token();
    assert!(mail.html().contains("<a href=") && mail.html().contains(&token), "HTML has the link");
    assert!(token.len() >= 22, "token carries at least 128 bits");

    // Logging in before verifying works (verification gates filing, not access).
    let verify = "mutation($t: String!) { verifyEmail(token: $t) }";
    assert_eq!(app.gql(verify, json!({ "t": token }), None).await.data()["verifyEmail"], true);
    let reused = app.gql(verify, json!({ "t": token }), None).await;
    assert_eq!(reused.error_code(), "VALIDATION", "a verification token works once");
    assert_eq!(reused.error_fields(), vec!["token"]);

    let login = app.login("li.wei@example.cn", GOOD_PASSWORD).await;
    let payload = &login.data()["login"];
    assert_eq!(payload["expiresIn"], 900);
    let access = payload["accessToken"].as_str().expect("access token");
    let me = app.me(access).await;
    let me = &me.data()["me"];
    assert_eq!(me["email"], "li.wei@example.cn");
    assert_eq!(me["displayName"], "李伟 Li Wei");
    assert_eq!(me["emailVerified"], true);
    assert_eq!(me["role"], "MERCHANT");
    assert_eq!(me["regions"], json!([]));

    // Without a token, `me` is simply null.
    let anonymous = app.gql("{ me { id } }", json!({}), None).await;
    assert_eq!(anonymous.data()["me"], serde_json::Value::Null);
}

async fn a_taken_email_gets_the_same_answer_and_its_owner_is_told(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.login_per_account_per_minute = 3).await else { return };
    app.register("fresh@example.cn", GOOD_PASSWORD, "Fresh").await.data();
    let first = app.register("dup@example.cn", GOOD_PASSWORD, "First").await;
    let first = first.data()["registerMerchantUser"].clone();
    let again = app.register("DUP@example.cn ", GOOD_PASSWORD, "Second").await;
    let again = again.data()["registerMerchantUser"].clone();
    // Nothing tells the two apart: same shape, the given email, a fresh id.
    assert_eq!(again["email"], "dup@example.cn");
    assert_eq!((again["emailVerified"].as_bool(), again["role"].as_str()), (Some(false), Some("MERCHANT")));
    assert_ne!(again["id"], first["id"]);
    let keys = |v: &serde_json::Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
    assert_eq!(keys(&again), keys(&first));
    // The next step tells nothing either: neither account logs in before its address is verified.
    // Microseconds at most, like a stored row (PostgreSQL keeps no more).
    let fraction = |v: &serde_json::Value| {
        let at = v["createdAt"].as_str().unwrap_or_default();
        at.split_once('.').map(|(_, rest)| rest.chars().take_while(char::is_ascii_digit).count()).unwrap_or(0)
    };
    assert!(fraction(&again) <= 6 && fraction(&first) <= 6, "timestamps of the same precision: {first} {again}");
    let after_taken = app.login("dup@example.cn", GOOD_PASSWORD).await;
    let after_fresh = app.login("fresh@example.cn", GOOD_PASSWORD).await;
    assert_eq!(after_taken.error_message(), after_fresh.error_message());
    assert_eq!(app.count("users").await, 2, "no second account for the taken address");
    // The owner hears about it (after the verification mail of the real sign-up).
    let mails = app.mail_for("dup@example.cn", 2).await;
    assert!(mails.iter().any(|m| m.subject().contains("Someone tried to sign up")), "the owner is told");
    assert_eq!(app.count_where("security_events", "kind = 'signup.existing_email'").await, 1);
    // Throttled per address like password resets: a mailbox cannot be flooded.
    app.register("dup@example.cn", GOOD_PASSWORD, "Third").await.data();
    let flooded = app.register("dup@example.cn", GOOD_PASSWORD, "Fourth").await;
    assert_eq!(flooded.error_code(), "RATE_LIMITED");
    app.mail_for("dup@example.cn", 3).await;
    assert_eq!(app.smtp.to("dup@example.cn").await.len(), 3, "one verification mail, two notices, no more");
}

async fn weak_or_malformed_signup_is_refused_and_stores_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let common = app.register("a@example.cn", "password123", "Anna").await;
    assert_eq!(common.error_code(), "VALIDATION");
    assert_eq!(common.error_fields(), vec!["password"]);
    assert!(common.error_message().contains("too easy to guess"), "{}", common.error_message());

    // The account's own name and address count as known words.
    let personal = app.register("zhangsanfeng@example.cn", "zhangsanfeng2026", "Zhang Sanfeng").await;
    assert_eq!(personal.error_code(), "VALIDATION");

    let short = app.register("b@example.cn", "Xq7#p", "Bo").await;
    assert_eq!(short.error_code(), "VALIDATION");
    assert!(short.error_message().contains("at least 10"));

    let long = app.register("c@example.cn", &"Xq7#p".repeat(30), "Cy").await;
    assert_eq!(long.error_code(), "VALIDATION");
    assert!(long.error_message().contains("at most 128"));

    // Several problems at once are all listed.
    let many = app.register("not-an-email", "short", "  ").await;
    assert_eq!(many.error_code(), "VALIDATION");
    let mut fields = many.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["displayName", "email", "password"]);

    assert_eq!(app.count("users").await, 0);
    assert_eq!(app.count_where("jobs", "kind = 'email'").await, 0);
}

async fn expired_verification_token_is_refused(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| {
        c.tokens.verify_email = std::time::Duration::ZERO;
    })
    .await
    else {
        return;
    };
    app.register("late@example.cn", GOOD_PASSWORD, "Late").await.data();
    let mail = app.mail_for("late@example.cn", 1).await.remove(0);
    let verify =
        app.gql("mutation($t: String!) { verifyEmail(token: $t) }", json!({ "t": mail.link_token() }), None).await;
    assert_eq!(verify.error_code(), "VALIDATION");
    let forged = app.gql("mutation { verifyEmail(token: \"made-up-token\") }", json!({}), None).await;
    assert_eq!(forged.error_code(), "VALIDATION");
    assert_eq!(app.login("late@example.cn", GOOD_PASSWORD).await.error_code(), "UNAUTHENTICATED", "still unverified");
}

async fn password_reset_sets_password_and_ends_every_session(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let (_, refresh_a) = app.verified_merchant("reset@example.cn").await;
    let refresh_b = app.login("reset@example.cn", GOOD_PASSWORD).await.data()["login"]["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_string();

    let asked = app.gql("mutation { requestPasswordReset(email: \"Reset@example.cn\") }", json!({}), None).await;
    assert_eq!(asked.data()["requestPasswordReset"], true);
    let mails = app.mail_for("reset@example.cn", 2).await;
    let reset_mail = &mails[1];
    assert!(reset_mail.text().contains(&format!("{PUBLIC_BASE_URL}/reset-password?token=")));
    let token = reset_mail.link_token();

    let reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";
    let weak = app.gql(reset, json!({ "t": token, "p": "1234567890" }), None).await;
    assert_eq!(weak.error_code(), "VALIDATION");
    assert_eq!(weak.error_fields(), vec!["newPassword"]);

    let new_password = "Quokka-Lantern-Saffron-93";
    assert_eq!(app.gql(reset, json!({ "t": token, "p": new_password }), None).await.data()["resetPassword"], true);
    let reused = app.gql(reset, json!({ "t": token, "p": "Another-Quokka-Lantern-11" }), None).await;
    assert_eq!(reused.error_code(), "VALIDATION", "a reset token works once");

    for old in [refresh_a, refresh_b] {
        assert_eq!(app.refresh(&old).await.error_code(), "UNAUTHENTICATED", "sessions end on reset");
    }
    assert_eq!(app.login("reset@example.cn", GOOD_PASSWORD).await.error_code(), "UNAUTHENTICATED");
    app.login("reset@example.cn", new_password).await.data();
}

async fn password_reset_request_reveals_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    for email in ["nobody@example.cn", "not an email"] {
        let asked =
            app.gql("mutation($e: String!) { requestPasswordReset(email: $e) }", json!({ "e": email }), None).await;
        assert_eq!(asked.data()["requestPasswordReset"], true);
    }
    assert_eq!(app.count_where("jobs", "kind = 'email'").await, 0, "no mail for unknown addresses");
    assert_eq!(app.count("one_time_tokens").await, 0);
}

async fn only_admin_creates_officers_who_set_a_password_from_the_invitation(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let create =
        "mutation($i: OfficerInput!) { createOfficer(input: $i) { id email role agency regions emailVerified } }";
    let input = json!({ "i": {
        "email": "wang.customs@example.cn", "displayName": "王海关 Wang",
        "role": "OFFICER", "agency": "CUSTOMS", "regions": ["510100", "530000", "510100"]
    }});

    assert_eq!(app.gql(create, input.clone(), None).await.error_code(), "UNAUTHENTICATED");
    let (merchant, _) = app.verified_merchant("m@example.cn").await;
    assert_eq!(app.gql(create, input.clone(), Some(&merchant)).await.error_code(), "FORBIDDEN");
    assert_eq!(app.count("users").await, 1, "the refused calls created nobody");

    let admin = app.admin_token().await;
    let beijing = json!({ "i": {
        "email": "x@example.cn", "displayName": "X", "role": "OFFICER", "agency": "TAX", "regions": ["110000", "51"]
    }});
    let refused = app.gql(create, beijing, Some(&admin)).await;
    assert_eq!(refused.error_code(), "VALIDATION");
    assert_eq!(refused.error_fields(), vec!["regions[0]", "regions[1]"]);
    let merchant_role = json!({ "i": {
        "email": "y@example.cn", "displayName": "Y", "role": "MERCHANT", "agency": "TAX", "regions": ["510000"]
    }});
    assert_eq!(app.gql(create, merchant_role, Some(&admin)).await.error_fields(), vec!["role"]);

    let created = app.gql(create, input.clone(), Some(&admin)).await;
    let officer = &created.data()["createOfficer"];
    assert_eq!(officer["role"], "OFFICER");
    assert_eq!(officer["agency"], "CUSTOMS");
    assert_eq!(officer["regions"], json!(["510100", "530000"]));
    assert_eq!(app.gql(create, input, Some(&admin)).await.error_code(), "CONFLICT");

    // The invitation carries a link to set a password; until then nobody can log in.
    let invitation = app.mail_for("wang.customs@example.cn", 1).await.remove(0);
    assert!(invitation.text().contains("CUSTOMS"));
    assert!(invitation.text().contains("/reset-password?token="));
    assert_eq!(app.login("wang.customs@example.cn", "").await.error_code(), "UNAUTHENTICATED");
    let password = "Harbor-Cumin-Glacier-58";
    let set = app
        .gql(
            "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }",
            json!({ "t": invitation.link_token(), "p": password }),
            None,
        )
        .await;
    assert_eq!(set.data()["resetPassword"], true);
    let login = app.login("wang.customs@example.cn", password).await;
    let access = login.data()["login"]["accessToken"].as_str().expect("token").to_string();
    let me = app.me(&access).await;
    assert_eq!(me.data()["me"]["role"], "OFFICER");
    assert_eq!(me.data()["me"]["emailVerified"], true, "following the mailed link proves the address");
}

async fn create_admin_refuses_a_weak_password(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let refused =
        onestop::services::auth::accounts::create_admin(&app.state, "admin@example.cn", "admin12345", "Admin").await;
    assert!(matches!(refused, Err(onestop::error::AppError::Validation(_))));
    assert_eq!(app.count("users").await, 0);
}
