//! The merchant's shared company profile.

use async_graphql::InputObject;
use entity::{enums::LicenceStatus, merchant};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set,
};
use uuid::Uuid;

use crate::{
    domain::{Agency, Email, Uscc, filing_data::ProductCategory, identifiers as id},
    error::{AppError, AppResult, Problems},
    platform::clock,
    platform::notify::{EmailKind, enqueue_email},
    platform::state::AppState,
    services::access::Scope,
    services::audit::security::{self, SecurityEvent, SecurityKind},
    services::auth::accounts,
};

#[derive(InputObject, Clone, Debug)]
pub struct MerchantProfileInput {
    pub name: String,
    pub uscc: Option<String>,
    pub region_code: String,
    pub address: String,
    pub contact_email: String,
    pub contact_phone: String,
    pub store_urls: Option<Vec<String>>,
    pub categories: Option<Vec<ProductCategory>>,
}

struct ValidProfile {
    name: String,
    uscc: Option<String>,
    region_code: String,
    address: String,
    contact_email: String,
    contact_phone: String,
    store_urls: Vec<String>,
    categories: Vec<ProductCategory>,
}

fn validate(state: &AppState, input: MerchantProfileInput) -> AppResult<ValidProfile> {
    let mut problems = Problems::default();
    let mut check = |r: AppResult<String>| problems.take(r);
    // The name is shown on the public trace pages of the merchant's batches.
    let name = check(id::public_text("name", &input.name, 200));
    let uscc =
        input.uscc.as_deref().filter(|u| !u.trim().is_empty()).map(|u| {
            check(Uscc::parse_allowing("uscc", u, &state.config.uscc_allow_list).map(|u| u.as_str().to_string()))
        });
    let region_code = check(state.config.regions.parse("regionCode", &input.region_code).map(|r| r.to_string()));
    let address = check(id::text("address", &input.address, 300, false));
    let contact_email = check(Email::parse("contactEmail", &input.contact_email).map(|e| e.to_string()));
    let contact_phone = check(id::phone("contactPhone", &input.contact_phone));
    let urls = input.store_urls.unwrap_or_default();
    if urls.len() > 20 {
        check(Err(AppError::validation("storeUrls", "at most 20 store URLs")));
    }
    let store_urls: Vec<String> =
        urls.iter().enumerate().map(|(i, u)| check(id::store_url(&format!("storeUrls[{i}]"), u))).collect();
    let mut categories = input.categories.unwrap_or_default();
    categories.dedup();
    problems.finish(ValidProfile {
        name,
        uscc,
        region_code,
        address,
        contact_email,
        contact_phone,
        store_urls,
        categories,
    })
}

/// Creates or updates the caller's profile. A USCC issued or verified here cannot be changed
/// here; a typed one is kept as declared (not verified) and may be corrected until a
/// registration verifies it. Declaring a code another merchant holds or declares is allowed —
/// the real holder is never locked out — and the market-regulation supervisors of both
/// regions are told, with a security event.
#[tracing::instrument(skip_all, fields(user = %scope.user_id()))]
pub async fn save_profile(
    state: &AppState,
    scope: &Scope,
    input: MerchantProfileInput,
    address: Option<std::net::IpAddr>,
) -> AppResult<merchant::Model> {
    let Scope::Merchant { user_id, merchant_id, .. } = scope else {
        return Err(AppError::Forbidden("only a merchant's user has a merchant profile".into()));
    };
    if merchant_id.is_some() {
        scope.require_owner()?;
    }
    let profile = validate(state, input)?;
    let txn = crate::platform::db::begin_write(&state.db).await?;
    let existing = match merchant_id {
        Some(id) => merchant::Entity::find_by_id(*id).one(&txn).await?,
        None => None,
    };
    let previously_declared = existing.as_ref().and_then(|m| m.declared_uscc.clone());
    let saved = match existing {
        Some(current) => update_profile(&txn, current, profile).await?,
        None => {
            let created = new_profile(*user_id, profile)?.insert(&txn).await?;
            crate::services::members::add_owner(&txn, &created).await?;
            created
        }
    };
    let alerted = match &saved.declared_uscc {
        Some(code) if previously_declared.as_ref() != Some(code) => {
            alert_shared_uscc(&txn, state, &saved, code, address).await?
        }
        _ => false,
    };
    txn.commit().await?;
    if alerted {
        state.outbox_wakeup.notify_one();
    }
    Ok(saved)
}

