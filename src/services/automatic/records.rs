//! Every decision — an officer's approval or rejection, a rule's approval — is recorded with
//! the facts as they were, in the decision's transaction. `simulateDecisionRule` replays
//! drafts over these records.

use entity::{decision_record, filing};
use sea_orm::{ActiveModelTrait, Set};
use uuid::Uuid;

use crate::{
    error::AppResult,
    platform::clock,
    services::{
        access::{DecidedBy, Decider},
        cases::CaseChange,
    },
};

/// Records `decided` (the filing as the decision left it: APPROVED or REJECTED).
pub async fn record(change: &CaseChange<'_>, decided: &filing::Model, decider: &Decider<'_>, facts: &serde_json::Value) -> AppResult<()> {
    let (actor_id, rule_id, rule_version) = match decider.by {
        DecidedBy::Officer(staff) => (Some(staff.user_id()), None, None),
        DecidedBy::Rule { rule_id, version } => (None, Some(rule_id), Some(version)),
    };
    decision_record::ActiveModel {
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
    }
    .insert(change.txn())
    .await?;
    Ok(())
}
