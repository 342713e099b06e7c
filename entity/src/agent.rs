use sea_orm::entity::prelude::*;

/// The organisation behind a user of role AGENT (a county 代办 service or a customs broker).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    pub organisation: String,
    /// The organisation's USCC, as registered (validated, not verified here).
    pub uscc: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
