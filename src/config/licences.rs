//! How long each kind of licence is valid (`ONESTOP_LICENCE_VALIDITY_MONTHS`).

use anyhow::bail;

use crate::domain::FilingKind;

/// Months of validity per kind; a kind not listed does not expire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenceValidity(Vec<(FilingKind, u32)>);

impl Default for LicenceValidity {
    /// Inspection registrations run three years; business, customs, tax and FX registrations
    /// last until changed or cancelled.
    fn default() -> Self {
        Self(vec![(FilingKind::Inspection, 36)])
    }
}

impl LicenceValidity {
    /// Months a licence of `kind` is valid for, if it expires at all.
    pub fn months(&self, kind: FilingKind) -> Option<u32> {
        self.0.iter().find(|(k, _)| *k == kind).map(|(_, m)| *m)
    }

    /// `INSPECTION=36,CUSTOMS=24`; `KIND=0` makes a kind not expire; kinds not named keep
    /// their default.
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        let mut validity = Self::default();
        for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((kind, months)) = pair.split_once('=') else {
                bail!("ONESTOP_LICENCE_VALIDITY_MONTHS: expected KIND=months, got {pair:?}");
            };
            let Some(kind) = FilingKind::from_name(kind.trim()) else {
                bail!("ONESTOP_LICENCE_VALIDITY_MONTHS: unknown filing kind {:?}", kind.trim());
            };
            let months: u32 =
                months.trim().parse().map_err(|_| anyhow::anyhow!("ONESTOP_LICENCE_VALIDITY_MONTHS: {pair:?}"))?;
            if months > 1200 {
                bail!("ONESTOP_LICENCE_VALIDITY_MONTHS: {pair:?} is more than a century");
            }
            validity.0.retain(|(k, _)| *k != kind);
            if months > 0 {
                validity.0.push((kind, months));
            }
        }
        Ok(validity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_is_per_kind_and_zero_means_none() {
        let default = LicenceValidity::default();
        assert_eq!(default.months(FilingKind::Inspection), Some(36));
        assert_eq!(default.months(FilingKind::Fx), None);
        let set = LicenceValidity::parse("FX=12, INSPECTION=0").expect("parses");
        assert_eq!(set.months(FilingKind::Fx), Some(12));
        assert_eq!(set.months(FilingKind::Inspection), None);
        assert!(LicenceValidity::parse("FOO=3").is_err());
        assert!(LicenceValidity::parse("FX").is_err());
        assert!(LicenceValidity::parse("FX=-1").is_err());
    }
}
