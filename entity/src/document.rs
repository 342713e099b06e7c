use sea_orm::entity::prelude::*;

/// A file attached to a case (or one filing of it); the bytes live in the object store.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "documents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    pub filing_id: Option<Uuid>,
    pub uploader_id: Uuid,
    pub filename: String,
    /// Detected from the content: `application/pdf`, `image/png` or `image/jpeg`.
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    /// Where the bytes are in the object store.
    pub object_key: String,
    pub uploaded_at: DateTimeUtc,
    /// What the document is, as the uploader said.
    pub document_type: Option<crate::enums::DocumentType>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
