//! Filings: the merchant's edits and resubmission, and the agency side of the workflow —
//! claim, assign, request correction, approve, reject — each one transaction that checks
//! scope, role, version and state, writes the row, its audit event and its emails.

use chrono::{Datelike, Duration};
use entity::{case, filing, merchant, user};
use rand::Rng;
use sea_orm::{
    ColumnTrait, Condition, DatabaseTransaction, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, Set, sea_query::{Expr, ExprTrait, Func},
};
use uuid::Uuid;

use crate::{
    platform::events,
    services::access::Scope,
    services::audit::{self, NewEvent},
    services::cases::{self, email_merchant, lock_case, refresh_status},
    platform::clock,
    domain::{
        Agency, CaseStatus, FilingKind, FilingStatus, Transition,
        filing_data::{CompanyType, CustomsBusinessType, FilingData, FilingDataInput},
        identifiers as id, uscc,
    },
    error::{AppError, AppResult},
    platform::notify::{EmailKind, enqueue_email},
    platform::pagination::{self, Page},
    platform::state::AppState,
};

/// A filing with its case and merchant, read after the case row is locked.
struct Target {
    case: case::Model,
    filing: filing::Model,
    merchant: merchant::Model,
}

/// Locks the filing's case and reads the filing fresh; NOT_FOUND unless the caller may see it.
async fn load_target(txn: &DatabaseTransaction, scope: &Scope, filing_id: Uuid) -> AppResult<Target> {
    let not_found = || AppError::NotFound("filing".into());
    let first = filing::Entity::find_by_id(filing_id).one(txn).await?.ok_or_else(not_found)?;
    lock_case(txn, first.case_id).await?;
    let filing = filing::Entity::find_by_id(filing_id).one(txn).await?.ok_or_else(not_found)?;
    let case = case::Entity::find_by_id(filing.case_id).one(txn).await?.ok_or_else(not_found)?;
    if !scope.can_see_filing(case.merchant_id, &filing) {
        return Err(not_found());
    }
    let merchant = merchant::Entity::find_by_id(case.merchant_id).one(txn).await?.ok_or_else(not_found)?;
    Ok(Target { case, filing, merchant })
}

fn check_version(filing: &filing::Model, expected: i32) -> AppResult<()> {
    if filing.version != expected {
        return Err(AppError::VersionConflict(format!(
            "the filing changed since you read it (version {} now, you sent {expected}); reload and retry",
            filing.version
        )));
    }
    Ok(())
}

/// Writes the filing only if its version is still `expected` (belt and braces under the row
/// lock), bumping the version.
async fn save(txn: &DatabaseTransaction, mut active: filing::ActiveModel, expected: i32) -> AppResult<filing::Model> {
    active.version = Set(expected + 1);
    active.updated_at = Set(clock::now());
    filing::Entity::update(active)
        .validate()?
        .filter(filing::Column::Version.eq(expected))
        .exec(txn)
        .await
        .map_err(|e| match e {
            DbErr::RecordNotUpdated => AppError::VersionConflict("the filing changed meanwhile; reload and retry".into()),
            other => other.into(),
        })
}

async fn record(
    txn: &DatabaseTransaction,
    scope: &Scope,
    target: &Target,
    action: &str,
    from: FilingStatus,
    to: FilingStatus,
    note: Option<&str>,
) -> AppResult<Vec<events::FilingChange>> {
    let event = audit::append(
        txn,
        NewEvent {
            case_id: target.case.id,
            actor_id: Some(scope.user_id()),
            via_client: scope.via_client(),
            action,
            filing_id: Some(target.filing.id),
            from_status: Some(from),
            to_status: Some(to),
            note,
        },
    )
    .await?;
    // The filing's region after the change (a transfer moves it).
    let region_code = filing::Entity::find_by_id(target.filing.id)
        .one(txn)
        .await?
        .map(|f| f.region_code)
        .unwrap_or_else(|| target.filing.region_code.clone());
    events::stage(
        txn,
        events::FilingChange {
            filing_id: target.filing.id,
            case_id: target.case.id,
            merchant_id: target.case.merchant_id,
            agency: target.filing.agency,
            region_code,
            action: action.to_string(),
            at: event.at,
        },
    )
    .await
}

