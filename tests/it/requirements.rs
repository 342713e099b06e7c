//! What a case needs (一次性告知): the public requirements of a profile, cases opened from a
//! profile, the mandatory-document check at submission, and rule edits (versioned, audited,
//! effective for new cases only).

use serde_json::{Value, json};

use crate::{
    both_backends,
    fixtures::{Merchant, filing_data, filing_of},
    helpers::{Backend, Gql, TestApp, spawn_app},
};

both_backends!(the_requirement_matrix_follows_the_default_ruleset);
both_backends!(a_case_from_a_profile_opens_exactly_what_applies);
both_backends!(missing_mandatory_documents_refuse_submission_one_field_each);
both_backends!(a_rule_change_is_audited_and_applies_to_new_cases_only);

const REQUIREMENTS: &str = "query($p: CaseProfileInput!) { requirements(profile: $p) {
    rulesetVersion
    filings { kind agency level reason legalBasis expectedWorkingDays documents { documentType level description legalBasis } }
    undetermined { kind documentType ruleName reason } } }";

fn profile(company: &str, categories: &[&str], hs: &[&str], cross_border: bool) -> Value {
    json!({ "companyType": company, "categories": categories, "hsCodes": hs, "crossBorder": cross_border })
}

/// `KIND:LEVEL[DOC:LEVEL,…]` for every filing, in kind order: compact enough to compare whole.
fn summary(requirements: &Value) -> Vec<String> {
    requirements["filings"]
        .as_array()
        .expect("filings")
        .iter()
        .map(|f| {
            let docs: Vec<String> = f["documents"]
                .as_array()
                .expect("documents")
                .iter()
                .map(|d| {
                    format!(
                        "{}:{}",
                        d["documentType"].as_str().unwrap_or("?"),
                        &d["level"].as_str().unwrap_or("?")[..1]
                    )
                })
                .collect();
            format!(
                "{}:{}[{}]",
                f["kind"].as_str().unwrap_or("?"),
                &f["level"].as_str().unwrap_or("?")[..1],
                docs.join(",")
            )
        })
        .collect()
}

async fn requirements(app: &TestApp, profile: &Value, token: Option<&str>) -> Value {
    app.gql(REQUIREMENTS, json!({ "p": profile }), token).await.data()["requirements"].clone()
}

/// A merchant whose USCC was issued here: its REGISTRATION was approved.
pub async fn verified_merchant(app: &TestApp, email: &str) -> Merchant {
    let merchant = app.merchant(email, "510100", None).await;
    let officer = app.staff(&format!("mr-{email}"), "OFFICER", "MARKET_REGULATION", &["510100"]).await;
    let (_, filings) = app.submitted_case(&merchant, &["REGISTRATION"]).await;
    let registration = filing_of(&filings, "REGISTRATION");
    let id = registration["id"].as_str().expect("id");
    let claimed =
        app.decide(&officer.token, "claimFiling", id, registration["version"].as_i64().expect("v"), None).await;
    let version = claimed.data()["claimFiling"]["version"].as_i64().expect("v");
    app.decide(&officer.token, "approveFiling", id, version, None).await.data();
    merchant
}

