use sea_orm::entity::prelude::*;

/// An entry of a case's audit trail. `hash` = SHA-256(previous hash ‖ canonical content), so
/// any edit or deletion breaks the chain from that point on.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    /// 1, 2, 3 … within the case; unique with `case_id`.
    pub seq: i64,
    pub at: DateTimeUtc,
    pub actor_id: Option<Uuid>,
    /// The API client through which the actor acted (agency systems, merchants' ERPs).
    pub via_client_id: Option<Uuid>,
    pub action: String,
    pub filing_id: Option<Uuid>,
    pub from_status: Option<crate::enums::FilingStatus>,
    pub to_status: Option<crate::enums::FilingStatus>,
    pub note: Option<String>,
    pub prev_hash: String,
    pub hash: String,
    /// The merchant a member or an agent acted for (none for agency staff and the portal).
    pub on_behalf_of_merchant_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