fn required_note(note: &str) -> AppResult<String> {
    id::text("note", note, 2000, true)
}

// ---------------------------------------------------------------- merchant side

pub async fn update_filing(
    state: &AppState,
    scope: &Scope,
    filing_id: Uuid,
    expected_version: i32,
    data: FilingDataInput,
) -> AppResult<filing::Model> {
    let given_kind = data.kind();
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let target = load_target(&txn, scope, filing_id).await?;
    scope.own_merchant()?;
    check_version(&target.filing, expected_version)?;
    let status = target.filing.status;
    if !matches!(status, FilingStatus::Draft | FilingStatus::NeedsCorrection) {
        return Err(AppError::InvalidTransition(format!(
            "a filing can be edited while DRAFT or NEEDS_CORRECTION, not {}",
            status.as_str()
        )));
    }
    let kind = target.filing.kind;
    if given_kind != kind {
        return Err(AppError::validation(
            "data",
            format!("this is a {} filing: give data.{}", kind.as_str(), kind.as_str().to_lowercase()),
        ));
    }
    let stored: FilingData = data.validate(&state.config.regions)?;
    // For support ("what exactly did the merchant send?"); personal numbers print masked.
    tracing::debug!(filing = %filing_id, data = ?stored, "filing data validated");
    let mut active: filing::ActiveModel = target.filing.clone().into();
    active.data = Set(Some(serde_json::to_string(&stored).map_err(anyhow::Error::from)?));
    let saved = save(&txn, active, expected_version).await?;
    // Edits are not transitions, but they go on the trail too.
    let staged = record(&txn, scope, &target, "filing.updated", status, status, None).await?;
    txn.commit().await?;
    state.events.publish(staged);
    Ok(saved)
}

pub async fn resubmit_filing(
    state: &AppState,
    scope: &Scope,
    filing_id: Uuid,
    expected_version: i32,
) -> AppResult<filing::Model> {
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let target = load_target(&txn, scope, filing_id).await?;
    scope.own_merchant()?;
    check_version(&target.filing, expected_version)?;
    let from = target.filing.status;
    let to = Transition::Resubmit.apply(from)?;
    if target.filing.data.is_none() {
        return Err(AppError::validation("data", "is missing"));
    }
    let now = clock::now();
    // The review clock resumes with the time that was left when the correction was asked.
    let remaining = Duration::seconds(std::cmp::max(target.filing.paused_remaining_secs.unwrap_or(0), 0));
    let mut active: filing::ActiveModel = target.filing.clone().into();
    active.status = Set(to);
    active.due_at = Set(Some(now + remaining));
    active.paused_remaining_secs = Set(None);
    active.submitted_at = Set(Some(now));
    let saved = save(&txn, active, expected_version).await?;
    let staged = record(&txn, scope, &target, Transition::Resubmit.action(), from, to, None).await?;
    refresh_status(&txn, &target.case).await?;
    txn.commit().await?;
    state.events.publish(staged);
    Ok(saved)
}

// ---------------------------------------------------------------- agency side

/// Opens a decision: the filing must be visible, the caller agency staff, the version current.
async fn open_decision(
    state: &AppState,
    scope: &Scope,
    filing_id: Uuid,
    expected_version: i32,
) -> AppResult<(DatabaseTransaction, Target)> {
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let target = load_target(&txn, scope, filing_id).await?;
    scope.agency_staff()?;
    check_version(&target.filing, expected_version)?;
    Ok((txn, target))
}

/// Only the assignee, or a supervisor, decides.
fn check_decider(scope: &Scope, filing: &filing::Model) -> AppResult<()> {
    if scope.is_supervisor() || filing.assignee_id == Some(scope.user_id()) {
        Ok(())
    } else {
        Err(AppError::Forbidden("only the assigned officer or a supervisor may decide this filing".into()))
    }
}

