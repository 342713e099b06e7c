//! The merchant's side of a filing: filling it in, and resubmitting it after a correction.

use chrono::Duration;
use entity::filing;
use sea_orm::{EntityTrait, Set};
use uuid::Uuid;

use crate::{
    domain::{
        Transition,
        filing_data::{FilingData, FilingDataInput},
    },
    error::{AppError, AppResult},
    platform::{clock, state::AppState},
    services::automatic,
    services::{
        access::Scope,
        cases::{Actor, CaseChange},
    },
};

/// Opens a change of the merchant's own filing: visible (NOT_FOUND), the merchant's
/// (FORBIDDEN), at the version the client read (VERSION_CONFLICT).
async fn open_own<'s>(
    state: &'s AppState,
    scope: &Scope,
    filing_id: Uuid,
    expected_version: i32,
) -> AppResult<CaseChange<'s>> {
    let change = CaseChange::open_for_filing(state, Actor::of(scope), filing_id, |case, f| {
        scope.can_see_filing(case.merchant_id, f)
    })
    .await?;
    scope.act_for_case(change.case.merchant_id)?;
    change.expect_version(filing_id, expected_version)?;
    Ok(change)
}

/// Replaces the data of a DRAFT or NEEDS_CORRECTION filing (validated for its kind).
#[tracing::instrument(skip_all, fields(filing = %filing_id))]
pub async fn update_filing(
    state: &AppState,
    scope: &Scope,
    filing_id: Uuid,
    expected_version: i32,
    data: FilingDataInput,
) -> AppResult<filing::Model> {
    let given_kind = data.kind();
    let mut change = open_own(state, scope, filing_id, expected_version).await?;
    change.check(filing_id, Transition::Edit)?;
    let kind = change.filing(filing_id)?.kind;
    if given_kind != kind {
        return Err(AppError::validation(
            "data",
            format!("this is a {} filing: give data.{}", kind.as_str(), kind.as_str().to_lowercase()),
        ));
    }
    let stored: FilingData = data.validate(&state.config.regions)?;
    // For support ("what exactly did the merchant send?"); personal numbers print masked.
    tracing::debug!(filing = %filing_id, data = ?stored, "filing data validated");
    let json = serde_json::to_string(&stored).map_err(anyhow::Error::from)?;
    let saved = change.transition(filing_id, Transition::Edit, None, |f| f.data = Set(Some(json))).await?;
    change.commit().await?;
    Ok(saved)
}

/// Sends a corrected filing back to its agency; the review clock resumes with the time that
/// was left when the correction was asked.
#[tracing::instrument(skip_all, fields(filing = %filing_id))]
pub async fn resubmit_filing(
    state: &AppState,
    scope: &Scope,
    filing_id: Uuid,
    expected_version: i32,
) -> AppResult<filing::Model> {
    let early = match filing::Entity::find_by_id(filing_id).one(&state.db).await? {
        Some(filing) => automatic::judge_early(state, scope, filing.case_id, |f| f.id == filing_id, true).await?,
        None => automatic::Early::default(),
    };
    let mut change = open_own(state, scope, filing_id, expected_version).await?;
    change.check(filing_id, Transition::Resubmit)?;
    let filing = change.filing(filing_id)?;
    if filing.data.is_none() {
        return Err(AppError::validation("data", "is missing"));
    }
    super::corrections::require_resolved(change.txn(), filing).await?;
    let now = clock::now();
    // The clock resumes with the working days that were left (pauses from before v2 kept
    // wall-clock seconds).
    let due = match filing.paused_working_days {
        Some(days) => change.state().config.calendar.add_working_days(now, u32::try_from(days).unwrap_or(0)),
        None => now + Duration::seconds(std::cmp::max(filing.paused_remaining_secs.unwrap_or(0), 0)),
    };
    let evaluations = automatic::evaluate(&change, &[filing_id], true, early).await?;
    let referral = evaluations.first().map(|e| e.referral()).transpose()?;
    let note = evaluations.first().map(|e| e.referral_note());
    change
        .transition(filing_id, Transition::Resubmit, note.as_deref(), |f| {
            f.due_at = Set(Some(due));
            f.paused_working_days = Set(None);
            f.paused_remaining_secs = Set(None);
            f.submitted_at = Set(Some(now));
            f.automatic_decision = Set(referral);
        })
        .await?;
    automatic::apply(&mut change, evaluations).await?;
    let decided = change.filing(filing_id)?.clone();
    change.commit().await?;
    Ok(decided)
}
