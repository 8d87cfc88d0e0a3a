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

use super::answers::SharedAnswers;
use super::client::{CallError, SharedRedis};
use crate::introspection::{
    CallResult, IntrospectionConfig, Introspector, SharedIntrospection, over_budget, unavailable,
};
use crate::token_cache::TokenHash;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Takes the lock for one token and a slot of the cluster budget, atomically.
///
/// KEYS: the token's lock, the starts log, the calls in progress, the id counter, the token's
/// answer. ARGV: calls per second, calls at once, how long a slot and the lock are held (ms).
/// Returns the call's id (> 0), or -1 (over the rate), -2 (too many at once), -3 (another
/// instance is calling for this token), -4 (answered since the caller looked).
const START: &str = r"
if redis.call('EXISTS', KEYS[5]) == 1 then return -4 end
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
    answers: SharedAnswers,
}

impl fmt::Debug for RedisIntrospection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisIntrospection")
            .field("shared", &self.answers.shared)
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
            answers: SharedAnswers::new(self, "introspection"),
        })
    }
}

impl IntrospectionConfig {
    /// Shares answers and the budget with every instance using the same Redis (and key
    /// prefix). Default: not shared (each process has its own cache and budget).
    ///
    /// - An active answer is stored in Redis under the SHA-256 of the token (never the token)
    ///   for min(`exp`, [`cache_ttl`](Self::cache_ttl)) and reused by the other instances;
    ///   while one instance calls the SSO for a token, the others wait for its answer (up to
    ///   [`timeout`](Self::timeout) + 1 s) instead of calling too. Inactive answers are not
    ///   shared. Revocations are still checked on every request.
    /// - [`max_calls_per_second`](Self::max_calls_per_second) and
    ///   [`max_concurrent_calls`](Self::max_concurrent_calls) become the **cluster's** bounds
    ///   (calls started in any one-second window, calls in progress), kept by a Lua script on
    ///   Redis's clock.
    /// - When Redis does not answer within [`SharedRedis::timeout`](crate::shared::SharedRedis)
    ///   it is skipped for a second and the instance works alone: its own cache, its own calls,
    ///   and the per-process budget with the same numbers (so N instances may then make N times
    ///   the calls). The risk of sharing: whoever can write to this Redis can make any token
    ///   hash look active; protect it as the SSO's own storage (ACL, `rediss://`).
    ///
    /// # Example
    ///
    /// ```no_run
    /// # fn run() -> Result<(), ssoguard::ConfigError> {
    /// use ssoguard::IntrospectionConfig;
    /// use ssoguard::shared::SharedRedis;
    ///
    /// let redis = SharedRedis::new("redis://127.0.0.1:6379")?;
    /// let verifier = ssoguard::Verifier::builder()
    ///     .authority("https://sso.example.com")
    ///     .audience("api")
    ///     .introspection(IntrospectionConfig::new("api", "secret").shared(&redis))
    ///     .build()?;
    /// # let _ = verifier; Ok(()) }
    /// ```
    #[must_use]
    pub fn shared(mut self, redis: &SharedRedis) -> Self {
        self.shared = Some(redis.introspection() as Arc<dyn SharedIntrospection>);
        self
    }
}

impl SharedIntrospection for RedisIntrospection {
    fn reachable(&self) -> bool {
        RedisIntrospection::reachable(self)
    }

    fn introspect<'a>(
        self: Arc<Self>,
        introspector: &'a Introspector,
        hash: TokenHash,
        token: &'a str,
        endpoint: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = CallResult> + Send + 'a>> {
        Box::pin(async move { introspect(introspector, &self, hash, token, endpoint).await })
    }
}

