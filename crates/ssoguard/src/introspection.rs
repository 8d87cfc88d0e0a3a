//! RFC 7662 token introspection for opaque access tokens (Better Auth's default access tokens).
//!
//! Called with `client_secret_basic`. Active results are cached by the token's SHA-256 until
//! min(`exp`, 60 s), bounded in entries; concurrent requests for the same token share one call
//! ([`crate::single_flight`]). Calls to the SSO are bounded by a per-process budget (calls per
//! second and calls at once, [`IntrospectionConfig::max_calls_per_second`],
//! [`IntrospectionConfig::max_concurrent_calls`]): over it, a token is answered 503 with
//! `Retry-After` without a call, so random tokens cannot flood the SSO with requests carrying
//! the client secret. Replies are read up to 1 MiB. An answer whose `token_type` names a refresh
//! token is refused; one without `sub` is a client-credentials token (subject = its
//! `client_id`) only when it names no user (`username`, `sid`), and is refused otherwise.
//! `active: false` is [`VerifyError::Inactive`] (401); an unreachable or misbehaving endpoint is
//! [`VerifyError::KeysUnavailable`] with [`KeysUnavailable::Introspection`] (503). Inactive
//! answers are not cached, so a token is refused as soon as the SSO says so, and accepted again
//! never (revocation is final).
//!
//! With [`IntrospectionConfig::shared`] (feature `shared-redis`) the cache is backed by Redis
//! and the budget is the cluster's: see [`crate::shared::RedisIntrospection`]. Lookup order:
//! this process's cache, Redis, the SSO.

use crate::error::{KeysUnavailable, VerifyError};
use crate::fetch::{MAX_REPLY_BYTES, read_bounded, redirect_policy};
use crate::form::form_encode;
use crate::single_flight::{Joined, SingleFlight};
use crate::time::unix_now;
use crate::token_cache::{TokenCache, TokenHash};
use crate::ttl_map::TtlMap;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Introspection settings.
///
/// # Example
///
/// ```
/// use ssoguard::{IntrospectionConfig, Verifier};
///
/// let verifier = Verifier::builder()
///     .authority("http://localhost:3001")
///     .audience("rust-backend")
///     .introspection(IntrospectionConfig::new("rust-backend", "rust-backend-secret"))
///     .build()?;
/// # let _ = verifier;
/// # Ok::<(), ssoguard::ConfigError>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct IntrospectionConfig {
    /// OAuth client id used to authenticate to the endpoint.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// Endpoint; default from discovery (`introspection_endpoint`), else `<issuer>/oauth2/introspect`.
    pub endpoint: Option<String>,
    /// Longest an active answer is cached. Default: 60 s.
    pub cache_ttl: Duration,
    /// Most cached answers. Default: 10,000.
    pub max_entries: usize,
    /// Timeout of one call. Default: 5 s.
    pub timeout: Duration,
    /// Most introspection calls started per second by this process (a token bucket holding
    /// one second's worth). Default: 50. Cached answers and callers sharing a call do not count.
    /// Over it, tokens are answered 503 with `Retry-After: 1` until calls are allowed again.
    pub max_calls_per_second: u32,
    /// Most introspection calls in progress at once. Default: 10. Over it: 503, as above.
    pub max_concurrent_calls: u32,
    /// Answers and budget shared through Redis ([`IntrospectionConfig::shared`]).
    #[cfg(feature = "shared-redis")]
    pub(crate) shared: Option<Arc<dyn SharedIntrospection>>,
}

/// Answers and a budget shared with the other instances of a service
/// (`shared::RedisIntrospection`, set by `IntrospectionConfig::shared`).
#[cfg(feature = "shared-redis")]
pub(crate) trait SharedIntrospection: Send + Sync {
    /// True while the shared store is in use (not skipped after a failure).
    fn reachable(&self) -> bool;

    /// The shared answer for `hash`, else one call for the cluster within its budget, else
    /// (the store failing) `introspector`'s own way ([`Introspector::call_alone`]).
    fn introspect<'a>(
        self: Arc<Self>,
        introspector: &'a Introspector,
        hash: TokenHash,
        token: &'a str,
        endpoint: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = CallResult> + Send + 'a>>;
}

impl std::fmt::Debug for IntrospectionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("endpoint", &self.endpoint)
            .field("cache_ttl", &self.cache_ttl)
            .field("max_calls_per_second", &self.max_calls_per_second)
            .field("max_concurrent_calls", &self.max_concurrent_calls)
            .finish_non_exhaustive()
    }
}

