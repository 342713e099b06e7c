//! Every decision — an officer's approval or rejection, a rule's approval — is recorded with
//! the facts as they were, in the decision's transaction, and with its processing time (working
//! days from submission, correction pauses left out; on time or not): `simulateDecisionRule`
//! replays drafts over these records, and they are the rollup processing statistics read.
//! Each decision also counts in `onestop_filings_decided_total{agency,kind,by}` and the
//! `onestop_filing_working_days` histogram.

use entity::{audit_event, decision_record, filing};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use crate::{
    error::AppResult,
    platform::clock,
    services::{
        access::{DecidedBy, Decider},
        cases::CaseChange,
        stats,
    },
};

/// Records `decided` (the filing as the decision left it: APPROVED or REJECTED).
pub async fn record(
    change: &CaseChange<'_>,
    decided: &filing::Model,
    decider: &Decider<'_>,
    facts: &serde_json::Value,
) -> AppResult<()> {
    let (actor_id, rule_id, rule_version) = match decider.by {
        DecidedBy::Officer(staff) => (Some(staff.user_id()), None, None),
        DecidedBy::Rule { rule_id, version } => (None, Some(rule_id), Some(version)),
    };
    let times = processing_time(change, decided).await?;
    let record = decision_record::ActiveModel {
        id: Set(Uuid::now_v7()),
        filing_id: Set(decided.id),
        case_id: Set(decided.case_id),
        merchant_id: Set(change.case.merchant_id),
        agency: Set(decided.agency),
        kind: Set(decided.kind),
        region_code: Set(decided.region_code.clone()),
        outcome: Set(decided.status),
        decided_by: Set(decider.stored()),
        actor_id: Set(actor_id),
        rule_id: Set(rule_id),
        rule_version: Set(rule_version),
        facts: Set(facts.to_string()),
        at: Set(clock::now()),
        submitted_at: Set(times.submitted_at),
        working_days: Set(times.working_days),
        on_time: Set(times.on_time),
        correction_rounds: Set(Some(times.correction_rounds)),
    }
    .insert(change.txn())
    .await?;
    stats::decided::count_decided(change.txn(), &record).await?;
    let labels =
        [("agency", decided.agency.as_str()), ("kind", decided.kind.as_str()), ("by", decider.stored().as_str())];
    metrics::counter!("onestop_filings_decided_total", &labels).increment(1);
    if let Some(days) = times.working_days {
        metrics::histogram!("onestop_filing_working_days", &labels[..2]).record(f64::from(days));
    }
    Ok(())
}

/// How long a decision took, as statistics count it.
struct ProcessingTime {
    submitted_at: Option<chrono::DateTime<chrono::Utc>>,
    working_days: Option<i32>,
    on_time: Option<bool>,
    correction_rounds: i32,
}

/// Working days from the first submission (its audit event: a resubmission moves
/// `submittedAt`) to now, less the working days between each correction request and the
/// resubmission that answered it; on time when decided by `dueAt`.
async fn processing_time(change: &CaseChange<'_>, decided: &filing::Model) -> AppResult<ProcessingTime> {
    let steps = audit_event::Entity::find()
        .filter(audit_event::Column::FilingId.eq(decided.id))
        .filter(audit_event::Column::Action.is_in([
            "filing.submitted",
            "filing.correction_requested",
            "filing.resubmitted",
        ]))
        .order_by_asc(audit_event::Column::Seq)
        .all(change.txn())
        .await?;
    let now = clock::now();
    let calendar = &change.state().config.calendar;
    let (mut paused, mut rounds, mut asked, mut first) = (0u32, 0i32, None, None);
    for step in steps {
        match (step.action.as_str(), asked) {
            ("filing.submitted", _) => {
                first = first.or(Some(step.at));
            }
            ("filing.correction_requested", _) => {
                rounds += 1;
                asked = Some(step.at);
            }
            (_, Some(at)) => {
                paused += calendar.working_days_between(at, step.at);
                asked = None;
            }
            _ => {}
        }
    }
    let working_days = first
        .or(decided.submitted_at)
        .map(|submitted| calendar.working_days_between(submitted, now).saturating_sub(paused));
    Ok(ProcessingTime {
        submitted_at: first.or(decided.submitted_at),
        working_days: working_days.map(|d| i32::try_from(d).unwrap_or(i32::MAX)),
        on_time: decided.due_at.map(|due| now <= due),
        correction_rounds: rounds,
    })
}