pub async fn claim_filing(
    state: &AppState,
    scope: &Scope,
    filing_id: Uuid,
    expected_version: i32,
) -> AppResult<filing::Model> {
    let (txn, target) = open_decision(state, scope, filing_id, expected_version).await?;
    let from = target.filing.status;
    let to = Transition::Claim.apply(from)?;
    if let Some(assignee) = target.filing.assignee_id {
        if assignee != scope.user_id() && !scope.is_supervisor() {
            return Err(AppError::Forbidden("this filing is assigned to another officer".into()));
        }
    }
    let mut active: filing::ActiveModel = target.filing.clone().into();
    active.status = Set(to);
    active.assignee_id = Set(Some(scope.user_id()));
    let saved = save(&txn, active, expected_version).await?;
    let staged = record(&txn, scope, &target, Transition::Claim.action(), from, to, None).await?;
    refresh_status(&txn, &target.case).await?;
    txn.commit().await?;
    state.events.publish(staged);
    Ok(saved)
}

pub async fn assign_filing(
    state: &AppState,
    scope: &Scope,
    filing_id: Uuid,
    officer_id: Uuid,
    expected_version: i32,
) -> AppResult<filing::Model> {
    let (txn, target) = open_decision(state, scope, filing_id, expected_version).await?;
    if !scope.is_supervisor() {
        return Err(AppError::Forbidden("only a supervisor assigns filings".into()));
    }
    let from = target.filing.status;
    let to = Transition::Assign.apply(from)?;
    let officer = user::Entity::find_by_id(officer_id).one(&txn).await?;
    let covers = |o: &user::Model| {
        o.role.is_agency_staff()
            && o.agency == Some(target.filing.agency)
            && serde_json::from_str::<Vec<String>>(&o.regions)
                .is_ok_and(|r| r.contains(&target.filing.region_code))
    };
    let Some(officer) = officer.filter(covers) else {
        return Err(AppError::validation(
            "officerId",
            "must be an officer of this filing's agency whose regions cover it",
        ));
    };
    let mut active: filing::ActiveModel = target.filing.clone().into();
    active.status = Set(to);
    active.assignee_id = Set(Some(officer.id));
    let saved = save(&txn, active, expected_version).await?;
    // The trail names the officer; merchants read it, and an address is not theirs to see.
    let note = format!("assigned to {}", officer.display_name);
    let staged = record(&txn, scope, &target, Transition::Assign.action(), from, to, Some(&note)).await?;
    refresh_status(&txn, &target.case).await?;
    enqueue_email(
        &txn,
        &state.templates,
        &officer.email,
        EmailKind::FilingAssigned,
        serde_json::json!({
            "display_name": officer.display_name,
            "reference": target.case.reference,
            "filings": [cases::filing_line(&saved)],
            "link": format!("{}/filings/{}", state.config.public_base_url, saved.id),
        }),
    )
    .await?;
    txn.commit().await?;
    state.events.publish(staged);
    state.outbox_wakeup.notify_one();
    Ok(saved)
}

pub async fn request_correction(
    state: &AppState,
    scope: &Scope,
    filing_id: Uuid,
    expected_version: i32,
    note: &str,
) -> AppResult<filing::Model> {
    decide_with_note(state, scope, filing_id, expected_version, note, Transition::RequestCorrection, |target, active| {
        // Pause the review clock: keep what is left and resume it on resubmission.
        let now = clock::now();
        let remaining = target.filing.due_at.map(|due| std::cmp::max((due - now).num_seconds(), 0)).unwrap_or(0);
        active.paused_remaining_secs = Set(Some(remaining));
    })
    .await
}

pub async fn reject_filing(
    state: &AppState,
    scope: &Scope,
    filing_id: Uuid,
    expected_version: i32,
    note: &str,
) -> AppResult<filing::Model> {
    decide_with_note(state, scope, filing_id, expected_version, note, Transition::Reject, |_, active| {
        active.decided_at = Set(Some(clock::now()));
    })
    .await
}

