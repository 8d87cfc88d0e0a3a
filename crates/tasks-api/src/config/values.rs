//! What the variables are read into, shared by every part of the configuration (this module,
//! [`crate::api_keys`], [`crate::sessions`]): the redacting [`Secret`], durations, and
//! [`ConfigError`]. It imports nothing from them.

use std::fmt;
use std::time::Duration;

/// A string that must not appear in logs. `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that needs it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A configuration value is missing or invalid.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error(
        "{0} is required: set it to the OAuth client id your tokens are issued for (the `aud` claim), or run with --dev"
    )]
    Missing(&'static str),
    /// A variable has a value that cannot be used.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Why.
        reason: String,
    },
}

/// Parses `3600`, `45s`, `30m`, `1h`, `2d`.
pub fn parse_duration(value: &str) -> Option<Duration> {
    let value = value.trim();
    let (number, unit) = match value.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => value.split_at(i),
        None => (value, "s"),
    };
    let n: u64 = number.parse().ok()?;
    let secs = match unit.trim() {
        "s" | "" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// A switch variable: unset, `0` or `false` is off; `1` or `true` is on; anything else is an
/// error naming `name` (the value is repeated: switches hold no secret).
///
/// # Errors
///
/// [`ConfigError::Invalid`] for any other value.
pub fn parse_switch(name: &'static str, value: Option<&str>) -> Result<bool, ConfigError> {
    match value.map(str::trim) {
        None | Some("0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(other) => Err(ConfigError::Invalid {
            name,
            reason: format!("\"{other}\" (use 1 or 0)"),
        }),
    }
}
