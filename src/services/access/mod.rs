//! Who may see what. Every service query goes through a `Scope`, so an object the caller may
//! not see is simply not found (`NOT_FOUND`), never someone else's data.

mod conditions;
pub mod known;
mod proofs;

pub use known::{CHANNEL as ACCESS_CHANGED_CHANNEL, KnownScopes};

pub use proofs::{Admin, DecidedBy, Decider, MerchantUser, Owner, Staff, Supervisor};

use chrono::NaiveDate;
use entity::{agent_authorization, enums::MerchantRole, filing, merchant_member, user};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, FromQueryResult, QueryFilter, Statement};
use uuid::Uuid;

use crate::{
    domain::{Agency, FilingKind, Role},
    error::{AppError, AppResult},
    platform::clock,
    services::auth::Caller,
};

#[derive(Clone, Debug)]
pub enum Scope {
    /// A merchant's member (its OWNER or STAFF); `merchant_id` is `None` until the profile is
    /// saved (the user then becomes its owner). `via_client`: the API client acting for it.
    Merchant { user_id: Uuid, merchant_id: Option<Uuid>, via_client: Option<Uuid>, role: MerchantRole },
    /// A registered agent (代办 / customs broker): the kinds each merchant granted it, for the
    /// grants that stand now (not revoked, not past their date).
    Agent { user_id: Uuid, grants: Vec<Grant> },
    /// An officer or supervisor: one agency, some regions (or an agency's API client, acting in
    /// the name of the admin who created it).
    /// `shared_cases`: cases another agency shared with this one (大部门联动), read-only.
    Agency {
        user_id: Uuid,
        agency: Agency,
        regions: Vec<String>,
        supervisor: bool,
        via_client: Option<Uuid>,
        shared_cases: Vec<Uuid>,
    },
    /// Reads everything, decides nothing.
    Admin { user_id: Uuid },
}

/// What the caller may reach: the scope kept from an earlier request while it still stands
/// (`known`: PostgreSQL, users' own logins), loaded otherwise.
pub async fn scope_for(state: &crate::platform::state::AppState, caller: &Caller) -> AppResult<Scope> {
    let principal = caller.require_user()?;
    if principal.client.is_some() {
        return load_scope(&state.db, caller).await;
    }
    if let Some(scope) = state.known_scopes.get(principal.user_id) {
        return Ok(scope);
    }
    let generation = state.known_scopes.generation();
    let scope = load_scope(&state.db, caller).await?;
    if let Some(generation) = generation {
        state.known_scopes.keep(&scope, generation);
    }
    Ok(scope)
}

/// Loads what the caller may reach from its account (a token alone is not trusted for the
/// officer's agency and regions, which an admin may change). One statement for staff: the
/// account with its regions and the cases shared with its agency.
pub async fn load_scope<C: ConnectionTrait>(db: &C, caller: &Caller) -> AppResult<Scope> {
    let principal = caller.require_user()?;
    if principal.client.is_some() {
        return crate::services::auth::clients::client_scope(db, principal.user_id).await;
    }
    let (user, regions, shared_cases) = account_with_reach(db, principal.user_id)
        .await?
        .ok_or_else(|| AppError::Unauthenticated("the account no longer exists".into()))?;
    Ok(match user.role {
        Role::Merchant => {
            let member = merchant_member::Entity::find_by_id(user.id).one(db).await?;
            let role = member.as_ref().map_or(MerchantRole::Owner, |m| m.role);
            Scope::Merchant { user_id: user.id, merchant_id: member.map(|m| m.merchant_id), via_client: None, role }
        }
        Role::Agent => Scope::Agent { user_id: user.id, grants: standing_grants(db, user.id).await? },
        Role::Officer | Role::Supervisor => {
            let agency = user.agency.ok_or_else(|| anyhow::anyhow!("staff account without an agency"))?;
            Scope::Agency {
                user_id: user.id,
                agency,
                regions,
                supervisor: user.role == Role::Supervisor,
                via_client: None,
                shared_cases,
            }
        }
        Role::Admin => Scope::Admin { user_id: user.id },
    })
}

