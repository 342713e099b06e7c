//! Snapshots of what others depend on: the served GraphQL schema (integrators and the web
//! frontend build on it) and every email a merchant, officer or integrator can receive, rendered
//! for one fixed case. A change to either shows as a diff of a committed file under
//! `tests/it/snapshots/`; review it, then accept it with `cargo insta review` (or
//! `INSTA_UPDATE=always cargo test … snapshots`). With `CI=true` a difference fails and writes
//! nothing.
//!
//! The emails are bilingual today (Chinese first, English alongside, one message): each snapshot
//! holds both languages. The contexts below are the keys each producer passes (see the comment
//! on each); a producer that starts passing a new key needs it here too, or its snapshot will
//! show the gap.

use onestop::platform::notify::{EmailKind, Templates};
use serde_json::{Value, json};

/// The served schema, as `onestop export-schema` prints it (what `contract-check` compares).
#[test]
fn served_schema() {
    insta::assert_snapshot!("schema.graphql", onestop::graphql::sdl());
}

const BASE: &str = "https://onestop.example.cn";
const CASE: &str = "513324-2026-000042";
const MERCHANT: &str = "汉源县清溪花椒专业合作社";

/// A filing line as `services::cases::email::filing_line` writes it.
fn filing(name_zh: &str, kind: &str, status: &str, due_at: Option<&str>) -> Value {
    json!({ "name_zh": name_zh, "kind": kind, "status": status, "due_at": due_at })
}

/// `services::cases::email::merchant_context` plus the corrections of `email_merchant_listing`.
fn merchant_update(filings: Vec<Value>, note: Option<&str>, certificate: Option<&str>, corrections: &[&str]) -> Value {
    let first = filings.first().cloned().unwrap_or(Value::Null);
    json!({
        "display_name": MERCHANT, "reference": CASE, "filings": filings,
        "filing_zh": first["name_zh"], "filing_kind": first["kind"],
        "note": note, "certificate_number": certificate,
        "link": format!("{BASE}/cases/0b6f3a52-8d1e-4c57-9a0e-2f4b8f0c1d42"), "corrections": corrections,
    })
}

/// `services::cases::email::staff_context`.
fn staff_update(note: Option<&str>) -> Value {
    json!({
        "display_name": "李审核", "reference": CASE,
        "filings": [filing("海关备案", "CUSTOMS", "UNDER_REVIEW", Some("2026-12-11 17:00"))],
        "note": note, "link": format!("{BASE}/filings/6e2d9c1a-4b7f-4e38-b0d5-91a7c3e8f210"),
    })
}

/// `services::licences::expiry::notify`.
fn licence_notice(status: (&str, &str), days: Option<i64>, renew: bool) -> Value {
    json!({
        "display_name": MERCHANT, "days": days, "renew": renew,
        "licences": [{
            "kind": "FOOD_BUSINESS", "kind_zh": "食品经营许可证", "number": "JY15133240000421",
            "status": status.0, "status_zh": status.1, "valid_until": "2026-12-31",
            "check_url": format!("{BASE}/c/JY15133240000421"),
        }],
    })
}

fn all_filings() -> Vec<Value> {
    vec![
        filing("营业登记", "BUSINESS_REGISTRATION", "SUBMITTED", Some("2026-12-09 17:00")),
        filing("海关备案", "CUSTOMS", "SUBMITTED", Some("2026-12-11 17:00")),
        filing("检验检疫备案", "INSPECTION", "SUBMITTED", Some("2026-12-11 17:00")),
        filing("税务登记", "TAX", "SUBMITTED", Some("2026-12-09 17:00")),
        filing("外汇名录登记", "FX", "SUBMITTED", Some("2026-12-14 17:00")),
    ]
}

