//! Better Auth **session cookies**: the `better-auth.session_token` cookie a browser holds
//! when the app signs in with Better Auth directly (no OAuth provider, no JWT).
//!
//! A request's session cookie is checked in this order, each step in its own module:
//!
//! 1. **Signature** (`cookie`): the cookie is `token.signature`
//!    (percent-encoded), the signature an HMAC-SHA256 of the token with the Better Auth secret
//!    ([`SessionSecret`]). It is checked in constant time before anything else: a forged or
//!    tampered cookie is refused (401 `invalid signature`) without any lookup.
//! 2. **Cookie cache** (`cookie_cache`): when Better Auth's `session.cookieCache` is on and
//!    the browser sent the `session_data` cookie in its compact form, a verified, unexpired
//!    cache for this very session answers without a lookup.
//! 3. **Lookup** (`lookup`), cached by token hash: Better Auth's `get-session`
//!    ([`SessionVerifierBuilder::remote`]), its database (feature `session-database`) or its
//!    Redis secondary storage (feature `session-redis`).
//! 4. **Rules** (`record`): `expiresAt` in the past → 401 `token expired`; a banned user
//!    (admin plugin, `banExpires` respected) → 401 `user is banned`; no session → 401
//!    `session not found`; a store that cannot answer → 503, never a 200.
//!
//! The result is [`TokenClaims`] like a verified JWT's: `sub` = the user id, `email`, `name`,
//! `email_verified`, `role`, plus `sid` (the session id) and `impersonated_by` (admin
//! impersonation); `iss` is the builder's issuer and `aud` the cookie's name. So the axum
//! `CurrentUser` is the same whichever credential a request carried.
//!
//! **Revocation lag**: a sign-out, a revoked session or a ban is honoured after at most the
//! cache TTL (30 s by default; [`SessionVerifierBuilder::cache_ttl`]). A cookie cache that
//! Better Auth issued stays valid for its own `maxAge` (5 min by default), as it does in
//! Better Auth itself; turn it off with [`SessionVerifierBuilder::cookie_cache`].
//!
//! # Example
//!
//! ```no_run
//! # async fn run(cookie_header: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use ssoguard::session::{SessionSecret, SessionVerifier};
//!
//! let sessions = SessionVerifier::builder()
//!     .secret(SessionSecret::new(std::env::var("BETTER_AUTH_SECRET")?)?)
//!     .remote("http://localhost:3001/api/auth") // <origin><basePath> of Better Auth
//!     .build()?;
//! let claims = sessions.verify_cookie_header([cookie_header]).await?;
//! println!("user {} in session {}", claims.sub, claims.extra["sid"]);
//! # Ok(()) }
//! ```

mod cookie;
mod cookie_cache;
#[cfg(feature = "session-database")]
mod database;
mod lookup;
mod record;
#[cfg(feature = "session-redis")]
mod redis;
mod remote;
mod secret;

#[cfg(feature = "testing")]
pub use cookie::sign_session_token;
pub use cookie::{DEFAULT_COOKIE_PREFIX, SessionCookies};
#[cfg(feature = "testing")]
pub use cookie_cache::write_compact as write_compact_cookie_cache;
#[cfg(feature = "session-database")]
pub use database::{DatabaseLookup, SessionSchema};
#[cfg(feature = "session-redis")]
pub use redis::RedisLookup;
pub use secret::{MIN_SECRET_LEN, SessionSecret};

use crate::claims::TokenClaims;
use crate::error::{ConfigError, VerifyError};
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::revocation::Revocations;
use cookie::CookieNames;
use cookie_cache::CookieCache;
use lookup::{Asked, Lookup, Store, now_ms};
use std::sync::Arc;
use std::time::Duration;

/// Checks Better Auth session cookies; cheap to clone (shared state).
///
/// Built with [`SessionVerifier::builder`]; see the [module documentation](self).
#[derive(Clone)]
pub struct SessionVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    secret: SessionSecret,
    names: CookieNames,
    cookie_cache: bool,
    cookie_cache_version: String,
    lookup: Arc<Lookup>,
    metrics: Arc<Metrics>,
    revocations: Option<Arc<dyn Revocations>>,
}

impl std::fmt::Debug for SessionVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionVerifier")
            .field("cookie", &self.inner.names.token())
            .field("lookup", &self.inner.lookup.store.kind())
            .field("secret", &self.inner.secret)
            .finish_non_exhaustive()
    }
}

/// Which store a [`SessionVerifierBuilder`] looks sessions up in.
enum LookupChoice {
    Remote(String),
    #[cfg(feature = "session-database")]
    Database(DatabaseLookup),
    #[cfg(feature = "session-redis")]
    Redis(RedisLookup),
}

