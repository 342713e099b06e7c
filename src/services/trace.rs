//! Product batches, their public trace codes, scan counting with copy detection, and the
//! public verification of approval certificates.

use async_graphql::InputObject;
use entity::{case, filing, merchant, product_batch, spot_check, trace_scan, trace_scan_address};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, SqlErr,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    services::access::Scope,
    platform::clock,
    config::TraceConfig,
    domain::{
        FilingKind, FilingStatus,
        filing_data::{Date, ProductCategory},
        identifiers as id,
    },
    error::{AppError, AppResult, Problems},
    platform::pagination,
    platform::state::AppState,
};

/// Crockford base32 alphabet (no I, L, O, U).
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 16 characters × 5 bits = 80 random bits.
pub const CODE_LEN: usize = 16;

pub fn new_trace_code() -> String {
    let mut bytes = [0u8; 10];
    rand::rng().fill_bytes(&mut bytes);
    let mut bits: u128 = 0;
    for b in bytes {
        bits = (bits << 8) | u128::from(b);
    }
    (0..CODE_LEN)
        .rev()
        .map(|i| CROCKFORD[((bits >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// Normalises a code as people type it (lower case, hyphens, I/L for 1, O for 0); `None` when
/// it cannot be a trace code.
pub fn parse_trace_code(raw: &str) -> Option<String> {
    let code: String = raw
        .chars()
        .filter(|c| *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            other => other,
        })
        .collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| CROCKFORD.contains(&b))).then_some(code)
}

pub fn trace_url(state: &AppState, code: &str) -> String {
    format!("{}/t/{code}", state.config.public_base_url)
}

#[derive(InputObject, Clone, Debug)]
#[graphql(name = "ProductBatchInput")]
pub struct ProductBatchInput {
    pub product_name: String,
    pub category: ProductCategory,
    pub origin_region_code: String,
    pub batch_number: String,
    pub production_date: Date,
    pub quantity: i32,
}

fn batch_conflict(err: DbErr) -> AppError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            AppError::Conflict("this batch number is already registered".into())
        }
        _ => err.into(),
    }
}

/// A merchant registers a batch and receives its trace code.
pub async fn register_batch(state: &AppState, scope: &Scope, input: ProductBatchInput) -> AppResult<product_batch::Model> {
    let merchant_id = scope.own_merchant()?;
    let mut problems = Problems::default();
    let product_name = problems.take(id::text("productName", &input.product_name, 200, false));
    let origin = problems.take(state.config.regions.parse("originRegionCode", &input.origin_region_code).map(|r| r.to_string()));
    let batch_number = problems.take(id::text("batchNumber", &input.batch_number, 64, false));
    let today = clock::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset")).date_naive();
    if input.production_date.0 > today {
        problems.push("productionDate", "must not be in the future");
    }
    if input.quantity <= 0 {
        problems.push("quantity", "must be greater than zero");
    }
    problems.finish(())?;
    let taken = product_batch::Entity::find()
        .filter(product_batch::Column::MerchantId.eq(merchant_id))
        .filter(product_batch::Column::BatchNumber.eq(batch_number.as_str()))
        .one(&state.db)
        .await?;
    if taken.is_some() {
        return Err(AppError::Conflict("this batch number is already registered".into()));
    }
    product_batch::ActiveModel {
        id: Set(Uuid::now_v7()),
        merchant_id: Set(merchant_id),
        product_name: Set(product_name),
        category: Set(input.category.as_str()),
        origin_region_code: Set(origin),
        batch_number: Set(batch_number),
        production_date: Set(input.production_date.0),
        quantity: Set(i64::from(input.quantity)),
        trace_code: Set(new_trace_code()),
        scan_count: Set(0),
        suspected_counterfeit: Set(false),
        created_at: Set(clock::now()),
    }
    .insert(&state.db)
    .await
    .map_err(batch_conflict)
}

