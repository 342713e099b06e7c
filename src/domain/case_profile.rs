//! The determinants a merchant answers once per case (`CaseProfileInput`); requirement rules
//! read them as `profile`. Validated here, stored with the case as JSON.

use std::collections::BTreeSet;

use async_graphql::{InputObject, SimpleObject};
use serde::{Deserialize, Serialize};

use super::{
    filing_data::{CompanyType, ProductCategory},
    identifiers,
};
use crate::error::{AppResult, Problems};

/// More HS codes than a small trader lists on one case is a mistake, not a profile.
const MAX_HS_CODES: usize = 50;

#[derive(InputObject, Clone, Debug)]
#[graphql(name = "CaseProfileInput")]
pub struct CaseProfileInput {
    pub company_type: CompanyType,
    pub categories: Vec<ProductCategory>,
    /// 10-digit codes of the goods to be traded.
    pub hs_codes: Option<Vec<String>>,
    /// Sells or buys abroad (customs, FX).
    pub cross_border: bool,
}

/// A validated profile: categories and HS codes without repeats, in the order given.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseProfile {
    pub company_type: CompanyType,
    pub categories: Vec<ProductCategory>,
    pub hs_codes: Vec<String>,
    pub cross_border: bool,
}

impl CaseProfile {
    /// Checks every field; one VALIDATION error lists all the problems (`profile.hsCodes.2`).
    pub fn parse(input: CaseProfileInput) -> AppResult<Self> {
        let mut problems = Problems::default();
        let raw_codes = input.hs_codes.unwrap_or_default();
        if raw_codes.len() > MAX_HS_CODES {
            problems.push("profile.hsCodes", format!("list at most {MAX_HS_CODES} HS codes"));
        }
        let mut seen = BTreeSet::new();
        let mut hs_codes = Vec::new();
        for (i, raw) in raw_codes.iter().enumerate().take(MAX_HS_CODES) {
            if let Some(code) = problems.check(identifiers::hs_code(&format!("profile.hsCodes.{i}"), raw))
                && seen.insert(code.clone())
            {
                hs_codes.push(code);
            }
        }
        let mut categories = Vec::new();
        for category in input.categories {
            if !categories.contains(&category) {
                categories.push(category);
            }
        }
        problems.finish(Self {
            company_type: input.company_type,
            categories,
            hs_codes,
            cross_border: input.cross_border,
        })
    }

    /// The profile as rules read it (`profile.categories`, …).
    pub fn facts(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}
