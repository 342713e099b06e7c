use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One table for background work (`platform::jobs`): emails first, the other loops next. The
/// outbox's messages become jobs of kind `email` with their ids (a message's id is its
/// Message-ID), states and attempts: pending ones are `QUEUED` at their next attempt (a lease
/// held at the upgrade simply runs out), sent ones `DONE`, failed ones `PARKED`.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(uuid(Jobs::Id).primary_key())
                    .col(string_len(Jobs::Kind, 64))
                    .col(text(Jobs::Payload))
                    .col(string_len(Jobs::State, 32))
                    .col(timestamp_with_time_zone(Jobs::RunAt))
                    .col(integer(Jobs::Attempts))
                    .col(timestamp_with_time_zone_null(Jobs::LeaseUntil))
                    .col(text_null(Jobs::LastError))
                    .col(string_len_null(Jobs::DedupeKey, 200).unique_key())
                    .col(string_len_null(Jobs::OrderingKey, 200))
                    .col(timestamp_with_time_zone(Jobs::CreatedAt))
                    .col(timestamp_with_time_zone_null(Jobs::FinishedAt))
                    .to_owned(),
            )
            .await?;
        // The runner's claim: queued jobs whose time has come and running ones whose lease ran out.
        manager
            .create_index(
                Index::create().name("idx_jobs_due").table(Jobs::Table).col(Jobs::State).col(Jobs::RunAt).to_owned(),
            )
            .await?;
        // A job with an ordering key waits for the earlier unfinished ones with the same key.
        manager
            .create_index(
                Index::create()
                    .name("idx_jobs_ordering")
                    .table(Jobs::Table)
                    .col(Jobs::OrderingKey)
                    .col(Jobs::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO jobs (id, kind, payload, state, run_at, attempts, lease_until, last_error, dedupe_key, ordering_key, created_at, finished_at) \
                 SELECT id, 'email', payload, \
                   CASE status WHEN 'sent' THEN 'DONE' WHEN 'failed' THEN 'PARKED' ELSE 'QUEUED' END, \
                   next_attempt_at, attempts, NULL, last_error, NULL, NULL, created_at, sent_at \
                 FROM outbox_messages",
            )
            .await?;
        manager.drop_table(Table::drop().table(Alias::new("outbox_messages")).to_owned()).await
    }

    /// Back to the outbox: the email jobs become its messages again; other kinds are dropped.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let outbox = Alias::new("outbox_messages");
        let column = |name: &str| Alias::new(name);
        manager
            .create_table(
                Table::create()
                    .table(outbox.clone())
                    .col(uuid(column("id")).primary_key())
                    .col(string_len(column("kind"), 32))
                    .col(text(column("payload")))
                    .col(string_len(column("status"), 16))
                    .col(integer(column("attempts")))
                    .col(timestamp_with_time_zone(column("next_attempt_at")))
                    .col(text_null(column("last_error")))
                    .col(timestamp_with_time_zone(column("created_at")))
                    .col(timestamp_with_time_zone_null(column("sent_at")))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_due")
                    .table(outbox)
                    .col(column("status"))
                    .col(column("next_attempt_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO outbox_messages (id, kind, payload, status, attempts, next_attempt_at, last_error, created_at, sent_at) \
                 SELECT id, 'email', payload, \
                   CASE state WHEN 'DONE' THEN 'sent' WHEN 'PARKED' THEN 'failed' ELSE 'pending' END, \
                   attempts, run_at, last_error, created_at, finished_at \
                 FROM jobs WHERE kind = 'email'",
            )
            .await?;
        manager.drop_table(Table::drop().table(Jobs::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Kind,
    Payload,
    State,
    RunAt,
    Attempts,
    LeaseUntil,
    LastError,
    DedupeKey,
    OrderingKey,
    CreatedAt,
    FinishedAt,
}