/// Builder of a [`SessionVerifier`]. A secret and one lookup are required; every other
/// setting has the default its method names.
#[must_use]
pub struct SessionVerifierBuilder {
    secret: Option<SessionSecret>,
    lookup: Option<LookupChoice>,
    cookie_prefix: String,
    cookie_cache: bool,
    cookie_cache_version: String,
    cache_ttl: Duration,
    negative_cache_ttl: Duration,
    max_entries: usize,
    lookup_timeout: Duration,
    issuer: Option<String>,
    allow_remote_http: bool,
    revocations: Option<Arc<dyn Revocations>>,
    #[cfg(feature = "shared-redis")]
    shared: Option<crate::shared::SharedRedis>,
}

impl std::fmt::Debug for SessionVerifierBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionVerifierBuilder")
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("cookie_prefix", &self.cookie_prefix)
            .field("cache_ttl", &self.cache_ttl)
            .finish_non_exhaustive()
    }
}

impl SessionVerifier {
    /// A builder with the defaults.
    pub fn builder() -> SessionVerifierBuilder {
        SessionVerifierBuilder {
            secret: None,
            lookup: None,
            cookie_prefix: DEFAULT_COOKIE_PREFIX.into(),
            cookie_cache: true,
            cookie_cache_version: "1".into(),
            cache_ttl: Duration::from_secs(30),
            negative_cache_ttl: Duration::from_secs(5),
            max_entries: 10_000,
            lookup_timeout: Duration::from_secs(5),
            issuer: None,
            allow_remote_http: false,
            revocations: None,
            #[cfg(feature = "shared-redis")]
            shared: None,
        }
    }

    /// The session cookies in `Cookie` header values (several headers allowed, as HTTP/2
    /// sends them); `Ok(None)` when there is no session-token cookie.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Malformed`] ("ambiguous credentials") when the session cookie is sent
    /// twice (two values, or both the `__Secure-` and the plain name).
    pub fn find_cookies<'a>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a str>,
    ) -> Result<Option<SessionCookies<'a>>, VerifyError> {
        self.inner.names.find(cookie_headers)
    }

    /// Finds and verifies the session cookie of `Cookie` header values.
    ///
    /// # Errors
    ///
    /// [`VerifyError::MissingToken`] without a session cookie; otherwise as
    /// [`verify`](Self::verify).
    pub async fn verify_cookie_header<'a>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a str>,
    ) -> Result<Arc<TokenClaims>, VerifyError> {
        let cookies = self
            .find_cookies(cookie_headers)?
            .ok_or(VerifyError::MissingToken)?;
        self.verify(&cookies).await
    }

    /// Verifies a request's session cookies (see the [module documentation](self) for the
    /// order of the checks).
    ///
    /// # Errors
    ///
    /// 401 errors: [`VerifyError::Malformed`], [`VerifyError::InvalidSignature`],
    /// [`VerifyError::SessionNotFound`], [`VerifyError::Expired`], [`VerifyError::UserBanned`];
    /// 503: [`VerifyError::KeysUnavailable`] with
    /// [`KeysUnavailable::SessionStore`](crate::KeysUnavailable::SessionStore).
    pub async fn verify(
        &self,
        cookies: &SessionCookies<'_>,
    ) -> Result<Arc<TokenClaims>, VerifyError> {
        let result = self.verify_inner(cookies).await.and_then(|claims| {
            // Back-channel logouts: neither Better Auth's cookie cache nor the lookup cache may
            // answer for a session signed out at the SSO.
            let revoked = self.inner.revocations.as_ref().is_some_and(|r| {
                if r.is_empty() {
                    return false;
                }
                let sid = claims.extra.get("sid").and_then(|v| v.as_str());
                r.is_revoked(sid, &claims.sub, claims.iat, crate::time::unix_now())
            });
            if revoked {
                Err(VerifyError::Revoked)
            } else {
                Ok(claims)
            }
        });
        match &result {
            Ok(_) => Metrics::incr(&self.inner.metrics.verified),
            Err(e) => self.inner.metrics.record_failure(e),
        }
        result
    }

    async fn verify_inner(
        &self,
        cookies: &SessionCookies<'_>,
    ) -> Result<Arc<TokenClaims>, VerifyError> {
        let inner = &self.inner;
        let token = cookie::verify_signed_token(cookies.session_token, &inner.secret)?;
        if let (true, Some(data)) = (inner.cookie_cache, cookies.session_data) {
            let now = now_ms();
            match cookie_cache::read(
                data,
                &token,
                &inner.secret,
                &inner.cookie_cache_version,
                now,
            ) {
                CookieCache::Valid(record) => {
                    // Expired or banned in the cache: the store may know better (a refreshed
                    // session, a lifted ban), as Better Auth itself falls back to it.
                    if let Ok(claims) =
                        record.into_claims(now, &inner.lookup.issuer, &inner.lookup.audience)
                    {
                        Metrics::incr(&inner.metrics.session_cookie_cache_hits);
                        return Ok(Arc::new(claims));
                    }
                }
                CookieCache::Unusable(why) => {
                    tracing::debug!(why, "session cookie cache not used; looking the session up");
                }
            }
        }
        let asked = Asked {
            token,
            cookie_name: cookies.token_cookie_name.to_owned(),
            cookie_value: cookies.session_token.to_owned(),
        };
        inner.lookup.claims(asked, &inner.metrics).await
    }

    /// The counters: `session_lookups`, `session_cache_hits`, `session_cookie_cache_hits`,
    /// `verified` and `failures` by kind.
    #[must_use]
    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.metrics.snapshot()
    }

    /// The lookup in use: `remote`, `database` or `redis`.
    #[must_use]
    pub fn lookup_kind(&self) -> &'static str {
        self.inner.lookup.store.kind()
    }
}

