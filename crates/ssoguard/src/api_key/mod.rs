//! Better Auth API keys (the `@better-auth/api-key` plugin): `x-api-key: <key>` → the key's
//! owner as [`TokenClaims`].
//!
//! Two ways to check a key, chosen on the builder:
//!
//! - **remote** ([`ApiKeyVerifierBuilder::remote`]): `GET <base>/get-session` with the key in
//!   the key header. The plugin's `/api-key/verify` is `serverOnly` (no HTTP route), so this is
//!   the one check Better Auth permits over HTTP; it needs `enableSessionForAPIKeys: true` in
//!   the plugin's options. The plugin then runs its full check (enabled, expiry, `remaining`,
//!   rate limit: it counts this call) and answers the owner's session. That answer names the
//!   user, not the key's permissions: by default keys checked remotely carry **no
//!   permissions**, so a [`RequireLayer::permission`](crate::axum::RequireLayer::permission)
//!   route refuses them (403). [`remote_permissions`](ApiKeyVerifierBuilder::remote_permissions)
//!   adds `GET <base>/api-key/get?id=<key id>` (as the key's owner) to read them, at the price
//!   of a second use of the key per lookup. Keys owned by an organization are refused by the
//!   plugin's get-session (401).
//! - **database** ([`ApiKeyVerifierBuilder::database_url`], feature `api-key-database`):
//!   read-only queries on Better Auth's own `apikey` table (joined with `user`), Postgres or
//!   SQLite, by the plugin's stored hash (SHA-256 of the key, base64url without padding). It
//!   sees the permissions and checks `enabled`, `expiresAt`, an exhausted `remaining` and a full
//!   rate-limit window, but **writes nothing**: it does not decrement `remaining` nor count
//!   requests against the key's rate limit (only the SSO's own checks do), and it does not
//!   delete expired keys.
//!
//! Answers are cached by the SHA-256 of the key for at most
//! [`cache_ttl`](ApiKeyVerifierBuilder::cache_ttl) (default 30 s) and never past the key's
//! `expiresAt`; refusals for [`negative_ttl`](ApiKeyVerifierBuilder::negative_ttl) (default
//! 5 s); an unreachable SSO or database (503) is never cached. So a key revoked, disabled or
//! deleted at the SSO is refused within the TTL, and the SSO's own counters (`remaining`, rate
//! limit) see one use per TTL per key and process, not one per request. Concurrent requests
//! with the same key share one lookup.
//!
//! The key is a secret: it is never logged, never echoed in an error, and absent from `Debug`.
//!
//! ```no_run
//! # async fn run(key: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use ssoguard::api_key::ApiKeyVerifier;
//!
//! let keys = ApiKeyVerifier::builder()
//!     .remote("http://localhost:3001/api/auth")
//!     .build()?;
//! let owner = keys.verify(key).await?;
//! println!("key of user {}", owner.sub);
//! # Ok(()) }
//! ```

#[cfg(feature = "api-key-database")]
mod database;
mod dates;
mod refusal;
mod remote;

pub use refusal::ApiKeyRefusal;

use crate::claims::TokenClaims;
use crate::error::{ConfigError, KeysUnavailable, VerifyError};
use crate::single_flight::{Joined, SingleFlight};
use crate::time::unix_now;
use crate::token_cache::{TokenCache, TokenHash};
use crate::ttl_map::TtlMap;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Whom a key belongs to, as a lookup found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owner {
    /// A user (the usual case): the user row's fields.
    User {
        id: String,
        email: Option<String>,
        name: Option<String>,
        role: Option<String>,
        email_verified: Option<bool>,
    },
    /// No user: a service identity named after the key's `referenceId` (an organization, or
    /// whatever a service configuration references). Only database mode sees such keys.
    #[cfg_attr(not(feature = "api-key-database"), allow(dead_code))]
    Service { reference_id: String },
}

/// What a lookup found for a valid key.
#[derive(Debug, Clone)]
pub(crate) struct FoundKey {
    pub(crate) key_id: Option<String>,
    pub(crate) owner: Owner,
    pub(crate) permissions: Vec<String>,
    /// `expiresAt`, Unix seconds.
    pub(crate) expires_at: Option<i64>,
    /// Unix seconds after which the answer must not be reused (remote mode: the session's
    /// `expiresAt`, which is the key's when it has one), beside `expires_at`.
    pub(crate) reuse_until: Option<i64>,
}

type LookupResult = Result<FoundKey, VerifyError>;

