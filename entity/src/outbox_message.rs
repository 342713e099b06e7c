use sea_orm::entity::prelude::*;

/// A message to deliver (today: an email), written in the same transaction as the change
/// that causes it and handed to SMTP by the outbox worker.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `email`.
    pub kind: String,
    /// Rendered message as JSON (`to`, `subject`, `text`, `html`).
    pub payload: String,
    /// `pending`, `sent` or `failed` (parked after too many attempts).
    pub status: String,
    pub attempts: i32,
    /// When a worker may (re)try it; also the lease end while a worker holds it.
    pub next_attempt_at: DateTimeUtc,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
