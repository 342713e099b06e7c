//! The whole single-window story through the API: a merchant files all five, five agencies
//! review in parallel, a correction round-trip, registration issues a USCC, the case completes.

use serde_json::json;

use crate::{
    both_backends,
    fixtures::{KINDS, agency_of, filing_data, filing_of},
    helpers::{Backend, spawn_app},
};

both_backends!(one_case_five_agencies_from_draft_to_completed);

async fn one_case_five_agencies_from_draft_to_completed(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("coop@example.cn", "510100", None).await;
    let me = app.gql("{ merchant { id regionCode uscc riskLevel storeUrls } }", json!({}), Some(&merchant.token)).await;
    assert_eq!(me.data()["merchant"]["regionCode"], "510100");
    assert_eq!(me.data()["merchant"]["uscc"], serde_json::Value::Null);

    let mut officers = std::collections::HashMap::new();
    for kind in KINDS {
        let staff = app
            .staff(&format!("{}@gov.example.cn", kind.to_lowercase()), "OFFICER", agency_of(kind), &["510100"])
            .await;
        officers.insert(kind, staff);
    }

    // Create: five DRAFT filings, a reference of region and year.
    let created = app.create_case(&merchant.token, &KINDS).await;
    let case = &created.data()["createCase"];
    let case_id = case["id"].as_str().expect("id").to_string();
    let reference = case["reference"].as_str().expect("reference");
    let year = chrono::Utc::now().format("%Y").to_string();
    assert_eq!(reference, format!("510100-{year}-000001"));
    assert_eq!(case["status"], "DRAFT");
    assert_eq!(case["filings"].as_array().expect("filings").len(), 5);

    // Fill every filing in and submit them together.
    for filing in case["filings"].as_array().expect("filings") {
        let kind = filing["kind"].as_str().expect("kind");
        let updated =
            app.update_filing(&merchant.token, filing["id"].as_str().expect("id"), 1, filing_data(kind)).await;
        assert_eq!(updated.data()["updateFiling"]["version"], 2);
    }
    let submitted = app.submit_case(&merchant.token, &case_id).await;
    let submitted = &submitted.data()["submitCase"];
    assert_eq!(submitted["status"], "IN_REVIEW");
    let filings = submitted["filings"].as_array().expect("filings").clone();
    for f in &filings {
        assert_eq!(f["status"], "SUBMITTED");
        assert!(f["dueAt"].is_string(), "deadline set at submission");
        assert_eq!(f["overdue"], false);
    }
    let mail = app.mail_for("coop@example.cn", 2).await.remove(1);
    assert!(mail.subject().contains(reference), "{}", mail.subject());

    // Each agency sees its own filing only, and claims it.
    let mut version = std::collections::HashMap::new();
    for kind in KINDS {
        let officer = &officers[kind];
        let queue = app.gql("{ reviewQueue { nodes { id kind status } } }", json!({}), Some(&officer.token)).await;
        let nodes = queue.data()["reviewQueue"]["nodes"].as_array().expect("nodes").clone();
        assert_eq!(nodes.len(), 1, "{kind} officer sees exactly its filing");
        assert_eq!(nodes[0]["kind"], kind);
        let filing = filing_of(&filings, kind);
        let claimed = app
            .decide(
                &officer.token,
                "claimFiling",
                filing["id"].as_str().expect("id"),
                filing["version"].as_i64().expect("v"),
                None,
            )
            .await;
        let claimed = &claimed.data()["claimFiling"];
        assert_eq!(claimed["status"], "UNDER_REVIEW");
        assert_eq!(claimed["assignee"]["id"], officers[kind].id.as_str());
        version.insert(kind, claimed["version"].as_i64().expect("v"));
    }

    // TAX cannot be approved before REGISTRATION.
    let tax_id = filing_of(&filings, "TAX")["id"].as_str().expect("id").to_string();
    let early = app.decide(&officers["TAX"].token, "approveFiling", &tax_id, version["TAX"], None).await;
    assert_eq!(early.error_code(), "DEPENDENCY_NOT_MET");

    // Inspection asks for a correction; the case needs the merchant's action.
    let inspection_id = filing_of(&filings, "INSPECTION")["id"].as_str().expect("id").to_string();
    let note = "请补充产品原产地证明 Please add the certificate of origin";
    let corrected = app
        .decide(&officers["INSPECTION"].token, "requestCorrection", &inspection_id, version["INSPECTION"], Some(note))
        .await;
    assert_eq!(corrected.data()["requestCorrection"]["status"], "NEEDS_CORRECTION");
    let case_now = app.case(&merchant.token, &case_id).await;
    assert_eq!(case_now.data()["case"]["status"], "ACTION_REQUIRED");
    let correction_mail = app.mail_for("coop@example.cn", 3).await.remove(2);
    assert!(correction_mail.text().contains("certificate of origin"), "the note is in the mail");

    let v = corrected.data()["requestCorrection"]["version"].as_i64().expect("v");
    let mut fixed = filing_data("INSPECTION");
    fixed["inspection"]["products"][0]["name"] = json!("汉源花椒（附原产地证明）");
    let edited = app.update_filing(&merchant.token, &inspection_id, v, fixed).await;
    let v = edited.data()["updateFiling"]["version"].as_i64().expect("v");
    let resubmitted = app
        .gql("mutation($id: ID!, $v: Int!) { resubmitFiling(id: $id, expectedVersion: $v) { status version assignee { id } } }", json!({ "id": inspection_id, "v": v }), Some(&merchant.token))
        .await;
    let resubmitted = &resubmitted.data()["resubmitFiling"];
    assert_eq!(resubmitted["status"], "SUBMITTED");
    assert_eq!(resubmitted["assignee"]["id"], officers["INSPECTION"].id.as_str(), "keeps its assignee");
    let reclaimed = app
        .decide(
            &officers["INSPECTION"].token,
            "claimFiling",
            &inspection_id,
            resubmitted["version"].as_i64().expect("v"),
            None,
        )
        .await;
    let v = reclaimed.data()["claimFiling"]["version"].as_i64().expect("v");
    let approved = app.decide(&officers["INSPECTION"].token, "approveFiling", &inspection_id, v, Some("合格")).await;
    let cert = approved.data()["approveFiling"]["certificateNumber"].as_str().expect("cert").to_string();
    assert!(cert.starts_with("CIQ510100"), "{cert}");

    // Registration approval issues a valid USCC, copied to the merchant and the other filings.
    let registration_id = filing_of(&filings, "REGISTRATION")["id"].as_str().expect("id").to_string();
    let approved = app
        .decide(&officers["REGISTRATION"].token, "approveFiling", &registration_id, version["REGISTRATION"], None)
        .await;
    let uscc = approved.data()["approveFiling"]["certificateNumber"].as_str().expect("uscc").to_string();
    assert_eq!(uscc.len(), 18);
    assert!(uscc.starts_with("93510100"), "market regulation, cooperative, merchant's region: {uscc}");
    let valid = app.gql("query($c: String!) { validateUscc(code: $c) }", json!({ "c": uscc }), None).await;
    assert_eq!(valid.data()["validateUscc"], true);
    let me = app.gql("{ merchant { uscc } }", json!({}), Some(&merchant.token)).await;
    assert_eq!(me.data()["merchant"]["uscc"], uscc.as_str());

    // The other agencies now approve (their filings moved: read the fresh version).
    for kind in ["CUSTOMS", "TAX", "FX"] {
        let id = filing_of(&filings, kind)["id"].as_str().expect("id").to_string();
        let current = app.filing(&officers[kind].token, &id).await;
        let current = &current.data()["filing"];
        assert_eq!(current["uscc"], uscc.as_str(), "{kind} got the USCC");
        let stale = app.decide(&officers[kind].token, "approveFiling", &id, version[kind], None).await;
        assert_eq!(stale.error_code(), "VERSION_CONFLICT");
        let ok = app
            .decide(&officers[kind].token, "approveFiling", &id, current["version"].as_i64().expect("v"), None)
            .await;
        let cert = ok.data()["approveFiling"]["certificateNumber"].as_str().expect("cert").to_string();
        match kind {
            "TAX" => assert_eq!(cert, uscc, "taxpayer id is the USCC"),
            "CUSTOMS" => {
                assert_eq!(cert.len(), 10);
                assert!(cert.starts_with("790191"), "{cert}");
            }
            _ => assert!(cert.starts_with("FX510100"), "{cert}"),
        }
    }

    let done = app.case(&merchant.token, &case_id).await;
    let done = &done.data()["case"];
    assert_eq!(done["status"], "COMPLETED");
    let actions: Vec<&str> =
        done["events"].as_array().expect("events").iter().map(|e| e["action"].as_str().unwrap_or_default()).collect();
    assert_eq!(actions.first(), Some(&"case.created"));
    assert_eq!(actions.last(), Some(&"case.completed"));
    assert_eq!(actions.iter().filter(|a| **a == "filing.approved").count(), 5);
    assert_eq!(actions.iter().filter(|a| **a == "filing.correction_requested").count(), 1);

    // The merchant got: verification, submitted, correction, 5 approvals, completed.
    let mails = app.mail_for("coop@example.cn", 9).await;
    let subjects: Vec<String> = mails.iter().map(|m| m.subject()).collect();
    assert_eq!(subjects.iter().filter(|s| s.contains("approved")).count(), 5, "{subjects:?}");
    assert!(subjects.last().is_some_and(|s| s.contains("completed")), "{subjects:?}");
    let registration_mail =
        mails.iter().find(|m| m.subject().contains("REGISTRATION approved")).expect("registration mail");
    assert!(registration_mail.text().contains(&uscc), "the USCC is in the approval mail");

    // The audit chain verifies.
    let verified = onestop::services::audit::verify_all(&app.state.db).await.map_err(|e| e.detail()).expect("verify");
    assert!(matches!(verified, Ok(n) if n as usize == actions.len()), "{verified:?}");
}
