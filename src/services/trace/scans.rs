//! Scans of trace pages: every view is counted (off the request path, flushed in batches) and
//! the copy rules are evaluated as scans are stored.

use entity::{product_batch, trace_scan, trace_scan_address};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    config::TraceConfig,
    error::AppResult,
    platform::{clock, state::AppState},
};

/// The salted hash under which a client address is kept (never the address itself).
pub fn client_hash(config: &TraceConfig, address: &str) -> String {
    let digest = Sha256::digest(format!("{}|{address}", config.address_salt).as_bytes());
    hex::encode(&digest[..16])
}

/// The salted hash under which a scanner is kept (never its address): an IPv4 address, or the
/// /64 network of an IPv6 one (one household or phone holds a whole /64, and could otherwise
/// count as millions of scanners).
pub fn scanner_hash(config: &TraceConfig, address: std::net::IpAddr) -> String {
    client_hash(config, &crate::http::rate_key(address).to_string())
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
    pub(super) gate: std::sync::Arc<tokio::sync::RwLock<()>>,
    /// Asks the writer to flush now rather than at its next interval.
    flush_now: std::sync::Arc<tokio::sync::Notify>,
    /// Told by the writer after every flush it tried.
    flushed: std::sync::Arc<tokio::sync::Notify>,
}

pub struct ScanReceiver(tokio::sync::mpsc::UnboundedReceiver<Scan>);

impl ScanRecorder {
    pub fn new() -> (Self, ScanReceiver) {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let recorder = Self {
            sender,
            pending: Default::default(),
            gate: Default::default(),
            flush_now: Default::default(),
            flushed: Default::default(),
        };
        (recorder, ScanReceiver(receiver))
    }

    /// Scans of this batch recorded here and not yet stored.
    pub fn pending(&self, batch_id: Uuid) -> i64 {
        self.pending.lock().map(|m| m.get(&batch_id).copied().unwrap_or(0)).unwrap_or(0)
    }

    /// Scans recorded here and not yet stored, over all batches.
    pub fn pending_total(&self) -> i64 {
        self.pending.lock().map(|m| m.values().sum()).unwrap_or(0)
    }

    /// Returns once every scan recorded before the call is stored: the writer is asked to
    /// flush at once (for a shutdown, and for tests that read what was stored).
    pub async fn flush(&self) {
        while self.pending_total() > 0 {
            let flushed = self.flushed.notified();
            tokio::pin!(flushed);
            // Registered before the request, so the writer's answer cannot be missed.
            flushed.as_mut().enable();
            self.flush_now.notify_one();
            flushed.await;
        }
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
        if let Ok(mut map) = self.pending.lock()
            && let Some(count) = map.get_mut(&batch_id)
        {
            *count -= n;
            if *count <= 0 {
                map.remove(&batch_id);
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
            _ = recorder.flush_now.notified() => false,
            _ = shutdown.changed() => true,
        };
        while let Ok(scan) = receiver.0.try_recv() {
            buffer.push(scan);
        }
        if !buffer.is_empty() {
            match flush_scans(&state, &recorder, &buffer).await {
                Ok(()) => buffer.clear(),
                // Kept for the next round: the database may be back by then.
                Err(err) => {
                    tracing::warn!(pending = buffer.len(), error = %err.detail(), "scan flush failed; will retry")
                }
            }
        }
        recorder.flushed.notify_waiters();
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

/// More scanners than `scan_multiple` × quantity, each address (/64 for IPv6) counted once per
/// window — one person reloading a page all day is one scanner, not a copy — or more distinct
/// addresses in the current window than the batch could plausibly have reached (its quantity,
/// capped by the configured maximum). Windows are fixed buckets of
/// `ONESTOP_COUNTERFEIT_WINDOW_HOURS`.
async fn looks_copied<C: ConnectionTrait>(
    db: &C,
    config: &TraceConfig,
    batch: &product_batch::Model,
    bucket: i64,
) -> AppResult<bool> {
    let of_batch = || trace_scan_address::Entity::find().filter(trace_scan_address::Column::BatchId.eq(batch.id));
    let scanners = of_batch().count(db).await?;
    if scanners as i64 > config.scan_multiple.saturating_mul(batch.quantity) {
        return Ok(true);
    }
    let distinct = of_batch().filter(trace_scan_address::Column::Bucket.eq(bucket)).count(db).await?;
    Ok(distinct as i64 > std::cmp::min(config.max_distinct_addresses, batch.quantity))
}
