//! [`VerifierBuilder`]: a [`Verifier`]'s settings, each with a safe, documented default.

use crate::algorithm::Algorithm;
use crate::discovery::trim_slash;
use crate::dpop::DpopConfig;
use crate::error::ConfigError;
use crate::fetch::{HttpFetcher, is_remote_plain_http};
use crate::introspection::{IntrospectionConfig, Introspector};
use crate::jwks::{JwksCache, JwksConfig, KeySource};
use crate::logout::LogoutState;
use crate::metrics::Metrics;
use crate::revocation::{MemoryRevocations, Revocations};
use crate::token_cache::{TokenCache, TokenCacheConfig};
use crate::verify::{Inner, Verifier};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

impl Verifier {
    /// Starts a builder with safe defaults.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::default()
    }
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
    /// `jwks_ttl`, `refetch_cooldown` and `max_stale` calls, applied over `jwks` at build time
    /// so that a later `jwks_config` call does not discard them.
    jwks_ttl: Option<Duration>,
    refetch_cooldown: Option<Duration>,
    max_stale: Option<Duration>,
    token_cache: TokenCacheConfig,
    signature_batching: bool,
    http_client: Option<reqwest::Client>,
    static_jwks: Option<Vec<u8>>,
    introspection: Option<IntrospectionConfig>,
    dpop: DpopConfig,
    revocations: Option<Arc<dyn Revocations>>,
    logout_token_max_age: Duration,
    pub(crate) allow_remote_http: bool,
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
            jwks_ttl: None,
            refetch_cooldown: None,
            max_stale: None,
            token_cache: TokenCacheConfig::default(),
            signature_batching: true,
            http_client: None,
            static_jwks: None,
            introspection: None,
            dpop: DpopConfig::default(),
            revocations: None,
            logout_token_max_age: Duration::from_secs(120),
            allow_remote_http: false,
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
    /// with a path is the issuer, exactly (see [`ProviderMetadata`](crate::ProviderMetadata)).
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

    /// Sets every key-cache setting at once. Default: [`JwksConfig::default`].
    ///
    /// [`jwks_ttl`](Self::jwks_ttl), [`refetch_cooldown`](Self::refetch_cooldown) and
    /// [`max_stale`](Self::max_stale) win over this, whichever call comes first.
    pub fn jwks_config(mut self, config: JwksConfig) -> Self {
        self.jwks = config;
        self
    }

    /// Key-set lifetime without `Cache-Control`. Default: 1 h (or [`jwks_config`]'s).
    ///
    /// [`jwks_config`]: Self::jwks_config
    pub fn jwks_ttl(mut self, ttl: Duration) -> Self {
        self.jwks_ttl = Some(ttl);
        self
    }

    /// Minimum interval between unknown-kid refetches and between retries. Default: 30 s (or
    /// [`jwks_config`]'s).
    ///
    /// [`jwks_config`]: Self::jwks_config
    pub fn refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.refetch_cooldown = Some(cooldown);
        self
    }

    /// How long past expiry a key set is still used while refreshes fail. Default: 24 h (or
    /// [`jwks_config`]'s).
    ///
    /// [`jwks_config`]: Self::jwks_config
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = Some(max_stale);
        self
    }

    /// Verified-token cache settings. Default: [`TokenCacheConfig::default`] (on, 10,000
    /// entries, 32 MiB estimated, 5 min).
    pub fn token_cache(mut self, config: TokenCacheConfig) -> Self {
        self.token_cache = config;
        self
    }

    /// Checks the EdDSA signatures of requests that are in flight together in one Ed25519 batch
    /// check. Default: on.
    ///
    /// Under load a server has many requests ready at once; each EdDSA verification queues its
    /// signature on a per-thread queue and yields once, then up to 32 queued signatures are
    /// checked together (4 or more: one batch check, about half the CPU per signature; see
    /// docs/benchmarks-log.md). A batch passes only if every signature in it is valid; otherwise each
    /// is re-checked alone, so a forged signature only fails its own request (and batch checks
    /// pause for 100 ms on that thread). A lone request is a batch of one, checked with
    /// `aws-lc-rs` as when this is off. RSA and ECDSA signatures are always checked inline. Turn
    /// it off to check every signature inline, without yielding to the runtime.
    pub fn signature_batching(mut self, enabled: bool) -> Self {
        self.signature_batching = enabled;
        self
    }

    /// Uses this HTTP client for discovery and JWKS (its own timeouts and redirect policy then
    /// apply). Default: a rustls client with the [`JwksConfig`] timeouts that follows at most 3
    /// redirects and none from `https` to plain `http`.
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

    /// What DPoP proofs are accepted ([`crate::dpop`]) and whether bearer tokens are refused.
    /// Default: [`DpopConfig::default`] — DPoP accepted with Better Auth's algorithms, a ±60 s
    /// `iat` window and an in-process replay store; bearer tokens accepted unless
    /// sender-constrained.
    pub fn dpop(mut self, config: DpopConfig) -> Self {
        self.dpop = config;
        self
    }

    /// Where back-channel logouts are recorded and consulted on every request
    /// ([`crate::revocation`]). Default: a [`MemoryRevocations`] of 100 000 entries covering
    /// tokens that live up to 24 h.
    pub fn revocations(mut self, store: Arc<dyn Revocations>) -> Self {
        self.revocations = Some(store);
        self
    }

    /// The oldest a back-channel logout token's `iat` may be (plus the leeway). Default: 2 min
    /// (Better Auth's logout tokens expire after 120 s). At most one hour.
    pub fn logout_token_max_age(mut self, max_age: Duration) -> Self {
        self.logout_token_max_age = max_age;
        self
    }

    /// Builds the verifier. Does no I/O.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a missing audience or issuer, a bad URL, an empty algorithm list or
    /// an out-of-range setting.
    pub fn build(mut self) -> Result<Verifier, ConfigError> {
        self.jwks.ttl = self.jwks_ttl.unwrap_or(self.jwks.ttl);
        self.jwks.refetch_cooldown = self.refetch_cooldown.unwrap_or(self.jwks.refetch_cooldown);
        self.jwks.max_stale = self.max_stale.unwrap_or(self.jwks.max_stale);
        let introspection_endpoint = self.introspection.as_ref().and_then(|i| i.endpoint.clone());
        for (setting, url) in [
            ("authority", &self.authority),
            ("issuer", &self.issuer),
            ("jwks_url", &self.jwks_url),
            ("introspection endpoint", &introspection_endpoint),
        ] {
            if let Some(url) = url {
                check_url(setting, url)?;
                if !self.allow_remote_http && is_remote_plain_http(url) {
                    return Err(ConfigError::PlainHttp { setting });
                }
            }
        }
        self.jwks.check()?;
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
        if self.leeway > Duration::from_secs(10 * 365 * 24 * 3600) {
            return Err(ConfigError::InvalidSetting {
                setting: "leeway",
                reason: "longer than ten years".into(),
            });
        }
        self.dpop.check()?;
        if self.logout_token_max_age > Duration::from_secs(3600) {
            return Err(ConfigError::InvalidSetting {
                setting: "logout_token_max_age",
                reason: "longer than one hour".into(),
            });
        }
        let metrics = Arc::new(Metrics::default());
        let http = HttpFetcher::new(
            self.http_client,
            self.jwks.connect_timeout,
            self.jwks.fetch_timeout,
            self.jwks.max_response_bytes,
        )
        .and_then(|http| http.allow_remote_http(self.allow_remote_http))
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
                Introspector::new(cfg, self.allow_remote_http).map_err(ConfigError::HttpClient)?,
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
                dpop: self.dpop,
                revocations: self
                    .revocations
                    .unwrap_or_else(|| Arc::new(MemoryRevocations::default())),
                logout: LogoutState::new(self.logout_token_max_age),
                purged_generation: AtomicU64::new(0),
                metrics,
            }),
        })
    }
}

