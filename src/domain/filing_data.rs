//! What each kind of filing holds: the GraphQL inputs (validated here, then stored as JSON)
//! and the value enums the contract names.

use std::str::FromStr;

use async_graphql::{Enum, InputObject, InputValueError, InputValueResult, OneofObject, Scalar, ScalarType, Value};
use serde::{Deserialize, Serialize};

use super::{FilingKind, Regions, identifiers as id};
use crate::error::{AppResult, Problems};

/// Money as a decimal string ("1000000.00"). Only strings are accepted: a JSON number would
/// pass through binary floating point on the way in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(#[serde(with = "rust_decimal::serde::str")] pub rust_decimal::Decimal);

#[Scalar(name = "Decimal")]
impl ScalarType for Money {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => rust_decimal::Decimal::from_str(s.trim())
                .map(Money)
                .map_err(|_| InputValueError::custom(format!("{s:?} is not a decimal number"))),
            _ => Err(InputValueError::custom("a Decimal is written as a string, e.g. \"1000.00\"")),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

macro_rules! value_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name { $($variant),* }
    };
}

value_enum!(CompanyType { LimitedLiability, SoleProprietorship, IndividualBusiness, FarmerCooperative, Partnership });
value_enum!(ProductCategory { Agricultural, EthnicSpecialty, Textile, Leather, Food, Handicraft, Other });
value_enum!(TaxpayerType { SmallScale, General });
value_enum!(CustomsBusinessType { EcommerceEnterprise, EcommercePlatform, Logistics, Payment });

#[derive(InputObject, Clone, Serialize, Deserialize)]
pub struct PersonInput {
    pub name: String,
    pub id_number: String,
}

// Written by hand so that a `{:?}` anywhere can never print the full ID number.
impl std::fmt::Debug for PersonInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonInput")
            .field("name", &self.name)
            .field("id_number", &super::pii::mask_id_number(&self.id_number))
            .finish()
    }
}

#[derive(InputObject, Clone, Debug, Serialize, Deserialize)]
pub struct RegistrationDataInput {
    pub company_name: String,
    pub company_type: CompanyType,
    pub registered_capital: Money,
    pub legal_representative: PersonInput,
    pub address: String,
    pub business_scope: String,
}

#[derive(InputObject, Clone, Debug, Serialize, Deserialize)]
pub struct CustomsDataInput {
    pub customs_district_code: String,
    pub business_type: CustomsBusinessType,
    pub contact_person: String,
    pub expected_annual_trade_usd: Money,
}

#[derive(InputObject, Clone, Debug, Serialize, Deserialize)]
pub struct ProductLineInput {
    pub name: String,
    pub hs_code: String,
    pub origin_region_code: String,
}

#[derive(InputObject, Clone, Debug, Serialize, Deserialize)]
pub struct InspectionDataInput {
    pub categories: Vec<ProductCategory>,
    pub products: Vec<ProductLineInput>,
}

#[derive(InputObject, Clone, Serialize, Deserialize)]
pub struct TaxDataInput {
    pub taxpayer_type: TaxpayerType,
    pub bank_name: String,
    pub bank_account: String,
    pub invoice_contact: String,
}

impl std::fmt::Debug for TaxDataInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaxDataInput")
            .field("taxpayer_type", &self.taxpayer_type)
            .field("bank_name", &self.bank_name)
            .field("bank_account", &super::pii::mask_account(&self.bank_account))
            .field("invoice_contact", &self.invoice_contact)
            .finish()
    }
}

#[derive(InputObject, Clone, Debug, Serialize, Deserialize)]
pub struct FxDataInput {
    pub bank_name: String,
    pub expected_annual_receipts_usd: Money,
    pub currencies: Vec<String>,
}

/// Exactly one field set; it must be the filing's own kind.
#[derive(OneofObject, Clone, Debug)]
pub enum FilingDataInput {
    Registration(RegistrationDataInput),
    Customs(CustomsDataInput),
    Inspection(InspectionDataInput),
    Tax(TaxDataInput),
    Fx(FxDataInput),
}

/// The validated, normalised data as stored (JSON) in `filings.data`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FilingData {
    Registration(RegistrationDataInput),
    Customs(CustomsDataInput),
    Inspection(InspectionDataInput),
    Tax(TaxDataInput),
    Fx(FxDataInput),
}

impl FilingDataInput {
    pub fn kind(&self) -> FilingKind {
        match self {
            Self::Registration(_) => FilingKind::Registration,
            Self::Customs(_) => FilingKind::Customs,
            Self::Inspection(_) => FilingKind::Inspection,
            Self::Tax(_) => FilingKind::Tax,
            Self::Fx(_) => FilingKind::Fx,
        }
    }

    /// Validates every field (errors name them as `data.<kind>.<field>`) and normalises.
    pub fn validate(self, regions: &Regions) -> AppResult<FilingData> {
        let mut p = Problems::default();
        let data = match self {
            Self::Registration(d) => FilingData::Registration(registration(d, &mut p)),
            Self::Customs(d) => FilingData::Customs(customs(d, &mut p)),
            Self::Inspection(d) => FilingData::Inspection(inspection(d, regions, &mut p)),
            Self::Tax(d) => FilingData::Tax(tax(d, &mut p)),
            Self::Fx(d) => FilingData::Fx(fx(d, &mut p)),
        };
        p.finish(data)
    }
}

