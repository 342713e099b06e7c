//! Template databases: the migrations run once per test binary build and backend, and every
//! test starts from a clone (a `CREATE DATABASE … TEMPLATE` on PostgreSQL, a copied file on
//! SQLite) instead of running all of them again.
//!
//! A template is named after the test binary (its size and modification time), so a rebuilt
//! binary — with changed migrations, say — never starts from an older schema. It is built under
//! a temporary name and renamed when complete: a crashed run leaves no half-migrated template,
//! and two test processes of one build may both build one, the second rename losing harmlessly.

use std::hash::{Hash, Hasher};

use sea_orm::{ConnectionTrait, Database};
use tokio::sync::OnceCell;

use crate::helpers::{Backend, pg_admin, pg_url};

static SQLITE: OnceCell<String> = OnceCell::const_new();
static POSTGRES: OnceCell<Option<String>> = OnceCell::const_new();

/// The template of `backend`: a file path on SQLite, a database name on PostgreSQL; `None`
/// when PostgreSQL is skipped (see `pg_admin`).
pub async fn template(backend: Backend) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(SQLITE.get_or_init(sqlite_template).await.clone()),
        Backend::Postgres => POSTGRES.get_or_init(postgres_template).await.clone(),
    }
}

/// Identifies this test binary's build.
fn build_tag() -> String {
    let exe = std::env::current_exe().expect("test binary path");
    let meta = std::fs::metadata(&exe).expect("test binary metadata");
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    meta.len().hash(&mut hasher);
    meta.modified().ok().hash(&mut hasher);
    exe.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

async fn migrate(url: &str) {
    let db = Database::connect(url).await.expect("connect to the template");
    onestop::platform::db::migrate(&db).await.expect("migrate the template");
    db.close().await.expect("close the template");
}

async fn sqlite_template() -> String {
    let dir = std::env::temp_dir().join("onestop-test-templates");
    std::fs::create_dir_all(&dir).expect("template directory");
    let path = dir.join(format!("{}.db", build_tag()));
    if !path.exists() {
        let building = dir.join(format!("building-{}.db", uuid::Uuid::new_v4().simple()));
        migrate(&format!("sqlite://{}?mode=rwc", building.display())).await;
        std::fs::rename(&building, &path).expect("publish the SQLite template");
        remove_older_sqlite_templates(&dir, &path);
    }
    path.display().to_string()
}

/// Templates of earlier builds are not needed again (a few kB each, but they add up).
fn remove_older_sqlite_templates(dir: &std::path::Path, keep: &std::path::Path) {
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let old = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < an_hour_ago);
        if entry.path() != keep && old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

async fn postgres_template() -> Option<String> {
    let admin = pg_admin().await?;
    let name = format!("onestop_template_{}", build_tag());
    if !database_exists(&admin, &name).await {
        let building = format!("onestop_building_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{building}\""))
            .await
            .expect("create the template database");
        migrate(&pg_url(&building)).await;
        let renamed = admin.execute_unprepared(&format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\"")).await;
        if renamed.is_err() {
            // Another test process of this build published it first.
            let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{building}\"")).await;
        }
        drop_older_pg_templates(&admin, &name).await;
    }
    admin.close().await.ok();
    Some(name)
}

async fn database_exists(admin: &sea_orm::DatabaseConnection, name: &str) -> bool {
    let statement = sea_orm::Statement::from_sql_and_values(
        sea_orm::DatabaseBackend::Postgres,
        "SELECT 1 FROM pg_database WHERE datname = $1",
        [name.into()],
    );
    admin.query_one_raw(statement).await.expect("read pg_database").is_some()
}

/// Templates of earlier builds, and templates a crashed run left half-built. A template in
/// use (being cloned or built by another process right now) refuses to be dropped; it is
/// tried again on a later build.
async fn drop_older_pg_templates(admin: &sea_orm::DatabaseConnection, keep: &str) {
    let statement = sea_orm::Statement::from_string(
        sea_orm::DatabaseBackend::Postgres,
        "SELECT datname FROM pg_database WHERE datname LIKE 'onestop\\_template\\_%' \
         OR (datname LIKE 'onestop\\_building\\_%' AND NOT EXISTS \
             (SELECT 1 FROM pg_stat_activity a WHERE a.datname = pg_database.datname))",
    );
    let rows = admin.query_all_raw(statement).await.unwrap_or_default();
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else { continue };
        if name != keep {
            let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\"")).await;
        }
    }
}
