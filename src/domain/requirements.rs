//! What a case needs (一次性告知), worked out from the requirement rules in force: which filings
//! apply to a profile, at which level and why, and which documents each needs. The rules are
//! data (see `services::requirements`); this module only evaluates them.

use async_graphql::SimpleObject;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    FilingKind,
    rules::{Compiled, Verdict},
};
use entity::enums::{Agency, DocumentType, RequirementLevel};

/// One requirement rule of a ruleset, compiled (or the reason it cannot run).
pub struct RequirementRule {
    pub id: Uuid,
    pub version: i32,
    pub name: String,
    pub kind: FilingKind,
    pub document_type: Option<DocumentType>,
    pub level: RequirementLevel,
    pub description: String,
    pub legal_basis: String,
    pub program: Result<Compiled, String>,
}

#[derive(SimpleObject, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentRequirement {
    pub document_type: DocumentType,
    pub level: RequirementLevel,
    pub description: String,
    pub legal_basis: String,
}

#[derive(SimpleObject, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilingRequirement {
    pub kind: FilingKind,
    pub agency: Agency,
    pub level: RequirementLevel,
    /// Why this applies to this profile, in words.
    pub reason: String,
    pub legal_basis: String,
    /// Statutory review time.
    pub expected_working_days: i32,
    pub documents: Vec<DocumentRequirement>,
}

/// A rule that could not be decided for lack of a fact (for anonymous callers: everything about
/// the merchant): it did not apply; this says which and why, so nobody is surprised later.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndeterminedRequirement {
    pub kind: FilingKind,
    pub document_type: Option<DocumentType>,
    pub rule_name: String,
    pub reason: String,
}

#[derive(SimpleObject, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Requirements {
    pub filings: Vec<FilingRequirement>,
    pub ruleset_version: i32,
    /// Rules that read a fact not known here and so did not apply.
    #[serde(default)]
    pub undetermined: Vec<UndeterminedRequirement>,
}

impl Requirements {
    pub fn filing(&self, kind: FilingKind) -> Option<&FilingRequirement> {
        self.filings.iter().find(|f| f.kind == kind)
    }

    /// The kinds a case must hold.
    pub fn mandatory_kinds(&self) -> impl Iterator<Item = FilingKind> + '_ {
        self.filings.iter().filter(|f| f.level == RequirementLevel::Mandatory).map(|f| f.kind)
    }
}

fn stronger(a: RequirementLevel, b: RequirementLevel) -> RequirementLevel {
    if a == RequirementLevel::Mandatory || b == RequirementLevel::Mandatory {
        RequirementLevel::Mandatory
    } else {
        RequirementLevel::Optional
    }
}

/// The programs to evaluate: those of the rules that compile, in order.
pub fn programs(rules: &[RequirementRule]) -> Vec<Compiled> {
    rules.iter().filter_map(|r| r.program.as_ref().ok().cloned()).collect()
}

/// Every rule's verdict, given the verdicts of [`programs`] in order.
pub fn verdicts(rules: &[RequirementRule], evaluated: Vec<Verdict>) -> Vec<Verdict> {
    let mut evaluated = evaluated.into_iter();
    rules
        .iter()
        .map(|r| match &r.program {
            Ok(_) => evaluated.next().unwrap_or(Verdict::Unknown("not evaluated".into())),
            Err(why) => Verdict::Unknown(why.clone()),
        })
        .collect()
}

/// The requirements `rules` (one ruleset) set, given each rule's verdict ([`verdicts`]). A
/// filing applies when one of its filing rules does (MANDATORY if any applying one is); the
/// documents of applying filings follow their document rules the same way.
pub fn work_out(
    rules: &[RequirementRule],
    verdicts: Vec<Verdict>,
    ruleset_version: i32,
    working_days: impl Fn(FilingKind) -> u32,
) -> Requirements {
    let verdicts: Vec<(&RequirementRule, Verdict)> = rules.iter().zip(verdicts).collect();
    let mut filings = Vec::new();
    let mut undetermined = Vec::new();
    for kind in FilingKind::ALL.iter().copied() {
        let of_kind = || verdicts.iter().filter(move |(r, _)| r.kind == kind);
        let applying: Vec<&RequirementRule> =
            of_kind().filter(|(r, v)| r.document_type.is_none() && v.applies()).map(|(r, _)| *r).collect();
        let applies = !applying.is_empty();
        for (rule, v) in of_kind() {
            if let Verdict::Unknown(reason) | Verdict::OutOfTime(reason) = v
                && (rule.document_type.is_none() || applies)
            {
                undetermined.push(UndeterminedRequirement {
                    kind,
                    document_type: rule.document_type,
                    rule_name: rule.name.clone(),
                    reason: reason.clone(),
                });
            }
        }
        let Some(level) = applying.iter().map(|r| r.level).reduce(stronger) else { continue };
        let documents = documents(of_kind().filter(|(r, v)| r.document_type.is_some() && v.applies()).map(|(r, _)| *r));
        filings.push(FilingRequirement {
            kind,
            agency: kind.agency(),
            level,
            reason: joined(applying.iter().map(|r| r.description.as_str()), " "),
            legal_basis: joined(applying.iter().map(|r| r.legal_basis.as_str()), "；"),
            expected_working_days: i32::try_from(working_days(kind)).unwrap_or(i32::MAX),
            documents,
        });
    }
    Requirements { filings, ruleset_version, undetermined }
}

/// One entry per document type: the strongest level among the rules asking for it.
fn documents<'a>(rules: impl Iterator<Item = &'a RequirementRule>) -> Vec<DocumentRequirement> {
    let mut out: Vec<DocumentRequirement> = Vec::new();
    for rule in rules {
        let Some(document_type) = rule.document_type else { continue };
        match out.iter_mut().find(|d| d.document_type == document_type) {
            Some(existing) => {
                existing.level = stronger(existing.level, rule.level);
                if !existing.legal_basis.contains(&rule.legal_basis) {
                    existing.legal_basis = format!("{}；{}", existing.legal_basis, rule.legal_basis);
                }
            }
            None => out.push(DocumentRequirement {
                document_type,
                level: rule.level,
                description: rule.description.clone(),
                legal_basis: rule.legal_basis.clone(),
            }),
        }
    }
    out
}

/// Distinct texts, in order, joined.
fn joined<'a>(texts: impl Iterator<Item = &'a str>, separator: &str) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for text in texts {
        if !seen.contains(&text) {
            seen.push(text);
        }
    }
    seen.join(separator)
}

/// An administrator's edit of a requirement rule (`saveRequirementRule`).
#[derive(async_graphql::InputObject, Clone, Debug)]
pub struct RequirementRuleInput {
    pub name: String,
    pub kind: FilingKind,
    /// Unset: the rule decides whether the filing itself applies.
    pub document_type: Option<DocumentType>,
    /// CEL over `profile` and `merchant`, e.g. `profile.crossBorder`.
    pub condition: String,
    pub level: RequirementLevel,
    pub description: String,
    pub legal_basis: String,
    pub enabled: bool,
}
