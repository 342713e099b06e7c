use sea_orm::entity::prelude::*;

/// A requirement rule as it stands now: when `condition` (CEL over `profile` and `merchant`)
/// holds, the filing of `kind` — or, with `document_type`, that document of the filing — is
/// needed at `level`. Every saved version is kept in `requirement_rule_versions`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "requirement_rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub kind: crate::enums::FilingKind,
    pub document_type: Option<crate::enums::DocumentType>,
    pub condition: String,
    pub level: crate::enums::RequirementLevel,
    pub description: String,
    pub legal_basis: String,
    pub enabled: bool,
    pub version: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