impl SessionVerifierBuilder {
    /// Shares live sessions with every instance using the same Redis (and key prefix): a
    /// session looked up by one instance is reused by the others until min(its expiry,
    /// [`cache_ttl`](Self::cache_ttl)), stored as its claims under `<prefix>session:<SHA-256 of
    /// the issuer, the cookie name and the token>` (never the token). "Not found", "expired",
    /// "banned" and store errors are not shared. When a Redis call fails or is slower than
    /// [`SharedRedis::timeout`](crate::shared::SharedRedis::timeout), Redis is skipped for a
    /// second and sessions are looked up as without it. Revocations are checked on every
    /// request, whichever cache answered. Default: not shared. Whoever can write to this Redis
    /// can make a session token of their choice valid: protect it like Better Auth's own
    /// storage. Feature `shared-redis`.
    #[cfg(feature = "shared-redis")]
    pub fn shared(mut self, redis: &crate::shared::SharedRedis) -> Self {
        self.shared = Some(redis.clone());
        self
    }

    /// The revocations (back-channel logouts) every answer is checked against, cached or not:
    /// share the verifier's ([`Verifier::revocations`](crate::Verifier::revocations)) so a
    /// logout refuses the session's cookie too. Default: none.
    pub fn revocations(mut self, store: Arc<dyn Revocations>) -> Self {
        self.revocations = Some(store);
        self
    }

    /// The Better Auth secret (`BETTER_AUTH_SECRET`, or the current one of
    /// `BETTER_AUTH_SECRETS`). Required.
    pub fn secret(mut self, secret: SessionSecret) -> Self {
        self.secret = Some(secret);
        self
    }

    /// Looks sessions up with Better Auth's `GET <base>/get-session`, `base` being its
    /// `<origin><basePath>` (`http://localhost:3001/api/auth`). Plain http is refused for a
    /// non-loopback host unless [`insecure_allow_http`](Self::insecure_allow_http).
    pub fn remote(mut self, base: impl Into<String>) -> Self {
        self.lookup = Some(LookupChoice::Remote(base.into()));
        self
    }

    /// Looks sessions up in Better Auth's own database, read-only (feature
    /// `session-database`).
    #[cfg(feature = "session-database")]
    pub fn database(mut self, database: DatabaseLookup) -> Self {
        self.lookup = Some(LookupChoice::Database(database));
        self
    }

    /// Looks sessions up in Better Auth's Redis secondary storage (feature `session-redis`).
    #[cfg(feature = "session-redis")]
    pub fn redis(mut self, redis: RedisLookup) -> Self {
        self.lookup = Some(LookupChoice::Redis(redis));
        self
    }

