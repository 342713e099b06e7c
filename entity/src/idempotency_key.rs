use sea_orm::entity::prelude::*;

/// A client's `Idempotency-Key` and the response first given for it (kept 24 h).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    /// The caller the key belongs to (user or API client id; `anonymous`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub owner: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// SHA-256 of the request (query, variables, operation name).
    pub request_hash: String,
    /// The JSON response; `None` while the first request is still running.
    pub response: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
