//! Approving a filing — by an officer today, by a decision rule tomorrow: both call
//! [`approve`] with a `Decider`, so an automatic approval behaves exactly like an officer's.
//!
//! What an approval does, in order: the dependencies hold (CUSTOMS, TAX and FX wait for the
//! case's REGISTRATION and need an undisputed USCC); the certificate is issued (a USCC verified
//! or issued for REGISTRATION, a drawn number for the others, the USCC for TAX); a new USCC is
//! copied into the case's other USCC-bound filings; the filing moves to APPROVED with its
//! audit event, live event and webhooks; the merchant is emailed. The case may complete on
//! commit (`CaseChange::commit`).

use chrono::Datelike;
use entity::{enums::CaseType, filing, licence, merchant};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait, sea_query::Expr};
use uuid::Uuid;

use super::decisions::{open_decision, required_note};
use crate::{
    domain::{
        FilingKind, Transition, certificates,
        filing_data::{CompanyType, CustomsBusinessType, FilingData},
        workflow::blocked_by,
    },
    error::{AppError, AppResult, OnUnique, Unique, violates},
    platform::{clock, notify::EmailKind, state::AppState},
    services::{
        access::{DecidedBy, Decider, Scope},
        automatic,
        cases::CaseChange,
        licences,
    },
};

/// How many fresh numbers to draw before giving up (a clash is rare: random digits).
const DRAWS: usize = 20;

/// An officer approves: the assigned officer or a supervisor (`Staff::can_decide`). A
/// REGISTRATION approved unblocks the case's filings waiting for it: the decision rules run on
/// them in the same transaction.
#[tracing::instrument(skip_all, fields(filing = %filing_id))]
pub async fn approve_filing(
    state: &AppState,
    scope: &Scope,
    filing_id: Uuid,
    expected_version: i32,
    note: Option<&str>,
) -> AppResult<filing::Model> {
    let note = note.filter(|n| !n.trim().is_empty()).map(required_note).transpose()?;
    let (mut change, staff) = open_decision(state, scope, filing_id, expected_version).await?;
    change.check(filing_id, Transition::Approve)?;
    let decider = staff.can_decide(change.filing(filing_id)?)?;
    let facts = automatic::facts::gather(&change, change.filing(filing_id)?, false).await?;
    let saved = approve(&mut change, Approval { decider, note: note.as_deref(), facts, automatic: None }).await?;
    automatic::after_approval(&mut change, &saved).await?;
    change.commit().await?;
    Ok(saved)
}

/// One approval: who decides, the note, the facts as they were, and (for a rule) what the
/// decision rules made of the filing.
pub struct Approval<'a> {
    pub decider: Decider<'a>,
    pub note: Option<&'a str>,
    pub facts: serde_json::Value,
    pub automatic: Option<String>,
}

/// Approves the filing the decider may decide, inside `change`, whoever decides: an officer
/// (UNDER_REVIEW → APPROVED) or a rule (SUBMITTED → APPROVED, the portal as the audit actor).
pub async fn approve(change: &mut CaseChange<'_>, approval: Approval<'_>) -> AppResult<filing::Model> {
    let Approval { decider, note, facts, automatic } = approval;
    let filing_id = decider.filing_id;
    let filing = change.filing(filing_id)?.clone();
    let (certificate, licence) = issue_or_change(change, &filing, &decider, note).await?;
    let uscc = match filing.kind {
        _ if change.case.case_type != CaseType::New => filing.uscc.clone(),
        FilingKind::Registration => certificate.clone(),
        k if k.needs_uscc() => Some(change.merchant.known_uscc().unwrap_or_default().to_string()),
        _ => filing.uscc.clone(),
    };
    let transition = match decider.by {
        DecidedBy::Officer(_) => Transition::Approve,
        DecidedBy::Rule { .. } => Transition::ApproveAutomatically,
    };
    let now = clock::now();
    let saved = change
        .transition_as(decider.actor(), filing_id, transition, note, |f| {
            f.decision_note = Set(note.map(str::to_string));
            f.decided_at = Set(Some(now));
            if certificate.is_some() {
                f.certificate_number = Set(certificate.clone());
            }
            f.uscc = Set(uscc);
            f.decided_by = Set(Some(decider.stored()));
            f.licence_id = Set(Some(licence.id));
            if automatic.is_some() {
                f.automatic_decision = Set(automatic);
            }
        })
        .await?;
    automatic::records::record(change, &saved, &decider, &facts).await?;
    change.email_merchant(EmailKind::FilingApproved, &[&saved], note, Some(&licence.number)).await?;
    Ok(saved)
}

