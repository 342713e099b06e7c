//! One-time corrections (一次性补正): an officer names, in ONE request, every field of the
//! filing's data and every document at fault, each with a message; the merchant sees them
//! (`Filing.correctionItems`) and gets them in one email; a resubmission is refused while an
//! item is untouched — a field still holding the value it had at the request, or no document
//! of the type uploaded to the filing since.

use entity::{correction_item, document, enums::DocumentType, filing};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set, sea_query::Expr,
};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    domain::identifiers as id,
    error::{AppError, AppResult, FieldError, Problems},
    platform::clock,
};

/// At most this many items in one request.
const MAX_ITEMS: usize = 50;

/// What the officer names (`CorrectionItemInput`).
#[derive(async_graphql::InputObject, Clone, Debug)]
#[graphql(name = "CorrectionItemInput")]
pub struct CorrectionItemInput {
    /// A path in the filing's data, e.g. `legalRepresentative.idNumber` or `products.0.hsCode`.
    pub field: Option<String>,
    pub document_type: Option<DocumentType>,
    /// A document of the case that must be replaced.
    pub document_id: Option<async_graphql::ID>,
    pub message: String,
}

/// A checked item, with the value its field holds now.
pub struct CheckedItem {
    field: Option<String>,
    document_type: Option<DocumentType>,
    document_id: Option<Uuid>,
    message: String,
    value_at_request: Option<String>,
}

impl CheckedItem {
    /// "legalRepresentative.idNumber: the number does not match the ID card" (for the email).
    pub fn line(&self) -> String {
        let what = match (&self.field, self.document_type) {
            (Some(field), Some(t)) => format!("{field} + {t}"),
            (Some(field), None) => field.clone(),
            (None, Some(t)) => format!("{t}"),
            (None, None) => "document".to_string(),
        };
        format!("{what}: {}", self.message)
    }
}

/// The filing's stored data as JSON (`null` when there is none).
fn stored_data(filing: &filing::Model) -> Value {
    filing.data.as_deref().and_then(|raw| serde_json::from_str(raw).ok()).unwrap_or(Value::Null)
}

/// The documents uploaded to the filing itself.
async fn filing_uploads<C: ConnectionTrait>(db: &C, filing_id: Uuid) -> AppResult<Vec<document::Model>> {
    Ok(document::Entity::find().filter(document::Column::FilingId.eq(filing_id)).all(db).await?)
}

/// The stored data's value at `path` (camelCase segments, numeric indexes), if the path exists.
pub fn value_at(data: &Value, path: &str) -> Option<Value> {
    let mut at = data.get("data")?;
    for segment in path.replace('[', ".").replace(']', "").split('.').filter(|s| !s.is_empty()) {
        at = match segment.parse::<usize>() {
            Ok(index) => at.get(index)?,
            Err(_) => at.get(snake(segment))?,
        };
    }
    Some(at.clone())
}

fn snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Checks every item against the filing and its case's documents; one VALIDATION error lists
/// every problem (`items.2.field`).
pub async fn check_items<C: ConnectionTrait>(
    db: &C,
    filing: &filing::Model,
    items: Vec<CorrectionItemInput>,
) -> AppResult<Vec<CheckedItem>> {
    if items.len() > MAX_ITEMS {
        return Err(AppError::validation("items", format!("at most {MAX_ITEMS} items in one request")));
    }
    let data = stored_data(filing);
    let documents = document::Entity::find().filter(document::Column::CaseId.eq(filing.case_id)).all(db).await?;
    let mut problems = Problems::default();
    let mut checked = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let at = |name: &str| format!("items.{i}.{name}");
        let message = problems.take(id::text(&at("message"), &item.message, 500, true));
        if item.field.is_none() && item.document_type.is_none() && item.document_id.is_none() {
            problems.push(at("field"), "name a field, a document type or a document (or a field and a document)");
        }
        let field = item.field.as_deref().map(str::trim).filter(|f| !f.is_empty()).map(str::to_string);
        let value = field.as_deref().and_then(|f| value_at(&data, f));
        if let (Some(f), None) = (&field, &value) {
            problems.push(at("field"), format!("{f} is not a field of this {} filing's data", filing.kind));
        }
        let document_id = match item.document_id.as_ref().map(|d| Uuid::parse_str(d.as_str())) {
            None => None,
            Some(Ok(doc)) if documents.iter().any(|d| d.id == doc && d.filing_id.is_none_or(|f| f == filing.id)) => {
                Some(doc)
            }
            Some(_) => {
                problems.push(at("documentId"), "is not a document of this filing or its case");
                None
            }
        };
        let document_type = item
            .document_type
            .or_else(|| document_id.and_then(|d| documents.iter().find(|x| x.id == d)?.document_type));
        checked.push(CheckedItem {
            field,
            document_type,
            document_id,
            message,
            value_at_request: value.map(|v| v.to_string()),
        });
    }
    problems.finish(checked)
}