/// The caller's batches, newest first (merchants only).
pub async fn list_batches(
    state: &AppState,
    scope: &Scope,
    first: Option<i32>,
    after: Option<String>,
) -> AppResult<Vec<product_batch::Model>> {
    let merchant_id = match scope {
        Scope::Merchant { merchant_id: Some(id), .. } => *id,
        Scope::Merchant { merchant_id: None, .. } => return Ok(Vec::new()),
        _ => return Err(AppError::Forbidden("product batches belong to merchants".into())),
    };
    let limit = pagination::page_size(first)?;
    let mut query = product_batch::Entity::find()
        .filter(product_batch::Column::MerchantId.eq(merchant_id))
        .order_by_desc(product_batch::Column::Id)
        .limit(limit);
    if let Some(cursor) = after {
        let id = Uuid::parse_str(&pagination::decode_cursor(&cursor)?)
            .map_err(|_| AppError::validation("after", "is not a cursor from this list"))?;
        query = query.filter(product_batch::Column::Id.lt(id));
    }
    Ok(query.all(&state.db).await?)
}

/// Everything the public page shows for a code.
pub struct TraceData {
    pub batch: product_batch::Model,
    pub merchant: merchant::Model,
    pub latest_check: Option<spot_check::Model>,
    /// Stored scans plus those still pending on this instance.
    pub scan_count: i64,
}

impl TraceData {
    /// A REGISTRATION of this merchant was approved here: its USCC was issued or verified.
    /// A USCC merely typed into the profile does not count.
    pub fn merchant_verified(&self) -> bool {
        self.merchant.uscc.is_some()
    }
}

pub async fn find_batch<C: ConnectionTrait>(db: &C, code: &str) -> AppResult<Option<product_batch::Model>> {
    Ok(product_batch::Entity::find().filter(product_batch::Column::TraceCode.eq(code)).one(db).await?)
}

/// The latest spot check of the batch, else the merchant's latest of the batch's category.
pub async fn latest_check<C: ConnectionTrait>(db: &C, batch: &product_batch::Model) -> AppResult<Option<spot_check::Model>> {
    let of_batch = spot_check::Entity::find()
        .filter(spot_check::Column::BatchId.eq(batch.id))
        .order_by_desc(spot_check::Column::CheckedAt)
        .one(db)
        .await?;
    if of_batch.is_some() {
        return Ok(of_batch);
    }
    Ok(spot_check::Entity::find()
        .filter(spot_check::Column::MerchantId.eq(batch.merchant_id))
        .filter(spot_check::Column::Category.eq(batch.category.as_str()))
        .order_by_desc(spot_check::Column::CheckedAt)
        .one(db)
        .await?)
}

/// The public view of a code; with `scan`, the view is counted as a scan first.
pub async fn trace_data(state: &AppState, code: &str, scan: Option<(&TraceConfig, &str)>) -> AppResult<Option<TraceData>> {
    let _shared = state.scans.gate.read().await;
    let Some(mut batch) = find_batch(&state.db, code).await? else { return Ok(None) };
    if let Some((config, address)) = scan {
        state.scans.record(Scan { batch_id: batch.id, at: clock::now(), client_hash: client_hash(config, address) });
    }
    let scan_count = batch.scan_count + state.scans.pending(batch.id);
    batch.suspected_counterfeit |= too_many_scans(&state.config.trace, batch.quantity, scan_count);
    let merchant = merchant::Entity::find_by_id(batch.merchant_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::NotFound("merchant".into()))?;
    let latest_check = latest_check(&state.db, &batch).await?;
    Ok(Some(TraceData { batch, merchant, latest_check, scan_count }))
}

/// The salted hash under which a client address is kept (never the address itself).
pub fn client_hash(config: &TraceConfig, address: &str) -> String {
    let digest = Sha256::digest(format!("{}|{address}", config.address_salt).as_bytes());
    hex::encode(&digest[..16])
}

/// One view of a trace page, waiting to be written.
#[derive(Clone, Debug)]
pub struct Scan {
    pub batch_id: Uuid,
    pub at: chrono::DateTime<chrono::Utc>,
    pub client_hash: String,
}

