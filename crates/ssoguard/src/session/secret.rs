//! The Better Auth secret (`BETTER_AUTH_SECRET`), the key of every session-cookie HMAC.
//!
//! Whoever holds it can mint a session cookie for any session token they know, so it lives in
//! a type that never shows it: `Debug` and `Display` print `[redacted]`, it is never logged, and
//! it is refused when shorter than Better Auth's minimum (32 characters) or equal to Better
//! Auth's public default.

use crate::error::ConfigError;
use std::fmt;

/// Better Auth's minimum secret length (it warns below it; ssoguard refuses).
pub const MIN_SECRET_LEN: usize = 32;

/// The secret Better Auth falls back to when none is configured: public, so never a key.
const BETTER_AUTH_DEFAULT_SECRET: &str = "better-auth-secret-12345678901234567890";

/// The secret Better Auth signs session cookies with. `Debug`/`Display`: `[redacted]`.
///
/// Better Auth 1.7 also has secret rotation (`BETTER_AUTH_SECRETS="2:new,1:old"`, or the
/// `secrets` option): the first entry is the current secret, and it is the only one Better Auth
/// signs **and checks** session cookies with (older ones only decrypt data encrypted before
/// the rotation). [`SessionSecret::from_versioned`] reads that form and keeps the current
/// secret, so a cookie signed with an older secret is refused here as Better Auth refuses it.
///
/// # Example
///
/// ```
/// use ssoguard::session::SessionSecret;
///
/// let secret = SessionSecret::new("0123456789abcdef0123456789abcdef-app-secret")?;
/// assert_eq!(format!("{secret:?}"), "[redacted]");
/// assert!(SessionSecret::new("too-short").is_err());
///
/// let rotated = SessionSecret::from_versioned("2:new-secret-0123456789abcdef0123456789, 1:old-secret-0123456789abcdef01234567")?;
/// assert_eq!(rotated.version(), Some(2));
/// # Ok::<(), ssoguard::ConfigError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSecret {
    value: Box<str>,
    version: Option<u32>,
}

impl SessionSecret {
    /// The secret as `BETTER_AUTH_SECRET` holds it.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidSetting`] (`secret`) when it is shorter than 32 characters or is
    /// Better Auth's public default. The message never contains the secret.
    pub fn new(value: impl Into<String>) -> Result<Self, ConfigError> {
        let value: String = value.into();
        Self::checked(value.trim().to_owned(), None)
    }

    /// The current secret of a rotation list as `BETTER_AUTH_SECRETS` holds it
    /// (`<version>:<secret>` entries, comma-separated, the current one first).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidSetting`] for an entry without a version, a version that is not a
    /// non-negative integer, an empty list, or a current secret refused by [`new`](Self::new).
    pub fn from_versioned(list: &str) -> Result<Self, ConfigError> {
        let invalid = |reason: &str| ConfigError::InvalidSetting {
            setting: "secrets",
            reason: reason.into(),
        };
        let first = list
            .split(',')
            .map(str::trim)
            .find(|e| !e.is_empty())
            .ok_or_else(|| invalid("no secret listed"))?;
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (version, value) = entry
                .split_once(':')
                .ok_or_else(|| invalid("entries are <version>:<secret>"))?;
            version
                .trim()
                .parse::<u32>()
                .map_err(|_| invalid("a version is not a non-negative integer"))?;
            if value.trim().is_empty() {
                return Err(invalid("a secret is empty"));
            }
        }
        let (version, value) = first
            .split_once(':')
            .ok_or_else(|| invalid("entries are <version>:<secret>"))?;
        let version = version.trim().parse::<u32>().ok();
        Self::checked(value.trim().to_owned(), version)
    }

    fn checked(value: String, version: Option<u32>) -> Result<Self, ConfigError> {
        if value.chars().count() < MIN_SECRET_LEN {
            return Err(ConfigError::InvalidSetting {
                setting: "secret",
                reason: format!(
                    "the Better Auth secret must be at least {MIN_SECRET_LEN} characters (Better Auth's minimum; generate one with `openssl rand -base64 32`)"
                ),
            });
        }
        if value == BETTER_AUTH_DEFAULT_SECRET {
            return Err(ConfigError::InvalidSetting {
                setting: "secret",
                reason: "this is Better Auth's public default secret: anyone can forge cookies signed with it".into(),
            });
        }
        Ok(SessionSecret {
            value: value.into_boxed_str(),
            version,
        })
    }

    /// The rotation version of the current secret, when read by
    /// [`from_versioned`](Self::from_versioned).
    #[must_use]
    pub fn version(&self) -> Option<u32> {
        self.version
    }

    /// The HMAC key bytes (the secret's UTF-8, as Better Auth's WebCrypto import takes them).
    pub(crate) fn key_bytes(&self) -> &[u8] {
        self.value.as_bytes()
    }
}

impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "ssoguard-dev-secret-0123456789abcdef0123456789";

    #[test]
    fn short_default_and_malformed_secrets_are_refused_without_echo() {
        for bad in [
            "",
            "short",
            "0123456789abcdef0123456789abcde",
            BETTER_AUTH_DEFAULT_SECRET,
        ] {
            let err = SessionSecret::new(bad).unwrap_err().to_string();
            assert!(bad.is_empty() || !err.contains(bad), "{err}");
        }
        assert!(SessionSecret::new(GOOD).is_ok());
        for bad in ["", "nocolon", "x:abc", "1:", &format!("1:{GOOD},2")] {
            assert!(SessionSecret::from_versioned(bad).is_err(), "{bad}");
        }
        let s = SessionSecret::from_versioned(&format!(" 3:{GOOD} , 1:old")).expect("list");
        assert_eq!((s.version(), s.key_bytes()), (Some(3), GOOD.as_bytes()));
    }

    #[test]
    fn debug_and_display_are_redacted() {
        let s = SessionSecret::new(GOOD).expect("secret");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert!(!format!("{:?}", Some(&s)).contains("0123"));
    }
}
