//! Names shown to people (public pages, emails): Chinese first, English alongside. Enum names
//! such as `AGRICULTURAL` are for machines and never appear on a page.

use super::{
    Agency,
    filing_data::{ProductCategory, SpotCheckChannel, SpotCheckResult},
};

/// Anything shown to people by name.
pub trait Labelled {
    fn label(self) -> Label;
}

/// One name in both languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Label {
    pub zh: &'static str,
    pub en: &'static str,
}

const fn label(zh: &'static str, en: &'static str) -> Label {
    Label { zh, en }
}

impl Labelled for ProductCategory {
    fn label(self) -> Label {
        match self {
            Self::Agricultural => label("农产品", "Agricultural products"),
            Self::EthnicSpecialty => label("民族特色产品", "Ethnic specialties"),
            Self::Textile => label("纺织品", "Textiles"),
            Self::Leather => label("皮革制品", "Leather goods"),
            Self::Food => label("食品", "Food"),
            Self::Handicraft => label("手工艺品", "Handicrafts"),
            Self::Other => label("其他", "Other"),
        }
    }
}

impl Labelled for SpotCheckChannel {
    fn label(self) -> Label {
        match self {
            Self::Online => label("网购抽检", "Bought online"),
            Self::Offline => label("市场抽检", "Sampled at a market"),
        }
    }
}

impl Labelled for SpotCheckResult {
    fn label(self) -> Label {
        match self {
            Self::Pass => label("合格", "Passed"),
            Self::Fail => label("不合格", "Failed"),
        }
    }
}

impl Labelled for Agency {
    fn label(self) -> Label {
        match self {
            Self::MarketRegulation => label("市场监督管理局", "Market regulation"),
            Self::Customs => label("海关", "Customs"),
            Self::Inspection => label("检验检疫", "Inspection and quarantine"),
            Self::Tax => label("税务局", "Tax"),
            Self::ForeignExchange => label("国家外汇管理局", "Foreign exchange"),
        }
    }
}

impl Labelled for entity::enums::LicenceStatus {
    fn label(self) -> Label {
        match self {
            Self::Active => label("有效", "Valid"),
            Self::Suspended => label("暂停", "Suspended"),
            Self::Cancelled => label("已注销", "Cancelled"),
            Self::Expired => label("已过期", "Expired"),
        }
    }
}

/// What happened to a licence, as its public history says it.
pub fn licence_action(action: &str) -> Label {
    match action {
        "issued" => label("核发", "Issued"),
        "reissued" => label("重新核发", "Issued again"),
        "amended" => label("变更", "Amended"),
        "renewed" => label("延续", "Renewed"),
        "cancelled" => label("注销", "Cancelled"),
        "expired" => label("到期失效", "Expired"),
        _ => label("其他", "Other"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_has_a_name_in_both_languages() {
        use ProductCategory::*;
        for category in [Agricultural, EthnicSpecialty, Textile, Leather, Food, Handicraft, Other] {
            let label = category.label();
            assert!(!label.zh.is_empty() && !label.en.is_empty());
            assert_ne!(label.en, category.as_str(), "not the enum name");
        }
        assert_eq!(Agricultural.label(), Label { zh: "农产品", en: "Agricultural products" });
    }
}
