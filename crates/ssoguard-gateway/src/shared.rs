//! `[shared]`: revocations and DPoP replay shared with the other instances through Redis.
//!
//! ```toml
//! [shared]
//! redis_url = "redis://127.0.0.1:6379"   # or rediss://; or SSOGUARD_REDIS_URL
//! ```
//!
//! Without it (the default) every gateway process keeps its own revocations and DPoP replay
//! store, in memory. With it, the gateway uses the library's [`ssoguard::shared`]: a
//! back-channel logout received by any instance (gateway or tasks-api, same Redis, same key
//! prefix `ssoguard:`) is refused by every instance once it hears it (pub/sub; the request path
//! reads a local copy, never Redis), and a DPoP proof seen by one instance is a replay at every
//! other (one `SET NX` per proof; when Redis cannot answer, the DPoP request is 503).
//!
//! The URL may come from the file or from `SSOGUARD_REDIS_URL`, not both: a file that sets it
//! while the variable is also set is refused, so no one wonders which Redis is used.

use ssoguard::shared::{RedisRevocations, SharedRedis};
use std::sync::Arc;

/// The variable that names the Redis (the same as tasks-api's).
pub const REDIS_URL_VAR: &str = "SSOGUARD_REDIS_URL";

/// Where the shared state lives (the library's client; its `Debug` never shows the URL, which
/// may hold a password).
#[derive(Debug, Clone)]
pub struct SharedConfig {
    redis: SharedRedis,
}

impl SharedConfig {
    /// The Redis client (no I/O yet).
    pub(crate) fn redis(&self) -> SharedRedis {
        self.redis.clone()
    }

    /// The settings for the Redis at `url`; `None` when the library refuses the URL (the caller
    /// names where it came from, never the value: it may hold a password).
    pub(crate) fn new(url: &str) -> Option<SharedConfig> {
        SharedRedis::new(url)
            .ok()
            .map(|redis| SharedConfig { redis })
    }
}

/// What `/_ssoguard/ready` says of the shared state: `in_process` without `[shared]`, else the
/// subscriber's health (`connecting`, `ok`, `degraded`) and the logouts waiting to be published.
pub(crate) fn readiness(shared: Option<&Arc<RedisRevocations>>) -> serde_json::Value {
    match shared {
        None => serde_json::json!({ "shared_state": "in_process" }),
        Some(revocations) => serde_json::json!({
            "shared_state": revocations.health().as_str(),
            "unpublished": revocations.unpublished(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_url() {
        let c = SharedConfig::new("redis://:hunter2@127.0.0.1:6379").expect("a redis URL");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