/// A decision that needs a reason and tells the merchant: request a correction or reject.
async fn decide_with_note(
    state: &AppState,
    scope: &Scope,
    filing_id: Uuid,
    expected_version: i32,
    note: &str,
    transition: Transition,
    adjust: impl FnOnce(&Target, &mut filing::ActiveModel),
) -> AppResult<filing::Model> {
    let note = required_note(note)?;
    let (txn, target) = open_decision(state, scope, filing_id, expected_version).await?;
    let from = target.filing.status;
    let to = transition.apply(from)?;
    check_decider(scope, &target.filing)?;
    let mut active: filing::ActiveModel = target.filing.clone().into();
    active.status = Set(to);
    active.decision_note = Set(Some(note.clone()));
    adjust(&target, &mut active);
    let saved = save(&txn, active, expected_version).await?;
    let staged = record(&txn, scope, &target, transition.action(), from, to, Some(&note)).await?;
    refresh_status(&txn, &target.case).await?;
    let email = if transition == Transition::Reject { EmailKind::FilingRejected } else { EmailKind::CorrectionRequested };
    email_merchant(&txn, state, &target.merchant, &target.case, email, &[&saved], Some(&note), None).await?;
    txn.commit().await?;
    state.events.publish(staged);
    state.outbox_wakeup.notify_one();
    Ok(saved)
}

pub async fn approve_filing(
    state: &AppState,
    scope: &Scope,
    filing_id: Uuid,
    expected_version: i32,
    note: Option<&str>,
) -> AppResult<filing::Model> {
    let note = note.filter(|n| !n.trim().is_empty()).map(required_note).transpose()?;
    let (txn, target) = open_decision(state, scope, filing_id, expected_version).await?;
    let from = target.filing.status;
    let to = Transition::Approve.apply(from)?;
    check_decider(scope, &target.filing)?;
    let kind = target.filing.kind;
    let siblings = cases::filings_of(&txn, target.case.id).await?;
    if kind.needs_uscc() {
        let registration = siblings.iter().find(|f| f.kind == FilingKind::Registration);
        if registration.is_some_and(|r| r.status != FilingStatus::Approved) {
            return Err(AppError::DependencyNotMet(format!(
                "{} can be approved only after the case's REGISTRATION is approved",
                kind.as_str()
            )));
        }
        if target.merchant.known_uscc().is_none() {
            return Err(AppError::DependencyNotMet("the merchant has no USCC on record".into()));
        }
        // A code only declared, that another merchant also claims, must be verified by a
        // registration before an agency issues anything under it.
        if target.merchant.uscc.is_none() && crate::services::merchants::declared_uscc_is_disputed(&txn, &target.merchant).await? {
            return Err(AppError::DependencyNotMet(
                "the merchant's USCC is only declared and another merchant claims it too: a REGISTRATION must verify it first".into(),
            ));
        }
    }
    let data: Option<FilingData> = target
        .filing
        .data
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(anyhow::Error::from)?;
    let certificate = match kind {
        FilingKind::Registration => {
            if target.merchant.uscc.is_some() {
                return Err(AppError::Conflict(
                    "the merchant already holds a USCC verified here; a second registration cannot be approved".into(),
                ));
            }
            let company_type = match &data {
                Some(FilingData::Registration(d)) => d.company_type,
                _ => CompanyType::LimitedLiability,
            };
            // The code declared at submission is verified by this approval and kept; without
            // one, a code is issued.
            let declared = target.filing.uscc.clone().or_else(|| target.merchant.declared_uscc.clone());
            let issued = match &declared {
                Some(declared) => verify_declared_uscc(&txn, &target.merchant, declared).await?,
                None => issue_uscc(&txn, &target.merchant, company_type).await?,
            };
            copy_uscc(&txn, &target, &siblings, &issued).await?;
            issued
        }
        FilingKind::Tax => target.merchant.known_uscc().unwrap_or_default().to_string(),
        FilingKind::Customs => {
            let (district, business) = match &data {
                Some(FilingData::Customs(d)) => (d.customs_district_code.clone(), d.business_type),
                _ => ("0000".to_string(), CustomsBusinessType::EcommerceEnterprise),
            };
            unique_number(&txn, kind, || customs_code(&district, business)).await?
        }
        FilingKind::Inspection => {
            let region = target.filing.region_code.clone();
            unique_number(&txn, kind, || dated_number("CIQ", &region)).await?
        }
        FilingKind::Fx => {
            let region = target.filing.region_code.clone();
            unique_number(&txn, kind, || dated_number("FX", &region)).await?
        }
    };
    let filing_now = filing::Entity::find_by_id(target.filing.id).one(&txn).await?.ok_or_else(|| AppError::NotFound("filing".into()))?;
    let mut active: filing::ActiveModel = filing_now.into();
    active.status = Set(to);
    active.decision_note = Set(note.clone());
    active.decided_at = Set(Some(clock::now()));
    active.certificate_number = Set(Some(certificate.clone()));
    if kind == FilingKind::Registration || kind.needs_uscc() {
        active.uscc = Set(Some(if kind == FilingKind::Registration { certificate.clone() } else { target.merchant.known_uscc().unwrap_or_default().to_string() }));
    }
    let saved = save(&txn, active, expected_version).await?;
    let staged = record(&txn, scope, &target, Transition::Approve.action(), from, to, note.as_deref()).await?;
    let (before, after) = refresh_status(&txn, &target.case).await?;
    email_merchant(&txn, state, &target.merchant, &target.case, EmailKind::FilingApproved, &[&saved], note.as_deref(), Some(&certificate)).await?;
    if after == CaseStatus::Completed && before != CaseStatus::Completed {
        audit::append(
            &txn,
            NewEvent {
                case_id: target.case.id,
                actor_id: None,
                via_client: None,
                action: "case.completed",
                filing_id: None,
                from_status: None,
                to_status: None,
                note: None,
            },
        )
        .await?;
        let all = cases::filings_of(&txn, target.case.id).await?;
        let lines: Vec<&filing::Model> = all.iter().collect();
        email_merchant(&txn, state, &target.merchant, &target.case, EmailKind::CaseCompleted, &lines, None, None).await?;
    }
    txn.commit().await?;
    state.events.publish(staged);
    state.outbox_wakeup.notify_one();
    Ok(saved)
}