/// Records scans off the request path. Every trace-page view would otherwise write to one hot
/// row (the batch's counter) and wait for its commit; instead the page hands the scan to this
/// recorder and answers at once, and a writer task flushes all pending scans in one
/// transaction every few milliseconds (`scan_count = scan_count + n`, so nothing is lost to
/// concurrency). Pages show the stored count plus this instance's pending scans, so counts are
/// exact for readers here; on shutdown the pending scans are flushed. A crash loses at most
/// one flush interval of scans.
#[derive(Clone)]
pub struct ScanRecorder {
    sender: tokio::sync::mpsc::UnboundedSender<Scan>,
    pending: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<Uuid, i64>>>,
    /// Readers hold it (shared) while they read the stored count and the pending one; the
    /// writer holds it (exclusive) from commit until the pending counts are settled, so no
    /// reader ever sees a flushed scan twice or not at all.
    gate: std::sync::Arc<tokio::sync::RwLock<()>>,
}

pub struct ScanReceiver(tokio::sync::mpsc::UnboundedReceiver<Scan>);

impl ScanRecorder {
    pub fn new() -> (Self, ScanReceiver) {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        (Self { sender, pending: Default::default(), gate: Default::default() }, ScanReceiver(receiver))
    }

    /// Scans of this batch recorded here and not yet stored.
    pub fn pending(&self, batch_id: Uuid) -> i64 {
        self.pending.lock().map(|m| m.get(&batch_id).copied().unwrap_or(0)).unwrap_or(0)
    }

    /// Scans recorded here and not yet stored, over all batches.
    pub fn pending_total(&self) -> i64 {
        self.pending.lock().map(|m| m.values().sum()).unwrap_or(0)
    }

    /// Queues a scan; returns how many scans of this batch are now pending here.
    pub fn record(&self, scan: Scan) -> i64 {
        let batch_id = scan.batch_id;
        let pending = match self.pending.lock() {
            Ok(mut map) => {
                let n = map.entry(batch_id).or_insert(0);
                *n += 1;
                *n
            }
            Err(_) => 0,
        };
        if self.sender.send(scan).is_err() {
            tracing::error!("scan recorder stopped; a scan was not recorded");
        }
        pending
    }

    fn settled(&self, batch_id: Uuid, n: i64) {
        if let Ok(mut map) = self.pending.lock() {
            if let Some(count) = map.get_mut(&batch_id) {
                *count -= n;
                if *count <= 0 {
                    map.remove(&batch_id);
                }
            }
        }
    }
}

/// The writer task: flushes pending scans every `interval` until `shutdown`, then drains.
pub async fn run_scan_writer(
    state: AppState,
    recorder: ScanRecorder,
    mut receiver: ScanReceiver,
    interval: std::time::Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut buffer: Vec<Scan> = Vec::new();
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(interval) => false,
            _ = shutdown.changed() => true,
        };
        while let Ok(scan) = receiver.0.try_recv() {
            buffer.push(scan);
        }
        if !buffer.is_empty() {
            match flush_scans(&state, &recorder, &buffer).await {
                Ok(()) => buffer.clear(),
                // Kept for the next round: the database may be back by then.
                Err(err) => tracing::warn!(pending = buffer.len(), error = %err.detail(), "scan flush failed; will retry"),
            }
        }
        if stopping || *shutdown.borrow() {
            return;
        }
    }
}

fn count_by_batch(scans: &[Scan]) -> std::collections::HashMap<Uuid, i64> {
    let mut counts = std::collections::HashMap::new();
    for scan in scans {
        *counts.entry(scan.batch_id).or_insert(0) += 1;
    }
    counts
}

