//! Documents attached to cases: type checked by content, size-limited, hashed, stored through
//! `object_store` (a local directory by default), downloadable by those who may see the case.

use std::sync::Arc;

use bytes::Bytes;
use entity::{document, enums::DocumentType, filing};
use object_store::{
    ObjectStore, ObjectStoreExt, PutPayload, aws::AmazonS3Builder, path::Path as ObjectPath, prefix::PrefixStore,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, Set};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    config::{DocumentConfig, S3Config},
    error::{AppError, AppResult},
    platform::{clock, state::AppState},
    services::{
        access::Scope,
        cases::{self, CaseChange},
    },
};

/// The store for document bytes: an S3-compatible bucket when `ONESTOP_DOCUMENT_STORE` names
/// one, else the local directory `ONESTOP_DOCUMENT_DIR` (default `{data}/documents`).
pub fn store(config: &DocumentConfig) -> anyhow::Result<Arc<dyn ObjectStore>> {
    match &config.s3 {
        Some(s3) => s3_store(s3),
        None => local_store(&config.dir),
    }
}

fn local_store(dir: &std::path::Path) -> anyhow::Result<Arc<dyn ObjectStore>> {
    std::fs::create_dir_all(dir)?;
    Ok(Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir)?))
}

fn s3_store(s3: &S3Config) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let mut builder = AmazonS3Builder::from_env().with_url(&s3.url);
    if let Some(endpoint) = &s3.endpoint {
        // MinIO, Ceph and friends inside a private network often speak plain HTTP.
        builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
    }
    if let Some(region) = &s3.region {
        builder = builder.with_region(region);
    }
    if let Some(key) = &s3.access_key_id {
        builder = builder.with_access_key_id(key);
    }
    if let Some(secret) = &s3.secret_access_key {
        builder = builder.with_secret_access_key(secret);
    }
    let bucket = builder.build().map_err(|e| anyhow::anyhow!("ONESTOP_DOCUMENT_STORE: {e}"))?;
    // `s3://bucket/some/prefix`: everything goes under the prefix.
    let prefix = s3.url["s3://".len()..].split_once('/').map(|(_, p)| p.trim_matches('/')).unwrap_or_default();
    Ok(if prefix.is_empty() { Arc::new(bucket) } else { Arc::new(PrefixStore::new(bucket, prefix)) })
}

/// The type a file really is, from its first bytes; only PDF, PNG and JPEG are accepted.
pub fn sniff(content: &[u8]) -> Option<&'static str> {
    if content.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if content.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if content.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// The last path segment, without control characters, at most 200 characters.
fn clean_filename(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if cleaned.trim().is_empty() { "document".into() } else { cleaned.trim().to_string() }
}

/// Where a document goes and what it is.
#[derive(Clone, Copy, Debug)]
pub struct DocumentTarget {
    pub case_id: Uuid,
    pub filing_id: Option<Uuid>,
    pub document_type: Option<DocumentType>,
}

/// A checked upload, waiting to be stored and recorded.
struct Upload {
    case_id: Uuid,
    filing_id: Option<Uuid>,
    document_type: Option<DocumentType>,
    filename: String,
    content_type: &'static str,
    sha256: String,
    content: Vec<u8>,
}

/// Attaches a document to a case (or one filing of it): checked, stored, recorded on the trail.
#[tracing::instrument(skip_all, fields(case = %target.case_id))]
pub async fn upload(
    state: &AppState,
    scope: &Scope,
    target: DocumentTarget,
    filename: &str,
    content: Vec<u8>,
) -> AppResult<document::Model> {
    let mut upload = check(state, scope, target, filename, content).await?;
    let id = Uuid::now_v7();
    let key = format!("{}/{id}", upload.case_id);
    // Bytes first: a row never points at nothing. If the row then fails, the bytes go again.
    let path = ObjectPath::from(key.as_str());
    let content = std::mem::take(&mut upload.content);
    let size = content.len() as i64;
    state
        .documents
        .put(&path, PutPayload::from(content))
        .await
        .map_err(|e| anyhow::anyhow!("storing document: {e}"))?;
    let saved = record(state, scope, id, key, size, upload).await;
    if saved.is_err() {
        let _ = state.documents.delete(&path).await;
    }
    saved
}

