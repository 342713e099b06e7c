//! Straight-through decisions (秒批): on submission and resubmission the enabled decision rules
//! of each filing's agency and kind judge it, and the decision is written in the same
//! transaction as the submission. The rules run before the case is locked ([`judge_early`], on
//! the rule runner with its deadline); under the lock the facts are read again and a verdict is
//! kept only while they are the same, else the rules run again there. A match approves through
//! `filings::approval::approve` — exactly the officer's path, as `Decider::rule` — otherwise
//! the filing is REFERRED to the queue with each rule's explanation. A filing waiting for its
//! REGISTRATION is REFERRED ("waits for REGISTRATION") without running the rules, and decided
//! when the REGISTRATION is approved, by the rules in force then, if still SUBMITTED. A rule
//! never rejects.
//!
//! Cost: one tiny query for the rules' generation (the enabled rules are kept in memory while
//! it stands); when a filing that does not wait has rules, the case and the merchant's record
//! read once before the lock and the record again under it; a referral is written with the
//! submission itself.

pub mod facts;

use facts::CaseFacts;
pub mod records;
pub mod rules;
pub mod simulation;

use std::collections::BTreeSet;

use entity::{decision_rule, enums::DecisionOutcome};
use sea_orm::{ConnectionTrait, Set};
use uuid::Uuid;

use crate::{
    domain::{
        FilingKind, FilingStatus,
        decision_facts::{AutomaticDecision, RuleEvaluation},
        rules::{Compiled, DECISION_FACTS, Verdict},
        workflow::blocked_by,
    },
    error::{AppError, AppResult},
    platform::{clock, state::AppState},
    services::{
        access::{Decider, Scope},
        cases::{self, CaseChange},
        filings::approval,
    },
};

/// What the rules made of one filing, not yet applied.
pub struct Evaluation {
    pub filing_id: Uuid,
    /// The first rule that held: (id, version, name).
    winner: Option<(Uuid, i32, String)>,
    evaluations: Vec<RuleEvaluation>,
    waits_for: Option<FilingKind>,
    facts: serde_json::Value,
    /// A rule did not finish (or found no evaluator): judged again under the lock, not reused.
    cut_short: bool,
}

impl Evaluation {
    /// A filing waiting for `kind`: no rule run (each shown "not applied" for that reason).
    fn waiting(filing_id: Uuid, rules: &[&decision_rule::Model], kind: FilingKind) -> Self {
        let evaluations = rules
            .iter()
            .map(|r| RuleEvaluation { rule_id: r.id, rule_version: r.version, matched: false, not_applied: None })
            .collect();
        Self {
            filing_id,
            winner: None,
            evaluations,
            waits_for: Some(kind),
            facts: serde_json::Value::Null,
            cut_short: false,
        }
    }

    /// The decision as a referral (what the filing holds unless a rule approves it).
    pub fn referral(&self) -> AppResult<String> {
        let decision = AutomaticDecision {
            outcome: DecisionOutcome::Referred,
            at: clock::now(),
            waits_for: self.waits_for,
            evaluations: self.evaluations.clone(),
        };
        serde_json::to_string(&decision).map_err(|e| AppError::Internal(e.into()))
    }

    /// The trail's note for a referral (the outcome only: merchants read the trail).
    pub fn referral_note(&self) -> String {
        match self.waits_for {
            Some(kind) => format!("转人工审核，待 {kind} 批准 / referred to an officer; waits for {kind}"),
            None => "转人工审核 / referred to an officer".to_string(),
        }
    }
}

/// Verdicts reached before the case was locked ([`judge_early`]); the change keeps one when the
/// facts it reads under the lock, and the rule versions, are still the same (a verdict depends
/// on nothing else).
#[derive(Default)]
pub struct Early(Vec<Evaluation>);

impl Early {
    fn take(
        &mut self,
        filing_id: Uuid,
        rules: &[&decision_rule::Model],
        facts: &serde_json::Value,
    ) -> Option<Evaluation> {
        let same_rules = |e: &Evaluation| {
            e.evaluations.len() == rules.len()
                && e.evaluations.iter().zip(rules).all(|(e, r)| e.rule_id == r.id && e.rule_version == r.version)
        };
        let index = self.0.iter().position(|e| {
            e.filing_id == filing_id && e.waits_for.is_none() && !e.cut_short && e.facts == *facts && same_rules(e)
        })?;
        Some(self.0.swap_remove(index))
    }
}

