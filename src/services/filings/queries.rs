//! Reading filings within the caller's scope: one filing, the review queue (keyset-paged on
//! the deadline), and the workload counts supervisors watch.

use entity::{case, filing, merchant, user};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, JoinType, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, RelationDef,
    sea_query::{Expr, ExprTrait, Func},
};
use uuid::Uuid;

use super::overdue;
use crate::{
    domain::{Agency, FilingKind, FilingStatus},
    error::{AppError, AppResult},
    platform::{
        clock,
        pagination::{self, Page},
        rows::ReadAt,
        state::AppState,
    },
    services::access::Scope,
};

/// A filing the caller may see, or NOT_FOUND.
#[tracing::instrument(skip_all, fields(filing = %filing_id))]
pub async fn find_visible(state: &AppState, scope: &Scope, filing_id: Uuid) -> AppResult<filing::Model> {
    let not_found = || AppError::NotFound("filing".into());
    let filing = filing::Entity::find_by_id(filing_id).one(&state.db).await?.ok_or_else(not_found)?;
    let case = case::Entity::find_by_id(filing.case_id).one(&state.db).await?.ok_or_else(not_found)?;
    if scope.can_see_filing(case.merchant_id, &filing) { Ok(filing) } else { Err(not_found()) }
}

#[derive(Default, Clone)]
pub struct QueueFilter {
    pub kinds: Option<Vec<FilingKind>>,
    pub statuses: Option<Vec<FilingStatus>>,
    pub region_codes: Option<Vec<String>>,
    pub assigned_to_me: Option<bool>,
    pub overdue: Option<bool>,
}

/// Filings waiting on the caller's agency in its regions, soonest deadline first, keyset
/// paginated on (due_at, id). Without `statuses`, the open work: waiting for a claim or under
/// review (a resubmitted filing is SUBMITTED again); decided filings are asked for by status.
#[tracing::instrument(skip_all, fields(user = %scope.user_id()))]
pub async fn review_queue(
    state: &AppState,
    scope: &Scope,
    first: Option<i32>,
    after: Option<String>,
    filter: QueueFilter,
) -> AppResult<Page<QueueItem>> {
    if !matches!(scope, Scope::Agency { .. } | Scope::Admin { .. }) {
        return Err(AppError::Forbidden("the review queue is for agency staff".into()));
    }
    let limit = pagination::page_size(first)?;
    let now = clock::now();
    let statuses = filter.statuses.filter(|s| !s.is_empty()).unwrap_or_else(|| overdue::WAITING_ON_AGENCY.to_vec());
    let mut query = filing::Entity::find()
        .filter(filing::Column::Status.ne(FilingStatus::Draft))
        .filter(filing::Column::DueAt.is_not_null())
        .filter(filing::Column::Status.is_in(statuses))
        .order_by_asc(filing::Column::DueAt)
        .order_by_asc(filing::Column::Id)
        .limit(limit + 1);
    if let Some(condition) = scope.filing_condition() {
        query = query.filter(condition);
    }
    if let Some(kinds) = filter.kinds.filter(|k| !k.is_empty()) {
        query = query.filter(filing::Column::Kind.is_in(kinds));
    }
    if let Some(regions) = filter.region_codes.filter(|r| !r.is_empty()) {
        query = query.filter(filing::Column::RegionCode.is_in(regions));
    }
    if filter.assigned_to_me == Some(true) {
        query = query.filter(filing::Column::AssigneeId.eq(scope.user_id()));
    }
    match filter.overdue {
        Some(true) => query = query.filter(overdue::overdue_at(now)),
        Some(false) => query = query.filter(overdue::overdue_at(now).not()),
        None => {}
    }
    let had_cursor = after.is_some();
    if let Some(cursor) = after {
        let (due, id) = decode_queue_cursor(&cursor)?;
        query = query.filter(
            Condition::any()
                .add(filing::Column::DueAt.gt(due))
                .add(Condition::all().add(filing::Column::DueAt.eq(due)).add(filing::Column::Id.gt(id))),
        );
    }
    Ok(pagination::into_page(with_case_and_merchant(state, query).await?, limit, had_cursor))
}

/// A queue row: the filing with its case, the case's merchant and the assignee, if any.
pub struct QueueItem {
    pub filing: filing::Model,
    pub case: case::Model,
    pub merchant: merchant::Model,
    pub assignee: Option<user::Model>,
}

