//! Who may see what. Every service query goes through a `Scope`, so an object the caller may
//! not see is simply not found (`NOT_FOUND`), never someone else's data.

use entity::{case, filing, merchant, user, user_region};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, Query},
};
use uuid::Uuid;

use crate::{
    services::auth::Caller,
    domain::{Agency, Role},
    error::{AppError, AppResult},
};

#[derive(Clone, Debug)]
pub enum Scope {
    /// A merchant's user; `merchant_id` is `None` until the profile is saved. `via_client`:
    /// the API client acting for it, if any.
    Merchant { user_id: Uuid, merchant_id: Option<Uuid>, via_client: Option<Uuid> },
    /// An officer or supervisor: one agency, some regions (or an agency's API client, acting in
    /// the name of the admin who created it).
    Agency { user_id: Uuid, agency: Agency, regions: Vec<String>, supervisor: bool, via_client: Option<Uuid> },
    /// Reads everything, decides nothing.
    Admin { user_id: Uuid },
}

/// Loads what the caller may reach from its account (a token alone is not trusted for the
/// officer's agency and regions, which an admin may change). One statement for staff: the
/// account joined with its regions.
pub async fn load_scope<C: ConnectionTrait>(db: &C, caller: &Caller) -> AppResult<Scope> {
    let principal = caller.require_user()?;
    if principal.client.is_some() {
        return crate::services::auth::clients::client_scope(db, principal.user_id).await;
    }
    let (user, regions) = user::Entity::find_by_id(principal.user_id)
        .find_with_related(user_region::Entity)
        .all(db)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::Unauthenticated("the account no longer exists".into()))?;
    Ok(match user.role {
        Role::Merchant => {
            let merchant = merchant::Entity::find()
                .filter(merchant::Column::OwnerUserId.eq(user.id))
                .one(db)
                .await?;
            Scope::Merchant { user_id: user.id, merchant_id: merchant.map(|m| m.id), via_client: None }
        }
        Role::Officer | Role::Supervisor => Scope::Agency {
            user_id: user.id,
            agency: user.agency.ok_or_else(|| anyhow::anyhow!("staff account without an agency"))?,
            regions: regions.into_iter().map(|r| r.region_code).collect(),
            supervisor: user.role == Role::Supervisor,
            via_client: None,
        },
        Role::Admin => Scope::Admin { user_id: user.id },
    })
}

/// Agency staff: an officer, a supervisor, or an agency's API client (acting in the name of the
/// admin who created it) — the only callers that review filings. A service that takes a
/// `Staff` can be called by nobody else: the value comes only from `Scope::require_staff`.
#[derive(Clone, Copy, Debug)]
pub struct Staff<'a> {
    scope: &'a Scope,
    pub agency: Agency,
    pub regions: &'a [String],
    supervisor: bool,
}

/// A supervisor of an agency (from `Scope::require_supervisor`): assigns, transfers, reads
/// workload, and decides any filing of the agency in its regions.
#[derive(Clone, Copy, Debug)]
pub struct Supervisor<'a>(Staff<'a>);

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

    /// A filing of this agency in these regions.
    pub fn can_see(&self, filing: &filing::Model) -> bool {
        filing.agency == self.agency && self.covers_region(&filing.region_code)
    }

    /// Who may decide a filing, in one place: agency staff who see it (agency, regions) and are
    /// its assignee or a supervisor. (The token's `decisions:write` is asked for when the
    /// resolver loads the scope.) The answer is the proof a decision needs.
    pub fn can_decide(&self, filing: &filing::Model) -> AppResult<Decider<'a>> {
        if !self.can_see(filing) {
            return Err(AppError::NotFound("filing".into()));
        }
        if self.supervisor || filing.assignee_id == Some(self.user_id()) {
            Ok(Decider { filing_id: filing.id, by: DecidedBy::Officer(*self) })
        } else {
            Err(AppError::Forbidden("only the assigned officer or a supervisor may decide this filing".into()))
        }
    }

    /// An officer who may be given this filing: staff of its agency covering its region.
    pub fn may_assign_to(officer: &user::Model, officer_regions: &[String], filing: &filing::Model) -> bool {
        officer.role.is_agency_staff() && officer.agency == Some(filing.agency) && officer_regions.contains(&filing.region_code)
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
    Rule { rule_id: Uuid, version: i32 },
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

/// A merchant's user (or its API client) whose profile is saved: acts on its own merchant's
/// cases only.
#[derive(Clone, Copy, Debug)]
pub struct MerchantUser<'a> {
    scope: &'a Scope,
    pub merchant_id: Uuid,
}

impl<'a> MerchantUser<'a> {
    pub fn scope(&self) -> &'a Scope {
        self.scope
    }

    pub fn user_id(&self) -> Uuid {
        self.scope.user_id()
    }
}

impl Scope {
    pub fn user_id(&self) -> Uuid {
        match self {
            Self::Merchant { user_id, .. } | Self::Agency { user_id, .. } | Self::Admin { user_id } => *user_id,
        }
    }

    /// The API client through which the user acts (for the audit trail).
    pub fn via_client(&self) -> Option<Uuid> {
        match self {
            Self::Merchant { via_client, .. } | Self::Agency { via_client, .. } => *via_client,
            Self::Admin { .. } => None,
        }
    }

