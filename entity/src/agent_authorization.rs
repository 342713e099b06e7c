use sea_orm::entity::prelude::*;

/// A merchant's OWNER lets an agent act for some filing kinds until a date (inclusive, China
/// Standard Time), or until revoked.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agent_authorizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub merchant_id: Uuid,
    /// The agent's user.
    pub agent_id: Uuid,
    /// JSON array of filing kinds.
    pub kinds: String,
    pub valid_until: Date,
    pub granted_by: Uuid,
    pub granted_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
