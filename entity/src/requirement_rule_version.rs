use sea_orm::entity::prelude::*;

/// One saved version of a requirement rule, never changed afterwards. `ruleset_version` is the
/// global ruleset version the save created: the ruleset as of version N is, per rule, the
/// latest version saved at or before N.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "requirement_rule_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub rule_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    pub ruleset_version: i32,
    pub name: String,
    pub kind: crate::enums::FilingKind,
    pub document_type: Option<crate::enums::DocumentType>,
    pub condition: String,
    pub level: crate::enums::RequirementLevel,
    pub description: String,
    pub legal_basis: String,
    pub enabled: bool,
    /// Who saved it (the system account for the default ruleset).
    pub actor_id: Uuid,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
