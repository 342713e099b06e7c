//! A merchant's people: exactly one OWNER (whoever saved the profile first; not removable) and
//! STAFF the owner invites. STAFF file and see the merchant's cases; members, API clients and
//! agents' authority are the owner's alone. A user belongs to at most one merchant.

use entity::{enums::MerchantRole, merchant, merchant_member, refresh_token, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set,
    sea_query::Expr,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    domain::{Email, Role},
    error::{AppError, AppResult},
    platform::{
        clock,
        notify::{EmailKind, enqueue_email},
        state::AppState,
    },
    services::{
        access::{Owner, Scope},
        audit::security::{self, SecurityEvent, SecurityKind},
        auth::accounts::{NewUser, PURPOSE_RESET_PASSWORD, insert_user, issue_one_time_token},
    },
};

/// The profile's first saver becomes its OWNER (in the profile's transaction).
pub async fn add_owner(txn: &DatabaseTransaction, merchant: &merchant::Model) -> AppResult<()> {
    merchant_member::ActiveModel {
        user_id: Set(merchant.owner_user_id),
        merchant_id: Set(merchant.id),
        role: Set(MerchantRole::Owner),
        added_at: Set(clock::now()),
        added_by: Set(None),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// A member as shown: the account and the membership.
pub struct Member {
    pub user: user::Model,
    pub role: MerchantRole,
    pub added_at: chrono::DateTime<chrono::Utc>,
}

/// The merchant's members, owner first: for its OWNER and administrators; anyone else gets
/// none.
pub async fn members_of<C: ConnectionTrait>(db: &C, scope: &Scope, merchant_id: Uuid) -> AppResult<Vec<Member>> {
    if !scope.manages(merchant_id) {
        return Ok(Vec::new());
    }
    let rows = merchant_member::Entity::find()
        .filter(merchant_member::Column::MerchantId.eq(merchant_id))
        .find_also_related(user::Entity)
        .order_by_asc(merchant_member::Column::AddedAt)
        .all(db)
        .await?;
    let mut members: Vec<Member> = rows
        .into_iter()
        .filter_map(|(m, u)| u.map(|user| Member { user, role: m.role, added_at: m.added_at }))
        .collect();
    members.sort_by_key(|m| m.role != MerchantRole::Owner);
    Ok(members)
}

/// The OWNER adds a STAFF member by email. A new address gets an account and a link to set
/// its password; an existing merchant account without a merchant joins and is told. The answer
/// is built from the address alone, so it looks the same either way; an address that already
/// belongs to a merchant, or to a staff, agent or admin account, is a CONFLICT.
#[tracing::instrument(skip_all)]
pub async fn invite(
    state: &AppState,
    owner: Owner<'_>,
    email: &str,
    role: MerchantRole,
    address: Option<std::net::IpAddr>,
) -> AppResult<Member> {
    if role == MerchantRole::Owner {
        return Err(AppError::validation("role", "a merchant has exactly one OWNER: invite STAFF"));
    }
    let email = Email::parse("email", email)?;
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let company = merchant::Entity::find_by_id(owner.merchant_id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::NotFound("merchant".into()))?;
    let existing = user::Entity::find().filter(user::Column::Email.eq(email.as_str())).one(&txn).await?;
    let (member, link) = joining_account(state, &txn, &email, existing).await?;
    let now = clock::now();
    merchant_member::ActiveModel {
        user_id: Set(member.id),
        merchant_id: Set(company.id),
        role: Set(role),
        added_at: Set(now),
        added_by: Set(Some(owner.user_id())),
    }
    .insert(&txn)
    .await?;
    let context =
        json!({ "display_name": email.local_part(), "merchant": company.name, "role": role.as_str(), "link": link });
    enqueue_email(&txn, &state.templates, email.as_str(), EmailKind::MemberInvitation, context).await?;
    let granted = format!("{} of merchant {}", role.as_str(), company.id);
    let event = SecurityEvent::new(SecurityKind::RoleGranted)
        .actor(owner.user_id())
        .subject(member.id)
        .from(address)
        .detail(&granted);
    security::record(&txn, state, event).await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    // Shown as the invitation addressed them, whatever the account held before.
    let shown = user::Model { display_name: email.local_part().to_string(), ..member };
    Ok(Member { user: shown, role, added_at: now })
}

/// The account an invitation joins: an existing merchant account without a merchant, or a new
/// one without a password and the link to set it.
async fn joining_account(
    state: &AppState,
    txn: &DatabaseTransaction,
    email: &Email,
    existing: Option<user::Model>,
) -> AppResult<(user::Model, Option<String>)> {
    if let Some(account) = existing {
        let joined = merchant_member::Entity::find_by_id(account.id).one(txn).await?;
        if account.role != Role::Merchant || joined.is_some() {
            return Err(AppError::Conflict(
                "this address cannot join: it belongs to another merchant or to another kind of account".into(),
            ));
        }
        return Ok((account, None));
    }
    let new = NewUser {
        email: email.clone(),
        password_hash: None,
        display_name: email.local_part().to_string(),
        role: Role::Merchant,
        verified: false,
        agency: None,
        regions: vec![],
    };
    let account = insert_user(txn, new).await?;
    let token = issue_one_time_token(txn, account.id, PURPOSE_RESET_PASSWORD, state.config.tokens.invitation).await?;
    Ok((account, Some(state.link("/reset-password", &token))))
}

/// The OWNER removes a STAFF member: the membership ends and so do the user's sessions (its
/// refresh tokens are revoked; its access tokens reach nothing of the merchant any more, on
/// every instance, since each request reads the membership).
#[tracing::instrument(skip_all)]
pub async fn remove(
    state: &AppState,
    owner: Owner<'_>,
    user_id: Uuid,
    address: Option<std::net::IpAddr>,
) -> AppResult<()> {
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let member = merchant_member::Entity::find_by_id(user_id)
        .filter(merchant_member::Column::MerchantId.eq(owner.merchant_id))
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::NotFound("member".into()))?;
    if member.role == MerchantRole::Owner {
        return Err(AppError::validation("userId", "the OWNER cannot be removed"));
    }
    merchant_member::Entity::delete_by_id(user_id).exec(&txn).await?;
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(clock::now()))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    let detail = format!("removed from merchant {}", owner.merchant_id);
    let event = SecurityEvent::new(SecurityKind::RoleGranted)
        .actor(owner.user_id())
        .subject(user_id)
        .from(address)
        .detail(&detail);
    security::record(&txn, state, event).await?;
    txn.commit().await?;
    Ok(())
}
