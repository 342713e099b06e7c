//! `Filing.data`: what each kind of filing holds, as GraphQL objects (a union), with personal
//! numbers masked for administrators.

use async_graphql::{SimpleObject, Union};

use crate::domain::{
    FilingKind,
    filing_data::{CompanyType, CustomsBusinessType, FilingData as StoredData, Money, ProductCategory, TaxpayerType},
};

#[derive(SimpleObject)]
pub struct Person {
    pub name: String,
    pub id_number: String,
}

#[derive(SimpleObject, Default)]
pub struct RegistrationData {
    pub company_name: Option<String>,
    pub company_type: Option<CompanyType>,
    pub registered_capital: Option<Money>,
    pub legal_representative: Option<Person>,
    pub address: Option<String>,
    pub business_scope: Option<String>,
}

#[derive(SimpleObject, Default)]
pub struct CustomsData {
    pub customs_district_code: Option<String>,
    pub business_type: Option<CustomsBusinessType>,
    pub contact_person: Option<String>,
    pub expected_annual_trade_usd: Option<Money>,
}

#[derive(SimpleObject)]
pub struct ProductLine {
    pub name: String,
    pub hs_code: String,
    pub origin_region_code: String,
}

#[derive(SimpleObject, Default)]
pub struct InspectionData {
    pub categories: Vec<ProductCategory>,
    pub products: Vec<ProductLine>,
}

#[derive(SimpleObject, Default)]
pub struct TaxData {
    pub taxpayer_type: Option<TaxpayerType>,
    pub bank_name: Option<String>,
    pub bank_account: Option<String>,
    pub invoice_contact: Option<String>,
}

#[derive(SimpleObject, Default)]
pub struct FxData {
    pub bank_name: Option<String>,
    pub expected_annual_receipts_usd: Option<Money>,
    pub currencies: Vec<String>,
}

// The variants are the GraphQL type names of the contract (`RegistrationData`, …).
#[allow(clippy::enum_variant_names)]
#[derive(Union)]
pub enum FilingData {
    RegistrationData(RegistrationData),
    CustomsData(CustomsData),
    InspectionData(InspectionData),
    TaxData(TaxData),
    FxData(FxData),
}

impl FilingData {
    /// As a reader who may not see personal data gets it (administrators, agencies the case
    /// was shared with): ID and account numbers masked, people's names shown in part, and
    /// personal numbers typed into any free text masked.
    pub(super) fn masked(self) -> Self {
        use crate::domain::pii::{mask_account, mask_id_number, mask_name, scrub_personal};
        let text = |t: &mut Option<String>| *t = t.as_deref().map(|t| scrub_personal(t).into_owned());
        let name = |n: &str| mask_name(&scrub_personal(n));
        match self {
            Self::RegistrationData(mut d) => {
                if let Some(person) = d.legal_representative.as_mut() {
                    person.id_number = mask_id_number(&person.id_number);
                    person.name = name(&person.name);
                }
                [&mut d.company_name, &mut d.address, &mut d.business_scope].into_iter().for_each(text);
                Self::RegistrationData(d)
            }
            Self::CustomsData(mut d) => {
                d.contact_person = d.contact_person.as_deref().map(name);
                Self::CustomsData(d)
            }
            Self::InspectionData(mut d) => {
                d.products.iter_mut().for_each(|p| p.name = scrub_personal(&p.name).into_owned());
                Self::InspectionData(d)
            }
            Self::TaxData(mut d) => {
                d.bank_account = d.bank_account.as_deref().map(mask_account);
                [&mut d.bank_name, &mut d.invoice_contact].into_iter().for_each(text);
                Self::TaxData(d)
            }
            Self::FxData(mut d) => {
                text(&mut d.bank_name);
                Self::FxData(d)
            }
        }
    }

    /// The kind's object, with every field null (or empty) until the merchant fills it in.
    pub(super) fn from_stored(kind: FilingKind, stored: Option<StoredData>) -> Self {
        match stored {
            Some(StoredData::Registration(d)) => Self::RegistrationData(RegistrationData {
                company_name: Some(d.company_name),
                company_type: Some(d.company_type),
                registered_capital: Some(d.registered_capital),
                legal_representative: Some(Person {
                    name: d.legal_representative.name,
                    id_number: d.legal_representative.id_number,
                }),
                address: Some(d.address),
                business_scope: Some(d.business_scope),
            }),
            Some(StoredData::Customs(d)) => Self::CustomsData(CustomsData {
                customs_district_code: Some(d.customs_district_code),
                business_type: Some(d.business_type),
                contact_person: Some(d.contact_person),
                expected_annual_trade_usd: Some(d.expected_annual_trade_usd),
            }),
            Some(StoredData::Inspection(d)) => Self::InspectionData(InspectionData {
                categories: d.categories,
                products: d
                    .products
                    .into_iter()
                    .map(|p| ProductLine { name: p.name, hs_code: p.hs_code, origin_region_code: p.origin_region_code })
                    .collect(),
            }),
            Some(StoredData::Tax(d)) => Self::TaxData(TaxData {
                taxpayer_type: Some(d.taxpayer_type),
                bank_name: Some(d.bank_name),
                bank_account: Some(d.bank_account),
                invoice_contact: Some(d.invoice_contact),
            }),
            Some(StoredData::Fx(d)) => Self::FxData(FxData {
                bank_name: Some(d.bank_name),
                expected_annual_receipts_usd: Some(d.expected_annual_receipts_usd),
                currencies: d.currencies,
            }),
            None => match kind {
                FilingKind::Registration => Self::RegistrationData(RegistrationData::default()),
                FilingKind::Customs => Self::CustomsData(CustomsData::default()),
                FilingKind::Inspection => Self::InspectionData(InspectionData::default()),
                FilingKind::Tax => Self::TaxData(TaxData::default()),
                FilingKind::Fx => Self::FxData(FxData::default()),
            },
        }
    }
}
