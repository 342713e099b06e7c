//! Product batches, their public trace codes and the public view of a code; scans with copy
//! detection (`scans`). (Licence numbers are checked publicly in `licences`.)

mod scans;

pub use scans::{Scan, ScanReceiver, ScanRecorder, client_hash, run_scan_writer, scanner_hash};

use async_graphql::InputObject;
use entity::{enums::LicenceStatus, merchant, product_batch, spot_check};
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use crate::{
    config::TraceConfig,
    domain::{
        filing_data::{Date, ProductCategory},
        gtin::{Gtin, is_link_safe_batch},
        identifiers as id,
    },
    error::{AppError, AppResult, OnUnique, Problems, Unique, violates},
    platform::clock,
    platform::pagination,
    platform::state::AppState,
    services::{
        access::Scope,
        audit::security::{self, SecurityEvent, SecurityKind},
    },
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
    (0..CODE_LEN).rev().map(|i| CROCKFORD[((bits >> (i * 5)) & 31) as usize] as char).collect()
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
    /// GTIN-8/12/13/14 (check digit validated): the QR code becomes a GS1 Digital Link.
    pub gtin: Option<String>,
    /// Best before / use by; the trace page warns after it.
    pub expiry_date: Option<Date>,
}

/// A batch as validated, ready to store.
struct ValidBatch {
    product_name: String,
    origin: String,
    batch_number: String,
    gtin: Option<Gtin>,
}

/// Every problem of a batch at once.
fn validate(state: &AppState, input: &ProductBatchInput) -> AppResult<ValidBatch> {
    let mut problems = Problems::default();
    let product_name = problems.take(id::public_text("productName", &input.product_name, 200));
    let origin =
        problems.take(state.config.regions.parse("originRegionCode", &input.origin_region_code).map(|r| r.to_string()));
    let batch_number = problems.take(id::text("batchNumber", &input.batch_number, 64, false));
    let gtin =
        input.gtin.as_deref().filter(|g| !g.trim().is_empty()).and_then(|g| problems.check(Gtin::parse("gtin", g)));
    if gtin.is_some() && !is_link_safe_batch(&batch_number) {
        problems
            .push("batchNumber", "with a GTIN: 1–20 characters of A–Z, a–z, 0–9, '-', '.', '_' (GS1 AI 10 in a link)");
    }
    if input.production_date.0 > clock::china_today() {
        problems.push("productionDate", "must not be in the future");
    }
    if input.expiry_date.is_some_and(|e| e.0 < input.production_date.0) {
        problems.push("expiryDate", "must not be before the production date");
    }
    if input.quantity <= 0 {
        problems.push("quantity", "must be greater than zero");
    }
    problems.finish(ValidBatch { product_name, origin, batch_number, gtin })
}

/// A merchant registers a batch and receives its trace code. A GTIN and batch number another
/// merchant's batch already carries is a CONFLICT and a security event (GTIN ownership is not
/// verified here, so a clash may be a copy).
#[tracing::instrument(skip_all, fields(user = %scope.user_id()))]
pub async fn register_batch(
    state: &AppState,
    scope: &Scope,
    input: ProductBatchInput,
    address: Option<std::net::IpAddr>,
) -> AppResult<product_batch::Model> {
    let merchant_id = scope.own_merchant()?;
    let valid = validate(state, &input)?;
    let gtin = valid.gtin.as_ref().map(|g| g.as_str().to_string());
    let inserted = product_batch::ActiveModel {
        id: Set(Uuid::now_v7()),
        merchant_id: Set(merchant_id),
        product_name: Set(valid.product_name),
        category: Set(input.category.as_str()),
        origin_region_code: Set(valid.origin),
        batch_number: Set(valid.batch_number.clone()),
        production_date: Set(input.production_date.0),
        quantity: Set(i64::from(input.quantity)),
        trace_code: Set(new_trace_code()),
        scan_count: Set(0),
        suspected_counterfeit: Set(false),
        created_at: Set(clock::now()),
        gtin: Set(gtin.clone()),
        expiry_date: Set(input.expiry_date.map(|d| d.0)),
    }
    .insert(&state.db)
    .await;
    match inserted {
        Err(err) if violates(&err, Unique::GTIN_BATCH) => {
            let detail = format!("GTIN {} batch {} claimed again", gtin.unwrap_or_default(), valid.batch_number);
            let event =
                SecurityEvent::new(SecurityKind::GtinClaimed).actor(scope.user_id()).from(address).detail(&detail);
            security::record(&state.db, state, event).await?;
            Err(AppError::Conflict("a batch with this GTIN and batch number is already registered".into()))
        }
        other => other
            .on_unique(Unique::BATCH_NUMBER, || AppError::Conflict("this batch number is already registered".into())),
    }
}

