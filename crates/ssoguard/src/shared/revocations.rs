//! [`RedisRevocations`]: back-channel logouts shared by every instance, read locally.

use super::client::{CallError, SharedRedis, within};
use crate::revocation::{
    MemoryRevocations, Revocation, RevocationHook, Revocations, RevocationsFull,
};
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, OnceCell};

/// How the shared state's connection to Redis is doing (for `/ready` and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SharedHealth {
    /// Not connected yet since start.
    Connecting,
    /// Subscribed, the current set loaded, nothing waiting to be published.
    Connected,
    /// Redis is unreachable (or was, and revocations received meanwhile are still being
    /// published): revocations known here are enforced here; those received elsewhere are not
    /// heard until Redis is back.
    Degraded,
}

impl SharedHealth {
    /// `connecting`, `ok` or `degraded`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SharedHealth::Connecting => "connecting",
            SharedHealth::Connected => "ok",
            SharedHealth::Degraded => "degraded",
        }
    }

    fn from_u8(value: u8) -> Self {
        match value {
            CONNECTED => SharedHealth::Connected,
            DEGRADED => SharedHealth::Degraded,
            _ => SharedHealth::Connecting,
        }
    }
}

const CONNECTING: u8 = 0;
const CONNECTED: u8 = 1;
const DEGRADED: u8 = 2;

/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often a connected subscriber checks that Redis still answers.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// [`Revocations`] shared through Redis, enforced from a local in-memory set.
///
/// - [`revoke`](Revocations::revoke) records locally at once (the request path of this
///   instance refuses the session from then on), then a background task writes
///   `<prefix>revoked:sid:<sid>` (or `<prefix>revoked:sub:<sub>:<iat>`) with an expiry of the
///   covered tokens' lifetime and publishes it on `<prefix>revocations`. While Redis is down the
///   revocation waits (in order, at most the local capacity) and is written and published once
///   Redis answers again.
/// - Every instance's task subscribes to the channel and applies what it hears to its local
///   set; on start and after every reconnect it loads every `<prefix>revoked:*` key.
/// - [`is_revoked`](Revocations::is_revoked) reads only the local set: no network, and nothing
///   known locally is dropped when Redis fails or restarts empty.
///
/// Built by [`SharedRedis::revocations`]; the task stops when this is dropped.
pub struct RedisRevocations {
    inner: Arc<Inner>,
    task: tokio::task::AbortHandle,
}

struct Inner {
    shared: SharedRedis,
    local: MemoryRevocations,
    keep_for: i64,
    pending: Mutex<VecDeque<Revocation>>,
    wake: Notify,
    health: AtomicU8,
}

impl fmt::Debug for RedisRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRevocations")
            .field("local", &self.inner.local)
            .field("health", &self.health())
            .field("unpublished", &self.unpublished())
            .finish_non_exhaustive()
    }
}

impl Drop for RedisRevocations {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SharedRedis {
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
}

impl RedisRevocations {
    pub(super) fn start(shared: &SharedRedis) -> Self {
        let inner = Arc::new(Inner {
            shared: shared.clone(),
            local: MemoryRevocations::new(shared.capacity, shared.max_token_lifetime),
            keep_for: i64::try_from(shared.max_token_lifetime.as_secs())
                .unwrap_or(i64::MAX / 2)
                .saturating_add(60),
            pending: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            health: AtomicU8::new(CONNECTING),
        });
        let task = tokio::spawn(run(inner.clone())).abort_handle();
        RedisRevocations { inner, task }
    }

    /// The connection's state.
    #[must_use]
    pub fn health(&self) -> SharedHealth {
        SharedHealth::from_u8(self.inner.health.load(Ordering::Acquire))
    }

    /// Revocations received here and not yet written to Redis (non-zero while Redis is down).
    #[must_use]
    pub fn unpublished(&self) -> usize {
        self.inner.pending.lock().map_or(0, |p| p.len())
    }

    /// Entries in the local set (expired ones until swept).
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.local.len()
    }