/// SUPERVISOR: moves an open filing to another western region's office of the same agency
/// (跨区域联动). The assignee is cleared (a filing under review goes back to SUBMITTED for the
/// new office to claim); both regions' supervisors are emailed.
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
    let (txn, target) = open_decision(state, scope, filing_id, expected_version).await?;
    if !scope.is_supervisor() {
        return Err(AppError::Forbidden("only a supervisor transfers filings".into()));
    }
    if region.as_str() == target.filing.region_code {
        return Err(AppError::validation("regionCode", "the filing is already in this region"));
    }
    let from = target.filing.status;
    let to = match from {
        FilingStatus::Submitted | FilingStatus::UnderReview => FilingStatus::Submitted,
        FilingStatus::NeedsCorrection => FilingStatus::NeedsCorrection,
        other => {
            return Err(AppError::InvalidTransition(format!("cannot transfer a filing that is {}", other.as_str())));
        }
    };
    let old_region = target.filing.region_code.clone();
    let mut active: filing::ActiveModel = target.filing.clone().into();
    active.status = Set(to);
    active.region_code = Set(region.to_string());
    active.assignee_id = Set(None);
    let saved = save(&txn, active, expected_version).await?;
    let trail = format!("{old_region} → {region}: {note}");
    let staged = record(&txn, scope, &target, "filing.transferred", from, to, Some(&trail)).await?;
    refresh_status(&txn, &target.case).await?;
    let agency = target.filing.agency;
    let supervisors = crate::services::auth::accounts::supervisors_of(&txn, agency, &[old_region.as_str(), region.as_str()]).await?;
    for supervisor in supervisors {
        enqueue_email(
            &txn,
            &state.templates,
            &supervisor.email,
            EmailKind::FilingTransferred,
            serde_json::json!({
                "display_name": supervisor.display_name,
                "reference": target.case.reference,
                "filings": [cases::filing_line(&saved)],
                "note": trail,
                "link": format!("{}/filings/{}", state.config.public_base_url, saved.id),
            }),
        )
        .await?;
    }
    txn.commit().await?;
    state.events.publish(staged);
    state.outbox_wakeup.notify_one();
    Ok(saved)
}

