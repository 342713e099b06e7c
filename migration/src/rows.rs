//! Row helpers shared by the data migrations.

use sea_orm::{DatabaseBackend, Statement, Value};
use sea_orm_migration::{SchemaManagerConnection, prelude::*};

/// Inserts one row with bound values (placeholders as the backend writes them).
pub async fn insert(db: &SchemaManagerConnection<'_>, table: &str, row: Vec<(&str, Value)>) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let columns: Vec<&str> = row.iter().map(|(c, _)| *c).collect();
    let marks: Vec<String> = (1..=row.len())
        .map(|i| if backend == DatabaseBackend::Postgres { format!("${i}") } else { "?".into() })
        .collect();
    let sql = format!("INSERT INTO {table} ({}) VALUES ({})", columns.join(", "), marks.join(", "));
    db.execute_raw(Statement::from_sql_and_values(backend, sql, row.into_iter().map(|(_, v)| v))).await.map(drop)
}
