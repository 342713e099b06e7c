//! Relay-style keyset pagination: opaque cursors that name the last row seen, so pages stay
//! stable while rows are inserted and cost the same deep in the list as on page one.

use base64::Engine;

use crate::error::{AppError, AppResult};

pub const DEFAULT_PAGE: u64 = 20;
pub const MAX_PAGE: u64 = 100;

pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next: bool,
    pub has_previous: bool,
}

/// `first` must be 1..=100 (default 20).
pub fn page_size(first: Option<i32>) -> AppResult<u64> {
    match first {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE as i32).contains(&n) => Ok(n as u64),
        Some(_) => Err(AppError::validation("first", format!("must be between 1 and {MAX_PAGE}"))),
    }
}

pub fn encode_cursor(raw: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_bytes())
}

pub fn decode_cursor(cursor: &str) -> AppResult<String> {
    let invalid = || AppError::validation("after", "is not a cursor from this list");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor.as_bytes()).map_err(|_| invalid())?;
    String::from_utf8(bytes).map_err(|_| invalid())
}

/// Splits a fetched `limit + 1` rows into a page.
impl<T> Page<T> {
    /// The page of the first parts, and the other two parts of every item.
    pub fn split<A, B, C>(self, parts: impl Fn(T) -> (A, B, C)) -> (Page<A>, Vec<B>, Vec<C>) {
        let (mut firsts, mut seconds, mut thirds) = (Vec::new(), Vec::new(), Vec::new());
        for item in self.items {
            let (a, b, c) = parts(item);
            firsts.push(a);
            seconds.push(b);
            thirds.push(c);
        }
        (Page { items: firsts, has_next: self.has_next, has_previous: self.has_previous }, seconds, thirds)
    }
}

pub fn into_page<T>(mut rows: Vec<T>, limit: u64, had_cursor: bool) -> Page<T> {
    let has_next = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    Page { items: rows, has_next, has_previous: had_cursor }
}