impl IntrospectionConfig {
    /// Defaults for this client.
    #[must_use]
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        IntrospectionConfig {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            endpoint: None,
            cache_ttl: Duration::from_secs(60),
            max_entries: 10_000,
            timeout: Duration::from_secs(5),
            max_calls_per_second: 50,
            max_concurrent_calls: 10,
            #[cfg(feature = "shared-redis")]
            shared: None,
        }
    }

    /// Sets [`IntrospectionConfig::endpoint`] (default: discovery's `introspection_endpoint`,
    /// else `<issuer>/oauth2/introspect`).
    #[must_use]
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Sets [`IntrospectionConfig::cache_ttl`] (default 60 s: a revoked token is refused after
    /// at most this).
    #[must_use]
    pub fn cache_ttl(mut self, cache_ttl: Duration) -> Self {
        self.cache_ttl = cache_ttl;
        self
    }

    /// Sets [`IntrospectionConfig::max_entries`] (default 10,000).
    #[must_use]
    pub fn max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries;
        self
    }

    /// Sets [`IntrospectionConfig::timeout`] (default 5 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`IntrospectionConfig::max_calls_per_second`] (default 50).
    #[must_use]
    pub fn max_calls_per_second(mut self, max_calls_per_second: u32) -> Self {
        self.max_calls_per_second = max_calls_per_second;
        self
    }

    /// Sets [`IntrospectionConfig::max_concurrent_calls`] (default 10).
    #[must_use]
    pub fn max_concurrent_calls(mut self, max_concurrent_calls: u32) -> Self {
        self.max_concurrent_calls = max_concurrent_calls;
        self
    }
}

/// One introspection answer (claims map) or why there is none, shared by the callers of a call.
pub(crate) type CallResult = Result<Map<String, Value>, VerifyError>;

pub(crate) struct Introspector {
    cfg: IntrospectionConfig,
    http: reqwest::Client,
    cache: TtlMap<TokenHash, Map<String, Value>>,
    flights: SingleFlight<TokenHash, CallResult>,
    budget: Budget,
    calls: std::sync::atomic::AtomicU64,
    allow_remote_http: bool,
    #[cfg(feature = "shared-redis")]
    shared: Option<Arc<dyn SharedIntrospection>>,
    /// Makes the next call panic (tests of the single-flight's slot release).
    #[cfg(test)]
    panic_next_call: std::sync::atomic::AtomicBool,
}

pub(crate) fn unavailable() -> VerifyError {
    VerifyError::KeysUnavailable {
        reason: KeysUnavailable::Introspection,
        retry_after: Duration::from_secs(5),
    }
}

pub(crate) fn over_budget() -> VerifyError {
    VerifyError::KeysUnavailable {
        reason: KeysUnavailable::Introspection,
        retry_after: Duration::from_secs(1),
    }
}

/// The per-process introspection budget: a token bucket (calls per second) and a semaphore
/// (calls at once). Taken only when a call is about to start.
struct Budget {
    per_second: f64,
    bucket: Mutex<(f64, Instant)>,
    concurrent: Arc<tokio::sync::Semaphore>,
}

impl Budget {
    fn new(per_second: u32, concurrent: u32) -> Self {
        let per_second = f64::from(per_second.max(1));
        Budget {
            per_second,
            bucket: Mutex::new((per_second, Instant::now())),
            concurrent: Arc::new(tokio::sync::Semaphore::new(concurrent.max(1) as usize)),
        }
    }

    /// A permit for one call, or `None` when over the rate or the concurrency bound.
    fn take(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let permit = self.concurrent.clone().try_acquire_owned().ok()?;
        let mut bucket = self.bucket.lock().ok()?;
        let now = Instant::now();
        let (tokens, last) = *bucket;
        let refilled = (tokens + now.duration_since(last).as_secs_f64() * self.per_second)
            .min(self.per_second);
        if refilled < 1.0 {
            *bucket = (refilled, now);
            return None;
        }
        *bucket = (refilled - 1.0, now);
        Some(permit)
    }
}

/// True when `token` has RFC 6750's `b64token` syntax (`[A-Za-z0-9-._~+/]+ "="*`): anything
/// else cannot be an access token and is refused without a call.
pub(crate) fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// `token_type` values that name a refresh token (RFC 7662 §2.2 leaves the vocabulary open;
/// RFC 8693 names the URN).
fn names_refresh_token(token_type: &str) -> bool {
    token_type.eq_ignore_ascii_case("refresh_token")
        || token_type.eq_ignore_ascii_case("refresh-token")
        || token_type.eq_ignore_ascii_case("urn:ietf:params:oauth:token-type:refresh_token")
}