/// Redis's answer for `hash`, else one call for the cluster (within its budget) shared through
/// Redis, else, when Redis fails, the instance's own way ([`Introspector::call_alone`]).
async fn introspect(
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
            Ok(Start::Answered) if Instant::now() < give_up => {}
            // Another instance is calling: its answer is awaited, not called for again.
            Ok(Start::Elsewhere) if Instant::now() < give_up => {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            Ok(Start::Elsewhere | Start::Answered) => return Err(unavailable()),
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
    /// Another instance's answer arrived since the lookup (between the two round trips): read
    /// it.
    Answered,
}

/// A slot of the cluster budget and the token's lock, held while this instance calls. Dropped
/// without [`Held::finish`] (the call was cancelled), both are released by a spawned task.
pub(crate) struct Held {
    owner: Option<Arc<RedisIntrospection>>,
    id: i64,
    hash: TokenHash,
}

impl RedisIntrospection {
    /// False for a second after a Redis call failed: the caller goes the local way.
    pub fn reachable(&self) -> bool {
        self.answers.reachable()
    }

    /// The shared answer for `hash` and how long it has left; `Err` when Redis cannot say.
    pub(crate) async fn lookup(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<(Map<String, Value>, Duration)>, ()> {
        self.answers.get(hash).await
    }

    /// Takes the token's lock and a slot of the cluster budget (one script, one round trip).
    pub(crate) async fn start(
        self: &Arc<Self>,
        hash: &TokenHash,
        per_second: u32,
        at_once: u32,
        hold: Duration,
    ) -> Result<Start, ()> {
        let key = self.answers.key(hash);
        let prefix = &self.answers.shared.prefix;
        let hold_ms = u64::try_from(hold.as_millis()).unwrap_or(u64::MAX).max(1);
        // Plain EVAL (~700 bytes a call): no script cache to miss after Redis restarts empty.
        let mut eval = redis::cmd("EVAL");
        eval.arg(START)
            .arg(5)
            .arg(format!("{key}:lock"))
            .arg(format!("{prefix}introspection-budget:starts"))
            .arg(format!("{prefix}introspection-budget:calls"))
            .arg(format!("{prefix}introspection-budget:ids"))
            .arg(&key)
            .arg(per_second.max(1))
            .arg(at_once.max(1))
            .arg(hold_ms);
        let reply: i64 = self
            .answers
            .run("budget", async {
                let mut connection = self.answers.connection().await?;
                eval.query_async(&mut connection).await
            })
            .await?;
        Ok(match reply {
            -4 => Start::Answered,
            -3 => Start::Elsewhere,
            -2 | -1 => Start::OverBudget,
            id if id > 0 => Start::Call(Held {
                owner: Some(self.clone()),
                id,
                hash: *hash,
            }),
            _ => {
                self.answers.failed("budget", &CallError::Garbage);
                return Err(());
            }
        })
    }

    async fn release(
        &self,
        id: i64,
        hash: &TokenHash,
        answer: Option<(&Map<String, Value>, Duration)>,
    ) {
        let mut pipe = redis::pipe();
        if let Some((map, ttl)) = answer {
            self.answers.set_in(&mut pipe, hash, map, ttl);
        }
        pipe.del(format!("{}:lock", self.answers.key(hash)))
            .ignore();
        pipe.zrem(
            format!("{}introspection-budget:calls", self.answers.shared.prefix),
            id,
        )
        .ignore();
        let _ = self
            .answers
            .run("store", async {
                let mut connection = self.answers.connection().await?;
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
            owner.release(self.id, &self.hash, answer).await;
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
            let (id, hash) = (self.id, self.hash);
            runtime.spawn(async move { owner.release(id, &hash, None).await });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::RedisServer;

    #[tokio::test]
    async fn a_slot_held_by_a_crashed_instance_expires_and_a_lock_keeps_others_waiting() {
        let Ok(server) = RedisServer::start() else {
            assert!(std::env::var_os("CI").is_none(), "redis-server cannot run");
            eprintln!("SKIPPED: redis-server cannot run");
            return;
        };
        let shared = SharedRedis::new(&server.url()).expect("url");
        let cluster = shared.introspection();
        let hold = Duration::from_millis(300);
        let Ok(Start::Call(held)) = cluster.start(&[1; 32], 100, 1, hold).await else {
            panic!("the first call starts");
        };
        assert!(
            matches!(
                cluster.start(&[1; 32], 100, 1, hold).await,
                Ok(Start::Elsewhere)
            ),
            "the same token: wait for the caller's answer"
        );
        // The instance dies mid-call: nothing is released.
        std::mem::forget(held);
        assert!(matches!(
            cluster.start(&[2; 32], 100, 1, hold).await,
            Ok(Start::OverBudget)
        ));
        tokio::time::sleep(hold + Duration::from_millis(50)).await;
        let Ok(Start::Call(held)) = cluster.start(&[2; 32], 100, 1, hold).await else {
            panic!("the slot expired by itself");
        };
        held.finish(None).await;
        assert!(matches!(
            cluster.start(&[1; 32], 100, 1, hold).await,
            Ok(Start::Call(_))
        ));
        assert!(cluster.reachable());
    }
}
