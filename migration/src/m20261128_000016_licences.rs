use std::collections::HashMap;

use sea_orm::{
    DatabaseBackend, Statement,
    prelude::{ChronoDate, ChronoDateTimeUtc},
};
use sea_orm_migration::{prelude::*, schema::*};

use crate::rows::insert;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Licences that live after approval (issue 13):
///
/// - `licences`: one per (kind, number) — what an approval issued, with its status (ACTIVE,
///   SUSPENDED, CANCELLED, EXPIRED), validity and the expiry notices already sent;
/// - `licence_events`: its history (issued, amended, renewed, cancelled, expired …);
/// - `filings.licence_id`: the licence a filing issued (NEW cases) or changes (change cases).
///
/// Approvals already stored become licences: every APPROVED filing with a certificate number
/// (a USCC verified or issued by a REGISTRATION becomes that merchant's registration licence;
/// TAX carries the USCC as its number). Validity follows the built-in defaults (INSPECTION 36
/// months from the approval, the others without end); `ONESTOP_LICENCE_VALIDITY_MONTHS`
/// governs licences issued after this migration.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Licences::Table)
                    .col(uuid(Licences::Id).primary_key())
                    .col(uuid(Licences::MerchantId))
                    .col(string_len(Licences::Kind, 16))
                    .col(string_len(Licences::Agency, 32))
                    .col(string_len(Licences::Number, 32))
                    .col(string_len(Licences::Status, 16))
                    .col(timestamp_with_time_zone(Licences::IssuedAt))
                    .col(date_null(Licences::ValidUntil))
                    .col(uuid(Licences::FilingId))
                    .col(timestamp_with_time_zone_null(Licences::MonthNoticeAt))
                    .col(timestamp_with_time_zone_null(Licences::WeekNoticeAt))
                    .col(integer(Licences::Version))
                    .col(timestamp_with_time_zone(Licences::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_licences_kind_number")
                    .table(Licences::Table)
                    .col(Licences::Kind)
                    .col(Licences::Number)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_licences_merchant")
                    .table(Licences::Table)
                    .col(Licences::MerchantId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_licences_expiry")
                    .table(Licences::Table)
                    .col(Licences::Status)
                    .col(Licences::ValidUntil)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LicenceEvents::Table)
                    .col(uuid(LicenceEvents::Id).primary_key())
                    .col(uuid(LicenceEvents::LicenceId))
                    .col(timestamp_with_time_zone(LicenceEvents::At))
                    .col(string_len(LicenceEvents::Action, 32))
                    .col(text_null(LicenceEvents::Note))
                    .col(uuid_null(LicenceEvents::FilingId))
                    .col(uuid_null(LicenceEvents::ActorId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_licence_events_licence")
                    .table(LicenceEvents::Table)
                    .col(LicenceEvents::LicenceId)
                    .col(LicenceEvents::At)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table(Filings::Table).add_column(uuid_null(Filings::LicenceId)).to_owned())
            .await?;
        backfill(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Filings::Table).drop_column(Filings::LicenceId).to_owned()).await?;
        for table in [LicenceEvents::Table.into_iden(), Licences::Table.into_iden()] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// One stored approval that carries a number.
struct Approved {
    filing_id: uuid::Uuid,
    merchant_id: uuid::Uuid,
    kind: String,
    agency: String,
    number: String,
    decided_at: ChronoDateTimeUtc,
}

/// Every approval stored so far becomes (or confirms) a licence, oldest first.
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT f.id, c.merchant_id, f.kind, f.agency, f.certificate_number, COALESCE(f.decided_at, f.updated_at) AS decided_at \
             FROM filings f JOIN cases c ON c.id = f.case_id \
             WHERE f.status = 'APPROVED' AND f.certificate_number IS NOT NULL ORDER BY 6, f.id",
        ))
        .await?;
    let mut issued: HashMap<(String, String), (uuid::Uuid, uuid::Uuid)> = HashMap::new();
    let mut clashes = Vec::new();
    for row in rows {
        let approved = Approved {
            filing_id: row.try_get("", "id")?,
            merchant_id: row.try_get("", "merchant_id")?,
            kind: row.try_get("", "kind")?,
            agency: row.try_get("", "agency")?,
            number: row.try_get("", "certificate_number")?,
            decided_at: row.try_get("", "decided_at")?,
        };
        let key = (approved.kind.clone(), approved.number.clone());
        let licence_id = match issued.get(&key) {
            Some((licence, holder)) if *holder == approved.merchant_id => {
                event(db, *licence, &approved, "reissued").await?;
                *licence
            }
            Some(_) => {
                clashes.push(format!("{} {}", approved.kind, approved.number));
                continue;
            }
            None => {
                let licence = insert_licence(db, &approved).await?;
                issued.insert(key, (licence, approved.merchant_id));
                licence
            }
        };
        let sql = match backend {
            DatabaseBackend::Postgres => "UPDATE filings SET licence_id = $1 WHERE id = $2",
            _ => "UPDATE filings SET licence_id = ? WHERE id = ?",
        };
        db.execute_raw(Statement::from_sql_and_values(backend, sql, [licence_id.into(), approved.filing_id.into()]))
            .await?;
    }
    if !clashes.is_empty() {
        return Err(DbErr::Migration(format!(
            "numbers approved for two merchants: {}. Decide which merchant holds each (and correct the other filing's \
             certificate_number), then start again",
            clashes.join(", ")
        )));
    }
    Ok(())
}

