//! `CaseChange`: the one path every state change of a case takes.
//!
//! ```text
//! open    begin the write transaction, lock the case row, read the case, its merchant and its
//!         filings fresh; what the caller may not see is NOT_FOUND
//! check   the service checks through it, in this order: the caller's role (a typed proof such
//!         as `Staff`), the version the client read (`expect_version`), the state (the
//!         transition table, inside `transition`)
//! write   `transition`: the filing row (version-checked), its audit event, its live event and
//!         webhook deliveries; `case_event` for case-level events; emails into the outbox
//! commit  the derived case status (and "case.completed" with its email), commit, then publish
//!         the live events and wake the mailer
//! ```
//!
//! An automatic decision goes through exactly this path, as `Actor::System`.

use entity::{audit_event, case, filing, merchant, user};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, Set,
    Statement, sea_query::Expr,
};
use uuid::Uuid;

pub use super::actor::Actor;
use super::{bundle, email};
use crate::{
    domain::{CaseStatus, FilingStatus, Transition},
    error::{AppError, AppResult},
    platform::{clock, events, notify::EmailKind, state::AppState},
    services::{
        access::Scope,
        audit::{self, ChainHead, NewEvent},
    },
};

/// One state change of one case, in one transaction.
pub struct CaseChange<'s> {
    state: &'s AppState,
    txn: DatabaseTransaction,
    actor: Actor,
    pub case: case::Model,
    pub merchant: merchant::Model,
    filings: Vec<filing::Model>,
    /// The head of the case's audit chain, moved on by each event the change appends.
    chain: ChainHead,
    staged: Vec<events::FilingChange>,
    /// Some filing changed state: the case status is derived again at commit.
    moved: bool,
    mailed: bool,
}

/// Serialises writers of one case: every state change of a case (and its audit chain) takes
/// this row lock first. SQLite runs one writer at a time anyway.
pub async fn lock_case(txn: &DatabaseTransaction, case_id: Uuid) -> AppResult<()> {
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT id FROM cases WHERE id = $1 FOR UPDATE",
            [case_id.into()],
        ))
        .await?;
    }
    Ok(())
}

impl<'s> CaseChange<'s> {
    /// Sets when the case was first submitted (kept on later submissions).
    pub async fn mark_submitted(&mut self, at: chrono::DateTime<chrono::Utc>) -> AppResult<()> {
        let first = self.case.submitted_at.unwrap_or(at);
        case::Entity::update_many()
            .col_expr(case::Column::SubmittedAt, Expr::value(first))
            .filter(case::Column::Id.eq(self.case.id))
            .exec(&self.txn)
            .await?;
        self.case.submitted_at = Some(first);
        Ok(())
    }

    /// A change of the case `case_id` by `scope`; NOT_FOUND unless the caller may see the case.
    pub async fn open(state: &'s AppState, scope: &Scope, case_id: Uuid) -> AppResult<Self> {
        let txn = crate::platform::db::begin_write(&state.db).await?;
        lock_case(&txn, case_id).await?;
        let locked =
            bundle::read_locked(&txn, case_id, Some(scope)).await?.ok_or_else(|| AppError::NotFound("case".into()))?;
        Ok(Self::from_locked(state, txn, Actor::of(scope), locked))
    }

    /// A change of the case holding filing `filing_id`, by `actor`; NOT_FOUND unless `visible`
    /// says the filing may be seen (the check comes first, whatever the caller's role).
    pub async fn open_for_filing(
        state: &'s AppState,
        actor: Actor,
        filing_id: Uuid,
        visible: impl FnOnce(&case::Model, &filing::Model) -> bool,
    ) -> AppResult<Self> {
        let not_found = || AppError::NotFound("filing".into());
        let txn = crate::platform::db::begin_write(&state.db).await?;
        let case_id = bundle::lock_case_of_filing(&txn, filing_id).await?.ok_or_else(not_found)?;
        let locked = bundle::read_locked(&txn, case_id, None).await?.ok_or_else(not_found)?;
        let change = Self::from_locked(state, txn, actor, locked);
        if !visible(&change.case, change.filing(filing_id)?) {
            return Err(not_found());
        }
        Ok(change)
    }

    /// Takes over a transaction that has just created `case` and its `filings` (case creation),
    /// so its first event and commit go the same way as every other change.
    pub fn adopt(
        state: &'s AppState,
        txn: DatabaseTransaction,
        actor: Actor,
        case: case::Model,
        merchant: merchant::Model,
        filings: Vec<filing::Model>,
    ) -> Self {
        let chain = ChainHead::genesis();
        Self { state, txn, actor, case, merchant, filings, chain, staged: Vec::new(), moved: false, mailed: false }
    }

