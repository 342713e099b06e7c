//! How much work a rule condition can make, estimated from its syntax tree when it is saved.
//!
//! CEL has no loops but comprehensions (`all`, `exists`, `map`, `filter`, …), so the work of a
//! condition is the work of its nodes, each comprehension's body counted once per element of
//! the list it walks. A list literal has as many elements as it is written with; a fact is
//! assumed to hold at most [`FACT_LIST_BOUND`] elements (the portal's own input limits are
//! below it). The estimate is an upper bound of the steps the interpreter takes; evaluation
//! has its own hard deadline (`platform::rule_runner`) for whatever slips past it.

use cel::common::ast::{EntryExpr, Expr, IdedExpr};

/// Elements assumed in a list a rule reads from the facts (products, licences, HS codes, …).
pub const FACT_LIST_BOUND: u64 = 100;
/// Comprehensions inside comprehensions: three levels cover every rule seen so far
/// (`merchant.licences.exists(l, [...].exists(k, ...))` is two).
pub const MAX_NESTING: u32 = 3;
/// Steps a condition may take by default (`ONESTOP_RULE_COST_BUDGET`): a rule of this size
/// evaluates in well under a millisecond.
pub const DEFAULT_BUDGET: u64 = 100_000;

/// Why a condition is refused, in words for the person who wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TooCostly {
    Nesting(u32),
    Steps(u64),
    Regex,
}

impl TooCostly {
    pub fn explain(&self, budget: u64) -> String {
        match self {
            Self::Nesting(depth) => format!(
                "nests comprehensions (all, exists, map, filter) {depth} deep; at most {MAX_NESTING} are allowed, since each level multiplies the work"
            ),
            Self::Steps(steps) => format!(
                "could take about {steps} evaluation steps (lists written out count their elements, lists read from the facts count {FACT_LIST_BOUND}); at most {budget} are allowed: use shorter lists or fewer nested comprehensions"
            ),
            Self::Regex => {
                "uses matches (regular expressions), which rules may not: use startsWith, endsWith or contains".into()
            }
        }
    }
}

/// Refuses a condition whose estimated work exceeds `budget` steps, that nests comprehensions
/// deeper than [`MAX_NESTING`], or that uses regular expressions.
pub fn check(root: &IdedExpr, budget: u64) -> Result<u64, TooCostly> {
    let estimate = estimate(root)?;
    if estimate.depth > MAX_NESTING {
        return Err(TooCostly::Nesting(estimate.depth));
    }
    if estimate.steps > budget {
        return Err(TooCostly::Steps(estimate.steps));
    }
    Ok(estimate.steps)
}

#[derive(Clone, Copy, Default)]
struct Estimate {
    steps: u64,
    /// The deepest nesting of comprehensions.
    depth: u32,
}

impl Estimate {
    fn and(self, other: Self) -> Self {
        Self { steps: self.steps.saturating_add(other.steps), depth: self.depth.max(other.depth) }
    }
}

fn estimate(node: &IdedExpr) -> Result<Estimate, TooCostly> {
    let one = Estimate { steps: 1, depth: 0 };
    Ok(match &node.expr {
        Expr::Comprehension(c) => {
            let per_element = estimate(&c.loop_cond)?.and(estimate(&c.loop_step)?);
            let body = Estimate {
                steps: per_element.steps.saturating_mul(elements(&c.iter_range)),
                depth: per_element.depth + 1,
            };
            [estimate(&c.iter_range)?, estimate(&c.accu_init)?, estimate(&c.result)?]
                .into_iter()
                .fold(one.and(body), Estimate::and)
        }
        Expr::Call(call) => {
            if call.func_name == "matches" {
                return Err(TooCostly::Regex);
            }
            let mut total = one;
            for part in call.target.iter().map(|t| t.as_ref()).chain(&call.args) {
                total = total.and(estimate(part)?);
            }
            total
        }
        Expr::List(list) => {
            let mut total = one;
            for element in &list.elements {
                total = total.and(estimate(element)?);
            }
            total
        }
        Expr::Map(map) => entries(&map.entries, one)?,
        Expr::Struct(s) => entries(&s.entries, one)?,
        Expr::Select(select) => one.and(estimate(&select.operand)?),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => one,
    })
}

fn entries(entries: &[cel::common::ast::IdedEntryExpr], mut total: Estimate) -> Result<Estimate, TooCostly> {
    for entry in entries {
        match &entry.expr {
            EntryExpr::MapEntry(e) => total = total.and(estimate(&e.key)?).and(estimate(&e.value)?),
            EntryExpr::StructField(f) => total = total.and(estimate(&f.value)?),
        }
    }
    Ok(total)
}

/// How many elements a comprehension over `range` walks, at most.
fn elements(range: &IdedExpr) -> u64 {
    match &range.expr {
        Expr::List(list) => list.elements.len() as u64,
        Expr::Map(map) => map.entries.len() as u64,
        // `map` and `filter` give at most as many elements as they walk.
        Expr::Comprehension(c) => elements(&c.iter_range),
        Expr::Call(call) if call.func_name == "_+_" => call.args.iter().map(elements).fold(0, u64::saturating_add),
        _ => FACT_LIST_BOUND,
    }
}

#[cfg(test)]
mod tests {
    use cel::Program;

    use super::*;

    fn cost(source: &str) -> Result<u64, TooCostly> {
        check(Program::compile(source).expect("parses").expression(), DEFAULT_BUDGET)
    }

    fn hundred() -> String {
        format!("[{}]", vec!["0"; 100].join(","))
    }

    #[test]
    fn ordinary_rules_fit_the_budget() {
        for rule in [
            "'FOOD' in profile.categories && profile.crossBorder",
            "profile.hsCodes.exists(h, ['07', '08', '09', '10', '11', '12'].exists(c, h.startsWith(c)))",
            "merchant.licences.exists(l, l.kind == 'CUSTOMS' && l.status == 'ACTIVE')",
            "filing.data.products.all(p, p.originRegionCode.startsWith('51'))",
        ] {
            assert!(cost(rule).is_ok(), "{rule}: {:?}", cost(rule));
        }
    }

    #[test]
    fn the_reviewers_condition_is_refused_for_its_nesting() {
        let h = hundred();
        let rule = format!("{h}.all(a, {h}.all(b, {h}.all(c, {h}.all(d, true))))");
        assert_eq!(cost(&rule), Err(TooCostly::Nesting(4)));
    }

    #[test]
    fn three_levels_of_long_lists_are_refused_for_their_steps() {
        let h = hundred();
        let rule = format!("{h}.all(a, {h}.all(b, {h}.all(c, true)))");
        assert!(matches!(cost(&rule), Err(TooCostly::Steps(steps)) if steps > 1_000_000), "{:?}", cost(&rule));
        let facts = "filing.data.products.all(a, filing.data.products.all(b, filing.data.products.all(c, true)))";
        assert!(matches!(cost(facts), Err(TooCostly::Steps(_))), "facts count as {FACT_LIST_BOUND} elements");
        let grown = format!("({h} + {h}).map(a, {h}.exists(b, b == a))");
        assert!(
            matches!(cost(&grown), Err(TooCostly::Steps(steps)) if steps >= 20_000 * 3),
            "a concatenation walks both lists"
        );
    }

    #[test]
    fn regular_expressions_are_refused() {
        assert_eq!(cost("filing.data.companyName.matches('^a.*$')"), Err(TooCostly::Regex));
    }
}
