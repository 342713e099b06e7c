//! Database connection with the settings that matter for speed and robustness.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

use crate::config::Config;

/// Connects; `statements` counts every SQL statement the connection runs (exported as a
/// metric, and used by tests to prove queries stay bounded).
pub async fn connect(config: &Config, statements: Arc<AtomicU64>) -> anyhow::Result<DatabaseConnection> {
    let url = &config.database_url;
    let is_sqlite = url.starts_with("sqlite:");
    let mut options = ConnectOptions::new(url.clone());
    options
        // Every statement at INFO drowns the log and costs time; slow ones still show.
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(config.db_acquire_timeout)
        // A ping on every checkout doubles round trips; only ping connections idle a while.
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .max_connections(config.db_max_connections);
    let busy_timeout = config.sqlite_busy_timeout;
    if is_sqlite {
        options.map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(busy_timeout)
                .foreign_keys(true)
        });
    }
    let mut db = Database::connect(options).await?;
    #[cfg(feature = "otlp")]
    let system = if is_sqlite { "sqlite" } else { "postgresql" };
    db.set_metric_callback(move |_info| {
        statements.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("onestop_sql_statements_total").increment(1);
        #[cfg(feature = "otlp")]
        crate::platform::telemetry::otlp::statement_span(&_info.statement.sql, _info.elapsed, _info.failed, system);
    });
    Ok(db)
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await?;
    Ok(())
}

/// Begins a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`: the write lock is
/// taken up front, so concurrent writers queue on the busy timeout instead of failing with
/// "database is locked" when a read snapshot tries to upgrade. Readers are not blocked (WAL).
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}
