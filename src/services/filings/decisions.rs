//! The agency's side of a filing: claim, assign, request a correction, reject, transfer.
//! (Approval, with its certificates, is `approval`.) Each opens a `CaseChange`, checks in the
//! order visibility (NOT_FOUND) → agency staff (FORBIDDEN) → version → state → who decides.

use entity::{filing, user};
use sea_orm::{EntityTrait, Set};
use uuid::Uuid;

use crate::{
    domain::{RegionCode, Transition, identifiers as id},
    error::{AppError, AppResult},
    platform::{clock, notify::EmailKind, state::AppState},
    services::{
        access::{Decider, Scope, Staff, Supervisor},
        auth::accounts,
        automatic,
        cases::{Actor, CaseChange},
    },
};

use super::corrections::{self, CheckedItem, CorrectionItemInput};

/// Opens a decision on a filing: visible to the caller, the caller agency staff, the version
/// the one the client read.
pub(super) async fn open_decision<'s, 'a>(
    state: &'s AppState,
    scope: &'a Scope,
    filing_id: Uuid,
    expected_version: i32,
) -> AppResult<(CaseChange<'s>, Staff<'a>)> {
    let change = CaseChange::open_for_filing(state, Actor::of(scope), filing_id, |case, f| {
        scope.can_see_filing(case.merchant_id, f)
    })
    .await?;
    let staff = scope.require_staff()?;
    let filing = change.filing(filing_id)?;
    if !staff.can_see(filing) {
        // Visible only because another agency shared the case: read-only.
        return Err(AppError::Forbidden(
            "this case is shared with your agency read-only: you may not act on its filings".into(),
        ));
    }
    if !staff.acts_on(filing) {
        let office =
            filing.receiving_region_code.as_deref().filter(|_| filing.awaits_receipt()).unwrap_or(&filing.region_code);
        return Err(AppError::Forbidden(format!("the office in {office} acts on this filing now")));
    }
    change.expect_version(filing_id, expected_version)?;
    Ok((change, staff))
}

/// INVALID_TRANSITION while the filing awaits receipt: its receiving office may only
/// acknowledge it or ask for a correction (跨省通办).
pub(super) fn awaits_nothing(filing: &filing::Model) -> AppResult<()> {
    match (&filing.receiving_region_code, filing.received_at) {
        (Some(office), None) => Err(AppError::InvalidTransition(format!(
            "the filing awaits acknowledgement of receipt by the office in {office} (acknowledgeReceipt)"
        ))),
        _ => Ok(()),
    }
}

/// 跨省通办: the receiving office acknowledges a filing made there; it goes to the home
/// region's office for the decision.
#[tracing::instrument(skip_all, fields(filing = %filing_id))]
pub async fn acknowledge_receipt(
    state: &AppState,
    scope: &Scope,
    filing_id: Uuid,
    expected_version: i32,
) -> AppResult<filing::Model> {
    let (mut change, _staff) = open_decision(state, scope, filing_id, expected_version).await?;
    change.check(filing_id, Transition::Receive)?;
    let filing = change.filing(filing_id)?;
    if !filing.awaits_receipt() {
        return Err(AppError::InvalidTransition(
            "this filing awaits no receipt: it was filed at its home office or is received already".into(),
        ));
    }
    let note = format!(
        "received at {}, for the office in {}",
        filing.receiving_region_code.clone().unwrap_or_default(),
        filing.region_code
    );
    let now = clock::now();
    let saved =
        change.transition(filing_id, Transition::Receive, Some(&note), |f| f.received_at = Set(Some(now))).await?;
    change.commit().await?;
    Ok(saved)
}

pub(super) fn required_note(note: &str) -> AppResult<String> {
    id::text("note", note, 2000, true)
}

/// An officer takes a filing off the queue (a supervisor may take one assigned to another).
#[tracing::instrument(skip_all, fields(filing = %filing_id))]
pub async fn claim_filing(
    state: &AppState,
    scope: &Scope,
    filing_id: Uuid,
    expected_version: i32,
) -> AppResult<filing::Model> {
    let (change, staff) = open_decision(state, scope, filing_id, expected_version).await?;
    claim(change, staff, filing_id).await
}

