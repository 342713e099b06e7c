//! A case with its merchant and filings — and for reading, each filing's assignee; for a change,
//! the head of its audit chain — in ONE statement (issue 15). Case detail took six statements
//! (case, merchant, filings, assignees, and the filings again for the events and for the
//! comments); opening a change took six (the filing, the case lock, the case, the merchant,
//! the filings, the chain head) and now takes two (the lock, then the rest). Each statement is two round trips to the
//! database, and the round trips were most of the server's time per request.

use entity::{case, filing, merchant, user};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, JoinType, QueryFilter, QueryOrder, QueryResult, QuerySelect,
    QueryTrait, RelationDef,
    sea_query::{Alias, Expr, ExprTrait, LockType, Order, Query, SelectStatement, SimpleExpr},
};
use uuid::Uuid;

use crate::{
    error::{AppError, AppResult},
    platform::rows::ReadAt,
    services::{access::Scope, audit::ChainHead},
};

/// What a case detail shows of the case's own rows.
pub struct CaseBundle {
    pub case: case::Model,
    pub merchant: merchant::Model,
    /// Every filing of the case (the caller's scope filters them where they are shown).
    pub filings: Vec<filing::Model>,
    /// The filings' assignees (each once).
    pub assignees: Vec<user::Model>,
}

/// The case if the caller may see it, with its merchant, filings and their assignees; or
/// NOT_FOUND.
pub async fn find_visible_bundle<C: ConnectionTrait>(db: &C, scope: &Scope, case_id: Uuid) -> AppResult<CaseBundle> {
    let mut query = joined(true).filter(case::Column::Id.eq(case_id));
    if let Some(condition) = scope.case_condition() {
        query = query.filter(condition);
    }
    let rows = run(db, query.into_query(), Read::WithAssignees).await?;
    let (case, merchant, filings, assignees, _) = rows.ok_or_else(|| AppError::NotFound("case".into()))?;
    Ok(CaseBundle { case, merchant, filings, assignees })
}

/// The rows a change of a case starts from, read after the case's row lock was taken.
pub struct LockedCase {
    pub case: case::Model,
    pub merchant: merchant::Model,
    pub filings: Vec<filing::Model>,
    pub head: ChainHead,
}

/// Locks the row of the case holding the filing (`FOR UPDATE`; SQLite has one writer at a
/// time and no row locks) and gives the case's id; `None` when there is no such filing.
pub async fn lock_case_of_filing<C: ConnectionTrait>(db: &C, filing_id: Uuid) -> AppResult<Option<Uuid>> {
    let holder = Query::select()
        .column(filing::Column::CaseId)
        .from(filing::Entity)
        .and_where(Expr::col((filing::Entity, filing::Column::Id)).eq(filing_id))
        .to_owned();
    let select = Query::select()
        .column((case::Entity, case::Column::Id))
        .from(case::Entity)
        .and_where(Expr::col((case::Entity, case::Column::Id)).in_subquery(holder))
        .lock(LockType::Update)
        .to_owned();
    let statement = db.get_database_backend().build(&select);
    let row = db.query_one_raw(statement).await?;
    Ok(row.map(|row| row.try_get_by_index::<Uuid>(0)).transpose()?)
}

/// Reads the case (if `scope` reaches it), its merchant, its filings and its audit chain's
/// head, in the change's transaction AFTER the case row was locked: under READ COMMITTED a
/// statement sees what was committed before it started, so a read in the locking statement
/// itself could miss the filings and events of the writer it waited for.
pub async fn read_locked<C: ConnectionTrait>(
    db: &C,
    case_id: Uuid,
    scope: Option<&Scope>,
) -> AppResult<Option<LockedCase>> {
    let mut query = joined(false).filter(case::Column::Id.eq(case_id));
    if let Some(condition) = scope.and_then(Scope::case_condition) {
        query = query.filter(condition);
    }
    let mut select = query.into_query();
    select.expr_as(last_of_chain(audit_seq()), Alias::new("head_seq"));
    select.expr_as(last_of_chain(audit_hash()), Alias::new("head_hash"));
    let Some((case, merchant, filings, _, head)) = run(db, select, Read::WithHead).await? else { return Ok(None) };
    let head = head.unwrap_or_else(ChainHead::genesis);
    Ok(Some(LockedCase { case, merchant, filings, head }))
}

