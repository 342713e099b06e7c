//! Builders for the case workflow: merchants with profiles, agency staff, valid filing data.

use serde_json::{Value, json};

use crate::helpers::{GOOD_PASSWORD, Gql, TestApp};

pub const KINDS: [&str; 5] = ["REGISTRATION", "CUSTOMS", "INSPECTION", "TAX", "FX"];

pub fn agency_of(kind: &str) -> &'static str {
    match kind {
        "REGISTRATION" => "MARKET_REGULATION",
        "CUSTOMS" => "CUSTOMS",
        "INSPECTION" => "INSPECTION",
        "TAX" => "TAX",
        _ => "FOREIGN_EXCHANGE",
    }
}

/// Valid data for each kind (resident ID and codes with correct check digits).
pub fn filing_data(kind: &str) -> Value {
    match kind {
        "REGISTRATION" => json!({ "registration": {
            "companyName": "成都川味花椒合作社", "companyType": "FARMER_COOPERATIVE",
            "registeredCapital": "500000.00",
            "legalRepresentative": { "name": "李伟", "idNumber": "510107199003074218" },
            "address": "四川省成都市锦江区春熙路1号", "businessScope": "花椒种植、加工与网络销售"
        }}),
        "CUSTOMS" => json!({ "customs": {
            "customsDistrictCode": "7901", "businessType": "ECOMMERCE_ENTERPRISE",
            "contactPerson": "王芳", "expectedAnnualTradeUsd": "1200000.50"
        }}),
        "INSPECTION" => json!({ "inspection": {
            "categories": ["AGRICULTURAL", "FOOD"],
            "products": [{ "name": "汉源花椒", "hsCode": "0904210000", "originRegionCode": "511823" }]
        }}),
        "TAX" => json!({ "tax": {
            "taxpayerType": "SMALL_SCALE", "bankName": "中国农业银行成都分行",
            "bankAccount": "6228480402564890018", "invoiceContact": "王芳 028-86000000"
        }}),
        _ => json!({ "fx": {
            "bankName": "中国银行四川省分行", "expectedAnnualReceiptsUsd": "800000",
            "currencies": ["USD", "eur"]
        }}),
    }
}

pub const FILING_FIELDS: &str =
    "id kind agency status version regionCode dueAt overdue certificateNumber uscc decisionNote assignee { id email }";

pub struct Merchant {
    pub token: String,
}

pub struct Staff {
    pub token: String,
    pub id: String,
}

impl TestApp {
    /// A verified merchant user with a saved profile in `region`.
    pub async fn merchant(&self, email: &str, region: &str, uscc: Option<&str>) -> Merchant {
        let (token, _) = self.verified_merchant(email).await;
        let saved = self
            .gql(
                "mutation($i: MerchantProfileInput!) { saveMerchantProfile(input: $i) { id regionCode uscc } }",
                json!({ "i": {
                    "name": format!("商户 {email}"), "uscc": uscc, "regionCode": region,
                    "address": "成都市高新区天府大道100号", "contactEmail": email,
                    "contactPhone": "+86 138 0000 0000", "storeUrls": ["https://shop.example.cn/pepper"],
                    "categories": ["AGRICULTURAL"]
                }}),
                Some(&token),
            )
            .await;
        assert!(saved.data()["saveMerchantProfile"]["id"].is_string());
        Merchant { token }
    }

    /// An officer or supervisor with a password, logged in.
    pub async fn staff(&self, email: &str, role: &str, agency: &str, regions: &[&str]) -> Staff {
        use onestop::{
            domain::{Agency, Email, Role},
            services::auth::{accounts, password},
        };
        let role = match role {
            "SUPERVISOR" => Role::Supervisor,
            _ => Role::Officer,
        };
        let agency = match agency {
            "MARKET_REGULATION" => Agency::MarketRegulation,
            "CUSTOMS" => Agency::Customs,
            "INSPECTION" => Agency::Inspection,
            "TAX" => Agency::Tax,
            _ => Agency::ForeignExchange,
        };
        let user = accounts::insert_user(
            &self.state.db,
            accounts::NewUser {
                email: Email::parse("email", email).expect("email"),
                password_hash: Some(password::hash_password(GOOD_PASSWORD.into()).await.expect("hash")),
                // Named after the address's local part ("Staff wang.fang"), not the address.
                display_name: format!("Staff {}", email.split('@').next().unwrap_or(email)),
                role,
                verified: true,
                agency: Some(agency),
                regions: regions.iter().map(|r| r.to_string()).collect(),
            },
        )
        .await
        .map_err(|e| e.detail())
        .expect("insert staff");
        let login = self.login(email, GOOD_PASSWORD).await;
        Staff {
            token: login.data()["login"]["accessToken"].as_str().expect("token").to_string(),
            id: user.id.to_string(),
        }
    }

