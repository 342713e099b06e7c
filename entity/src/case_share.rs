use sea_orm::entity::prelude::*;

/// A case shared read-only with another agency (all its regions, or one) for joint
/// supervision; `shared_by` null: shared by the portal (a merchant reached risk level 3).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "case_shares")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    /// The receiving agency.
    pub agency: crate::enums::Agency,
    /// Only this region's staff of the receiving agency; `None`: all of them.
    pub region_code: Option<String>,
    /// The sharing supervisor's agency; `None` for the portal.
    pub from_agency: Option<crate::enums::Agency>,
    pub shared_by: Option<Uuid>,
    pub note: String,
    pub at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
