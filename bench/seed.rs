//! Seeds a database with N submitted cases of five filings each (plus merchants, officers and
//! chained audit events) for bench/run.sh. Rows go in with multi-row INSERTs, not through the
//! API: the point is to measure reads at scale, not to wait for a million writes.
//!
//! Usage: ONESTOP_DATABASE_URL=… onestop-bench-seed <cases>
//! Prints `case_id=<uuid>` of a case the customs officer of 510100 can see.

use chrono::Duration;
use entity::{
    audit_event, case, case_counter, decision_record, filing, merchant, merchant_member, received_filings, user,
    user_region,
};
use onestop::{
    app,
    config::Config,
    domain::{CaseStatus, FilingKind, FilingStatus, Role},
    platform::clock,
    services::audit,
    services::auth::password::hash_password,
};
use sea_orm::{ActiveModelTrait, EntityTrait, Set, TransactionTrait};
use uuid::Uuid;

const REGIONS: [&str; 12] = [
    "510100", "530100", "500100", "520100", "450100", "610100", "620100", "630100", "640100", "650100", "540100",
    "150100",
];
const BATCH: usize = 400;
pub const PASSWORD: &str = "Bench-Peppercorn-Lantern-2026";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    onestop::install_crypto_provider();
    let arg = std::env::args().nth(1).unwrap_or_default();
    let config = Config::from_env()?;
    let state = app::build_state(config).await?;
    let db = &state.db;
    let now = clock::now();
    if arg == "trace" {
        return seed_trace_batch(db).await;
    }
    let cases: usize = arg.parse().unwrap_or(1000);
    let hash = hash_password(PASSWORD.into()).await.map_err(|e| anyhow::anyhow!(e.detail()))?;

    // One officer per agency in 510100 (the one measured) and a merchant user per 10 cases.
    let mut users = Vec::new();
    let mut officer_regions = Vec::new();
    let mut officers = Vec::new();
    for kind in FilingKind::ALL {
        let officer = Uuid::now_v7();
        officers.push(officer);
        officer_regions.push(user_region::ActiveModel {
            user_id: Set(officer),
            region_code: Set("510100".into()),
            position: Set(0),
        });
        users.push(user::ActiveModel::from(user::Model {
            id: officer,
            email: format!("{}@bench.onestop.cn", kind.as_str().to_lowercase()),
            password_hash: Some(hash.clone()),
            display_name: format!("Bench {}", kind.as_str()),
            role: Role::Officer,
            email_verified_at: Some(now),
            agency: Some(kind.agency()),
            created_at: now,
            updated_at: now,
        }));
    }
    // A customs supervisor of every region, for processingStats (bench/stats.sh).
    let supervisor = Uuid::now_v7();
    for (position, region) in REGIONS.iter().enumerate() {
        officer_regions.push(user_region::ActiveModel {
            user_id: Set(supervisor),
            region_code: Set((*region).into()),
            position: Set(position as i32),
        });
    }
    users.push(user::ActiveModel::from(user::Model {
        id: supervisor,
        email: "supervisor@bench.onestop.cn".into(),
        password_hash: Some(hash.clone()),
        display_name: "Bench supervisor".into(),
        role: Role::Supervisor,
        email_verified_at: Some(now),
        agency: Some(onestop::domain::Agency::Customs),
        created_at: now,
        updated_at: now,
    }));
    let merchants_n = cases.div_ceil(10);
    let mut merchants = Vec::new();
    for i in 0..merchants_n {
        let owner = Uuid::now_v7();
        users.push(user::ActiveModel::from(user::Model {
            id: owner,
            email: format!("merchant{i}@bench.onestop.cn"),
            password_hash: Some(hash.clone()),
            display_name: format!("Merchant {i}"),
            role: Role::Merchant,
            email_verified_at: Some(now),
            agency: None,
            created_at: now,
            updated_at: now,
        }));
        merchants.push(merchant::Model {
            id: Uuid::now_v7(),
            owner_user_id: owner,
            name: format!("西部商户 {i} 号"),
            uscc: None,
            declared_uscc: None,
            region_code: REGIONS[i % REGIONS.len()].into(),
            address: "成都市高新区天府大道100号".into(),
            contact_email: format!("merchant{i}@bench.onestop.cn"),
            contact_phone: "+8613800000000".into(),
            store_urls: "[]".into(),
            categories: "[\"AGRICULTURAL\"]".into(),
            risk_level: 0,
            pass_streak: 0,
            created_at: now,
            updated_at: now,
        });
    }
    insert_all(db, users.into_iter().map(|u| u.reset_all()).collect()).await?;
    insert_all(db, officer_regions).await?;
    insert_all(db, merchants.iter().cloned().map(merchant::ActiveModel::from).map(|m| m.reset_all()).collect()).await?;
    // Each merchant's user is its OWNER member (issue 13): without the row the user has no
    // merchant to act for.
    let owners = merchants
        .iter()
        .map(|m| {
            merchant_member::ActiveModel::from(merchant_member::Model {
                user_id: m.owner_user_id,
                merchant_id: m.id,
                role: entity::enums::MerchantRole::Owner,
                added_at: now,
                added_by: None,
            })
            .reset_all()
        })
        .collect();
    insert_all(db, owners).await?;

    let statuses =
        [FilingStatus::Submitted, FilingStatus::UnderReview, FilingStatus::Approved, FilingStatus::NeedsCorrection];
    let mut sample = None;
    let mut done = 0;
    // The received rollup as a year of submissions would leave it: a row for nearly every day,
    // kind and region (what processingStats sums), though the seeded cases are all open now.
    let mut received = std::collections::BTreeMap::new();
    while done < cases {
        let n = BATCH.min(cases - done);
        let (mut case_rows, mut filing_rows, mut event_rows, mut decision_rows) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for j in 0..n {
            let index = done + j;
            let merchant = &merchants[index / 10];
            let case_id = Uuid::now_v7();
            case_rows.push(case::Model {
                id: case_id,
                reference: format!("{}-2026-{:06}", merchant.region_code, index + 1),
                merchant_id: merchant.id,
                region_code: merchant.region_code.clone(),
                status: CaseStatus::InReview,
                created_at: now,
                submitted_at: Some(now),
                updated_at: now,
                profile: None,
                ruleset_version: None,
                requirements: None,
                case_type: entity::enums::CaseType::New,
            });
            if merchant.region_code == "510100" {
                sample = Some(case_id);
            }
            let mut prev = audit::GENESIS.to_string();
            let mut seq = 0;
            let mut chain = |action: &str, filing_id: Option<Uuid>, to: Option<FilingStatus>| {
                seq += 1;
                let mut event = audit_event::Model {
                    id: Uuid::now_v7(),
                    case_id,
                    seq,
                    at: now,
                    actor_id: None,
                    via_client_id: None,
                    action: action.into(),
                    filing_id,
                    from_status: to.map(|_| FilingStatus::Draft),
                    to_status: to,
                    note: None,
                    prev_hash: prev.clone(),
                    hash: String::new(),
                    on_behalf_of_merchant_id: None,
                };
                event.hash = audit::compute_hash(&prev, &event);
                prev = event.hash.clone();
                event
            };
            event_rows.push(chain("case.created", None, None));
            for (k, kind) in FilingKind::ALL.iter().enumerate() {
                let status = statuses[(index + k) % statuses.len()];
                let filing_id = Uuid::now_v7();
                filing_rows.push(filing::Model {
                    id: filing_id,
                    case_id,
                    kind: *kind,
                    agency: kind.agency(),
                    status,
                    version: 3,
                    region_code: merchant.region_code.clone(),
                    data: None,
                    assignee_id: None,
                    due_at: Some(now + Duration::minutes(((index * 7919 + k * 104729) % 20000) as i64 - 5000)),
                    paused_remaining_secs: None,
                    decision_note: None,
                    certificate_number: None,
                    uscc: None,
                    submitted_at: Some(now),
                    decided_at: None,
                    created_at: now,
                    updated_at: now,
                    reminder_sent_at: None,
                    overdue_notified_at: None,
                    decided_by: None,
                    automatic_decision: None,
                    paused_working_days: None,
                    licence_id: None,
                    receiving_region_code: None,
                    received_at: None,
                });
                let day = (now - Duration::hours(((index * 7919 + k * 104729) % (365 * 24)) as i64))
                    .with_timezone(&clock::china())
                    .date_naive();
                *received.entry((day, kind.agency(), *kind, merchant.region_code.clone())).or_insert(0i64) += 1;
                if status == FilingStatus::Approved {
                    decision_rows.push(decision(merchant, case_id, filing_id, *kind, officers[k], index, now));
                }
                event_rows.push(chain("filing.submitted", Some(filing_id), Some(FilingStatus::Submitted)));
            }
        }
        let txn = db.begin().await?;
        insert_all(&txn, case_rows.into_iter().map(|m| case::ActiveModel::from(m).reset_all()).collect()).await?;
        insert_all(&txn, filing_rows.into_iter().map(|m| filing::ActiveModel::from(m).reset_all()).collect()).await?;
        insert_all(&txn, event_rows.into_iter().map(|m| audit_event::ActiveModel::from(m).reset_all()).collect())
            .await?;
        insert_all(
            &txn,
            decision_rows.into_iter().map(|m| decision_record::ActiveModel::from(m).reset_all()).collect(),
        )
        .await?;
        txn.commit().await?;
        done += n;
    }
    // The reference counters, as if the cases had come through the API: without them the next
    // `createCase` would hand out a seeded reference again.
    let mut last = std::collections::BTreeMap::new();
    for index in 0..cases {
        last.insert(merchants[index / 10].region_code.clone(), (index + 1) as i64);
    }
    let counters = last
        .into_iter()
        .map(|(region_code, last_value)| {
            case_counter::ActiveModel::from(case_counter::Model { region_code, year: 2026, last_value }).reset_all()
        })
        .collect();
    insert_all(db, counters).await?;
    let received = received
        .into_iter()
        .map(|((day, agency, kind, region_code), received)| {
            received_filings::ActiveModel::from(received_filings::Model { day, agency, kind, region_code, received })
                .reset_all()
        })
        .collect();
    insert_all(db, received).await?;
    // The monthly decisions rollup, counted from the seeded records as `onestop rebuild-stats` does.
    onestop::services::stats::decided::rebuild(db).await.map_err(|e| anyhow::anyhow!(e.detail()))?;
    // Planner statistics, as a database in service has them (autovacuum would gather them a
    // little later): without them PostgreSQL plans the fresh tables as if they were empty.
    sea_orm::ConnectionTrait::execute_unprepared(db, "ANALYZE").await?;
    println!("case_id={}", sample.map(|s| s.to_string()).unwrap_or_default());
    Ok(())
}