enum Source {
    Remote(remote::RemoteLookup),
    #[cfg(feature = "api-key-database")]
    Database(database::DatabaseLookup),
}

impl Source {
    async fn lookup(&self, key: &str, hashed: &str) -> LookupResult {
        match self {
            Source::Remote(remote) => {
                let _ = hashed;
                remote.lookup(key).await
            }
            #[cfg(feature = "api-key-database")]
            Source::Database(db) => {
                let _ = key;
                db.lookup(hashed).await
            }
        }
    }
}

/// A cached answer: the owner's claims, or why the key is refused.
type Cached = Result<Arc<TokenClaims>, ApiKeyRefusal>;

struct Inner {
    source: Source,
    header: String,
    issuer: String,
    cache_ttl: Duration,
    negative_ttl: Duration,
    max_key_bytes: usize,
    cache: TtlMap<TokenHash, Cached>,
    flights: SingleFlight<TokenHash, Result<Arc<TokenClaims>, VerifyError>>,
    lookups: AtomicU64,
    /// Accepted keys shared with the other instances ([`ApiKeyVerifierBuilder::shared`]).
    #[cfg(feature = "shared-redis")]
    shared: Option<crate::shared::SharedAnswers>,
}

/// Verifies Better Auth API keys (see the [module docs](self)). Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct ApiKeyVerifier(Arc<Inner>);

impl std::fmt::Debug for ApiKeyVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match &self.0.source {
            Source::Remote(_) => "remote",
            #[cfg(feature = "api-key-database")]
            Source::Database(_) => "database",
        };
        f.debug_struct("ApiKeyVerifier")
            .field("mode", &mode)
            .field("header", &self.0.header)
            .field("cache_ttl", &self.0.cache_ttl)
            .finish_non_exhaustive()
    }
}

enum SourceConfig {
    Remote(String),
    #[cfg(feature = "api-key-database")]
    Database(String),
}

/// Builds an [`ApiKeyVerifier`]. Choose one source: [`remote`](Self::remote) or
/// [`database_url`](Self::database_url).
#[must_use]
pub struct ApiKeyVerifierBuilder {
    source: Option<SourceConfig>,
    header: String,
    cache_ttl: Duration,
    negative_ttl: Duration,
    max_entries: usize,
    timeout: Duration,
    allow_http: bool,
    remote_permissions: bool,
    #[cfg_attr(not(feature = "api-key-database"), allow(dead_code))]
    service_configs: Vec<String>,
    #[cfg_attr(not(feature = "api-key-database"), allow(dead_code))]
    tables: (String, String),
    #[cfg(feature = "shared-redis")]
    shared: Option<crate::shared::SharedRedis>,
}

impl std::fmt::Debug for ApiKeyVerifierBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyVerifierBuilder")
            .field("header", &self.header)
            .field("cache_ttl", &self.cache_ttl)
            .finish_non_exhaustive()
    }
}

impl ApiKeyVerifier {
    /// A builder with the defaults documented on each of its methods.
    pub fn builder() -> ApiKeyVerifierBuilder {
        ApiKeyVerifierBuilder {
            source: None,
            header: "x-api-key".into(),
            cache_ttl: Duration::from_secs(30),
            negative_ttl: Duration::from_secs(5),
            max_entries: 10_000,
            timeout: Duration::from_secs(5),
            allow_http: false,
            remote_permissions: false,
            service_configs: Vec::new(),
            tables: ("apikey".into(), "user".into()),
            #[cfg(feature = "shared-redis")]
            shared: None,
        }
    }

    /// The request header that carries keys (lower case; default `x-api-key`).
    #[must_use]
    pub fn header_name(&self) -> &str {
        &self.0.header
    }

    /// Lookups made so far (answers not found in the cache), for tests and metrics.
    #[must_use]
    pub fn lookups(&self) -> u64 {
        self.0.lookups.load(Ordering::Relaxed)
    }

