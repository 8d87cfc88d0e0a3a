//! [`RedisReplayStore`]: DPoP proof ids remembered in Redis, so a proof is used once across
//! every instance.

use super::client::{CallError, SharedRedis, within};
use crate::dpop::{ReplayKey, ReplayStore, ReplayStoreUnavailable};
use futures_util::future::BoxFuture;
use std::fmt;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

/// A [`ReplayStore`] in Redis: `SET <prefix>dpop:<key> 1 NX PX <ms until the proof expires>`.
///
/// `OK` means new, a nil reply means already recorded (a replay). Anything else — Redis down,
/// slower than the timeout, an error or an unexpected reply — is [`ReplayStoreUnavailable`]:
/// the request is answered 503, never let in. One round trip per DPoP request. Built by
/// [`SharedRedis::replay_store`].
pub struct RedisReplayStore {
    shared: SharedRedis,
    connection: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
}

impl fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl SharedRedis {
    /// The shared DPoP replay store (connected on first use).
    #[must_use]
    pub fn replay_store(&self) -> Arc<RedisReplayStore> {
        Arc::new(RedisReplayStore::new(self))
    }
}

impl RedisReplayStore {
    pub(super) fn new(shared: &SharedRedis) -> Self {
        RedisReplayStore {
            shared: shared.clone(),
            connection: tokio::sync::OnceCell::new(),
        }
    }

    async fn insert(&self, key: ReplayKey, ttl: Duration) -> Result<bool, CallError> {
        let mut name = String::with_capacity(self.shared.prefix.len() + 5 + 64);
        name.push_str(&self.shared.prefix);
        name.push_str("dpop:");
        for byte in key {
            let _ = write!(name, "{byte:02x}");
        }
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let set = || {
            let mut cmd = redis::cmd("SET");
            cmd.arg(&name).arg(1).arg("NX").arg("PX").arg(millis);
            cmd
        };
        let reply: redis::Value = within(self.shared.timeout, async {
            let mut connection = self.shared.connection(&self.connection).await?;
            match set().query_async(&mut connection).await {
                // The connection broke (Redis restarted): the connection manager reconnects,
                // and the command is sent once more, within the same timeout. Had the first
                // one reached Redis, the second finds the proof recorded and it is refused as
                // a replay: never let in twice.
                Err(e) if e.is_connection_dropped() || e.is_io_error() => {
                    set().query_async(&mut connection).await
                }
                other => other,
            }
        })
        .await?;
        match reply {
            redis::Value::Okay => Ok(true),
            redis::Value::SimpleString(s) if s == "OK" => Ok(true),
            redis::Value::Nil => Ok(false),
            _ => Err(CallError::Garbage),
        }
    }
}

impl ReplayStore for RedisReplayStore {
    fn check_and_insert(
        &self,
        key: ReplayKey,
        expires_at: i64,
        now: i64,
    ) -> BoxFuture<'_, Result<bool, ReplayStoreUnavailable>> {
        // Kept one second past `expires_at` (whole seconds here, milliseconds in Redis).
        let seconds = u64::try_from(expires_at.saturating_sub(now)).unwrap_or(0) + 1;
        Box::pin(async move {
            self.insert(key, Duration::from_secs(seconds))
                .await
                .map_err(|e| {
                    tracing::warn!(error = %e, "DPoP replay check (redis) failed");
                    ReplayStoreUnavailable
                })
        })
    }
}
