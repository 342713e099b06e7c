use sea_orm::entity::prelude::*;

/// One merchant's application holding one filing per chosen kind.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `{region}-{year}-{sequence}`, e.g. `510000-2026-000042`.
    #[sea_orm(unique)]
    pub reference: String,
    pub merchant_id: Uuid,
    pub region_code: String,
    /// Derived from the filings by `cases::derive_status` on every change; never set by hand.
    pub status: crate::enums::CaseStatus,
    pub created_at: DateTimeUtc,
    pub submitted_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
