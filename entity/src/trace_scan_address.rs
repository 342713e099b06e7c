use sea_orm::entity::prelude::*;

/// The distinct (hashed) addresses that scanned a batch within one time bucket
/// (`at / window`), for the "scanned from far more places than plausible" rule.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "trace_scan_addresses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub batch_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