async fn claim(mut change: CaseChange<'_>, staff: Staff<'_>, filing_id: Uuid) -> AppResult<filing::Model> {
    change.check(filing_id, Transition::Claim)?;
    awaits_nothing(change.filing(filing_id)?)?;
    let assignee = change.filing(filing_id)?.assignee_id;
    if assignee.is_some_and(|a| a != staff.user_id()) && !staff.is_supervisor() {
        return Err(AppError::Forbidden("this filing is assigned to another officer".into()));
    }
    let me = staff.user_id();
    let saved = change.transition(filing_id, Transition::Claim, None, |f| f.assignee_id = Set(Some(me))).await?;
    change.commit().await?;
    Ok(saved)
}

/// A supervisor gives a filing to an officer of its agency covering its region; the officer
/// is emailed.
#[tracing::instrument(skip_all, fields(filing = %filing_id, officer = %officer_id))]
pub async fn assign_filing(
    state: &AppState,
    scope: &Scope,
    filing_id: Uuid,
    officer_id: Uuid,
    expected_version: i32,
) -> AppResult<filing::Model> {
    let (change, _) = open_decision(state, scope, filing_id, expected_version).await?;
    let supervisor =
        scope.require_supervisor().map_err(|_| AppError::Forbidden("only a supervisor assigns filings".into()))?;
    assign(change, supervisor, filing_id, officer_id).await
}

async fn assign(
    mut change: CaseChange<'_>,
    _supervisor: Supervisor<'_>,
    filing_id: Uuid,
    officer_id: Uuid,
) -> AppResult<filing::Model> {
    change.check(filing_id, Transition::Assign)?;
    awaits_nothing(change.filing(filing_id)?)?;
    let officer = user::Entity::find_by_id(officer_id).one(change.txn()).await?;
    let regions = match &officer {
        Some(o) => accounts::regions_of(change.txn(), o.id).await?,
        None => Vec::new(),
    };
    let filing = change.filing(filing_id)?;
    let Some(officer) = officer.filter(|o| Staff::may_assign_to(o, &regions, filing)) else {
        return Err(AppError::validation(
            "officerId",
            "must be an officer of this filing's agency whose regions cover it",
        ));
    };
    // The trail names the officer; merchants read it, and an address is not theirs to see.
    let note = format!("assigned to {}", officer.display_name);
    let saved = change
        .transition(filing_id, Transition::Assign, Some(&note), |f| f.assignee_id = Set(Some(officer.id)))
        .await?;
    change.email_staff(&officer, EmailKind::FilingAssigned, &saved, None).await?;
    change.commit().await?;
    Ok(saved)
}

/// The filing goes back to the merchant with a note and the items at fault (一次性补正: every
/// field and document in one request); the review clock pauses with the working days left.
#[tracing::instrument(skip_all, fields(filing = %filing_id))]
pub async fn request_correction(
    state: &AppState,
    scope: &Scope,
    filing_id: Uuid,
    expected_version: i32,
    note: &str,
    items: Vec<CorrectionItemInput>,
) -> AppResult<filing::Model> {
    let note = required_note(note)?;
    let (change, staff) = open_decision(state, scope, filing_id, expected_version).await?;
    change.check(filing_id, Transition::RequestCorrection)?;
    let decider = staff.can_decide(change.filing(filing_id)?)?;
    let items = corrections::check_items(change.txn(), change.filing(filing_id)?, items).await?;
    send_back(change, decider, Transition::RequestCorrection, note, items).await
}

#[tracing::instrument(skip_all, fields(filing = %filing_id))]
pub async fn reject_filing(
    state: &AppState,
    scope: &Scope,
    filing_id: Uuid,
    expected_version: i32,
    note: &str,
) -> AppResult<filing::Model> {
    let note = required_note(note)?;
    let (change, staff) = open_decision(state, scope, filing_id, expected_version).await?;
    change.check(filing_id, Transition::Reject)?;
    let decider = staff.can_decide(change.filing(filing_id)?)?;
    send_back(change, decider, Transition::Reject, note, Vec::new()).await
}

