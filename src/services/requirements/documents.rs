//! Which documents a filing still needs: the case's requirements (as evaluated at creation)
//! against the documents uploaded to the filing or to the case as a whole.

use entity::{case, document, filing};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    domain::requirements::DocumentRequirement,
    error::{AppResult, FieldError},
};
use entity::enums::RequirementLevel;

/// One required document of a filing and what was uploaded for it.
pub struct DocumentStatus {
    pub requirement: DocumentRequirement,
    pub documents: Vec<document::Model>,
}

impl DocumentStatus {
    /// A document of the type is there (OPTIONAL ones never hold a submission up).
    pub fn satisfied(&self) -> bool {
        !self.documents.is_empty()
    }
}

/// The documents of `case`, oldest first.
pub async fn documents_of<C: ConnectionTrait>(db: &C, case_id: uuid::Uuid) -> AppResult<Vec<document::Model>> {
    Ok(document::Entity::find()
        .filter(document::Column::CaseId.eq(case_id))
        .order_by_asc(document::Column::Id)
        .all(db)
        .await?)
}

/// The required documents of `filing` with their uploads (empty for a v1 case).
pub fn status_of(
    case: &case::Model,
    filing: &filing::Model,
    documents: &[document::Model],
) -> AppResult<Vec<DocumentStatus>> {
    let Some(requirements) = super::of_case(case)? else { return Ok(Vec::new()) };
    let Some(needed) = requirements.filing(filing.kind) else { return Ok(Vec::new()) };
    Ok(needed
        .documents
        .iter()
        .map(|requirement| DocumentStatus {
            documents: documents
                .iter()
                .filter(|d| {
                    d.document_type == Some(requirement.document_type) && d.filing_id.is_none_or(|f| f == filing.id)
                })
                .cloned()
                .collect(),
            requirement: requirement.clone(),
        })
        .collect())
}

/// One VALIDATION entry per MANDATORY document missing from the filings about to be submitted
/// (`filings.INSPECTION.documents.FOOD_OPERATION_LICENCE`).
pub async fn missing<C: ConnectionTrait>(
    db: &C,
    case: &case::Model,
    filings: &[&filing::Model],
) -> AppResult<Vec<FieldError>> {
    if case.requirements.is_none() {
        return Ok(Vec::new());
    }
    let documents = documents_of(db, case.id).await?;
    let mut missing = Vec::new();
    for filing in filings {
        for status in status_of(case, filing, &documents)? {
            if status.requirement.level == RequirementLevel::Mandatory && !status.satisfied() {
                let t = status.requirement.document_type;
                missing.push(FieldError::new(
                    format!("filings.{}.documents.{t}", filing.kind),
                    format!(
                        "is missing: upload the {t} ({}) with uploadDocument(documentType: {t})",
                        status.requirement.description
                    ),
                ));
            }
        }
    }
    Ok(missing)
}