/// A NEW case's approval issues the certificate and its licence (after the dependency
/// checks); a change case's changes the licence it references (its kinds still wait for the
/// case's REGISTRATION). The certificate number (NEW cases only) and the licence.
async fn issue_or_change(
    change: &mut CaseChange<'_>,
    filing: &filing::Model,
    decider: &Decider<'_>,
    note: Option<&str>,
) -> AppResult<(Option<String>, licence::Model)> {
    if change.case.case_type != CaseType::New {
        if let Some(first) = blocked_by(filing.kind, change.filings().iter().map(|f| (f.kind, f.status))).first() {
            return Err(AppError::DependencyNotMet(format!(
                "{} can be approved only after the case's {first} is approved",
                filing.kind
            )));
        }
        return Ok((None, licences::change::apply(change, filing, decider.actor(), note).await?));
    }
    check_dependencies(change, filing).await?;
    let certificate = issue_certificate(change, filing).await?;
    let licence = licences::issue(change, filing, &certificate, decider.actor()).await?;
    Ok((Some(certificate), licence))
}

/// CUSTOMS, TAX and FX wait for the case's REGISTRATION, and need a USCC that no other
/// merchant claims unless it was verified here.
async fn check_dependencies(change: &CaseChange<'_>, filing: &filing::Model) -> AppResult<()> {
    if !filing.kind.needs_uscc() {
        return Ok(());
    }
    let waits_for = blocked_by(filing.kind, change.filings().iter().map(|f| (f.kind, f.status)));
    if let Some(first) = waits_for.first() {
        return Err(AppError::DependencyNotMet(format!(
            "{} can be approved only after the case's {first} is approved",
            filing.kind
        )));
    }
    let merchant = &change.merchant;
    // A case opened with a profile follows the v2 rule: only a USCC issued or verified here
    // counts. (v1 cases keep accepting a declared one nobody disputes.)
    if change.case.profile.is_some() && merchant.uscc.is_none() {
        return Err(AppError::DependencyNotMet(format!(
            "{} needs a USCC issued or verified here: file a REGISTRATION first",
            filing.kind
        )));
    }
    if merchant.known_uscc().is_none() {
        return Err(AppError::DependencyNotMet("the merchant has no USCC on record".into()));
    }
    if merchant.uscc.is_none() && crate::services::merchants::declared_uscc_is_disputed(change.txn(), merchant).await? {
        return Err(AppError::DependencyNotMet(
            "the merchant's USCC is only declared and another merchant claims it too: a REGISTRATION must verify it first".into(),
        ));
    }
    Ok(())
}

/// The certificate number of the approval (written on the filing by `approve`).
async fn issue_certificate(change: &mut CaseChange<'_>, filing: &filing::Model) -> AppResult<String> {
    let data: Option<FilingData> =
        filing.data.as_deref().map(serde_json::from_str).transpose().map_err(anyhow::Error::from)?;
    match filing.kind {
        FilingKind::Registration => registration_uscc(change, filing, data.as_ref()).await,
        FilingKind::Tax => Ok(change.merchant.known_uscc().unwrap_or_default().to_string()),
        FilingKind::Customs => {
            let (district, business) = match &data {
                Some(FilingData::Customs(d)) => (d.customs_district_code.clone(), d.business_type),
                _ => ("0000".to_string(), CustomsBusinessType::EcommerceEnterprise),
            };
            draw_number(change, filing, |rng| certificates::customs_code(rng, &district, business)).await
        }
        FilingKind::Inspection | FilingKind::Fx => {
            let prefix = if filing.kind == FilingKind::Inspection { "CIQ" } else { "FX" };
            let year = clock::now().year();
            draw_number(change, filing, |rng| certificates::dated_number(rng, prefix, &filing.region_code, year)).await
        }
    }
}