pub(crate) fn check_url(setting: &'static str, url: &str) -> Result<(), ConfigError> {
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
            .authority("https://x")
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::MissingAudience));
        let err = Verifier::builder().audience("a").build().unwrap_err();
        assert!(matches!(err, ConfigError::MissingIssuer));
        let err = Verifier::builder()
            .audience("a")
            .jwks_url("https://x/jwks")
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
            .authority("https://x")
            .algorithms([])
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::NoAlgorithms));
        assert!(
            Verifier::builder()
                .audience("a")
                .authority("https://x")
                .build()
                .is_ok()
        );
    }

    #[test]
    fn single_key_cache_settings_survive_a_later_jwks_config() {
        let builder = Verifier::builder()
            .audience("a")
            .authority("https://x")
            .jwks_ttl(Duration::ZERO)
            .jwks_config(JwksConfig::default());
        // The zero TTL set first is not discarded by the config set after it.
        assert!(matches!(
            builder.build(),
            Err(ConfigError::InvalidSetting {
                setting: "jwks ttl",
                ..
            })
        ));
        let builder = Verifier::builder()
            .audience("a")
            .authority("https://x")
            .jwks_config(JwksConfig {
                ttl: Duration::ZERO,
                ..JwksConfig::default()
            })
            .jwks_ttl(Duration::from_secs(60));
        assert!(builder.build().is_ok(), "the single setting wins");
        // The same for the cooldown and the staleness bound.
        for (builder, expected) in [
            (
                Verifier::builder().refetch_cooldown(Duration::MAX),
                "refetch_cooldown",
            ),
            (Verifier::builder().max_stale(Duration::MAX), "max_stale"),
        ] {
            let result = builder
                .audience("a")
                .authority("https://x")
                .jwks_config(JwksConfig::default())
                .build();
            assert!(
                matches!(result, Err(ConfigError::InvalidSetting { setting, .. }) if setting == expected),
                "{expected}"
            );
        }
    }

    #[test]
    fn plain_http_to_a_remote_sso_is_refused_unless_allowed() {
        for (setting, builder) in [
            (
                "authority",
                Verifier::builder().authority("http://sso.example.invalid:3001"),
            ),
            (
                "jwks_url",
                Verifier::builder()
                    .issuer("https://sso.example/api/auth")
                    .jwks_url("http://10.0.0.7/jwks"),
            ),
            (
                "issuer",
                Verifier::builder().issuer("http://sso.example/api/auth"),
            ),
        ] {
            let err = builder.clone().audience("a").build().unwrap_err();
            assert!(
                matches!(err, ConfigError::PlainHttp { setting: s } if s == setting),
                "{setting}: {err}"
            );
            assert!(err.to_string().contains("https"), "{err}");
            assert!(builder.audience("a").insecure_allow_http().build().is_ok());
        }
        for local in [
            "http://localhost:3001",
            "http://127.0.0.1:3001",
            "http://[::1]:3001",
        ] {
            assert!(
                Verifier::builder()
                    .authority(local)
                    .audience("a")
                    .build()
                    .is_ok(),
                "{local}"
            );
        }
        let mut introspection = IntrospectionConfig::new("a", "s");
        introspection.endpoint = Some("http://sso.example/introspect".into());
        assert!(matches!(
            Verifier::builder()
                .authority("https://sso.example")
                .audience("a")
                .introspection(introspection)
                .build(),
            Err(ConfigError::PlainHttp {
                setting: "introspection endpoint"
            })
        ));
    }

    #[test]
    fn impossible_key_cache_settings_are_refused_by_build() {
        let err = Verifier::builder()
            .authority("http://localhost:3001")
            .audience("a")
            .jwks_config(JwksConfig {
                min_ttl: Duration::from_secs(3600),
                max_ttl: Duration::from_secs(60),
                ..JwksConfig::default()
            })
            .build()
            .unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::InvalidSetting {
                    setting: "min_ttl",
                    ..
                }
            ),
            "{err}"
        );
    }
}
