//! The JWKS cache: keys parsed once, read lock-free, refreshed by one fetch at a time.
//!
//! Guarantees:
//! - The hot path is an `ArcSwap` load and a `HashMap` lookup; no lock is taken for a known kid
//!   and no request for a known kid ever waits on a fetch.
//! - At most one fetch is in flight. It runs in its own task; callers that need its result wait
//!   on a shared future with a bound ([`JwksConfig::wait_timeout`]). No lock is held across I/O.
//! - An unknown `kid` triggers at most one refetch per [`JwksConfig::refetch_cooldown`]; kids
//!   still unknown after a refetch are remembered until the next successful refresh.
//! - A failed refresh keeps the last good set for [`JwksConfig::max_stale`] past its expiry, then
//!   fails closed with [`VerifyError::KeysUnavailable`] (a 503, never a 401).
//!
//! The settings are in `config`, one parsed key set and its lookups in `key_set`; this file is the
//! cache and its refresh task.

mod config;
mod key_set;

pub use config::JwksConfig;
pub(crate) use key_set::KeySet;
use key_set::Lookup;

use crate::algorithm::Algorithm;
use crate::discovery::{self, ProviderMetadata};
use crate::error::{KeysUnavailable, VerifyError};
use crate::fetch::HttpFetcher;
use crate::jwk::{ParsedKeySet, VerifyingKey, parse_jwks};
use crate::metrics::Metrics;
use crate::single_flight::{Flight, Joined, SingleFlight};
use arc_swap::ArcSwapOption;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// The result of one fetch, shared by every caller waiting on it.
type FetchResult = Result<Arc<KeySet>, String>;

/// Where keys and the issuer come from.
#[derive(Debug, Clone)]
pub(crate) struct KeySource {
    /// Origin or issuer to run discovery against.
    pub(crate) discovery_base: Option<String>,
    /// Configured issuer (overrides discovery's).
    pub(crate) issuer: Option<String>,
    /// Configured JWKS URL (overrides discovery's).
    pub(crate) jwks_url: Option<String>,
    /// Whether the issuer is needed (false only when the issuer check is disabled).
    pub(crate) need_issuer: bool,
}

/// Status of the key cache, for readiness probes and diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct KeyStatus {
    /// A key set is loaded and within its staleness bound.
    pub ready: bool,
    /// Usable keys in the current set.
    pub keys: usize,
    /// Keys skipped in the current set.
    pub skipped: usize,
    /// Seconds since the current set was fetched.
    pub age_secs: Option<u64>,
    /// The current set is past its TTL (being refreshed or served stale).
    pub expired: bool,
    /// The last fetch error, if the last fetch failed.
    pub last_error: Option<String>,
}

pub(crate) struct JwksCache {
    inner: Arc<CacheInner>,
}

struct CacheInner {
    cfg: JwksConfig,
    allowed: Vec<Algorithm>,
    http: HttpFetcher,
    source: KeySource,
    current: ArcSwapOption<KeySet>,
    metadata: ArcSwapOption<ProviderMetadata>,
    /// The one fetch in flight (unit key), bounded by [`JwksConfig::wait_timeout`].
    flights: SingleFlight<(), FetchResult>,
    last_forced: Mutex<Option<Instant>>,
    last_failure: Mutex<Option<(Instant, String)>>,
    refresher_started: AtomicBool,
    generation: AtomicU64,
    installed: Arc<tokio::sync::Notify>,
    /// Keys given at build time: never fetched, never expire.
    fixed: bool,
    metrics: Arc<Metrics>,
    /// Makes the next fetch panic (tests of the single-flight's slot release).
    #[cfg(test)]
    panic_next_fetch: AtomicBool,
}

impl JwksCache {
    pub(crate) fn new(
        cfg: JwksConfig,
        allowed: Vec<Algorithm>,
        http: HttpFetcher,
        source: KeySource,
        metrics: Arc<Metrics>,
    ) -> Self {
        JwksCache {
            inner: Arc::new(CacheInner {
                flights: SingleFlight::new(cfg.wait_timeout),
                cfg,
                allowed,
                http,
                source,
                current: ArcSwapOption::empty(),
                metadata: ArcSwapOption::empty(),
                last_forced: Mutex::new(None),
                last_failure: Mutex::new(None),
                refresher_started: AtomicBool::new(false),
                generation: AtomicU64::new(0),
                installed: Arc::new(tokio::sync::Notify::new()),
                fixed: false,
                metrics,
                #[cfg(test)]
                panic_next_fetch: AtomicBool::new(false),
            }),
        }
    }