    /// True when nothing is revoked locally.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.inner.local.is_empty()
    }
}

impl Revocations for RedisRevocations {
    fn revoke(&self, revocation: &Revocation, now: i64) -> Result<(), RevocationsFull> {
        self.inner.local.revoke(revocation, now)?;
        match self.inner.pending.lock() {
            Ok(mut pending) if pending.len() < self.inner.shared.capacity => {
                pending.push_back(revocation.clone());
            }
            _ => tracing::error!(
                "revocation enforced here but not shared: too many waiting for Redis"
            ),
        }
        self.inner.wake.notify_one();
        Ok(())
    }

    fn is_revoked(&self, sid: Option<&str>, sub: &str, iat: Option<i64>, now: i64) -> bool {
        self.inner.local.is_revoked(sid, sub, iat, now)
    }

    fn on_revoke(&self, hook: RevocationHook) {
        self.inner.local.on_revoke(hook);
    }

    fn is_empty(&self) -> bool {
        self.inner.local.is_empty()
    }
}

fn unix_now() -> i64 {
    crate::time::unix_now()
}

/// Connects, loads, listens; on any failure marks the state degraded and retries with
/// exponential backoff (100 ms doubling to 5 s).
async fn run(inner: Arc<Inner>) {
    let connection = OnceCell::new();
    let mut backoff = Duration::from_millis(100);
    loop {
        let error = inner.session(&connection, &mut backoff).await;
        inner.health.store(DEGRADED, Ordering::Release);
        tracing::warn!(error = %error, retry_in = ?backoff, "shared revocations: Redis unavailable");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

impl Inner {
    fn channel(&self) -> String {
        format!("{}revocations", self.shared.prefix)
    }

    /// One connected stretch; returns why it ended.
    async fn session(
        &self,
        cell: &OnceCell<redis::aio::ConnectionManager>,
        backoff: &mut Duration,
    ) -> CallError {
        let timeout = self.shared.timeout;
        // Subscribe first, then load: a revocation published in between is heard, not missed.
        let mut pubsub = match within(timeout, self.shared.client.get_async_pubsub()).await {
            Ok(pubsub) => pubsub,
            Err(e) => return e,
        };
        if let Err(e) = within(timeout, pubsub.subscribe(self.channel())).await {
            return e;
        }
        let mut connection = match within(timeout, self.shared.connection(cell)).await {
            Ok(connection) => connection,
            Err(e) => return e,
        };
        if let Err(e) = self.load(&mut connection).await {
            return e;
        }
        if let Err(e) = self.flush(&mut connection).await {
            return e;
        }
        self.health.store(CONNECTED, Ordering::Release);
        tracing::info!("shared revocations: connected to Redis, current set loaded");
        *backoff = Duration::from_millis(100);
        let mut messages = pubsub.into_on_message();
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = messages.next() => match message {
                    Some(message) => self.apply(message.get_payload_bytes()),
                    None => return CallError::Redis(redis::ErrorKind::Io),
                },
                () = self.wake.notified() => {
                    if let Err(e) = self.flush(&mut connection).await {
                        return e;
                    }
                }
                _ = heartbeat.tick() => {
                    let ping = redis::cmd("PING");
                    if let Err(e) = within(timeout, ping.query_async::<redis::Value>(&mut connection)).await {
                        return e;
                    }
                    if let Err(e) = self.flush(&mut connection).await {
                        return e;
                    }
                }
            }
        }
    }

    /// Applies one revocation (a published message or a stored value) to the local set.
    fn apply(&self, bytes: &[u8]) {
        let Some(revocation) = parse(bytes) else {
            tracing::warn!("shared revocations: ignored a value that is not a revocation");
            return;
        };
        if self.local.revoke(&revocation, unix_now()).is_err() {
            tracing::error!(
                "shared revocations: the local set is full; a revocation is not enforced here"
            );
        }
    }

    /// Loads every stored revocation (`SCAN` + `MGET`, each call within the timeout).
    async fn load(&self, connection: &mut redis::aio::ConnectionManager) -> Result<(), CallError> {
        let pattern = format!("{}revoked:*", glob_escape(&self.shared.prefix));
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = within(
                self.shared.timeout,
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(connection),
            )
            .await?;
            if !keys.is_empty() {
                let values: Vec<Option<Vec<u8>>> = within(
                    self.shared.timeout,
                    redis::cmd("MGET").arg(&keys).query_async(connection),
                )
                .await?;
                for value in values.into_iter().flatten() {
                    self.apply(&value);
                }
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// Writes and publishes the waiting revocations, oldest first; stops at the first failure
    /// (the revocation stays waiting).
    async fn flush(&self, connection: &mut redis::aio::ConnectionManager) -> Result<(), CallError> {
        loop {
            let Some(revocation) = self.pending.lock().ok().and_then(|p| p.front().cloned()) else {
                return Ok(());
            };
            self.publish(connection, &revocation).await?;
            if let Ok(mut pending) = self.pending.lock() {
                pending.pop_front();
            }
        }
    }

    async fn publish(
        &self,
        connection: &mut redis::aio::ConnectionManager,
        revocation: &Revocation,
    ) -> Result<(), CallError> {
        let now = unix_now();
        let until = revocation.issued_at.max(now).saturating_add(self.keep_for);
        let millis = u64::try_from(until.saturating_sub(now))
            .unwrap_or(0)
            .saturating_mul(1000);
        if millis == 0 {
            return Ok(());
        }
        let key = match (&revocation.sid, &revocation.sub) {
            (Some(sid), _) => format!("{}revoked:sid:{sid}", self.shared.prefix),
            (None, Some(sub)) => format!(
                "{}revoked:sub:{sub}:{}",
                self.shared.prefix, revocation.issued_at
            ),
            (None, None) => return Ok(()),
        };
        let value = json!({
            "sid": revocation.sid,
            "sub": revocation.sub,
            "iat": revocation.issued_at,
        })
        .to_string();
        let _receivers: (i64,) = within(
            self.shared.timeout,
            redis::pipe()
                .cmd("SET")
                .arg(&key)
                .arg(&value)
                .arg("PX")
                .arg(millis)
                .ignore()
                .cmd("PUBLISH")
                .arg(self.channel())
                .arg(&value)
                .query_async(connection),
        )
        .await?;
        Ok(())
    }
}

/// A revocation from its stored or published JSON; `None` for anything else.
fn parse(bytes: &[u8]) -> Option<Revocation> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    let text = |name: &str| match value.get(name) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) if !s.is_empty() => Some(Some(s.clone())),
        Some(_) => None,
    };
    let (sid, sub) = (text("sid")?, text("sub")?);
    if sid.is_none() && sub.is_none() {
        return None;
    }
    let issued_at = value.get("iat")?.as_i64()?;
    Some(Revocation::new(sid, sub, issued_at))
}

/// `prefix` with Redis glob characters escaped, for `SCAN MATCH`.
fn glob_escape(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_values_parse_and_garbage_does_not() {
        assert_eq!(
            parse(br#"{"sid":"s1","sub":"u1","iat":5}"#),
            Some(Revocation::new(Some("s1".into()), Some("u1".into()), 5))
        );
        assert_eq!(
            parse(br#"{"sid":null,"sub":"u1","iat":5}"#),
            Some(Revocation::new(None, Some("u1".into()), 5))
        );
        for garbage in [
            &b"not json"[..],
            br#"{"sid":null,"sub":null,"iat":5}"#,
            br#"{"sid":"s1"}"#,
            br#"{"sid":7,"iat":5}"#,
            br#"{"sid":"","iat":5}"#,
            b"[1,2]",
        ] {
            assert_eq!(parse(garbage), None, "{}", String::from_utf8_lossy(garbage));
        }
    }

    #[test]
    fn the_prefix_is_matched_literally() {
        assert_eq!(glob_escape("app:"), "app:");
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
