//! Which tables the running operation wrote, seen from the statements themselves: every
//! statement passes the connection's statement callback (`platform::db`), which reads the
//! table an INSERT, UPDATE or DELETE writes. Kept scopes (`services::access::known`) are
//! dropped when an operation wrote a table a scope is read from — as the operation ends
//! (after its commit), so the instance's next request never waits on PostgreSQL's
//! notification of the change.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
};

/// What the running operation wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// A table scopes are read from (`access::known::ACCESS_TABLES`).
    pub access: bool,
}

impl Written {
    const ACCESS: u8 = 1;

    fn from_bits(bits: u8) -> Self {
        Self { access: bits & Self::ACCESS != 0 }
    }
}

tokio::task_local! {
    static WRITTEN: Arc<AtomicU8>;
}

/// Sees every statement the server runs. In an operation (see `watching`) an access write
/// marks the operation; outside one (background workers, tools on the same pool) it drops the
/// kept scopes at once, as the statement has returned; the PostgreSQL notification that
/// follows its commit drops them again (a read between a worker's statement and its commit
/// may still use them until then).
pub fn note_statement(sql: &str, scopes: &crate::services::access::KnownScopes) {
    let Some(table) = table_written(sql) else { return };
    if !crate::services::access::known::is_access_table(table) {
        return;
    }
    let marked = WRITTEN.try_with(|written| written.fetch_or(Written::ACCESS, Ordering::AcqRel));
    if marked.is_err() {
        scopes.changed();
    }
}

/// Runs an operation; with it, what its statements wrote. `changed` is told what was written
/// as the operation ends — also when it is dropped half-way (a client that went away after
/// the commit), so what the instance keeps never outlives a committed write.
pub async fn watching<F: Future, C: FnOnce(Written)>(operation: F, changed: C) -> (F::Output, Written) {
    struct Tell<C: FnOnce(Written)>(Arc<AtomicU8>, Option<C>);
    impl<C: FnOnce(Written)> Drop for Tell<C> {
        fn drop(&mut self) {
            if let Some(changed) = self.1.take() {
                changed(Written::from_bits(self.0.load(Ordering::Acquire)));
            }
        }
    }
    let written = Arc::new(AtomicU8::new(0));
    let _tell = Tell(written.clone(), Some(changed));
    let output = WRITTEN.scope(written.clone(), operation).await;
    (output, Written::from_bits(written.load(Ordering::Acquire)))
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
    use std::{sync::Mutex, time::Duration};

    use super::{Written, note_statement, table_written, watching};

    #[tokio::test]
    async fn what_an_operation_wrote_is_told_when_it_ends_or_is_dropped() {
        let scopes = crate::services::access::KnownScopes::default();
        let told = Mutex::new(Vec::new());
        let tell = |w: Written| told.lock().expect("lock").push(w);
        let (_, written) =
            watching(async { note_statement(r#"INSERT INTO "users" ("id") VALUES ($1)"#, &scopes) }, tell).await;
        assert_eq!(written, Written { access: true });

        let stuck = async {
            note_statement(r#"UPDATE "filings" SET "version" = $1"#, &scopes);
            note_statement(r#"INSERT INTO "user_regions" ("user_id") VALUES ($1)"#, &scopes);
            std::future::pending::<()>().await;
        };
        assert!(tokio::time::timeout(Duration::from_millis(10), watching(stuck, tell)).await.is_err());
        let told = told.lock().expect("lock").clone();
        assert_eq!(told, [Written { access: true }, Written { access: true }]);
    }

    /// A write outside any operation (a worker's, a tool's on the server's pool) drops what it
    /// may change at once, without waiting for PostgreSQL's notification: the kept scopes for
    /// an access table (they were dropped only by the notification before: a read in between
    /// ran on the old scope), not for another table.
    #[test]
    fn a_write_outside_an_operation_drops_the_kept_scopes_at_once() {
        let scopes = crate::services::access::KnownScopes::default();
        scopes.listening(true);
        let user = uuid::Uuid::from_u128(7);
        let keep = || {
            scopes
                .keep(&crate::services::access::Scope::Admin { user_id: user }, scopes.generation().expect("listening"))
        };
        keep();
        note_statement(r#"UPDATE "filings" SET "version" = $1"#, &scopes);
        assert!(scopes.get(user).is_some(), "a filing is not access");
        note_statement("DELETE FROM user_regions WHERE user_id = '7'", &scopes);
        assert!(scopes.get(user).is_none(), "an access table written outside an operation drops the scopes");
    }

    #[test]
    fn the_written_table_is_read_off_the_statement() {
        assert_eq!(
            table_written(r#"INSERT INTO "case_shares" ("id", "case_id") VALUES ($1, $2)"#),
            Some("case_shares")
        );
        assert_eq!(table_written(r#"UPDATE "users" SET "role" = $1 WHERE "users"."id" = $2"#), Some("users"));
        assert_eq!(table_written("delete from merchant_members where id = ?"), Some("merchant_members"));
        assert_eq!(table_written(r#"INSERT INTO "user_regions"("user_id") VALUES ($1)"#), Some("user_regions"));
        assert_eq!(table_written(r#"SELECT "users"."id" FROM "users""#), None);
        assert_eq!(table_written(r#"UPDATE "filings" SET "assignee_id" = $1"#), Some("filings"));
        assert_eq!(table_written(r#"INSERT INTO "audit_events" ("note") VALUES ('users')"#), Some("audit_events"));
        assert_eq!(table_written(""), None);
    }
}
