use sea_orm::entity::prelude::*;

/// A merchant's shared company profile, filled once and reused by every filing.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "merchants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The merchant user who owns the profile (one profile per user).
    #[sea_orm(unique)]
    pub owner_user_id: Uuid,
    pub name: String,
    /// The Unified Social Credit Code issued here, or verified here by an approved REGISTRATION.
    #[sea_orm(unique)]
    pub uscc: Option<String>,
    /// A USCC the merchant typed into its profile and nothing here has verified yet; not
    /// unique (another merchant may claim the same code).
    pub declared_uscc: Option<String>,
    pub region_code: String,
    pub address: String,
    pub contact_email: String,
    pub contact_phone: String,
    /// JSON array of URLs.
    pub store_urls: String,
    /// JSON array of product categories.
    pub categories: String,
    /// 0 normal .. 3 high.
    pub risk_level: i32,
    /// Passing spot checks in a row since the last failure.
    pub pass_streak: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The USCC the merchant is known by: verified here, else as declared.
    pub fn known_uscc(&self) -> Option<&str> {
        self.uscc.as_deref().or(self.declared_uscc.as_deref())
    }
}