    /// Better Auth's `advanced.cookiePrefix`. Default: `better-auth` (cookies
    /// `better-auth.session_token`, `better-auth.session_data`, each also read with
    /// `__Secure-` in front).
    pub fn cookie_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.cookie_prefix = prefix.into();
        self
    }

    /// Whether a valid compact `session_data` cookie (Better Auth's cookie cache) answers
    /// without a lookup. Default: `true`. Such a cookie stays valid for its `maxAge` (5 min in
    /// Better Auth by default) after a sign-out or ban elsewhere, as in Better Auth itself;
    /// `false` makes every request go through the lookup cache.
    pub fn cookie_cache(mut self, accept: bool) -> Self {
        self.cookie_cache = accept;
        self
    }

    /// Better Auth's `session.cookieCache.version` (a string). Default: `"1"`, Better Auth's.
    pub fn cookie_cache_version(mut self, version: impl Into<String>) -> Self {
        self.cookie_cache_version = version.into();
        self
    }

    /// Longest a looked-up session is reused (also bounded by its expiry). Default: 30 s.
    /// This is the revocation lag: a sign-out or ban takes effect after at most this.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How long "no such session", "expired" and "banned" answers are reused. Default: 5 s
    /// (never more than [`cache_ttl`](Self::cache_ttl)).
    pub fn negative_cache_ttl(mut self, ttl: Duration) -> Self {
        self.negative_cache_ttl = ttl;
        self
    }

    /// Most cached answers. Default: 10,000.
    pub fn max_entries(mut self, entries: usize) -> Self {
        self.max_entries = entries;
        self
    }

    /// Longest one lookup may take before the request is answered 503. Default: 5 s.
    pub fn lookup_timeout(mut self, timeout: Duration) -> Self {
        self.lookup_timeout = timeout;
        self
    }

    /// The `iss` of the claims a session becomes. Default: the remote base URL (the same as
    /// Better Auth's id_tokens' `iss`), else `better-auth`.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Allows plain http to a non-loopback Better Auth for the `remote` lookup.
    ///
    /// # Security Warning
    ///
    /// Session cookies then cross the network in the clear. Default: refused.
    pub fn insecure_allow_http(mut self) -> Self {
        self.allow_remote_http = true;
        self
    }

    /// Builds the verifier (no I/O: connections open on first use).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidSetting`] without a secret or a lookup, for a zero TTL or timeout,
    /// or a cookie prefix with characters a cookie name cannot hold; [`ConfigError::PlainHttp`]
    /// / [`ConfigError::InvalidUrl`] for the remote URL; the stores' own errors.
    pub fn build(self) -> Result<SessionVerifier, ConfigError> {
        let invalid = |setting: &'static str, reason: &str| ConfigError::InvalidSetting {
            setting,
            reason: reason.into(),
        };
        let secret = self.secret.ok_or_else(|| {
            invalid(
                "secret",
                "the Better Auth secret is required (BETTER_AUTH_SECRET)",
            )
        })?;
        let lookup = self.lookup.ok_or_else(|| {
            invalid(
                "lookup",
                "choose how sessions are looked up (remote, database or redis)",
            )
        })?;
        if self.cache_ttl.is_zero() || self.lookup_timeout.is_zero() {
            return Err(invalid(
                "cache_ttl",
                "the cache TTL and lookup timeout must not be zero",
            ));
        }
        if self.cookie_prefix.is_empty()
            || !self
                .cookie_prefix
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
        {
            return Err(invalid("cookie_prefix", "not a valid cookie name prefix"));
        }
        let mut default_issuer = "better-auth".to_owned();
        let store = match lookup {
            LookupChoice::Remote(base) => {
                let base = base.trim().trim_end_matches('/').to_owned();
                let url = reqwest::Url::parse(&base).map_err(|e| ConfigError::InvalidUrl {
                    setting: "session_remote_url",
                    reason: e.to_string(),
                })?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(ConfigError::InvalidUrl {
                        setting: "session_remote_url",
                        reason: "use http(s)".into(),
                    });
                }
                if !self.allow_remote_http && crate::fetch::is_remote_plain_http(&base) {
                    return Err(ConfigError::PlainHttp {
                        setting: "session_remote_url",
                    });
                }
                default_issuer.clone_from(&base);
                Store::Remote(
                    remote::RemoteStore::new(&base, self.lookup_timeout, self.allow_remote_http)
                        .map_err(ConfigError::HttpClient)?,
                )
            }
            #[cfg(feature = "session-database")]
            LookupChoice::Database(db) => Store::Database(db.connect(self.lookup_timeout)?),
            #[cfg(feature = "session-redis")]
            LookupChoice::Redis(redis) => Store::Redis(redis.connect(self.lookup_timeout)?),
        };
        let names = CookieNames::new(&self.cookie_prefix);
        let lookup = Lookup::new(
            store,
            self.cache_ttl,
            self.negative_cache_ttl,
            self.max_entries,
            self.lookup_timeout + Duration::from_secs(1),
            self.issuer.unwrap_or(default_issuer),
            names.token().to_owned(),
        );
        // Sessions shared through Redis (`shared`).
        #[cfg(feature = "shared-redis")]
        let lookup = lookup.shared(
            self.shared
                .map(|redis| crate::shared::SharedAnswers::new(&redis, "session")),
        );
        Ok(SessionVerifier {
            inner: Arc::new(Inner {
                secret,
                names,
                cookie_cache: self.cookie_cache,
                cookie_cache_version: self.cookie_cache_version,
                lookup: Arc::new(lookup),
                metrics: Arc::new(Metrics::default()),
                revocations: self.revocations,
            }),
        })
    }
}

#[cfg(test)]
mod tests;