impl Introspector {
    pub(crate) fn new(
        cfg: IntrospectionConfig,
        allow_remote_http: bool,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(cfg.timeout)
            .redirect(redirect_policy(allow_remote_http))
            .build()?;
        Ok(Introspector {
            #[cfg(feature = "shared-redis")]
            shared: cfg.shared.clone(),
            cache: TtlMap::new(cfg.max_entries),
            // The call itself is bounded by `timeout`; the wait a little longer so a waiter
            // sees the call's own timeout error rather than its own.
            flights: SingleFlight::new(cfg.timeout + Duration::from_secs(1)),
            budget: Budget::new(cfg.max_calls_per_second, cfg.max_concurrent_calls),
            cfg,
            http,
            calls: std::sync::atomic::AtomicU64::new(0),
            allow_remote_http,
            #[cfg(test)]
            panic_next_call: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub(crate) fn explicit_endpoint(&self) -> Option<&str> {
        self.cfg.endpoint.as_deref()
    }

    #[cfg(feature = "testing")]
    pub(crate) fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    #[cfg(feature = "testing")]
    pub(crate) fn cached_entries(&self) -> usize {
        self.cache.len()
    }

    /// The active response for `token` (cached, single-flight), as a claims map: `sub` falls
    /// back to `client_id` and `aud` to `client_id`, so client-credentials tokens fit.
    pub(crate) async fn introspect(
        self: &Arc<Self>,
        token: &str,
        endpoint: &str,
    ) -> Result<Map<String, Value>, VerifyError> {
        let hash = TokenCache::hash(token);
        if let Some(map) = self.cache.get(&hash) {
            return Ok(map);
        }
        // The permit of a call this caller starts; taken under the single-flight's lock only
        // when no call for this token is in flight and none finished since the look above.
        let permit = std::cell::Cell::new(None);
        let check = || {
            if let Some(map) = self.cache.get(&hash) {
                return Some(Ok(map));
            }
            if self.shares() {
                // Redis is asked (and the cluster's budget taken) inside the call.
                return None;
            }
            match self.budget.take() {
                Some(p) => {
                    permit.set(Some(p));
                    None
                }
                None => {
                    tracing::warn!("introspection budget exhausted; answering 503");
                    Some(Err(over_budget()))
                }
            }
        };
        let body = || {
            let this = self.clone();
            let token = token.to_string();
            let endpoint = endpoint.to_string();
            let permit = permit.take();
            async move {
                #[cfg(test)]
                if this
                    .panic_next_call
                    .swap(false, std::sync::atomic::Ordering::AcqRel)
                {
                    panic!("injected introspection panic");
                }
                match permit {
                    Some(permit) => this.call_and_store(hash, &token, &endpoint, permit).await,
                    None => this.shared_call(hash, &token, &endpoint).await,
                }
            }
        };
        match self.flights.join_or_start(hash, check, body) {
            Joined::Ready(result) => result,
            Joined::Flight(call) => call.wait().await.unwrap_or_else(|_| Err(unavailable())),
        }
    }

    /// True when answers and budget go through Redis now (configured, and not skipped after
    /// a failure).
    fn shares(&self) -> bool {
        #[cfg(feature = "shared-redis")]
        if let Some(shared) = &self.shared {
            return shared.reachable();
        }
        false
    }

    /// One call within this process's budget (`permit`), its active answer cached here.
    async fn call_and_store(
        &self,
        hash: TokenHash,
        token: &str,
        endpoint: &str,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> CallResult {
        let result = self.call(token, endpoint).await;
        drop(permit);
        if let Ok(map) = &result {
            self.cache.insert(hash, map.clone(), self.ttl_of(map));
        }
        result
    }

    /// The way without Redis, from inside a call: this process's budget, then the SSO.
    pub(crate) async fn call_alone(
        &self,
        hash: TokenHash,
        token: &str,
        endpoint: &str,
    ) -> CallResult {
        match self.budget.take() {
            Some(permit) => self.call_and_store(hash, token, endpoint, permit).await,
            None => {
                tracing::warn!("introspection budget exhausted; answering 503");
                Err(over_budget())
            }
        }
    }

    /// Redis's answer, else one call for the cluster shared through Redis
    /// (`shared::RedisIntrospection`); without it, [`call_alone`](Self::call_alone).
    async fn shared_call(&self, hash: TokenHash, token: &str, endpoint: &str) -> CallResult {
        #[cfg(feature = "shared-redis")]
        if let Some(shared) = &self.shared {
            return Arc::clone(shared)
                .introspect(self, hash, token, endpoint)
                .await;
        }
        self.call_alone(hash, token, endpoint).await
    }

    #[cfg(feature = "shared-redis")]
    pub(crate) fn config(&self) -> &IntrospectionConfig {
        &self.cfg
    }

    /// Caches an active answer here for `ttl`.
    #[cfg(feature = "shared-redis")]
    pub(crate) fn remember(&self, hash: TokenHash, map: &Map<String, Value>, ttl: Duration) {
        self.cache.insert(hash, map.clone(), ttl);
    }

    /// How long an active answer may be reused: min(`exp`, `cache_ttl`).
    pub(crate) fn ttl_of(&self, map: &Map<String, Value>) -> Duration {
        let now_unix = unix_now();
        let exp = map
            .get("exp")
            .and_then(Value::as_i64)
            .unwrap_or(now_unix + 60);
        let left = u64::try_from(exp.saturating_sub(now_unix)).unwrap_or(0);
        self.cfg.cache_ttl.min(Duration::from_secs(left))
    }

    pub(crate) async fn call(
        &self,
        token: &str,
        endpoint: &str,
    ) -> Result<Map<String, Value>, VerifyError> {
        if !self.allow_remote_http && crate::fetch::is_remote_plain_http(endpoint) {
            tracing::error!(
                endpoint,
                "introspection endpoint is plain http to a non-loopback host; refused"
            );
            return Err(unavailable());
        }
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            form_encode(&self.cfg.client_id),
            form_encode(&self.cfg.client_secret)
        ));
        let response = self
            .http
            .post(endpoint)
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(format!(
                "token={}&token_type_hint=access_token",
                form_encode(token)
            ))
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(
                    endpoint,
                    timeout = e.is_timeout(),
                    "introspection call failed"
                );
                unavailable()
            })?;
        let status = response.status();
        if !status.is_success() {
            tracing::error!(
                endpoint,
                status = status.as_u16(),
                "introspection endpoint refused the call (check the client id/secret)"
            );
            return Err(unavailable());
        }
        let bytes = read_bounded(response, endpoint, MAX_REPLY_BYTES)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "introspection reply refused");
                unavailable()
            })?;
        let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(&bytes) else {
            return Err(unavailable());
        };
        if map.get("active") != Some(&Value::Bool(true)) {
            return Err(VerifyError::Inactive);
        }
        map.remove("active");
        if let Some(token_type) = map.remove("token_type") {
            if token_type.as_str().is_none_or(names_refresh_token) {
                return Err(VerifyError::UnexpectedTokenType);
            }
        }
        let client_id = map.get("client_id").cloned();
        if !map.contains_key("sub") {
            // No subject: a client-credentials token (Better Auth answers those without `sub`)
            // only when nothing in the answer points at a user: no `username` (RFC 7662's
            // resource owner) and no session (`sid`). A user's token from a provider that
            // omits `sub` is refused rather than taken for the client itself.
            let names_a_user = map.contains_key("username") || map.contains_key("sid");
            match &client_id {
                Some(id @ Value::String(_)) if !names_a_user => {
                    tracing::debug!(
                        "introspection answer without sub: taken as a client-credentials caller"
                    );
                    map.insert("sub".into(), id.clone());
                }
                _ => return Err(VerifyError::MissingClaim("sub")),
            }
        }
        if !map.contains_key("aud") {
            if let Some(id) = client_id {
                map.insert("aud".into(), id);
            }
        }
        if !map.contains_key("exp") {
            map.insert("exp".into(), Value::from(unix_now() + 60));
        }
        Ok(map)
    }
}