/// A new valid USCC (GB 32100): `9` (market regulation), the entity type, the merchant's
/// region, a 9-character organisation code (GB 11714, with its own check), the check character.
async fn issue_uscc(txn: &DatabaseTransaction, merchant: &merchant::Model, company_type: CompanyType) -> AppResult<String> {
    let type_char = match company_type {
        CompanyType::IndividualBusiness => '2',
        CompanyType::FarmerCooperative => '3',
        _ => '1',
    };
    for _ in 0..10 {
        let body: String = (0..8).map(|_| char::from(b'0' + rand::rng().random_range(0..10u8))).collect();
        let first17 = format!("9{type_char}{}{body}{}", merchant.region_code, organisation_check(&body));
        let check = uscc::check_character(first17.as_bytes()).ok_or_else(|| anyhow::anyhow!("USCC alphabet"))?;
        let code = format!("{first17}{}", check as char);
        let taken = merchant::Entity::find()
            .filter(Condition::any().add(merchant::Column::Uscc.eq(code.as_str())).add(merchant::Column::DeclaredUscc.eq(code.as_str())))
            .one(txn)
            .await?;
        if taken.is_none() {
            merchant::Entity::update_many()
                .col_expr(merchant::Column::Uscc, Expr::value(code.as_str()))
                .col_expr(merchant::Column::UpdatedAt, Expr::value(clock::now()))
                .filter(merchant::Column::Id.eq(merchant.id))
                .exec(txn)
                .await?;
            return Ok(code);
        }
    }
    Err(anyhow::anyhow!("could not find a free USCC").into())
}

/// Approving the registration of a merchant that declared its USCC verifies that code: it
/// becomes the merchant's USCC (unique among verified codes) and stops being merely declared.
async fn verify_declared_uscc(txn: &DatabaseTransaction, merchant: &merchant::Model, declared: &str) -> AppResult<String> {
    merchant::Entity::update_many()
        .col_expr(merchant::Column::Uscc, Expr::value(declared))
        .col_expr(merchant::Column::DeclaredUscc, Expr::value(Option::<String>::None))
        .col_expr(merchant::Column::UpdatedAt, Expr::value(clock::now()))
        .filter(merchant::Column::Id.eq(merchant.id))
        .exec(txn)
        .await
        .map_err(|err| match err.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
                AppError::Conflict("another merchant's registration already verified this USCC".into())
            }
            _ => err.into(),
        })?;
    Ok(declared.to_string())
}

/// GB 11714 check character of an 8-digit organisation code body.
fn organisation_check(body: &str) -> char {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body.bytes().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        n => char::from(b'0' + n as u8),
    }
}

/// The issued USCC goes into the case's other USCC-bound filings (a write: versions move).
async fn copy_uscc(txn: &DatabaseTransaction, target: &Target, siblings: &[filing::Model], code: &str) -> AppResult<()> {
    for sibling in siblings.iter().filter(|f| f.id != target.filing.id) {
        if sibling.kind.needs_uscc() {
            filing::Entity::update_many()
                .col_expr(filing::Column::Uscc, Expr::value(code))
                .col_expr(filing::Column::Version, Expr::col(filing::Column::Version).add(1))
                .col_expr(filing::Column::UpdatedAt, Expr::value(clock::now()))
                .filter(filing::Column::Id.eq(sibling.id))
                .exec(txn)
                .await?;
        }
    }
    Ok(())
}

fn random_digits(n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rand::rng().random_range(0..10u8))).collect()
}

/// 10 characters: customs district, economic-zone class (9: none), business type, sequence.
fn customs_code(district: &str, business: CustomsBusinessType) -> String {
    let type_digit = match business {
        CustomsBusinessType::EcommerceEnterprise => '1',
        CustomsBusinessType::EcommercePlatform => '2',
        CustomsBusinessType::Logistics => '3',
        CustomsBusinessType::Payment => '4',
    };
    format!("{district}9{type_digit}{}", random_digits(4))
}

