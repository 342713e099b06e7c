//! Joint supervision (大部门联动): a supervisor whose agency handles a filing of a case shares
//! the whole case read-only with another agency (optionally one region); the portal itself
//! shares a merchant's open cases with market regulation when the merchant reaches risk level
//! 3. Receiving staff see every filing (personal numbers masked), its events and comments, and
//! may decide, claim or comment on nothing (`Scope::shares`, `filings::decisions`). Every
//! share and revocation is an audit event on the case.

use entity::{case, case_share, enums::CaseStatus, merchant};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    domain::{Agency, identifiers as id, labels::Labelled},
    error::{AppError, AppResult},
    platform::{
        clock,
        notify::{EmailKind, enqueue_email},
        pagination,
        state::AppState,
    },
    services::{
        access::Scope,
        audit::{self, NewEvent},
        auth::accounts,
        cases::{CaseChange, lock_case},
    },
};

/// The cases shared with `agency` that staff covering `regions` may read now.
pub async fn shared_case_ids<C: ConnectionTrait>(db: &C, agency: Agency, regions: &[String]) -> AppResult<Vec<Uuid>> {
    let rows = case_share::Entity::find()
        .select_only()
        .column(case_share::Column::CaseId)
        .filter(case_share::Column::Agency.eq(agency))
        .filter(case_share::Column::RevokedAt.is_null())
        .filter(
            Condition::any()
                .add(case_share::Column::RegionCode.is_null())
                .add(case_share::Column::RegionCode.is_in(regions.to_vec())),
        )
        .into_tuple::<Uuid>()
        .all(db)
        .await?;
    Ok(rows)
}

/// What `shareCase` asks for.
pub struct ShareRequest<'a> {
    pub case_id: Uuid,
    pub agency: Agency,
    pub region_code: Option<&'a str>,
    pub note: &'a str,
}

/// A supervisor whose agency handles a filing of the case shares it with another agency; the
/// receiving agency's supervisors (of the region, or all) are emailed.
#[tracing::instrument(skip_all, fields(case = %request.case_id))]
pub async fn share_case(state: &AppState, scope: &Scope, request: ShareRequest<'_>) -> AppResult<case_share::Model> {
    let note = id::text("note", request.note, 1000, true)?;
    let region =
        request.region_code.map(|r| state.config.regions.parse("regionCode", r).map(|c| c.to_string())).transpose()?;
    let mut change = CaseChange::open(state, scope, request.case_id).await?;
    let supervisor = scope.require_supervisor()?;
    if !change.filings().iter().any(|f| supervisor.can_see(f)) {
        return Err(AppError::Forbidden(
            "only a supervisor of an agency handling a filing of the case may share it".into(),
        ));
    }
    if request.agency == supervisor.agency {
        return Err(AppError::validation("agency", "share with another agency; your own already sees its filings"));
    }
    let standing = case_share::Entity::find()
        .filter(case_share::Column::CaseId.eq(request.case_id))
        .filter(case_share::Column::Agency.eq(request.agency))
        .filter(case_share::Column::RevokedAt.is_null())
        .all(change.txn())
        .await?;
    if standing.iter().any(|s| s.region_code.is_none() || s.region_code == region) {
        return Err(AppError::Conflict("the case is already shared with that agency there".into()));
    }
    let share = insert(
        change.txn(),
        request.case_id,
        request.agency,
        region.clone(),
        Some(supervisor.agency),
        Some(supervisor.user_id()),
        &note,
    )
    .await?;
    change.case_event("case.shared", None, Some(&describe(&share))).await?;
    let regions = [region.unwrap_or_else(|| change.case.region_code.clone())];
    let region_refs: Vec<&str> = regions.iter().map(String::as_str).collect();
    notify(change.txn(), state, request.agency, &region_refs, &[&change.case], &share.note).await?;
    change.queued_email();
    change.commit().await?;
    Ok(share)
}

