use sea_orm::entity::prelude::*;

/// Where an API client wants filing events pushed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The API client (row id) that owns it.
    pub client_row_id: Uuid,
    pub url: String,
    /// JSON array of event types (audit actions); empty: every event.
    pub event_types: String,
    /// HMAC-SHA256 key of the signatures (shown once at registration).
    pub secret: String,
    pub consecutive_failures: i32,
    pub disabled_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