    /// Whether this scope still reaches everything `earlier` did (same account, same client,
    /// no role, agency or region taken away): a live socket may go on; otherwise it closes.
    pub fn covers(&self, earlier: &Scope) -> bool {
        match (self, earlier) {
            (Self::Admin { user_id: now }, Self::Admin { user_id: then }) => now == then,
            (
                Self::Merchant { user_id: u1, merchant_id: m1, via_client: c1 },
                Self::Merchant { user_id: u2, merchant_id: m2, via_client: c2 },
            ) => u1 == u2 && c1 == c2 && (m2.is_none() || m1 == m2),
            // An agency's API client serves every region its agency has filings in; only the
            // client itself (its revocation) limits it.
            (
                Self::Agency { agency: a1, via_client: Some(c1), .. },
                Self::Agency { agency: a2, via_client: Some(c2), .. },
            ) => a1 == a2 && c1 == c2,
            (
                Self::Agency { user_id: u1, agency: a1, regions: r1, supervisor: s1, via_client: c1 },
                Self::Agency { user_id: u2, agency: a2, regions: r2, supervisor: s2, via_client: c2 },
            ) => u1 == u2 && a1 == a2 && c1 == c2 && (*s1 || !*s2) && r2.iter().all(|r| r1.contains(r)),
            _ => false,
        }
    }

    /// The merchant's own merchant id, or the reason it has none.
    pub fn own_merchant(&self) -> AppResult<Uuid> {
        self.require_merchant().map(|m| m.merchant_id)
    }

    /// A merchant's user with a saved profile, or why not.
    pub fn require_merchant(&self) -> AppResult<MerchantUser<'_>> {
        match self {
            Self::Merchant { merchant_id: Some(id), .. } => Ok(MerchantUser { scope: self, merchant_id: *id }),
            Self::Merchant { merchant_id: None, .. } => Err(AppError::validation(
                "profile",
                "save your merchant profile first (saveMerchantProfile)",
            )),
            _ => Err(AppError::Forbidden("only a merchant's user may do this".into())),
        }
    }

    /// Officers and supervisors (and agencies' API clients), or FORBIDDEN.
    pub fn require_staff(&self) -> AppResult<Staff<'_>> {
        match self {
            Self::Agency { agency, regions, supervisor, .. } => Ok(Staff { scope: self, agency: *agency, regions, supervisor: *supervisor }),
            _ => Err(AppError::Forbidden("only agency officers and supervisors may do this".into())),
        }
    }

    /// Administrators only, or FORBIDDEN.
    pub fn require_admin(&self) -> AppResult<Admin> {
        match self {
            Self::Admin { user_id } => Ok(Admin { user_id: *user_id }),
            _ => Err(AppError::Forbidden("only an administrator may do this".into())),
        }
    }

    /// Supervisors only, or FORBIDDEN.
    pub fn require_supervisor(&self) -> AppResult<Supervisor<'_>> {
        let staff = self.require_staff()?;
        if staff.supervisor {
            Ok(Supervisor(staff))
        } else {
            Err(AppError::Forbidden("only a supervisor may do this".into()))
        }
    }


    pub fn can_see_filing(&self, case_merchant_id: Uuid, filing: &filing::Model) -> bool {
        match self {
            Self::Admin { .. } => true,
            Self::Merchant { merchant_id, .. } => *merchant_id == Some(case_merchant_id),
            Self::Agency { .. } => self.require_staff().is_ok_and(|staff| staff.can_see(filing)),
        }
    }

    /// Whether a live event about a filing is for this caller (same rule as `can_see_filing`).
    pub fn can_see_change(&self, change: &crate::platform::events::FilingChange) -> bool {
        match self {
            Self::Admin { .. } => true,
            Self::Merchant { merchant_id, .. } => *merchant_id == Some(change.merchant_id),
            Self::Agency { agency, regions, .. } => {
                change.agency == *agency && regions.iter().any(|r| *r == change.region_code)
            }
        }
    }

    /// Rows of `filings` the caller may see. `None`: everything.
    pub fn filing_condition(&self) -> Option<Condition> {
        match self {
            Self::Admin { .. } => None,
            Self::Merchant { merchant_id, .. } => Some(
                Condition::all().add(
                    filing::Column::CaseId.in_subquery(
                        Query::select()
                            .column(case::Column::Id)
                            .from(case::Entity)
                            .and_where(Expr::col(case::Column::MerchantId).eq(*merchant_id))
                            .to_owned(),
                    ),
                ),
            ),
            Self::Agency { agency, regions, .. } => Some(
                Condition::all()
                    .add(filing::Column::Agency.eq(*agency))
                    .add(filing::Column::RegionCode.is_in(regions.clone())),
            ),
        }
    }

    /// Rows of `cases` the caller may see: a merchant its own; agency staff those holding a
    /// filing of theirs.
    pub fn case_condition(&self) -> Option<Condition> {
        match self {
            Self::Admin { .. } => None,
            Self::Merchant { merchant_id, .. } => {
                Some(Condition::all().add(case::Column::MerchantId.eq(*merchant_id)))
            }
            // EXISTS, correlated on the case: one index probe per candidate case (the
            // uncorrelated `id IN (SELECT case_id …)` materialised every filing of the agency
            // and region — thousands of rows — for each single-case look-up).
            Self::Agency { agency, regions, .. } => Some(
                Condition::all().add(Expr::exists(
                    Query::select()
                        .expr(Expr::val(1))
                        .from(filing::Entity)
                        .and_where(
                            Expr::col((filing::Entity, filing::Column::CaseId))
                                .equals((case::Entity, case::Column::Id)),
                        )
                        .and_where(Expr::col((filing::Entity, filing::Column::Agency)).eq(*agency))
                        .and_where(
                            Expr::col((filing::Entity, filing::Column::RegionCode)).is_in(regions.clone()),
                        )
                        .to_owned(),
                )),
            ),
        }
    }
}
