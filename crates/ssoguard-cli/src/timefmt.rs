//! Dates as RFC 3339 (UTC) and spans as "3 h" / "42 min".

use std::time::{SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Seconds since the epoch, now.
pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `2025-06-01T10:00:00Z`, or a note when the value is out of range.
pub(crate) fn rfc3339(ts: i64) -> String {
    OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{ts} (out of range)"))
}

/// A span: `12 s`, `42 min`, `3 h`, `1 h 5 min`, `2 d`, `2 d 3 h`.
pub(crate) fn span(secs: u64) -> String {
    const MIN: u64 = 60;
    const HOUR: u64 = 3600;
    const DAY: u64 = 86_400;
    if secs < MIN {
        format!("{secs} s")
    } else if secs < HOUR {
        format!("{} min", secs / MIN)
    } else if secs < DAY {
        let (h, m) = (secs / HOUR, (secs % HOUR) / MIN);
        if m == 0 {
            format!("{h} h")
        } else {
            format!("{h} h {m} min")
        }
    } else {
        let (d, h) = (secs / DAY, (secs % DAY) / HOUR);
        if h == 0 {
            format!("{d} d")
        } else {
            format!("{d} d {h} h")
        }
    }
}

/// The span between two timestamps.
pub(crate) fn span_between(a: i64, b: i64) -> String {
    span(a.abs_diff(b))
}

/// `in 42 min`, `3 h ago` or `just now`.
pub(crate) fn relative(ts: i64, now: i64) -> String {
    if ts == now {
        "just now".into()
    } else if ts > now {
        format!("in {}", span_between(ts, now))
    } else {
        format!("{} ago", span_between(ts, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_dates() {
        assert_eq!(span(0), "0 s");
        assert_eq!(span(59), "59 s");
        assert_eq!(span(60 * 42 + 5), "42 min");
        assert_eq!(span(3 * 3600), "3 h");
        assert_eq!(span(3600 + 300), "1 h 5 min");
        assert_eq!(span(2 * 86_400), "2 d");
        assert_eq!(span(2 * 86_400 + 3 * 3600), "2 d 3 h");
        assert_eq!(relative(100, 40), "in 1 min");
        assert_eq!(relative(0, 3 * 3600), "3 h ago");
        assert_eq!(relative(5, 5), "just now");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert!(rfc3339(i64::MAX).contains("out of range"));
    }
}