async fn the_requirement_matrix_follows_the_default_ruleset(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    // (profile, what an anonymous caller is told)
    let matrix: Vec<(Value, Vec<&str>)> = vec![
        (profile("SOLE_PROPRIETORSHIP", &["HANDICRAFT"], &[], false), vec!["TAX:M[]"]),
        (
            profile("LIMITED_LIABILITY", &["TEXTILE"], &["6109100010"], true),
            vec!["CUSTOMS:M[]", "TAX:M[]", "FX:M[BANK_ACCOUNT_PROOF:M]"],
        ),
        (
            profile("FARMER_COOPERATIVE", &["AGRICULTURAL", "FOOD"], &["0904211000"], true),
            vec![
                "CUSTOMS:M[]",
                "INSPECTION:M[FOOD_OPERATION_LICENCE:M,ORIGIN_PROOF:M]",
                "TAX:M[]",
                "FX:M[BANK_ACCOUNT_PROOF:M]",
            ],
        ),
        (
            profile("INDIVIDUAL_BUSINESS", &["FOOD"], &[], false),
            vec!["INSPECTION:O[FOOD_OPERATION_LICENCE:M]", "TAX:M[]"],
        ),
        (
            profile("PARTNERSHIP", &["ETHNIC_SPECIALTY"], &[], true),
            vec!["CUSTOMS:M[]", "TAX:M[]", "FX:M[BANK_ACCOUNT_PROOF:M]"],
        ),
        // Tea (HS chapter 09) sold at home: plant quarantine applies whatever the category.
        (
            profile("LIMITED_LIABILITY", &["OTHER"], &["0902101000"], false),
            vec!["INSPECTION:M[ORIGIN_PROOF:M]", "TAX:M[]"],
        ),
        (profile("FARMER_COOPERATIVE", &["AGRICULTURAL"], &[], false), vec!["INSPECTION:O[]", "TAX:M[]"]),
        (
            profile("SOLE_PROPRIETORSHIP", &["LEATHER"], &["4202210000"], true),
            vec!["CUSTOMS:M[]", "TAX:M[]", "FX:M[BANK_ACCOUNT_PROOF:M]"],
        ),
        (
            profile("INDIVIDUAL_BUSINESS", &["HANDICRAFT", "FOOD"], &["0813400000"], true),
            vec![
                "CUSTOMS:M[]",
                "INSPECTION:M[FOOD_OPERATION_LICENCE:M,ORIGIN_PROOF:M,PRODUCT_TEST_REPORT:O]",
                "TAX:M[]",
                "FX:M[BANK_ACCOUNT_PROOF:M]",
            ],
        ),
    ];
    for (p, expected) in &matrix {
        let answer = requirements(&app, p, None).await;
        assert_eq!(summary(&answer), *expected, "anonymous, {p}");
        assert_eq!(answer["rulesetVersion"], 1);
        // Without a login nothing is known about the merchant: REGISTRATION is undetermined,
        // and said so, instead of silently missing.
        let undetermined: Vec<&str> = answer["undetermined"]
            .as_array()
            .expect("undetermined")
            .iter()
            .filter_map(|u| u["kind"].as_str())
            .collect();
        assert!(undetermined.contains(&"REGISTRATION"), "{answer}");
        assert!(answer["undetermined"][0]["reason"].as_str().expect("reason").contains("merchant"), "{answer}");
    }
    let food = requirements(&app, &matrix[2].0, None).await;
    let inspection = &food["filings"][1];
    assert_eq!(inspection["agency"], "INSPECTION");
    assert!(inspection["legalBasis"].as_str().expect("basis").contains("进出口商品检验法"), "{inspection}");
    assert!(inspection["documents"][0]["legalBasis"].as_str().expect("basis").contains("食品安全法"), "{inspection}");
    assert_eq!(inspection["expectedWorkingDays"], 5, "the configured review time (ONESTOP_REVIEW_DAYS)");
    assert!(food["filings"][0]["reason"].as_str().expect("reason").contains("跨境"), "{food}");

    // A merchant that only declared a USCC verifies it through REGISTRATION (licence copy
    // mandatory); one without any registers; one verified here needs no REGISTRATION.
    let cooperative = profile("FARMER_COOPERATIVE", &["AGRICULTURAL"], &[], false);
    let declared = app.merchant("declared@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let fresh = app.merchant("fresh@example.cn", "510100", None).await;
    let verified = verified_merchant(&app, "verified@example.cn").await;
    let registration = |docs: &str| format!("REGISTRATION:M[{docs}]");
    let said = summary(&requirements(&app, &cooperative, Some(&declared.token)).await);
    assert_eq!(
        said[0],
        registration("BUSINESS_LICENCE_COPY:M,ID_CARD_COPY:M,BUSINESS_PREMISES_PROOF:M,COOPERATIVE_MEMBER_LIST:M")
    );
    let said = summary(&requirements(&app, &cooperative, Some(&fresh.token)).await);
    assert_eq!(said[0], registration("ID_CARD_COPY:M,BUSINESS_PREMISES_PROOF:M,COOPERATIVE_MEMBER_LIST:M"));
    let answer = requirements(&app, &cooperative, Some(&verified.token)).await;
    assert_eq!(summary(&answer), vec!["INSPECTION:O[]", "TAX:M[]"]);
    assert_eq!(answer["undetermined"], json!([]), "everything is known about a logged-in merchant");

    // Bad profiles get one VALIDATION error naming each bad code.
    let bad = app
        .gql(
            REQUIREMENTS,
            json!({ "p": profile("PARTNERSHIP", &["FOOD"], &["0904", "09042100AB", "0904210000"], true) }),
            None,
        )
        .await;
    assert_eq!(bad.error_code(), "VALIDATION");
    assert_eq!(bad.error_fields(), vec!["profile.hsCodes.0", "profile.hsCodes.1"]);
}

const CREATE: &str = "mutation($k: [FilingKind!], $p: CaseProfileInput) { createCase(kinds: $k, profile: $p) {
    id type profile { companyType categories hsCodes crossBorder }
    requirements { rulesetVersion filings { kind level } }
    filings { id kind version blockedBy requiredDocuments { requirement { documentType level } satisfied documents { id } } } } }";

