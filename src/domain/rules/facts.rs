//! The documented facts each kind of rule may read.

/// The facts a kind of rule may read: documented paths (`profile.categories`), and prefixes
/// under which any documented field of the filing's data may follow.
#[derive(Debug)]
pub struct FactCatalog {
    pub facts: &'static [(&'static str, &'static str)],
}

/// What requirement rules read: the case profile, and (for a logged-in merchant) the merchant.
pub const REQUIREMENT_FACTS: FactCatalog = FactCatalog {
    facts: &[
        (
            "profile.companyType",
            "LIMITED_LIABILITY, SOLE_PROPRIETORSHIP, INDIVIDUAL_BUSINESS, FARMER_COOPERATIVE or PARTNERSHIP",
        ),
        ("profile.categories", "the product categories, e.g. ['FOOD', 'AGRICULTURAL']"),
        ("profile.hsCodes", "the 10-digit HS codes of the goods, e.g. ['0904210000']"),
        ("profile.crossBorder", "true when the merchant sells or buys abroad"),
        ("merchant.usccVerified", "a USCC issued or verified here (absent for anonymous callers)"),
        ("merchant.usccDeclared", "a USCC typed into the profile and not verified yet"),
        ("merchant.riskLevel", "0 normal … 3 high, from spot checks"),
        ("merchant.regionCode", "the merchant's 6-digit region"),
        ("merchant.approvedKinds", "the filing kinds approved for the merchant so far, e.g. ['TAX']"),
    ],
};

/// What decision rules read about a submitted filing, its merchant, case and history. Personal
/// data (names, ID and bank account numbers, contacts, addresses) is not a fact: rules do not
/// need it, and the facts of every decision are stored.
pub const DECISION_FACTS: FactCatalog = FactCatalog {
    facts: &[
        ("filing.kind", "REGISTRATION, CUSTOMS, INSPECTION, TAX or FX"),
        ("filing.regionCode", "the filing's 6-digit region"),
        ("filing.resubmitted", "true when the filing comes back after a correction"),
        ("filing.data.companyName", "REGISTRATION"),
        (
            "filing.data.companyType",
            "REGISTRATION: LIMITED_LIABILITY, SOLE_PROPRIETORSHIP, INDIVIDUAL_BUSINESS, FARMER_COOPERATIVE or PARTNERSHIP",
        ),
        ("filing.data.registeredCapital", "REGISTRATION, yuan (a double: compare with 500000.0)"),
        ("filing.data.businessScope", "REGISTRATION"),
        ("filing.data.customsDistrictCode", "CUSTOMS, 4 digits"),
        ("filing.data.businessType", "CUSTOMS: ECOMMERCE_ENTERPRISE, ECOMMERCE_PLATFORM, LOGISTICS or PAYMENT"),
        ("filing.data.expectedAnnualTradeUsd", "CUSTOMS, a double"),
        ("filing.data.categories", "INSPECTION, e.g. ['FOOD']"),
        ("filing.data.products", "INSPECTION: a list of {name, hsCode, originRegionCode}"),
        ("filing.data.taxpayerType", "TAX: SMALL_SCALE or GENERAL"),
        ("filing.data.bankName", "TAX, FX"),
        ("filing.data.expectedAnnualReceiptsUsd", "FX, a double"),
        ("filing.data.currencies", "FX, e.g. ['USD', 'EUR']"),
        ("merchant.riskLevel", "0 normal … 3 high, from spot checks"),
        ("merchant.failedChecks", "how many spot checks of the merchant failed"),
        ("merchant.approvedKinds", "the filing kinds approved for the merchant before this one"),
        ("merchant.usccVerified", "a USCC issued or verified here"),
        ("merchant.regionCode", "the merchant's 6-digit region"),
        (
            "merchant.licences",
            "the merchant's licences: a list of {kind, status (ACTIVE, SUSPENDED, CANCELLED, EXPIRED), validUntil ('YYYY-MM-DD' or null)}",
        ),
        ("case.kinds", "the kinds of filing in the case"),
        ("case.type", "NEW, AMENDMENT, RENEWAL or CANCELLATION"),
        ("history.approvedBefore", "how many filings of this kind were approved for the merchant before"),
        ("history.rejectedBefore", "how many filings of this kind were rejected for the merchant before"),
    ],
};

impl FactCatalog {
    /// A name the rule may read: a documented fact, or a prefix of one (`filing.data`).
    pub(super) fn knows(&self, path: &str) -> bool {
        self.facts
            .iter()
            .any(|(fact, _)| *fact == path || fact.strip_prefix(path).is_some_and(|rest| rest.starts_with('.')))
    }

    pub(super) fn roots(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.facts.iter().filter_map(|(fact, _)| fact.split('.').next())
    }
}
