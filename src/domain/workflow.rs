//! The filing state machine and the case status derived from it (DESIGN.md, "Case workflow").

use crate::error::{AppError, AppResult};

pub use entity::enums::{CaseStatus, FilingKind, FilingStatus};

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
