use sea_orm::entity::prelude::*;

/// A person who logs in: a merchant's user, an agency officer or supervisor, or an admin.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Lower-cased; unique.
    #[sea_orm(unique)]
    pub email: String,
    /// PHC string (argon2id). `None` for an invited officer who has not set a password yet.
    pub password_hash: Option<String>,
    pub display_name: String,
    /// `MERCHANT`, `OFFICER`, `SUPERVISOR` or `ADMIN`.
    pub role: crate::enums::Role,
    pub email_verified_at: Option<DateTimeUtc>,
    /// Officers and supervisors: the agency they work for.
    pub agency: Option<crate::enums::Agency>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Officers and supervisors: the regions they cover.
    #[sea_orm(has_many = "super::user_region::Entity")]
    Regions,
}

impl Related<super::user_region::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Regions.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
