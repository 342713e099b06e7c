use sea_orm::entity::prelude::*;

/// One thing a correction request names: a field of the filing's data (a path such as
/// `legalRepresentative.idNumber`), a document type, or both, with the officer's message.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "correction_items")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub filing_id: Uuid,
    /// 1 for the filing's first correction request, 2 for the next …
    pub round: i32,
    pub field: Option<String>,
    pub document_type: Option<crate::enums::DocumentType>,
    /// A document the officer pointed at (it must be replaced).
    pub document_id: Option<Uuid>,
    pub message: String,
    /// JSON of the field's value when the correction was requested (`null` when absent).
    pub value_at_request: Option<String>,
    pub requested_at: DateTimeUtc,
    /// When the merchant's resubmission showed it fixed.
    pub resolved_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
