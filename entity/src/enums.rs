//! The closed sets of values stored in string columns: filing kinds and statuses, case
//! statuses, agencies and roles. Columns are typed with them (sea-orm string enums), so a value
//! read from the database is already one of these — nothing is parsed in the services. The
//! stored strings are the GraphQL enum names (`UNDER_REVIEW`, `FOREIGN_EXCHANGE`), as before.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $value:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, EnumIter, DeriveActiveEnum,
            Serialize, Deserialize, async_graphql::Enum,
        )]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
        pub enum $name {
            $(
                #[sea_orm(string_value = $value)]
                #[serde(rename = $value)]
                $variant,
            )*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$(Self::$variant),*];

            /// The stored (and GraphQL) name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $value,)*
                }
            }

            /// The value with this stored name, if any (for names from outside the database,
            /// such as a token's `role` claim).
            pub fn from_name(raw: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == raw)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_enum!(
    /// The five filings of a case.
    FilingKind { Registration = "REGISTRATION", Customs = "CUSTOMS", Inspection = "INSPECTION", Tax = "TAX", Fx = "FX" }
);

stored_enum!(
    FilingStatus {
        Draft = "DRAFT",
        Submitted = "SUBMITTED",
        UnderReview = "UNDER_REVIEW",
        NeedsCorrection = "NEEDS_CORRECTION",
        Approved = "APPROVED",
        Rejected = "REJECTED",
        Withdrawn = "WITHDRAWN",
    }
);

stored_enum!(
    /// Derived from the filings (`CaseStatus::derive`), never set by hand.
    CaseStatus {
        Draft = "DRAFT",
        InReview = "IN_REVIEW",
        ActionRequired = "ACTION_REQUIRED",
        Completed = "COMPLETED",
        ClosedWithRejections = "CLOSED_WITH_REJECTIONS",
        Withdrawn = "WITHDRAWN",
    }
);

stored_enum!(
    Agency {
        MarketRegulation = "MARKET_REGULATION",
        Customs = "CUSTOMS",
        Inspection = "INSPECTION",
        Tax = "TAX",
        ForeignExchange = "FOREIGN_EXCHANGE",
    }
);

stored_enum!(
    Role { Merchant = "MERCHANT", Officer = "OFFICER", Supervisor = "SUPERVISOR", Admin = "ADMIN", Agent = "AGENT" }
);

stored_enum!(
    /// What a document is; a case's requirements name the ones each filing needs.
    DocumentType {
        BusinessPremisesProof = "BUSINESS_PREMISES_PROOF",
        IdCardCopy = "ID_CARD_COPY",
        ArticlesOfAssociation = "ARTICLES_OF_ASSOCIATION",
        CooperativeMemberList = "COOPERATIVE_MEMBER_LIST",
        BankAccountProof = "BANK_ACCOUNT_PROOF",
        FoodOperationLicence = "FOOD_OPERATION_LICENCE",
        ProductTestReport = "PRODUCT_TEST_REPORT",
        OriginProof = "ORIGIN_PROOF",
        BusinessLicenceCopy = "BUSINESS_LICENCE_COPY",
        TrademarkAuthorisation = "TRADEMARK_AUTHORISATION",
        AgentAuthorisation = "AGENT_AUTHORISATION",
        Other = "OTHER",
    }
);

stored_enum!(
    RequirementLevel { Mandatory = "MANDATORY", Optional = "OPTIONAL" }
);

stored_enum!(
    /// Who approved or rejected a filing.
    DecidedBy { Officer = "OFFICER", Rule = "RULE" }
);

stored_enum!(
    /// What the decision rules made of a submitted filing.
    DecisionOutcome { AutoApproved = "AUTO_APPROVED", Referred = "REFERRED" }
);

stored_enum!(
    /// A case opens something new or changes a licence (issue 13 adds the others' workflow).
    CaseType { New = "NEW", Amendment = "AMENDMENT", Renewal = "RENEWAL", Cancellation = "CANCELLATION" }
);

stored_enum!(
    /// Where a licence stands. CANCELLED and EXPIRED are final; a cancelled licence never
    /// looks valid anywhere.
    LicenceStatus { Active = "ACTIVE", Suspended = "SUSPENDED", Cancelled = "CANCELLED", Expired = "EXPIRED" }
);

stored_enum!(
    /// A merchant's people: its one OWNER and its STAFF.
    MerchantRole { Owner = "OWNER", Staff = "STAFF" }
);

impl FilingKind {
    /// The agency that reviews this kind.
    pub fn agency(self) -> Agency {
        match self {
            Self::Registration => Agency::MarketRegulation,
            Self::Customs => Agency::Customs,
            Self::Inspection => Agency::Inspection,
            Self::Tax => Agency::Tax,
            Self::Fx => Agency::ForeignExchange,
        }
    }

    /// CUSTOMS, TAX and FX are issued against the merchant's USCC.
    pub fn needs_uscc(self) -> bool {
        matches!(self, Self::Customs | Self::Tax | Self::Fx)
    }

    /// Chinese name for emails and pages.
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::Registration => "营业执照登记",
            Self::Customs => "海关备案",
            Self::Inspection => "检验检疫备案",
            Self::Tax => "税务登记",
            Self::Fx => "外汇名录登记",
        }
    }
}

impl FilingStatus {
    /// Decided or withdrawn: no further transition.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Approved | Self::Rejected | Self::Withdrawn)
    }

    /// Waiting on an agency, so its deadline runs.
    pub fn is_pending_review(self) -> bool {
        matches!(self, Self::Submitted | Self::UnderReview)
    }
}

impl CaseStatus {
    /// The case status is a function of its filings' statuses, nothing else.
    pub fn derive(filings: &[FilingStatus]) -> Self {
        use FilingStatus as F;
        if filings.contains(&F::Withdrawn) {
            Self::Withdrawn
        } else if filings.iter().all(|s| *s == F::Draft) {
            Self::Draft
        } else if filings.iter().all(|s| *s == F::Approved) {
            Self::Completed
        } else if filings.iter().all(|s| s.is_final()) {
            Self::ClosedWithRejections
        } else if filings.contains(&F::NeedsCorrection) {
            Self::ActionRequired
        } else {
            Self::InReview
        }
    }
}

impl Role {
    pub fn is_agency_staff(self) -> bool {
        matches!(self, Self::Officer | Self::Supervisor)
    }
}

stored_enum!(
    /// Where a background job stands. What admins see (`JobState`) also tells a QUEUED job that
    /// is due from one scheduled later and from one waiting to be retried.
    JobStatus { Queued = "QUEUED", Running = "RUNNING", Parked = "PARKED", Done = "DONE" }
);
