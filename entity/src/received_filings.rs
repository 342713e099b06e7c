use sea_orm::entity::prelude::*;

/// Filings received on one China day by an agency's office of a region, per kind: the rollup
/// `processingStats` counts from, written in each submission's transaction.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "received_filings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    #[sea_orm(primary_key, auto_increment = false)]
    pub agency: crate::enums::Agency,
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: crate::enums::FilingKind,
    #[sea_orm(primary_key, auto_increment = false)]
    pub region_code: String,
    pub received: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
