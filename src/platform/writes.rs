//! Which tables the running operation wrote, seen from the statements themselves: every
//! statement passes the connection's statement callback (`platform::db`), which reads the
//! table an INSERT, UPDATE or DELETE writes. What the server keeps between requests depends
//! on it:
//! - kept scopes (`services::access::known`) are dropped when an operation wrote a table a
//!   scope is read from;
//! - kept answers (`platform::answers`) are dropped when an operation wrote any table an
//!   answer may be read from.
//!
//! Both are dropped as the operation returns (after its commit), so the instance's next
//! request never waits on PostgreSQL's notification of the change.

use std::cell::Cell;

use super::answers::KeptAnswers;

/// What the running operation wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// A table scopes are read from (`access::known::ACCESS_TABLES`).
    pub access: bool,
    /// A table answers may be read from (every table but `answers::UNWATCHED_TABLES`).
    pub data: bool,
}

tokio::task_local! {
    static WRITTEN: Cell<Written>;
}

/// Sees every statement the server runs. In an operation (see `watching`) a write marks the
/// operation; outside one (background workers, tools on the same pool) a data write drops the
/// kept answers at once — the statement has returned, and the PostgreSQL notification that
/// follows its commit drops them again.
pub fn note_statement(sql: &str, answers: &KeptAnswers) {
    let Some(table) = table_written(sql) else { return };
    let access = crate::services::access::known::is_access_table(table);
    let data = super::answers::is_watched(table);
    let marked = WRITTEN.try_with(|written| {
        let was = written.get();
        written.set(Written { access: was.access || access, data: was.data || data });
    });
    if marked.is_err() && data {
        answers.changed();
    }
}

/// Runs an operation; with it, what its statements wrote.
pub async fn watching<F: std::future::Future>(operation: F) -> (F::Output, Written) {
    WRITTEN
        .scope(Cell::new(Written::default()), async {
            let output = operation.await;
            let everything = Written { access: true, data: true };
            (output, WRITTEN.try_with(Cell::get).unwrap_or(everything))
        })
        .await
}

/// The table of `INSERT INTO t`, `UPDATE t`, `DELETE FROM t` (quoted or not); `None` for
/// every other statement.
pub fn table_written(sql: &str) -> Option<&str> {
    let mut words = sql.split_ascii_whitespace();
    let table = match words.next() {
        Some(verb) if verb.eq_ignore_ascii_case("update") => words.next(),
        Some(verb) if verb.eq_ignore_ascii_case("insert") || verb.eq_ignore_ascii_case("delete") => {
            words.next();
            words.next()
        }
        _ => None,
    }?;
    let name = table.split('(').next().unwrap_or(table).trim_matches(|c| c == '"' || c == '`');
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::table_written;

    #[test]
    fn the_written_table_is_read_off_the_statement() {
        assert_eq!(table_written(r#"INSERT INTO "case_shares" ("id", "case_id") VALUES ($1, $2)"#), Some("case_shares"));
        assert_eq!(table_written(r#"UPDATE "users" SET "role" = $1 WHERE "users"."id" = $2"#), Some("users"));
        assert_eq!(table_written("delete from merchant_members where id = ?"), Some("merchant_members"));
        assert_eq!(table_written(r#"INSERT INTO "user_regions"("user_id") VALUES ($1)"#), Some("user_regions"));
        assert_eq!(table_written(r#"SELECT "users"."id" FROM "users""#), None);
        assert_eq!(table_written(r#"UPDATE "filings" SET "assignee_id" = $1"#), Some("filings"));
        assert_eq!(table_written(r#"INSERT INTO "audit_events" ("note") VALUES ('users')"#), Some("audit_events"));
        assert_eq!(table_written(""), None);
    }
}