fn kinds_of(case: &Value) -> Vec<String> {
    case["filings"]
        .as_array()
        .expect("filings")
        .iter()
        .map(|f| f["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn a_case_from_a_profile_opens_exactly_what_applies(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("coop@example.cn", "510100", None).await;
    let cross_border_food =
        profile("FARMER_COOPERATIVE", &["AGRICULTURAL", "FOOD"], &["0904211000", "0904211000"], true);
    let created = app.gql(CREATE, json!({ "p": cross_border_food }), Some(&merchant.token)).await;
    let case = &created.data()["createCase"];
    assert_eq!(kinds_of(case), vec!["REGISTRATION", "CUSTOMS", "INSPECTION", "TAX", "FX"]);
    assert_eq!(case["type"], "NEW");
    assert_eq!(case["profile"]["hsCodes"], json!(["0904211000"]), "repeats dropped");
    assert_eq!(case["requirements"]["rulesetVersion"], 1);
    let customs = filing_of(case["filings"].as_array().expect("filings"), "CUSTOMS");
    assert_eq!(customs["blockedBy"], json!(["REGISTRATION"]), "CUSTOMS waits for REGISTRATION, and says so");
    let inspection = filing_of(case["filings"].as_array().expect("filings"), "INSPECTION");
    let docs: Vec<&str> = inspection["requiredDocuments"]
        .as_array()
        .expect("docs")
        .iter()
        .filter_map(|d| d["requirement"]["documentType"].as_str())
        .collect();
    assert_eq!(docs, vec!["FOOD_OPERATION_LICENCE", "ORIGIN_PROOF"]);
    assert_eq!(inspection["requiredDocuments"][0]["satisfied"], false);

    // With kinds as well: every MANDATORY one must be there; OPTIONAL ones may be added;
    // anything else does not apply. Refusals open nothing.
    let before = app.count("cases").await;
    let missing =
        app.gql(CREATE, json!({ "p": cross_border_food, "k": ["REGISTRATION", "TAX"] }), Some(&merchant.token)).await;
    assert_eq!(missing.error_code(), "VALIDATION");
    let message = missing.0["errors"][0]["extensions"]["fields"].to_string();
    for kind in ["CUSTOMS", "INSPECTION", "FX"] {
        assert!(message.contains(&format!("must include {kind}")), "{message}");
    }
    let home_food = profile("INDIVIDUAL_BUSINESS", &["FOOD"], &[], false);
    let foreign =
        app.gql(CREATE, json!({ "p": home_food, "k": ["REGISTRATION", "TAX", "FX"] }), Some(&merchant.token)).await;
    assert_eq!(foreign.error_code(), "VALIDATION");
    assert!(foreign.error_message().contains("FX does not apply"), "{}", foreign.0);
    assert_eq!(app.count("cases").await, before, "refused requests opened nothing");
    let without_optional = app.gql(CREATE, json!({ "p": home_food }), Some(&merchant.token)).await;
    assert_eq!(kinds_of(&without_optional.data()["createCase"]), vec!["REGISTRATION", "TAX"]);
    let with_optional = app
        .gql(CREATE, json!({ "p": home_food, "k": ["TAX", "INSPECTION", "REGISTRATION"] }), Some(&merchant.token))
        .await;
    assert_eq!(kinds_of(&with_optional.data()["createCase"]), vec!["REGISTRATION", "INSPECTION", "TAX"]);

    // v1 stays as it was for existing integrators: explicit kinds, no profile, no documents.
    let v1 = app.gql(CREATE, json!({ "k": ["FX"] }), Some(&merchant.token)).await;
    let case = &v1.data()["createCase"];
    assert_eq!(kinds_of(case), vec!["FX"]);
    assert_eq!(case["profile"], Value::Null);
    assert_eq!(case["requirements"], Value::Null);
    assert_eq!(case["filings"][0]["requiredDocuments"], json!([]));
    let neither = app.gql(CREATE, json!({}), Some(&merchant.token)).await;
    assert_eq!(neither.error_code(), "VALIDATION");
}

/// Uploads a small PDF as `document_type` to the case (or one filing of it).
pub async fn upload_typed(
    app: &TestApp,
    token: &str,
    case_id: &str,
    filing_id: Option<&str>,
    document_type: &str,
) -> Gql {
    upload_named(app, token, case_id, filing_id, document_type, &format!("{document_type}.pdf")).await
}

/// [`upload_typed`] under the file name `name`.
pub async fn upload_named(
    app: &TestApp,
    token: &str,
    case_id: &str,
    filing_id: Option<&str>,
    document_type: &str,
    name: &str,
) -> Gql {
    let operations = json!({
        "query": "mutation($c: ID!, $f: ID, $file: Upload!, $t: DocumentType) { uploadDocument(caseId: $c, filingId: $f, file: $file, documentType: $t) { id documentType filingId } }",
        "variables": { "c": case_id, "f": filing_id, "file": null, "t": document_type },
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({ "0": ["variables.file"] }).to_string())
        .part("0", reqwest::multipart::Part::bytes(b"%PDF-1.7\n% scan\n".to_vec()).file_name(name.to_string()));
    let response =
        app.client.post(app.url("/graphql")).bearer_auth(token).multipart(form).send().await.expect("upload");
    Gql(response.json().await.expect("JSON"))
}

/// Fills every filing of a case created from a profile; returns the case id and its filings.
async fn filled_profile_case(app: &TestApp, merchant: &Merchant, profile: &Value) -> (String, Vec<Value>) {
    let created = app.gql(CREATE, json!({ "p": profile }), Some(&merchant.token)).await;
    let case = created.data()["createCase"].clone();
    for f in case["filings"].as_array().expect("filings") {
        let kind = f["kind"].as_str().expect("kind");
        app.update_filing(
            &merchant.token,
            f["id"].as_str().expect("id"),
            f["version"].as_i64().expect("v"),
            filing_data(kind),
        )
        .await
        .data();
    }
    (case["id"].as_str().expect("id").to_string(), case["filings"].as_array().expect("filings").clone())
}

async fn missing_mandatory_documents_refuse_submission_one_field_each(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("docs@example.cn", "510100", None).await;
    let p = profile("FARMER_COOPERATIVE", &["FOOD"], &[], false);
    let (case_id, filings) = filled_profile_case(&app, &merchant, &p).await;
    assert_eq!(
        filings.iter().map(|f| f["kind"].as_str().unwrap_or_default()).collect::<Vec<_>>(),
        vec!["REGISTRATION", "TAX"]
    );
    let refused = app.submit_case(&merchant.token, &case_id).await;
    assert_eq!(refused.error_code(), "VALIDATION");
    assert_eq!(
        refused.error_fields(),
        vec![
            "filings.REGISTRATION.documents.ID_CARD_COPY",
            "filings.REGISTRATION.documents.BUSINESS_PREMISES_PROOF",
            "filings.REGISTRATION.documents.COOPERATIVE_MEMBER_LIST",
        ]
    );
    let status = app.case(&merchant.token, &case_id).await;
    assert_eq!(status.data()["case"]["status"], "DRAFT", "nothing was submitted");

    let registration_id = filing_of(&filings, "REGISTRATION")["id"].as_str().expect("id").to_string();
    // A case-level document counts for every filing; a filing's own counts for that filing.
    let id_card = upload_typed(&app, &merchant.token, &case_id, None, "ID_CARD_COPY").await;
    assert_eq!(id_card.data()["uploadDocument"]["documentType"], "ID_CARD_COPY");
    upload_typed(&app, &merchant.token, &case_id, Some(&registration_id), "BUSINESS_PREMISES_PROOF").await.data();
    let still = app.submit_case(&merchant.token, &case_id).await;
    assert_eq!(still.error_fields(), vec!["filings.REGISTRATION.documents.COOPERATIVE_MEMBER_LIST"]);
    let wrong_type = upload_typed(&app, &merchant.token, &case_id, Some(&registration_id), "NOT_A_TYPE").await;
    assert!(wrong_type.0["errors"].is_array(), "an unknown document type is refused: {}", wrong_type.0);
    upload_typed(&app, &merchant.token, &case_id, Some(&registration_id), "COOPERATIVE_MEMBER_LIST").await.data();

    let shown = app
        .gql(
            "query($id: ID!) { filing(id: $id) { requiredDocuments { requirement { documentType level description } satisfied documents { documentType filingId } } } }",
            json!({ "id": registration_id }),
            Some(&merchant.token),
        )
        .await;
    let statuses = shown.data()["filing"]["requiredDocuments"].as_array().expect("statuses").clone();
    assert_eq!(statuses.len(), 3);
    assert!(statuses.iter().all(|s| s["satisfied"] == true), "{statuses:?}");
    assert_eq!(statuses[0]["documents"][0]["filingId"], Value::Null, "the case-level ID card counts");
    let submitted = app.submit_case(&merchant.token, &case_id).await;
    assert_eq!(submitted.data()["submitCase"]["status"], "IN_REVIEW");
}

const SAVE_RULE: &str = "mutation($id: ID, $i: RequirementRuleInput!) { saveRequirementRule(id: $id, input: $i) {
    id name kind documentType condition level enabled version history { version condition enabled rulesetVersion actor { displayName } } } }";

async fn a_rule_change_is_audited_and_applies_to_new_cases_only(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let admin = app.admin_token().await;
    let merchant = app.merchant("crafts@example.cn", "510100", None).await;
    let crafts = profile("SOLE_PROPRIETORSHIP", &["HANDICRAFT"], &[], true);
    let before = app.gql(CREATE, json!({ "p": crafts }), Some(&merchant.token)).await;
    let old_case = before.data()["createCase"]["id"].as_str().expect("id").to_string();

    // Handicrafts sold abroad under a brand need the trademark owner's authorisation.
    let input = json!({
        "name": "商标授权 / trademark authorisation", "kind": "CUSTOMS", "documentType": "TRADEMARK_AUTHORISATION",
        "condition": "profile.crossBorder && 'HANDICRAFT' in profile.categories", "level": "MANDATORY",
        "description": "出口品牌手工艺品须提交商标授权。Branded handicrafts exported need the trademark owner's authorisation.",
        "legalBasis": "《中华人民共和国知识产权海关保护条例》第二十八条", "enabled": true
    });
    // A syntax error and an undocumented fact are refused at save time, with the position.
    let mut broken = input.clone();
    broken["condition"] = json!("profile.crossBorder &&");
    let refused = app.gql(SAVE_RULE, json!({ "i": broken }), Some(&admin)).await;
    assert_eq!(refused.error_code(), "VALIDATION");
    assert_eq!(refused.error_fields(), vec!["input.condition"]);
    assert!(refused.error_message().contains("syntax error at 1:"), "{}", refused.0);
    broken["condition"] = json!("profile.crossBorder && merchant.turnover > 5");
    let unknown = app.gql(SAVE_RULE, json!({ "i": broken }), Some(&admin)).await;
    assert!(unknown.error_message().contains("merchant.turnover at 1:24 is not a documented fact"), "{}", unknown.0);
    let merchant_try = app.gql(SAVE_RULE, json!({ "i": input }), Some(&merchant.token)).await;
    assert_eq!(merchant_try.error_code(), "FORBIDDEN");
    assert_eq!(requirements(&app, &crafts, None).await["rulesetVersion"], 1, "refusals saved nothing");

    let saved = app.gql(SAVE_RULE, json!({ "i": input }), Some(&admin)).await;
    let rule = saved.data()["saveRequirementRule"].clone();
    assert_eq!(rule["version"], 1);
    assert_eq!(rule["history"][0]["rulesetVersion"], 2);
    let after = requirements(&app, &crafts, None).await;
    assert_eq!(after["rulesetVersion"], 2);
    assert!(summary(&after).contains(&"CUSTOMS:M[TRADEMARK_AUTHORISATION:M]".to_string()), "{after}");

    // The old case keeps what it was created under; a new one gets the new rule.
    let old = app.gql("query($id: ID!) { case(id: $id) { requirements { rulesetVersion } filings { kind requiredDocuments { requirement { documentType } } } } }", json!({ "id": old_case }), Some(&merchant.token)).await;
    assert_eq!(old.data()["case"]["requirements"]["rulesetVersion"], 1);
    let old_customs = filing_of(old.data()["case"]["filings"].as_array().expect("filings"), "CUSTOMS");
    assert_eq!(old_customs["requiredDocuments"], json!([]));
    let new = app.gql(CREATE, json!({ "p": crafts }), Some(&merchant.token)).await;
    let new_customs = filing_of(new.data()["createCase"]["filings"].as_array().expect("filings"), "CUSTOMS").clone();
    assert_eq!(new_customs["requiredDocuments"][0]["requirement"]["documentType"], "TRADEMARK_AUTHORISATION");

    // Disabling is a new version too; the history keeps every version and who saved it.
    let mut off = input.clone();
    off["enabled"] = json!(false);
    let disabled = app.gql(SAVE_RULE, json!({ "id": rule["id"], "i": off }), Some(&admin)).await;
    let history = disabled.data()["saveRequirementRule"]["history"].clone();
    assert_eq!(history.as_array().expect("history").len(), 2);
    assert_eq!(history[1]["enabled"], false);
    assert_eq!(history[1]["rulesetVersion"], 3);
    assert_eq!(history[1]["actor"]["displayName"], "Root Admin");
    assert!(!summary(&requirements(&app, &crafts, None).await).iter().any(|s| s.contains("TRADEMARK")));
    let listed = app
        .gql(
            "{ requirementRules { id kind version history { version actor { displayName } } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    let rules = listed.data()["requirementRules"].as_array().expect("rules").clone();
    assert_eq!(rules.len(), 17, "16 default rules and the new one");
    assert!(
        rules.iter().any(|r| r["history"][0]["actor"]["displayName"].as_str().is_some_and(|n| n.contains("onestop"))),
        "the default ruleset was saved by the portal"
    );
    let events = app.count_where("security_events", "kind = 'requirement_rule.saved'").await;
    assert_eq!(events, 2, "every save is a security event");
}
