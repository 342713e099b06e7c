//! The one error type of the services and its single mapping to GraphQL `extensions.code`.
//! Internal errors are logged in full (inside the request's span, which carries the request
//! id) and reach the client masked.

use async_graphql::ErrorExtensions;
use serde::Serialize;

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Deliberately not `Display`: async-graphql converts any `Display` error into a GraphQL error
/// without a code, and `?` would silently pick that conversion. Without `Display`, our own
/// `From<AppError>` (which sets `extensions.code`) is the only one.
#[derive(Debug)]
pub enum AppError {
    Unauthenticated(String),
    Forbidden(String),
    NotFound(String),
    Validation(Vec<FieldError>),
    InvalidTransition(String),
    VersionConflict(String),
    DependencyNotMet(String),
    RateLimited {
        retry_after_secs: u64,
    },
    Conflict(String),
    /// The database (or another dependency) cannot be reached right now.
    Unavailable(String),
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        Self::Internal(err)
    }
}

fn summarize(fields: &[FieldError]) -> String {
    fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
}

pub type AppResult<T> = Result<T, AppError>;

/// What SERVICE_UNAVAILABLE answers advise (`extensions.retryAfter` and the `Retry-After`
/// header): a busy lock or a full queue clears within a second or two.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 1;

/// Collects every validation problem of an input instead of stopping at the first, so one
/// `VALIDATION` error can list all the offending fields.
#[derive(Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    /// The value, or (recording the problem) `None`.
    pub fn check<T>(&mut self, result: AppResult<T>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(AppError::Validation(fields)) => {
                self.0.extend(fields);
                None
            }
            Err(other) => {
                self.0.push(FieldError::new("input", other.message()));
                None
            }
        }
    }

    /// The value, or (recording the problem) its default, for inputs checked field by field.
    pub fn take<T: Default>(&mut self, result: AppResult<T>) -> T {
        self.check(result).unwrap_or_default()
    }

    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded, else one `VALIDATION` error listing everything.
    pub fn finish<T>(self, value: T) -> AppResult<T> {
        if self.0.is_empty() { Ok(value) } else { Err(AppError::Validation(self.0)) }
    }
}

impl AppError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// The message a client sees (internal details are never part of it).
    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated(m)
            | Self::Forbidden(m)
            | Self::InvalidTransition(m)
            | Self::VersionConflict(m)
            | Self::DependencyNotMet(m)
            | Self::Conflict(m) => m.clone(),
            Self::NotFound(what) => format!("{what} not found"),
            Self::Validation(fields) => format!("invalid input: {}", summarize(fields)),
            Self::RateLimited { retry_after_secs } => {
                format!("too many requests, retry in {retry_after_secs} s")
            }
            Self::Unavailable(_) => "service temporarily unavailable, retry shortly".into(),
            Self::Internal(_) => "internal error".into(),
        }
    }

    /// For logs and the CLI: the message plus internal detail.
    pub fn detail(&self) -> String {
        match self {
            Self::Internal(e) => format!("internal error: {e:#}"),
            Self::Unavailable(e) => format!("unavailable: {e}"),
            other => other.message(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Validation(_) => "VALIDATION",
            Self::InvalidTransition(_) => "INVALID_TRANSITION",
            Self::VersionConflict(_) => "VERSION_CONFLICT",
            Self::DependencyNotMet(_) => "DEPENDENCY_NOT_MET",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::Conflict(_) => "CONFLICT",
            Self::Unavailable(_) => "SERVICE_UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        // A pool that cannot hand out a connection means the database is down or saturated:
        // say so (the client may retry) rather than calling it an internal bug.
        if database_unreachable(&err) {
            tracing::error!(error = %err, "database unavailable");
            return Self::Unavailable(err.to_string());
        }
        Self::Internal(err.into())
    }
}

/// Errors that mean "the database is not there right now" rather than "this statement is
/// wrong": no connection to be had, a connection that broke mid-statement, or a server that
/// is shutting down or starting up (SQLSTATE class 08, 57P01–57P03).
fn database_unreachable(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, sqlx::Error as SqlxError};
    let runtime = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
        _ => return false,
    };
    let RuntimeErr::SqlxError(sqlx) = runtime else { return false };
    match sqlx.as_ref() {
        SqlxError::Io(_) | SqlxError::PoolTimedOut | SqlxError::PoolClosed | SqlxError::WorkerCrashed => true,
        SqlxError::Protocol(_) | SqlxError::Tls(_) => true,
        SqlxError::Database(db) => {
            // PostgreSQL: 08 connection exceptions; 57P01–03 shutting down or starting; 53300
            // too many connections. SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6), in any of
            // their extended forms — another writer held the lock past the busy timeout.
            let sqlite = db.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>().is_some();
            db.code().is_some_and(|code| match sqlite {
                true => code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6)),
                false => code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300"),
            })
        }
        _ => false,
    }
}

