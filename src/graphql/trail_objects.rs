//! The trail of a case: audit events, comments and documents.

use async_graphql::{Context, ID, Object, Result, SimpleObject, dataloader::DataLoader};
use chrono::{DateTime, Utc};
use entity::{audit_event, comment};

use super::{
    loaders::{UserById, load_error},
    parts,
    types::User,
};
use crate::{domain::FilingStatus, error::AppError};

fn id(uuid: uuid::Uuid) -> ID {
    ID(uuid.to_string())
}

pub struct AuditEvent(pub audit_event::Model);

#[Object(guard = "super::Reads::CASES")]
impl AuditEvent {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// Null for the system.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let Some(actor) = self.0.actor_id else { return Ok(None) };
        let loader = ctx.data_unchecked::<DataLoader<UserById>>();
        Ok(loader.load_one(actor).await.map_err(load_error)?.map(User))
    }
    /// The API client the actor acted through (`apiClients { id }`), null for direct use.
    async fn via_client_id(&self) -> Option<ID> {
        self.0.via_client_id.map(id)
    }
    /// The merchant a member or an agent acted for; null for agency staff and the portal.
    async fn on_behalf_of_merchant_id(&self) -> Option<ID> {
        self.0.on_behalf_of_merchant_id.map(id)
    }
    /// e.g. "filing.submitted", "filing.approved".
    async fn action(&self) -> &str {
        &self.0.action
    }
    async fn filing_id(&self) -> Option<ID> {
        self.0.filing_id.map(id)
    }
    async fn from_status(&self) -> Option<FilingStatus> {
        self.0.from_status
    }
    async fn to_status(&self) -> Option<FilingStatus> {
        self.0.to_status
    }
    /// What the actor wrote; for merchants, email addresses in older notes are masked.
    async fn note(&self, ctx: &Context<'_>) -> Option<String> {
        let note = self.0.note.as_deref()?;
        let merchant =
            matches!(parts(ctx).1, crate::services::auth::Caller::User(p) if p.role == crate::domain::Role::Merchant);
        Some(if merchant { crate::domain::pii::mask_emails_in(note).into_owned() } else { note.to_string() })
    }
    /// Hex SHA-256 chained over the previous event of the same case.
    async fn hash(&self) -> &str {
        &self.0.hash
    }
}

pub struct Comment(pub comment::Model);

#[Object(guard = "super::Reads::CASES")]
impl Comment {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn author(&self, ctx: &Context<'_>) -> Result<User> {
        let loader = ctx.data_unchecked::<DataLoader<UserById>>();
        let user = loader.load_one(self.0.author_id).await.map_err(load_error)?;
        Ok(User(user.ok_or_else(|| AppError::NotFound("user".into()))?))
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn filing_id(&self) -> Option<ID> {
        self.0.filing_id.map(id)
    }
}

/// A document attached to a case; download it at `GET /documents/{id}`.
#[derive(SimpleObject)]
#[graphql(guard = "super::Reads::CASES")]
pub struct Document {
    pub id: ID,
    pub filename: String,
    pub content_type: String,
    pub size: i32,
    pub sha256: String,
    pub uploaded_at: DateTime<Utc>,
    pub filing_id: Option<ID>,
    pub document_type: Option<entity::enums::DocumentType>,
    /// False for a personal document (ID-card copy, bank-account proof, member list) listed to
    /// a reader who sees the case masked (a shared case, administrators): its bytes are not
    /// served to them.
    pub downloadable: bool,
}

impl From<crate::services::documents::ReadDocument> for Document {
    fn from(read: crate::services::documents::ReadDocument) -> Self {
        Self { downloadable: read.downloadable, ..Self::from(read.document) }
    }
}

impl From<entity::document::Model> for Document {
    fn from(d: entity::document::Model) -> Self {
        Self {
            downloadable: true,
            id: id(d.id),
            filename: d.filename,
            content_type: d.content_type,
            size: i32::try_from(d.size).unwrap_or(i32::MAX),
            sha256: d.sha256,
            uploaded_at: d.uploaded_at,
            filing_id: d.filing_id.map(id),
            document_type: d.document_type,
        }
    }
}