/// Every kind of email with the context its producer passes, for the one fixed case.
fn every_email() -> Vec<(&'static str, EmailKind, Value)> {
    let link = |path: &str| format!("{BASE}{path}?token=fixed-token-for-the-snapshot");
    let approved = filing("海关备案", "CUSTOMS", "APPROVED", None);
    let correction = filing("检验检疫备案", "INSPECTION", "NEEDS_CORRECTION", None);
    vec![
        // services::auth::accounts (sign-up, resend) and email_link (reset).
        ("verify_email", EmailKind::VerifyEmail, json!({ "display_name": "王小椒", "link": link("/verify-email") })),
        (
            "password_reset",
            EmailKind::PasswordReset,
            json!({ "display_name": "王小椒", "link": link("/reset-password") }),
        ),
        ("signup_attempted", EmailKind::SignupAttempted, json!({ "display_name": "王小椒" })),
        // services::auth::staff::invitation.
        (
            "officer_invitation",
            EmailKind::OfficerInvitation,
            json!({
                "display_name": "李审核", "role_zh": "审核员", "role_en": "officer",
                "agency_zh": "海关", "agency_en": "CUSTOMS", "regions": "513324",
                "link": link("/reset-password"),
            }),
        ),
        // services::members.
        (
            "member_invitation",
            EmailKind::MemberInvitation,
            json!({ "display_name": "zhang.san", "merchant": MERCHANT, "role": "STAFF", "link": link("/reset-password") }),
        ),
        // services::cases (submission, decisions, approval, completion).
        ("case_submitted", EmailKind::CaseSubmitted, merchant_update(all_filings(), None, None, &[])),
        ("agent_submitted", EmailKind::AgentSubmitted, merchant_update(all_filings(), None, None, &[])),
        (
            "correction_requested",
            EmailKind::CorrectionRequested,
            merchant_update(
                vec![correction],
                Some("产地证明与申报产地不一致。"),
                None,
                &["ORIGIN_PROOF: 请上传汉源县出具的产地证明", "profile.address: 请填写完整的经营场所地址"],
            ),
        ),
        (
            "filing_approved",
            EmailKind::FilingApproved,
            merchant_update(vec![approved], Some("准予备案。"), Some("5133240042"), &[]),
        ),
        (
            "filing_rejected",
            EmailKind::FilingRejected,
            merchant_update(
                vec![filing("外汇名录登记", "FX", "REJECTED", None)],
                Some("经营范围不含货物贸易。"),
                None,
                &[],
            ),
        ),
        ("case_completed", EmailKind::CaseCompleted, merchant_update(all_filings(), None, None, &[])),
        // services::filings::decisions (assignment, transfer) and services::deadlines.
        ("filing_assigned", EmailKind::FilingAssigned, staff_update(None)),
        ("filing_transferred", EmailKind::FilingTransferred, staff_update(Some("transferred 513324 → 510100"))),
        ("deadline_approaching", EmailKind::DeadlineApproaching, staff_update(None)),
        ("deadline_passed", EmailKind::DeadlinePassed, staff_update(None)),
        // services::licences::expiry and services::licences::change.
        ("licence_expiring", EmailKind::LicenceExpiring, licence_notice(("VALID", "有效"), Some(30), true)),
        ("licence_expired", EmailKind::LicenceExpired, licence_notice(("EXPIRED", "已过期"), None, false)),
        ("licences_cancelled", EmailKind::LicencesCancelled, licence_notice(("CANCELLED", "已注销"), None, false)),
        // services::webhooks::delivery.
        (
            "webhook_disabled",
            EmailKind::WebhookDisabled,
            json!({ "display_name": "集成商 API", "url": "https://erp.example.com/onestop/hook", "failures": 20 }),
        ),
        // services::quality.
        (
            "spot_check_failed",
            EmailKind::SpotCheckFailed,
            json!({
                "display_name": MERCHANT, "category": "SPICES", "channel": "ONLINE", "region": "513324",
                "findings": "二氧化硫残留超标", "risk_level": "HIGH",
            }),
        ),
        // services::merchants (a USCC declared by two merchants).
        (
            "uscc_declared_twice",
            EmailKind::UsccDeclaredTwice,
            json!({
                "display_name": "市场监管主管", "uscc": "93513324MA6BXXXX1C",
                "holders": [
                    { "name": MERCHANT, "region": "513324", "status": "verified", "status_zh": "已核验" },
                    { "name": "清溪椒业商行", "region": "513324", "status": "declared", "status_zh": "自行申报" },
                ],
            }),
        ),
        // services::shares.
        (
            "case_shared",
            EmailKind::CaseShared,
            json!({
                "display_name": "检验检疫主管", "agency_zh": "检验检疫", "agency_en": "INSPECTION",
                "references": [CASE, "513324-2026-000043"], "note": "联合抽查花椒产地",
                "link": format!("{BASE}/graphql"),
            }),
        ),
    ]
}

#[test]
fn every_email_for_one_fixed_case() {
    let templates = Templates::load().expect("the compiled-in templates load");
    for (name, kind, context) in every_email() {
        let rendered = templates.render(kind, &context).expect("every template renders its producer's context");
        // Nothing a reader sees may be a template's idea of nothing.
        for part in [&rendered.subject, &rendered.text] {
            assert!(!part.contains("none") && !part.contains("undefined"), "{name} shows an empty value:\n{part}");
        }
        let text = format!("Subject: {}\n\n{}", rendered.subject, rendered.text);
        insta::assert_snapshot!(format!("email_{name}.txt"), text);
        insta::assert_snapshot!(format!("email_{name}.html"), rendered.html);
    }
}
