use sea_orm::entity::prelude::*;

/// A decision rule as it stands now: when `condition` (CEL over the documented decision facts)
/// holds for a submitted filing of `kind`, the filing is approved without an officer. Every
/// save is kept in `decision_rule_versions`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "decision_rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub agency: crate::enums::Agency,
    pub kind: crate::enums::FilingKind,
    pub name: String,
    pub condition: String,
    pub enabled: bool,
    pub version: i32,
    pub updated_by: Uuid,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
