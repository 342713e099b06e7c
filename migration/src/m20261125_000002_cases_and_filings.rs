use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Merchants::Table)
                    .col(uuid(Merchants::Id).primary_key())
                    .col(uuid_uniq(Merchants::OwnerUserId))
                    .col(string_len(Merchants::Name, 200))
                    .col(string_len_null(Merchants::Uscc, 18).unique_key())
                    .col(string_len(Merchants::RegionCode, 6))
                    .col(string_len(Merchants::Address, 300))
                    .col(string_len(Merchants::ContactEmail, 254))
                    .col(string_len(Merchants::ContactPhone, 32))
                    .col(text(Merchants::StoreUrls))
                    .col(text(Merchants::Categories))
                    .col(integer(Merchants::RiskLevel))
                    .col(timestamp_with_time_zone(Merchants::CreatedAt))
                    .col(timestamp_with_time_zone(Merchants::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create().from(Merchants::Table, Merchants::OwnerUserId).to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Cases::Table)
                    .col(uuid(Cases::Id).primary_key())
                    .col(string_len_uniq(Cases::Reference, 32))
                    .col(uuid(Cases::MerchantId))
                    .col(string_len(Cases::RegionCode, 6))
                    .col(string_len(Cases::Status, 32))
                    .col(timestamp_with_time_zone(Cases::CreatedAt))
                    .col(timestamp_with_time_zone_null(Cases::SubmittedAt))
                    .col(timestamp_with_time_zone(Cases::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create().from(Cases::Table, Cases::MerchantId).to(Merchants::Table, Merchants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // A merchant's case list, newest first (ids are time-ordered UUID v7).
        index(manager, "idx_cases_merchant", Cases::Table, &[Cases::MerchantId, Cases::Id]).await?;

        manager
            .create_table(
                Table::create()
                    .table(CaseCounters::Table)
                    .col(string_len(CaseCounters::RegionCode, 6))
                    .col(integer(CaseCounters::Year))
                    .col(big_integer(CaseCounters::LastValue))
                    .primary_key(Index::create().col(CaseCounters::RegionCode).col(CaseCounters::Year))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Filings::Table)
                    .col(uuid(Filings::Id).primary_key())
                    .col(uuid(Filings::CaseId))
                    .col(string_len(Filings::Kind, 16))
                    .col(string_len(Filings::Agency, 32))
                    .col(string_len(Filings::Status, 32))
                    .col(integer(Filings::Version))
                    .col(string_len(Filings::RegionCode, 6))
                    .col(text_null(Filings::Data))
                    .col(uuid_null(Filings::AssigneeId))
                    .col(timestamp_with_time_zone_null(Filings::DueAt))
                    .col(big_integer_null(Filings::PausedRemainingSecs))
                    .col(text_null(Filings::DecisionNote))
                    .col(string_len_null(Filings::CertificateNumber, 32))
                    .col(string_len_null(Filings::Uscc, 18))
                    .col(timestamp_with_time_zone_null(Filings::SubmittedAt))
                    .col(timestamp_with_time_zone_null(Filings::DecidedAt))
                    .col(timestamp_with_time_zone(Filings::CreatedAt))
                    .col(timestamp_with_time_zone(Filings::UpdatedAt))
                    .foreign_key(ForeignKey::create().from(Filings::Table, Filings::CaseId).to(Cases::Table, Cases::Id))
                    .foreign_key(
                        ForeignKey::create().from(Filings::Table, Filings::AssigneeId).to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // A case's filings, and "does this case hold a filing of agency A in region R" (the
        // visibility probe): with all three columns the planner never prefers the queue index.
        index(manager, "idx_filings_case", Filings::Table, &[Filings::CaseId, Filings::Agency, Filings::RegionCode])
            .await?;
        // The review queue: one agency's filings in some regions, soonest deadline first,
        // keyset-paginated on (due_at, id).
        index(
            manager,
            "idx_filings_queue",
            Filings::Table,
            &[Filings::Agency, Filings::RegionCode, Filings::DueAt, Filings::Id],
        )
        .await?;
        index(manager, "idx_filings_assignee", Filings::Table, &[Filings::AssigneeId]).await?;
        // Certificate look-ups (`/c/{number}`). Not unique: a taxpayer id is the USCC, shared
        // by every TAX approval of one merchant; generated numbers are checked in code.
        index(manager, "idx_filings_certificate", Filings::Table, &[Filings::CertificateNumber]).await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(uuid(AuditEvents::Id).primary_key())
                    .col(uuid(AuditEvents::CaseId))
                    .col(big_integer(AuditEvents::Seq))
                    .col(timestamp_with_time_zone(AuditEvents::At))
                    .col(uuid_null(AuditEvents::ActorId))
                    .col(string_len(AuditEvents::Action, 64))
                    .col(uuid_null(AuditEvents::FilingId))
                    .col(string_len_null(AuditEvents::FromStatus, 32))
                    .col(string_len_null(AuditEvents::ToStatus, 32))
                    .col(text_null(AuditEvents::Note))
                    .col(string_len(AuditEvents::PrevHash, 64))
                    .col(string_len(AuditEvents::Hash, 64))
                    .foreign_key(
                        ForeignKey::create().from(AuditEvents::Table, AuditEvents::CaseId).to(Cases::Table, Cases::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_audit_events_case_seq")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::CaseId)
                    .col(AuditEvents::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Comments::Table)
                    .col(uuid(Comments::Id).primary_key())
                    .col(uuid(Comments::CaseId))
                    .col(uuid_null(Comments::FilingId))
                    .col(uuid(Comments::AuthorId))
                    .col(text(Comments::Body))
                    .col(timestamp_with_time_zone(Comments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create().from(Comments::Table, Comments::CaseId).to(Cases::Table, Cases::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_comments_case", Comments::Table, &[Comments::CaseId]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Comments::Table.into_iden(),
            AuditEvents::Table.into_iden(),
            Filings::Table.into_iden(),
            CaseCounters::Table.into_iden(),
            Cases::Table.into_iden(),
            Merchants::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

async fn index<T: Iden + Clone + 'static, C: Iden + Clone + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    columns: &[C],
) -> Result<(), DbErr> {
    let mut statement = Index::create();
    statement.name(name).table(table);
    for column in columns {
        statement.col(column.clone());
    }
    manager.create_index(statement.to_owned()).await
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden, Clone)]
enum Merchants {
    Table,
    Id,
    OwnerUserId,
    Name,
    Uscc,
    RegionCode,
    Address,
    ContactEmail,
    ContactPhone,
    StoreUrls,
    Categories,
    RiskLevel,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone)]
enum Cases {
    Table,
    Id,
    Reference,
    MerchantId,
    RegionCode,
    Status,
    CreatedAt,
    SubmittedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone)]
enum CaseCounters {
    Table,
    RegionCode,
    Year,
    LastValue,
}

#[derive(DeriveIden, Clone)]
enum Filings {
    Table,
    Id,
    CaseId,
    Kind,
    Agency,
    Status,
    Version,
    RegionCode,
    Data,
    AssigneeId,
    DueAt,
    PausedRemainingSecs,
    DecisionNote,
    CertificateNumber,
    Uscc,
    SubmittedAt,
    DecidedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone)]
enum AuditEvents {
    Table,
    Id,
    CaseId,
    Seq,
    At,
    ActorId,
    Action,
    FilingId,
    FromStatus,
    ToStatus,
    Note,
    PrevHash,
    Hash,
}

#[derive(DeriveIden, Clone)]
enum Comments {
    Table,
    Id,
    CaseId,
    FilingId,
    AuthorId,
    Body,
    CreatedAt,
}