/// `{base}/01/{gtin14}/10/{batch}` for a batch with a GTIN.
pub fn digital_link(state: &AppState, batch: &product_batch::Model) -> Option<String> {
    batch.gtin.as_ref().map(|gtin| format!("{}/01/{gtin}/10/{}", state.config.public_base_url, batch.batch_number))
}

/// What the batch's QR code encodes: its Digital Link if it has a GTIN, else its trace URL.
pub fn qr_url(state: &AppState, batch: &product_batch::Model) -> String {
    digital_link(state, batch).unwrap_or_else(|| trace_url(state, &batch.trace_code))
}

/// The batch a Digital Link names.
pub async fn find_by_digital_link<C: ConnectionTrait>(
    db: &C,
    gtin: &Gtin,
    batch_number: &str,
) -> AppResult<Option<product_batch::Model>> {
    Ok(product_batch::Entity::find()
        .filter(product_batch::Column::Gtin.eq(gtin.as_str()))
        .filter(product_batch::Column::BatchNumber.eq(batch_number))
        .one(db)
        .await?)
}

/// The caller's batches, newest first (merchants only).
#[tracing::instrument(skip_all)]
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
    /// The merchant's registration licence, if a REGISTRATION was approved here.
    pub registration: Option<LicenceStatus>,
}

impl TraceData {
    /// Past its expiry date (China Standard Time).
    pub fn expired(&self) -> bool {
        self.batch.expiry_date.is_some_and(|d| d < clock::china_today())
    }

    /// The merchant holds an ACTIVE registration licence issued here. A USCC merely typed into
    /// the profile does not count, nor does a cancelled or expired registration.
    pub fn merchant_verified(&self) -> bool {
        self.registration == Some(LicenceStatus::Active)
    }

    /// `verified`, `cancelled` / `expired` / `suspended` (a registration that no longer
    /// stands), `declared` (typed into the profile, not verified) or none.
    pub fn uscc_status(&self) -> Option<&'static str> {
        match (self.registration, &self.merchant.declared_uscc) {
            (Some(LicenceStatus::Active), _) => Some("verified"),
            (Some(LicenceStatus::Cancelled), _) => Some("cancelled"),
            (Some(LicenceStatus::Expired), _) => Some("expired"),
            (Some(LicenceStatus::Suspended), _) => Some("suspended"),
            (None, Some(_)) => Some("declared"),
            (None, None) => None,
        }
    }
}

pub async fn find_batch<C: ConnectionTrait>(db: &C, code: &str) -> AppResult<Option<product_batch::Model>> {
    Ok(product_batch::Entity::find().filter(product_batch::Column::TraceCode.eq(code)).one(db).await?)
}

/// The latest spot check of the batch, else the merchant's latest of the batch's category.
pub async fn latest_check<C: ConnectionTrait>(
    db: &C,
    batch: &product_batch::Model,
) -> AppResult<Option<spot_check::Model>> {
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
#[tracing::instrument(skip_all, fields(code = %code))]
pub async fn trace_data(
    state: &AppState,
    code: &str,
    scan: Option<(&TraceConfig, std::net::IpAddr)>,
) -> AppResult<Option<TraceData>> {
    let _shared = state.scans.gate.read().await;
    let Some(batch) = find_batch(&state.db, code).await? else { return Ok(None) };
    if let Some((config, address)) = scan {
        state.scans.record(Scan { batch_id: batch.id, at: clock::now(), client_hash: scanner_hash(config, address) });
    }
    // The copy rules count scanners, not views: they run as the scans are stored.
    let scan_count = batch.scan_count + state.scans.pending(batch.id);
    let merchant = merchant::Entity::find_by_id(batch.merchant_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::NotFound("merchant".into()))?;
    let latest_check = latest_check(&state.db, &batch).await?;
    let registration = crate::services::licences::registration_status(&state.db, merchant.id).await?;
    Ok(Some(TraceData { batch, merchant, latest_check, scan_count, registration }))
}

/// Certificate numbers are 6–32 characters of A–Z and 0–9.
pub fn parse_certificate_number(raw: &str) -> Option<String> {
    let number = raw.trim().to_ascii_uppercase();
    ((6..=32).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
        .then_some(number)
}
