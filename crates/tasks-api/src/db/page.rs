//! Where a page of tasks starts: an offset, or after the task a cursor names. Below both the
//! repository and the query parsing (`crate::input`), which read it.

/// Where a page starts.
#[derive(Debug, Clone)]
pub enum PageStart {
    /// Skip this many.
    Offset(i64),
    /// Continue after this (created_at, id).
    After(i64, String),
}

/// Parses a cursor made by [`Task::cursor`](super::Task::cursor): `<micros>_<uuid>`, 1 to 18
/// digits and a lowercase hyphenated UUID, exactly (`crate::input::CURSOR_PATTERN` documents it).
#[must_use]
pub fn parse_cursor(cursor: &str) -> Option<(i64, String)> {
    let (micros, id) = cursor.split_once('_')?;
    let digits = (1..=18).contains(&micros.len()) && micros.bytes().all(|b| b.is_ascii_digit());
    let uuid = id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        });
    if !(digits && uuid) {
        return None;
    }
    Some((micros.parse().ok()?, id.to_string()))
}
