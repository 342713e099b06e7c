//! The proofs services ask for: a value of these types comes only from the `Scope` methods
//! that check the caller, so a service that takes one cannot be called by anyone else.

use entity::{filing, user};
use uuid::Uuid;

use super::Scope;
use crate::{
    domain::{Agency, FilingKind},
    error::{AppError, AppResult},
};

/// Agency staff: an officer, a supervisor, or an agency's API client (acting in the name of the
/// admin who created it) — the only callers that review filings. A service that takes a
/// `Staff` can be called by nobody else: the value comes only from `Scope::require_staff`.
#[derive(Clone, Copy, Debug)]
pub struct Staff<'a> {
    pub(super) scope: &'a Scope,
    pub agency: Agency,
    pub regions: &'a [String],
    pub(super) supervisor: bool,
}

/// A supervisor of an agency (from `Scope::require_supervisor`): assigns, transfers, reads
/// workload, and decides any filing of the agency in its regions.
#[derive(Clone, Copy, Debug)]
pub struct Supervisor<'a>(pub(super) Staff<'a>);

impl<'a> std::ops::Deref for Supervisor<'a> {
    type Target = Staff<'a>;
    fn deref(&self) -> &Staff<'a> {
        &self.0
    }
}

impl<'a> Staff<'a> {
    pub fn scope(&self) -> &'a Scope {
        self.scope
    }

    pub fn user_id(&self) -> Uuid {
        self.scope.user_id()
    }

    pub fn is_supervisor(&self) -> bool {
        self.supervisor
    }

    pub fn covers_region(&self, region: &str) -> bool {
        self.regions.iter().any(|r| r == region)
    }

    /// A filing of this agency in these regions (the deciding office's, or the office where it
    /// was filed from afar: 跨省通办).
    pub fn can_see(&self, filing: &filing::Model) -> bool {
        filing.agency == self.agency
            && (self.covers_region(&filing.region_code)
                || filing.receiving_region_code.as_deref().is_some_and(|r| self.covers_region(r)))
    }

    /// The office that acts on the filing now covers these regions: the receiving office while
    /// it awaits receipt, the deciding office after.
    pub fn acts_on(&self, filing: &filing::Model) -> bool {
        let office = if filing.awaits_receipt() {
            filing.receiving_region_code.as_deref().unwrap_or_default()
        } else {
            filing.region_code.as_str()
        };
        filing.agency == self.agency && self.covers_region(office)
    }

    /// Who may decide a filing, in one place: agency staff who see it (agency, regions) and are
    /// its assignee or a supervisor. (The token's `decisions:write` is asked for when the
    /// resolver loads the scope.) The answer is the proof a decision needs.
    pub fn can_decide(&self, filing: &filing::Model) -> AppResult<Decider<'a>> {
        if !self.can_see(filing) {
            return Err(AppError::NotFound("filing".into()));
        }
        if filing.awaits_receipt() && self.acts_on(filing) {
            // The receiving office asks for corrections without claiming the filing.
            return Ok(Decider { filing_id: filing.id, by: DecidedBy::Officer(*self) });
        }
        if self.supervisor || filing.assignee_id == Some(self.user_id()) {
            Ok(Decider { filing_id: filing.id, by: DecidedBy::Officer(*self) })
        } else {
            Err(AppError::Forbidden("only the assigned officer or a supervisor may decide this filing".into()))
        }
    }

    /// An officer who may be given this filing: staff of its agency covering its region.
    pub fn may_assign_to(officer: &user::Model, officer_regions: &[String], filing: &filing::Model) -> bool {
        officer.role.is_agency_staff()
            && officer.agency == Some(filing.agency)
            && officer_regions.contains(&filing.region_code)
    }
}

