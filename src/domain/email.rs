use std::sync::LazyLock;

use regex::Regex;

use crate::error::AppError;

/// A syntactically plausible email address, trimmed and lower-cased (addresses are compared
/// case-insensitively so `A@x.cn` and `a@x.cn` cannot be two accounts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

// Deliberately simple: one `@`, a dot in the domain, no spaces. Real proof of the address
// is the verification mail.
static EMAIL_SHAPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^[^\s@<>()\[\],;:]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$",
    )
    .expect("static regex")
});

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let value = raw.trim().to_lowercase();
        if value.is_empty() {
            return Err(AppError::validation(field, "is required"));
        }
        if value.len() > 254 {
            return Err(AppError::validation(field, "must be at most 254 characters"));
        }
        if !EMAIL_SHAPE.is_match(&value) {
            return Err(AppError::validation(field, "is not a valid email address"));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@`, which a password must not merely repeat.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