async fn insert_licence(db: &SchemaManagerConnection<'_>, approved: &Approved) -> Result<uuid::Uuid, DbErr> {
    let id = uuid::Uuid::now_v7();
    let valid_until: Option<ChronoDate> = (approved.kind == "INSPECTION").then(|| {
        let china = approved.decided_at + chrono_hours(8);
        china.date_naive().checked_add_months(chrono::Months::new(36)).unwrap_or(china.date_naive())
    });
    insert(
        db,
        "licences",
        vec![
            ("id", id.into()),
            ("merchant_id", approved.merchant_id.into()),
            ("kind", approved.kind.clone().into()),
            ("agency", approved.agency.clone().into()),
            ("number", approved.number.clone().into()),
            ("status", "ACTIVE".into()),
            ("issued_at", approved.decided_at.into()),
            ("valid_until", valid_until.into()),
            ("filing_id", approved.filing_id.into()),
            ("version", 1i32.into()),
            ("updated_at", approved.decided_at.into()),
        ],
    )
    .await?;
    event(db, id, approved, "issued").await?;
    Ok(id)
}

fn chrono_hours(hours: i64) -> chrono::Duration {
    chrono::Duration::hours(hours)
}

async fn event(
    db: &SchemaManagerConnection<'_>,
    licence: uuid::Uuid,
    approved: &Approved,
    action: &str,
) -> Result<(), DbErr> {
    insert(
        db,
        "licence_events",
        vec![
            ("id", uuid::Uuid::now_v7().into()),
            ("licence_id", licence.into()),
            ("at", approved.decided_at.into()),
            ("action", action.into()),
            ("note", Option::<String>::None.into()),
            ("filing_id", Some(approved.filing_id).into()),
            ("actor_id", Option::<uuid::Uuid>::None.into()),
        ],
    )
    .await
}

#[derive(DeriveIden)]
enum Licences {
    Table,
    Id,
    MerchantId,
    Kind,
    Agency,
    Number,
    Status,
    IssuedAt,
    ValidUntil,
    FilingId,
    MonthNoticeAt,
    WeekNoticeAt,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LicenceEvents {
    Table,
    Id,
    LicenceId,
    At,
    Action,
    Note,
    FilingId,
    ActorId,
}

#[derive(DeriveIden)]
enum Filings {
    Table,
    LicenceId,
}
