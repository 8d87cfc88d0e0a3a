//! The [`Verifier`]: a bearer JWT in, verified [`TokenClaims`] or a precise [`VerifyError`] out.

use crate::algorithm::Algorithm;
use crate::batch;
use crate::claims::TokenClaims;
use crate::discovery::{ProviderMetadata, trim_slash};
use crate::error::{ConfigError, KeysUnavailable, VerifyError};
use crate::fetch::HttpFetcher;
use crate::introspection::{IntrospectionConfig, Introspector, looks_opaque};
use crate::jwks::{JwksCache, JwksConfig, KeySource, KeyStatus};
use crate::jws;
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::token_cache::{TokenCache, TokenCacheConfig, Verified};
use crate::token_memo;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Verifies SSO tokens. Cheap to clone (one `Arc`); clones share keys, caches and metrics.
///
/// Build one with [`Verifier::builder`] at start-up and share it (axum: through `FromRef`).
/// Building does no I/O: keys are fetched on first use or by [`Verifier::warm_up`], so a
/// service starts even while the SSO is down and answers 503 until keys arrive.
///
/// # Example
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use ssoguard::Verifier;
///
/// let verifier = Verifier::builder()
///     .authority("http://localhost:3001") // origin or issuer; discovery finds /api/auth
///     .audience("rust-backend")           // SSO_CLIENT_ID
///     .build()?;
/// # let token = "";
/// let claims = verifier.verify(token).await?;
/// println!("user {} roles {:?}", claims.sub, claims.roles());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

/// Numbers verifiers, so a [`token_memo`] entry is only ever used by the verifier that made it.
static NEXT_VERIFIER_ID: AtomicU64 = AtomicU64::new(1);