/// Who may add to the case, and what the file is (by content, not by name).
async fn check(
    state: &AppState,
    scope: &Scope,
    target: DocumentTarget,
    filename: &str,
    content: Vec<u8>,
) -> AppResult<Upload> {
    let DocumentTarget { case_id, filing_id, document_type } = target;
    let case = cases::find_visible(&state.db, scope, case_id).await?;
    if matches!(scope, Scope::Admin { .. }) {
        return Err(AppError::Forbidden("administrators read cases but do not add to them".into()));
    }
    if matches!(scope, Scope::Agent { .. }) && filing_id.is_none() {
        return Err(AppError::Forbidden("agents add documents to the filings they file for (give filingId)".into()));
    }
    if let Some(fid) = filing_id {
        let target = filing::Entity::find_by_id(fid)
            .filter(filing::Column::CaseId.eq(case.id))
            .one(&state.db)
            .await?
            .filter(|f| scope.can_see_filing(case.merchant_id, f))
            .ok_or_else(|| AppError::NotFound("filing".into()))?;
        if scope.shares(case.id) && scope.require_staff().is_ok_and(|staff| !staff.can_see(&target)) {
            return Err(AppError::Forbidden("this case is shared with your agency read-only".into()));
        }
    } else if scope.shares(case.id) {
        let filings = cases::filings_of(&state.db, case.id).await?;
        if scope.require_staff().is_ok_and(|staff| !filings.iter().any(|f| staff.can_see(f))) {
            return Err(AppError::Forbidden("this case is shared with your agency read-only".into()));
        }
    }
    let max = state.config.documents.max_bytes;
    if content.is_empty() {
        return Err(AppError::validation("file", "is empty"));
    }
    if content.len() > max {
        return Err(AppError::validation("file", format!("is larger than {max} bytes")));
    }
    let content_type = sniff(&content)
        .ok_or_else(|| AppError::validation("file", "must be a PDF, PNG or JPEG file (checked by content)"))?;
    let sha256 = hex::encode(Sha256::digest(&content));
    Ok(Upload {
        case_id: case.id,
        filing_id,
        document_type,
        filename: clean_filename(filename),
        content_type,
        sha256,
        content,
    })
}

/// The document's row and its audit event, as one change of the case.
async fn record(
    state: &AppState,
    scope: &Scope,
    id: Uuid,
    key: String,
    size: i64,
    upload: Upload,
) -> AppResult<document::Model> {
    let mut change = CaseChange::open(state, scope, upload.case_id).await?;
    let row = document::ActiveModel {
        id: Set(id),
        case_id: Set(upload.case_id),
        filing_id: Set(upload.filing_id),
        uploader_id: Set(scope.user_id()),
        filename: Set(upload.filename),
        content_type: Set(upload.content_type.into()),
        size: Set(size),
        sha256: Set(upload.sha256),
        object_key: Set(key),
        uploaded_at: Set(clock::now()),
        document_type: Set(upload.document_type),
    }
    .insert(change.txn())
    .await?;
    let what = row.document_type.map(|t| format!("{t}: ")).unwrap_or_default();
    let note = format!("{what}{} ({}, {size} bytes)", row.filename, row.content_type);
    change.case_event("document.uploaded", upload.filing_id, Some(&note)).await?;
    change.commit().await?;
    Ok(row)
}

