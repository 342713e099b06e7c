use sea_orm::entity::prelude::*;

/// An integrator's OAuth 2.0 client (client credentials grant), acting for one merchant or
/// for one agency. The secret is stored only as an argon2 hash.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub client_id: String,
    pub secret_hash: String,
    pub name: String,
    /// JSON array of scopes.
    pub scopes: String,
    pub merchant_id: Option<Uuid>,
    pub agency: Option<crate::enums::Agency>,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
