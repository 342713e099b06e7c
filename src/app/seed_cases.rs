//! `seed-demo`'s straight-through story: a cross-border food cooperative (its USCC issued here
//! earlier) opens a case from its profile; the FX supervisor's rule approves its FX filing
//! within `submitCase`, and the inspection supervisor's rule refers its food inspection to an
//! officer, with the explanation. In GraphiQL: log in as the cooperative and read `cases`, or
//! as an FX or inspection officer and read `reviewQueue` / `filing { automaticDecision }`.

use entity::merchant;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::json;
use uuid::Uuid;

use crate::{
    domain::{
        FilingKind,
        case_profile::CaseProfileInput,
        decision_facts::DecisionRuleInput,
        filing_data::{CompanyType, FilingDataInput, ProductCategory},
    },
    error::AppError,
    platform::state::AppState,
    services::{
        access::Scope,
        automatic::rules,
        cases::{self, CaseRequest},
        documents::{self, DocumentTarget},
        filings,
    },
};

fn fail(e: AppError) -> anyhow::Error {
    anyhow::anyhow!(e.detail())
}

/// The decision rules of the demo supervisors (FX: small, low-risk list registrations;
/// inspection: non-food goods of merchants without failed checks).
pub async fn demo_rules(state: &AppState, fx_supervisor: Uuid, inspection_supervisor: Uuid) -> anyhow::Result<()> {
    let rules = [
        (
            fx_supervisor,
            crate::domain::Agency::ForeignExchange,
            FilingKind::Fx,
            "小额外汇名录登记 / small FX list registrations",
            "merchant.riskLevel == 0 && filing.data.expectedAnnualReceiptsUsd < 1000000.0",
        ),
        (
            inspection_supervisor,
            crate::domain::Agency::Inspection,
            FilingKind::Inspection,
            "非食品、无不合格记录 / non-food goods, no failed checks",
            "merchant.failedChecks == 0 && !('FOOD' in filing.data.categories)",
        ),
    ];
    for (user_id, agency, kind, name, condition) in rules {
        let scope = Scope::Agency {
            user_id,
            agency,
            regions: vec!["510100".into()],
            supervisor: true,
            via_client: None,
            shared_cases: Vec::new(),
        };
        let supervisor = scope.require_supervisor().map_err(fail)?;
        let input = DecisionRuleInput { kind, name: name.into(), condition: condition.into(), enabled: true };
        rules::save_rule(state, supervisor, None, input).await.map_err(fail)?;
    }
    Ok(())
}