fn dated_number(prefix: &str, region: &str) -> String {
    format!("{prefix}{region}{}{}", clock::now().year(), random_digits(6))
}

async fn unique_number(txn: &DatabaseTransaction, kind: FilingKind, make: impl Fn() -> String) -> AppResult<String> {
    for _ in 0..20 {
        let candidate = make();
        let taken = filing::Entity::find()
            .filter(filing::Column::Kind.eq(kind))
            .filter(filing::Column::CertificateNumber.eq(candidate.as_str()))
            .one(txn)
            .await?;
        if taken.is_none() {
            return Ok(candidate);
        }
    }
    Err(anyhow::anyhow!("no free {} certificate number", kind.as_str()).into())
}

// ---------------------------------------------------------------- queries

pub async fn find_visible(state: &AppState, scope: &Scope, filing_id: Uuid) -> AppResult<filing::Model> {
    let not_found = || AppError::NotFound("filing".into());
    let filing = filing::Entity::find_by_id(filing_id).one(&state.db).await?.ok_or_else(not_found)?;
    let case = case::Entity::find_by_id(filing.case_id).one(&state.db).await?.ok_or_else(not_found)?;
    if scope.can_see_filing(case.merchant_id, &filing) { Ok(filing) } else { Err(not_found()) }
}

#[derive(Default, Clone)]
pub struct QueueFilter {
    pub kinds: Option<Vec<FilingKind>>,
    pub statuses: Option<Vec<FilingStatus>>,
    pub region_codes: Option<Vec<String>>,
    pub assigned_to_me: Option<bool>,
    pub overdue: Option<bool>,
}

fn pending_and_late(now: chrono::DateTime<chrono::Utc>) -> Condition {
    Condition::all()
        .add(filing::Column::Status.is_in([FilingStatus::Submitted.as_str(), FilingStatus::UnderReview.as_str()]))
        .add(filing::Column::DueAt.lt(now))
}

/// Filings waiting on the caller's agency in its regions, soonest deadline first, keyset
/// paginated on (due_at, id).
pub async fn review_queue(
    state: &AppState,
    scope: &Scope,
    first: Option<i32>,
    after: Option<String>,
    filter: QueueFilter,
) -> AppResult<Page<filing::Model>> {
    if matches!(scope, Scope::Merchant { .. }) {
        return Err(AppError::Forbidden("the review queue is for agency staff".into()));
    }
    let limit = pagination::page_size(first)?;
    let now = clock::now();
    let mut query = filing::Entity::find()
        .filter(filing::Column::Status.ne(FilingStatus::Draft))
        .filter(filing::Column::DueAt.is_not_null())
        .order_by_asc(filing::Column::DueAt)
        .order_by_asc(filing::Column::Id)
        .limit(limit + 1);
    if let Some(condition) = scope.filing_condition() {
        query = query.filter(condition);
    }
    if let Some(kinds) = filter.kinds.filter(|k| !k.is_empty()) {
        query = query.filter(filing::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())));
    }
    // Without `statuses`, the queue is the open work: waiting for a claim or under review
    // (a resubmitted filing is SUBMITTED again). Decided filings are asked for by status.
    let statuses = filter.statuses.filter(|s| !s.is_empty()).unwrap_or_else(|| vec![FilingStatus::Submitted, FilingStatus::UnderReview]);
    query = query.filter(filing::Column::Status.is_in(statuses.iter().map(|s| s.as_str())));
    if let Some(regions) = filter.region_codes.filter(|r| !r.is_empty()) {
        query = query.filter(filing::Column::RegionCode.is_in(regions));
    }
    if filter.assigned_to_me == Some(true) {
        query = query.filter(filing::Column::AssigneeId.eq(scope.user_id()));
    }
    match filter.overdue {
        Some(true) => query = query.filter(pending_and_late(now)),
        Some(false) => query = query.filter(pending_and_late(now).not()),
        None => {}
    }
    let had_cursor = after.is_some();
    if let Some(cursor) = after {
        let (due, id) = decode_queue_cursor(&cursor)?;
        query = query.filter(
            Condition::any()
                .add(filing::Column::DueAt.gt(due))
                .add(Condition::all().add(filing::Column::DueAt.eq(due)).add(filing::Column::Id.gt(id))),
        );
    }
    Ok(pagination::into_page(query.all(&state.db).await?, limit, had_cursor))
}

