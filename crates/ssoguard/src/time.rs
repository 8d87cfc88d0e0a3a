//! The wall clock as JWT `NumericDate`s (whole seconds since the Unix epoch).
//!
//! One function, used by the claim checks, introspection and the test issuer, so every part of
//! the library reads the clock the same way: a clock before 1970 reads as 0, one past the year
//! 292 billion as `i64::MAX`; neither panics.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