/// The cooperative's case, opened from its profile, filled in, documented and submitted.
pub async fn demo_case(state: &AppState, user_id: Uuid, merchant_id: Uuid) -> anyhow::Result<()> {
    // Its USCC was issued here by an earlier registration (demo data: set directly).
    let mut coop: merchant::ActiveModel = merchant::Entity::find_by_id(merchant_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo merchant"))?
        .into();
    coop.uscc = Set(crate::domain::certificates::uscc_from(CompanyType::FarmerCooperative, "510100", "30528641"));
    coop.update(&state.db).await?;
    let scope = Scope::Merchant {
        user_id,
        merchant_id: Some(merchant_id),
        via_client: None,
        role: entity::enums::MerchantRole::Owner,
    };
    let profile = CaseProfileInput {
        company_type: CompanyType::FarmerCooperative,
        categories: vec![ProductCategory::Agricultural, ProductCategory::Food],
        hs_codes: Some(vec!["0904211000".into()]),
        cross_border: true,
    };
    let request = CaseRequest { kinds: None, profile: Some(profile), receiving_region_code: None };
    let case = cases::create_case(state, scope.require_merchant().map_err(fail)?, request).await.map_err(fail)?;
    for filing in cases::filings_of(&state.db, case.id).await.map_err(fail)? {
        filings::update_filing(state, &scope, filing.id, filing.version, data_for(filing.kind)?).await.map_err(fail)?;
        let Some(requirements) = crate::services::requirements::of_case(&case).map_err(fail)? else { continue };
        for document in requirements.filing(filing.kind).map(|f| f.documents.clone()).unwrap_or_default() {
            let target = DocumentTarget {
                case_id: case.id,
                filing_id: Some(filing.id),
                document_type: Some(document.document_type),
            };
            let content = format!("%PDF-1.7\n% demo {}\n", document.document_type).into_bytes();
            documents::upload(state, &scope, target, &format!("{}.pdf", document.document_type), content)
                .await
                .map_err(fail)?;
        }
    }
    cases::submit_case(state, &scope, case.id).await.map_err(fail)?;
    println!("demo case {} submitted: FX approved by rule, INSPECTION referred to an officer", case.reference);
    Ok(())
}

/// Valid demo data for each kind.
fn data_for(kind: FilingKind) -> anyhow::Result<FilingDataInput> {
    Ok(match kind {
        FilingKind::Registration => anyhow::bail!("the demo cooperative is registered already"),
        FilingKind::Customs => FilingDataInput::Customs(serde_json::from_value(json!({
            "customs_district_code": "7901", "business_type": "ECOMMERCE_ENTERPRISE",
            "contact_person": "王芳", "expected_annual_trade_usd": "600000" }))?),
        FilingKind::Inspection => FilingDataInput::Inspection(serde_json::from_value(json!({
            "categories": ["AGRICULTURAL", "FOOD"],
            "products": [{ "name": "汉源花椒 Hanyuan Sichuan pepper", "hs_code": "0904211000", "origin_region_code": "511823" }] }))?),
        FilingKind::Tax => FilingDataInput::Tax(serde_json::from_value(json!({
            "taxpayer_type": "SMALL_SCALE", "bank_name": "中国农业银行成都分行",
            "bank_account": "6228480402564890018", "invoice_contact": "王芳 028-86000000" }))?),
        FilingKind::Fx => FilingDataInput::Fx(serde_json::from_value(json!({
            "bank_name": "中国银行四川省分行", "expected_annual_receipts_usd": "300000", "currencies": ["USD", "EUR"] }))?),
    })
}

/// The co-op's clerk as its STAFF, and a customs broker it authorises for CUSTOMS and
/// INSPECTION for a year (agents' and members' views in GraphiQL).
pub async fn demo_people(
    state: &AppState,
    owner: Uuid,
    merchant_id: Uuid,
    clerk: Uuid,
    broker: Uuid,
) -> anyhow::Result<()> {
    use entity::{agent, agent_authorization, enums::MerchantRole, merchant_member};
    let now = crate::platform::clock::now();
    merchant_member::ActiveModel {
        user_id: Set(clerk),
        merchant_id: Set(merchant_id),
        role: Set(MerchantRole::Staff),
        added_at: Set(now),
        added_by: Set(Some(owner)),
    }
    .insert(&state.db)
    .await?;
    let uscc = crate::domain::certificates::uscc_from(
        crate::domain::filing_data::CompanyType::LimitedLiability,
        "510100",
        "52000017",
    )
    .ok_or_else(|| anyhow::anyhow!("demo USCC"))?;
    agent::ActiveModel {
        user_id: Set(broker),
        organisation: Set("成都蓉欧报关有限公司 Rong-Ou Customs Brokerage".into()),
        uscc: Set(uscc),
        created_at: Set(now),
    }
    .insert(&state.db)
    .await?;
    agent_authorization::ActiveModel {
        id: Set(Uuid::now_v7()),
        merchant_id: Set(merchant_id),
        agent_id: Set(broker),
        kinds: Set(r#"["CUSTOMS","INSPECTION"]"#.into()),
        valid_until: Set(crate::platform::clock::china_today() + chrono::Duration::days(365)),
        granted_by: Set(owner),
        granted_at: Set(now),
        revoked_at: Set(None),
    }
    .insert(&state.db)
    .await?;
    println!(
        "clerk@demo.onestop.cn is the co-op's STAFF; broker@demo.onestop.cn may file its CUSTOMS and INSPECTION for a year"
    );
    Ok(())
}
