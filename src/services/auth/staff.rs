//! Staff accounts: an ADMIN creates officers and supervisors (invited by email to set a
//! password) for one agency and some regions; `create-admin` bootstraps administrators. Who
//! supervises a region is answered here, once.

use entity::{user, user_region};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use uuid::Uuid;

use super::{
    Caller,
    accounts::{NewUser, PURPOSE_RESET_PASSWORD, insert_user, issue_one_time_token, parse_display_name},
    password::hash_password,
};
use crate::{
    domain::{Agency, Email, Role, labels::Labelled, password::NewPassword},
    error::{AppResult, Problems},
    platform::{
        notify::{EmailKind, enqueue_email},
        state::AppState,
    },
    services::audit::security::{self, SecurityEvent, SecurityKind},
};

pub struct OfficerInput {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub agency: Agency,
    pub regions: Vec<String>,
}

/// ADMIN creates an officer or supervisor and emails an invitation to set a password.
#[tracing::instrument(skip_all)]
pub async fn create_officer(
    state: &AppState,
    caller: &Caller,
    input: OfficerInput,
    address: Option<std::net::IpAddr>,
) -> AppResult<user::Model> {
    let admin = caller.require_role(&[Role::Admin])?;
    let (email, name, regions) = validate_officer(state, &input)?;
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let new = NewUser {
        email,
        password_hash: None,
        display_name: name,
        role: input.role,
        verified: false,
        agency: Some(input.agency),
        regions: regions.clone(),
    };
    let user = insert_user(&txn, new).await?;
    let token = issue_one_time_token(&txn, user.id, PURPOSE_RESET_PASSWORD, state.config.tokens.invitation).await?;
    enqueue_email(
        &txn,
        &state.templates,
        &user.email,
        EmailKind::OfficerInvitation,
        invitation(state, &user, input.agency, &regions, &token),
    )
    .await?;
    let granted = format!("{} of {} in {}", input.role.as_str(), input.agency.as_str(), regions.join(","));
    let event = SecurityEvent::new(SecurityKind::RoleGranted)
        .actor(admin.user_id)
        .subject(user.id)
        .from(address)
        .detail(&granted);
    security::record(&txn, state, event).await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(user)
}

/// Every problem of an officer's input at once; the regions deduplicated.
fn validate_officer(state: &AppState, input: &OfficerInput) -> AppResult<(Email, String, Vec<String>)> {
    let mut problems = Problems::default();
    let email = problems.check(Email::parse("email", &input.email));
    let name = problems.check(parse_display_name(&input.display_name));
    if !input.role.is_agency_staff() {
        problems.push("role", "must be OFFICER or SUPERVISOR");
    }
    if input.regions.is_empty() {
        problems.push("regions", "at least one region is required");
    }
    if input.regions.len() > 200 {
        problems.push("regions", "at most 200 regions");
    }
    let mut regions: Vec<String> = Vec::new();
    for (i, raw) in input.regions.iter().enumerate() {
        if let Some(code) = problems.check(state.config.regions.parse(&format!("regions[{i}]"), raw))
            && !regions.iter().any(|r| r == code.as_str())
        {
            regions.push(code.as_str().to_string());
        }
    }
    let (Some(email), Some(name)) = problems.finish((email, name))? else {
        return Err(anyhow::anyhow!("validated input without a value").into());
    };
    Ok((email, name, regions))
}

/// The invitation's words: the role, the agency and regions, the link to set a password.
fn invitation(
    state: &AppState,
    user: &user::Model,
    agency: Agency,
    regions: &[String],
    token: &str,
) -> serde_json::Value {
    let (role_zh, role_en) = match user.role {
        Role::Supervisor => ("主管", "supervisor"),
        _ => ("审核员", "officer"),
    };
    json!({
        "display_name": user.display_name,
        "role_zh": role_zh,
        "role_en": role_en,
        "agency_zh": agency.label().zh,
        "agency_en": agency.as_str(),
        "regions": regions.join(", "),
        "link": state.link("/reset-password", token),
    })
}

/// Bootstraps an ADMIN (CLI `create-admin`). The address counts as verified: the operator
/// typed it on the server.
#[tracing::instrument(skip_all)]
pub async fn create_admin(state: &AppState, email: &str, password: &str, display_name: &str) -> AppResult<user::Model> {
    let email = Email::parse("email", email)?;
    let name = parse_display_name(display_name)?;
    let password = NewPassword::parse("password", password, &[email.as_str(), email.local_part(), &name])?;
    let hash = hash_password(password.expose().to_string()).await?;
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let admin = insert_user(
        &txn,
        NewUser {
            email,
            password_hash: Some(hash),
            display_name: name,
            role: Role::Admin,
            verified: true,
            agency: None,
            regions: vec![],
        },
    )
    .await?;
    let event = SecurityEvent::new(SecurityKind::RoleGranted).subject(admin.id).detail("ADMIN (command line)");
    security::record(&txn, state, event).await?;
    txn.commit().await?;
    Ok(admin)
}

/// The supervisors of `agency` covering any of `regions` (the one definition, used for every
/// supervisors' email).
pub async fn supervisors_of<C: ConnectionTrait>(
    db: &C,
    agency: Agency,
    regions: &[&str],
) -> AppResult<Vec<user::Model>> {
    let covering = sea_orm::sea_query::Query::select()
        .column(user_region::Column::UserId)
        .from(user_region::Entity)
        .and_where(user_region::Column::RegionCode.is_in(regions.iter().copied()))
        .to_owned();
    Ok(user::Entity::find()
        .filter(user::Column::Role.eq(Role::Supervisor))
        .filter(user::Column::Agency.eq(agency))
        .filter(user::Column::Id.in_subquery(covering))
        .order_by_asc(user::Column::Id)
        .all(db)
        .await?)
}

/// The regions an officer or supervisor covers, in the order they were given.
pub async fn regions_of<C: ConnectionTrait>(db: &C, user_id: Uuid) -> AppResult<Vec<String>> {
    Ok(user_region::Entity::find()
        .filter(user_region::Column::UserId.eq(user_id))
        .order_by_asc(user_region::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.region_code)
        .collect())
}
