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
/// Every statement passes `platform::writes`, which drops kept `scopes` on access writes.
pub async fn connect(
    config: &Config,
    statements: Arc<AtomicU64>,
    scopes: Arc<crate::services::access::KnownScopes>,
) -> anyhow::Result<DatabaseConnection> {
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
    if !is_sqlite && plain_on_this_host(url) {
        options.map_sqlx_postgres_opts(|o| o.ssl_mode(sea_orm::sqlx::postgres::PgSslMode::Disable));
    }
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
    db.set_metric_callback(move |info| {
        statements.fetch_add(1, Ordering::Relaxed);
        // An access write drops this instance's kept scopes as the operation returns.
        crate::platform::writes::note_statement(&info.statement.sql, &scopes);
        metrics::counter!("onestop_sql_statements_total").increment(1);
        #[cfg(feature = "otlp")]
        crate::platform::telemetry::otlp::statement_span(&info.statement.sql, info.elapsed, info.failed, system);
    });
    Ok(db)
}

/// Whether to talk to PostgreSQL without TLS: a server on this host (loopback address or Unix
/// socket) when neither the URL nor `PGSSLMODE` asks for a mode. sqlx's default, `prefer`,
/// encrypts every statement to a server that holds a certificate, even over loopback, where it
/// protects nothing: that cost the review queue ≈ 20 % of its server CPU (issue 15). Any
/// `sslmode` in the URL is honoured as written.
fn plain_on_this_host(url: &str) -> bool {
    let asks_for_mode = url
        .split_once('?')
        .is_some_and(|(_, query)| query.split('&').any(|pair| pair.to_ascii_lowercase().starts_with("sslmode=")));
    if asks_for_mode || std::env::var_os("PGSSLMODE").is_some() {
        return false;
    }
    let Ok(options) = url.parse::<sea_orm::sqlx::postgres::PgConnectOptions>() else { return false };
    let host = options.get_host().trim_start_matches('[').trim_end_matches(']');
    host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
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

#[cfg(test)]
mod tests {
    use super::plain_on_this_host;

    #[test]
    fn tls_is_left_out_only_on_this_host_and_only_unless_asked_for() {
        assert!(plain_on_this_host("postgres://postgres@127.0.0.1:5432/onestop"));
        assert!(plain_on_this_host("postgres://u:p@localhost/onestop?application_name=x"));
        assert!(plain_on_this_host("postgres://u@[::1]:5432/onestop"));
        assert!(!plain_on_this_host("postgres://u@db.internal:5432/onestop"));
        assert!(!plain_on_this_host("postgres://u@10.0.0.5/onestop"));
        assert!(!plain_on_this_host("postgres://u@127.0.0.1/onestop?sslmode=require"));
        assert!(!plain_on_this_host("postgres://u@127.0.0.1/onestop?application_name=x&SSLMODE=prefer"));
    }
}
