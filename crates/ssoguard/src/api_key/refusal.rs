//! Why an API key was refused: below the verifier and [`crate::error`], which carries it.

use std::time::Duration;

/// Why an API key was refused. [`VerifyError::ApiKey`](crate::VerifyError::ApiKey) carries it.
///
/// # Example
///
/// ```
/// use ssoguard::{VerifyError, api_key::ApiKeyRefusal};
///
/// let err = VerifyError::ApiKey(ApiKeyRefusal::Disabled);
/// assert_eq!((err.status_code(), err.to_string().as_str()), (401, "API key disabled"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiKeyRefusal {
    /// No such key (never created, deleted, or not a key of this SSO).
    #[error("unknown API key")]
    Unknown,
    /// The key exists but is disabled (`enabled: false`).
    #[error("API key disabled")]
    Disabled,
    /// The key's `expiresAt` is past.
    #[error("API key expired")]
    Expired,
    /// The key is over its rate limit (429): retry after `retry_after`.
    #[error("API key rate limit exceeded")]
    RateLimited {
        /// When the key's window frees up (the plugin's `tryAgainIn`).
        retry_after: Duration,
    },
    /// The key's `remaining` uses are spent (and no refill is due).
    #[error("API key usage limit reached")]
    UsageExhausted,
    /// The key's owner is not a user (and its configuration is not a service one), or the user
    /// is gone.
    #[error("API key has no valid owner")]
    NoOwner,
}

impl ApiKeyRefusal {
    /// 429 for [`ApiKeyRefusal::RateLimited`] (the key is valid, only over its limit), 401 for
    /// the rest.
    #[must_use]
    pub fn status_code(&self) -> u16 {
        match self {
            ApiKeyRefusal::RateLimited { .. } => 429,
            _ => 401,
        }
    }
}