/// Corrects or rejects the filing `decider` may decide, with the reason, and tells the merchant.
async fn send_back(
    mut change: CaseChange<'_>,
    decider: Decider<'_>,
    transition: Transition,
    note: String,
    items: Vec<CheckedItem>,
) -> AppResult<filing::Model> {
    let filing = change.filing(decider.filing_id)?.clone();
    let now = clock::now();
    // A correction pauses the review clock: the working days left resume on resubmission.
    let left = filing.due_at.map(|due| change.state().config.calendar.working_days_between(now, due)).unwrap_or(0);
    let facts = automatic::facts::gather(&change, &filing, false).await?;
    let trail = if items.is_empty() { note.clone() } else { format!("{note} ({} items)", items.len()) };
    let saved = change
        .transition(filing.id, transition, Some(&trail), |f| {
            f.decision_note = Set(Some(note.clone()));
            match transition {
                Transition::Reject => {
                    f.decided_at = Set(Some(now));
                    f.decided_by = Set(Some(decider.stored()));
                }
                _ => {
                    f.paused_working_days = Set(Some(i32::try_from(left).unwrap_or(i32::MAX)));
                    f.paused_remaining_secs = Set(None);
                }
            }
        })
        .await?;
    if transition == Transition::Reject {
        automatic::records::record(&change, &saved, &decider, &facts).await?;
        change.email_merchant(EmailKind::FilingRejected, &[&saved], Some(&note), None).await?;
    } else {
        corrections::store(change.txn(), saved.id, &items).await?;
        let lines: Vec<String> = items.iter().map(CheckedItem::line).collect();
        change.email_merchant_listing(EmailKind::CorrectionRequested, &[&saved], Some(&note), None, &lines).await?;
    }
    change.commit().await?;
    Ok(saved)
}

/// A supervisor moves an open filing to another western region's office of the same agency
/// (跨区域联动). The assignee is cleared (a filing under review goes back to SUBMITTED for the
/// new office to claim); both regions' supervisors are emailed.
#[tracing::instrument(skip_all, fields(filing = %filing_id))]
pub async fn transfer_filing(
    state: &AppState,
    scope: &Scope,
    filing_id: Uuid,
    region_code: &str,
    expected_version: i32,
    note: &str,
) -> AppResult<filing::Model> {
    let note = required_note(note)?;
    let region = state.config.regions.parse("regionCode", region_code)?;
    let (change, _) = open_decision(state, scope, filing_id, expected_version).await?;
    let supervisor =
        scope.require_supervisor().map_err(|_| AppError::Forbidden("only a supervisor transfers filings".into()))?;
    transfer(change, supervisor, filing_id, region, note).await
}

async fn transfer(
    mut change: CaseChange<'_>,
    _supervisor: Supervisor<'_>,
    filing_id: Uuid,
    region: RegionCode,
    note: String,
) -> AppResult<filing::Model> {
    awaits_nothing(change.filing(filing_id)?)?;
    let filing = change.filing(filing_id)?.clone();
    if region.as_str() == filing.region_code {
        return Err(AppError::validation("regionCode", "the filing is already in this region"));
    }
    change.check(filing_id, Transition::Transfer)?;
    let trail = format!("{} → {region}: {note}", filing.region_code);
    let saved = change
        .transition(filing_id, Transition::Transfer, Some(&trail), |f| {
            f.region_code = Set(region.to_string());
            f.assignee_id = Set(None);
        })
        .await?;
    let regions = [filing.region_code.as_str(), region.as_str()];
    for supervisor in accounts::supervisors_of(change.txn(), filing.agency, &regions).await? {
        change.email_staff(&supervisor, EmailKind::FilingTransferred, &saved, Some(&trail)).await?;
    }
    change.commit().await?;
    Ok(saved)
}