/// Applies a new profile to the merchant's; the USCC follows the rules of `save_profile`.
async fn update_profile(
    txn: &DatabaseTransaction,
    current: merchant::Model,
    profile: ValidProfile,
) -> AppResult<merchant::Model> {
    registered_details_unchanged(txn, &current, &profile).await?;
    if let (Some(verified), Some(given)) = (&current.uscc, &profile.uscc)
        && verified != given
    {
        return Err(AppError::validation("uscc", "the USCC verified here cannot be changed"));
    }
    // Leaving the USCC out keeps what is on record, as it always did.
    let declared = match (&current.uscc, profile.uscc) {
        (Some(_), _) => None,
        (None, Some(given)) => Some(given),
        (None, None) => current.declared_uscc.clone(),
    };
    if declared != current.declared_uscc && registration_open(txn, current.id).await? {
        return Err(AppError::validation(
            "uscc",
            "cannot change while the REGISTRATION that verifies it is open; withdraw that case or wait for its decision",
        ));
    }
    let mut active: merchant::ActiveModel = current.into();
    active.name = Set(profile.name);
    active.declared_uscc = Set(declared);
    active.region_code = Set(profile.region_code);
    active.address = Set(profile.address);
    active.contact_email = Set(profile.contact_email);
    active.contact_phone = Set(profile.contact_phone);
    active.store_urls = Set(json(&profile.store_urls)?);
    active.categories = Set(json(&profile.categories)?);
    active.updated_at = Set(clock::now());
    Ok(active.update(txn).await?)
}

/// Once the merchant holds an ACTIVE registration licence, its name, address and USCC are
/// what the registration says: they change only through an AMENDMENT change case.
async fn registered_details_unchanged(
    txn: &DatabaseTransaction,
    current: &merchant::Model,
    profile: &ValidProfile,
) -> AppResult<()> {
    let changed: Vec<&str> = [
        ("name", profile.name != current.name),
        ("address", profile.address != current.address),
        ("uscc", profile.uscc.as_deref().is_some_and(|u| Some(u) != current.known_uscc())),
    ]
    .into_iter()
    .filter_map(|(field, differs)| differs.then_some(field))
    .collect();
    if changed.is_empty()
        || crate::services::licences::registration_status(txn, current.id).await? != Some(LicenceStatus::Active)
    {
        return Ok(());
    }
    let mut problems = Problems::default();
    for field in changed {
        problems.push(
            field,
            "is registered: change it through an AMENDMENT of your registration licence (createChangeCase)",
        );
    }
    problems.finish(())
}

/// A first profile: a typed USCC is declared, not verified.
fn new_profile(owner: Uuid, profile: ValidProfile) -> AppResult<merchant::ActiveModel> {
    let now = clock::now();
    Ok(merchant::ActiveModel {
        id: Set(Uuid::now_v7()),
        owner_user_id: Set(owner),
        name: Set(profile.name),
        uscc: Set(None),
        declared_uscc: Set(profile.uscc),
        region_code: Set(profile.region_code),
        address: Set(profile.address),
        contact_email: Set(profile.contact_email),
        contact_phone: Set(profile.contact_phone),
        store_urls: Set(json(&profile.store_urls)?),
        categories: Set(json(&profile.categories)?),
        risk_level: Set(0),
        pass_streak: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    })
}

/// Whether a REGISTRATION of the merchant is submitted and not decided (it verifies the
/// declared USCC as it was at submission).
async fn registration_open<C: ConnectionTrait>(db: &C, merchant_id: Uuid) -> AppResult<bool> {
    use crate::domain::{FilingKind, FilingStatus};
    use entity::{case, filing};
    let open = [FilingStatus::Submitted, FilingStatus::UnderReview, FilingStatus::NeedsCorrection];
    let found = filing::Entity::find()
        .filter(filing::Column::Kind.eq(FilingKind::Registration))
        .filter(filing::Column::Status.is_in(open.iter().map(|s| s.as_str())))
        .filter(
            filing::Column::CaseId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(case::Column::Id)
                    .from(case::Entity)
                    .and_where(sea_orm::sea_query::ExprTrait::eq(
                        sea_orm::sea_query::Expr::col(case::Column::MerchantId),
                        merchant_id,
                    ))
                    .to_owned(),
            ),
        )
        .one(db)
        .await?;
    Ok(found.is_some())
}

/// Whether the merchant's declared USCC is also claimed (declared or verified) by another.
pub async fn declared_uscc_is_disputed<C: ConnectionTrait>(db: &C, merchant: &merchant::Model) -> AppResult<bool> {
    let Some(code) = &merchant.declared_uscc else { return Ok(false) };
    let other = merchant::Entity::find()
        .filter(merchant::Column::Id.ne(merchant.id))
        .filter(
            Condition::any()
                .add(merchant::Column::Uscc.eq(code.as_str()))
                .add(merchant::Column::DeclaredUscc.eq(code.as_str())),
        )
        .one(db)
        .await?;
    Ok(other.is_some())
}