fn registration(mut d: RegistrationDataInput, p: &mut Problems) -> RegistrationDataInput {
    let f = |name: &str| format!("data.registration.{name}");
    d.company_name = p.take(id::text(&f("companyName"), &d.company_name, 100, false));
    if let Some(m) = p.check(id::positive_amount(&f("registeredCapital"), &d.registered_capital.0)) {
        d.registered_capital = Money(m);
    }
    d.legal_representative.name =
        p.take(id::text(&f("legalRepresentative.name"), &d.legal_representative.name, 50, false));
    d.legal_representative.id_number =
        p.take(id::resident_id(&f("legalRepresentative.idNumber"), &d.legal_representative.id_number));
    d.address = p.take(id::text(&f("address"), &d.address, 300, false));
    d.business_scope = p.take(id::text(&f("businessScope"), &d.business_scope, 2000, true));
    d
}

fn customs(mut d: CustomsDataInput, p: &mut Problems) -> CustomsDataInput {
    let f = |name: &str| format!("data.customs.{name}");
    d.customs_district_code = p.take(id::customs_district(&f("customsDistrictCode"), &d.customs_district_code));
    d.contact_person = p.take(id::text(&f("contactPerson"), &d.contact_person, 50, false));
    if let Some(m) = p.check(id::positive_amount(&f("expectedAnnualTradeUsd"), &d.expected_annual_trade_usd.0)) {
        d.expected_annual_trade_usd = Money(m);
    }
    d
}

fn inspection(mut d: InspectionDataInput, regions: &Regions, p: &mut Problems) -> InspectionDataInput {
    if d.categories.is_empty() {
        p.push("data.inspection.categories", "at least one category is required");
    }
    d.categories.dedup();
    if d.products.is_empty() {
        p.push("data.inspection.products", "at least one product is required");
    }
    if d.products.len() > 200 {
        p.push("data.inspection.products", "at most 200 products");
    }
    for (i, line) in d.products.iter_mut().enumerate() {
        let f = |name: &str| format!("data.inspection.products[{i}].{name}");
        line.name = p.take(id::text(&f("name"), &line.name, 100, false));
        line.hs_code = p.take(id::hs_code(&f("hsCode"), &line.hs_code));
        line.origin_region_code = p
            .check(regions.parse(&f("originRegionCode"), &line.origin_region_code))
            .map(|r| r.as_str().to_string())
            .unwrap_or_default();
    }
    d
}

fn tax(mut d: TaxDataInput, p: &mut Problems) -> TaxDataInput {
    let f = |name: &str| format!("data.tax.{name}");
    d.bank_name = p.take(id::text(&f("bankName"), &d.bank_name, 100, false));
    let account: String = d.bank_account.chars().filter(|c| !c.is_whitespace()).collect();
    if !(8..=30).contains(&account.len()) || !account.bytes().all(|b| b.is_ascii_digit()) {
        p.push(f("bankAccount"), "must be 8 to 30 digits");
    }
    d.bank_account = account;
    d.invoice_contact = p.take(id::text(&f("invoiceContact"), &d.invoice_contact, 100, false));
    d
}

fn fx(mut d: FxDataInput, p: &mut Problems) -> FxDataInput {
    let f = |name: &str| format!("data.fx.{name}");
    d.bank_name = p.take(id::text(&f("bankName"), &d.bank_name, 100, false));
    if let Some(m) = p.check(id::positive_amount(&f("expectedAnnualReceiptsUsd"), &d.expected_annual_receipts_usd.0)) {
        d.expected_annual_receipts_usd = Money(m);
    }
    if d.currencies.is_empty() {
        p.push(f("currencies"), "at least one currency is required");
    }
    let mut codes = Vec::new();
    for (i, c) in d.currencies.iter().enumerate() {
        if let Some(code) = p.check(id::currency(&f(&format!("currencies[{i}]")), c))
            && !codes.contains(&code)
        {
            codes.push(code);
        }
    }
    d.currencies = codes;
    d
}

/// A calendar date, `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Date(pub chrono::NaiveDate);

#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map(Date)
                .map_err(|_| InputValueError::custom(format!("{s:?} is not a date (YYYY-MM-DD)"))),
            _ => Err(InputValueError::custom("a Date is written as a string, e.g. \"2026-09-01\"")),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

value_enum!(SpotCheckChannel { Online, Offline });
value_enum!(SpotCheckResult { Pass, Fail });

macro_rules! stored_name {
    ($name:ident) => {
        impl $name {
            /// The name stored in the database (the GraphQL enum value).
            pub fn as_str(self) -> String {
                serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
            }

            pub fn parse(raw: &str) -> crate::error::AppResult<Self> {
                serde_json::from_value(serde_json::Value::String(raw.to_string()))
                    .map_err(|_| anyhow::anyhow!("unknown {} {raw:?} in database", stringify!($name)).into())
            }
        }
    };
}

stored_name!(ProductCategory);
stored_name!(SpotCheckChannel);
stored_name!(SpotCheckResult);