    fn from_locked(state: &'s AppState, txn: DatabaseTransaction, actor: Actor, locked: bundle::LockedCase) -> Self {
        let bundle::LockedCase { case, merchant, filings, head } = locked;
        Self {
            state,
            txn,
            actor,
            case,
            merchant,
            filings,
            chain: head,
            staged: Vec::new(),
            moved: false,
            mailed: false,
        }
    }

    pub fn state(&self) -> &'s AppState {
        self.state
    }

    /// The transaction, for writes that belong to the change beyond its filings (issuing a
    /// USCC to the merchant, for instance).
    pub fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    pub fn filings(&self) -> &[filing::Model] {
        &self.filings
    }

    /// One filing of the case, as it is now inside the change.
    pub fn filing(&self, id: Uuid) -> AppResult<&filing::Model> {
        self.filings.iter().find(|f| f.id == id).ok_or_else(|| AppError::NotFound("filing".into()))
    }

    /// VERSION_CONFLICT unless the client read the version the filing has now.
    pub fn expect_version(&self, filing_id: Uuid, expected: i32) -> AppResult<()> {
        let filing = self.filing(filing_id)?;
        if filing.version != expected {
            return Err(AppError::VersionConflict(format!(
                "the filing changed since you read it (version {} now, you sent {expected}); reload and retry",
                filing.version
            )));
        }
        Ok(())
    }

    /// The state `transition` would lead the filing to, or INVALID_TRANSITION (the table).
    pub fn check(&self, filing_id: Uuid, transition: Transition) -> AppResult<FilingStatus> {
        transition.apply(self.filing(filing_id)?.status)
    }

    /// Moves a filing through `transition`: checks the table, writes the row with `edit`
    /// applied (version-checked), appends the audit event and stages the live event and the
    /// webhook deliveries.
    pub async fn transition(
        &mut self,
        filing_id: Uuid,
        transition: Transition,
        note: Option<&str>,
        edit: impl FnOnce(&mut filing::ActiveModel),
    ) -> AppResult<filing::Model> {
        self.transition_as(self.actor, filing_id, transition, note, edit).await
    }

    /// `transition` in the name of `actor` (a decision's: the officer, or the portal for a
    /// rule) rather than the change's caller.
    pub async fn transition_as(
        &mut self,
        actor: Actor,
        filing_id: Uuid,
        transition: Transition,
        note: Option<&str>,
        edit: impl FnOnce(&mut filing::ActiveModel),
    ) -> AppResult<filing::Model> {
        let from = self.filing(filing_id)?.status;
        let to = transition.apply(from)?;
        let saved = self
            .write(filing_id, |active| {
                active.status = Set(to);
                edit(active);
            })
            .await?;
        self.moved |= transition != Transition::Edit;
        let event = self.event(actor, transition.action(), Some(filing_id), Some((from, to)), note).await?;
        let change = events::FilingChange {
            filing_id,
            case_id: self.case.id,
            merchant_id: self.case.merchant_id,
            agency: saved.agency,
            region_code: saved.region_code.clone(),
            action: event.action.clone(),
            at: event.at,
        };
        self.staged.extend(events::stage(&self.txn, change).await?);
        Ok(saved)
    }

    /// Writes a filing without a transition (no event of its own: the USCC copied into the
    /// case's other filings on registration approval). Version-checked; the version moves.
    pub async fn write(
        &mut self,
        filing_id: Uuid,
        edit: impl FnOnce(&mut filing::ActiveModel),
    ) -> AppResult<filing::Model> {
        let current = self.filing(filing_id)?.clone();
        let expected = current.version;
        let mut active: filing::ActiveModel = current.into();
        edit(&mut active);
        active.version = Set(expected + 1);
        active.updated_at = Set(clock::now());
        let saved = filing::Entity::update(active)
            .validate()?
            .filter(filing::Column::Version.eq(expected))
            .exec(&self.txn)
            .await
            .map_err(|e| match e {
                DbErr::RecordNotUpdated => {
                    AppError::VersionConflict("the filing changed meanwhile; reload and retry".into())
                }
                other => other.into(),
            })?;
        if let Some(slot) = self.filings.iter_mut().find(|f| f.id == filing_id) {
            *slot = saved.clone();
        }
        Ok(saved)
    }

    /// A case-level event on the trail ("case.created", "comment.added").
    pub async fn case_event(
        &mut self,
        action: &str,
        filing_id: Option<Uuid>,
        note: Option<&str>,
    ) -> AppResult<audit_event::Model> {
        self.event(self.actor, action, filing_id, None, note).await
    }

    /// An event of the portal itself (null actor): "filing.referred" by the decision rules.
    pub async fn system_event(
        &mut self,
        action: &str,
        filing_id: Option<Uuid>,
        note: Option<&str>,
    ) -> AppResult<audit_event::Model> {
        self.event(Actor::System, action, filing_id, None, note).await
    }

    async fn event(
        &mut self,
        actor: Actor,
        action: &str,
        filing_id: Option<Uuid>,
        statuses: Option<(FilingStatus, FilingStatus)>,
        note: Option<&str>,
    ) -> AppResult<audit_event::Model> {
        let new = NewEvent {
            case_id: self.case.id,
            actor_id: actor.user_id(),
            via_client: actor.via_client(),
            action,
            filing_id,
            from_status: statuses.map(|s| s.0),
            to_status: statuses.map(|s| s.1),
            note,
            on_behalf_of: matches!(actor, Actor::Person { for_merchant: true, .. }).then_some(self.case.merchant_id),
        };
        audit::append_to(&self.txn, &mut self.chain, new).await
    }

    /// Queues an email about the case to the merchant's contact address.
    pub async fn email_merchant(
        &mut self,
        kind: EmailKind,
        filings: &[&filing::Model],
        note: Option<&str>,
        certificate: Option<&str>,
    ) -> AppResult<()> {
        self.email_merchant_listing(kind, filings, note, certificate, &[]).await
    }

    /// `email_merchant` with a list of things to correct (一次性补正: all of them in one email).
    pub async fn email_merchant_listing(
        &mut self,
        kind: EmailKind,
        filings: &[&filing::Model],
        note: Option<&str>,
        certificate: Option<&str>,
        corrections: &[String],
    ) -> AppResult<()> {
        let mut context = email::merchant_context(self.state, &self.merchant, &self.case, filings, note, certificate);
        context["corrections"] = serde_json::json!(corrections);
        self.mailed = true;
        crate::platform::notify::enqueue_email(
            &self.txn,
            &self.state.templates,
            &self.merchant.contact_email,
            kind,
            context,
        )
        .await
    }

    /// Another service queued an email in this change's transaction: wake the mailer at commit.
    pub fn queued_email(&mut self) {
        self.mailed = true;
    }

    /// Queues an email about one filing to a member of staff.
    pub async fn email_staff(
        &mut self,
        to: &user::Model,
        kind: EmailKind,
        filing: &filing::Model,
        note: Option<&str>,
    ) -> AppResult<()> {
        let context = email::staff_context(self.state, to, &self.case, filing, note);
        self.mailed = true;
        crate::platform::notify::enqueue_email(&self.txn, &self.state.templates, &to.email, kind, context).await
    }

    /// Derives the case status (a case that became COMPLETED gets its event and email),
    /// commits, publishes the live events and wakes the mailer. The case as it now is.
    pub async fn commit(mut self) -> AppResult<case::Model> {
        if self.moved {
            self.derive_status().await?;
        }
        self.txn.commit().await?;
        self.state.events.publish(self.staged);
        if self.mailed {
            self.state.outbox_wakeup.notify_one();
        }
        Ok(self.case)
    }

    async fn derive_status(&mut self) -> AppResult<()> {
        let before = self.case.status;
        let statuses: Vec<FilingStatus> = self.filings.iter().map(|f| f.status).collect();
        let after = CaseStatus::derive(&statuses);
        let now = clock::now();
        case::Entity::update_many()
            .col_expr(case::Column::Status, Expr::value(after))
            .col_expr(case::Column::UpdatedAt, Expr::value(now))
            .filter(case::Column::Id.eq(self.case.id))
            .exec(&self.txn)
            .await?;
        self.case.status = after;
        self.case.updated_at = now;
        if after == CaseStatus::Completed && before != CaseStatus::Completed {
            self.event(Actor::System, "case.completed", None, None, None).await?;
            let all: Vec<filing::Model> = self.filings.clone();
            let lines: Vec<&filing::Model> = all.iter().collect();
            self.email_merchant(EmailKind::CaseCompleted, &lines, None, None).await?;
        }
        Ok(())
    }
}
