//! What a merchant sees of the officers who handle its case: their names and agency, their
//! addresses masked — as assignee, as event actors, as comment authors and in audit notes.

use serde_json::json;

use crate::{
    both_backends,
    fixtures::filing_of,
    helpers::{Backend, spawn_app},
};

both_backends!(merchants_see_officers_by_name_not_by_address);

async fn merchants_see_officers_by_name_not_by_address(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let merchant = app.merchant("shop@example.cn", "510100", Some("91510100MA6CGUR3KG")).await;
    let officer = app.staff("wang.fang@customs.gov.cn", "OFFICER", "CUSTOMS", &["510100"]).await;
    let supervisor = app.staff("chief@customs.gov.cn", "SUPERVISOR", "CUSTOMS", &["510100"]).await;
    let (case_id, filings) = app.submitted_case(&merchant, &["CUSTOMS"]).await;
    let filing = filing_of(&filings, "CUSTOMS");
    app.gql(
        "mutation($id: ID!, $o: ID!, $v: Int!) { assignFiling(id: $id, officerId: $o, expectedVersion: $v) { id } }",
        json!({ "id": filing["id"], "o": officer.id, "v": filing["version"] }),
        Some(&supervisor.token),
    )
    .await
    .data();
    app.gql(
        "mutation($c: ID!) { addComment(caseId: $c, body: \"请补充原产地证明\") { id } }",
        json!({ "c": case_id }),
        Some(&officer.token),
    )
    .await
    .data();

    let query = "query($id: ID!) { case(id: $id) {
        filings { assignee { email displayName agency } }
        events { action note actor { email displayName } }
        comments { author { email displayName agency } }
    } }";
    let seen = app.gql(query, json!({ "id": case_id }), Some(&merchant.token)).await;
    let case = &seen.data()["case"];
    let text = case.to_string();
    for address in ["wang.fang@customs.gov.cn", "chief@customs.gov.cn"] {
        assert!(!text.contains(address), "the merchant sees {address}: {text}");
    }
    let assignee = &case["filings"][0]["assignee"];
    assert_eq!(assignee["email"], "w***@customs.gov.cn");
    assert_eq!(
        (assignee["displayName"].as_str(), assignee["agency"].as_str()),
        (Some("Staff wang.fang"), Some("CUSTOMS"))
    );
    let assigned = case["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["action"] == "filing.assigned")
        .expect("assigned")
        .clone();
    assert_eq!(assigned["actor"]["email"], "c***@customs.gov.cn");
    assert_eq!(assigned["note"], "assigned to Staff wang.fang", "the note names the officer");
    assert_eq!(case["comments"][0]["author"]["email"], "w***@customs.gov.cn");
    assert_eq!(case["comments"][0]["author"]["agency"], "CUSTOMS");
    let own = app.gql("{ me { email } }", json!({}), Some(&merchant.token)).await;
    assert_eq!(own.data()["me"]["email"], "shop@example.cn", "one's own address in full");

    // Colleagues see each other's addresses.
    let colleague = app.gql(query, json!({ "id": case_id }), Some(&supervisor.token)).await;
    assert_eq!(colleague.data()["case"]["filings"][0]["assignee"]["email"], "wang.fang@customs.gov.cn");
}