/// The account, its regions in order and the cases shared with its agency (大部门联动) in any
/// of them or agency-wide — one statement, which is all agency staff need (issue 15).
async fn account_with_reach<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
) -> AppResult<Option<(user::Model, Vec<String>, Vec<Uuid>)>> {
    let backend = db.get_database_backend();
    let (list, case_id, param) = match backend {
        DatabaseBackend::Postgres => ("string_agg", "CAST(s.case_id AS text)", "$1"),
        _ => ("group_concat", "hex(s.case_id)", "?"),
    };
    let sql = format!(
        "SELECT u.*, \
           (SELECT {list}(r.region_code, ',' ORDER BY r.position) FROM user_regions r WHERE r.user_id = u.id) AS reach_regions, \
           (SELECT {list}({case_id}, ',') FROM case_shares s WHERE s.agency = u.agency AND s.revoked_at IS NULL \
              AND (s.region_code IS NULL OR s.region_code IN (SELECT r.region_code FROM user_regions r WHERE r.user_id = u.id))) AS reach_shares \
         FROM users u WHERE u.id = {param}"
    );
    let Some(row) = db.query_one_raw(Statement::from_sql_and_values(backend, sql, [user_id.into()])).await? else {
        return Ok(None);
    };
    let user = user::Model::from_query_result(&row, "")?;
    let listed = |column: &str| -> AppResult<Vec<String>> {
        Ok(row
            .try_get::<Option<String>>("", column)?
            .map(|l| l.split(',').map(str::to_string).collect())
            .unwrap_or_default())
    };
    let regions = listed("reach_regions")?;
    let shared_cases = listed("reach_shares")?
        .iter()
        .map(|id| Uuid::parse_str(id).map_err(|e| AppError::Internal(anyhow::anyhow!("a shared case id {id}: {e}"))))
        .collect::<AppResult<Vec<Uuid>>>()?;
    Ok(Some((user, regions, shared_cases)))
}

/// An agent's authority for one merchant: these kinds, until this date (inclusive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub id: Uuid,
    pub merchant_id: Uuid,
    pub kinds: Vec<FilingKind>,
    pub valid_until: NaiveDate,
}

impl Grant {
    pub fn allows(&self, merchant_id: Uuid, kind: FilingKind) -> bool {
        self.merchant_id == merchant_id && self.kinds.contains(&kind)
    }
}

/// The agent's grants that stand today (China Standard Time).
async fn standing_grants<C: ConnectionTrait>(db: &C, agent: Uuid) -> AppResult<Vec<Grant>> {
    let rows = agent_authorization::Entity::find()
        .filter(agent_authorization::Column::AgentId.eq(agent))
        .filter(agent_authorization::Column::RevokedAt.is_null())
        .filter(agent_authorization::Column::ValidUntil.gte(clock::china_today()))
        .all(db)
        .await?;
    rows.into_iter()
        .map(|a| {
            let kinds: Vec<FilingKind> = serde_json::from_str(&a.kinds).map_err(anyhow::Error::from)?;
            Ok(Grant { id: a.id, merchant_id: a.merchant_id, kinds, valid_until: a.valid_until })
        })
        .collect()
}

impl Scope {
    pub fn user_id(&self) -> Uuid {
        match self {
            Self::Merchant { user_id, .. }
            | Self::Agent { user_id, .. }
            | Self::Agency { user_id, .. }
            | Self::Admin { user_id } => *user_id,
        }
    }

    /// Whether the caller acts for a merchant (a member or an agent): its events record the
    /// merchant (`onBehalfOfMerchantId`).
    pub fn acts_for_merchant(&self) -> bool {
        matches!(self, Self::Merchant { .. } | Self::Agent { .. })
    }

    /// The API client through which the user acts (for the audit trail).
    pub fn via_client(&self) -> Option<Uuid> {
        match self {
            Self::Merchant { via_client, .. } | Self::Agency { via_client, .. } => *via_client,
            Self::Agent { .. } | Self::Admin { .. } => None,
        }
    }

