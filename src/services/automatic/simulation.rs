//! `simulateDecisionRule`: a draft rule replayed over the facts stored with the last N days'
//! decisions of its kind, in the supervisor's regions, before anyone enables it. At most the
//! newest [`REPLAYED`] decisions are replayed, each within the rule deadline
//! (`platform::rule_runner`): a draft that runs out of time on one is refused as too costly.

use entity::{decision_record, filing};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::{
    domain::{FilingStatus, decision_facts::DecisionRuleInput, rules},
    error::{AppError, AppResult},
    platform::{clock, state::AppState},
    services::access::Supervisor,
};

/// Filings shown as examples of what the draft would have approved.
const SAMPLE: usize = 20;
const DEFAULT_DAYS: i32 = 30;
/// Decisions replayed at most (the newest): enough to judge a draft, bounded in time.
pub const REPLAYED: u64 = 2_000;

pub struct Simulation {
    pub evaluated: u64,
    pub would_approve: u64,
    pub would_approve_but_officer_rejected: u64,
    /// Filings it would have approved (at most 20, newest first), all of them in the
    /// supervisor's agency and regions.
    pub sample: Vec<filing::Model>,
}

#[tracing::instrument(skip_all, fields(kind = %input.kind))]
pub async fn simulate(
    state: &AppState,
    supervisor: Supervisor<'_>,
    input: DecisionRuleInput,
    last_days: Option<i32>,
) -> AppResult<Simulation> {
    let input = super::rules::validate(state, &supervisor, input)?;
    let days = last_days.unwrap_or(DEFAULT_DAYS);
    if !(1..=366).contains(&days) {
        return Err(AppError::validation("lastDays", "must be 1 to 366 days"));
    }
    let program = state.rule_programs.compile("input.condition", &input.condition, &rules::DECISION_FACTS)?;
    let since = clock::now() - chrono::Duration::days(i64::from(days));
    let records = decision_record::Entity::find()
        .filter(decision_record::Column::Agency.eq(supervisor.agency))
        .filter(decision_record::Column::Kind.eq(input.kind))
        .filter(decision_record::Column::RegionCode.is_in(supervisor.regions.to_vec()))
        .filter(decision_record::Column::At.gte(since))
        .order_by_desc(decision_record::Column::At)
        .limit(REPLAYED)
        .all(&state.db)
        .await?;
    // Facts stored before this version may not parse: they are not replayed.
    let replayed: Vec<(&decision_record::Model, serde_json::Value)> =
        records.iter().filter_map(|r| serde_json::from_str(&r.facts).ok().map(|facts| (r, facts))).collect();
    let (records, facts): (Vec<_>, Vec<_>) = replayed.into_iter().unzip();
    let verdicts = state.rule_runner.replay(&program, facts).await?;
    let mut simulation =
        Simulation { evaluated: 0, would_approve: 0, would_approve_but_officer_rejected: 0, sample: Vec::new() };
    let mut sample_ids = Vec::new();
    for (record, verdict) in records.iter().zip(verdicts) {
        simulation.evaluated += 1;
        if !verdict.applies() {
            continue;
        }
        simulation.would_approve += 1;
        if record.outcome == FilingStatus::Rejected {
            simulation.would_approve_but_officer_rejected += 1;
        }
        if sample_ids.len() < SAMPLE && !sample_ids.contains(&record.filing_id) {
            sample_ids.push(record.filing_id);
        }
    }
    let filings = filing::Entity::find().filter(filing::Column::Id.is_in(sample_ids.clone())).all(&state.db).await?;
    simulation.sample = sample_ids
        .iter()
        .filter_map(|id| filings.iter().find(|f| f.id == *id && supervisor.can_see(f)).cloned())
        .collect();
    Ok(simulation)
}