/// When `code` is also another merchant's (verified or declared): a security event, and an
/// email to the market-regulation supervisors of every region involved. True when sent.
async fn alert_shared_uscc<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    declarer: &merchant::Model,
    code: &str,
    address: Option<std::net::IpAddr>,
) -> AppResult<bool> {
    let others = merchant::Entity::find()
        .filter(merchant::Column::Id.ne(declarer.id))
        .filter(Condition::any().add(merchant::Column::Uscc.eq(code)).add(merchant::Column::DeclaredUscc.eq(code)))
        .all(db)
        .await?;
    if others.is_empty() {
        return Ok(false);
    }
    let detail = format!(
        "USCC {code} declared by merchant {}; also {}",
        declarer.id,
        others
            .iter()
            .map(|o| format!(
                "{} by merchant {}",
                if o.uscc.as_deref() == Some(code) { "verified" } else { "declared" },
                o.id
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let event = SecurityEvent::new(SecurityKind::UsccDeclaredTwice)
        .actor(declarer.owner_user_id)
        .subject(declarer.id)
        .from(address)
        .detail(&detail);
    security::record(db, state, event).await?;
    let mut regions: Vec<&str> =
        std::iter::once(declarer.region_code.as_str()).chain(others.iter().map(|o| o.region_code.as_str())).collect();
    regions.sort_unstable();
    regions.dedup();
    let holders: Vec<serde_json::Value> = std::iter::once(declarer)
        .chain(others.iter())
        .map(|m| {
            serde_json::json!({
                "name": m.name, "region": m.region_code,
                "status": if m.uscc.as_deref() == Some(code) { "verified" } else { "declared" },
                "status_zh": if m.uscc.as_deref() == Some(code) { "已核验" } else { "自行申报" },
            })
        })
        .collect();
    for supervisor in accounts::supervisors_of(db, Agency::MarketRegulation, &regions).await? {
        let context = serde_json::json!({ "display_name": supervisor.display_name, "uscc": code, "holders": holders });
        enqueue_email(db, &state.templates, &supervisor.email, EmailKind::UsccDeclaredTwice, context).await?;
    }
    tracing::warn!(merchant = %declarer.id, others = others.len(), "a USCC is declared by more than one merchant");
    Ok(true)
}

/// Contact phones stored before they were kept in E.164 are rewritten (run at start-up; a no-op
/// once every phone starts with `+`). A number that no longer validates is left as it is.
pub async fn normalise_legacy_phones(state: &AppState) -> AppResult<u64> {
    let legacy = merchant::Entity::find().filter(merchant::Column::ContactPhone.not_like("+%")).all(&state.db).await?;
    let mut rewritten = 0;
    for m in legacy {
        let Ok(e164) = id::phone("contactPhone", &m.contact_phone) else { continue };
        merchant::Entity::update_many()
            .col_expr(merchant::Column::ContactPhone, sea_orm::sea_query::Expr::value(e164))
            .filter(merchant::Column::Id.eq(m.id))
            .filter(merchant::Column::ContactPhone.eq(m.contact_phone.as_str()))
            .exec(&state.db)
            .await?;
        rewritten += 1;
    }
    if rewritten > 0 {
        tracing::info!(rewritten, "contact phones rewritten in E.164");
    }
    Ok(rewritten)
}

fn json<T: serde::Serialize>(value: &T) -> AppResult<String> {
    Ok(serde_json::to_string(value).map_err(anyhow::Error::from)?)
}

/// The caller's own merchant (merchants only; `None` until a profile is saved).
#[tracing::instrument(skip_all)]
pub async fn own_merchant(state: &AppState, scope: &Scope) -> AppResult<Option<merchant::Model>> {
    match scope {
        Scope::Merchant { merchant_id: Some(id), .. } => Ok(merchant::Entity::find_by_id(*id).one(&state.db).await?),
        _ => Ok(None),
    }
}

/// The merchant the user is a member of (its OWNER or STAFF), if any.
pub async fn find_by_owner<C: ConnectionTrait>(db: &C, user_id: Uuid) -> AppResult<Option<merchant::Model>> {
    let Some(member) = entity::merchant_member::Entity::find_by_id(user_id).one(db).await? else { return Ok(None) };
    Ok(merchant::Entity::find_by_id(member.merchant_id).one(db).await?)
}
