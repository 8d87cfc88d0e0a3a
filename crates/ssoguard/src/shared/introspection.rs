//! [`RedisIntrospection`]: introspection answers and the introspection budget shared by every
//! instance through Redis, so N instances cost the SSO what one does.
//!
//! - **Answers**: an active answer (the claims map, never the token) is stored under
//!   `<prefix>introspection:<sha256 hex of the token>` for min(`exp`, `cache_ttl`); the next
//!   instance to see the token reads it (`GET` + `PTTL`, one round trip) instead of calling the
//!   SSO. Inactive answers are not shared (nor cached locally): a token the SSO refuses is asked
//!   about again. Revocation (back-channel logout) is checked by the verifier after the answer,
//!   on every request, wherever the answer came from.
//! - **One call per token**: the instance that finds no answer takes a lock
//!   (`<prefix>introspection:<hex>:lock`) in the same script that takes the budget; the others
//!   poll for the answer (every 25 ms, until the call's timeout) rather than call too. When the
//!   lock goes away without an answer (inactive, an error), the next poller calls itself.
//! - **Budget**: one Lua script (atomic, Redis's own clock so instances' clocks do not matter)
//!   keeps the calls started in the last 1000 ms (a sliding-window log: never more than
//!   `max_calls_per_second` in any one-second window, no window edge) and the calls in progress
//!   (each entry expires after the call's timeout + 1 s, so an instance that crashed mid-call
//!   frees its slot by itself). Over either bound: 503 with `Retry-After: 1`, as the
//!   per-process budget.
//! - **Faults**: every Redis call is bounded by [`SharedRedis::timeout`]. When one fails
//!   (unreachable, slow, garbage), Redis is skipped for one second and the instance works as
//!   without it: its local cache, its own calls to the SSO, and the **per-process** budget (so
//!   N instances may then make N times the budget's calls). Answers are never refused because
//!   Redis is down.

use super::client::{CallError, SharedRedis, within};
use crate::introspection::{CallResult, Introspector, over_budget, unavailable};
use crate::token_cache::TokenHash;
use serde_json::{Map, Value};
use std::fmt;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// How long Redis is skipped after a failed call.
const SKIP_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Takes the lock for one token and a slot of the cluster budget, atomically.
///
/// KEYS: the token's lock, the starts log, the calls in progress, the id counter.
/// ARGV: calls per second, calls at once, how long a slot and the lock are held (ms).
/// Returns the call's id (> 0), or -1 (over the rate), -2 (too many at once), -3 (another
/// instance is calling for this token).
const START: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return -3 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local hold = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[2]) then return -2 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[1]) then return -1 end
local id = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[2], now, id)
redis.call('PEXPIRE', KEYS[2], 2000)
redis.call('ZADD', KEYS[3], now + hold, id)
redis.call('PEXPIRE', KEYS[3], hold + 1000)
redis.call('SET', KEYS[1], id, 'PX', hold)
return id
";

/// Introspection answers and budget shared through Redis. Built by
/// [`SharedRedis::introspection`]; given to [`crate::IntrospectionConfig::shared`].
pub struct RedisIntrospection {
    shared: SharedRedis,
    connection: OnceCell<redis::aio::ConnectionManager>,
    /// Redis is skipped until this many milliseconds after `epoch` (0: not skipped).
    skip_until: AtomicU64,
    epoch: Instant,
}

impl fmt::Debug for RedisIntrospection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisIntrospection")
            .field("shared", &self.shared)
            .field("reachable", &self.reachable())
            .finish_non_exhaustive()
    }
}

impl SharedRedis {
    /// Introspection answers and the introspection budget shared by every instance (connected
    /// on first use). See [`crate::IntrospectionConfig::shared`].
    #[must_use]
    pub fn introspection(&self) -> Arc<RedisIntrospection> {
        Arc::new(RedisIntrospection {
            shared: self.clone(),
            connection: OnceCell::new(),
            skip_until: AtomicU64::new(0),
            epoch: Instant::now(),
        })
    }
}

