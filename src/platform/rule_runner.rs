//! Where rule conditions run: off the async workers, a bounded number at once, each batch
//! against a wall-clock deadline.
//!
//! The CEL interpreter cannot be interrupted, so a condition that slips past the cost budget
//! (`domain::rule_cost`) keeps its thread until it finishes. What bounds the damage: it runs on
//! a blocking thread (the async workers keep answering), at most `threads` evaluations run at
//! once (the rest wait for a place until their deadline), the caller stops waiting at the
//! deadline and counts the rule as not matched, and a stored rule version that ran out once is
//! not started again on this instance (`Condition::mark_out_of_time`).

use std::{sync::Arc, time::Duration};

use tokio::{
    sync::{Semaphore, mpsc},
    time::{Instant, timeout_at},
};

use crate::{
    domain::rules::{self, Compiled, Verdict},
    error::{AppError, AppResult},
};

/// How rules are evaluated (`ONESTOP_RULE_*`).
#[derive(Clone, Copy, Debug)]
pub struct RuleLimits {
    /// How long one batch (a filing's rules, a profile's requirement rules, one simulated
    /// decision) may take.
    pub deadline: Duration,
    /// Evaluations at once.
    pub threads: usize,
    /// Estimated steps a condition may take (checked when it is saved and compiled).
    pub cost_budget: u64,
}

impl Default for RuleLimits {
    fn default() -> Self {
        Self { deadline: Duration::from_millis(200), threads: 2, cost_budget: crate::domain::rule_cost::DEFAULT_BUDGET }
    }
}

pub struct RuleRunner {
    places: Arc<Semaphore>,
    deadline: Duration,
}

impl RuleRunner {
    pub fn new(limits: &RuleLimits) -> Self {
        Self { places: Arc::new(Semaphore::new(limits.threads.max(1))), deadline: limits.deadline }
    }

    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Each condition's verdict over `facts`, in order. Conditions that ran out of time before
    /// are not started; those not reached by the deadline are `OutOfTime` (logged), and the
    /// one that was running is marked so it is not started again.
    pub async fn evaluate_all(&self, programs: &[Compiled], facts: serde_json::Value) -> Vec<Verdict> {
        let mut verdicts: Vec<Option<Verdict>> = programs
            .iter()
            .map(|p| p.ran_out_of_time().then(|| Verdict::OutOfTime(self.earlier_out_of_time())))
            .collect();
        let todo: Vec<(usize, Compiled)> =
            programs.iter().cloned().enumerate().filter(|(i, _)| verdicts[*i].is_none()).collect();
        if !todo.is_empty() {
            let running: Vec<Compiled> = todo.iter().map(|(_, p)| p.clone()).collect();
            let reached = self.stream(todo.len(), move |tell| {
                let programs: Vec<&cel::Program> = running.iter().map(|p| p.program()).collect();
                rules::evaluate_each(&programs, &facts, |_, verdict| tell(verdict));
            });
            let (started, mut reached) = reached.await;
            for (position, (index, program)) in todo.iter().enumerate() {
                verdicts[*index] = Some(match reached.get_mut(position).and_then(Option::take) {
                    Some(verdict) => verdict,
                    None if !started => Verdict::OutOfTime(self.none_free()),
                    // The first one missing was running at the deadline; the others never started.
                    None if position == reached.len() => {
                        program.mark_out_of_time();
                        tracing::warn!(
                            deadline_ms = self.millis(),
                            "a rule condition ran out of time and counts as not matched"
                        );
                        Verdict::OutOfTime(self.out_of_time())
                    }
                    None => Verdict::OutOfTime("not evaluated: a rule before it ran out of time".into()),
                });
            }
        }
        verdicts.into_iter().map(|v| v.unwrap_or(Verdict::Unknown("not evaluated".into()))).collect()
    }

    /// One condition over each of `facts` in turn (a simulation), each within the deadline;
    /// VALIDATION as soon as one runs out of time (the rest are not evaluated); UNAVAILABLE
    /// when no evaluator was free.
    pub async fn replay(&self, program: &Compiled, facts: Vec<serde_json::Value>) -> AppResult<Vec<Verdict>> {
        let count = facts.len();
        let program = program.clone();
        let (started, reached) = self
            .stream(count, move |tell| {
                for one in &facts {
                    if !rules::evaluate_each(&[program.program()], one, |_, verdict| tell(verdict)) {
                        return;
                    }
                }
            })
            .await;
        if !started {
            return Err(AppError::Unavailable(format!(
                "no rule evaluator was free within {} ms: try again",
                self.millis()
            )));
        }
        if reached.len() < count {
            tracing::warn!(deadline_ms = self.millis(), "a simulated rule condition ran out of time");
            let why = format!(
                "is too costly to evaluate: it did not finish within {} ms on one decision's facts",
                self.millis()
            );
            return Err(AppError::validation("input.condition", why));
        }
        Ok(reached.into_iter().flatten().collect())
    }

    /// Runs `work` on a blocking thread once a place is free (waiting at most the deadline),
    /// collecting the verdicts it tells, each within the deadline from the one before (from the
    /// start for the first): a condition is cut off only for its own time. Whether it started,
    /// and what was reached in order.
    async fn stream(
        &self,
        count: usize,
        work: impl FnOnce(&mut dyn FnMut(Verdict) -> bool) + Send + 'static,
    ) -> (bool, Vec<Option<Verdict>>) {
        let Ok(Ok(place)) = timeout_at(Instant::now() + self.deadline, self.places.clone().acquire_owned()).await
        else {
            tracing::warn!("no rule evaluator was free before the deadline");
            return (false, Vec::new());
        };
        let mut deadline = Instant::now() + self.deadline;
        let (tell, mut told) = mpsc::unbounded_channel();
        tokio::task::spawn_blocking(move || {
            let _place = place;
            work(&mut |verdict| tell.send(verdict).is_ok());
        });
        let mut verdicts = Vec::with_capacity(count);
        while verdicts.len() < count {
            match timeout_at(deadline, told.recv()).await {
                Ok(Some(verdict)) => verdicts.push(Some(verdict)),
                Ok(None) | Err(_) => break,
            }
            deadline = Instant::now() + self.deadline;
        }
        (true, verdicts)
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.deadline.as_millis()).unwrap_or(u64::MAX)
    }

    fn none_free(&self) -> String {
        format!("no rule evaluator was free within {} ms: counted as not matched", self.millis())
    }

    fn out_of_time(&self) -> String {
        format!("did not finish within {} ms: counted as not matched", self.millis())
    }

    fn earlier_out_of_time(&self) -> String {
        format!(
            "ran out of time earlier (more than {} ms): counted as not matched until the rule is changed",
            self.millis()
        )
    }
}