    /// A cache over a fixed key set (no fetching, no expiry).
    pub(crate) fn fixed(
        cfg: JwksConfig,
        allowed: Vec<Algorithm>,
        http: HttpFetcher,
        source: KeySource,
        metrics: Arc<Metrics>,
        keys: ParsedKeySet,
    ) -> Self {
        let mut cache = Self::new(cfg, allowed, http, source, metrics);
        if let Some(inner) = Arc::get_mut(&mut cache.inner) {
            inner.fixed = true;
            inner.refresher_started = AtomicBool::new(true);
        }
        let now = Instant::now();
        let far = Duration::from_secs(100 * 365 * 24 * 3600);
        cache.inner.generation.store(1, Ordering::Release);
        cache.inner.current.store(Some(Arc::new(KeySet {
            generation: 1,
            by_kid: keys.by_kid(),
            keys: keys.keys,
            skipped: keys.skipped,
            fetched_at: now,
            expires_at: now + far,
            unknown_kids: Mutex::new(HashSet::new()),
        })));
        cache
    }

    /// The issuer tokens are checked against: configured, or learned by discovery.
    pub(crate) fn issuer(&self) -> Option<Arc<str>> {
        if let Some(issuer) = &self.inner.source.issuer {
            return Some(Arc::from(issuer.as_str()));
        }
        self.inner
            .metadata
            .load()
            .as_ref()
            .map(|m| Arc::from(m.issuer.as_str()))
    }

    /// Whether `iss` is the expected issuer, without allocating; `None` before discovery ran.
    pub(crate) fn issuer_matches(&self, iss: &str) -> Option<bool> {
        if let Some(issuer) = &self.inner.source.issuer {
            return Some(issuer == iss);
        }
        self.inner.metadata.load().as_ref().map(|m| m.issuer == iss)
    }

    pub(crate) fn metadata(&self) -> Option<Arc<ProviderMetadata>> {
        self.inner.metadata.load_full()
    }

    pub(crate) fn current(&self) -> Option<Arc<KeySet>> {
        self.inner.current.load_full()
    }

    pub(crate) fn current_generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    pub(crate) fn status(&self) -> KeyStatus {
        let set = self.inner.current.load_full();
        let now = Instant::now();
        let last_error = self
            .inner
            .last_failure
            .lock()
            .ok()
            .and_then(|f| f.as_ref().map(|(_, e)| e.clone()));
        match set {
            Some(set) => KeyStatus {
                ready: now < set.expires_at + self.inner.cfg.max_stale,
                keys: set.keys.len(),
                skipped: set.skipped.len(),
                age_secs: Some(now.duration_since(set.fetched_at).as_secs()),
                expired: now >= set.expires_at,
                last_error,
            },
            None => KeyStatus {
                ready: false,
                keys: 0,
                skipped: 0,
                age_secs: None,
                expired: false,
                last_error,
            },
        }
    }

    /// Loads the keys now (waiting up to the wait bound) and starts the background refresher.
    pub(crate) async fn warm_up(&self) -> Result<(), VerifyError> {
        self.ensure_refresher();
        if self.inner.current.load().is_some() {
            return Ok(());
        }
        self.load_initial().await.map(|_| ())
    }