/// Runs the page query joined with each filing's case, merchant and assignee: one statement for
/// what the queue shows of all four (issue 15), read back by column position (`platform::rows`).
async fn with_case_and_merchant(state: &AppState, query: sea_orm::Select<filing::Entity>) -> AppResult<Vec<QueueItem>> {
    let to_case: RelationDef =
        filing::Entity::belongs_to(case::Entity).from(filing::Column::CaseId).to(case::Column::Id).into();
    let to_merchant: RelationDef =
        case::Entity::belongs_to(merchant::Entity).from(case::Column::MerchantId).to(merchant::Column::Id).into();
    let to_assignee: RelationDef =
        filing::Entity::belongs_to(user::Entity).from(filing::Column::AssigneeId).to(user::Column::Id).into();
    let mut select = query
        .select_only()
        .join(JoinType::InnerJoin, to_case)
        .join(JoinType::InnerJoin, to_merchant)
        .join(JoinType::LeftJoin, to_assignee)
        .into_query();
    filing::Model::select_into(&mut select)?;
    case::Model::select_into(&mut select)?;
    merchant::Model::select_into(&mut select)?;
    user::Model::select_into(&mut select)?;
    let statement = state.db.get_database_backend().build(&select);
    state
        .db
        .query_all_raw(statement)
        .await?
        .iter()
        .map(|row| {
            let at = &mut 0;
            Ok(QueueItem {
                filing: filing::Model::read_at(row, at)?,
                case: case::Model::read_at(row, at)?,
                merchant: merchant::Model::read_at(row, at)?,
                assignee: user::Model::read_optional_at(row, at)?,
            })
        })
        .collect()
}

pub fn queue_cursor(f: &filing::Model) -> String {
    let due = f.due_at.map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)).unwrap_or_default();
    pagination::encode_cursor(&format!("{due}|{}", f.id))
}

fn decode_queue_cursor(cursor: &str) -> AppResult<(chrono::DateTime<chrono::Utc>, Uuid)> {
    let invalid = || AppError::validation("after", "is not a cursor from this list");
    let raw = pagination::decode_cursor(cursor)?;
    let (due, id) = raw.split_once('|').ok_or_else(invalid)?;
    let due = chrono::DateTime::parse_from_rfc3339(due).map_err(|_| invalid())?.with_timezone(&chrono::Utc);
    Ok((due, Uuid::parse_str(id).map_err(|_| invalid())?))
}

#[derive(Debug, FromQueryResult)]
pub struct WorkloadRow {
    pub agency: Agency,
    pub region_code: String,
    pub status: FilingStatus,
    pub count: i64,
    pub overdue: i64,
    pub high_risk: i64,
}

/// Counts by agency, region and status, with how many are overdue and how many belong to
/// high-risk merchants (supervisors: their agency and regions; admins: all). In SQL.
#[tracing::instrument(skip_all, fields(user = %scope.user_id()))]
pub async fn workload(state: &AppState, scope: &Scope) -> AppResult<Vec<WorkloadRow>> {
    if !matches!(scope, Scope::Admin { .. }) {
        scope.require_supervisor().map_err(|_| AppError::Forbidden("workload reports are for supervisors".into()))?;
    }
    let risky_cases = sea_orm::sea_query::Query::select()
        .column((case::Entity, case::Column::Id))
        .from(case::Entity)
        .inner_join(
            merchant::Entity,
            Expr::col((merchant::Entity, merchant::Column::Id)).equals((case::Entity, case::Column::MerchantId)),
        )
        .and_where(Expr::col((merchant::Entity, merchant::Column::RiskLevel)).gte(crate::services::quality::MAX_RISK))
        .to_owned();
    let open = [FilingStatus::Submitted, FilingStatus::UnderReview, FilingStatus::NeedsCorrection];
    let risky = Expr::case(
        Expr::col(filing::Column::Status).is_in(open).and(Expr::col(filing::Column::CaseId).in_subquery(risky_cases)),
        1,
    )
    .finally(0);
    let sum_or_zero =
        |flag: sea_orm::sea_query::SimpleExpr| Expr::expr(Func::coalesce([Expr::expr(Func::sum(flag)), Expr::val(0)]));
    let mut query = filing::Entity::find()
        .select_only()
        .column(filing::Column::Agency)
        .column(filing::Column::RegionCode)
        .column(filing::Column::Status)
        .column_as(Expr::col(filing::Column::Id).count(), "count")
        .column_as(sum_or_zero(overdue::overdue_flag(clock::now())), "overdue")
        .column_as(sum_or_zero(risky.into()), "high_risk")
        .filter(filing::Column::Status.ne(FilingStatus::Draft))
        .group_by(filing::Column::Agency)
        .group_by(filing::Column::RegionCode)
        .group_by(filing::Column::Status)
        .order_by_asc(filing::Column::Agency)
        .order_by_asc(filing::Column::RegionCode)
        .order_by_asc(filing::Column::Status);
    if let Some(condition) = scope.filing_condition() {
        query = query.filter(condition);
    }
    Ok(query.into_model::<WorkloadRow>().all(&state.db).await?)
}
