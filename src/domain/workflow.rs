//! The filing state machine and the case status derived from it (DESIGN.md, "Case workflow").

use async_graphql::Enum;

use super::Agency;
use crate::error::{AppError, AppResult};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FilingKind {
    Registration,
    Customs,
    Inspection,
    Tax,
    Fx,
}

impl FilingKind {
    pub const ALL: [FilingKind; 5] =
        [Self::Registration, Self::Customs, Self::Inspection, Self::Tax, Self::Fx];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "REGISTRATION",
            Self::Customs => "CUSTOMS",
            Self::Inspection => "INSPECTION",
            Self::Tax => "TAX",
            Self::Fx => "FX",
        }
    }

    pub fn parse(raw: &str) -> AppResult<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == raw)
            .ok_or_else(|| anyhow::anyhow!("unknown filing kind {raw:?} in database").into())
    }

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

    /// Chinese name for emails.
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

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FilingStatus {
    Draft,
    Submitted,
    UnderReview,
    NeedsCorrection,
    Approved,
    Rejected,
    Withdrawn,
}

impl FilingStatus {
    pub const ALL: [FilingStatus; 7] = [
        Self::Draft,
        Self::Submitted,
        Self::UnderReview,
        Self::NeedsCorrection,
        Self::Approved,
        Self::Rejected,
        Self::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::Submitted => "SUBMITTED",
            Self::UnderReview => "UNDER_REVIEW",
            Self::NeedsCorrection => "NEEDS_CORRECTION",
            Self::Approved => "APPROVED",
            Self::Rejected => "REJECTED",
            Self::Withdrawn => "WITHDRAWN",
        }
    }

    pub fn parse(raw: &str) -> AppResult<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| anyhow::anyhow!("unknown filing status {raw:?} in database").into())
    }

    /// Decided or withdrawn: no further transition.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Approved | Self::Rejected | Self::Withdrawn)
    }

    /// Waiting on an agency, so its deadline runs.
    pub fn is_pending_review(self) -> bool {
        matches!(self, Self::Submitted | Self::UnderReview)
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum CaseStatus {
    Draft,
    InReview,
    ActionRequired,
    Completed,
    ClosedWithRejections,
    Withdrawn,
}

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::InReview => "IN_REVIEW",
            Self::ActionRequired => "ACTION_REQUIRED",
            Self::Completed => "COMPLETED",
            Self::ClosedWithRejections => "CLOSED_WITH_REJECTIONS",
            Self::Withdrawn => "WITHDRAWN",
        }
    }

    pub fn parse(raw: &str) -> AppResult<Self> {
        [
            Self::Draft,
            Self::InReview,
            Self::ActionRequired,
            Self::Completed,
            Self::ClosedWithRejections,
            Self::Withdrawn,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
        .ok_or_else(|| anyhow::anyhow!("unknown case status {raw:?} in database").into())
    }

    /// The case status is a function of its filings' statuses, nothing else.
    pub fn derive(filings: &[FilingStatus]) -> Self {
        use FilingStatus as F;
        if filings.iter().any(|s| *s == F::Withdrawn) {
            Self::Withdrawn
        } else if filings.iter().all(|s| *s == F::Draft) {
            Self::Draft
        } else if filings.iter().all(|s| *s == F::Approved) {
            Self::Completed
        } else if filings.iter().all(|s| s.is_final()) {
            Self::ClosedWithRejections
        } else if filings.iter().any(|s| *s == F::NeedsCorrection) {
            Self::ActionRequired
        } else {
            Self::InReview
        }
    }
}

/// Something a person does to a filing.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    Submit,
    Claim,
    Assign,
    RequestCorrection,
    Approve,
    Reject,
    Resubmit,
    Withdraw,
}

impl Transition {
    /// The audit action name.
    pub fn action(self) -> &'static str {
        match self {
            Self::Submit => "filing.submitted",
            Self::Claim => "filing.claimed",
            Self::Assign => "filing.assigned",
            Self::RequestCorrection => "filing.correction_requested",
            Self::Approve => "filing.approved",
            Self::Reject => "filing.rejected",
            Self::Resubmit => "filing.resubmitted",
            Self::Withdraw => "filing.withdrawn",
        }
    }

    /// The state a filing in `from` moves to, or `INVALID_TRANSITION`.
    pub fn apply(self, from: FilingStatus) -> AppResult<FilingStatus> {
        use FilingStatus as F;
        let to = match (self, from) {
            (Self::Submit, F::Draft) => F::Submitted,
            (Self::Claim, F::Submitted) => F::UnderReview,
            (Self::Assign, F::Submitted | F::UnderReview) => F::UnderReview,
            (Self::Assign, F::NeedsCorrection) => F::NeedsCorrection,
            (Self::RequestCorrection, F::UnderReview) => F::NeedsCorrection,
            (Self::Approve, F::UnderReview) => F::Approved,
            (Self::Reject, F::UnderReview) => F::Rejected,
            (Self::Resubmit, F::NeedsCorrection) => F::Submitted,
            (Self::Withdraw, s) if !s.is_final() => F::Withdrawn,
            (t, s) => {
                return Err(AppError::InvalidTransition(format!(
                    "cannot {} a filing that is {}",
                    t.verb(),
                    s.as_str()
                )));
            }
        };
        Ok(to)
    }

    fn verb(self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::Claim => "claim",
            Self::Assign => "assign",
            Self::RequestCorrection => "request a correction of",
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Resubmit => "resubmit",
            Self::Withdraw => "withdraw",
        }
    }
}