/// Draws numbers until one is free, claiming it on the filing under the database's unique
/// index (each try in a savepoint: a clash is undone and the next number drawn).
async fn draw_number(
    change: &CaseChange<'_>,
    filing: &filing::Model,
    draw: impl Fn(&mut rand::rngs::ThreadRng) -> String,
) -> AppResult<String> {
    for _ in 0..DRAWS {
        let candidate = draw(&mut rand::rng());
        let attempt = change.txn().begin().await?;
        let claimed = filing::Entity::update_many()
            .col_expr(filing::Column::CertificateNumber, Expr::value(candidate.as_str()))
            .filter(filing::Column::Id.eq(filing.id))
            .exec(&attempt)
            .await;
        match claimed {
            Ok(_) => {
                attempt.commit().await?;
                return Ok(candidate);
            }
            Err(err) if violates(&err, Unique::CERTIFICATE_NUMBER) => attempt.rollback().await?,
            Err(err) => return Err(err.into()),
        }
    }
    Err(anyhow::anyhow!("no free {} certificate number after {DRAWS} draws", filing.kind.as_str()).into())
}

/// REGISTRATION: the USCC declared at submission is verified and kept; without one, a new
/// USCC is issued. Either way it becomes the merchant's (unique among verified codes) and goes
/// into the case's other USCC-bound filings.
async fn registration_uscc(
    change: &mut CaseChange<'_>,
    filing: &filing::Model,
    data: Option<&FilingData>,
) -> AppResult<String> {
    if change.merchant.uscc.is_some() {
        return Err(AppError::Conflict(
            "the merchant already holds a USCC verified here; a second registration cannot be approved".into(),
        ));
    }
    let declared = filing.uscc.clone().or_else(|| change.merchant.declared_uscc.clone());
    let code = match declared {
        Some(code) => {
            set_merchant_uscc(change, &code).await.on_unique(Unique::MERCHANT_USCC, || {
                AppError::Conflict("another merchant's registration already verified this USCC".into())
            })?;
            code
        }
        None => {
            let company_type = match data {
                Some(FilingData::Registration(d)) => d.company_type,
                _ => CompanyType::LimitedLiability,
            };
            issue_uscc(change, company_type).await?
        }
    };
    change.merchant.uscc = Some(code.clone());
    change.merchant.declared_uscc = None;
    let siblings: Vec<Uuid> =
        change.filings().iter().filter(|f| f.id != filing.id && f.kind.needs_uscc()).map(|f| f.id).collect();
    for sibling in siblings {
        let code = code.clone();
        change.write(sibling, |f| f.uscc = Set(Some(code))).await?;
    }
    Ok(code)
}

/// Draws USCCs until one is free: not verified for another merchant (the unique constraint
/// decides) and not declared by one either (it would make that merchant's code disputed).
async fn issue_uscc(change: &CaseChange<'_>, company_type: CompanyType) -> AppResult<String> {
    for _ in 0..DRAWS {
        let candidate = certificates::new_uscc(&mut rand::rng(), company_type, &change.merchant.region_code)
            .ok_or_else(|| anyhow::anyhow!("the merchant's region is not a 6-digit code"))?;
        let declared = merchant::Entity::find()
            .filter(merchant::Column::DeclaredUscc.eq(candidate.as_str()))
            .one(change.txn())
            .await?;
        if declared.is_some() {
            continue;
        }
        let attempt = change.txn().begin().await?;
        match set_merchant_uscc_on(&attempt, change.merchant.id, &candidate).await {
            Ok(()) => {
                attempt.commit().await?;
                return Ok(candidate);
            }
            Err(err) if violates(&err, Unique::MERCHANT_USCC) => attempt.rollback().await?,
            Err(err) => return Err(err.into()),
        }
    }
    Err(anyhow::anyhow!("no free USCC after {DRAWS} draws").into())
}

async fn set_merchant_uscc(change: &CaseChange<'_>, code: &str) -> Result<(), sea_orm::DbErr> {
    set_merchant_uscc_on(change.txn(), change.merchant.id, code).await
}

/// The merchant's verified USCC is `code`; it is no longer merely declared.
async fn set_merchant_uscc_on(
    db: &impl sea_orm::ConnectionTrait,
    merchant_id: Uuid,
    code: &str,
) -> Result<(), sea_orm::DbErr> {
    merchant::Entity::update_many()
        .col_expr(merchant::Column::Uscc, Expr::value(code))
        .col_expr(merchant::Column::DeclaredUscc, Expr::value(Option::<String>::None))
        .col_expr(merchant::Column::UpdatedAt, Expr::value(clock::now()))
        .filter(merchant::Column::Id.eq(merchant_id))
        .exec(db)
        .await
        .map(drop)
}
