use sea_orm::entity::prelude::*;

/// One step in a licence's life: issued, amended, renewed, cancelled, expired, reissued.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "licence_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub licence_id: Uuid,
    pub at: DateTimeUtc,
    pub action: String,
    /// Internal: the officer's note or the reason (never shown on the public page).
    pub note: Option<String>,
    /// The filing that caused it (the approval or the change case's filing).
    pub filing_id: Option<Uuid>,
    /// Who caused it; `None` for the portal itself (expiry, cascades, rules).
    pub actor_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
