//! The merchant sends its case to the agencies (every DRAFT filing at once), or withdraws what
//! is not decided yet.

use entity::{case, enums::CaseType, user};
use sea_orm::{EntityTrait, Set};
use uuid::Uuid;

use super::CaseChange;
use crate::{
    domain::{FilingKind, FilingStatus, Transition},
    error::{AppError, AppResult, FieldError},
    platform::{clock, notify::EmailKind, state::AppState},
    services::{access::Scope, automatic, requirements, stats},
};

/// Submits every DRAFT filing of the merchant's case: each gets its review deadline; the
/// merchant is emailed.
#[tracing::instrument(skip_all, fields(case = %case_id))]
pub async fn submit_case(state: &AppState, scope: &Scope, case_id: Uuid) -> AppResult<case::Model> {
    let early = automatic::judge_early(state, scope, case_id, |f| f.status == FilingStatus::Draft, false).await?;
    let mut change = CaseChange::open(state, scope, case_id).await?;
    let merchant = scope.act_for_case(change.case.merchant_id)?;
    merchant.require_kinds(change.filings().iter().map(|f| f.kind))?;
    let user = user::Entity::find_by_id(merchant.user_id())
        .one(change.txn())
        .await?
        .ok_or_else(|| AppError::Unauthenticated("the account no longer exists".into()))?;
    if user.email_verified_at.is_none() {
        return Err(AppError::validation("email", "verify your email address before submitting"));
    }
    let drafts: Vec<Uuid> = change.filings().iter().filter(|f| f.status == FilingStatus::Draft).map(|f| f.id).collect();
    if drafts.is_empty() {
        return Err(AppError::InvalidTransition("this case has nothing left to submit".into()));
    }
    check_complete(&change, &drafts).await?;
    // 秒批: the decision rules judge each filing now; a referral is written with the
    // submission, an approval follows it in this transaction (REGISTRATION first).
    let evaluations = automatic::evaluate(&change, &drafts, false, early).await?;
    let now = clock::now();
    let mut submitted = Vec::new();
    for id in drafts {
        let kind = change.filing(id)?.kind;
        let due = state.config.calendar.add_working_days(now, state.config.review_days.for_kind(kind));
        let uscc = uscc_of_submission(&change, kind);
        let evaluation = evaluations.iter().find(|e| e.filing_id == id);
        let referral = evaluation.map(|e| e.referral()).transpose()?;
        let note = evaluation.map(|e| e.referral_note());
        let saved = change
            .transition(id, Transition::Submit, note.as_deref(), |f| {
                f.submitted_at = Set(Some(now));
                f.due_at = Set(Some(due));
                if let Some(code) = uscc {
                    f.uscc = Set(code);
                }
                f.automatic_decision = Set(referral);
            })
            .await?;
        submitted.push(saved);
    }
    change.mark_submitted(now).await?;
    let lines: Vec<&entity::filing::Model> = submitted.iter().collect();
    change.email_merchant(EmailKind::CaseSubmitted, &lines, None, None).await?;
    if merchant.is_agent() {
        change.email_merchant(EmailKind::AgentSubmitted, &lines, None, None).await?;
    }
    automatic::apply(&mut change, evaluations).await?;
    stats::received::count_received(change.txn(), &submitted, now).await?;
    change.commit().await
}

/// The USCC a submitted filing carries: the known one for CUSTOMS, TAX and FX; for a
/// REGISTRATION the declared code it will verify (the officer sees it; the profile cannot swap
/// it while the registration is open). `None`: leave the filing's as it is.
fn uscc_of_submission(change: &CaseChange<'_>, kind: FilingKind) -> Option<Option<String>> {
    match kind {
        // A change case's registration amends the one that verified the USCC.
        FilingKind::Registration if change.case.case_type != CaseType::New => {
            Some(change.merchant.known_uscc().map(str::to_string))
        }
        FilingKind::Registration => Some(change.merchant.declared_uscc.clone()),
        k if k.needs_uscc() => change.merchant.known_uscc().map(|u| Some(u.to_string())),
        _ => None,
    }
}

/// Every problem that keeps the drafts from being submitted, in one VALIDATION error.
async fn check_complete(change: &CaseChange<'_>, drafts: &[Uuid]) -> AppResult<()> {
    let merchant = &change.merchant;
    let has_registration = change.filings().iter().any(|f| f.kind == FilingKind::Registration);
    // A case opened with a profile counts only a USCC issued or verified here (v2); a v1 case
    // also a declared one.
    let (usable_uscc, needs_uscc) = if change.case.profile.is_some() {
        (
            merchant.uscc.as_deref(),
            "needs a USCC issued or verified here: add a REGISTRATION filing, which verifies a declared one",
        )
    } else {
        (merchant.known_uscc(), "needs your USCC: give it in the profile or add a REGISTRATION filing")
    };
    let mut missing = Vec::new();
    // A change case references licences that stand: renewals and cancellations carry no data,
    // and what a new filing must prove (USCC, no second registration) was proved at issue.
    let case_type = change.case.case_type;
    let new = case_type == CaseType::New;
    for id in drafts {
        let f = change.filing(*id)?;
        let kind = f.kind.as_str();
        if f.data.is_none() && matches!(case_type, CaseType::New | CaseType::Amendment) {
            missing.push(FieldError::new(
                format!("filings.{kind}.data"),
                "is missing: fill this filing in (updateFiling) before submitting",
            ));
        }
        if new && f.kind == FilingKind::Registration && merchant.uscc.is_some() {
            missing.push(FieldError::new(
                "filings.REGISTRATION",
                "is not needed: your USCC was verified here; withdraw this case and file without it",
            ));
        }
        if new && f.kind.needs_uscc() && !has_registration && usable_uscc.is_none() {
            missing.push(FieldError::new(format!("filings.{kind}.uscc"), needs_uscc));
        }
    }
    let filings = drafts.iter().map(|id| change.filing(*id)).collect::<AppResult<Vec<_>>>()?;
    missing.extend(requirements::documents::missing(change.txn(), &change.case, &filings).await?);
    if missing.is_empty() { Ok(()) } else { Err(AppError::Validation(missing)) }
}

/// Withdraws every filing not yet decided, while nothing is approved.
#[tracing::instrument(skip_all, fields(case = %case_id))]
pub async fn withdraw_case(state: &AppState, scope: &Scope, case_id: Uuid) -> AppResult<case::Model> {
    let mut change = CaseChange::open(state, scope, case_id).await?;
    scope.act_for_case(change.case.merchant_id)?.require_kinds(change.filings().iter().map(|f| f.kind))?;
    if change.filings().iter().any(|f| f.status == FilingStatus::Approved) {
        return Err(AppError::InvalidTransition("a case with an approved filing cannot be withdrawn".into()));
    }
    let open: Vec<Uuid> = change.filings().iter().filter(|f| !f.status.is_final()).map(|f| f.id).collect();
    if open.is_empty() {
        return Err(AppError::InvalidTransition("nothing in this case can be withdrawn".into()));
    }
    for id in open {
        change.transition(id, Transition::Withdraw, None, |_| {}).await?;
    }
    change.commit().await
}
