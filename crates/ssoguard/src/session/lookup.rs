//! Session lookups behind a cache: one lookup per token per TTL, one in flight per token.
//!
//! Answers are kept by the SHA-256 of the session token (never the token itself):
//!
//! - a live session for min(its expiry, the cache TTL — 30 s by default), so a sign-out, a
//!   revocation or a ban is honoured after at most the TTL;
//! - "no such session", "expired" and "banned" for the negative TTL (5 s by default, never more
//!   than the TTL), so a signed-out browser that keeps sending its cookie costs one lookup per
//!   negative TTL;
//! - a store that is down is never cached: the request is answered 503 and the next one asks
//!   again.
//!
//! Concurrent requests for one token share one lookup ([`crate::single_flight`]); waiting is
//! bounded by the lookup timeout. Every lookup is counted
//! ([`MetricsSnapshot::session_lookups`](crate::MetricsSnapshot::session_lookups)).

use super::record::{SessionRecord, StoreDown};
use super::remote::RemoteStore;
use crate::claims::TokenClaims;
use crate::error::{KeysUnavailable, VerifyError};
use crate::metrics::Metrics;
use crate::single_flight::{Joined, SingleFlight};
use crate::token_cache::{TokenCache, TokenHash};
use crate::ttl_map::TtlMap;
use std::sync::Arc;
use std::time::Duration;

/// Where sessions are looked up.
pub(crate) enum Store {
    Remote(RemoteStore),
    #[cfg(feature = "session-database")]
    Database(super::database::DatabaseStore),
    #[cfg(feature = "session-redis")]
    Redis(super::redis::RedisStore),
}

impl Store {
    async fn find(
        &self,
        token: &str,
        cookie_name: &str,
        cookie_value: &str,
    ) -> Result<Option<SessionRecord>, StoreDown> {
        let _ = token;
        match self {
            Store::Remote(remote) => remote.find(cookie_name, cookie_value).await,
            #[cfg(feature = "session-database")]
            Store::Database(db) => db.find(token).await,
            #[cfg(feature = "session-redis")]
            Store::Redis(redis) => redis.find(token).await,
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Store::Remote(_) => "remote",
            #[cfg(feature = "session-database")]
            Store::Database(_) => "database",
            #[cfg(feature = "session-redis")]
            Store::Redis(_) => "redis",
        }
    }
}

type Answer = Result<Arc<TokenClaims>, VerifyError>;

pub(crate) struct Lookup {
    pub(crate) store: Store,
    cache: TtlMap<TokenHash, Answer>,
    flights: SingleFlight<TokenHash, Answer>,
    ttl: Duration,
    negative_ttl: Duration,
    pub(crate) issuer: String,
    pub(crate) audience: String,
    /// Live sessions shared with the other instances (`SessionVerifierBuilder::shared`).
    #[cfg(feature = "shared-redis")]
    shared: Option<crate::shared::SharedAnswers>,
}

pub(crate) fn store_unavailable() -> VerifyError {
    VerifyError::KeysUnavailable {
        reason: KeysUnavailable::SessionStore,
        retry_after: Duration::from_secs(5),
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The request whose session is looked up (owned: the lookup runs in its own task).
pub(crate) struct Asked {
    pub(crate) token: String,
    pub(crate) cookie_name: String,
    pub(crate) cookie_value: String,
}

impl Lookup {
    pub(crate) fn new(
        store: Store,
        ttl: Duration,
        negative_ttl: Duration,
        max_entries: usize,
        wait: Duration,
        issuer: String,
        audience: String,
    ) -> Self {
        Lookup {
            store,
            cache: TtlMap::new(max_entries),
            flights: SingleFlight::new(wait),
            ttl,
            negative_ttl: negative_ttl.min(ttl),
            issuer,
            audience,
            #[cfg(feature = "shared-redis")]
            shared: None,
        }
    }

    /// Shares live sessions through Redis.
    #[cfg(feature = "shared-redis")]
    pub(crate) fn shared(self, shared: Option<crate::shared::SharedAnswers>) -> Self {
        Lookup { shared, ..self }
    }

    /// The cached answer for the session, or the answer of one shared lookup.
    pub(crate) async fn claims(self: &Arc<Self>, asked: Asked, metrics: &Arc<Metrics>) -> Answer {
        let hash = TokenCache::hash(&asked.token);
        if let Some(answer) = self.cache.get(&hash) {
            Metrics::incr(&metrics.session_cache_hits);
            return answer;
        }
        let check = || self.cache.get(&hash);
        let body = || {
            let this = self.clone();
            let metrics = metrics.clone();
            async move { this.look_up(hash, &asked, &metrics).await }
        };
        match self.flights.join_or_start(hash, check, body) {
            Joined::Ready(answer) => {
                Metrics::incr(&metrics.session_cache_hits);
                answer
            }
            Joined::Flight(flight) => flight
                .wait()
                .await
                .unwrap_or_else(|_| Err(store_unavailable())),
        }
    }

    async fn look_up(&self, hash: TokenHash, asked: &Asked, metrics: &Metrics) -> Answer {
        // Shared through Redis: keyed by the SHA-256 of this verifier's issuer, cookie name and
        // the token, so verifiers that would build different claims never share them.
        #[cfg(feature = "shared-redis")]
        let shared = self.shared.as_ref().filter(|s| s.reachable()).map(|s| {
            let key = format!("{}\n{}\n{}", self.issuer, self.audience, asked.token);
            (s, TokenCache::hash(&key))
        });
        #[cfg(feature = "shared-redis")]
        if let Some((shared, key)) = &shared {
            if let Ok(Some((map, left))) = shared.get(key).await {
                if let Ok(claims) = TokenClaims::from_map(map) {
                    let claims = Arc::new(claims);
                    let ttl = left.min(self.live_ttl(&claims, now_ms()));
                    self.cache.insert(hash, Ok(claims.clone()), ttl);
                    return Ok(claims);
                }
            }
        }
        Metrics::incr(&metrics.session_lookups);
        let found = self
            .store
            .find(&asked.token, &asked.cookie_name, &asked.cookie_value)
            .await;
        let now = now_ms();
        let answer = match found {
            Err(StoreDown) => return Err(store_unavailable()),
            Ok(None) => Err(VerifyError::SessionNotFound),
            Ok(Some(record)) => record
                .into_claims(now, &self.issuer, &self.audience)
                .map(Arc::new),
        };
        let ttl = match &answer {
            Ok(claims) => self.live_ttl(claims, now),
            Err(_) => self.negative_ttl,
        };
        self.cache.insert(hash, answer.clone(), ttl);
        // Only live sessions are shared: "not found", "expired" and "banned" are asked again.
        #[cfg(feature = "shared-redis")]
        if let (Some((shared, key)), Ok(claims)) = (&shared, &answer) {
            if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(claims.as_ref()) {
                shared.put(key, &map, ttl).await;
            }
        }
        answer
    }

    /// How long a live session is reused: min(its expiry, the TTL).
    fn live_ttl(&self, claims: &TokenClaims, now_ms: i64) -> Duration {
        let left_ms = claims.exp.saturating_mul(1000).saturating_sub(now_ms);
        self.ttl
            .min(Duration::from_millis(u64::try_from(left_ms).unwrap_or(0)))
    }
}
