//! The filing state machine and the case status derived from it (DESIGN.md, "Case workflow").
//! The statuses themselves are stored values (`entity::enums`); what may happen to them is here.

pub use entity::enums::{CaseStatus, FilingKind, FilingStatus};

use crate::error::{AppError, AppResult};

/// Something done to a filing. Every state change of a filing is one of these, checked against
/// the table in [`Transition::apply`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The merchant changes the data of a filing it may still edit (the status stays).
    Edit,
    Submit,
    Claim,
    Assign,
    /// A supervisor moves the filing to another region's office.
    Transfer,
    RequestCorrection,
    Approve,
    /// A decision rule approves a submitted filing (秒批): no officer claims it first.
    ApproveAutomatically,
    Reject,
    Resubmit,
    Withdraw,
    /// 跨省通办: the receiving office acknowledges a filing made there (the status stays).
    Receive,
}

impl Transition {
    pub const ALL: [Transition; 12] = [
        Self::Edit,
        Self::Submit,
        Self::Claim,
        Self::Assign,
        Self::Transfer,
        Self::RequestCorrection,
        Self::Approve,
        Self::ApproveAutomatically,
        Self::Reject,
        Self::Resubmit,
        Self::Withdraw,
        Self::Receive,
    ];

    /// The audit action name.
    pub fn action(self) -> &'static str {
        match self {
            Self::Edit => "filing.updated",
            Self::Submit => "filing.submitted",
            Self::Claim => "filing.claimed",
            Self::Assign => "filing.assigned",
            Self::Transfer => "filing.transferred",
            Self::RequestCorrection => "filing.correction_requested",
            // The same action as an officer's approval: one event type for integrators.
            Self::Approve | Self::ApproveAutomatically => "filing.approved",
            Self::Reject => "filing.rejected",
            Self::Resubmit => "filing.resubmitted",
            Self::Withdraw => "filing.withdrawn",
            Self::Receive => "filing.received",
        }
    }

    /// The state a filing in `from` moves to, or `INVALID_TRANSITION`: the whole table.
    pub fn apply(self, from: FilingStatus) -> AppResult<FilingStatus> {
        use FilingStatus as F;
        let to = match (self, from) {
            (Self::Edit, F::Draft | F::NeedsCorrection) => from,
            (Self::Submit, F::Draft) => F::Submitted,
            (Self::Claim, F::Submitted) => F::UnderReview,
            (Self::Assign, F::Submitted | F::UnderReview) => F::UnderReview,
            (Self::Assign, F::NeedsCorrection) => F::NeedsCorrection,
            // Back to the new office's queue; a correction under way stays with the merchant.
            (Self::Transfer, F::Submitted | F::UnderReview) => F::Submitted,
            (Self::Transfer, F::NeedsCorrection) => F::NeedsCorrection,
            // From SUBMITTED: a supervisor without claiming, or the receiving office (跨省通办).
            (Self::RequestCorrection, F::Submitted | F::UnderReview) => F::NeedsCorrection,
            (Self::Receive, F::Submitted) => F::Submitted,
            (Self::Approve, F::UnderReview) => F::Approved,
            (Self::ApproveAutomatically, F::Submitted) => F::Approved,
            (Self::Reject, F::UnderReview) => F::Rejected,
            (Self::Resubmit, F::NeedsCorrection) => F::Submitted,
            (Self::Withdraw, s) if !s.is_final() => F::Withdrawn,
            (Self::Edit, s) => {
                return Err(AppError::InvalidTransition(format!(
                    "a filing can be edited while DRAFT or NEEDS_CORRECTION, not {}",
                    s.as_str()
                )));
            }
            (Self::Transfer, s) => {
                return Err(AppError::InvalidTransition(format!("cannot transfer a filing that is {}", s.as_str())));
            }
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
            Self::Edit => "edit",
            Self::Submit => "submit",
            Self::Claim => "claim",
            Self::Assign => "assign",
            Self::Transfer => "transfer",
            Self::RequestCorrection => "request a correction of",
            Self::Approve | Self::ApproveAutomatically => "approve",
            Self::Reject => "reject",
            Self::Resubmit => "resubmit",
            Self::Withdraw => "withdraw",
            Self::Receive => "acknowledge receipt of",
        }
    }
}

/// The kinds in a case (`case_filings`: kind and status of each) that must be approved before
/// a filing of `kind` can be: CUSTOMS, TAX and FX are issued against the USCC, so they wait
/// for the case's REGISTRATION.
pub fn blocked_by(
    kind: FilingKind,
    case_filings: impl IntoIterator<Item = (FilingKind, FilingStatus)>,
) -> Vec<FilingKind> {
    if !kind.needs_uscc() {
        return Vec::new();
    }
    case_filings
        .into_iter()
        .filter(|(k, status)| *k == FilingKind::Registration && *status != FilingStatus::Approved)
        .map(|(k, _)| k)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use FilingStatus::*;
    use Transition::*;

    /// Every (transition, state) pair: the state it leads to, or `None` for INVALID_TRANSITION.
    /// Columns: DRAFT, SUBMITTED, UNDER_REVIEW, NEEDS_CORRECTION, APPROVED, REJECTED, WITHDRAWN.
    const TABLE: [(Transition, [Option<FilingStatus>; 7]); 12] = [
        (Edit, [Some(Draft), None, None, Some(NeedsCorrection), None, None, None]),
        (Submit, [Some(Submitted), None, None, None, None, None, None]),
        (Claim, [None, Some(UnderReview), None, None, None, None, None]),
        (Assign, [None, Some(UnderReview), Some(UnderReview), Some(NeedsCorrection), None, None, None]),
        (Transfer, [None, Some(Submitted), Some(Submitted), Some(NeedsCorrection), None, None, None]),
        (RequestCorrection, [None, Some(NeedsCorrection), Some(NeedsCorrection), None, None, None, None]),
        (Approve, [None, None, Some(Approved), None, None, None, None]),
        (ApproveAutomatically, [None, Some(Approved), None, None, None, None, None]),
        (Reject, [None, None, Some(Rejected), None, None, None, None]),
        (Resubmit, [None, None, None, Some(Submitted), None, None, None]),
        (Withdraw, [Some(Withdrawn), Some(Withdrawn), Some(Withdrawn), Some(Withdrawn), None, None, None]),
        (Receive, [None, Some(Submitted), None, None, None, None, None]),
    ];
    const STATES: [FilingStatus; 7] = [Draft, Submitted, UnderReview, NeedsCorrection, Approved, Rejected, Withdrawn];

    #[test]
    fn every_transition_from_every_state_is_as_the_table_says() {
        assert_eq!(TABLE.len(), Transition::ALL.len(), "every transition has a row");
        assert_eq!(STATES.len(), FilingStatus::ALL.len(), "every state has a column");
        for (transition, row) in TABLE {
            for (from, expected) in STATES.into_iter().zip(row) {
                let got = transition.apply(from);
                match expected {
                    Some(to) => assert_eq!(got.ok(), Some(to), "{transition:?} from {from:?}"),
                    None => assert!(
                        matches!(got, Err(AppError::InvalidTransition(_))),
                        "{transition:?} from {from:?} must be INVALID_TRANSITION"
                    ),
                }
            }
        }
    }

    #[test]
    fn final_states_admit_nothing() {
        for transition in Transition::ALL {
            for from in [Approved, Rejected, Withdrawn] {
                assert!(transition.apply(from).is_err(), "{transition:?} from {from:?}");
            }
        }
    }
}
