//! [`SharedAnswers`]: answers one instance obtained (introspection, session lookups) kept in
//! Redis under a SHA-256 (never the credential itself) until they expire, so the other
//! instances reuse them; and the one way a failing Redis is handled for them: skipped for one
//! second, each instance working alone meanwhile.

use super::client::{CallError, SharedRedis, within};
use crate::token_cache::TokenHash;
use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// How long Redis is skipped after a failed call.
const SKIP_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Answers (JSON objects) under `<prefix><namespace>:<sha256 hex>`, each with its expiry.
pub(crate) struct SharedAnswers {
    pub(super) shared: SharedRedis,
    connection: OnceCell<redis::aio::ConnectionManager>,
    namespace: &'static str,
    /// Redis is skipped until this many milliseconds after `epoch` (0: not skipped).
    skip_until: AtomicU64,
    epoch: Instant,
}

impl SharedAnswers {
    pub(crate) fn new(shared: &SharedRedis, namespace: &'static str) -> Self {
        SharedAnswers {
            shared: shared.clone(),
            connection: OnceCell::new(),
            namespace,
            skip_until: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// False for a second after a Redis call failed: the caller goes the local way.
    pub(crate) fn reachable(&self) -> bool {
        self.millis() >= self.skip_until.load(Ordering::Acquire)
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(super) fn failed(&self, what: &str, error: &CallError) {
        let until = self.millis() + u64::try_from(SKIP_AFTER_FAILURE.as_millis()).unwrap_or(0);
        self.skip_until.store(until, Ordering::Release);
        tracing::warn!(
            error = %error,
            namespace = self.namespace,
            "shared {what} (redis) failed; this instance works alone for 1 s"
        );
    }

    pub(super) fn key(&self, hash: &TokenHash) -> String {
        let mut key =
            String::with_capacity(self.shared.prefix.len() + self.namespace.len() + 1 + 64);
        key.push_str(&self.shared.prefix);
        key.push_str(self.namespace);
        key.push(':');
        for byte in hash {
            let _ = write!(key, "{byte:02x}");
        }
        key
    }

    /// Runs one Redis call within the timeout; a failure skips Redis for a second.
    pub(super) async fn run<T>(
        &self,
        what: &str,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, ()> {
        within(self.shared.timeout, call).await.map_err(|e| {
            self.failed(what, &e);
        })
    }

    pub(super) async fn connection(&self) -> redis::RedisResult<redis::aio::ConnectionManager> {
        self.shared.connection(&self.connection).await
    }

    /// The shared answer for `hash` and how long it has left (`GET` + `PTTL`, one round trip);
    /// `Err` when Redis cannot say (or says garbage).
    pub(crate) async fn get(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<(Map<String, Value>, Duration)>, ()> {
        let key = self.key(hash);
        let (value, pttl): (Option<Vec<u8>>, i64) = self
            .run("lookup", async {
                let mut connection = self.connection().await?;
                redis::pipe()
                    .get(&key)
                    .pttl(&key)
                    .query_async(&mut connection)
                    .await
            })
            .await?;
        let Some(bytes) = value else {
            return Ok(None);
        };
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) if pttl > 0 => Ok(Some((
                map,
                Duration::from_millis(u64::try_from(pttl).unwrap_or(0)),
            ))),
            // Expired between the two commands, or stored without an expiry: not used.
            Ok(Value::Object(_)) => Ok(None),
            _ => {
                self.failed("lookup", &CallError::Garbage);
                Err(())
            }
        }
    }

    /// Adds `SET <key> <answer> PX <ttl>` to `pipe` (nothing for a zero TTL).
    pub(super) fn set_in(
        &self,
        pipe: &mut redis::Pipeline,
        hash: &TokenHash,
        answer: &Map<String, Value>,
        ttl: Duration,
    ) {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        if millis > 0 {
            let json = Value::Object(answer.clone()).to_string();
            pipe.cmd("SET")
                .arg(self.key(hash))
                .arg(json)
                .arg("PX")
                .arg(millis)
                .ignore();
        }
    }

    /// Shares `answer` for `ttl`.
    pub(crate) async fn put(&self, hash: &TokenHash, answer: &Map<String, Value>, ttl: Duration) {
        let mut pipe = redis::pipe();
        self.set_in(&mut pipe, hash, answer, ttl);
        let _ = self
            .run("store", async {
                let mut connection = self.connection().await?;
                pipe.query_async::<()>(&mut connection).await
            })
            .await;
    }
}
