//! The numbers agencies issue on approval, as the standards write them (no I/O: uniqueness is
//! the database's business, see `services::filings::approval`).
//!
//! - REGISTRATION: a Unified Social Credit Code (GB 32100-2015): `9` (registered by market
//!   regulation), the entity type, the 6-digit region, a 9-character organisation code
//!   (8 digits and the GB 11714 check character), the GB 32100 check character.
//! - CUSTOMS: 10 characters — customs district (4), economic-zone class (`9`: none), business
//!   type (1–4), a 4-digit sequence.
//! - INSPECTION / FX: `CIQ` / `FX`, region, year, 6 digits.
//! - TAX: the merchant's USCC is the taxpayer id (nothing is issued).

use rand::Rng;

use super::{
    filing_data::{CompanyType, CustomsBusinessType},
    uscc,
};

/// GB 11714 check character of an 8-digit organisation code body (weights 3 7 9 10 5 8 4 2,
/// `11 − Σ mod 11`, with 10 → `X` and 11 → `0`).
pub fn organisation_check(body: &str) -> Option<char> {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    if body.len() != 8 || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = body.bytes().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    Some(match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        n => char::from(b'0' + n as u8),
    })
}

/// The GB 32100 entity-type character for a company type registered by market regulation.
fn entity_type(company_type: CompanyType) -> char {
    match company_type {
        CompanyType::IndividualBusiness => '2',
        CompanyType::FarmerCooperative => '3',
        _ => '1',
    }
}

/// A new, valid USCC for a merchant of `region` (a 6-digit code), from `body` (8 digits).
pub fn uscc_from(company_type: CompanyType, region: &str, body: &str) -> Option<String> {
    let first17 = format!("9{}{region}{body}{}", entity_type(company_type), organisation_check(body)?);
    let check = uscc::check_character(first17.as_bytes())?;
    Some(format!("{first17}{}", check as char))
}

fn digits(rng: &mut impl Rng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

/// A candidate USCC with a random organisation code.
pub fn new_uscc(rng: &mut impl Rng, company_type: CompanyType, region: &str) -> Option<String> {
    uscc_from(company_type, region, &digits(rng, 8))
}

/// A candidate customs registration code.
pub fn customs_code(rng: &mut impl Rng, district: &str, business: CustomsBusinessType) -> String {
    let type_digit = match business {
        CustomsBusinessType::EcommerceEnterprise => '1',
        CustomsBusinessType::EcommercePlatform => '2',
        CustomsBusinessType::Logistics => '3',
        CustomsBusinessType::Payment => '4',
    };
    format!("{district}9{type_digit}{}", digits(rng, 4))
}

/// A candidate `{prefix}{region}{year}nnnnnn` number (inspection filing, FX list registration).
pub fn dated_number(rng: &mut impl Rng, prefix: &str, region: &str, year: i32) -> String {
    format!("{prefix}{region}{year}{}", digits(rng, 6))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Uscc;

    #[test]
    fn organisation_check_characters_follow_gb_11714() {
        // Σ = 1·3 + 2·7 + 3·9 + 4·10 + 5·5 + 6·8 + 7·4 + 8·2 = 201; 11 − 201 mod 11 = 8.
        assert_eq!(organisation_check("12345678"), Some('8'));
        // Σ = 3·4 = 12 ≡ 1 → 10 → X; Σ = 0 → 11 → 0.
        assert_eq!(organisation_check("00000030"), Some('X'));
        assert_eq!(organisation_check("00000000"), Some('0'));
        assert_eq!(organisation_check("1234567"), None);
        assert_eq!(organisation_check("1234567A"), None);
    }

    #[test]
    fn issued_usccs_are_valid_and_say_what_they_are() {
        let mut rng = rand::rng();
        for company_type in
            [CompanyType::LimitedLiability, CompanyType::IndividualBusiness, CompanyType::FarmerCooperative]
        {
            for _ in 0..200 {
                let code = new_uscc(&mut rng, company_type, "510100").expect("a code");
                assert!(Uscc::parse("uscc", &code).is_ok(), "{code} passes GB 32100");
                assert_eq!(&code[..1], "9", "registered by market regulation");
                assert_eq!(code.chars().nth(1), Some(entity_type(company_type)));
                assert_eq!(&code[2..8], "510100", "the merchant's region");
                assert_eq!(organisation_check(&code[8..16]).map(|c| c.to_string()), Some(code[16..17].to_string()));
            }
        }
    }

    #[test]
    fn customs_and_dated_numbers_have_their_shape() {
        let mut rng = rand::rng();
        let customs = customs_code(&mut rng, "7901", CustomsBusinessType::EcommercePlatform);
        assert_eq!(customs.len(), 10);
        assert!(customs.starts_with("790192") && customs.bytes().all(|b| b.is_ascii_digit()), "{customs}");
        let ciq = dated_number(&mut rng, "CIQ", "510100", 2026);
        assert!(ciq.starts_with("CIQ5101002026") && ciq.len() == 19, "{ciq}");
    }
}