/// True when a bearer value cannot be a compact JWS (so it is an opaque token).
pub(crate) fn looks_opaque(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() != 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_detection() {
        assert!(looks_opaque("abcDEF123"));
        assert!(looks_opaque("a.b.c.d.e"));
        assert!(!looks_opaque("a.b.c"));
    }

    #[test]
    fn b64token_syntax() {
        for ok in ["abc", "a-b.c_d~e+f/g", "abc==", "A1"] {
            assert!(is_b64token(ok), "{ok}");
        }
        for bad in [
            "", "==", "a b", "a=b", "a%b", "a\"b", "é", "a,b", "<script>",
        ] {
            assert!(!is_b64token(bad), "{bad}");
        }
    }

    #[test]
    fn refresh_token_types() {
        assert!(names_refresh_token("refresh_token"));
        assert!(names_refresh_token(
            "urn:ietf:params:oauth:token-type:refresh_token"
        ));
        assert!(!names_refresh_token("Bearer") && !names_refresh_token("access_token"));
    }

    #[tokio::test]
    async fn budget_bounds_rate_and_concurrency() {
        let budget = Budget::new(5, 2);
        let a = budget.take().expect("first");
        let b = budget.take().expect("second");
        assert!(budget.take().is_none(), "two at once at most");
        drop((a, b));
        let taken = (0..10).filter_map(|_| budget.take()).count();
        assert_eq!(taken, 3, "five per second: two used, three left");
    }

    mod single_flight {
        use super::*;
        use crate::testing::{Fault, TestIssuer};
        use std::sync::atomic::Ordering;

        fn introspector() -> Arc<Introspector> {
            let cfg = IntrospectionConfig::new("test-client", "test-secret");
            Arc::new(Introspector::new(cfg, false).expect("client"))
        }

        fn opaque(issuer: &TestIssuer) -> String {
            issuer.issue_opaque(serde_json::json!({
                "iss": issuer.issuer(), "client_id": "test-client", "sub": "alice",
                "exp": unix_now() + 600,
            }))
        }

        fn endpoint(issuer: &TestIssuer) -> String {
            format!("{}/oauth2/introspect", issuer.issuer())
        }

        #[tokio::test]
        async fn a_panicking_call_frees_the_slot_and_the_next_call_calls_again() {
            let issuer = TestIssuer::start().await.expect("issuer");
            let (i, token) = (introspector(), opaque(&issuer));
            i.panic_next_call.store(true, Ordering::SeqCst);
            let err = i.introspect(&token, &endpoint(&issuer)).await.unwrap_err();
            assert!(err.is_unavailable(), "{err:?}");
            i.flights.until_idle().await;
            assert!(i.introspect(&token, &endpoint(&issuer)).await.is_ok());
            assert_eq!(issuer.introspections(), 1);
        }

        #[tokio::test]
        async fn an_aborted_call_frees_the_slot_and_the_next_call_calls_again() {
            let issuer = TestIssuer::start().await.expect("issuer");
            issuer.set_fault(Some(Fault::Slow(Duration::from_secs(10))));
            let (i, token) = (introspector(), opaque(&issuer));
            let waiting = tokio::spawn({
                let (i, token, endpoint) = (i.clone(), token.clone(), endpoint(&issuer));
                async move { i.introspect(&token, &endpoint).await }
            });
            while issuer.introspections() == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            i.flights.abort_last();
            assert!(waiting.await.expect("task").unwrap_err().is_unavailable());
            i.flights.until_idle().await;
            issuer.set_fault(None);
            assert!(i.introspect(&token, &endpoint(&issuer)).await.is_ok());
            assert_eq!(issuer.introspections(), 2);
        }

        #[tokio::test]
        async fn a_caller_that_gives_up_leaves_the_call_to_the_others() {
            let issuer = TestIssuer::start().await.expect("issuer");
            issuer.set_fault(Some(Fault::Slow(Duration::from_millis(200))));
            let (i, token) = (introspector(), opaque(&issuer));
            let gave_up = tokio::time::timeout(
                Duration::from_millis(20),
                i.introspect(&token, &endpoint(&issuer)),
            )
            .await;
            assert!(gave_up.is_err(), "the caller was cancelled mid-call");
            assert!(i.introspect(&token, &endpoint(&issuer)).await.is_ok());
            assert_eq!(issuer.introspections(), 1, "joined, not called again");
        }

        #[test]
        fn a_call_dropped_with_its_runtime_frees_the_slot() {
            let server = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            let issuer = server.block_on(TestIssuer::start()).expect("issuer");
            issuer.set_fault(Some(Fault::Slow(Duration::from_secs(10))));
            let (i, token) = (introspector(), opaque(&issuer));
            let first = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            first.block_on(async {
                let endpoint = endpoint(&issuer);
                let call = i.introspect(&token, &endpoint);
                let _ = tokio::time::timeout(Duration::from_millis(300), call).await;
            });
            drop(first);
            assert_eq!(i.flights.in_flight(), 0);
            issuer.set_fault(None);
            let second = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            assert!(
                second
                    .block_on(i.introspect(&token, &endpoint(&issuer)))
                    .is_ok()
            );
        }
    }
}
