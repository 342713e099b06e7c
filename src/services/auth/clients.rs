//! Integrators: OAuth 2.0 clients (client credentials grant, RFC 6749 §4.4). An admin creates
//! clients for an agency, a merchant for its own merchant; the secret is shown once and
//! stored argon2-hashed; tokens carry the granted scopes and stop working when the client is
//! revoked (checked on every request).

use async_graphql::SimpleObject;
use entity::{api_client, merchant};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, sea_query::Expr};
use uuid::Uuid;

use super::{
    Need,
    password::{hash_password, verify_password},
    tokens::random_token,
};
use crate::{
    domain::{Agency, Role, identifiers as id},
    error::{AppError, AppResult},
    platform::clock,
    platform::state::AppState,
    services::access::Scope,
    services::audit::security::{self, SecurityEvent, SecurityKind},
};

const AGENCY_SCOPES: &[&str] = &["cases:read", "decisions:write"];
const MERCHANT_SCOPES: &[&str] = &["cases:read", "cases:write", "trace:write"];

#[derive(SimpleObject)]
pub struct ApiClientCredentials {
    pub client_id: String,
    /// Shown once; only its hash is kept.
    pub client_secret: String,
    pub name: String,
    pub scopes: Vec<String>,
}

/// What a `createApiClient` asks for.
pub struct NewClient<'a> {
    pub name: &'a str,
    pub scopes: Vec<String>,
    /// The merchant it acts for (a merchant's own client).
    pub merchant_id: Option<Uuid>,
    /// The agency it acts for (an admin's client).
    pub agency: Option<Agency>,
}

/// An admin (for an agency) or a merchant (for itself) creates an API client; the secret is
/// shown once and kept argon2-hashed.
#[tracing::instrument(skip_all, fields(user = %scope.user_id()))]
pub async fn create_client(
    state: &AppState,
    scope: &Scope,
    caller: &super::Caller,
    asked: NewClient<'_>,
    address: Option<std::net::IpAddr>,
) -> AppResult<ApiClientCredentials> {
    let NewClient { name, scopes, merchant_id, agency } = asked;
    caller.require_scope(Need::UserOnly)?;
    let name = id::text("name", name, 100, false)?;
    let (allowed, merchant_id, agency) = owner_of(scope, merchant_id, agency)?;
    let granted = granted_scopes(allowed, &scopes)?;
    let client_id = format!("osc_{}", &random_token()[..24]);
    let secret = random_token();
    let secret_hash = hash_password(secret.clone()).await?;
    let row_id = Uuid::now_v7();
    let txn = crate::platform::db::begin_write(&state.db).await?;
    api_client::ActiveModel {
        id: Set(row_id),
        client_id: Set(client_id.clone()),
        secret_hash: Set(secret_hash),
        name: Set(name.clone()),
        scopes: Set(serde_json::to_string(&granted).map_err(anyhow::Error::from)?),
        merchant_id: Set(merchant_id),
        agency: Set(agency),
        created_by: Set(scope.user_id()),
        created_at: Set(clock::now()),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let detail = format!("{client_id} \"{name}\": {}", granted.join(" "));
    let event = SecurityEvent::new(SecurityKind::ApiClientCreated)
        .actor(scope.user_id())
        .subject(row_id)
        .from(address)
        .detail(&detail);
    security::record(&txn, state, event).await?;
    txn.commit().await?;
    tracing::info!(client_id = %client_id, "API client created");
    Ok(ApiClientCredentials { client_id, client_secret: secret, name, scopes: granted })
}

/// Whom a new client acts for, and the scopes it may have: an admin's is an agency's, a
/// merchant's its own merchant's.
fn owner_of(
    scope: &Scope,
    merchant_id: Option<Uuid>,
    agency: Option<Agency>,
) -> AppResult<(&'static [&'static str], Option<Uuid>, Option<Agency>)> {
    match scope {
        Scope::Admin { .. } => {
            let agency = agency.ok_or_else(|| AppError::validation("agency", "an agency client needs its agency"))?;
            if merchant_id.is_some() {
                return Err(AppError::validation("merchantId", "admins create clients for agencies"));
            }
            Ok((AGENCY_SCOPES, None, Some(agency)))
        }
        Scope::Merchant { .. } => {
            let own = scope.require_owner()?.merchant_id;
            if merchant_id.is_some_and(|m| m != own) {
                return Err(AppError::NotFound("merchant".into()));
            }
            if agency.is_some() {
                return Err(AppError::validation("agency", "a merchant's client acts for the merchant"));
            }
            Ok((MERCHANT_SCOPES, Some(own), None))
        }
        Scope::Agency { .. } | Scope::Agent { .. } => {
            Err(AppError::Forbidden("only admins and merchants' owners create API clients".into()))
        }
    }
}

/// The requested scopes, each allowed, each once, at least one.
fn granted_scopes(allowed: &[&str], requested: &[String]) -> AppResult<Vec<String>> {
    let mut granted: Vec<String> = Vec::new();
    for s in requested {
        if !allowed.contains(&s.as_str()) {
            return Err(AppError::validation("scopes", format!("{s:?} is not one of {}", allowed.join(", "))));
        }
        if !granted.contains(s) {
            granted.push(s.clone());
        }
    }
    if granted.is_empty() {
        return Err(AppError::validation("scopes", "grant at least one scope"));
    }
    Ok(granted)
}

