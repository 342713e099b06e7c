use sea_orm::entity::prelude::*;

/// A 双随机 inspection plan: what was asked, the seed, and the ordered merchant candidates
/// (JSON `[[id, weight], …]`) the draw ran over — enough to re-draw it (`replay-plan`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inspection_plans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub agency: crate::enums::Agency,
    /// JSON array of region codes.
    pub region_codes: String,
    /// JSON array of product categories, if limited.
    pub categories: Option<String>,
    pub sample_size: i32,
    pub inspectors_per_draw: i32,
    pub risk_weighted: bool,
    pub exclude_checked_within_days: Option<i32>,
    /// 64 hex digits (32 bytes, ChaCha20).
    pub seed: String,
    pub merchant_candidates: String,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