    /// Finds the key for a token header, fetching as the rules allow.
    pub(crate) async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
        may_refetch: impl FnOnce() -> bool,
    ) -> Result<(Arc<VerifyingKey>, u64), VerifyError> {
        self.ensure_refresher();
        let mut set = match self.inner.current.load_full() {
            Some(set) => set,
            None => self.load_initial().await?,
        };
        let now = Instant::now();
        if now >= set.expires_at {
            if now >= set.expires_at + self.inner.cfg.max_stale {
                set = self.refresh_stale().await?;
            } else if self.inner.retry_allowed(now) {
                // Expired but within the staleness bound: serve it, refresh behind the request.
                drop(self.inner.start_or_join());
            }
        }
        match set.find(kid, alg) {
            Lookup::Found(key) => Ok((key, set.generation)),
            Lookup::Mismatch => Err(VerifyError::AlgorithmMismatch),
            Lookup::Ambiguous => Err(VerifyError::AmbiguousKey),
            Lookup::NotFound => self.unknown_kid(set, kid, alg, may_refetch).await,
        }
    }

    async fn unknown_kid(
        &self,
        set: Arc<KeySet>,
        kid: Option<&str>,
        alg: Algorithm,
        may_refetch: impl FnOnce() -> bool,
    ) -> Result<(Arc<VerifyingKey>, u64), VerifyError> {
        if self.inner.fixed || set.is_known_unknown(kid) {
            return Err(VerifyError::UnknownKey);
        }
        if !may_refetch() {
            return Err(VerifyError::IssuerMismatch);
        }
        let fetch = match self.inner.flights.join(&()) {
            Some(fetch) => Some(fetch),
            None if self.inner.take_forced_slot() => self.inner.start_or_join(),
            None => None,
        };
        let Some(fetch) = fetch else {
            set.remember_unknown(kid);
            return Err(VerifyError::UnknownKey);
        };
        match fetch.wait().await {
            Ok(Ok(new)) => match new.find(kid, alg) {
                Lookup::Found(key) => Ok((key, new.generation)),
                Lookup::Mismatch => Err(VerifyError::AlgorithmMismatch),
                Lookup::Ambiguous => Err(VerifyError::AmbiguousKey),
                Lookup::NotFound => {
                    new.remember_unknown(kid);
                    Err(VerifyError::UnknownKey)
                }
            },
            _ => {
                set.remember_unknown(kid);
                Err(VerifyError::UnknownKey)
            }
        }
    }

    async fn load_initial(&self) -> Result<Arc<KeySet>, VerifyError> {
        self.wait_for_fresh(KeysUnavailable::NotLoaded, |_| true)
            .await
    }

    async fn refresh_stale(&self) -> Result<Arc<KeySet>, VerifyError> {
        let max_stale = self.inner.cfg.max_stale;
        let usable = |set: &KeySet| Instant::now() < set.expires_at + max_stale;
        let set = self.wait_for_fresh(KeysUnavailable::Stale, usable).await?;
        if !usable(&set) {
            return Err(self.unavailable(KeysUnavailable::Stale));
        }
        Ok(set)
    }

    /// Joins the in-flight fetch, or starts one unless the last failure is within the cooldown.
    ///
    /// With no fetch in flight, a set the caller can use may have been installed since it looked
    /// (a fetch installs its set before it leaves the in-flight slot): that set is returned
    /// instead of starting another fetch, so a cold-start stampede makes exactly one.
    async fn wait_for_fresh(
        &self,
        reason: KeysUnavailable,
        usable: impl Fn(&KeySet) -> bool,
    ) -> Result<Arc<KeySet>, VerifyError> {
        // Decided under the single-flight's lock, which a fetch leaves only after installing:
        // no fetch can finish unseen between the check and the start.
        let check = || {
            if let Some(set) = self.inner.current.load_full().filter(|set| usable(set)) {
                return Some(Ok(set));
            }
            (!self.inner.retry_allowed(Instant::now())).then(|| Err("in the cooldown".into()))
        };
        let result = match self
            .inner
            .flights
            .join_or_start((), check, self.inner.fetch_body())
        {
            Joined::Ready(result) => result,
            Joined::Flight(fetch) => fetch.wait().await.unwrap_or_else(|_| Err(String::new())),
        };
        result.map_err(|_| self.unavailable(reason))
    }

    fn unavailable(&self, reason: KeysUnavailable) -> VerifyError {
        VerifyError::KeysUnavailable {
            reason,
            retry_after: self.inner.cfg.refetch_cooldown,
        }
    }

    fn ensure_refresher(&self) {
        // A plain load on the hot path: the swap (a write to a shared cache line) happens once.
        if self.inner.refresher_started.load(Ordering::Acquire)
            || self.inner.refresher_started.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(refresh_loop(weak));
    }
}

async fn refresh_loop(weak: Weak<CacheInner>) {
    loop {
        let (delay, installed) = match weak.upgrade() {
            Some(inner) => (inner.next_refresh_delay(), inner.installed.clone()),
            None => return,
        };
        // A set installed by someone else (first load, unknown-kid refetch) reschedules us.
        let notified = installed.notified();
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = notified => continue,
        }
        let fetch = match weak.upgrade() {
            Some(inner) => inner.start_or_join(),
            None => return,
        };
        if let Some(fetch) = fetch {
            let _ = fetch.wait().await;
        }
    }
}

impl CacheInner {
    fn next_refresh_delay(&self) -> Duration {
        let now = Instant::now();
        let floor = Duration::from_millis(100);
        let failed_since_fetch = self
            .last_failure
            .lock()
            .ok()
            .and_then(|f| f.as_ref().map(|(t, _)| *t));
        match self.current.load_full() {
            Some(set) if failed_since_fetch.is_none_or(|t| t < set.fetched_at) => {
                let ttl = set.expires_at.duration_since(set.fetched_at);
                let ahead = self.cfg.refresh_ahead.min(ttl / 10);
                (set.expires_at - ahead)
                    .saturating_duration_since(now)
                    .max(floor)
            }
            _ => self.cfg.refetch_cooldown.max(floor),
        }
    }

