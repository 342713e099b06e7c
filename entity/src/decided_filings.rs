use sea_orm::entity::prelude::*;

/// Decisions of one China month with one combination of everything statistics group or filter
/// by: the rollup `processingStats` reads whole months from (written in each decision's
/// transaction). Sentinels keep every key column NOT NULL: `officer_id` is the nil UUID for a
/// rule, `working_days` -1 and `on_time` -1 when not known (`on_time` is 1 or 0 otherwise).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "decided_filings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub month: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub agency: crate::enums::Agency,
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: crate::enums::FilingKind,
    #[sea_orm(primary_key, auto_increment = false)]
    pub region_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub officer_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub decided_by: crate::enums::DecidedBy,
    #[sea_orm(primary_key, auto_increment = false)]
    pub outcome: crate::enums::FilingStatus,
    #[sea_orm(primary_key, auto_increment = false)]
    pub working_days: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub on_time: i16,
    pub decisions: i64,
    pub correction_rounds: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
