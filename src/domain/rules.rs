//! Rules officials edit — which filings and documents a case needs, which filings are approved
//! without an officer — are CEL expressions (Common Expression Language, as Kubernetes uses it)
//! over documented facts. This module compiles them (a syntax error or a name that is not a
//! documented fact is refused with its position) and evaluates them over facts given as JSON.
//! A fact missing at evaluation makes the rule not apply, with the reason.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use cel::{
    Context, ExecutionError, Program, Value,
    common::ast::{Expr, IdedExpr},
};
use uuid::Uuid;

mod facts;

pub use facts::{DECISION_FACTS, FactCatalog, REQUIREMENT_FACTS};

use super::rule_cost;
use crate::error::{AppError, AppResult};

/// A compiled condition, and whether it once ran out of time on this instance (it is then not
/// started again: a rule version never changes, and each start would hold an evaluator).
pub struct Condition {
    program: Program,
    out_of_time: std::sync::atomic::AtomicBool,
}

impl Condition {
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Ran out of time once: counted as not matched from now on, without starting it.
    pub fn ran_out_of_time(&self) -> bool {
        self.out_of_time.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn mark_out_of_time(&self) {
        self.out_of_time.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl std::ops::Deref for Condition {
    type Target = Program;

    fn deref(&self) -> &Program {
        &self.program
    }
}

pub type Compiled = Arc<Condition>;

/// Compiles `source` (at most 2,000 characters) and checks that it reads only documented
/// facts and fits the cost budget (`domain::rule_cost`: at most `budget` estimated steps);
/// VALIDATION naming `field` and the position (line:column) or the cost otherwise.
pub fn compile(field: &str, source: &str, catalog: &FactCatalog, budget: u64) -> AppResult<Compiled> {
    let source = source.trim();
    if source.is_empty() || source.chars().count() > 2000 {
        return Err(AppError::validation(field, "must be a CEL expression of 1 to 2,000 characters"));
    }
    let program = Program::compile(source).map_err(|errors| {
        let first = errors.errors.first();
        let (line, column) = first.map(|e| (e.pos.0, e.pos.1 + 1)).unwrap_or((1, 1));
        let message = first.map(|e| e.msg.clone()).unwrap_or_else(|| "syntax error".into());
        AppError::validation(field, format!("syntax error at {line}:{column}: {message}"))
    })?;
    let mut unknown = Vec::new();
    walk(program.expression(), catalog, &mut Vec::new(), &mut unknown);
    if let Some((id, name)) = unknown.first() {
        let (line, column) = position(source, program.source_info().offset_for(*id).map(|o| o.0).unwrap_or(0));
        let known: Vec<&str> = catalog.facts.iter().map(|(f, _)| *f).collect();
        return Err(AppError::validation(
            field,
            format!("{name} at {line}:{column} is not a documented fact; the facts are {}", known.join(", ")),
        ));
    }
    rule_cost::check(program.expression(), budget)
        .map_err(|why| AppError::validation(field, format!("is too costly to evaluate: it {}", why.explain(budget))))?;
    Ok(Arc::new(Condition { program, out_of_time: Default::default() }))
}

/// Line and column (from 1) of a character offset.
fn position(source: &str, offset: u32) -> (usize, usize) {
    let before: String = source.chars().take(offset as usize).collect();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

/// The dotted name an identifier or field selection spells (`profile.categories`), if any.
fn qualified(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Ident(name) => Some(name.clone()),
        Expr::Select(select) => qualified(&select.operand.expr).map(|base| format!("{base}.{}", select.field)),
        _ => None,
    }
}

/// The identifier a field selection starts from (where the name is written).
fn root_id(node: &IdedExpr) -> u64 {
    match &node.expr {
        Expr::Select(select) => root_id(&select.operand),
        _ => node.id,
    }
}

/// Collects every name that is neither a documented fact nor a comprehension's own variable.
fn walk(node: &IdedExpr, catalog: &FactCatalog, locals: &mut Vec<String>, unknown: &mut Vec<(u64, String)>) {
    match &node.expr {
        Expr::Ident(_) | Expr::Select(_) if qualified(&node.expr).is_some() => {
            let name = qualified(&node.expr).unwrap_or_default();
            let root = name.split('.').next().unwrap_or_default();
            if !locals.iter().any(|l| l == root) && !catalog.knows(&name) && !catalog.roots().any(|r| r == name) {
                unknown.push((root_id(node), name));
            }
        }
        Expr::Select(select) => walk(&select.operand, catalog, locals, unknown),
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                walk(target, catalog, locals, unknown);
            }
            for arg in &call.args {
                walk(arg, catalog, locals, unknown);
            }
        }
        Expr::List(list) => list.elements.iter().for_each(|e| walk(e, catalog, locals, unknown)),
        Expr::Map(map) => {
            for entry in &map.entries {
                if let cel::common::ast::EntryExpr::MapEntry(e) = &entry.expr {
                    walk(&e.key, catalog, locals, unknown);
                    walk(&e.value, catalog, locals, unknown);
                }
            }
        }
        Expr::Comprehension(c) => {
            walk(&c.iter_range, catalog, locals, unknown);
            walk(&c.accu_init, catalog, locals, unknown);
            let pushed = [Some(c.iter_var.clone()), c.iter_var2.clone(), Some(c.accu_var.clone())];
            let before = locals.len();
            locals.extend(pushed.into_iter().flatten());
            for part in [&c.loop_cond, &c.loop_step, &c.result] {
                walk(part, catalog, locals, unknown);
            }
            locals.truncate(before);
        }
        _ => {}
    }
}

/// What a rule says about one case or filing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Applies,
    DoesNotApply,
    /// A fact the rule reads is not known here (anonymous caller, a field not filled in): the
    /// rule does not apply, for this reason.
    Unknown(String),
    /// The condition did not finish in time (`platform::rule_runner`): not matched, for this
    /// reason.
    OutOfTime(String),
}

