//! The audit trail: an append-only, hash-chained list of events per case.
//!
//! `hash = SHA-256(prev_hash ‖ canonical JSON of the event)`, where the first event of a case
//! chains from 64 zeros. Timestamps are truncated to microseconds before hashing because that
//! is what PostgreSQL stores; otherwise a re-read event would not hash the same.

pub mod security;

use chrono::{DateTime, Utc};
use entity::audit_event;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{domain::FilingStatus, error::AppResult};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened, before it is chained.
pub struct NewEvent<'a> {
    pub case_id: Uuid,
    pub actor_id: Option<Uuid>,
    /// The API client through which the actor acted.
    pub via_client: Option<Uuid>,
    pub action: &'a str,
    pub filing_id: Option<Uuid>,
    pub from_status: Option<FilingStatus>,
    pub to_status: Option<FilingStatus>,
    pub note: Option<&'a str>,
    /// The merchant a member or an agent acted for.
    pub on_behalf_of: Option<Uuid>,
}

fn canonical(event: &audit_event::Model) -> String {
    // Fixed key order (serde_json keeps insertion order only with a feature; build the
    // string from an array of pairs instead).
    let mut pairs = json!([
        ["case_id", event.case_id.to_string()],
        ["seq", event.seq],
        ["at", event.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)],
        ["actor_id", event.actor_id.map(|a| a.to_string())],
        ["action", event.action],
        ["filing_id", event.filing_id.map(|f| f.to_string())],
        ["from_status", event.from_status],
        ["to_status", event.to_status],
        ["note", event.note],
    ]);
    // Added later: only events made through an API client carry it, so the events written
    // before it existed hash exactly as they did.
    if let (Some(client), Some(list)) = (event.via_client_id, pairs.as_array_mut()) {
        list.push(json!(["via_client_id", client.to_string()]));
    }
    // Likewise only on events of people acting for a merchant (v2).
    if let (Some(merchant), Some(list)) = (event.on_behalf_of_merchant_id, pairs.as_array_mut()) {
        list.push(json!(["on_behalf_of_merchant_id", merchant.to_string()]));
    }
    pairs.to_string()
}

pub fn compute_hash(prev_hash: &str, event: &audit_event::Model) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(canonical(event).as_bytes());
    hex::encode(hasher.finalize())
}

/// Where a case's chain ends: the next event follows it.
#[derive(Clone, Debug)]
pub struct ChainHead {
    seq: i64,
    hash: String,
}

impl ChainHead {
    /// The head of a case without events yet.
    pub fn genesis() -> Self {
        Self { seq: 0, hash: GENESIS.to_string() }
    }

    /// The head at the chain's last event.
    pub fn at(seq: i64, hash: String) -> Self {
        Self { seq, hash }
    }
}

/// The end of a case's chain (one read). Call inside the transaction of the change, after the
/// case row is locked (`cases::lock_case`), so two writers never take the same `seq`.
pub async fn head<C: ConnectionTrait>(db: &C, case_id: Uuid) -> AppResult<ChainHead> {
    let last = audit_event::Entity::find()
        .filter(audit_event::Column::CaseId.eq(case_id))
        .order_by_desc(audit_event::Column::Seq)
        .limit(1)
        .one(db)
        .await?;
    Ok(match last {
        Some(e) => ChainHead { seq: e.seq, hash: e.hash },
        None => ChainHead { seq: 0, hash: GENESIS.to_string() },
    })
}

/// Appends an event after `head` and moves the head on (several events of one change read the
/// chain once).
pub async fn append_to<C: ConnectionTrait>(
    db: &C,
    head: &mut ChainHead,
    new: NewEvent<'_>,
) -> AppResult<audit_event::Model> {
    let at: DateTime<Utc> = crate::platform::clock::now();
    let mut event = audit_event::Model {
        id: Uuid::now_v7(),
        case_id: new.case_id,
        seq: head.seq + 1,
        at,
        actor_id: new.actor_id,
        via_client_id: new.via_client,
        action: new.action.to_string(),
        filing_id: new.filing_id,
        from_status: new.from_status,
        to_status: new.to_status,
        note: new.note.map(str::to_string),
        prev_hash: head.hash.clone(),
        hash: String::new(),
        on_behalf_of_merchant_id: new.on_behalf_of,
    };
    event.hash = compute_hash(&head.hash, &event);
    // `reset_all` marks every column as set, so the row is inserted exactly as hashed.
    audit_event::ActiveModel::from(event.clone()).reset_all().insert(db).await?;
    *head = ChainHead { seq: event.seq, hash: event.hash.clone() };
    Ok(event)
}

/// The first broken link found, if any.
#[derive(Debug)]
pub struct BrokenLink {
    pub case_id: Uuid,
    pub seq: i64,
    pub reason: String,
}

/// Walks every case's chain in order. Returns how many events were checked, or the first
/// broken link.
#[tracing::instrument(skip_all)]
pub async fn verify_all<C: ConnectionTrait>(db: &C) -> AppResult<Result<u64, BrokenLink>> {
    // Cases are walked in id order, each chain in seq order, streaming page by page so a
    // large trail is never loaded at once.
    const PAGE: u64 = 1000;
    let mut checked = 0u64;
    let mut after: Option<(Uuid, i64)> = None;
    let mut expected_prev: Option<(Uuid, String, i64)> = None;
    loop {
        let mut query = audit_event::Entity::find()
            .order_by_asc(audit_event::Column::CaseId)
            .order_by_asc(audit_event::Column::Seq)
            .limit(PAGE);
        if let Some((case_id, seq)) = after {
            query = query.filter(
                sea_orm::Condition::any().add(audit_event::Column::CaseId.gt(case_id)).add(
                    sea_orm::Condition::all()
                        .add(audit_event::Column::CaseId.eq(case_id))
                        .add(audit_event::Column::Seq.gt(seq)),
                ),
            );
        }
        let page = query.all(db).await?;
        if page.is_empty() {
            return Ok(Ok(checked));
        }
        for event in &page {
            let (prev, expected_seq) = match &expected_prev {
                Some((case_id, hash, seq)) if *case_id == event.case_id => (hash.clone(), seq + 1),
                _ => (GENESIS.to_string(), 1),
            };
            let broken = |reason: &str| BrokenLink { case_id: event.case_id, seq: event.seq, reason: reason.into() };
            if event.seq != expected_seq {
                return Ok(Err(broken(&format!("expected event #{expected_seq}, found #{}", event.seq))));
            }
            if event.prev_hash != prev {
                return Ok(Err(broken("prev_hash does not match the previous event's hash")));
            }
            if compute_hash(&prev, event) != event.hash {
                return Ok(Err(broken("hash does not match the event's content")));
            }
            expected_prev = Some((event.case_id, event.hash.clone(), event.seq));
            checked += 1;
        }
        let last = &page[page.len() - 1];
        after = Some((last.case_id, last.seq));
    }
}
