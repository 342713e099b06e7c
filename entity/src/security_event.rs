use sea_orm::entity::prelude::*;

/// A security-relevant event: `login.succeeded`, `login.failed`, `refresh.reused`,
/// `password.reset`, `role.granted`, `api_client.created`, `api_client.revoked`,
/// `rate_limit.tripped`. Client addresses are stored only as salted hashes.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "security_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub at: DateTimeUtc,
    pub kind: String,
    /// Who acted (the admin creating an account, the user logging in).
    pub actor_id: Option<Uuid>,
    /// The account or API client the event is about.
    pub subject_id: Option<Uuid>,
    pub address_hash: Option<String>,
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