impl Verdict {
    pub fn applies(&self) -> bool {
        *self == Self::Applies
    }

    /// Why the rule did not apply although it might have: a fact not known, or out of time.
    pub fn not_applied(self) -> Option<String> {
        match self {
            Self::Unknown(reason) | Self::OutOfTime(reason) => Some(reason),
            Self::Applies | Self::DoesNotApply => None,
        }
    }
}

/// CEL's standard library (functions, macros, types), built once: `Context::default()` builds
/// it for every context, a noticeable part of a filing's evaluation.
static STDLIB: std::sync::LazyLock<std::sync::Arc<cel::Env>> =
    std::sync::LazyLock::new(|| std::sync::Arc::new(cel::Env::stdlib()));

/// Evaluates a compiled condition over `facts` (a JSON object: `{"profile": …, "merchant": …}`;
/// a root left out is not known), on the calling thread: for tests and tools. The server
/// evaluates through `platform::rule_runner`, off the async workers and with a deadline.
pub fn evaluate(program: &Program, facts: &serde_json::Value) -> Verdict {
    let mut verdicts = Vec::new();
    evaluate_each(&[program], facts, |_, verdict| {
        verdicts.push(verdict);
        true
    });
    verdicts.pop().unwrap_or(Verdict::Unknown("nothing evaluated".into()))
}

/// Evaluates several conditions over the same facts in order, converting the facts once (a
/// filing's decision rules all read the same facts), and hands each verdict to `told` as it is
/// reached; stops (false) when `told` returns false (nobody waits any more).
pub fn evaluate_each(
    programs: &[impl std::ops::Deref<Target = Program>],
    facts: &serde_json::Value,
    mut told: impl FnMut(usize, Verdict) -> bool,
) -> bool {
    let mut context = Context::with_env(STDLIB.clone());
    if let Some(roots) = facts.as_object() {
        for (name, value) in roots {
            if !value.is_null() && context.add_variable(name.clone(), value.clone()).is_err() {
                let why = format!("the fact {name} could not be read");
                return (0..programs.len()).all(|index| told(index, Verdict::Unknown(why.clone())));
            }
        }
    }
    programs.iter().enumerate().all(|(index, program)| told(index, verdict(program.execute(&context))))
}

fn verdict(result: Result<Value, ExecutionError>) -> Verdict {
    match result {
        Ok(Value::Bool(true)) => Verdict::Applies,
        Ok(Value::Bool(false)) => Verdict::DoesNotApply,
        Ok(other) => Verdict::Unknown(format!("the condition gave {other:?}, not true or false")),
        Err(ExecutionError::UndeclaredReference(name)) => Verdict::Unknown(format!("{name} is not known here")),
        Err(ExecutionError::NoSuchKey(key)) => Verdict::Unknown(format!("the fact {key} is not known here")),
        Err(other) => Verdict::Unknown(format!("the condition could not be evaluated: {other}")),
    }
}

/// Compiled programs by rule and version: a rule version is immutable, so it is compiled once,
/// not parsed at every evaluation. A stored condition over the cost budget (saved before the
/// budget, or under a larger one) does not compile, so it never runs.
pub struct ProgramCache {
    programs: Mutex<HashMap<(Uuid, i32), Compiled>>,
    budget: u64,
}

impl ProgramCache {
    pub fn new(budget: u64) -> Self {
        Self { programs: Mutex::default(), budget }
    }

    /// The cost budget of conditions (`ONESTOP_RULE_COST_BUDGET`).
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Compiles a condition being saved or simulated (`field` names it in errors).
    pub fn compile(&self, field: &str, source: &str, catalog: &FactCatalog) -> AppResult<Compiled> {
        compile(field, source, catalog, self.budget)
    }