/// The right to decide one filing. Only a `Decider` makes decisions (correction, rejection,
/// approval); an officer's comes from `Staff::can_decide`, for the filing it was asked about;
/// a decision rule's from `Decider::rule`, which only the automatic decisions call, for a rule
/// that matched.
#[derive(Clone, Copy, Debug)]
pub struct Decider<'a> {
    pub filing_id: Uuid,
    pub by: DecidedBy<'a>,
}

#[derive(Clone, Copy, Debug)]
pub enum DecidedBy<'a> {
    Officer(Staff<'a>),
    /// A decision rule (id, version) whose condition held.
    Rule {
        rule_id: Uuid,
        version: i32,
    },
}

impl Decider<'_> {
    /// A matching decision rule's right to approve the filing.
    pub(in crate::services) fn rule(filing_id: Uuid, rule_id: Uuid, version: i32) -> Self {
        Self { filing_id, by: DecidedBy::Rule { rule_id, version } }
    }

    /// Who the audit trail names: the officer, or nobody (the portal) for a rule.
    pub fn actor(&self) -> crate::services::cases::Actor {
        match self.by {
            DecidedBy::Officer(staff) => crate::services::cases::Actor::of(staff.scope()),
            DecidedBy::Rule { .. } => crate::services::cases::Actor::System,
        }
    }

    /// As stored on the filing and the decision record.
    pub fn stored(&self) -> entity::enums::DecidedBy {
        match self.by {
            DecidedBy::Officer(_) => entity::enums::DecidedBy::Officer,
            DecidedBy::Rule { .. } => entity::enums::DecidedBy::Rule,
        }
    }
}

/// An administrator (proof: only `Scope::require_admin` makes one).
#[derive(Clone, Copy, Debug)]
pub struct Admin {
    pub user_id: Uuid,
}

/// Someone filing for a merchant: one of its members (or its API client), or an agent within
/// its grant. Services that create or change a merchant's cases take one.
#[derive(Clone, Copy, Debug)]
pub struct MerchantUser<'a> {
    scope: &'a Scope,
    pub merchant_id: Uuid,
    /// The kinds it may act on: `None` for members (all), the granted ones for an agent.
    kinds: Option<&'a [FilingKind]>,
    owner: bool,
}

impl<'a> MerchantUser<'a> {
    pub(super) fn member(scope: &'a Scope, merchant_id: Uuid, role: entity::enums::MerchantRole) -> Self {
        Self { scope, merchant_id, kinds: None, owner: role == entity::enums::MerchantRole::Owner }
    }

    pub(super) fn agent(scope: &'a Scope, grant: &'a super::Grant) -> Self {
        Self { scope, merchant_id: grant.merchant_id, kinds: Some(&grant.kinds), owner: false }
    }

    pub fn scope(&self) -> &'a Scope {
        self.scope
    }

    pub fn user_id(&self) -> Uuid {
        self.scope.user_id()
    }

    pub fn is_owner(&self) -> bool {
        self.owner
    }

    pub fn is_agent(&self) -> bool {
        self.kinds.is_some()
    }

    pub fn allows(&self, kind: FilingKind) -> bool {
        self.kinds.is_none_or(|kinds| kinds.contains(&kind))
    }

    /// FORBIDDEN, naming them, unless every kind is within the caller's authority.
    pub fn require_kinds(&self, kinds: impl IntoIterator<Item = FilingKind>) -> AppResult<()> {
        let outside: Vec<&str> = kinds.into_iter().filter(|k| !self.allows(*k)).map(|k| k.as_str()).collect();
        if outside.is_empty() {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!("the merchant has not authorised you for {}", outside.join(", "))))
        }
    }
}

/// The merchant's OWNER (from `Scope::require_owner`): manages its members, API clients and
/// agents' authority.
#[derive(Clone, Copy, Debug)]
pub struct Owner<'a>(pub(super) MerchantUser<'a>);

impl<'a> std::ops::Deref for Owner<'a> {
    type Target = MerchantUser<'a>;
    fn deref(&self) -> &MerchantUser<'a> {
        &self.0
    }
}