fn audit_seq() -> SimpleExpr {
    Expr::col((entity::audit_event::Entity, entity::audit_event::Column::Seq))
}

fn audit_hash() -> SimpleExpr {
    Expr::col((entity::audit_event::Entity, entity::audit_event::Column::Hash))
}

/// `(SELECT <column> FROM audit_events WHERE case_id = cases.id ORDER BY seq DESC LIMIT 1)`.
fn last_of_chain(column: SimpleExpr) -> SimpleExpr {
    use entity::audit_event::{Column, Entity};
    SimpleExpr::SubQuery(
        None,
        Box::new(
            Query::select()
                .expr(column)
                .from(Entity)
                .and_where(Expr::col((Entity, Column::CaseId)).equals((case::Entity, case::Column::Id)))
                .order_by((Entity, Column::Seq), Order::Desc)
                .limit(1)
                .to_owned()
                .into(),
        ),
    )
}

/// cases ⋈ merchants ⟕ filings (⟕ users as assignees), a row per filing in id order.
fn joined(with_assignees: bool) -> sea_orm::Select<case::Entity> {
    let to_merchant: RelationDef =
        case::Entity::belongs_to(merchant::Entity).from(case::Column::MerchantId).to(merchant::Column::Id).into();
    let filing_to_case: RelationDef =
        filing::Entity::belongs_to(case::Entity).from(filing::Column::CaseId).to(case::Column::Id).into();
    let mut query = case::Entity::find()
        .select_only()
        .join(JoinType::InnerJoin, to_merchant)
        .join_rev(JoinType::LeftJoin, filing_to_case)
        .order_by_asc(Expr::col((filing::Entity, filing::Column::Id)));
    if with_assignees {
        let to_assignee: RelationDef =
            filing::Entity::belongs_to(user::Entity).from(filing::Column::AssigneeId).to(user::Column::Id).into();
        query = query.join(JoinType::LeftJoin, to_assignee);
    }
    query
}

#[derive(Clone, Copy, PartialEq)]
enum Read {
    WithAssignees,
    WithHead,
}

type Rows = (case::Model, merchant::Model, Vec<filing::Model>, Vec<user::Model>, Option<ChainHead>);

/// Selects the models' columns (in `ReadAt` order) and reads the rows back by position.
async fn run<C: ConnectionTrait>(db: &C, mut select: SelectStatement, read: Read) -> AppResult<Option<Rows>> {
    // The head's columns were added to the select list before the models' (`expr_as` above),
    // so the models are read after them.
    let leading = if read == Read::WithHead { 2 } else { 0 };
    case::Model::select_into(&mut select)?;
    merchant::Model::select_into(&mut select)?;
    filing::Model::select_into(&mut select)?;
    if read == Read::WithAssignees {
        user::Model::select_into(&mut select)?;
    }
    let statement = db.get_database_backend().build(&select);
    let rows = db.query_all_raw(statement).await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let head = if read == Read::WithHead { read_head(first)? } else { None };
    let at = &mut { leading };
    let case = case::Model::read_at(first, at)?;
    let merchant = merchant::Model::read_at(first, at)?;
    let models_from = *at;
    let mut filings = Vec::with_capacity(rows.len());
    let mut assignees: Vec<user::Model> = Vec::new();
    for row in &rows {
        let at = &mut { models_from };
        if let Some(filing) = filing::Model::read_optional_at(row, at)? {
            filings.push(filing);
        }
        if read == Read::WithAssignees
            && let Some(user) = user::Model::read_optional_at(row, at)?
            && !assignees.iter().any(|u| u.id == user.id)
        {
            assignees.push(user);
        }
    }
    Ok(Some((case, merchant, filings, assignees, head)))
}

fn read_head(row: &QueryResult) -> Result<Option<ChainHead>, DbErr> {
    let seq: Option<i64> = row.try_get_by_index(0)?;
    let hash: Option<String> = row.try_get_by_index(1)?;
    Ok(seq.zip(hash).map(|(seq, hash)| ChainHead::at(seq, hash)))
}