    /// A fetch after a failure waits for the cooldown.
    fn retry_allowed(&self, now: Instant) -> bool {
        self.last_failure
            .lock()
            .map(|f| {
                f.as_ref()
                    .is_none_or(|(t, _)| now.duration_since(*t) >= self.cfg.refetch_cooldown)
            })
            .unwrap_or(true)
    }

    /// Claims the once-per-cooldown unknown-kid refetch.
    fn take_forced_slot(&self) -> bool {
        let now = Instant::now();
        let Ok(mut last) = self.last_forced.lock() else {
            return false;
        };
        if last.is_some_and(|t| now.duration_since(t) < self.cfg.refetch_cooldown) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// Joins the fetch in flight or starts one (`None` only if the cache answered instead,
    /// which this caller never asks it to).
    fn start_or_join(self: &Arc<Self>) -> Option<Flight<FetchResult>> {
        match self.flights.join_or_start((), || None, self.fetch_body()) {
            Joined::Flight(fetch) => Some(fetch),
            Joined::Ready(_) => None,
        }
    }

    /// What a fetch runs in its own task: fetch, parse, install.
    fn fetch_body(
        self: &Arc<Self>,
    ) -> impl FnOnce() -> futures_util::future::BoxFuture<'static, FetchResult> {
        let inner = self.clone();
        move || {
            Box::pin(async move {
                #[cfg(test)]
                if inner.panic_next_fetch.swap(false, Ordering::AcqRel) {
                    panic!("injected JWKS fetch panic");
                }
                inner.fetch_and_install().await
            })
        }
    }

    async fn fetch_and_install(&self) -> Result<Arc<KeySet>, String> {
        let result = self.fetch_set().await;
        match result {
            Ok((parsed, max_age)) => Ok(self.install(parsed, max_age)),
            Err(message) => {
                Metrics::incr(&self.metrics.jwks_fetch_failures);
                let stale_for = self.current.load().as_ref().map(|s| {
                    Instant::now()
                        .saturating_duration_since(s.expires_at)
                        .as_secs()
                });
                tracing::warn!(error = %message, stale_for_secs = ?stale_for, "JWKS refresh failed; keeping the last good key set");
                if let Ok(mut f) = self.last_failure.lock() {
                    *f = Some((Instant::now(), message.clone()));
                }
                Err(message)
            }
        }
    }