    /// Whether this scope still reaches everything `earlier` did (same account, same client,
    /// no role, agency or region taken away): a live socket may go on; otherwise it closes.
    pub fn covers(&self, earlier: &Scope) -> bool {
        match (self, earlier) {
            (Self::Admin { user_id: now }, Self::Admin { user_id: then }) => now == then,
            (
                Self::Merchant { user_id: u1, merchant_id: m1, via_client: c1, role: r1 },
                Self::Merchant { user_id: u2, merchant_id: m2, via_client: c2, role: r2 },
            ) => u1 == u2 && c1 == c2 && (m2.is_none() || (m1 == m2 && r1 == r2)),
            // Every grant the socket started with still stands, with every kind it had.
            (Self::Agent { user_id: u1, grants: now }, Self::Agent { user_id: u2, grants: then }) => {
                u1 == u2
                    && then.iter().all(|old| {
                        now.iter()
                            .any(|g| g.merchant_id == old.merchant_id && old.kinds.iter().all(|k| g.kinds.contains(k)))
                    })
            }
            // An agency's API client serves every region its agency has filings in; only the
            // client itself (its revocation) limits it.
            (
                Self::Agency { agency: a1, via_client: Some(c1), .. },
                Self::Agency { agency: a2, via_client: Some(c2), .. },
            ) => a1 == a2 && c1 == c2,
            (
                Self::Agency {
                    user_id: u1,
                    agency: a1,
                    regions: r1,
                    supervisor: s1,
                    via_client: c1,
                    shared_cases: sc1,
                },
                Self::Agency {
                    user_id: u2,
                    agency: a2,
                    regions: r2,
                    supervisor: s2,
                    via_client: c2,
                    shared_cases: sc2,
                },
            ) => {
                u1 == u2
                    && a1 == a2
                    && c1 == c2
                    && (*s1 || !*s2)
                    && r2.iter().all(|r| r1.contains(r))
                    && sc2.iter().all(|c| sc1.contains(c))
            }
            _ => false,
        }
    }

    /// The merchant's own merchant id, or the reason it has none.
    pub fn own_merchant(&self) -> AppResult<Uuid> {
        self.require_merchant().map(|m| m.merchant_id)
    }

