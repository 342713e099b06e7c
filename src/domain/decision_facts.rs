//! The facts a decision rule reads about a filing (`rules::DECISION_FACTS`), built from the
//! filing's stored data and what the services know about its merchant, case and history. Only
//! documented facts are kept: no personal data is ever stored with a decision.

use serde_json::{Map, Value, json};

use super::{FilingKind, rules::DECISION_FACTS};
use entity::{enums::CaseType, filing, licence, merchant};

/// Money fields, given to rules as doubles (stored as decimal strings).
const AMOUNTS: [&str; 3] = ["registeredCapital", "expectedAnnualTradeUsd", "expectedAnnualReceiptsUsd"];

/// What the services gathered about a filing.
pub struct FactSources<'a> {
    pub filing: &'a filing::Model,
    pub resubmitted: bool,
    pub merchant: &'a merchant::Model,
    pub failed_checks: u64,
    /// Kinds approved for the merchant before this filing.
    pub approved_kinds: Vec<FilingKind>,
    pub case_kinds: Vec<FilingKind>,
    pub case_type: CaseType,
    pub approved_before: u64,
    pub rejected_before: u64,
    /// The merchant's licences, whatever their status.
    pub licences: &'a [licence::Model],
}

/// `{filing, merchant, case, history}` as rules read them.
pub fn facts(sources: &FactSources<'_>) -> Value {
    let names = |kinds: &[FilingKind]| kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>();
    json!({
        "filing": {
            "kind": sources.filing.kind.as_str(),
            "regionCode": sources.filing.region_code,
            "resubmitted": sources.resubmitted,
            "data": data_facts(sources.filing.data.as_deref()),
        },
        "merchant": {
            "riskLevel": sources.merchant.risk_level,
            "failedChecks": sources.failed_checks,
            "approvedKinds": names(&sources.approved_kinds),
            "usccVerified": sources.merchant.uscc.is_some(),
            "regionCode": sources.merchant.region_code,
            "licences": sources.licences.iter().map(|l| json!({
                "kind": l.kind.as_str(),
                "status": l.status.as_str(),
                "validUntil": l.valid_until.map(|d| d.format("%Y-%m-%d").to_string()),
            })).collect::<Vec<_>>(),
        },
        "case": { "kinds": names(&sources.case_kinds), "type": sources.case_type.as_str() },
        "history": { "approvedBefore": sources.approved_before, "rejectedBefore": sources.rejected_before },
    })
}

/// The documented fields of the stored data (`{"kind": …, "data": {snake_case…}}`), with
/// camelCase names and amounts as doubles.
fn data_facts(stored: Option<&str>) -> Value {
    let parsed: Value = stored.and_then(|raw| serde_json::from_str(raw).ok()).unwrap_or(Value::Null);
    let mut out = Map::new();
    if let Some(fields) = parsed.get("data").and_then(Value::as_object) {
        for (key, value) in fields {
            let name = camel(key);
            if !DECISION_FACTS.facts.iter().any(|(fact, _)| fact.strip_prefix("filing.data.") == Some(name.as_str())) {
                continue;
            }
            let value = match (AMOUNTS.contains(&name.as_str()), value.as_str()) {
                (true, Some(amount)) => amount.parse::<f64>().map(Value::from).unwrap_or(Value::Null),
                _ => camel_keys(value),
            };
            out.insert(name, value);
        }
    }
    Value::Object(out)
}

fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn camel_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (camel(k), camel_keys(v))).collect()),
        Value::Array(items) => Value::Array(items.iter().map(camel_keys).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rules::{Verdict, compile, evaluate};

    #[test]
    fn stored_data_becomes_documented_facts_without_personal_data() {
        let stored = r#"{"kind":"REGISTRATION","data":{"company_name":"花椒社","company_type":"FARMER_COOPERATIVE",
            "registered_capital":"500000.00","legal_representative":{"name":"李伟","id_number":"510107199003074218"},
            "address":"成都","business_scope":"花椒"}}"#;
        let data = data_facts(Some(stored));
        assert_eq!(data["registeredCapital"], json!(500000.0));
        assert_eq!(data["companyType"], "FARMER_COOPERATIVE");
        let text = data.to_string();
        assert!(!text.contains("510107") && !text.contains("李伟") && !text.contains("成都"), "{text}");
        let products = data_facts(Some(
            r#"{"kind":"INSPECTION","data":{"categories":["FOOD"],"products":[{"name":"花椒","hs_code":"0904210000","origin_region_code":"511823"}]}}"#,
        ));
        let rule = compile(
            "c",
            "filing.data.products.all(p, p.hsCode.startsWith('09')) && filing.data.registeredCapital < 1.0",
            &DECISION_FACTS,
            crate::domain::rule_cost::DEFAULT_BUDGET,
        )
        .expect("compiles");
        let facts = json!({ "filing": { "data": products } });
        assert!(matches!(evaluate(&rule, &facts), Verdict::Unknown(_)), "a field the filing lacks: not applied");
        let rule = compile(
            "c",
            "filing.data.products.all(p, p.hsCode.startsWith('09'))",
            &DECISION_FACTS,
            crate::domain::rule_cost::DEFAULT_BUDGET,
        )
        .expect("compiles");
        assert_eq!(evaluate(&rule, &facts), Verdict::Applies);
        let amount = compile(
            "c",
            "filing.data.registeredCapital <= 500000.0",
            &DECISION_FACTS,
            crate::domain::rule_cost::DEFAULT_BUDGET,
        )
        .expect("compiles");
        assert_eq!(evaluate(&amount, &json!({ "filing": { "data": data } })), Verdict::Applies);
    }
}

/// What the decision rules made of a submitted filing (stored on it as JSON). Kept small —
/// under PostgreSQL's 2 kB TOAST threshold with 20 rules — because it lives in the filing row:
/// a rule's name and condition are in its immutable version and are added when it is read.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutomaticDecision {
    pub outcome: entity::enums::DecisionOutcome,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The kind the filing waited for: no rule was run (the rules in force when it is approved
    /// will be).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waits_for: Option<FilingKind>,
    pub evaluations: Vec<RuleEvaluation>,
}

/// One rule's verdict (a rule is not applied when a fact it reads is unknown, its condition no
/// longer compiles, or the filing waits for another).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleEvaluation {
    pub rule_id: uuid::Uuid,
    pub rule_version: i32,
    pub matched: bool,
    /// Why the rule could not be applied (a fact not known, a condition that no longer
    /// compiles); absent when it was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_applied: Option<String>,
}

impl RuleEvaluation {
    /// Why the rule did or did not approve, for the officer who reviews the filing.
    pub fn explanation(&self, waits_for: Option<FilingKind>) -> String {
        match (&self.not_applied, waits_for, self.matched) {
            (Some(reason), _, _) => format!("not applied: {reason}"),
            (None, Some(kind), _) => {
                format!("not applied: the filing waits for {kind}; the rules run when it is approved")
            }
            (None, None, true) => "the condition holds".to_string(),
            (None, None, false) => "the condition does not hold".to_string(),
        }
    }
}

/// A supervisor's edit of a decision rule (`saveDecisionRule`, `simulateDecisionRule`).
#[derive(async_graphql::InputObject, Clone, Debug)]
pub struct DecisionRuleInput {
    pub kind: FilingKind,
    pub name: String,
    /// CEL over `filing`, `merchant`, `case` and `history`; true approves without an officer.
    pub condition: String,
    pub enabled: bool,
}
