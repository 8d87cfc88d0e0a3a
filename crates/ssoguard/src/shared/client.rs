//! [`SharedRedis`]: the Redis the shared state lives in (URL, per-call timeout, key prefix), and
//! the one way every call to it is bounded ([`within`]).

use crate::error::ConfigError;
use crate::revocation::MemoryRevocations;
use std::fmt;
use std::time::Duration;

/// Where the shared state lives, and how long any one Redis call may take.
///
/// Defaults: a 200 ms timeout on every call, keys prefixed `ssoguard:`, revocations kept as
/// [`MemoryRevocations::default`] keeps them (100 000 entries, tokens living up to 24 h).
#[derive(Clone)]
#[must_use]
pub struct SharedRedis {
    pub(super) client: redis::Client,
    pub(super) timeout: Duration,
    pub(super) prefix: String,
    pub(super) capacity: usize,
    pub(super) max_token_lifetime: Duration,
}

impl fmt::Debug for SharedRedis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password.
        f.debug_struct("SharedRedis")
            .field("url", &"[redacted]")
            .field("timeout", &self.timeout)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl SharedRedis {
    /// The default timeout of one Redis call.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(200);
    /// The default key prefix.
    pub const DEFAULT_PREFIX: &'static str = "ssoguard:";

    /// The Redis at `url` (`redis://host:port[/db]`, `rediss://…`). Nothing is connected yet.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidSetting`] (`redis_url`) when the URL is not a Redis URL; the URL
    /// itself is not repeated in the error.
    pub fn new(url: &str) -> Result<Self, ConfigError> {
        let url = url.trim();
        let invalid = || ConfigError::InvalidSetting {
            setting: "redis_url",
            reason: "not a valid redis:// or rediss:// URL".into(),
        };
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(invalid());
        }
        let client = redis::Client::open(url).map_err(|_| invalid())?;
        Ok(SharedRedis {
            client,
            timeout: Self::DEFAULT_TIMEOUT,
            prefix: Self::DEFAULT_PREFIX.to_string(),
            capacity: MemoryRevocations::DEFAULT_CAPACITY,
            max_token_lifetime: MemoryRevocations::DEFAULT_MAX_TOKEN_LIFETIME,
        })
    }

    /// The longest any one Redis call (connect included) may take before it counts as failed.
    /// Default: 200 ms. Zero is raised to 1 ms.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The prefix of every key and of the revocation channel, so several services (or
    /// environments) can share one Redis. Default: `ssoguard:`. Instances that must agree use
    /// the same prefix.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The local revocation set's capacity and the longest token lifetime a revocation covers
    /// (as [`MemoryRevocations::new`]). Default: 100 000 entries, 24 h.
    pub fn revocation_limits(mut self, capacity: usize, max_token_lifetime: Duration) -> Self {
        self.capacity = capacity;
        self.max_token_lifetime = max_token_lifetime;
        self
    }

    pub(super) async fn connection(
        &self,
        cell: &tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    ) -> redis::RedisResult<redis::aio::ConnectionManager> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        cell.get_or_try_init(|| async {
            redis::aio::ConnectionManager::new_lazy_with_config(self.client.clone(), config)
        })
        .await
        .cloned()
    }
}

/// A Redis call failed or took too long (details are logged by the caller, never the URL).
#[derive(Debug)]
pub(crate) enum CallError {
    TimedOut,
    Redis(redis::ErrorKind),
    Garbage,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::TimedOut => f.write_str("timed out"),
            CallError::Redis(kind) => write!(f, "{kind:?}"),
            CallError::Garbage => f.write_str("an unexpected reply"),
        }
    }
}

/// Runs `call` within `timeout` (plus a margin over the connection's own timeouts).
pub(crate) async fn within<T>(
    timeout: Duration,
    call: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, CallError> {
    match tokio::time::timeout(timeout + Duration::from_millis(50), call).await {
        Err(_) => Err(CallError::TimedOut),
        Ok(Err(e)) => Err(CallError::Redis(e.kind())),
        Ok(Ok(value)) => Ok(value),
    }
}