/// Judges the filings `pick` chooses of the case `case_id` (as `scope` sees it) from a read of
/// the case that takes no lock, so a slow condition holds neither the case row nor, on SQLite,
/// the database's write lock. Nothing is judged when no rule is enabled.
pub async fn judge_early(
    state: &AppState,
    scope: &Scope,
    case_id: Uuid,
    pick: impl Fn(&entity::filing::Model) -> bool,
    resubmitted: bool,
) -> AppResult<Early> {
    if state.decision_rules.get(&state.db).await?.is_empty() {
        return Ok(Early::default());
    }
    let Some(case) = cases::read_locked(&state.db, case_id, Some(scope)).await? else { return Ok(Early::default()) };
    let ids: Vec<Uuid> = case.filings.iter().filter(|f| pick(f)).map(|f| f.id).collect();
    let view = CaseFacts { case: &case.case, merchant: &case.merchant, filings: &case.filings };
    Ok(Early(evaluate_in(state, &state.db, view, &ids, resubmitted, Early::default()).await?))
}

/// Runs the rules on `filing_ids` without writing anything; filings without enabled rules get
/// no evaluation. What `early` judged over the same facts is taken as it is.
pub async fn evaluate(
    change: &CaseChange<'_>,
    filing_ids: &[Uuid],
    resubmitted: bool,
    early: Early,
) -> AppResult<Vec<Evaluation>> {
    evaluate_in(change.state(), change.txn(), CaseFacts::of(change), filing_ids, resubmitted, early).await
}

async fn evaluate_in<C: ConnectionTrait>(
    state: &AppState,
    db: &C,
    case: CaseFacts<'_>,
    filing_ids: &[Uuid],
    resubmitted: bool,
    mut early: Early,
) -> AppResult<Vec<Evaluation>> {
    let find = |id: &Uuid| case.filings.iter().find(|f| f.id == *id).ok_or_else(|| AppError::NotFound("filing".into()));
    let targets: Vec<&entity::filing::Model> = filing_ids.iter().map(find).collect::<AppResult<_>>()?;
    let rules = state.decision_rules.get(db).await?;
    let kinds: BTreeSet<FilingKind> = targets.iter().map(|f| f.kind).collect();
    if !rules.iter().any(|r| kinds.contains(&r.kind)) {
        return Ok(Vec::new());
    }
    let mut record = None;
    let mut out = Vec::new();
    for filing in targets {
        let own: Vec<&decision_rule::Model> =
            rules.iter().filter(|r| r.kind == filing.kind && r.agency == filing.agency).collect();
        // Filed at another region's office (跨省通办): its officers receive it first, and the
        // home office's officers decide it.
        if own.is_empty() || filing.awaits_receipt() {
            continue;
        }
        // A filing that waits for its REGISTRATION is not judged now: the rules in force when
        // that is approved will be (`decide_waiting`), so verdicts now could never be used.
        if let Some(kind) = blocked_by(filing.kind, case.filings.iter().map(|f| (f.kind, f.status))).first().copied() {
            out.push(Evaluation::waiting(filing.id, &own, kind));
            continue;
        }
        let record = match &mut record {
            Some(record) => record,
            None => record.insert(facts::MerchantRecord::load(db, case.merchant.id).await?),
        };
        let facts = record.facts(case, filing, resubmitted);
        match early.take(filing.id, &own, &facts) {
            Some(judged) => out.push(judged),
            None => out.push(judge(state, filing.id, &own, facts).await),
        }
    }
    Ok(out)
}

