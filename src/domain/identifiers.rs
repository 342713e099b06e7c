//! Validators for the identifiers and values filings carry (DESIGN.md, "Identifiers").
//! Each returns the normalised value or a `VALIDATION` error naming the field.

use std::str::FromStr;

use rust_decimal::Decimal;

use crate::error::{AppError, AppResult};

/// Resident ID number (GB 11643-1999): 17 digits and an ISO 7064 MOD 11-2 check character.
pub fn resident_id(field: &str, raw: &str) -> AppResult<String> {
    let id = raw.trim().to_ascii_uppercase();
    let bytes = id.as_bytes();
    let shape_ok = bytes.len() == 18
        && bytes[..17].iter().all(u8::is_ascii_digit)
        && (bytes[17].is_ascii_digit() || bytes[17] == b'X');
    if !shape_ok {
        return Err(AppError::validation(field, "must be 18 characters: 17 digits and a check digit or X"));
    }
    if resident_id_check(&bytes[..17]) != bytes[17] {
        return Err(AppError::validation(field, "the check digit does not match (GB 11643)"));
    }
    Ok(id)
}

/// The MOD 11-2 check character of the first 17 digits.
pub fn resident_id_check(first17: &[u8]) -> u8 {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    b"10X98765432"[(sum % 11) as usize]
}

fn digits(field: &str, raw: &str, len: usize, what: &str) -> AppResult<String> {
    let value = raw.trim();
    if value.len() != len || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::validation(field, format!("{what} must be {len} digits")));
    }
    Ok(value.to_string())
}

/// China tariff (HS) code: 10 digits.
pub fn hs_code(field: &str, raw: &str) -> AppResult<String> {
    digits(field, raw, 10, "an HS code")
}

/// Customs district code: 4 digits.
pub fn customs_district(field: &str, raw: &str) -> AppResult<String> {
    digits(field, raw, 4, "a customs district code")
}

/// Active ISO 4217 currency codes.
pub const CURRENCIES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF",
    "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CLP", "CNY", "COP", "CRC",
    "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS",
    "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD",
    "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL",
    "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD",
    "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
    "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
    "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VES",
    "VND", "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

pub fn currency(field: &str, raw: &str) -> AppResult<String> {
    let code = raw.trim().to_ascii_uppercase();
    if CURRENCIES.binary_search(&code.as_str()).is_err() {
        return Err(AppError::validation(field, format!("{raw:?} is not an ISO 4217 currency code")));
    }
    Ok(code)
}

/// A money amount: positive, at most 2 decimal places, below 10^15.
pub fn positive_amount(field: &str, value: &Decimal) -> AppResult<Decimal> {
    if *value <= Decimal::ZERO {
        return Err(AppError::validation(field, "must be greater than zero"));
    }
    if value.scale() > 2 && value.normalize().scale() > 2 {
        return Err(AppError::validation(field, "must have at most 2 decimal places"));
    }
    if *value >= Decimal::from_str("1000000000000000").unwrap_or(Decimal::MAX) {
        return Err(AppError::validation(field, "is too large"));
    }
    Ok(value.normalize())
}

/// Trimmed text of 1..=`max` characters without control characters (newlines allowed when
/// `multiline`).
pub fn text(field: &str, raw: &str, max: usize, multiline: bool) -> AppResult<String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(AppError::validation(field, "is required"));
    }
    if value.chars().count() > max {
        return Err(AppError::validation(field, format!("must be at most {max} characters")));
    }
    let allowed = |c: char| !c.is_control() || (multiline && (c == '\n' || c == '\r' || c == '\t'));
    if !value.chars().all(allowed) {
        return Err(AppError::validation(field, "must not contain control characters"));
    }
    Ok(value.to_string())
}

/// [`text`] that is published (trace pages show it to anyone who scans): a resident ID, bank
/// account or phone number in it is refused, so public pages cannot publish people's numbers.
pub fn public_text(field: &str, raw: &str, max: usize) -> AppResult<String> {
    let value = text(field, raw, max, false)?;
    match super::pii::find_personal_number(&value) {
        Some(kind) => Err(AppError::validation(
            field,
            format!("must not contain {}: it is shown on the public trace page", kind.describe()),
        )),
        None => Ok(value),
    }
}

/// A mainland China phone number — mobile or landline, written nationally (`028 8888 8888`,
/// `138 0013 8000`) or internationally (`+86 28 8888 8888`, where the trunk 0 is dropped) —
/// checked against libphonenumber's metadata and returned in E.164 (`+862888888888`).
pub fn phone(field: &str, raw: &str) -> AppResult<String> {
    let invalid = || {
        AppError::validation(
            field,
            "must be a valid mainland China phone number, e.g. +86 28 8888 8888 or 138 0013 8000",
        )
    };
    let value = raw.trim();
    if value.is_empty() || value.len() > 32 {
        return Err(invalid());
    }
    let number = phonenumber::parse(Some(phonenumber::country::Id::CN), value).map_err(|_| invalid())?;
    if !number.is_valid() || number.country().id() != Some(phonenumber::country::Id::CN) {
        return Err(invalid());
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// An http(s) URL of a web store.
pub fn store_url(field: &str, raw: &str) -> AppResult<String> {
    let value = raw.trim();
    let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"));
    let host_ok = rest
        .and_then(|r| r.split(['/', '?', '#']).next())
        .is_some_and(|h| h.contains('.') && !h.is_empty() && !h.contains(char::is_whitespace));
    if !host_ok || value.len() > 500 {
        return Err(AppError::validation(field, "must be an http(s) URL"));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_in_every_cn_form_are_stored_in_e164() {
        for (written, stored) in [
            ("+86 28 8888 8888", "+862888888888"),
            ("028 8888 8888", "+862888888888"),
            ("(028) 8888-8888", "+862888888888"),
            ("+86 138 0013 8000", "+8613800138000"),
            ("13800138000", "+8613800138000"),
            ("0086 10 6552 9988", "+861065529988"),
        ] {
            assert_eq!(phone("p", written).ok().as_deref(), Some(stored), "{written}");
        }
        for bad in ["+86 28 888", "12345", "+1 415 555 2671", "+852 2123 4567", "call me", ""] {
            assert!(phone("p", bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn currency_list_is_sorted_for_binary_search() {
        assert!(CURRENCIES.windows(2).all(|w| w[0] < w[1]));
    }
}
