//! `onestop seed-demo`: accounts to try every flow at once in GraphiQL. Passwords are random
//! and printed once; running it again leaves existing demo accounts alone.

use crate::{
    services::auth::{accounts::{NewUser, insert_user}, password::hash_password, tokens::random_token},
    domain::{Agency, Email, Role},
    error::AppError,
    platform::state::AppState,
};

struct DemoAccount {
    email: &'static str,
    name: &'static str,
    role: Role,
    agency: Option<Agency>,
    regions: &'static [&'static str],
}

const DEMO: &[DemoAccount] = &[
    DemoAccount { email: "admin@demo.onestop.cn", name: "演示管理员 Demo Admin", role: Role::Admin, agency: None, regions: &[] },
    DemoAccount { email: "merchant@demo.onestop.cn", name: "川味花椒合作社 Sichuan Pepper Co-op", role: Role::Merchant, agency: None, regions: &[] },
    DemoAccount { email: "amr.officer@demo.onestop.cn", name: "市场监管审核员 AMR Officer", role: Role::Officer, agency: Some(Agency::MarketRegulation), regions: &["510100"] },
    DemoAccount { email: "customs.officer@demo.onestop.cn", name: "海关审核员 Customs Officer", role: Role::Officer, agency: Some(Agency::Customs), regions: &["510100"] },
    DemoAccount { email: "inspection.officer@demo.onestop.cn", name: "检验检疫审核员 Inspection Officer", role: Role::Officer, agency: Some(Agency::Inspection), regions: &["510100"] },
    DemoAccount { email: "tax.officer@demo.onestop.cn", name: "税务审核员 Tax Officer", role: Role::Officer, agency: Some(Agency::Tax), regions: &["510100"] },
    DemoAccount { email: "fx.officer@demo.onestop.cn", name: "外汇审核员 FX Officer", role: Role::Officer, agency: Some(Agency::ForeignExchange), regions: &["510100"] },
    DemoAccount { email: "amr.supervisor@demo.onestop.cn", name: "市场监管主管 AMR Supervisor", role: Role::Supervisor, agency: Some(Agency::MarketRegulation), regions: &["510100", "500100"] },
];

pub async fn seed_demo(state: &AppState) -> anyhow::Result<()> {
    println!("{:<40} {:<11} {:<18} password", "email", "role", "agency");
    for account in DEMO {
        // 24 characters of a random token: long and random enough for any strength check.
        let password = random_token()[..24].to_string();
        let new = NewUser {
            email: Email::parse("email", account.email).map_err(|e| anyhow::anyhow!(e.detail()))?,
            password_hash: Some(
                hash_password(password.clone()).await.map_err(|e| anyhow::anyhow!(e.detail()))?,
            ),
            display_name: account.name.to_string(),
            role: account.role,
            verified: true,
            agency: account.agency,
            regions: account.regions.iter().map(|r| r.to_string()).collect(),
        };
        let shown = match insert_user(&state.db, new).await {
            Ok(user) if account.role == Role::Merchant => {
                demo_profile(state, user.id).await?;
                password
            }
            Ok(_) => password,
            Err(AppError::Conflict(_)) => "(exists already; unchanged)".to_string(),
            Err(other) => anyhow::bail!("seeding {}: {}", account.email, other.detail()),
        };
        println!(
            "{:<40} {:<11} {:<18} {}",
            account.email,
            account.role.as_str(),
            account.agency.map(|a| a.as_str()).unwrap_or("-"),
            shown
        );
    }
    Ok(())
}

/// The demo merchant's company profile (Sichuan, no USCC yet: its first case can include
/// REGISTRATION).
async fn demo_profile(state: &AppState, user_id: uuid::Uuid) -> anyhow::Result<()> {
    let scope = crate::services::access::Scope::Merchant { user_id, merchant_id: None, via_client: None };
    let input = crate::services::merchants::MerchantProfileInput {
        name: "成都川味花椒专业合作社 Chengdu Sichuan Pepper Co-op".into(),
        uscc: None,
        region_code: "510100".into(),
        address: "四川省成都市锦江区春熙路1号".into(),
        contact_email: "merchant@demo.onestop.cn".into(),
        contact_phone: "+86 138 0000 0000".into(),
        store_urls: Some(vec!["https://shop.example.cn/sichuan-pepper".into()]),
        categories: Some(vec![crate::domain::filing_data::ProductCategory::Agricultural]),
    };
    crate::services::merchants::save_profile(state, &scope, input, None)
        .await
        .map_err(|e| anyhow::anyhow!(e.detail()))?;
    Ok(())
}