    pub async fn create_case(&self, token: &str, kinds: &[&str]) -> Gql {
        self.gql(
            &format!("mutation($k: [FilingKind!]!) {{ createCase(kinds: $k) {{ id reference status regionCode filings {{ {FILING_FIELDS} }} }} }}"),
            json!({ "k": kinds }),
            Some(token),
        )
        .await
    }

    pub async fn update_filing(&self, token: &str, id: &str, version: i64, data: Value) -> Gql {
        self.gql(
            &format!("mutation($id: ID!, $v: Int!, $d: FilingDataInput!) {{ updateFiling(id: $id, expectedVersion: $v, data: $d) {{ {FILING_FIELDS} }} }}"),
            json!({ "id": id, "v": version, "d": data }),
            Some(token),
        )
        .await
    }

    pub async fn submit_case(&self, token: &str, id: &str) -> Gql {
        self.gql(
            &format!(
                "mutation($id: ID!) {{ submitCase(id: $id) {{ id status submittedAt filings {{ {FILING_FIELDS} }} }} }}"
            ),
            json!({ "id": id }),
            Some(token),
        )
        .await
    }

    pub async fn filing(&self, token: &str, id: &str) -> Gql {
        self.gql(
            &format!("query($id: ID!) {{ filing(id: $id) {{ {FILING_FIELDS} }} }}"),
            json!({ "id": id }),
            Some(token),
        )
        .await
    }

    pub async fn case(&self, token: &str, id: &str) -> Gql {
        self.gql(
            &format!("query($id: ID!) {{ case(id: $id) {{ id reference status submittedAt merchant {{ id name uscc }} filings {{ {FILING_FIELDS} }} events {{ action filingId fromStatus toStatus note hash actor {{ email }} }} comments {{ body filingId author {{ email }} }} }} }}"),
            json!({ "id": id }),
            Some(token),
        )
        .await
    }

    /// `claimFiling` / `approveFiling` / … with the current version: returns the response.
    pub async fn decide(&self, token: &str, mutation: &str, id: &str, version: i64, note: Option<&str>) -> Gql {
        let note_arg = if matches!(mutation, "claimFiling") { "" } else { ", note: $n" };
        let note_var = if matches!(mutation, "claimFiling") {
            ""
        } else if mutation == "approveFiling" {
            ", $n: String"
        } else {
            ", $n: String!"
        };
        self.gql(
            &format!("mutation($id: ID!, $v: Int!{note_var}) {{ {mutation}(id: $id, expectedVersion: $v{note_arg}) {{ {FILING_FIELDS} }} }}"),
            json!({ "id": id, "v": version, "n": note }),
            Some(token),
        )
        .await
    }

    /// A merchant's case with every kind filled in and submitted; returns (case id, filings).
    pub async fn submitted_case(&self, merchant: &Merchant, kinds: &[&str]) -> (String, Vec<Value>) {
        let created = self.create_case(&merchant.token, kinds).await;
        let case = &created.data()["createCase"];
        let case_id = case["id"].as_str().expect("id").to_string();
        for filing in case["filings"].as_array().expect("filings") {
            let kind = filing["kind"].as_str().expect("kind");
            self.update_filing(
                &merchant.token,
                filing["id"].as_str().expect("id"),
                filing["version"].as_i64().expect("v"),
                filing_data(kind),
            )
            .await
            .data();
        }
        let submitted = self.submit_case(&merchant.token, &case_id).await;
        let filings = submitted.data()["submitCase"]["filings"].as_array().expect("filings").clone();
        (case_id, filings)
    }
}

pub fn filing_of<'a>(filings: &'a [Value], kind: &str) -> &'a Value {
    filings.iter().find(|f| f["kind"] == kind).unwrap_or_else(|| panic!("no {kind} filing"))
}
