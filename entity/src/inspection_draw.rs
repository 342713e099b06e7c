use sea_orm::entity::prelude::*;

/// One merchant drawn by a plan, with its ordered inspector candidates (JSON ids: officers of
/// the plan's agency covering the merchant's region, less any who decided a filing of the
/// merchant in the last 365 days) and the inspectors drawn from them.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inspection_draws")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub plan_id: Uuid,
    /// 0, 1, 2 … in draw order.
    pub position: i32,
    pub merchant_id: Uuid,
    pub inspector_candidates: String,
    pub inspectors: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
