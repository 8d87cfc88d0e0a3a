//! Machine-to-machine: a `client_credentials` token source and the SSO admin client.
//!
//! [`ClientCredentials`] fetches a token from the SSO's token endpoint (discovered or given),
//! caches it until shortly before `expires_in`, refreshes with one request in flight, and retries
//! transient failures (connect errors, timeouts, 5xx) with exponential backoff.
//!
//! [`SsoAdminClient`] is the seed's `get_user_from_sso`: by default Better Auth's admin plugin,
//! `GET <origin>/api/auth/admin/get-user?id=…` with `Authorization: Bearer <api key>`; a path
//! template serves other SSOs (`/api/admin/users/{user_id}`). 404 is `Ok(None)`, 401/403 a
//! configuration error, 5xx retried; answers are cached briefly.

use crate::discovery::{self, trim_slash};
use crate::fetch::{MAX_REPLY_BYTES, read_bounded, redirect_policy, transport_failure};
use crate::form::form_encode;
use crate::single_flight::{Joined, SingleFlight};
use crate::ttl_map::TtlMap;
use arc_swap::ArcSwapOption;
use base64::Engine as _;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why an M2M call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum M2mError {
    /// The SSO refused the credentials (401/403, `invalid_client`): fix the configuration.
    #[error("the SSO refused the credentials ({0}); check the client id/secret or API key")]
    Unauthorized(String),
    /// The SSO refused the request itself (e.g. `invalid_scope`).
    #[error("the SSO refused the request: {0}")]
    Refused(String),
    /// Transport failure, timeout or 5xx after the retries.
    #[error("the SSO is unavailable: {0}")]
    Unavailable(String),
}

fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(timeout)
        .redirect(redirect_policy(true))
        .build()
        .unwrap_or_default()
}

/// A reply body as JSON, read up to [`MAX_REPLY_BYTES`]; `None` when too large or not JSON.
async fn json_reply(response: reqwest::Response, url: &str) -> Option<Value> {
    let bytes = read_bounded(response, url, MAX_REPLY_BYTES).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Longest a fetched token is kept: an `expires_in` beyond it (up to `u64::MAX`) is read as
/// this, so the refresh deadline can never overflow.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(100u64 << attempt.min(6))).await;
}

#[derive(Debug)]
struct CachedToken {
    token: String,
    refresh_at: Instant,
}

struct CcInner {
    /// The settings, as built.
    cfg: ClientCredentialsBuilder,
    http: reqwest::Client,
    discovered: ArcSwapOption<String>,
    cached: ArcSwapOption<CachedToken>,
    /// The one token request in flight (unit key).
    flights: SingleFlight<(), Result<String, M2mError>>,
    fetches: std::sync::atomic::AtomicU64,
    /// Makes the next fetch panic (tests of the single-flight's slot release).
    #[cfg(test)]
    panic_next_fetch: std::sync::atomic::AtomicBool,
}