/// The documents of a case the caller may see (agency staff: case-level ones and their own
/// filings').
#[tracing::instrument(skip_all, fields(case = %case.id))]
pub async fn of_case(
    state: &AppState,
    scope: &Scope,
    case: &entity::case::Model,
    filings: &[filing::Model],
) -> AppResult<Vec<document::Model>> {
    let mut query =
        document::Entity::find().filter(document::Column::CaseId.eq(case.id)).order_by_asc(document::Column::Id);
    if filtered_by_filing(scope) {
        // The case's filings as the caller's request read them (not read again here).
        let visible: Vec<Uuid> = filings
            .iter()
            .filter(|f| f.case_id == case.id && scope.can_see_filing(case.merchant_id, f))
            .map(|f| f.id)
            .collect();
        // Agency staff also see the case's own documents; an agent only its filings'.
        let case_level = matches!(scope, Scope::Agency { .. });
        let mut own = Condition::any().add(document::Column::FilingId.is_in(visible));
        if case_level {
            own = own.add(document::Column::FilingId.is_null());
        }
        query = query.filter(own);
    }
    Ok(query.all(&state.db).await?)
}

/// Documents that show a person's numbers: listed, never served, to readers who see the case
/// masked (`Scope::reads_masked`).
pub fn is_personal(document_type: Option<entity::enums::DocumentType>) -> bool {
    use entity::enums::DocumentType::{BankAccountProof, CooperativeMemberList, IdCardCopy};
    matches!(document_type, Some(IdCardCopy | BankAccountProof | CooperativeMemberList))
}

/// A document as a reader gets it: for a reader who sees its part of the case masked, the file
/// name scrubbed of personal numbers and `downloadable` false for a personal document.
pub struct ReadDocument {
    pub document: document::Model,
    pub downloadable: bool,
}

/// `documents` as `scope` reads them (`case_filings`: every filing of their case).
pub fn as_read(scope: &Scope, documents: Vec<document::Model>, case_filings: &[filing::Model]) -> Vec<ReadDocument> {
    documents
        .into_iter()
        .map(|document| {
            let masked = scope.reads_part_masked(document.filing_id, case_filings);
            read_one(document, masked)
        })
        .collect()
}

/// One document for a reader who sees its part of the case masked or not.
pub fn read_one(mut document: document::Model, masked: bool) -> ReadDocument {
    if !masked {
        return ReadDocument { document, downloadable: true };
    }
    document.filename = crate::domain::pii::scrub_personal(&document.filename).into_owned();
    ReadDocument { downloadable: !is_personal(document.document_type), document }
}

/// Agency staff and agents see a case's documents by the filings they may see (`filings` of
/// `of_case` are read only for them).
fn filtered_by_filing(scope: &Scope) -> bool {
    matches!(scope, Scope::Agency { .. } | Scope::Agent { .. })
}

/// A document and its bytes, if the caller may see it.
#[tracing::instrument(skip_all, fields(document = %id))]
pub async fn download(state: &AppState, scope: &Scope, id: Uuid) -> AppResult<(document::Model, Bytes)> {
    let not_found = || AppError::NotFound("document".into());
    let doc = document::Entity::find_by_id(id).one(&state.db).await?.ok_or_else(not_found)?;
    let case = cases::find_visible(&state.db, scope, doc.case_id).await.map_err(|_| not_found())?;
    let filings = if filtered_by_filing(scope) { cases::filings_of(&state.db, case.id).await? } else { Vec::new() };
    if !of_case(state, scope, &case, &filings).await?.iter().any(|d| d.id == doc.id) {
        return Err(not_found());
    }
    // A reader who sees the case masked gets the listing, not an ID card or a bank account.
    if is_personal(doc.document_type) && scope.reads_part_masked(doc.filing_id, &filings) {
        return Err(not_found());
    }
    let bytes = state
        .documents
        .get(&ObjectPath::from(doc.object_key.as_str()))
        .await
        .map_err(|e| anyhow::anyhow!("reading document: {e}"))?
        .bytes()
        .await
        .map_err(|e| anyhow::anyhow!("reading document: {e}"))?;
    Ok((doc, bytes))
}