    /// Checks `key` and returns its owner's claims: `sub` is the user id (with `email`, `name`,
    /// `role`, `email_verified` when the answer has them), `permissions` the key's permissions
    /// (`{"tasks":["read"]}` → `tasks:read`), extra claims `api_key_id` and
    /// `auth_method: "api_key"`. A key without a user (database mode, a configuration named in
    /// [`service_configs`](ApiKeyVerifierBuilder::service_configs)) gives a service identity:
    /// `sub` = `client_id` = `organization_id` = the key's `referenceId`, so
    /// [`TokenClaims::is_client_credentials`] is true.
    ///
    /// # Errors
    ///
    /// [`VerifyError::ApiKey`] with the refusal (401, 429 over the rate limit);
    /// [`VerifyError::MissingToken`] for an empty key; [`VerifyError::TokenTooLarge`] /
    /// [`VerifyError::Malformed`] for a value that cannot be a key (no lookup);
    /// [`VerifyError::KeysUnavailable`] with [`KeysUnavailable::ApiKeyLookup`] (503) when the
    /// SSO or database cannot answer.
    pub async fn verify(&self, key: &str) -> Result<Arc<TokenClaims>, VerifyError> {
        let key = key.trim_matches(' ');
        if key.is_empty() {
            return Err(VerifyError::MissingToken);
        }
        if key.len() > self.0.max_key_bytes {
            return Err(VerifyError::TokenTooLarge);
        }
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(VerifyError::Malformed("an API key is printable ASCII"));
        }
        let hash = TokenCache::hash(key);
        let from_cache = |cached: Cached| cached.map_err(VerifyError::ApiKey);
        if let Some(cached) = self.0.cache.get(&hash) {
            return from_cache(cached);
        }
        let check = || self.0.cache.get(&hash).map(from_cache);
        let body = || {
            let this = self.clone();
            let key = key.to_string();
            async move { this.lookup_and_store(&key, hash).await }
        };
        match self.0.flights.join_or_start(hash, check, body) {
            Joined::Ready(result) => result,
            Joined::Flight(flight) => flight.wait().await.unwrap_or_else(|_| Err(unavailable())),
        }
    }

    async fn lookup_and_store(
        &self,
        key: &str,
        hash: TokenHash,
    ) -> Result<Arc<TokenClaims>, VerifyError> {
        // Shared through Redis: keyed by the SHA-256 of this verifier's issuer and the key, so
        // verifiers that would build different claims never share them.
        #[cfg(feature = "shared-redis")]
        let shared = self
            .0
            .shared
            .as_ref()
            .filter(|s| s.reachable())
            .map(|s| (s, TokenCache::hash(&format!("{}\n{key}", self.0.issuer))));
        #[cfg(feature = "shared-redis")]
        if let Some((shared, shared_key)) = &shared {
            if let Ok(Some((map, left))) = shared.get(shared_key).await {
                if let Ok(claims) = TokenClaims::from_map(map) {
                    let claims = Arc::new(claims);
                    self.0
                        .cache
                        .insert(hash, Ok(claims.clone()), left.min(self.0.cache_ttl));
                    return Ok(claims);
                }
            }
        }
        self.0.lookups.fetch_add(1, Ordering::Relaxed);
        let stored_hash = stored_hash(key);
        let now = unix_now();
        let found = match self.0.source.lookup(key, &stored_hash).await {
            Ok(found) if found.expires_at.is_some_and(|at| at <= now) => {
                Err(VerifyError::ApiKey(ApiKeyRefusal::Expired))
            }
            other => other,
        };
        match found {
            Ok(found) => {
                let until = |at: Option<i64>| {
                    at.map_or(self.0.cache_ttl, |at| {
                        Duration::from_secs(u64::try_from(at - now).unwrap_or(0))
                    })
                };
                let left = until(found.expires_at)
                    .min(until(found.reuse_until))
                    .min(self.0.cache_ttl);
                let claims = Arc::new(claims_for(&found, &self.0.issuer, now, left)?);
                self.0.cache.insert(hash, Ok(claims.clone()), left);
                // Only accepted keys are shared: refusals (and 503s) are asked again.
                #[cfg(feature = "shared-redis")]
                if let Some((shared, shared_key)) = &shared {
                    if let Ok(serde_json::Value::Object(map)) =
                        serde_json::to_value(claims.as_ref())
                    {
                        shared.put(shared_key, &map, left).await;
                    }
                }
                Ok(claims)
            }
            Err(VerifyError::ApiKey(refusal)) => {
                let ttl = match &refusal {
                    ApiKeyRefusal::RateLimited { retry_after } => {
                        self.0.negative_ttl.min(*retry_after)
                    }
                    _ => self.0.negative_ttl,
                };
                self.0.cache.insert(hash, Err(refusal.clone()), ttl);
                Err(VerifyError::ApiKey(refusal))
            }
            // 503s are never cached: the next request tries again.
            Err(other) => Err(other),
        }
    }
}

impl ApiKeyVerifierBuilder {
    /// Checks keys over HTTP: `GET <base>/get-session` with the key header, `base` being Better
    /// Auth's base URL with its base path (`http://localhost:3001/api/auth`). Needs the
    /// plugin's `enableSessionForAPIKeys: true`. Keys checked this way carry no permissions.
    pub fn remote(mut self, base: impl Into<String>) -> Self {
        self.source = Some(SourceConfig::Remote(base.into()));
        self
    }