/// A cached `client_credentials` token for the service's own calls. Cheap to clone.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let tokens = ssoguard::m2m::ClientCredentials::builder("rust-backend", "secret")
///     .authority("http://localhost:3001")
///     .scope("api:read")
///     .resource("http://localhost:8000")
///     .build();
/// let token = tokens.token().await?; // cached until shortly before it expires
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ClientCredentials {
    inner: Arc<CcInner>,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.inner.cfg.client_id)
            .field("client_secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Builds a [`ClientCredentials`] source.
#[must_use = "call .build()"]
pub struct ClientCredentialsBuilder {
    client_id: String,
    client_secret: String,
    token_endpoint: Option<String>,
    authority: Option<String>,
    scope: Option<String>,
    resource: Option<String>,
    skew: Duration,
    retries: u32,
    timeout: Duration,
}

impl ClientCredentials {
    /// Starts a builder for this client.
    pub fn builder(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> ClientCredentialsBuilder {
        ClientCredentialsBuilder {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            token_endpoint: None,
            authority: None,
            scope: None,
            resource: None,
            skew: Duration::from_secs(30),
            retries: 3,
            timeout: Duration::from_secs(5),
        }
    }

    /// The cached token while it is not yet due for refresh.
    fn fresh_cached(&self) -> Option<String> {
        let cached = self.inner.cached.load_full()?;
        (Instant::now() < cached.refresh_at).then(|| cached.token.clone())
    }

    /// A valid token: the cached one, or a fresh one (one request in flight for all callers).
    ///
    /// # Errors
    ///
    /// [`M2mError`] when the SSO refuses or cannot be reached after the retries.
    pub async fn token(&self) -> Result<String, M2mError> {
        if let Some(token) = self.fresh_cached() {
            return Ok(token);
        }
        // Looked at again under the single-flight's lock, which a fetch leaves only after it
        // stored its token: a fetch that finished since the look above is not repeated.
        let check = || self.fresh_cached().map(Ok);
        let body = || {
            let inner = self.inner.clone();
            async move {
                #[cfg(test)]
                if inner
                    .panic_next_fetch
                    .swap(false, std::sync::atomic::Ordering::AcqRel)
                {
                    panic!("injected token fetch panic");
                }
                inner.fetch().await
            }
        };
        match self.inner.flights.join_or_start((), check, body) {
            Joined::Ready(result) => result,
            Joined::Flight(fetch) => fetch.wait().await.unwrap_or_else(|e| {
                Err(M2mError::Unavailable(match e {
                    crate::single_flight::FlightError::Failed => "the token fetch failed".into(),
                    crate::single_flight::FlightError::TimedOut => {
                        "the token fetch timed out".into()
                    }
                }))
            }),
        }
    }

    /// Token requests made so far.
    #[must_use]
    pub fn fetches(&self) -> u64 {
        self.inner
            .fetches
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl ClientCredentialsBuilder {
    /// The token endpoint. Default: discovered from [`authority`](Self::authority).
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.token_endpoint = Some(url.into());
        self
    }
    /// The SSO origin or issuer, for discovery of the token endpoint.
    pub fn authority(mut self, url: impl Into<String>) -> Self {
        self.authority = Some(url.into());
        self
    }
    /// Requested scope (space-separated). Default: none (the client's default scopes).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }
    /// Requested resource (RFC 8707): Better Auth then issues a JWT with this `aud`.
    /// Default: none (an opaque token).
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }
    /// Refresh this long before expiry. Default: 30 s.
    pub fn refresh_skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }
    /// Retries of transient failures (backoff 100 ms, 200 ms, 400 ms, …). Default: 3.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }
    /// Builds the source (no I/O).
    pub fn build(self) -> ClientCredentials {
        // Each attempt is bounded by the timeout; the retries' backoff adds a little.
        let wait = self.timeout * (self.retries.min(10) + 1) + Duration::from_secs(7);
        ClientCredentials {
            inner: Arc::new(CcInner {
                http: http_client(self.timeout),
                cfg: self,
                discovered: ArcSwapOption::empty(),
                cached: ArcSwapOption::empty(),
                flights: SingleFlight::new(wait),
                fetches: std::sync::atomic::AtomicU64::new(0),
                #[cfg(test)]
                panic_next_fetch: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }
}

impl CcInner {
    async fn endpoint(&self) -> Result<String, M2mError> {
        if let Some(url) = &self.cfg.token_endpoint {
            return Ok(url.clone());
        }
        if let Some(url) = self.discovered.load_full() {
            return Ok((*url).clone());
        }
        let authority =
            self.cfg.authority.as_deref().ok_or_else(|| {
                M2mError::Refused("no token endpoint or authority configured".into())
            })?;
        let meta = discovery::fetch_provider_metadata(authority, None)
            .await
            .map_err(|e| M2mError::Unavailable(e.to_string()))?;
        let url = meta.token_endpoint.ok_or_else(|| {
            M2mError::Refused("the discovery document has no token_endpoint".into())
        })?;
        self.discovered.store(Some(Arc::new(url.clone())));
        Ok(url)
    }

    async fn fetch(&self) -> Result<String, M2mError> {
        let endpoint = self.endpoint().await?;
        let mut body = "grant_type=client_credentials".to_string();
        if let Some(scope) = &self.cfg.scope {
            body.push_str(&format!("&scope={}", form_encode(scope)));
        }
        if let Some(resource) = &self.cfg.resource {
            body.push_str(&format!("&resource={}", form_encode(resource)));
        }
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            form_encode(&self.cfg.client_id),
            form_encode(&self.cfg.client_secret)
        ));
        let mut last = String::new();
        for attempt in 0..=self.cfg.retries {
            if attempt > 0 {
                backoff(attempt - 1).await;
            }
            self.fetches
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let response = self
                .http
                .post(&endpoint)
                .header("authorization", format!("Basic {basic}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .await;
            let response = match response {
                Ok(r) => r,
                Err(e) => {
                    last = transport_failure(&e).to_string();
                    continue;
                }
            };
            let status = response.status().as_u16();
            let json = json_reply(response, &endpoint).await.unwrap_or(Value::Null);
            match status {
                200..=299 => {
                    let token = json["access_token"]
                        .as_str()
                        .ok_or_else(|| {
                            M2mError::Unavailable("no access_token in the answer".into())
                        })?
                        .to_string();
                    let expires_in = json["expires_in"].as_u64().unwrap_or(300);
                    let lifetime = Duration::from_secs(expires_in).min(MAX_TOKEN_LIFETIME);
                    let now = Instant::now();
                    let refresh_at = now
                        .checked_add(lifetime.saturating_sub(self.cfg.skew.min(lifetime / 2)))
                        .unwrap_or(now);
                    self.cached.store(Some(Arc::new(CachedToken {
                        token: token.clone(),
                        refresh_at,
                    })));
                    return Ok(token);
                }
                401 | 403 => return Err(M2mError::Unauthorized(format!("HTTP {status}"))),
                400..=499 => {
                    let error = json["error"].as_str().unwrap_or("invalid_request");
                    let description = json["error_description"].as_str().unwrap_or("");
                    if error == "invalid_client" {
                        return Err(M2mError::Unauthorized(error.into()));
                    }
                    return Err(M2mError::Refused(
                        format!("{error} {description}").trim().to_string(),
                    ));
                }
                _ => last = format!("HTTP {status}"),
            }
        }
        Err(M2mError::Unavailable(last))
    }
}

/// The SSO admin client: a user's profile by id, with the service's API key.
///
/// # Example
///
/// ```no_run
/// # async fn run() -> Result<(), ssoguard::m2m::M2mError> {
/// use ssoguard::m2m::{BETTER_AUTH_GET_USER, SsoAdminClient};
///
/// let sso = SsoAdminClient::new("http://localhost:3001", BETTER_AUTH_GET_USER, "admin-session-token");
/// match sso.get_user("user-123").await? {
///     Some(profile) => println!("{}", profile["email"]),
///     None => println!("no such user"),
/// }
/// # Ok(()) }
/// ```
///
/// Cheap to clone (reference counts only), so it can sit in per-request application state.
#[derive(Clone)]
pub struct SsoAdminClient {
    http: reqwest::Client,
    origin: Arc<str>,
    path_template: Arc<str>,
    api_key: Arc<str>,
    cache_ttl: Duration,
    cache: Arc<TtlMap<String, Option<Value>>>,
}

impl fmt::Debug for SsoAdminClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsoAdminClient")
            .field("origin", &self.origin)
            .field("path_template", &self.path_template)
            .field("api_key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Better Auth admin plugin's get-user path.
pub const BETTER_AUTH_GET_USER: &str = "/api/auth/admin/get-user?id={user_id}";

/// Cap on cached profiles.
const MAX_CACHED_PROFILES: usize = 1000;

impl SsoAdminClient {
    /// A client for the SSO at `origin` (an issuer URL ending in `/api/auth` is reduced to its
    /// origin). `path_template` contains `{user_id}`; use [`BETTER_AUTH_GET_USER`] for Better
    /// Auth. Timeouts: 2 s connect, 5 s total; answers cached 30 s.
    #[must_use]
    pub fn new(origin: &str, path_template: &str, api_key: &str) -> Self {
        let origin = trim_slash(origin);
        let origin = origin.strip_suffix("/api/auth").unwrap_or(origin);
        SsoAdminClient {
            http: http_client(Duration::from_secs(5)),
            origin: Arc::from(origin),
            path_template: Arc::from(path_template),
            api_key: Arc::from(api_key),
            cache_ttl: Duration::from_secs(30),
            cache: Arc::new(TtlMap::new(MAX_CACHED_PROFILES)),
        }
    }

    /// Changes how long answers are cached. Default: 30 s; zero turns the cache off.
    #[must_use]
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// The URL for a user id (percent-encoded into the template).
    #[must_use]
    pub fn url_for(&self, user_id: &str) -> String {
        format!(
            "{}{}",
            self.origin,
            self.path_template
                .replace("{user_id}", &form_encode(user_id))
        )
    }

    /// The user's profile, `Ok(None)` when the SSO has no such user.
    ///
    /// # Errors
    ///
    /// [`M2mError::Unauthorized`] when the SSO refuses the API key (a configuration error);
    /// [`M2mError::Unavailable`] after one retry of a 5xx or transport failure.
    pub async fn get_user(&self, user_id: &str) -> Result<Option<Value>, M2mError> {
        if let Some(profile) = self.cache.get(user_id) {
            return Ok(profile);
        }
        let url = self.url_for(user_id);
        let mut last = String::new();
        for attempt in 0..2 {
            if attempt > 0 {
                backoff(1).await;
            }
            let response = match self.http.get(&url).bearer_auth(&*self.api_key).send().await {
                Ok(r) => r,
                Err(e) => {
                    last = transport_failure(&e).to_string();
                    continue;
                }
            };
            let status = response.status().as_u16();
            let profile = match status {
                200..=299 => {
                    let body = json_reply(response, &url).await.ok_or_else(|| {
                        M2mError::Unavailable(
                            "the SSO answered invalid JSON (or more than 1 MiB)".into(),
                        )
                    })?;
                    Some(body.get("user").cloned().unwrap_or(body))
                }
                404 => None,
                401 | 403 => {
                    return Err(M2mError::Unauthorized(format!(
                        "HTTP {status} for SSO_API_KEY"
                    )));
                }
                500..=599 => {
                    last = format!("HTTP {status}");
                    continue;
                }
                _ => return Err(M2mError::Refused(format!("HTTP {status}"))),
            };
            self.cache
                .insert(user_id.to_string(), profile.clone(), self.cache_ttl);
            return Ok(profile);
        }
        Err(M2mError::Unavailable(last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A token endpoint and admin API under the test's control: counts token requests, waits
    /// `delay_ms` before answering, answers `reply` (or a 2 MiB body when `huge`).
    #[derive(Default)]
    struct Sso {
        requests: AtomicU64,
        delay_ms: AtomicU64,
        huge: std::sync::atomic::AtomicBool,
        expires_in: AtomicU64,
    }

    fn router(sso: Arc<Sso>) -> axum::Router {
        use axum::routing::{get, post};
        let token_sso = sso.clone();
        axum::Router::new()
            .route(
                "/token",
                post(move || {
                    let sso = token_sso.clone();
                    async move {
                        let n = sso.requests.fetch_add(1, Ordering::SeqCst) + 1;
                        let delay = sso.delay_ms.load(Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                        if sso.huge.load(Ordering::SeqCst) {
                            return format!(
                                "{{\"access_token\":\"t\",\"pad\":\"{}\"}}",
                                "x".repeat(2 * 1024 * 1024)
                            );
                        }
                        let expires_in = match sso.expires_in.load(Ordering::SeqCst) {
                            0 => 300,
                            e => e,
                        };
                        format!("{{\"access_token\":\"token-{n}\",\"expires_in\":{expires_in}}}")
                    }
                }),
            )
            .route(
                "/users/{id}",
                get(move || {
                    let sso = sso.clone();
                    async move {
                        let pad = if sso.huge.load(Ordering::SeqCst) {
                            "x".repeat(2 * 1024 * 1024)
                        } else {
                            String::new()
                        };
                        axum::Json(serde_json::json!({"user": {"id": "u1", "pad": pad}}))
                    }
                }),
            )
    }

    async fn sso() -> (Arc<Sso>, String) {
        let sso = Arc::new(Sso::default());
        let origin = crate::testing::serve(router(sso.clone())).await;
        (sso, origin)
    }

    fn source(origin: &str) -> ClientCredentials {
        ClientCredentials::builder("c", "s")
            .token_endpoint(format!("{origin}/token"))
            .retries(0)
            .build()
    }

    #[tokio::test]
    async fn an_expires_in_of_u64_max_is_a_long_lived_token_not_a_panic() {
        let (sso, origin) = sso().await;
        sso.expires_in.store(u64::MAX, Ordering::SeqCst);
        let tokens = source(&origin);
        assert_eq!(tokens.token().await, Ok("token-1".into()));
        assert_eq!(tokens.token().await, Ok("token-1".into()), "cached");
        assert_eq!(sso.requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn token_endpoint_and_admin_replies_are_size_capped() {
        let (sso, origin) = sso().await;
        sso.huge.store(true, Ordering::SeqCst);
        assert!(matches!(
            source(&origin).token().await,
            Err(M2mError::Unavailable(_))
        ));
        let admin = SsoAdminClient::new(&origin, "/users/{user_id}", "k");
        assert!(matches!(
            admin.get_user("u1").await,
            Err(M2mError::Unavailable(_))
        ));
        sso.huge.store(false, Ordering::SeqCst);
        let profile = admin.get_user("u1").await.expect("small reply");
        assert_eq!(profile.expect("user")["id"], "u1");
    }

    #[tokio::test]
    async fn a_panicking_fetch_frees_the_slot_and_the_next_call_fetches_again() {
        let (sso, origin) = sso().await;
        let tokens = source(&origin);
        tokens.inner.panic_next_fetch.store(true, Ordering::SeqCst);
        assert!(matches!(
            tokens.token().await,
            Err(M2mError::Unavailable(_))
        ));
        tokens.inner.flights.until_idle().await;
        assert_eq!(tokens.token().await, Ok("token-1".into()));
        assert_eq!(sso.requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_aborted_fetch_frees_the_slot_and_the_next_call_fetches_again() {
        let (sso, origin) = sso().await;
        sso.delay_ms.store(10_000, Ordering::SeqCst);
        let tokens = source(&origin);
        let waiting = tokio::spawn({
            let tokens = tokens.clone();
            async move { tokens.token().await }
        });
        while sso.requests.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokens.inner.flights.abort_last();
        assert!(matches!(
            waiting.await.expect("task"),
            Err(M2mError::Unavailable(_))
        ));
        tokens.inner.flights.until_idle().await;
        sso.delay_ms.store(0, Ordering::SeqCst);
        assert_eq!(tokens.token().await, Ok("token-2".into()));
    }

    #[tokio::test]
    async fn a_caller_that_gives_up_leaves_the_fetch_to_the_others() {
        let (sso, origin) = sso().await;
        sso.delay_ms.store(200, Ordering::SeqCst);
        let tokens = source(&origin);
        let gave_up = tokio::time::timeout(Duration::from_millis(20), tokens.token()).await;
        assert!(gave_up.is_err(), "the caller was cancelled mid-fetch");
        assert_eq!(tokens.token().await, Ok("token-1".into()));
        assert_eq!(
            sso.requests.load(Ordering::SeqCst),
            1,
            "joined, not refetched"
        );
    }

    #[test]
    fn a_fetch_dropped_with_its_runtime_frees_the_slot() {
        let server = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let (sso, origin) = server.block_on(sso());
        sso.delay_ms.store(10_000, Ordering::SeqCst);
        let tokens = source(&origin);
        let first = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        first.block_on(async {
            let _ = tokio::time::timeout(Duration::from_millis(300), tokens.token()).await;
        });
        drop(first);
        assert_eq!(tokens.inner.flights.in_flight(), 0);
        sso.delay_ms.store(0, Ordering::SeqCst);
        let second = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let token = second.block_on(tokens.token());
        assert_eq!(token, Ok("token-2".into()));
    }

    #[test]
    fn admin_urls() {
        let c = SsoAdminClient::new("http://sso/api/auth/", BETTER_AUTH_GET_USER, "k");
        assert_eq!(
            c.url_for("a b&c"),
            "http://sso/api/auth/admin/get-user?id=a%20b%26c"
        );
        let c = SsoAdminClient::new("http://sso", "/api/admin/users/{user_id}", "k");
        assert_eq!(c.url_for("u1"), "http://sso/api/admin/users/u1");
        assert!(!format!("{c:?}").contains("\"k\""));
    }
}