/// A unique constraint a service turns into a domain error, as each database names it in its
/// error message (SQLite lists the columns, PostgreSQL names the constraint or index).
#[derive(Clone, Copy, Debug)]
pub struct Unique {
    sqlite: &'static str,
    postgres: &'static str,
}

impl Unique {
    pub const USER_EMAIL: Self = Self { sqlite: "users.email", postgres: "users_email_key" };
    pub const MERCHANT_USCC: Self = Self { sqlite: "merchants.uscc", postgres: "merchants_uscc_key" };
    pub const BATCH_NUMBER: Self = Self {
        sqlite: "product_batches.merchant_id, product_batches.batch_number",
        postgres: "uq_product_batches_merchant_batch",
    };
    pub const GTIN_BATCH: Self = Self {
        sqlite: "product_batches.gtin, product_batches.batch_number",
        postgres: "uq_product_batches_gtin_batch",
    };
    pub const CERTIFICATE_NUMBER: Self =
        Self { sqlite: "filings.kind, filings.certificate_number", postgres: "uq_filings_certificate_number" };

    fn violated_by(self, err: &sea_orm::DbErr) -> bool {
        match err.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(message)) => {
                message.contains(self.sqlite) || message.contains(self.postgres)
            }
            _ => false,
        }
    }
}

/// `result.on_unique(Unique::MERCHANT_USCC, || AppError::Conflict(…))`: a violation of that
/// constraint becomes the caller's domain error at the call site, relying on the database's
/// constraint instead of a look-up before the write (after realworld-axum-sqlx's
/// `on_constraint`). Any other error passes on as usual.
pub trait OnUnique<T> {
    fn on_unique(self, constraint: Unique, error: impl FnOnce() -> AppError) -> AppResult<T>;
}

impl<T> OnUnique<T> for Result<T, sea_orm::DbErr> {
    fn on_unique(self, constraint: Unique, error: impl FnOnce() -> AppError) -> AppResult<T> {
        self.map_err(|err| if constraint.violated_by(&err) { error() } else { err.into() })
    }
}

/// Whether a database error is a violation of `constraint` (for retry loops).
pub fn violates(err: &sea_orm::DbErr, constraint: Unique) -> bool {
    constraint.violated_by(err)
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        err.extend()
    }
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        if let Self::Internal(inner) = self {
            tracing::error!(error = ?inner, "internal error");
        }
        let message = self.message();
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", self.code());
            match self {
                Self::Validation(fields) => {
                    let list: Vec<async_graphql::Value> = fields
                        .iter()
                        .map(|f| {
                            let mut obj = async_graphql::indexmap::IndexMap::new();
                            obj.insert(async_graphql::Name::new("field"), async_graphql::Value::from(f.field.clone()));
                            obj.insert(
                                async_graphql::Name::new("message"),
                                async_graphql::Value::from(f.message.clone()),
                            );
                            async_graphql::Value::Object(obj)
                        })
                        .collect();
                    ext.set("fields", async_graphql::Value::List(list));
                }
                Self::RateLimited { retry_after_secs } => {
                    ext.set("retryAfter", *retry_after_secs);
                }
                Self::Unavailable(_) => {
                    ext.set("retryAfter", UNAVAILABLE_RETRY_AFTER_SECS);
                }
                _ => {}
            }
        })
    }
}