/// An approval of the past year with a processing time, as `automatic::records` keeps it (for
/// processingStats at scale).
fn decision(
    merchant: &merchant::Model,
    case_id: Uuid,
    filing_id: Uuid,
    kind: FilingKind,
    officer: Uuid,
    index: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> decision_record::Model {
    let at = now - Duration::hours(((index * 7919) % (365 * 24)) as i64);
    decision_record::Model {
        id: Uuid::now_v7(),
        filing_id,
        case_id,
        merchant_id: merchant.id,
        agency: kind.agency(),
        kind,
        region_code: merchant.region_code.clone(),
        outcome: FilingStatus::Approved,
        decided_by: if index.is_multiple_of(4) {
            entity::enums::DecidedBy::Rule
        } else {
            entity::enums::DecidedBy::Officer
        },
        actor_id: (!index.is_multiple_of(4)).then_some(officer),
        rule_id: None,
        rule_version: None,
        facts: "{}".into(),
        at,
        submitted_at: Some(at - Duration::days(3)),
        working_days: Some(((index * 31 + kind as usize) % 9) as i32),
        on_time: Some(!index.is_multiple_of(5)),
        correction_rounds: Some(i32::from(index.is_multiple_of(7))),
    }
}

async fn insert_all<C, A>(db: &C, rows: Vec<A>) -> anyhow::Result<()>
where
    C: sea_orm::ConnectionTrait,
    A: sea_orm::ActiveModelTrait + Send,
    <A::Entity as EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
{
    for chunk in rows.chunks(BATCH) {
        <A::Entity as EntityTrait>::insert_many(chunk.to_vec()).exec_without_returning(db).await?;
    }
    Ok(())
}

/// One merchant with one product batch (large enough that scans never look copied); prints
/// `trace_code=<code>`.
async fn seed_trace_batch(db: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    let now = clock::now();
    let owner = Uuid::now_v7();
    user::ActiveModel::from(user::Model {
        id: owner,
        email: format!("trace-{owner}@bench.onestop.cn"),
        password_hash: None,
        display_name: "Trace bench".into(),
        role: Role::Merchant,
        email_verified_at: Some(now),
        agency: None,
        created_at: now,
        updated_at: now,
    })
    .reset_all()
    .insert(db)
    .await?;
    let merchant_id = Uuid::now_v7();
    merchant::ActiveModel::from(merchant::Model {
        id: merchant_id,
        owner_user_id: owner,
        name: "雅安藏茶合作社 Ya'an Tibetan Tea Co-op".into(),
        uscc: Some("93510100MA62NQ8B00".into()),
        declared_uscc: None,
        region_code: "511800".into(),
        address: "四川省雅安市".into(),
        contact_email: "tea@bench.onestop.cn".into(),
        contact_phone: "+8613800000000".into(),
        store_urls: "[]".into(),
        categories: "[\"AGRICULTURAL\"]".into(),
        risk_level: 0,
        pass_streak: 0,
        created_at: now,
        updated_at: now,
    })
    .reset_all()
    .insert(db)
    .await?;
    let code = onestop::services::trace::new_trace_code();
    entity::product_batch::ActiveModel::from(entity::product_batch::Model {
        id: Uuid::now_v7(),
        merchant_id,
        product_name: "雅安藏茶 Ya'an dark tea".into(),
        category: "AGRICULTURAL".into(),
        origin_region_code: "511800".into(),
        batch_number: "BENCH-1".into(),
        production_date: now.date_naive(),
        quantity: 1_000_000_000,
        trace_code: code.clone(),
        scan_count: 0,
        suspected_counterfeit: false,
        created_at: now,
        gtin: None,
        expiry_date: None,
    })
    .reset_all()
    .insert(db)
    .await?;
    println!("trace_code={code}");
    Ok(())
}