    /// A merchant's member (OWNER or STAFF) with a saved profile, or why not.
    pub fn require_merchant(&self) -> AppResult<MerchantUser<'_>> {
        match self {
            Self::Merchant { merchant_id: Some(id), role, .. } => Ok(MerchantUser::member(self, *id, *role)),
            Self::Merchant { merchant_id: None, .. } => {
                Err(AppError::validation("profile", "save your merchant profile first (saveMerchantProfile)"))
            }
            _ => Err(AppError::Forbidden("only a merchant's user may do this".into())),
        }
    }

    /// The merchant's OWNER (members, API clients and agents' authority are the owner's to
    /// manage; an API client the owner made acts with the owner's rights), or FORBIDDEN.
    pub fn require_owner(&self) -> AppResult<Owner<'_>> {
        let merchant = self.require_merchant()?;
        if merchant.is_owner() {
            Ok(Owner(merchant))
        } else {
            Err(AppError::Forbidden("only the merchant's OWNER may do this".into()))
        }
    }

    /// Whether the caller manages this merchant's people (its OWNER) or reads everything (an
    /// administrator): who sees `members` and `authorizations`.
    pub fn manages(&self, merchant_id: Uuid) -> bool {
        matches!(self, Self::Admin { .. }) || self.require_owner().is_ok_and(|owner| owner.merchant_id == merchant_id)
    }

    /// Someone filing for a merchant: one of its members (`merchant_id` absent or its own), or
    /// an agent it granted authority (`merchant_id` required), limited to the granted kinds.
    /// A merchant the caller does not act for is NOT_FOUND.
    pub fn act_for(&self, merchant_id: Option<Uuid>) -> AppResult<MerchantUser<'_>> {
        match (self, merchant_id) {
            (Self::Agent { .. }, None) => {
                Err(AppError::validation("merchantId", "name the merchant you act for (agentClients)"))
            }
            (Self::Agent { .. }, Some(id)) => self.act_for_case(id),
            (_, None) => self.require_merchant(),
            (_, Some(id)) => {
                let own = self.require_merchant()?;
                if own.merchant_id == id { Ok(own) } else { Err(AppError::NotFound("merchant".into())) }
            }
        }
    }

    /// Someone filing in a case of `merchant_id` the caller already reached (the case itself
    /// was found within the scope): a member, or an agent with a grant for that merchant.
    pub fn act_for_case(&self, merchant_id: Uuid) -> AppResult<MerchantUser<'_>> {
        match self {
            Self::Agent { grants, .. } => grants
                .iter()
                .find(|g| g.merchant_id == merchant_id)
                .map(|g| MerchantUser::agent(self, g))
                .ok_or_else(|| AppError::NotFound("merchant".into())),
            _ => self.require_merchant(),
        }
    }

    /// Officers and supervisors (and agencies' API clients), or FORBIDDEN.
    pub fn require_staff(&self) -> AppResult<Staff<'_>> {
        match self {
            Self::Agency { agency, regions, supervisor, .. } => {
                Ok(Staff { scope: self, agency: *agency, regions, supervisor: *supervisor })
            }
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
            Self::Agent { grants, .. } => grants.iter().any(|g| g.allows(case_merchant_id, filing.kind)),
            Self::Agency { shared_cases, .. } => {
                shared_cases.contains(&filing.case_id) || self.require_staff().is_ok_and(|staff| staff.can_see(filing))
            }
        }
    }

    /// Whether the caller reads this part of a case — the filing, or (`None`) the case itself,
    /// whose filings are `case_filings` — masked: administrators, and agency staff who see it
    /// only because the case was shared with their agency. Such a reader gets personal numbers
    /// in free text masked, people's names shown in part, and personal documents listed
    /// without their bytes.
    pub fn reads_masked(&self, filing: Option<&filing::Model>, case_filings: &[filing::Model]) -> bool {
        match self {
            Self::Admin { .. } => true,
            Self::Agency { .. } => match self.require_staff() {
                Ok(staff) => match filing {
                    Some(filing) => !staff.can_see(filing),
                    None => !case_filings.iter().any(|f| staff.can_see(f)),
                },
                Err(_) => true,
            },
            Self::Merchant { .. } | Self::Agent { .. } => false,
        }
    }

    /// [`Self::reads_masked`] for what belongs to the filing `filing_id` of the case (an event,
    /// a comment, a document), or to the case itself.
    pub fn reads_part_masked(&self, filing_id: Option<Uuid>, case_filings: &[filing::Model]) -> bool {
        let filing = filing_id.and_then(|id| case_filings.iter().find(|f| f.id == id));
        self.reads_masked(filing, case_filings)
    }

    /// Whether the case was shared with the caller's agency (it sees it read-only).
    pub fn shares(&self, case_id: Uuid) -> bool {
        matches!(self, Self::Agency { shared_cases, .. } if shared_cases.contains(&case_id))
    }

    /// Whether a live event about a filing is for this caller (same rule as `can_see_filing`).
    pub fn can_see_change(&self, change: &crate::platform::events::FilingChange) -> bool {
        match self {
            Self::Admin { .. } => true,
            Self::Merchant { merchant_id, .. } => *merchant_id == Some(change.merchant_id),
            Self::Agent { grants, .. } => grants
                .iter()
                .any(|g| g.merchant_id == change.merchant_id && g.kinds.iter().any(|k| k.agency() == change.agency)),
            Self::Agency { agency, regions, shared_cases, .. } => {
                (change.agency == *agency && regions.contains(&change.region_code))
                    || shared_cases.contains(&change.case_id)
            }
        }
    }
}