/// Each rule's verdict over the facts (on the rule runner, within its deadline), and the
/// first that held.
async fn judge(
    state: &AppState,
    filing_id: Uuid,
    rules: &[&decision_rule::Model],
    facts: serde_json::Value,
) -> Evaluation {
    let programs: Vec<_> =
        rules.iter().map(|r| state.rule_programs.get(r.id, r.version, &r.condition, &DECISION_FACTS)).collect();
    let compiled: Vec<Compiled> = programs.iter().filter_map(|p| p.as_ref().ok().cloned()).collect();
    let mut verdicts = state.rule_runner.evaluate_all(&compiled, facts.clone()).await.into_iter();
    let mut evaluations = Vec::new();
    let mut winner = None;
    let mut cut_short = false;
    for (rule, program) in rules.iter().zip(&programs) {
        let verdict = match program {
            Ok(_) => verdicts.next().unwrap_or(Verdict::Unknown("not evaluated".into())),
            Err(e) => Verdict::Unknown(format!("the condition no longer compiles: {}", e.message())),
        };
        if verdict.applies() && winner.is_none() {
            winner = Some((rule.id, rule.version, rule.name.clone()));
        }
        let matched = verdict.applies();
        cut_short |= matches!(verdict, Verdict::OutOfTime(_));
        evaluations.push(RuleEvaluation {
            rule_id: rule.id,
            rule_version: rule.version,
            matched,
            not_applied: verdict.not_applied(),
        });
    }
    Evaluation { filing_id, winner, evaluations, waits_for: None, facts, cut_short }
}

/// Approves what a rule matched and nothing blocks (the filings are SUBMITTED now; their
/// referrals were written with the submission); a REGISTRATION approved so unblocks the
/// filings that waited for it, decided next.
pub async fn apply(change: &mut CaseChange<'_>, evaluations: Vec<Evaluation>) -> AppResult<()> {
    let mut registration_approved = false;
    for evaluation in evaluations {
        let filing = change.filing(evaluation.filing_id)?;
        let blocked = !blocked_by(filing.kind, change.filings().iter().map(|f| (f.kind, f.status))).is_empty();
        if filing.status != FilingStatus::Submitted || blocked {
            continue;
        }
        let kind = filing.kind;
        if approve(change, evaluation).await? {
            registration_approved |= kind == FilingKind::Registration;
        }
    }
    if registration_approved {
        decide_waiting(change).await?;
    }
    Ok(())
}

/// After an officer approves: a REGISTRATION unblocks the filings that waited for it.
pub async fn after_approval(change: &mut CaseChange<'_>, approved: &entity::filing::Model) -> AppResult<()> {
    if approved.kind == FilingKind::Registration { decide_waiting(change).await } else { Ok(()) }
}

/// Decides again the case's SUBMITTED filings that wait for a REGISTRATION: approved by a rule
/// that holds now, or referred again with today's explanations.
async fn decide_waiting(change: &mut CaseChange<'_>) -> AppResult<()> {
    let waiting: Vec<Uuid> = change
        .filings()
        .iter()
        .filter(|f| f.status == FilingStatus::Submitted && f.kind.needs_uscc())
        .map(|f| f.id)
        .collect();
    for evaluation in evaluate(change, &waiting, false, Early::default()).await? {
        if evaluation.winner.is_some() && evaluation.waits_for.is_none() {
            approve(change, evaluation).await?;
        } else {
            let stored = evaluation.referral()?;
            change.write(evaluation.filing_id, |f| f.automatic_decision = Set(Some(stored))).await?;
        }
    }
    Ok(())
}

/// Approves by the evaluation's winning rule; false when no rule held.
async fn approve(change: &mut CaseChange<'_>, evaluation: Evaluation) -> AppResult<bool> {
    let Evaluation { filing_id, winner: Some((rule_id, version, name)), evaluations, facts, .. } = evaluation else {
        return Ok(false);
    };
    let decision =
        AutomaticDecision { outcome: DecisionOutcome::AutoApproved, at: clock::now(), waits_for: None, evaluations };
    let note = format!("规则自动批准 / approved by rule \"{name}\" ({rule_id} v{version}); facts: {facts}");
    let automatic = Some(serde_json::to_string(&decision).map_err(|e| AppError::Internal(e.into()))?);
    let decider = Decider::rule(filing_id, rule_id, version);
    approval::approve(change, approval::Approval { decider, note: Some(&note), facts, automatic }).await?;
    Ok(true)
}
