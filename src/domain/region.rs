use crate::error::AppError;

/// Province prefixes (GB/T 2260) of the western region served by default: Inner Mongolia,
/// Guangxi, Chongqing, Sichuan, Guizhou, Yunnan, Tibet, Shaanxi, Gansu, Qinghai, Ningxia,
/// Xinjiang. Configurable with `ONESTOP_WESTERN_PROVINCES`.
pub const DEFAULT_WESTERN_PROVINCES: &[&str] =
    &["15", "45", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"];

/// The provinces this deployment serves.
#[derive(Clone, Debug)]
pub struct Regions {
    provinces: Vec<String>,
}

impl Default for Regions {
    fn default() -> Self {
        Self { provinces: DEFAULT_WESTERN_PROVINCES.iter().map(|p| p.to_string()).collect() }
    }
}

impl Regions {
    pub fn new(provinces: Vec<String>) -> Self {
        Self { provinces }
    }

    /// Parses a 6-digit administrative division code inside the served provinces.
    pub fn parse(&self, field: &str, raw: &str) -> Result<RegionCode, AppError> {
        let code = raw.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AppError::validation(field, "must be a 6-digit region code (GB/T 2260)"));
        }
        if !self.provinces.iter().any(|p| code.starts_with(p.as_str())) {
            return Err(AppError::validation(field, format!("{code} is not in a western province served here")));
        }
        // Province (xx0000), prefecture (xxyy00) and county (xxyyzz) codes are all valid
        // jurisdictions; finer checks would need the full GB/T 2260 table.
        Ok(RegionCode(code.to_string()))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RegionCode(String);

impl RegionCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 2-digit province prefix.
    pub fn province(&self) -> &str {
        &self.0[..2]
    }
}

impl std::fmt::Display for RegionCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