async fn insert<C: ConnectionTrait>(
    db: &C,
    case_id: Uuid,
    agency: Agency,
    region_code: Option<String>,
    from_agency: Option<Agency>,
    shared_by: Option<Uuid>,
    note: &str,
) -> AppResult<case_share::Model> {
    Ok(case_share::ActiveModel {
        id: Set(Uuid::now_v7()),
        case_id: Set(case_id),
        agency: Set(agency),
        region_code: Set(region_code),
        from_agency: Set(from_agency),
        shared_by: Set(shared_by),
        note: Set(note.to_string()),
        at: Set(clock::now()),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?)
}

/// The trail's words for a share.
fn describe(share: &case_share::Model) -> String {
    let region = share.region_code.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
    format!("shared with {}{region}: {}", share.agency, share.note)
}

/// Revokes a share: a supervisor of the sharing agency who may see the case (for a share the
/// portal made, a supervisor of the receiving agency). Revoking twice answers it as it is.
#[tracing::instrument(skip_all, fields(share = %id))]
pub async fn revoke(state: &AppState, scope: &Scope, id: Uuid) -> AppResult<case_share::Model> {
    let not_found = || AppError::NotFound("case share".into());
    let share = case_share::Entity::find_by_id(id).one(&state.db).await?.ok_or_else(not_found)?;
    let mut change = CaseChange::open(state, scope, share.case_id).await.map_err(|_| not_found())?;
    let supervisor = scope.require_supervisor()?;
    let entitled = share.from_agency.unwrap_or(share.agency);
    if supervisor.agency != entitled {
        return Err(AppError::Forbidden(
            "only a supervisor of the agency that shared the case may revoke the share".into(),
        ));
    }
    let current = case_share::Entity::find_by_id(id).one(change.txn()).await?.ok_or_else(not_found)?;
    if current.revoked_at.is_some() {
        return Ok(current);
    }
    let mut active: case_share::ActiveModel = current.into();
    active.revoked_at = Set(Some(clock::now()));
    let saved = active.update(change.txn()).await?;
    change.case_event("case.share_revoked", None, Some(&describe(&saved))).await?;
    change.commit().await?;
    Ok(saved)
}

/// The shares of a case: for staff of the sharing or the receiving agency, and administrators;
/// anyone else gets none.
pub async fn of_case<C: ConnectionTrait>(db: &C, scope: &Scope, case_id: Uuid) -> AppResult<Vec<case_share::Model>> {
    let all = case_share::Entity::find()
        .filter(case_share::Column::CaseId.eq(case_id))
        .order_by_asc(case_share::Column::At)
        .all(db)
        .await?;
    Ok(match scope {
        Scope::Admin { .. } => all.into_iter().map(masked_note).collect(),
        Scope::Agency { agency, .. } => all
            .into_iter()
            .filter(|s| s.agency == *agency || s.from_agency == Some(*agency))
            .map(|s| if s.agency == *agency { masked_note(s) } else { s })
            .collect(),
        _ => Vec::new(),
    })
}

/// A share as its receiving agency (or an administrator) reads it: personal numbers in the
/// note masked, like everything else they read of the case.
fn masked_note(mut share: case_share::Model) -> case_share::Model {
    share.note = crate::domain::pii::scrub_personal(&share.note).into_owned();
    share
}

/// Staff: the active shares to their agency and regions, newest first.
pub async fn shared_with_me(
    state: &AppState,
    scope: &Scope,
    first: Option<i32>,
    after: Option<String>,
) -> AppResult<Vec<case_share::Model>> {
    let staff = scope.require_staff()?;
    let limit = pagination::page_size(first)?;
    let mut query = case_share::Entity::find()
        .filter(case_share::Column::Agency.eq(staff.agency))
        .filter(case_share::Column::RevokedAt.is_null())
        .filter(
            Condition::any()
                .add(case_share::Column::RegionCode.is_null())
                .add(case_share::Column::RegionCode.is_in(staff.regions.to_vec())),
        )
        .order_by_desc(case_share::Column::Id)
        .limit(limit);
    if let Some(cursor) = after {
        let id = Uuid::parse_str(&pagination::decode_cursor(&cursor)?)
            .map_err(|_| AppError::validation("after", "is not a cursor from this list"))?;
        query = query.filter(case_share::Column::Id.lt(id));
    }
    Ok(query.all(&state.db).await?.into_iter().map(masked_note).collect())
}

/// A merchant reached risk level 3: its open cases are shared with the market-regulation
/// supervisors of its region (by the portal: `sharedBy` null), each with its audit event, in
/// the spot check's transaction; the supervisors are emailed once.
pub async fn share_risky_merchant(
    txn: &DatabaseTransaction,
    state: &AppState,
    holder: &merchant::Model,
) -> AppResult<usize> {
    let open = case::Entity::find()
        .filter(case::Column::MerchantId.eq(holder.id))
        .filter(case::Column::Status.is_not_in([
            CaseStatus::Completed,
            CaseStatus::ClosedWithRejections,
            CaseStatus::Withdrawn,
        ]))
        .all(txn)
        .await?;
    let note = "风险等级升至 3 级，自动共享 / the merchant reached risk level 3 after failed spot checks";
    let mut shared = Vec::new();
    for c in open {
        let covered = shared_case_ids(txn, Agency::MarketRegulation, std::slice::from_ref(&holder.region_code)).await?;
        if covered.contains(&c.id) {
            continue;
        }
        lock_case(txn, c.id).await?;
        let share =
            insert(txn, c.id, Agency::MarketRegulation, Some(holder.region_code.clone()), None, None, note).await?;
        let mut head = audit::head(txn, c.id).await?;
        let event = NewEvent {
            case_id: c.id,
            actor_id: None,
            via_client: None,
            action: "case.shared",
            filing_id: None,
            from_status: None,
            to_status: None,
            note: Some(&describe(&share)),
            on_behalf_of: None,
        };
        audit::append_to(txn, &mut head, event).await?;
        shared.push(c);
    }
    if !shared.is_empty() {
        let listed: Vec<&case::Model> = shared.iter().collect();
        notify(txn, state, Agency::MarketRegulation, &[holder.region_code.as_str()], &listed, note).await?;
    }
    Ok(shared.len())
}

/// Emails the receiving agency's supervisors of those regions about shared cases.
async fn notify<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    agency: Agency,
    regions: &[&str],
    cases: &[&case::Model],
    note: &str,
) -> AppResult<()> {
    let references: Vec<&str> = cases.iter().map(|c| c.reference.as_str()).collect();
    for supervisor in accounts::supervisors_of(db, agency, regions).await? {
        let context = json!({
            "display_name": supervisor.display_name, "agency_zh": agency.label().zh, "agency_en": agency.as_str(),
            "references": references, "note": note, "link": format!("{}/graphql", state.config.public_base_url),
        });
        enqueue_email(db, &state.templates, &supervisor.email, EmailKind::CaseShared, context).await?;
    }
    Ok(())
}
