//! GS1 identifiers on product batches: the GTIN (GTIN-8, -12, -13 or -14, check digit per the
//! GS1 General Specifications §7.9) and the batch/lot number (application identifier 10) as a
//! GS1 Digital Link carries it: `{base}/01/{gtin14}/10/{batch}`.

use crate::error::{AppError, AppResult};

/// A GTIN, kept as its 14-digit form (shorter ones padded with leading zeros).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gtin(String);

impl Gtin {
    /// GTIN-8/12/13/14 with a correct check digit, or VALIDATION naming `field`.
    pub fn parse(field: &str, raw: &str) -> AppResult<Self> {
        let digits = raw.trim();
        if !matches!(digits.len(), 8 | 12 | 13 | 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AppError::validation(field, "a GTIN has 8, 12, 13 or 14 digits"));
        }
        if !check_digit_holds(digits) {
            return Err(AppError::validation(field, "the check digit does not match (GS1 mod 10)"));
        }
        Ok(Self(format!("{digits:0>14}")))
    }

    /// The 14-digit form a Digital Link and the database use.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// GS1 mod 10: from the digit left of the check digit leftwards, weights 3, 1, 3, 1 …
fn check_digit_holds(digits: &str) -> bool {
    let bytes = digits.as_bytes();
    let Some((check, body)) = bytes.split_last() else { return false };
    let sum: u32 =
        body.iter().rev().enumerate().map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 }).sum();
    (10 - sum % 10) % 10 == u32::from(check - b'0')
}

/// A batch number a Digital Link carries as it is: 1–20 characters of `A–Z a–z 0–9 - . _`
/// (a subset of GS1's character set 82 that needs no escaping in a URL path).
pub fn is_link_safe_batch(batch: &str) -> bool {
    (1..=20).contains(&batch.len())
        && batch.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtins_of_every_length_are_checked_and_padded() {
        assert_eq!(Gtin::parse("g", "4006381333931").expect("EAN-13").as_str(), "04006381333931");
        assert_eq!(Gtin::parse("g", "96385074").expect("EAN-8").as_str(), "00000096385074");
        assert_eq!(Gtin::parse("g", "036000291452").expect("UPC-A").as_str(), "00036000291452");
        assert_eq!(Gtin::parse("g", "04006381333931").expect("GTIN-14").as_str(), "04006381333931");
        assert!(Gtin::parse("g", "4006381333932").is_err(), "wrong check digit");
        assert!(Gtin::parse("g", "40063813339x1").is_err());
        assert!(Gtin::parse("g", "123456789").is_err(), "9 digits is no GTIN length");
    }

    #[test]
    fn link_safe_batches() {
        assert!(is_link_safe_batch("HY-2026.09_A"));
        assert!(!is_link_safe_batch("HY/2026"));
        assert!(!is_link_safe_batch("批次1"));
        assert!(!is_link_safe_batch(&"A".repeat(21)));
    }
}
