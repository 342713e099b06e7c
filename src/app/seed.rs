//! `onestop seed-demo`: accounts to try every flow at once in GraphiQL. Passwords are random
//! and printed once; running it again leaves existing demo accounts alone.

use crate::{
    domain::{Agency, Email, Role},
    error::AppError,
    platform::state::AppState,
    services::auth::{
        accounts::{NewUser, insert_user},
        password::hash_password,
        tokens::random_token,
    },
};

struct DemoAccount {
    email: &'static str,
    name: &'static str,
    role: Role,
    agency: Option<Agency>,
    regions: &'static [&'static str],
}

const DEMO: &[DemoAccount] = &[
    DemoAccount {
        email: "admin@demo.onestop.cn",
        name: "演示管理员 Demo Admin",
        role: Role::Admin,
        agency: None,
        regions: &[],
    },
    DemoAccount {
        email: "merchant@demo.onestop.cn",
        name: "川味花椒合作社 Sichuan Pepper Co-op",
        role: Role::Merchant,
        agency: None,
        regions: &[],
    },
    DemoAccount {
        email: "amr.officer@demo.onestop.cn",
        name: "市场监管审核员 AMR Officer",
        role: Role::Officer,
        agency: Some(Agency::MarketRegulation),
        regions: &["510100"],
    },
    DemoAccount {
        email: "customs.officer@demo.onestop.cn",
        name: "海关审核员 Customs Officer",
        role: Role::Officer,
        agency: Some(Agency::Customs),
        regions: &["510100"],
    },
    DemoAccount {
        email: "inspection.officer@demo.onestop.cn",
        name: "检验检疫审核员 Inspection Officer",
        role: Role::Officer,
        agency: Some(Agency::Inspection),
        regions: &["510100"],
    },
    DemoAccount {
        email: "tax.officer@demo.onestop.cn",
        name: "税务审核员 Tax Officer",
        role: Role::Officer,
        agency: Some(Agency::Tax),
        regions: &["510100"],
    },
    DemoAccount {
        email: "fx.officer@demo.onestop.cn",
        name: "外汇审核员 FX Officer",
        role: Role::Officer,
        agency: Some(Agency::ForeignExchange),
        regions: &["510100"],
    },
    DemoAccount {
        email: "amr.supervisor@demo.onestop.cn",
        name: "市场监管主管 AMR Supervisor",
        role: Role::Supervisor,
        agency: Some(Agency::MarketRegulation),
        regions: &["510100", "500100"],
    },
    DemoAccount {
        email: "fx.supervisor@demo.onestop.cn",
        name: "外汇主管 FX Supervisor",
        role: Role::Supervisor,
        agency: Some(Agency::ForeignExchange),
        regions: &["510100"],
    },
    DemoAccount {
        email: "inspection.supervisor@demo.onestop.cn",
        name: "检验检疫主管 Inspection Supervisor",
        role: Role::Supervisor,
        agency: Some(Agency::Inspection),
        regions: &["510100"],
    },
    DemoAccount {
        email: "coop@demo.onestop.cn",
        name: "汉源花椒出口合作社 Hanyuan Pepper Export Co-op",
        role: Role::Merchant,
        agency: None,
        regions: &[],
    },
    DemoAccount {
        email: "clerk@demo.onestop.cn",
        name: "合作社文员 Co-op clerk (STAFF)",
        role: Role::Merchant,
        agency: None,
        regions: &[],
    },
    DemoAccount {
        email: "broker@demo.onestop.cn",
        name: "蓉欧报关 Rong-Ou customs broker (AGENT)",
        role: Role::Agent,
        agency: None,
        regions: &[],
    },
];

/// The cross-border food cooperative of the straight-through demo (`seed_cases`).
const COOP: &str = "coop@demo.onestop.cn";

pub async fn seed_demo(state: &AppState) -> anyhow::Result<()> {
    println!("{:<40} {:<11} {:<18} password", "email", "role", "agency");
    let mut created = std::collections::HashMap::new();
    for account in DEMO {
        let (new, password) = new_account(account).await?;
        let shown = match insert_user(&state.db, new).await {
            Ok(user) => {
                created.insert(account.email, user.id);
                password
            }
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
    if let Some(user_id) = created.get("merchant@demo.onestop.cn") {
        demo_profile(
            state,
            *user_id,
            "成都川味花椒专业合作社 Chengdu Sichuan Pepper Co-op",
            "merchant@demo.onestop.cn",
            false,
        )
        .await?;
    }
    if let (Some(fx), Some(inspection)) =
        (created.get("fx.supervisor@demo.onestop.cn"), created.get("inspection.supervisor@demo.onestop.cn"))
    {
        super::seed_cases::demo_rules(state, *fx, *inspection).await?;
    }
    if let Some(user_id) = created.get(COOP) {
        let merchant =
            demo_profile(state, *user_id, "汉源花椒出口专业合作社 Hanyuan Pepper Export Co-op", COOP, true).await?;
        super::seed_cases::demo_case(state, *user_id, merchant).await?;
        if let (Some(clerk), Some(broker)) =
            (created.get("clerk@demo.onestop.cn"), created.get("broker@demo.onestop.cn"))
        {
            super::seed_cases::demo_people(state, *user_id, merchant, *clerk, *broker).await?;
        }
    }
    Ok(())
}

/// A demo account with a random password (24 characters of a random token: long and random
/// enough for any strength check), and the password.
async fn new_account(account: &DemoAccount) -> anyhow::Result<(NewUser, String)> {
    let password = random_token()[..24].to_string();
    let hash = hash_password(password.clone()).await.map_err(|e| anyhow::anyhow!(e.detail()))?;
    let new = NewUser {
        email: Email::parse("email", account.email).map_err(|e| anyhow::anyhow!(e.detail()))?,
        password_hash: Some(hash),
        display_name: account.name.to_string(),
        role: account.role,
        verified: true,
        agency: account.agency,
        regions: account.regions.iter().map(|r| r.to_string()).collect(),
    };
    Ok((new, password))
}

/// A demo merchant's company profile in Chengdu (no USCC: the Chengdu co-op's first case can
/// include REGISTRATION); `food`: it sells food and farm goods. Returns the merchant's id.
async fn demo_profile(
    state: &AppState,
    user_id: uuid::Uuid,
    name: &str,
    email: &str,
    food: bool,
) -> anyhow::Result<uuid::Uuid> {
    use crate::domain::filing_data::ProductCategory;
    let scope = crate::services::access::Scope::Merchant {
        user_id,
        merchant_id: None,
        via_client: None,
        role: entity::enums::MerchantRole::Owner,
    };
    let categories = if food {
        vec![ProductCategory::Agricultural, ProductCategory::Food]
    } else {
        vec![ProductCategory::Agricultural]
    };
    let input = crate::services::merchants::MerchantProfileInput {
        name: name.into(),
        uscc: None,
        region_code: "510100".into(),
        address: "四川省成都市锦江区春熙路1号".into(),
        contact_email: email.into(),
        contact_phone: "+86 138 0000 0000".into(),
        store_urls: Some(vec!["https://shop.example.cn/sichuan-pepper".into()]),
        categories: Some(categories),
    };
    let saved = crate::services::merchants::save_profile(state, &scope, input, None)
        .await
        .map_err(|e| anyhow::anyhow!(e.detail()))?;
    Ok(saved.id)
}
