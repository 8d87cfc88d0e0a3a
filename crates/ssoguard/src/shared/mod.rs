//! State shared by every instance of a service through Redis (feature `shared-redis`).
//!
//! Several copies of one API behind a load balancer must agree on two things:
//!
//! - **DPoP replay** ([`RedisReplayStore`]): a proof seen by one instance is a replay at every
//!   other. One `SET key 1 NX PX <ms>` per proof; when Redis cannot answer (down, slow, an
//!   unexpected reply) the proof cannot be checked and the request is refused with 503, never
//!   let in.
//! - **Revocations** ([`RedisRevocations`]): a back-channel logout received by any instance is
//!   written to Redis (one key per session or subject, expiring when the longest token it covers
//!   expires) and published on a channel. Every instance subscribes and applies what it hears to
//!   its **local** in-memory set, which is all the request path reads: no Redis round trip per
//!   request. On start and after every reconnect an instance loads the current set (`SCAN`).
//!   A revocation an instance knows is never forgotten when Redis fails; one received while
//!   Redis is down is applied locally at once and written and published when Redis is back.
//!
//! Both come from one [`SharedRedis`] (the URL, the per-call timeout, the key prefix):
//!
//! ```no_run
//! # fn run() -> Result<(), ssoguard::ConfigError> {
//! use ssoguard::dpop::DpopConfig;
//! use ssoguard::shared::SharedRedis;
//!
//! // Inside a Tokio runtime (the revocation subscriber runs as a task).
//! let shared = SharedRedis::new("redis://127.0.0.1:6379")?;
//! let verifier = ssoguard::Verifier::builder()
//!     .authority("https://sso.example.com")
//!     .audience("api")
//!     .dpop(DpopConfig::default().replay_store(shared.replay_store()))
//!     .revocations(shared.revocations())
//!     .build()?;
//! # let _ = verifier; Ok(()) }
//! ```
//!
//! `redis://` and `rediss://` (TLS, the system's roots) URLs are accepted; the password in a
//! URL is never logged.

mod replay;
mod revocations;

pub use replay::RedisReplayStore;
pub use revocations::{RedisRevocations, SharedHealth};

use crate::error::ConfigError;
use crate::revocation::MemoryRevocations;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Where the shared state lives, and how long any one Redis call may take.
///
/// Defaults: a 200 ms timeout on every call, keys prefixed `ssoguard:`, revocations kept as
/// [`MemoryRevocations::default`] keeps them (100 000 entries, tokens living up to 24 h).
#[derive(Clone)]
#[must_use]
pub struct SharedRedis {
    client: redis::Client,
    timeout: Duration,
    prefix: String,
    capacity: usize,
    max_token_lifetime: Duration,
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

    /// The shared DPoP replay store (connected on first use).
    #[must_use]
    pub fn replay_store(&self) -> Arc<RedisReplayStore> {
        Arc::new(RedisReplayStore::new(self))
    }

    /// The shared revocations: starts the subscriber task (which connects, loads the current
    /// set and listens, reconnecting with backoff) and returns at once.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (the subscriber is a task).
    #[must_use]
    pub fn revocations(&self) -> Arc<RedisRevocations> {
        Arc::new(RedisRevocations::start(self))
    }

    async fn connection(
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
