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

/// The built-in allow-list (`reference/uscc-allow-list.txt`: the format, no entries).
pub const BUILT_IN_ALLOW_LIST: &str = include_str!("../../reference/uscc-allow-list.txt");

/// Legally issued codes that fail the check character (pre-2015 pilot regions), accepted
/// anyway; read from a file like the holiday calendar (`ONESTOP_USCC_ALLOW_LIST_FILE`).
#[derive(Clone, Debug, Default)]
pub struct UsccAllowList(std::collections::HashSet<String>);

impl UsccAllowList {
    /// One code per line; `#` starts a comment. Every entry must have the shape of a USCC.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut codes = std::collections::HashSet::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or_default().trim().to_ascii_uppercase();
            if line.is_empty() {
                continue;
            }
            if line.len() != 18 || !line.bytes().all(|c| value_of(c).is_some()) {
                anyhow::bail!("USCC allow-list line {}: {line:?} is not 18 characters of the USCC alphabet", n + 1);
            }
            codes.insert(line);
        }
        Ok(Self(codes))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn contains(&self, code: &str) -> bool {
        self.0.contains(code)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uscc(String);

impl Uscc {
    /// A code that passes GB 32100, or one the allow-list names.
    pub fn parse_allowing(field: &str, raw: &str, allowed: &UsccAllowList) -> Result<Self, AppError> {
        match Self::parse(field, raw) {
            Err(AppError::Validation(_)) if allowed.contains(&raw.trim().to_ascii_uppercase()) => {
                Ok(Self(raw.trim().to_ascii_uppercase()))
            }
            other => other,
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let code = raw.trim().to_ascii_uppercase();
        let bytes = code.as_bytes();
        if bytes.len() != 18 {
            return Err(AppError::validation(field, "a USCC has 18 characters"));
        }
        if let Some(bad) = bytes.iter().find(|c| value_of(**c).is_none()) {
            return Err(AppError::validation(field, format!("character {:?} is not allowed in a USCC", *bad as char)));
        }
        if check_character(&bytes[..17]) != Some(bytes[17]) {
            return Err(AppError::validation(
                field,
                "the check character does not match (GB 32100); a legally issued pre-2015 code from a pilot region \
                 that fails it is accepted once the portal adds it to its USCC allow-list — ask your \
                 market-regulation office",
            ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_failing_the_check_character_is_accepted_only_from_the_allow_list() {
        let legacy = "91510100MA6CGUR3K1";
        assert!(Uscc::parse("uscc", legacy).is_err(), "fails GB 32100");
        let empty = UsccAllowList::parse(BUILT_IN_ALLOW_LIST).expect("the built-in list parses");
        assert!(empty.is_empty());
        let Err(AppError::Validation(fields)) = Uscc::parse_allowing("uscc", legacy, &empty) else { panic!("refused") };
        assert!(fields[0].message.contains("allow-list"), "the error says how to get it accepted");
        let listed = UsccAllowList::parse(&format!("# confirmed\n{}  # by the office\n", legacy.to_lowercase()))
            .expect("parses");
        assert_eq!(
            Uscc::parse_allowing("uscc", &format!(" {legacy} "), &listed)
                .map(|u| u.as_str().to_string())
                .ok()
                .as_deref(),
            Some(legacy)
        );
        assert!(Uscc::parse_allowing("uscc", "91510100MA6CGUR3KG", &listed).is_ok(), "valid codes still pass");
        assert!(UsccAllowList::parse("not-a-code\n").is_err(), "entries must look like a USCC");
    }
}