pub fn queue_cursor(f: &filing::Model) -> String {
    let due = f.due_at.map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)).unwrap_or_default();
    pagination::encode_cursor(&format!("{due}|{}", f.id))
}

fn decode_queue_cursor(cursor: &str) -> AppResult<(chrono::DateTime<chrono::Utc>, Uuid)> {
    let invalid = || AppError::validation("after", "is not a cursor from this list");
    let raw = pagination::decode_cursor(cursor)?;
    let (due, id) = raw.split_once('|').ok_or_else(invalid)?;
    let due = chrono::DateTime::parse_from_rfc3339(due).map_err(|_| invalid())?.with_timezone(&chrono::Utc);
    Ok((due, Uuid::parse_str(id).map_err(|_| invalid())?))
}

#[derive(Debug, FromQueryResult)]
pub struct WorkloadRow {
    pub agency: Agency,
    pub region_code: String,
    pub status: FilingStatus,
    pub count: i64,
    pub overdue: i64,
    pub high_risk: i64,
}

/// Counts by agency, region and status, with how many are overdue (supervisors: their
/// agency and regions; admins: all). Aggregated in SQL.
pub async fn workload(state: &AppState, scope: &Scope) -> AppResult<Vec<WorkloadRow>> {
    match scope {
        Scope::Agency { supervisor: true, .. } | Scope::Admin { .. } => {}
        _ => return Err(AppError::Forbidden("workload reports are for supervisors".into())),
    }
    let now = clock::now();
    let late = Expr::case(
        Expr::col(filing::Column::Status)
            .is_in([FilingStatus::Submitted.as_str(), FilingStatus::UnderReview.as_str()])
            .and(Expr::col(filing::Column::DueAt).lt(now)),
        1,
    )
    .finally(0);
    let risky_cases = sea_orm::sea_query::Query::select()
        .column((case::Entity, case::Column::Id))
        .from(case::Entity)
        .inner_join(
            merchant::Entity,
            Expr::col((merchant::Entity, merchant::Column::Id)).equals((case::Entity, case::Column::MerchantId)),
        )
        .and_where(Expr::col((merchant::Entity, merchant::Column::RiskLevel)).gte(crate::services::quality::MAX_RISK))
        .to_owned();
    let risky = Expr::case(
        Expr::col(filing::Column::Status)
            .is_in([
                FilingStatus::Submitted.as_str(),
                FilingStatus::UnderReview.as_str(),
                FilingStatus::NeedsCorrection.as_str(),
            ])
            .and(Expr::col(filing::Column::CaseId).in_subquery(risky_cases)),
        1,
    )
    .finally(0);
    let mut query = filing::Entity::find()
        .select_only()
        .column(filing::Column::Agency)
        .column(filing::Column::RegionCode)
        .column(filing::Column::Status)
        .column_as(Expr::col(filing::Column::Id).count(), "count")
        .column_as(Expr::expr(Func::coalesce([Expr::expr(Func::sum(late)), Expr::val(0)])), "overdue")
        .column_as(Expr::expr(Func::coalesce([Expr::expr(Func::sum(risky)), Expr::val(0)])), "high_risk")
        .filter(filing::Column::Status.ne(FilingStatus::Draft))
        .group_by(filing::Column::Agency)
        .group_by(filing::Column::RegionCode)
        .group_by(filing::Column::Status)
        .order_by_asc(filing::Column::Agency)
        .order_by_asc(filing::Column::RegionCode)
        .order_by_asc(filing::Column::Status);
    if let Some(condition) = scope.filing_condition() {
        query = query.filter(condition);
    }
    Ok(query.into_model::<WorkloadRow>().all(&state.db).await?)
}
