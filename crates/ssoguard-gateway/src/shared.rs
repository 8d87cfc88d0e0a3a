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

use crate::config::ConfigError;
use serde::Deserialize;
use ssoguard::shared::{RedisRevocations, SharedRedis};
use std::sync::Arc;

/// The variable that names the Redis (the same as tasks-api's).
pub const REDIS_URL_VAR: &str = "SSOGUARD_REDIS_URL";

/// `[shared]` in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileShared {
    redis_url: Option<String>,
}

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

    fn new(url: &str, source: &str) -> Result<SharedConfig, ConfigError> {
        // The library's check; the value itself is never repeated in the message.
        let redis = SharedRedis::new(url).map_err(|_| {
            ConfigError(format!("{source}: not a usable redis:// or rediss:// URL"))
        })?;
        Ok(SharedConfig { redis })
    }
}

/// The shared settings from the file's `[shared]` and the environment: at most one of them may
/// name the Redis.
pub(crate) fn from_file(
    file: Option<&FileShared>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<SharedConfig>, ConfigError> {
    let from_env = env(REDIS_URL_VAR).filter(|v| !v.trim().is_empty());
    let from_file = file.and_then(|f| f.redis_url.as_deref());
    match (from_file, from_env) {
        (Some(_), Some(_)) => Err(ConfigError(format!(
            "[shared] redis_url and {REDIS_URL_VAR} are both set: set one of them"
        ))),
        (Some(url), None) => SharedConfig::new(url, "[shared] redis_url").map(Some),
        (None, Some(url)) => SharedConfig::new(&url, REDIS_URL_VAR).map(Some),
        (None, None) => Ok(None),
    }
}

/// The shared settings from the environment alone (`SSOGUARD_REDIS_URL`).
pub(crate) fn from_env(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<SharedConfig>, ConfigError> {
    get(REDIS_URL_VAR)
        .map(|url| SharedConfig::new(&url, REDIS_URL_VAR))
        .transpose()
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

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_string())
        }
    }

    fn file(url: &str) -> FileShared {
        FileShared {
            redis_url: Some(url.to_string()),
        }
    }

    #[test]
    fn unset_means_in_process() {
        assert!(from_file(None, &env(&[])).expect("ok").is_none());
        assert!(from_env(&env(&[])).expect("ok").is_none());
    }

    #[test]
    fn either_route_works_alone() {
        let f = file("redis://127.0.0.1:6379");
        assert!(from_file(Some(&f), &env(&[])).expect("file").is_some());
        let e = env(&[(REDIS_URL_VAR, "rediss://cache.internal:6380/2")]);
        assert!(from_file(None, &e).expect("env").is_some());
        assert!(from_env(&e).expect("env").is_some());
    }

    #[test]
    fn both_routes_at_once_are_refused() {
        let f = file("redis://127.0.0.1:6379");
        let e = env(&[(REDIS_URL_VAR, "redis://127.0.0.1:6379")]);
        let err = from_file(Some(&f), &e).expect_err("both");
        assert!(err.0.contains("both set"), "{err}");
    }

    #[test]
    fn a_bad_url_is_named_by_its_source_never_echoed() {
        let secret = "http://user:hunter2@cache:6379";
        let f = FileShared {
            redis_url: Some(secret.to_string()),
        };
        let err = from_file(Some(&f), &env(&[])).expect_err("not redis");
        assert!(err.0.contains("[shared] redis_url"), "{err}");
        assert!(!err.0.contains("hunter2"), "{err}");
        let e = env(&[(REDIS_URL_VAR, "postgres://user:hunter2@db/x")]);
        let err = from_env(&e).expect_err("not redis");
        assert!(
            err.0.contains(REDIS_URL_VAR) && !err.0.contains("hunter2"),
            "{err}"
        );
    }

    #[test]
    fn debug_hides_the_url() {
        let f = file("redis://:hunter2@127.0.0.1:6379");
        let c = from_file(Some(&f), &env(&[])).expect("ok").expect("set");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