/// Stores the items as the filing's next correction round.
pub async fn store<C: ConnectionTrait>(db: &C, filing_id: Uuid, items: &[CheckedItem]) -> AppResult<()> {
    let round = latest_round(db, filing_id).await?.map(|(r, _)| r + 1).unwrap_or(1);
    let now = clock::now();
    for item in items {
        correction_item::ActiveModel {
            id: Set(Uuid::now_v7()),
            filing_id: Set(filing_id),
            round: Set(round),
            field: Set(item.field.clone()),
            document_type: Set(item.document_type),
            document_id: Set(item.document_id),
            message: Set(item.message.clone()),
            value_at_request: Set(item.value_at_request.clone()),
            requested_at: Set(now),
            resolved_at: Set(None),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// The latest round's number and items.
async fn latest_round<C: ConnectionTrait>(
    db: &C,
    filing_id: Uuid,
) -> AppResult<Option<(i32, Vec<correction_item::Model>)>> {
    let items = correction_item::Entity::find()
        .filter(correction_item::Column::FilingId.eq(filing_id))
        .order_by_desc(correction_item::Column::Round)
        .order_by_asc(correction_item::Column::Id)
        .all(db)
        .await?;
    let Some(round) = items.first().map(|i| i.round) else { return Ok(None) };
    Ok(Some((round, items.into_iter().filter(|i| i.round == round).collect())))
}

/// The items of the filing's latest correction request, each with whether it is fixed now.
pub async fn items_of<C: ConnectionTrait>(
    db: &C,
    filing: &filing::Model,
) -> AppResult<Vec<(correction_item::Model, bool)>> {
    let Some((_, items)) = latest_round(db, filing.id).await? else { return Ok(Vec::new()) };
    let (data, uploads) = (stored_data(filing), filing_uploads(db, filing.id).await?);
    Ok(items
        .into_iter()
        .map(|item| {
            let fixed = item.resolved_at.is_some() || unresolved(&item, &data, &uploads).is_none();
            (item, fixed)
        })
        .collect())
}

/// Why `item` is not fixed yet, if it is not.
fn unresolved(item: &correction_item::Model, data: &Value, uploads: &[document::Model]) -> Option<String> {
    if let Some(field) = &item.field {
        let now = value_at(data, field).map(|v| v.to_string());
        if now == item.value_at_request {
            return Some(format!("still holds the value it had when the correction was asked ({})", item.message));
        }
    }
    let needs_document = item.document_type.is_some() || item.document_id.is_some();
    let replaced = uploads
        .iter()
        .any(|d| d.uploaded_at > item.requested_at && item.document_type.is_none_or(|t| d.document_type == Some(t)));
    if needs_document && !replaced {
        let what = item.document_type.map(|t| format!("a new {t}")).unwrap_or_else(|| "a new document".into());
        return Some(format!("upload {what} to this filing ({})", item.message));
    }
    None
}

/// Before a resubmission: every item of the latest request fixed (VALIDATION, one entry per
/// item that is not), then marked resolved.
pub async fn require_resolved<C: ConnectionTrait>(db: &C, filing: &filing::Model) -> AppResult<()> {
    let Some((_, items)) = latest_round(db, filing.id).await? else { return Ok(()) };
    let open: Vec<&correction_item::Model> = items.iter().filter(|i| i.resolved_at.is_none()).collect();
    if open.is_empty() {
        return Ok(());
    }
    let (data, uploads) = (stored_data(filing), filing_uploads(db, filing.id).await?);
    let refusals: Vec<FieldError> = open
        .iter()
        .filter_map(|item| {
            let why = unresolved(item, &data, &uploads)?;
            let name = match (&item.field, item.document_type) {
                (Some(field), _) => format!("corrections.{field}"),
                (None, Some(t)) => format!("corrections.documents.{t}"),
                (None, None) => "corrections.documents".to_string(),
            };
            Some(FieldError::new(name, why))
        })
        .collect();
    if !refusals.is_empty() {
        return Err(AppError::Validation(refusals));
    }
    correction_item::Entity::update_many()
        .col_expr(correction_item::Column::ResolvedAt, Expr::value(clock::now()))
        .filter(correction_item::Column::Id.is_in(open.iter().map(|i| i.id)))
        .exec(db)
        .await?;
    Ok(())
}