/// Admins see every client; merchants their own.
#[tracing::instrument(skip_all, fields(user = %scope.user_id()))]
pub async fn list_clients(state: &AppState, scope: &Scope) -> AppResult<Vec<api_client::Model>> {
    let query = api_client::Entity::find().order_by_asc(api_client::Column::CreatedAt);
    let query = match scope {
        Scope::Admin { .. } => query,
        // STAFF and agents manage no API clients: they see none.
        Scope::Merchant { .. } => match scope.require_merchant()? {
            owner if owner.is_owner() => query.filter(api_client::Column::MerchantId.eq(owner.merchant_id)),
            _ => return Ok(Vec::new()),
        },
        Scope::Agent { .. } => return Ok(Vec::new()),
        Scope::Agency { .. } => return Err(AppError::Forbidden("only admins and merchants manage API clients".into())),
    };
    Ok(query.all(&state.db).await?)
}

#[tracing::instrument(skip_all, fields(client = %id))]
pub async fn revoke_client(
    state: &AppState,
    scope: &Scope,
    id: Uuid,
    address: Option<std::net::IpAddr>,
) -> AppResult<()> {
    let visible = list_clients(state, scope).await?;
    let Some(client) = visible.iter().find(|c| c.id == id) else {
        return Err(AppError::NotFound("API client".into()));
    };
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let revoked = api_client::Entity::update_many()
        .col_expr(api_client::Column::RevokedAt, Expr::value(clock::now()))
        .filter(api_client::Column::Id.eq(id))
        .filter(api_client::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if revoked.rows_affected == 1 {
        let event = SecurityEvent::new(SecurityKind::ApiClientRevoked)
            .actor(scope.user_id())
            .subject(id)
            .from(address)
            .detail(&client.client_id);
        security::record(&txn, state, event).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Why a token request failed, as RFC 6749 §5.2 names it.
#[derive(Debug, PartialEq, Eq)]
pub enum GrantError {
    InvalidClient,
    InvalidScope,
    Unavailable,
}

pub struct GrantedToken {
    pub access_token: String,
    pub expires_in: u64,
    pub scope: String,
}

/// The client credentials grant: verifies the client and issues a JWT with the requested
/// scopes (all granted ones by default).
#[tracing::instrument(skip_all, fields(client_id = %client_id))]
pub async fn exchange(
    state: &AppState,
    client_id: &str,
    secret: &str,
    requested: Option<&str>,
) -> Result<GrantedToken, GrantError> {
    let row = api_client::Entity::find()
        .filter(api_client::Column::ClientId.eq(client_id))
        .one(&state.db)
        .await
        .map_err(|_| GrantError::Unavailable)?;
    let stored = row.as_ref().map(|r| r.secret_hash.clone());
    let ok = verify_password(secret.to_string(), stored).await.map_err(|_| GrantError::Unavailable)?;
    let Some(row) = row.filter(|r| ok && r.revoked_at.is_none()) else { return Err(GrantError::InvalidClient) };
    let granted: Vec<String> = serde_json::from_str(&row.scopes).unwrap_or_default();
    let scopes: Vec<String> = match requested.map(str::split_whitespace) {
        Some(asked) => {
            let asked: Vec<String> = asked.map(str::to_string).collect();
            if asked.iter().any(|s| !granted.contains(s)) {
                return Err(GrantError::InvalidScope);
            }
            asked
        }
        None => granted,
    };
    let role = if row.agency.is_some() { Role::Officer } else { Role::Merchant };
    let scope = scopes.join(" ");
    let access_token =
        state.jwt.issue_with_scope(row.id, role, Some(scope.clone())).map_err(|_| GrantError::Unavailable)?;
    Ok(GrantedToken { access_token, expires_in: state.jwt.ttl().as_secs(), scope })
}

/// Whether an API client exists and is not revoked (one primary-key read).
pub async fn is_active<C: sea_orm::ConnectionTrait>(db: &C, client_row: Uuid) -> AppResult<bool> {
    Ok(api_client::Entity::find_by_id(client_row).one(db).await?.is_some_and(|c| c.revoked_at.is_none()))
}

/// What an integrator's token may reach: its merchant, or every region of its agency. A
/// revoked client's tokens stop here.
pub async fn client_scope<C: sea_orm::ConnectionTrait>(state_db: &C, client_row: Uuid) -> AppResult<Scope> {
    let revoked = || AppError::Unauthenticated("this API client was revoked".into());
    let client = api_client::Entity::find_by_id(client_row).one(state_db).await?.ok_or_else(revoked)?;
    if client.revoked_at.is_some() {
        return Err(revoked());
    }
    if let Some(merchant_id) = client.merchant_id {
        let merchant = merchant::Entity::find_by_id(merchant_id).one(state_db).await?.ok_or_else(revoked)?;
        return Ok(Scope::Merchant {
            user_id: merchant.owner_user_id,
            merchant_id: Some(merchant.id),
            via_client: Some(client.id),
            role: entity::enums::MerchantRole::Owner,
        });
    }
    let agency = client.agency.ok_or_else(|| anyhow::anyhow!("API client without merchant or agency"))?;
    // An agency's client serves all its offices: every region its filings are in.
    let regions: Vec<String> = entity::filing::Entity::find()
        .select_only()
        .column(entity::filing::Column::RegionCode)
        .distinct()
        .filter(entity::filing::Column::Agency.eq(agency))
        .into_tuple()
        .all(state_db)
        .await?;
    Ok(Scope::Agency {
        user_id: client.created_by,
        agency,
        regions,
        supervisor: false,
        via_client: Some(client.id),
        shared_cases: Vec::new(),
    })
}