/// Writes a set of scans in one transaction and re-evaluates the copy rules of their batches.
async fn flush_scans(state: &AppState, recorder: &ScanRecorder, scans: &[Scan]) -> AppResult<()> {
    let config = &state.config.trace;
    let window = std::cmp::max(config.window.as_secs(), 1) as i64;
    let txn = crate::platform::db::begin_write(&state.db).await?;
    for (batch_id, n) in count_by_batch(scans) {
        product_batch::Entity::update_many()
            .col_expr(product_batch::Column::ScanCount, Expr::col(product_batch::Column::ScanCount).add(n))
            .filter(product_batch::Column::Id.eq(batch_id))
            .exec(&txn)
            .await?;
    }
    for chunk in scans.chunks(500) {
        trace_scan::Entity::insert_many(chunk.iter().map(|s| trace_scan::ActiveModel {
            id: Set(Uuid::now_v7()),
            batch_id: Set(s.batch_id),
            at: Set(s.at),
            client_hash: Set(s.client_hash.clone()),
        }))
        .exec_without_returning(&txn)
        .await?;
        trace_scan_address::Entity::insert_many(chunk.iter().map(|s| trace_scan_address::ActiveModel {
            batch_id: Set(s.batch_id),
            bucket: Set(s.at.timestamp().div_euclid(window)),
            client_hash: Set(s.client_hash.clone()),
        }))
        .on_conflict(
            OnConflict::columns([
                trace_scan_address::Column::BatchId,
                trace_scan_address::Column::Bucket,
                trace_scan_address::Column::ClientHash,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    let bucket = clock::now().timestamp().div_euclid(window);
    for batch_id in count_by_batch(scans).into_keys() {
        let Some(batch) = product_batch::Entity::find_by_id(batch_id).one(&txn).await? else { continue };
        if !batch.suspected_counterfeit && looks_copied(&txn, config, &batch, bucket).await? {
            product_batch::Entity::update_many()
                .col_expr(product_batch::Column::SuspectedCounterfeit, Expr::value(true))
                .filter(product_batch::Column::Id.eq(batch_id))
                .exec(&txn)
                .await?;
            tracing::warn!(batch_id = %batch_id, scans = batch.scan_count, "trace code flagged as a likely copy");
        }
    }
    let _exclusive = recorder.gate.write().await;
    txn.commit().await?;
    for (batch_id, n) in count_by_batch(scans) {
        recorder.settled(batch_id, n);
    }
    Ok(())
}

/// More scans than `scan_multiple` × quantity, or more distinct addresses in the current
/// window than the batch could plausibly have reached (its quantity, capped by the configured
/// maximum). Windows are fixed buckets of `ONESTOP_COUNTERFEIT_WINDOW_HOURS`.
async fn looks_copied<C: ConnectionTrait>(
    db: &C,
    config: &TraceConfig,
    batch: &product_batch::Model,
    bucket: i64,
) -> AppResult<bool> {
    if too_many_scans(config, batch.quantity, batch.scan_count) {
        return Ok(true);
    }
    let distinct = trace_scan_address::Entity::find()
        .filter(trace_scan_address::Column::BatchId.eq(batch.id))
        .filter(trace_scan_address::Column::Bucket.eq(bucket))
        .count(db)
        .await?;
    Ok(distinct as i64 > std::cmp::min(config.max_distinct_addresses, batch.quantity))
}

pub fn too_many_scans(config: &TraceConfig, quantity: i64, scans: i64) -> bool {
    scans > config.scan_multiple.saturating_mul(quantity)
}

/// One approval that carries a certificate number, as the public check shows it.
pub struct CertificateData {
    pub kind: FilingKind,
    pub holder: String,
    pub region_code: String,
    pub decided_at: Option<chrono::DateTime<chrono::Utc>>,
    pub status: FilingStatus,
}

/// Approvals with this certificate number (a USCC is both the registration and the taxpayer
/// id, so it can name two).
pub async fn certificates<C: ConnectionTrait>(db: &C, number: &str) -> AppResult<Vec<CertificateData>> {
    let filings = filing::Entity::find()
        .filter(filing::Column::CertificateNumber.eq(number))
        .filter(filing::Column::Status.eq(FilingStatus::Approved))
        .order_by_desc(filing::Column::DecidedAt)
        .all(db)
        .await?;
    let mut found = Vec::new();
    for f in filings {
        let holder = match case::Entity::find_by_id(f.case_id).one(db).await? {
            Some(c) => merchant::Entity::find_by_id(c.merchant_id).one(db).await?.map(|m| m.name),
            None => None,
        };
        found.push(CertificateData {
            kind: f.kind,
            holder: holder.unwrap_or_default(),
            region_code: f.region_code,
            decided_at: f.decided_at,
            status: f.status,
        });
    }
    Ok(found)
}

/// Certificate numbers are 6–32 characters of A–Z and 0–9.
pub fn parse_certificate_number(raw: &str) -> Option<String> {
    let number = raw.trim().to_ascii_uppercase();
    ((6..=32).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
        .then_some(number)
}
