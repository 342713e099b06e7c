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
    /// The determinants the merchant answered (JSON of `CaseProfile`); `None` for a case opened
    /// with explicit kinds (v1).
    pub profile: Option<String>,
    /// The requirement ruleset version the case was created under.
    pub ruleset_version: Option<i32>,
    /// The requirements as evaluated at creation (JSON), shown and enforced for this case.
    pub requirements: Option<String>,
    pub case_type: crate::enums::CaseType,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
