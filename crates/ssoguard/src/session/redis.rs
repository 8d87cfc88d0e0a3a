//! The `redis` lookup (feature `session-redis`): Better Auth's `secondaryStorage` on Redis.
//!
//! With a secondary storage, Better Auth keeps each session as the JSON
//! `{"session": {…}, "user": {…}}` under the **session token itself** as the key (plus
//! `active-sessions-<userId>` lists, not read here), with a TTL of the session's remaining
//! life; a sign-out or revocation deletes the key. A storage adapter that prefixes its keys
//! (`better-auth:`…) is matched with [`RedisLookup::key_prefix`]. One `GET` per lookup through
//! the redis crate's `ConnectionManager` (one multiplexed connection, reconnected on failure),
//! connected on first use; connect and response timeouts are the lookup timeout.

use super::record::{SessionRecord, StoreDown};
use crate::error::ConfigError;
use redis::AsyncCommands as _;
use std::time::Duration;

/// Where Better Auth's Redis is (`redis://127.0.0.1:6379`, `rediss://…` for TLS) and how its
/// keys are prefixed.
///
/// # Example
///
/// ```
/// use ssoguard::session::RedisLookup;
///
/// let lookup = RedisLookup::new("redis://127.0.0.1:6379").key_prefix("");
/// # let _ = lookup;
/// ```
#[derive(Clone)]
#[must_use]
pub struct RedisLookup {
    url: String,
    key_prefix: String,
}

impl std::fmt::Debug for RedisLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("RedisLookup")
            .field("url", &"[redacted]")
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

impl RedisLookup {
    /// Better Auth's Redis, keys unprefixed (what a plain `secondaryStorage` does).
    pub fn new(url: impl Into<String>) -> Self {
        RedisLookup {
            url: url.into(),
            key_prefix: String::new(),
        }
    }

    /// The prefix the storage adapter puts before the session token. Default: none.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    pub(crate) fn connect(self, timeout: Duration) -> Result<RedisStore, ConfigError> {
        let client =
            redis::Client::open(self.url.trim()).map_err(|_| ConfigError::InvalidSetting {
                setting: "session_redis_url",
                reason: "not a valid redis:// or rediss:// URL".into(),
            })?;
        Ok(RedisStore {
            client: Box::new(client),
            key_prefix: self.key_prefix,
            timeout,
            connection: tokio::sync::OnceCell::new(),
        })
    }
}

pub(crate) struct RedisStore {
    // Boxed: with TLS support the client is large, and this is one variant of the store enum.
    client: Box<redis::Client>,
    key_prefix: String,
    timeout: Duration,
    connection: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
}

impl RedisStore {
    async fn connection(&self) -> Result<redis::aio::ConnectionManager, redis::RedisError> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        self.connection
            .get_or_try_init(|| async {
                redis::aio::ConnectionManager::new_lazy_with_config((*self.client).clone(), config)
            })
            .await
            .cloned()
    }

    pub(crate) async fn find(&self, token: &str) -> Result<Option<SessionRecord>, StoreDown> {
        let key = format!("{}{token}", self.key_prefix);
        let get = async {
            let mut connection = self.connection().await?;
            let value: Option<String> = connection.get(key).await?;
            Ok::<_, redis::RedisError>(value)
        };
        let value = match tokio::time::timeout(self.timeout + Duration::from_millis(100), get).await
        {
            Err(_) => {
                tracing::warn!("session lookup (redis) timed out");
                return Err(StoreDown);
            }
            Ok(Err(e)) => {
                tracing::warn!(kind = ?e.kind(), "session lookup (redis) failed");
                return Err(StoreDown);
            }
            Ok(Ok(value)) => value,
        };
        let Some(text) = value else {
            return Ok(None);
        };
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|_| {
            tracing::error!(
                "the secondary storage holds something other than JSON under a session key"
            );
            StoreDown
        })?;
        SessionRecord::from_json(&json).map(Some).map_err(|e| {
            tracing::error!(reason = %e, "the secondary storage holds an unusable session");
            StoreDown
        })
    }
}
