use sea_orm::entity::prelude::*;

/// A user's membership of a merchant: its OWNER (exactly one, not removable) or STAFF. A user
/// belongs to at most one merchant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "merchant_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    pub merchant_id: Uuid,
    pub role: crate::enums::MerchantRole,
    pub added_at: DateTimeUtc,
    /// The owner who invited the member (none for the owner itself).
    pub added_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::user::Entity", from = "Column::UserId", to = "super::user::Column::Id")]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
