//! The merchant profile's contact phone (every mainland form, stored in E.164) and USCCs that
//! fail the check character but are on the configured allow-list.

use serde_json::json;

use crate::{
    both_backends,
    helpers::{Backend, spawn_app_with},
};

both_backends!(phones_are_stored_in_e164_and_legacy_usccs_need_the_allow_list);

const SAVE: &str =
    "mutation($i: MerchantProfileInput!) { saveMerchantProfile(input: $i) { contactPhone uscc usccVerified } }";
const LEGACY: &str = "91510100MA6CGUR3K1";

fn profile(phone: &str, uscc: Option<&str>) -> serde_json::Value {
    json!({ "i": {
        "name": "成都跨境香料有限公司", "uscc": uscc, "regionCode": "510100", "address": "成都市武侯区科华北路1号",
        "contactEmail": "export@example.cn", "contactPhone": phone
    }})
}

async fn phones_are_stored_in_e164_and_legacy_usccs_need_the_allow_list(backend: Backend) {
    let allow =
        onestop::domain::uscc::UsccAllowList::parse(&format!("{LEGACY} # confirmed by the office\n")).expect("list");
    let Some(app) = spawn_app_with(backend, |c| c.uscc_allow_list = allow).await else { return };
    let (token, _) = app.verified_merchant("export@example.cn").await;
    for (written, stored) in
        [("+86 28 8888 8888", "+862888888888"), ("028 8888 8888", "+862888888888"), ("138 0013 8000", "+8613800138000")]
    {
        let saved = app.gql(SAVE, profile(written, None), Some(&token)).await;
        assert_eq!(saved.data()["saveMerchantProfile"]["contactPhone"], stored, "{written}");
    }
    for bad in ["+86 28 888", "+1 415 555 2671", "8888"] {
        let refused = app.gql(SAVE, profile(bad, None), Some(&token)).await;
        assert_eq!(refused.error_fields(), vec!["contactPhone"], "{bad}");
    }
    let stored = || async {
        app.query_row("SELECT contact_phone FROM merchants")
            .await
            .try_get::<String>("", "contact_phone")
            .expect("phone")
    };
    assert_eq!(stored().await, "+8613800138000", "refusals changed nothing");
    // Phones stored before E.164 are rewritten at start-up.
    {
        use sea_orm::ConnectionTrait;
        app.state
            .db
            .execute_unprepared("UPDATE merchants SET contact_phone = '028 8888 8888'")
            .await
            .expect("legacy phone");
    }
    assert_eq!(
        onestop::services::merchants::normalise_legacy_phones(&app.state)
            .await
            .map_err(|e| e.detail())
            .expect("normalise"),
        1
    );
    assert_eq!(stored().await, "+862888888888");

    // A code failing the check character: refused with the way out, unless allow-listed.
    let near = "91510100MA6CGUR3K2";
    let refused = app.gql(SAVE, profile("13800138000", Some(near)), Some(&token)).await;
    assert_eq!(refused.error_fields(), vec!["uscc"]);
    assert!(refused.error_message().contains("allow-list"), "{}", refused.error_message());
    let accepted = app.gql(SAVE, profile("13800138000", Some(LEGACY)), Some(&token)).await;
    assert_eq!(accepted.data()["saveMerchantProfile"]["uscc"], LEGACY);
    assert_eq!(accepted.data()["saveMerchantProfile"]["usccVerified"], false, "declared, like any typed code");
    let check = |code: &str| app.gql("query($c: String!) { validateUscc(code: $c) }", json!({ "c": code }), None);
    assert_eq!(check(LEGACY).await.data()["validateUscc"], true);
    assert_eq!(check(near).await.data()["validateUscc"], false);
}