    async fn fetch_set(&self) -> Result<(ParsedKeySet, Option<Duration>), String> {
        let need_metadata = self.source.jwks_url.is_none()
            || (self.source.need_issuer && self.source.issuer.is_none());
        if need_metadata && self.metadata.load().is_none() {
            let base = self
                .source
                .discovery_base
                .as_deref()
                .or(self.source.issuer.as_deref())
                .ok_or_else(|| "no discovery URL configured".to_string())?;
            Metrics::incr(&self.metrics.discovery_fetches);
            let meta = discovery::discover(&self.http, base, self.source.issuer.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            self.metadata.store(Some(Arc::new(meta)));
        }
        let url = match &self.source.jwks_url {
            Some(url) => url.clone(),
            None => self
                .metadata
                .load()
                .as_ref()
                .map(|m| m.jwks_uri.clone())
                .ok_or_else(|| "no JWKS URL known".to_string())?,
        };
        Metrics::incr(&self.metrics.jwks_fetches);
        tracing::debug!(url = %url, "fetching JWKS");
        let fetched = self.http.get(&url).await.map_err(|e| e.to_string())?;
        let parsed = parse_jwks(&fetched.bytes, &self.allowed, self.cfg.max_keys)
            .map_err(|e| format!("{url}: {e}"))?;
        Ok((parsed, fetched.max_age))
    }

    fn install(&self, parsed: ParsedKeySet, max_age: Option<Duration>) -> Arc<KeySet> {
        for skipped in &parsed.skipped {
            tracing::warn!(kid = ?skipped.kid, reason = %skipped.reason, "skipping unusable JWKS key");
        }
        let ttl = match (self.cfg.respect_cache_control, max_age) {
            // Not `clamp`, which panics when min > max (also refused by `build`).
            (true, Some(age)) => age.max(self.cfg.min_ttl).min(self.cfg.max_ttl),
            _ => self.cfg.ttl,
        };
        let now = Instant::now();
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let set = Arc::new(KeySet {
            generation,
            by_kid: parsed.by_kid(),
            keys: parsed.keys,
            skipped: parsed.skipped,
            fetched_at: now,
            expires_at: now + ttl,
            unknown_kids: Mutex::new(HashSet::new()),
        });
        self.current.store(Some(set.clone()));
        if let Ok(mut f) = self.last_failure.lock() {
            *f = None;
        }
        self.installed.notify_waiters();
        tracing::info!(
            keys = set.keys.len(),
            skipped = set.skipped.len(),
            ttl_secs = ttl.as_secs(),
            generation,
            "JWKS loaded"
        );
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Fault, TestIssuer};

    fn cache(issuer: &TestIssuer) -> JwksCache {
        let cfg = JwksConfig::default();
        let http = HttpFetcher::new(None, cfg.connect_timeout, cfg.fetch_timeout, 1 << 20)
            .expect("client");
        let source = KeySource {
            discovery_base: None,
            issuer: Some(issuer.issuer().to_string()),
            jwks_url: Some(issuer.jwks_url()),
            need_issuer: true,
        };
        JwksCache::new(
            cfg,
            Algorithm::ALL.to_vec(),
            http,
            source,
            Arc::new(Metrics::default()),
        )
    }

    #[tokio::test]
    async fn min_ttl_above_max_ttl_cannot_panic_the_install() {
        // `build` refuses this; the install must not panic even if it were reached.
        let issuer = TestIssuer::start().await.expect("issuer");
        issuer.set_cache_control(Some("max-age=300"));
        let mut cache = cache(&issuer);
        if let Some(inner) = Arc::get_mut(&mut cache.inner) {
            inner.cfg.min_ttl = Duration::from_secs(600);
            inner.cfg.max_ttl = Duration::from_secs(60);
        }
        assert!(cache.warm_up().await.is_ok());
    }

    #[tokio::test]
    async fn a_panicking_fetch_frees_the_slot_and_the_next_call_fetches_again() {
        let issuer = TestIssuer::start().await.expect("issuer");
        let cache = cache(&issuer);
        cache.inner.panic_next_fetch.store(true, Ordering::SeqCst);
        assert!(cache.warm_up().await.unwrap_err().is_unavailable());
        cache.inner.flights.until_idle().await;
        assert!(cache.warm_up().await.is_ok());
        assert_eq!(issuer.jwks_fetches(), 1);
    }

    #[tokio::test]
    async fn an_aborted_fetch_frees_the_slot_and_the_next_call_fetches_again() {
        let issuer = TestIssuer::start().await.expect("issuer");
        issuer.set_fault(Some(Fault::Slow(Duration::from_secs(10))));
        let cache = Arc::new(cache(&issuer));
        let waiting = tokio::spawn({
            let cache = cache.clone();
            async move { cache.load_initial().await.map(|_| ()) }
        });
        while issuer.jwks_fetches() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cache.inner.flights.abort_last();
        assert!(waiting.await.expect("task").unwrap_err().is_unavailable());
        cache.inner.flights.until_idle().await;
        issuer.set_fault(None);
        assert!(cache.load_initial().await.is_ok());
        assert_eq!(issuer.jwks_fetches(), 2);
    }

    #[tokio::test]
    async fn a_caller_that_gives_up_leaves_the_fetch_to_the_others() {
        let issuer = TestIssuer::start().await.expect("issuer");
        issuer.set_fault(Some(Fault::Slow(Duration::from_millis(200))));
        let cache = cache(&issuer);
        let gave_up = tokio::time::timeout(Duration::from_millis(20), cache.load_initial()).await;
        assert!(gave_up.is_err(), "the caller was cancelled mid-fetch");
        assert!(cache.load_initial().await.is_ok());
        assert_eq!(issuer.jwks_fetches(), 1, "joined, not refetched");
    }

    #[test]
    fn a_fetch_dropped_with_its_runtime_frees_the_slot() {
        let server = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let issuer = server.block_on(TestIssuer::start()).expect("issuer");
        issuer.set_fault(Some(Fault::Slow(Duration::from_secs(10))));
        let cache = cache(&issuer);
        let first = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        first.block_on(async {
            let _ = tokio::time::timeout(Duration::from_millis(300), cache.load_initial()).await;
        });
        drop(first);
        assert_eq!(cache.inner.flights.in_flight(), 0);
        issuer.set_fault(None);
        let second = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        assert!(second.block_on(cache.load_initial()).is_ok());
    }
}