    /// The compiled program of `rule` at `version`, compiling `source` the first time.
    pub fn get(&self, rule: Uuid, version: i32, source: &str, catalog: &FactCatalog) -> AppResult<Compiled> {
        if let Some(program) = self.programs.lock().ok().and_then(|cache| cache.get(&(rule, version)).cloned()) {
            return Ok(program);
        }
        let program = self.compile("condition", source, catalog)?;
        if let Ok(mut cache) = self.programs.lock() {
            cache.insert((rule, version), program.clone());
        }
        Ok(program)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn compile(field: &str, source: &str, catalog: &FactCatalog) -> AppResult<Compiled> {
        super::compile(field, source, catalog, rule_cost::DEFAULT_BUDGET)
    }

    fn fields(result: AppResult<Compiled>) -> String {
        match result {
            Err(AppError::Validation(fields)) => fields[0].message.clone(),
            Ok(_) => "compiled".into(),
            Err(other) => other.message(),
        }
    }

    #[test]
    fn documented_facts_compile_and_others_are_named_with_their_position() {
        assert_eq!(
            fields(compile("c", "'FOOD' in profile.categories && profile.crossBorder", &REQUIREMENT_FACTS)),
            "compiled"
        );
        assert_eq!(
            fields(compile("c", "profile.hsCodes.exists(h, h.startsWith('09'))", &REQUIREMENT_FACTS)),
            "compiled",
            "comprehension variables are the rule's own"
        );
        let unknown = fields(compile("c", "profile.crossBorder &&\n  merchant.secretScore > 3", &REQUIREMENT_FACTS));
        assert!(unknown.starts_with("merchant.secretScore at 2:3 is not a documented fact"), "{unknown}");
        let syntax = fields(compile("c", "profile.crossBorder &&", &REQUIREMENT_FACTS));
        assert!(syntax.starts_with("syntax error at 1:"), "{syntax}");
        assert_eq!(fields(compile("c", "filing.data.registeredCapital < 500000.0", &DECISION_FACTS)), "compiled");
        assert!(
            fields(compile("c", "filing.data.bankAccount == ''", &DECISION_FACTS)).contains("not a documented fact")
        );
        assert!(fields(compile("c", "profile.crossBorder", &DECISION_FACTS)).contains("not a documented fact"));
        let nested =
            fields(compile("c", "[1,2].all(a, [1,2].all(b, [1,2].all(c, [1,2].all(d, true))))", &DECISION_FACTS));
        assert!(nested.starts_with("is too costly to evaluate: it nests comprehensions"), "{nested}");
    }

    #[test]
    fn rules_read_the_merchants_licences() {
        let program =
            compile("c", "merchant.licences.exists(l, l.kind == 'CUSTOMS' && l.status == 'ACTIVE')", &DECISION_FACTS)
                .expect("compiles");
        let with = |status: &str| json!({ "merchant": { "licences": [{ "kind": "CUSTOMS", "status": status, "validUntil": null }] } });
        assert_eq!(evaluate(&program, &with("ACTIVE")), Verdict::Applies);
        assert_eq!(evaluate(&program, &with("CANCELLED")), Verdict::DoesNotApply);
        assert_eq!(evaluate(&program, &json!({ "merchant": { "licences": [] } })), Verdict::DoesNotApply);
    }

    #[test]
    fn missing_facts_make_a_rule_not_apply_with_the_reason() {
        let program = compile("c", "!merchant.usccVerified", &REQUIREMENT_FACTS).expect("compiles");
        assert_eq!(evaluate(&program, &json!({ "merchant": { "usccVerified": false } })), Verdict::Applies);
        assert_eq!(evaluate(&program, &json!({ "merchant": { "usccVerified": true } })), Verdict::DoesNotApply);
        let anonymous = evaluate(&program, &json!({ "profile": {} }));
        assert!(matches!(&anonymous, Verdict::Unknown(why) if why.contains("merchant")), "{anonymous:?}");
        let food = compile("c", "'FOOD' in profile.categories", &REQUIREMENT_FACTS).expect("compiles");
        assert_eq!(evaluate(&food, &json!({ "profile": { "categories": ["FOOD", "OTHER"] } })), Verdict::Applies);
        let chapters = compile(
            "c",
            "profile.hsCodes.exists(h, ['07', '08', '09', '10', '11', '12'].exists(c, h.startsWith(c)))",
            &REQUIREMENT_FACTS,
        )
        .expect("compiles");
        assert_eq!(
            evaluate(&chapters, &json!({ "profile": { "hsCodes": ["6109100000", "0904210000"] } })),
            Verdict::Applies
        );
        assert_eq!(evaluate(&chapters, &json!({ "profile": { "hsCodes": ["6109100000"] } })), Verdict::DoesNotApply);
    }

    #[test]
    fn compiled_programs_are_kept_per_rule_version() {
        let cache = ProgramCache::new(rule_cost::DEFAULT_BUDGET);
        let rule = Uuid::now_v7();
        let first = cache.get(rule, 1, "profile.crossBorder", &REQUIREMENT_FACTS).expect("compiles");
        let again = cache.get(rule, 1, "this source is not read again", &REQUIREMENT_FACTS).expect("cached");
        assert!(Arc::ptr_eq(&first, &again));
        assert!(cache.get(rule, 2, "profile.crossBorder ||", &REQUIREMENT_FACTS).is_err(), "a new version is compiled");
    }
}
