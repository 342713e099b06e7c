//! Unified Social Credit Code (统一社会信用代码, GB 32100-2015).

use crate::error::AppError;

/// The 31 characters of the code, in value order (no I, O, Z, S, V).
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

fn value_of(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The check character for the first 17 characters, or `None` if one is outside the alphabet.
pub fn check_character(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in first17.iter().zip(WEIGHTS) {
        sum += value_of(*c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(ALPHABET[check as usize])
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uscc(String);

impl Uscc {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let code = raw.trim().to_ascii_uppercase();
        let bytes = code.as_bytes();
        if bytes.len() != 18 {
            return Err(AppError::validation(field, "a USCC has 18 characters"));
        }
        if let Some(bad) = bytes.iter().find(|c| value_of(**c).is_none()) {
            return Err(AppError::validation(
                field,
                format!("character {:?} is not allowed in a USCC", *bad as char),
            ));
        }
        if check_character(&bytes[..17]) != Some(bytes[17]) {
            return Err(AppError::validation(field, "the check character does not match (GB 32100)"));
        }
        Ok(Self(code))
    }

    pub fn is_valid(raw: &str) -> bool {
        Self::parse("uscc", raw).is_ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