    /// Checks keys by reading Better Auth's database (`postgres://…` or `sqlite://…`),
    /// read-only. The pool connects on first use; an unreachable database answers 503.
    #[cfg(feature = "api-key-database")]
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.source = Some(SourceConfig::Database(url.into()));
        self
    }

    /// The request header carrying keys, also the one sent to the SSO in remote mode (the
    /// plugin's `apiKeyHeaders`). Default: `x-api-key`.
    pub fn header(mut self, name: impl Into<String>) -> Self {
        self.header = name.into().trim().to_ascii_lowercase();
        self
    }

    /// Longest an accepted key is cached (never past its `expiresAt`). Default: 30 s. It is
    /// how long a revoked or disabled key may still be accepted; zero disables the cache.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// Shares accepted keys with every instance using the same Redis (and key prefix): a key
    /// looked up by one instance is reused by the others until min(its `expiresAt`, its rate
    /// limit's window, [`cache_ttl`](Self::cache_ttl)), stored as its owner's claims under
    /// `<prefix>apikey:<SHA-256 of the issuer and the key>` (never the key). Refusals and lookup
    /// failures are not shared. So N instances make one lookup per key per TTL, not N (in
    /// `remote` mode the plugin counts one use per lookup). When a Redis call fails or is slower
    /// than [`SharedRedis::timeout`](crate::shared::SharedRedis::timeout), Redis is skipped for a
    /// second and keys are looked up as without it. Default: not shared. Whoever can write to
    /// this Redis can make a key of their choice valid: protect it like Better Auth's own
    /// storage. Feature `shared-redis`.
    #[cfg(feature = "shared-redis")]
    pub fn shared(mut self, redis: &crate::shared::SharedRedis) -> Self {
        self.shared = Some(redis.clone());
        self
    }

    /// How long a refusal is cached (capped at the [`cache_ttl`](Self::cache_ttl)). Default:
    /// 5 s: a flood of one bad key costs one lookup per 5 s, and a key re-enabled at the SSO
    /// works again within 5 s.
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// Most cached answers. Default: 10,000.
    pub fn max_entries(mut self, n: usize) -> Self {
        self.max_entries = n;
        self
    }

    /// Timeout of one lookup. Default: 5 s (then 503).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Remote mode: also reads the key's permissions with `GET <base>/api-key/get?id=<key id>`
    /// (the key header authenticates the owner, as for get-session). Default: off, so remote
    /// keys carry no permissions. The plugin counts each of the two calls as a use of the key:
    /// its rate limit and `remaining` are spent twice as fast per lookup, and a key with one use
    /// left is refused ([`ApiKeyRefusal::UsageExhausted`]).
    pub fn remote_permissions(mut self, on: bool) -> Self {
        self.remote_permissions = on;
        self
    }

    /// Allows remote mode over plain `http` to a non-loopback host. Default: refused, since
    /// keys would cross the network in the clear.
    pub fn insecure_allow_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Database mode: the plugin configurations (`configId`) whose keys belong to no user
    /// (e.g. `references: "organization"`). Their keys become a service identity named after
    /// the key's `referenceId`. Default: none, so a key whose owner is not a user is refused
    /// ([`ApiKeyRefusal::NoOwner`]).
    pub fn service_configs<I, S>(mut self, config_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.service_configs = config_ids.into_iter().map(Into::into).collect();
        self
    }

    /// Database mode: the table names, when Better Auth's `schema` option renamed them.
    /// Default: `apikey` and `user`. Letters, digits and `_` only.
    pub fn database_tables(mut self, api_key: impl Into<String>, user: impl Into<String>) -> Self {
        self.tables = (api_key.into(), user.into());
        self
    }

    /// Builds the verifier.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidSetting`] without a source, for an invalid header, table name or database URL,
    /// or a zero timeout; [`ConfigError::InvalidUrl`] / [`ConfigError::PlainHttp`]
    /// for the remote URL; [`ConfigError::HttpClient`].
    pub fn build(self) -> Result<ApiKeyVerifier, ConfigError> {
        let invalid = |setting, reason: &str| ConfigError::InvalidSetting {
            setting,
            reason: reason.into(),
        };
        if self.header.is_empty()
            || !self
                .header
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            || self.header == "authorization"
            || self.header == "cookie"
        {
            return Err(invalid("api key header", "a header name such as x-api-key"));
        }
        if self.timeout.is_zero() {
            return Err(invalid("api key timeout", "must be more than zero"));
        }
        let negative_ttl = self.negative_ttl.min(self.cache_ttl);
        let (source, issuer) = match self.source {
            None => return Err(invalid("api key source", "choose remote or database")),
            Some(SourceConfig::Remote(base)) => {
                let remote = remote::RemoteLookup::new(
                    &base,
                    &self.header,
                    self.timeout,
                    self.allow_http,
                    self.remote_permissions,
                )?;
                let issuer = remote.issuer().to_string();
                (Source::Remote(remote), issuer)
            }
            #[cfg(feature = "api-key-database")]
            Some(SourceConfig::Database(url)) => {
                let db = database::DatabaseLookup::new(
                    &url,
                    &self.tables.0,
                    &self.tables.1,
                    self.service_configs,
                    self.timeout,
                )?;
                (Source::Database(db), "better-auth:apikey".to_string())
            }
        };
        Ok(ApiKeyVerifier(Arc::new(Inner {
            source,
            header: self.header,
            issuer,
            cache_ttl: self.cache_ttl,
            negative_ttl,
            max_key_bytes: 1024,
            cache: TtlMap::new(self.max_entries),
            // A lookup is at most two calls (owner, then permissions or user), each bounded.
            flights: SingleFlight::new(self.timeout * 2 + Duration::from_secs(1)),
            lookups: AtomicU64::new(0),
            #[cfg(feature = "shared-redis")]
            shared: self
                .shared
                .as_ref()
                .map(|redis| crate::shared::SharedAnswers::new(redis, "apikey")),
        })))
    }
}