struct Inner {
    /// This verifier's number ([`NEXT_VERIFIER_ID`]).
    id: u64,
    keys: JwksCache,
    audiences: Vec<String>,
    allowed: Vec<Algorithm>,
    leeway: i64,
    max_token_bytes: usize,
    check_issuer: bool,
    check_audience: bool,
    allow_sender_constrained: bool,
    token_cache: TokenCache,
    signature_batching: bool,
    introspector: Option<Arc<Introspector>>,
    purged_generation: AtomicU64,
    metrics: Arc<Metrics>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.issuer())
            .field("audiences", &self.inner.audiences)
            .field("algorithms", &self.inner.allowed)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Starts a builder with safe defaults.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::default()
    }

    /// Verifies a compact JWS and returns its claims.
    ///
    /// Checks, in order: size and shape, `crit`, algorithm allowlist, key (by `kid`, pinned to
    /// the key's type and `alg`), signature, then `exp`, `nbf`, `iat`, `iss`, `aud`, `sub`.
    ///
    /// # Errors
    ///
    /// A [`VerifyError`] naming the first failed check; [`VerifyError::KeysUnavailable`] when the
    /// SSO's keys cannot be obtained (a 503 condition, not the token's fault).
    pub async fn verify(&self, token: &str) -> Result<Arc<TokenClaims>, VerifyError> {
        let result = self.verify_inner(token).await;
        match &result {
            Ok(_) => Metrics::incr(&self.inner.metrics.verified),
            Err(e) => self.inner.metrics.record_failure(e),
        }
        result
    }

    async fn verify_inner(&self, token: &str) -> Result<Arc<TokenClaims>, VerifyError> {
        let inner = &*self.inner;
        if token.len() > inner.max_token_bytes {
            return Err(VerifyError::TokenTooLarge);
        }
        let now = unix_now();
        if let Some(introspector) = &inner.introspector {
            if looks_opaque(token) {
                return self.verify_opaque(introspector, token, now).await;
            }
        }
        let cached = inner.token_cache.enabled();
        let clock = Instant::now();
        // The installed key set, by the generation stored in it (read once, before the cache
        // lookup): a memo entry is valid only while this very set is installed.
        let installed = if cached {
            inner.keys.installed_generation()
        } else {
            0
        };
        if cached {
            // This connection's last token (crate::token_memo): no hash, no shared lock.
            if let Some(claims) = token_memo::lookup(inner.id, token, installed, clock) {
                self.check_times(&claims, now)?;
                Metrics::incr(&inner.metrics.cache_hits);
                Metrics::incr(&inner.metrics.memo_hits);
                return Ok(claims);
            }
        }
        let hash = cached.then(|| TokenCache::hash(token));
        if let Some(hash) = &hash {
            // A hit is accepted against the key set current at the check, `installed` or a
            // later one; the memo entry is tagged `installed`, so if a later set decided, the
            // memo misses from then on and the next request is checked here again.
            let hit = inner.token_cache.get(hash, clock, |generation, kid, key| {
                generation == inner.keys.current_generation()
                    || inner.keys.current().is_some_and(|set| set.holds(kid, key))
            });
            if let Some((claims, expires_at)) = hit {
                self.check_times(&claims, now)?;
                Metrics::incr(&inner.metrics.cache_hits);
                token_memo::store(inner.id, token, &claims, installed, expires_at);
                return Ok(claims);
            }
        }

        let jws = jws::split(token, inner.max_token_bytes)?;
        if jws.header.crit.is_some() {
            return Err(VerifyError::UnsupportedCritical);
        }
        let alg = jws
            .alg
            .filter(|a| inner.allowed.contains(a))
            .ok_or(VerifyError::UnsupportedAlgorithm)?;
        let (key, generation) = inner.keys.key_for(jws.header.kid.as_deref(), alg).await?;
        if !key.fits(alg) {
            return Err(VerifyError::AlgorithmMismatch);
        }
        let valid = if inner.signature_batching {
            let outcome = batch::verify(&key, alg, jws.signing_input, &jws.signature).await;
            if outcome.batched {
                Metrics::incr(&inner.metrics.ed25519_batched);
            }
            outcome.valid
        } else {
            key.verify(alg, jws.signing_input, &jws.signature) == Some(true)
        };
        if !valid {
            return Err(VerifyError::InvalidSignature);
        }
        let payload = jws::decode_payload(jws.payload_b64)?;
        let claims = TokenClaims::from_json_slice(&payload)?;
        self.check_claims(&claims, now)?;
        let claims = Arc::new(claims);
        if let Some(hash) = hash {
            self.purge_if_rotated(generation);
            let stored = inner.token_cache.insert(
                hash,
                Verified {
                    claims: claims.clone(),
                    kid: jws.header.kid,
                    key,
                    generation,
                    seconds_to_exp: claims.exp.saturating_sub(now),
                    payload_bytes: payload.len(),
                },
            );
            // Remembered only what the cache took, with the cache entry's deadline; `generation`
            // is that of the key set the key came from.
            if let Some(expires_at) = stored {
                token_memo::store(inner.id, token, &claims, generation, expires_at);
            }
        }
        Ok(claims)
    }

    async fn verify_opaque(
        &self,
        introspector: &Arc<Introspector>,
        token: &str,
        now: i64,
    ) -> Result<Arc<TokenClaims>, VerifyError> {
        let endpoint = self.introspection_endpoint(introspector).await?;
        let map = introspector.introspect(token, &endpoint).await?;
        let claims = TokenClaims::from_map(map)?;
        self.check_claims(&claims, now)?;
        Ok(Arc::new(claims))
    }

    async fn introspection_endpoint(
        &self,
        introspector: &Introspector,
    ) -> Result<String, VerifyError> {
        if let Some(endpoint) = introspector.explicit_endpoint() {
            return Ok(endpoint.to_string());
        }
        if self.inner.keys.metadata().is_none() || self.inner.keys.issuer().is_none() {
            self.inner.keys.warm_up().await?;
        }
        if let Some(endpoint) = self
            .inner
            .keys
            .metadata()
            .and_then(|m| m.introspection_endpoint.clone())
        {
            return Ok(endpoint);
        }
        self.inner
            .keys
            .issuer()
            .map(|issuer| format!("{issuer}/oauth2/introspect"))
            .ok_or(VerifyError::KeysUnavailable {
                reason: KeysUnavailable::Introspection,
                retry_after: Duration::from_secs(5),
            })
    }

    /// Introspection calls made so far (0 when introspection is off).
    #[must_use]
    pub fn introspection_calls(&self) -> u64 {
        self.inner.introspector.as_ref().map_or(0, |i| i.calls())
    }

    /// Active introspection answers currently cached.
    #[must_use]
    pub fn introspection_cache_len(&self) -> usize {
        self.inner
            .introspector
            .as_ref()
            .map_or(0, |i| i.cached_entries())
    }

    /// Once per new key set, drops cached verifications whose key left the set.
    fn purge_if_rotated(&self, generation: u64) {
        let seen = self.inner.purged_generation.load(Ordering::Acquire);
        if seen == generation
            || self
                .inner
                .purged_generation
                .compare_exchange(seen, generation, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return;
        }
        if seen != 0 {
            if let Some(set) = self.inner.keys.current() {
                self.inner
                    .token_cache
                    .retain_keys(|kid, key| set.holds(kid, key));
            }
        }
    }

    fn check_times(&self, claims: &TokenClaims, now: i64) -> Result<(), VerifyError> {
        let leeway = self.inner.leeway;
        if now >= claims.exp.saturating_add(leeway) {
            return Err(VerifyError::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(leeway))
        {
            return Err(VerifyError::NotYetValid);
        }
        if claims
            .iat
            .is_some_and(|iat| iat > now.saturating_add(leeway))
        {
            return Err(VerifyError::IssuedInFuture);
        }
        Ok(())
    }

    fn check_claims(&self, claims: &TokenClaims, now: i64) -> Result<(), VerifyError> {
        self.check_times(claims, now)?;
        if self.inner.check_issuer {
            let matches = self.inner.keys.issuer_matches(&claims.iss).ok_or(
                VerifyError::KeysUnavailable {
                    reason: KeysUnavailable::NotLoaded,
                    retry_after: Duration::from_secs(1),
                },
            )?;
            if !matches {
                return Err(VerifyError::IssuerMismatch);
            }
        }
        if self.inner.check_audience && !self.inner.audiences.iter().any(|a| claims.aud.contains(a))
        {
            return Err(VerifyError::AudienceMismatch);
        }
        if !self.inner.allow_sender_constrained && claims.extra.contains_key("cnf") {
            return Err(VerifyError::SenderConstrained);
        }
        Ok(())
    }

    /// Fetches the keys now (bounded by the wait timeout) and starts background refresh.
    ///
    /// Services call it at start-up, in the background, so the first request is warm.
    ///
    /// # Errors
    ///
    /// [`VerifyError::KeysUnavailable`] when the keys could not be loaded; the verifier keeps
    /// trying in the background.
    pub async fn warm_up(&self) -> Result<(), VerifyError> {
        self.inner.keys.warm_up().await
    }

    /// The issuer tokens are checked against (configured, or from discovery once it ran).
    #[must_use]
    pub fn issuer(&self) -> Option<Arc<str>> {
        self.inner.keys.issuer()
    }

    /// The accepted audiences.
    #[must_use]
    pub fn audiences(&self) -> &[String] {
        &self.inner.audiences
    }

    /// The allowed algorithms.
    #[must_use]
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.inner.allowed
    }

    /// The discovered provider metadata, once discovery has run.
    #[must_use]
    pub fn provider_metadata(&self) -> Option<Arc<ProviderMetadata>> {
        self.inner.keys.metadata()
    }

    /// Key cache status (for `/ready`).
    #[must_use]
    pub fn key_status(&self) -> KeyStatus {
        self.inner.keys.status()
    }

    /// Counters: JWKS fetches, verifications by outcome.
    #[must_use]
    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.metrics.snapshot()
    }

    /// Entries currently in the verified-token cache.
    #[must_use]
    pub fn token_cache_len(&self) -> usize {
        self.inner.token_cache.len()
    }

    /// Estimated memory held by the verified-token cache, in bytes (what
    /// [`TokenCacheConfig::max_bytes`] bounds).
    #[must_use]
    pub fn token_cache_bytes(&self) -> usize {
        self.inner.token_cache.bytes()
    }
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Builds a [`Verifier`]. Defaults are safe; each setter documents its default.
///
/// # Example
///
/// ```
/// use ssoguard::{Algorithm, Verifier};
/// use std::time::Duration;
///
/// // The seed's variables: AUTH_SERVER_URL, SSO_CLIENT_ID (several allowed), JWKS_URL.
/// let verifier = Verifier::builder()
///     .authority("http://localhost:3001")
///     .audiences(["rust-backend", "http://localhost:8000"])
///     .jwks_url("http://localhost:3001/api/auth/jwks")
///     .algorithms([Algorithm::EdDSA, Algorithm::ES256])
///     .leeway(Duration::from_secs(30))
///     .build()?;
/// assert_eq!(verifier.audiences().len(), 2);
///
/// // No audience: refused at build time, not at the first request.
/// assert!(Verifier::builder().authority("http://localhost:3001").build().is_err());
/// # Ok::<(), ssoguard::ConfigError>(())
/// ```
#[must_use = "a builder does nothing until .build() is called"]
#[derive(Debug, Clone)]
pub struct VerifierBuilder {
    authority: Option<String>,
    issuer: Option<String>,
    jwks_url: Option<String>,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    max_token_bytes: usize,
    jwks: JwksConfig,
    token_cache: TokenCacheConfig,
    signature_batching: bool,
    http_client: Option<reqwest::Client>,
    static_jwks: Option<Vec<u8>>,
    introspection: Option<IntrospectionConfig>,
    pub(crate) check_issuer: bool,
    pub(crate) check_audience: bool,
    pub(crate) allow_sender_constrained: bool,
}

