//! The databases tests run on: each backend, a database per test (cloned from the migrated
//! template), and the PostgreSQL server's admin connection.

use sea_orm::{ConnectionTrait, Database};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an `async fn(Backend)` test once per database backend, as two test functions.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

fn pg_admin_url() -> String {
    std::env::var("ONESTOP_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The URL of database `name` on the test server.
pub fn pg_url(name: &str) -> String {
    let base = pg_admin_url();
    let server = base.rsplit_once('/').map(|(s, _)| s).unwrap_or(&base);
    format!("{server}/{name}")
}

/// A connection to the test server's `postgres` database. An unreachable server fails the
/// test, unless the developer opted out with `ONESTOP_TEST_SKIP_POSTGRES=1` (never in CI):
/// then `None`, and the test passes with a note.
pub async fn pg_admin() -> Option<sea_orm::DatabaseConnection> {
    match Database::connect(pg_admin_url()).await {
        Ok(db) => Some(db),
        Err(err) if skip_postgres() => {
            eprintln!("SKIPPED: PostgreSQL unreachable ({err}) and ONESTOP_TEST_SKIP_POSTGRES=1");
            None
        }
        Err(err) => panic!(
            "PostgreSQL is unreachable at {} ({err}); start it, or set ONESTOP_TEST_SKIP_POSTGRES=1 to skip the PostgreSQL half",
            pg_admin_url()
        ),
    }
}

fn skip_postgres() -> bool {
    std::env::var("CI").as_deref() != Ok("true") && std::env::var("ONESTOP_TEST_SKIP_POSTGRES").as_deref() == Ok("1")
}

/// A database that exists for one test and is dropped after it.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: tempfile::TempDir,
}

impl TestDb {
    /// An empty database (no tables): for tests of the migrations themselves.
    /// `None` when PostgreSQL is not reachable and the developer opted out of it
    /// (`ONESTOP_TEST_SKIP_POSTGRES=1`); otherwise a missing PostgreSQL fails the test.
    pub async fn create_for_test(backend: Backend) -> Option<Self> {
        Self::create(backend, None).await
    }

    /// A database with every migration applied, cloned from a template migrated once per test
    /// binary build: `CREATE DATABASE … TEMPLATE` on PostgreSQL, a copied file on SQLite.
    pub async fn create_migrated(backend: Backend) -> Option<Self> {
        let template = crate::templates::template(backend).await?;
        Self::create(backend, Some(template)).await
    }

    async fn create(backend: Backend, template: Option<String>) -> Option<Self> {
        let dir = tempfile::tempdir().expect("tempdir");
        match backend {
            Backend::Sqlite => {
                let file = dir.path().join("onestop.db");
                if let Some(template) = template {
                    std::fs::copy(&template, &file).expect("copy the SQLite template");
                }
                Some(Self { url: format!("sqlite://{}?mode=rwc", file.display()), pg_name: None, _dir: dir })
            }
            Backend::Postgres => {
                let admin = pg_admin().await?;
                let name = format!("onestop_test_{}", uuid::Uuid::new_v4().simple());
                let sql = match template {
                    Some(template) => format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""),
                    None => format!("CREATE DATABASE \"{name}\""),
                };
                admin.execute_unprepared(&sql).await.expect("create test database");
                admin.close().await.ok();
                Some(Self { url: pg_url(&name), pg_name: Some(name), _dir: dir })
            }
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }
}

/// Drops a PostgreSQL test database, ending the connections the server still holds.
pub fn drop_pg_database(name: &str) {
    let name = name.to_string();
    let _ = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        if let Ok(runtime) = runtime {
            runtime.block_on(async {
                if let Ok(admin) = Database::connect(pg_admin_url()).await {
                    let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                    admin.close().await.ok();
                }
            });
        }
    })
    .join();
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            drop_pg_database(name);
        }
    }
}