pub(crate) fn unavailable() -> VerifyError {
    VerifyError::KeysUnavailable {
        reason: KeysUnavailable::ApiKeyLookup,
        retry_after: Duration::from_secs(5),
    }
}

/// The plugin's stored form of a key (its `defaultKeyHasher`): SHA-256, base64url, no padding.
#[must_use]
pub fn stored_hash(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(TokenCache::hash(key))
}

/// The plugin's permissions (`{"tasks": ["read", "write"]}`, an object or its JSON text) as
/// `resource:action` strings (`tasks:read`, `tasks:write`). Anything else gives none.
///
/// # Example
///
/// ```
/// let p = ssoguard::api_key::permission_list(&serde_json::json!({"tasks": ["read", "write"]}));
/// assert_eq!(p, ["tasks:read", "tasks:write"]);
/// ```
#[must_use]
pub fn permission_list(value: &Value) -> Vec<String> {
    let parsed;
    let object = match value {
        Value::Object(map) => map,
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => {
                parsed = map;
                &parsed
            }
            _ => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    for (resource, actions) in object {
        let Some(actions) = actions.as_array() else {
            continue;
        };
        for action in actions.iter().filter_map(Value::as_str) {
            out.push(format!("{resource}:{action}"));
        }
    }
    out
}

/// The claims for a found key.
fn claims_for(
    found: &FoundKey,
    issuer: &str,
    now: i64,
    ttl: Duration,
) -> Result<TokenClaims, VerifyError> {
    let mut map = Map::new();
    map.insert("iss".into(), issuer.into());
    map.insert("aud".into(), "api-key".into());
    map.insert("iat".into(), now.into());
    let exp = found
        .expires_at
        .unwrap_or(now + i64::try_from(ttl.as_secs()).unwrap_or(0));
    map.insert("exp".into(), exp.into());
    map.insert("auth_method".into(), "api_key".into());
    if let Some(id) = &found.key_id {
        map.insert("api_key_id".into(), id.clone().into());
    }
    map.insert("permissions".into(), Value::from(found.permissions.clone()));
    match &found.owner {
        Owner::User {
            id,
            email,
            name,
            role,
            email_verified,
        } => {
            map.insert("sub".into(), id.clone().into());
            for (claim, value) in [("email", email), ("name", name), ("role", role)] {
                if let Some(v) = value {
                    map.insert(claim.into(), v.clone().into());
                }
            }
            if let Some(v) = email_verified {
                map.insert("email_verified".into(), (*v).into());
            }
        }
        Owner::Service { reference_id } => {
            map.insert("sub".into(), reference_id.clone().into());
            map.insert("client_id".into(), reference_id.clone().into());
            map.insert("organization_id".into(), reference_id.clone().into());
        }
    }
    TokenClaims::from_map(map)
}

#[cfg(all(test, feature = "api-key-database"))]
mod database_tests;
#[cfg(test)]
mod tests;