impl Default for VerifierBuilder {
    fn default() -> Self {
        VerifierBuilder {
            authority: None,
            issuer: None,
            jwks_url: None,
            audiences: Vec::new(),
            algorithms: Algorithm::ALL.to_vec(),
            leeway: Duration::from_secs(60),
            max_token_bytes: 8 * 1024,
            jwks: JwksConfig::default(),
            token_cache: TokenCacheConfig::default(),
            signature_batching: true,
            http_client: None,
            static_jwks: None,
            introspection: None,
            check_issuer: true,
            check_audience: true,
            allow_sender_constrained: false,
        }
    }
}

impl VerifierBuilder {
    /// The SSO's origin (`http://localhost:3001`) or issuer (`…/api/auth`). An origin stands for
    /// the issuers `<origin>` and `<origin>/api/auth`, taken from a document at either
    /// `<origin>/.well-known/openid-configuration` or `<origin>/api/auth/.well-known/…`; a URL
    /// with a path is the issuer, exactly (see [`crate::discovery`]).
    /// Default: none (set this, or [`issuer`](Self::issuer)).
    pub fn authority(mut self, url: impl Into<String>) -> Self {
        self.authority = Some(url.into());
        self
    }

    /// The exact issuer tokens must carry in `iss`; overrides the discovered one, and the
    /// discovery document must name it. Default: learned from discovery.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// An explicit JWKS URL (the seed's `JWKS_URL`); overrides discovery's `jwks_uri`.
    /// Default: from discovery.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Adds an accepted audience (the OAuth client id, `SSO_CLIENT_ID`). A token passes when its
    /// `aud` contains any accepted audience. Default: none, and building fails without one.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Adds several accepted audiences.
    pub fn audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences.extend(audiences.into_iter().map(Into::into));
        self
    }

    /// Restricts the accepted algorithms. Default: all of [`Algorithm::ALL`]; a key still
    /// pins the algorithm by its type and `alg`.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Clock-skew allowance for `exp`, `nbf` and `iat`. Default: 60 s.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Largest token accepted, in bytes. Default: 8 KiB.
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = bytes;
        self
    }

    /// Replaces all key-cache settings at once. Default: [`JwksConfig::default`].
    pub fn jwks_config(mut self, config: JwksConfig) -> Self {
        self.jwks = config;
        self
    }

    /// Key-set lifetime without `Cache-Control`. Default: 1 h.
    pub fn jwks_ttl(mut self, ttl: Duration) -> Self {
        self.jwks.ttl = ttl;
        self
    }

    /// Minimum interval between unknown-kid refetches and between retries. Default: 30 s.
    pub fn refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.jwks.refetch_cooldown = cooldown;
        self
    }

    /// How long past expiry a key set is still used while refreshes fail. Default: 24 h.
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.jwks.max_stale = max_stale;
        self
    }

    /// Verified-token cache settings. Default: [`TokenCacheConfig::default`] (on, 10,000
    /// entries, 32 MiB estimated, 5 min).
    pub fn token_cache(mut self, config: TokenCacheConfig) -> Self {
        self.token_cache = config;
        self
    }

    /// Checks the signatures of requests that are in flight together in one go. Default: on.
    ///
    /// Under load a server has many requests ready at once; each verification queues its
    /// signature on a per-thread queue and yields once, then the queued signatures are checked
    /// together and answered at once. EdDSA signatures (4 or more) get one Ed25519 batch check,
    /// about half the CPU per signature at 16 or more; every algorithm gets its responses out
    /// back to back, waking a waiting client once per batch (see `docs/BENCHMARKS.md` §6).
    /// A batch passes only if every signature in it is valid; otherwise each is re-checked alone,
    /// so a forged signature only fails its own request (and batch checks pause for 100 ms on
    /// that thread). A lone request is a batch of one, checked with `aws-lc-rs` as when this is
    /// off. Turn it off to check every signature inline, without yielding to the runtime.
    pub fn signature_batching(mut self, enabled: bool) -> Self {
        self.signature_batching = enabled;
        self
    }

    /// Uses this HTTP client for discovery and JWKS (its own timeouts then apply).
    /// Default: a rustls client with the [`JwksConfig`] timeouts.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Uses this JWKS document instead of fetching one: keys are pinned, never refreshed (for
    /// air-gapped deployments, tests and fuzzing). Requires [`issuer`](Self::issuer).
    /// Default: keys are fetched.
    pub fn static_jwks(mut self, jwks_json: impl Into<Vec<u8>>) -> Self {
        self.static_jwks = Some(jwks_json.into());
        self
    }

    /// Accepts opaque (non-JWT) access tokens by RFC 7662 introspection with these client
    /// credentials (`client_secret_basic`). Default: off; opaque tokens are then malformed.
    pub fn introspection(mut self, config: IntrospectionConfig) -> Self {
        self.introspection = Some(config);
        self
    }

    /// Builds the verifier. Does no I/O.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a missing audience or issuer, a bad URL, an empty algorithm list or
    /// an out-of-range setting.
    pub fn build(self) -> Result<Verifier, ConfigError> {
        for (setting, url) in [
            ("authority", &self.authority),
            ("issuer", &self.issuer),
            ("jwks_url", &self.jwks_url),
        ] {
            if let Some(url) = url {
                check_url(setting, url)?;
            }
        }
        if self.check_audience && self.audiences.iter().all(|a| a.trim().is_empty()) {
            return Err(ConfigError::MissingAudience);
        }
        if self.algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithms);
        }
        if self.authority.is_none()
            && self.issuer.is_none()
            && ((self.jwks_url.is_none() && self.static_jwks.is_none()) || self.check_issuer)
        {
            return Err(ConfigError::MissingIssuer);
        }
        let ten_years = Duration::from_secs(10 * 365 * 24 * 3600);
        for (setting, value) in [
            ("jwks ttl", self.jwks.ttl),
            ("max_stale", self.jwks.max_stale),
            ("max_ttl", self.jwks.max_ttl),
            ("leeway", self.leeway),
        ] {
            if value > ten_years {
                return Err(ConfigError::InvalidSetting {
                    setting,
                    reason: "longer than ten years".into(),
                });
            }
        }
        if self.jwks.ttl.is_zero() {
            return Err(ConfigError::InvalidSetting {
                setting: "jwks ttl",
                reason: "must be positive".into(),
            });
        }
        let metrics = Arc::new(Metrics::default());
        let http = HttpFetcher::new(
            self.http_client,
            self.jwks.connect_timeout,
            self.jwks.fetch_timeout,
            self.jwks.max_response_bytes,
        )
        .map_err(ConfigError::HttpClient)?;
        let source = KeySource {
            discovery_base: self.authority.map(|a| trim_slash(&a).to_string()),
            issuer: self.issuer,
            jwks_url: self.jwks_url,
            need_issuer: self.check_issuer,
        };
        let mut audiences: Vec<String> = self
            .audiences
            .into_iter()
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect();
        audiences.dedup();
        let mut algorithms = self.algorithms;
        algorithms.sort();
        algorithms.dedup();
        let introspector = match self.introspection {
            Some(cfg) => Some(Arc::new(
                Introspector::new(cfg).map_err(ConfigError::HttpClient)?,
            )),
            None => None,
        };
        let keys = match &self.static_jwks {
            Some(doc) => {
                let parsed =
                    crate::jwk::parse_jwks(doc, &algorithms, self.jwks.max_keys).map_err(|e| {
                        ConfigError::InvalidSetting {
                            setting: "static_jwks",
                            reason: e.to_string(),
                        }
                    })?;
                JwksCache::fixed(
                    self.jwks,
                    algorithms.clone(),
                    http,
                    source,
                    metrics.clone(),
                    parsed,
                )
            }
            None => JwksCache::new(self.jwks, algorithms.clone(), http, source, metrics.clone()),
        };
        Ok(Verifier {
            inner: Arc::new(Inner {
                id: NEXT_VERIFIER_ID.fetch_add(1, Ordering::Relaxed),
                keys,
                audiences,
                allowed: algorithms,
                leeway: i64::try_from(self.leeway.as_secs()).unwrap_or(60),
                max_token_bytes: self.max_token_bytes,
                check_issuer: self.check_issuer,
                check_audience: self.check_audience,
                allow_sender_constrained: self.allow_sender_constrained,
                token_cache: TokenCache::new(self.token_cache),
                signature_batching: self.signature_batching,
                introspector,
                purged_generation: AtomicU64::new(0),
                metrics,
            }),
        })
    }
}

fn check_url(setting: &'static str, url: &str) -> Result<(), ConfigError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| ConfigError::InvalidUrl {
            setting,
            reason: "must start with http:// or https://".into(),
        })?;
    if rest.is_empty() || rest.starts_with('/') || url.chars().any(char::is_whitespace) {
        return Err(ConfigError::InvalidUrl {
            setting,
            reason: "missing host".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_refuses_unsafe_or_incomplete_configs() {
        let err = Verifier::builder()
            .authority("http://x")
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::MissingAudience));
        let err = Verifier::builder().audience("a").build().unwrap_err();
        assert!(matches!(err, ConfigError::MissingIssuer));
        let err = Verifier::builder()
            .audience("a")
            .jwks_url("http://x/jwks")
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::MissingIssuer));
        let err = Verifier::builder()
            .audience("a")
            .authority("localhost:3001")
            .build()
            .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::InvalidUrl {
                setting: "authority",
                ..
            }
        ));
        let err = Verifier::builder()
            .audience("a")
            .authority("http://x")
            .algorithms([])
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::NoAlgorithms));
        assert!(
            Verifier::builder()
                .audience("a")
                .authority("http://x")
                .build()
                .is_ok()
        );
    }
}