/// Redis's answer for `hash`, else one call for the cluster (within its budget) shared through
/// Redis, else, when Redis fails, the instance's own way ([`Introspector::call_alone`]).
pub(crate) async fn introspect(
    introspector: &Introspector,
    shared: &Arc<RedisIntrospection>,
    hash: TokenHash,
    token: &str,
    endpoint: &str,
) -> CallResult {
    let cfg = introspector.config();
    let hold = cfg.timeout + Duration::from_secs(1);
    let give_up = Instant::now() + hold;
    loop {
        match shared.lookup(&hash).await {
            Ok(Some((map, left))) => {
                introspector.remember(hash, &map, left.min(introspector.ttl_of(&map)));
                return Ok(map);
            }
            Ok(None) => {}
            Err(()) => return introspector.call_alone(hash, token, endpoint).await,
        }
        let start = shared.start(
            &hash,
            cfg.max_calls_per_second,
            cfg.max_concurrent_calls,
            hold,
        );
        match start.await {
            Ok(Start::Call(held)) => {
                let result = introspector.call(token, endpoint).await;
                let answer = result
                    .as_ref()
                    .ok()
                    .map(|map| (map, introspector.ttl_of(map)));
                if let Some((map, ttl)) = answer {
                    introspector.remember(hash, map, ttl);
                }
                held.finish(answer).await;
                return result;
            }
            Ok(Start::OverBudget) => {
                tracing::warn!("cluster introspection budget exhausted; answering 503");
                return Err(over_budget());
            }
            // Another instance is calling: its answer is awaited, not called for again.
            Ok(Start::Elsewhere) if Instant::now() < give_up => {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            Ok(Start::Elsewhere) => return Err(unavailable()),
            Err(()) => return introspector.call_alone(hash, token, endpoint).await,
        }
    }
}

/// What the cluster says about starting a call for one token.
pub(crate) enum Start {
    /// Go: this instance calls the SSO, then [`Held::finish`].
    Call(Held),
    /// Over the cluster's rate or concurrency: 503.
    OverBudget,
    /// Another instance is calling for this token: wait for its answer.
    Elsewhere,
}

/// A slot of the cluster budget and the token's lock, held while this instance calls. Dropped
/// without [`Held::finish`] (the call was cancelled), both are released by a spawned task.
pub(crate) struct Held {
    owner: Option<Arc<RedisIntrospection>>,
    id: i64,
    key: String,
}

impl RedisIntrospection {
    /// False for a second after a Redis call failed: the caller goes the local way.
    pub fn reachable(&self) -> bool {
        self.millis() >= self.skip_until.load(Ordering::Acquire)
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn failed(&self, what: &str, error: &CallError) {
        let until = self.millis() + u64::try_from(SKIP_AFTER_FAILURE.as_millis()).unwrap_or(0);
        self.skip_until.store(until, Ordering::Release);
        tracing::warn!(
            error = %error,
            "shared introspection {what} (redis) failed; per-process cache and budget for 1 s"
        );
    }

    fn key(&self, hash: &TokenHash) -> String {
        let mut key = String::with_capacity(self.shared.prefix.len() + 14 + 64);
        key.push_str(&self.shared.prefix);
        key.push_str("introspection:");
        for byte in hash {
            let _ = write!(key, "{byte:02x}");
        }
        key
    }

    async fn run<T>(
        &self,
        what: &str,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, ()> {
        within(self.shared.timeout, call).await.map_err(|e| {
            self.failed(what, &e);
        })
    }

    async fn connection(&self) -> redis::RedisResult<redis::aio::ConnectionManager> {
        self.shared.connection(&self.connection).await
    }

    /// The shared answer for `hash` and how long it has left; `Err` when Redis cannot say.
    pub(crate) async fn lookup(
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
            Ok(_) if pttl <= 0 => Ok(None),
            _ => {
                self.failed("lookup", &CallError::Garbage);
                Err(())
            }
        }
    }

    /// Takes the token's lock and a slot of the cluster budget (one script, one round trip).
    pub(crate) async fn start(
        self: &Arc<Self>,
        hash: &TokenHash,
        per_second: u32,
        at_once: u32,
        hold: Duration,
    ) -> Result<Start, ()> {
        let key = self.key(hash);
        let prefix = &self.shared.prefix;
        let hold_ms = u64::try_from(hold.as_millis()).unwrap_or(u64::MAX).max(1);
        // Plain EVAL (~700 bytes a call): no script cache to miss after Redis restarts empty.
        let mut eval = redis::cmd("EVAL");
        eval.arg(START)
            .arg(4)
            .arg(format!("{key}:lock"))
            .arg(format!("{prefix}introspection-budget:starts"))
            .arg(format!("{prefix}introspection-budget:calls"))
            .arg(format!("{prefix}introspection-budget:ids"))
            .arg(per_second.max(1))
            .arg(at_once.max(1))
            .arg(hold_ms);
        let reply: i64 = self
            .run("budget", async {
                let mut connection = self.connection().await?;
                eval.query_async(&mut connection).await
            })
            .await?;
        Ok(match reply {
            -3 => Start::Elsewhere,
            -2 | -1 => Start::OverBudget,
            id if id > 0 => Start::Call(Held {
                owner: Some(self.clone()),
                id,
                key,
            }),
            _ => {
                self.failed("budget", &CallError::Garbage);
                return Err(());
            }
        })
    }

    async fn release(&self, id: i64, key: &str, answer: Option<(&Map<String, Value>, Duration)>) {
        let mut pipe = redis::pipe();
        if let Some((map, ttl)) = answer {
            let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
            if millis > 0 {
                let json = Value::Object(map.clone()).to_string();
                pipe.cmd("SET")
                    .arg(key)
                    .arg(json)
                    .arg("PX")
                    .arg(millis)
                    .ignore();
            }
        }
        pipe.del(format!("{key}:lock")).ignore();
        pipe.zrem(
            format!("{}introspection-budget:calls", self.shared.prefix),
            id,
        )
        .ignore();
        let _ = self
            .run("store", async {
                let mut connection = self.connection().await?;
                pipe.query_async::<()>(&mut connection).await
            })
            .await;
    }
}

impl Held {
    /// Shares an active answer for `ttl` (none: inactive or failed) and frees the lock and the
    /// slot.
    pub(crate) async fn finish(mut self, answer: Option<(&Map<String, Value>, Duration)>) {
        if let Some(owner) = self.owner.take() {
            owner.release(self.id, &self.key, answer).await;
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(owner) = self.owner.take() else {
            return;
        };
        // Cancelled mid-call: free the lock and slot now rather than when they expire.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (id, key) = (self.id, std::mem::take(&mut self.key));
            runtime.spawn(async move { owner.release(id, &key, None).await });
        }
    }
}
