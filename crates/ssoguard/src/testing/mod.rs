//! An in-process, Better-Auth-shaped issuer that mints **real** signed tokens (feature `testing`).
//!
//! It replaces the seed's `dependency_overrides` mocks: tests exercise real signatures, real
//! discovery and real JWKS fetches. It serves on `127.0.0.1:0`:
//!
//! - `GET /api/auth/.well-known/openid-configuration` (the root location answers 404, as Better
//!   Auth does), with `issuer = <origin>/api/auth`;
//! - `GET /api/auth/jwks`, keys with `kid` and `alg` and no `use`, like Better Auth.
//!
//! It generates keys for every supported algorithm, mints tokens with [`TokenBuilder`], rotates
//! and removes keys, counts fetches, and can be switched into failure modes ([`Fault`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use ssoguard::{Algorithm, Verifier, testing::TestIssuer};
//!
//! let issuer = TestIssuer::start_all_algorithms().await?;
//! let verifier = Verifier::builder().authority(issuer.origin()).audience("test-client").build()?;
//! let token = issuer.token().sub("alice").role("admin").alg(Algorithm::ES512).sign();
//! let claims = verifier.verify(&token).await?;
//! assert!(claims.has_role("admin"));
//! assert_eq!(issuer.jwks_fetches(), 1);
//! # Ok(()) }
//! ```

use crate::algorithm::Algorithm;
use crate::time::unix_now;
use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;

#[cfg(feature = "testing")]
mod dpop;
mod handlers;
mod keys;
mod listener;
#[cfg(feature = "testing")]
mod redis;
mod token;

use handlers::{discovery, introspect, jwks};
use listener::FaultyListener;
use token::KidChoice;

#[cfg(feature = "testing")]
pub use dpop::{DpopClient, ProofBuilder};
pub use keys::{SigningKey, StoredKey};
#[cfg(feature = "testing")]
pub use redis::RedisServer;
pub use token::TokenBuilder;

/// Errors of key generation, loading and the issuer's server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestIssuerError {
    /// Key generation or parsing failed.
    #[error("key error: {0}")]
    Key(String),
    /// Binding or serving failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// A failure mode of the issuer's endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Connections are accepted and closed at once: the SSO is unreachable.
    Down,
    /// Every endpoint answers this HTTP status.
    Status(u16),
    /// The JWKS endpoint answers an HTML page with 200.
    Html,
    /// The JWKS endpoint answers bytes that are not JSON.
    Garbage,
    /// The JWKS endpoint answers `{"keys":[]}`.
    EmptySet,
    /// The JWKS endpoint answers 2 MiB of JSON.
    Huge,
    /// Every endpoint waits this long before answering normally.
    Slow(Duration),
}

pub(super) struct IssuerState {
    pub(super) origin: String,
    pub(super) issuer: String,
    pub(super) keys: RwLock<Vec<Arc<SigningKey>>>,
    pub(super) fault: RwLock<Option<Fault>>,
    pub(super) cache_control: RwLock<Option<String>>,
    pub(super) default_alg: RwLock<Algorithm>,
    pub(super) default_audience: RwLock<String>,
    pub(super) jwks_fetches: AtomicUsize,
    pub(super) discovery_fetches: AtomicUsize,
    pub(super) introspections: AtomicUsize,
    pub(super) opaque: RwLock<std::collections::HashMap<String, Value>>,
    pub(super) introspection_client: RwLock<(String, String)>,
    pub(super) down: AtomicBool,
    /// Raw JWKs published beside the keys (hostile key-set tests).
    pub(super) raw_jwks: RwLock<Vec<Value>>,
}

/// The in-process issuer. Dropping it stops its server.
pub struct TestIssuer {
    pub(super) state: Arc<IssuerState>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestIssuer")
            .field("issuer", &self.state.issuer)
            .finish_non_exhaustive()
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestIssuer {
    /// Starts an issuer on `127.0.0.1:0` with one EdDSA key (Better Auth's default).
    ///
    /// # Errors
    ///
    /// [`TestIssuerError`] if binding or key generation fails.
    pub async fn start() -> Result<Self, TestIssuerError> {
        Self::start_with_keys(
            "127.0.0.1:0",
            vec![SigningKey::generate(Algorithm::EdDSA, "key-eddsa-1")?],
            Router::new(),
        )
        .await
    }

    /// Starts an issuer with one key per supported algorithm (kids `key-<alg>-1`).
    ///
    /// # Errors
    ///
    /// [`TestIssuerError`] if binding or key generation fails.
    pub async fn start_all_algorithms() -> Result<Self, TestIssuerError> {
        let keys = Algorithm::ALL
            .iter()
            .map(|alg| SigningKey::generate(*alg, format!("key-{}-1", alg.as_str().to_lowercase())))
            .collect::<Result<Vec<_>, _>>()?;
        Self::start_with_keys("127.0.0.1:0", keys, Router::new()).await
    }

    /// Starts an issuer at `addr` with these keys and extra routes merged into its router
    /// (the dev issuer adds its token and admin endpoints this way).
    ///
    /// # Errors
    ///
    /// [`TestIssuerError`] if binding fails.
    pub async fn start_with_keys(
        addr: &str,
        keys: Vec<SigningKey>,
        extra: Router,
    ) -> Result<Self, TestIssuerError> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let origin = format!("http://{addr}");
        let default_alg = keys.first().map_or(Algorithm::EdDSA, |k| k.alg);
        let state = Arc::new(IssuerState {
            issuer: format!("{origin}/api/auth"),
            origin,
            keys: RwLock::new(keys.into_iter().map(Arc::new).collect()),
            fault: RwLock::new(None),
            cache_control: RwLock::new(None),
            default_alg: RwLock::new(default_alg),
            default_audience: RwLock::new("test-client".into()),
            jwks_fetches: AtomicUsize::new(0),
            discovery_fetches: AtomicUsize::new(0),
            introspections: AtomicUsize::new(0),
            opaque: RwLock::new(std::collections::HashMap::new()),
            introspection_client: RwLock::new(("test-client".into(), "test-secret".into())),
            down: AtomicBool::new(false),
            raw_jwks: RwLock::new(Vec::new()),
        });
        let router = Router::new()
            .route("/api/auth/.well-known/openid-configuration", get(discovery))
            .route("/api/auth/jwks", get(jwks))
            .route(
                "/api/auth/oauth2/introspect",
                axum::routing::post(introspect),
            )
            .with_state(state.clone())
            .merge(extra);
        let listener = FaultyListener {
            inner: listener,
            state: state.clone(),
        };
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(TestIssuer {
            state,
            addr,
            server,
        })
    }

    /// `http://127.0.0.1:<port>` — what the seed calls `AUTH_SERVER_URL`.
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.state.origin
    }

    /// `<origin>/api/auth`, the `iss` of minted tokens.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// `<origin>/api/auth/jwks`.
    #[must_use]
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.state.issuer)
    }

    /// The bound address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// JWKS responses served so far (faulty answers included).
    #[must_use]
    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Discovery responses served so far.
    #[must_use]
    pub fn discovery_fetches(&self) -> usize {
        self.state.discovery_fetches.load(Ordering::SeqCst)
    }

    /// Issues an opaque access token whose introspection answers `claims` plus `active: true`
    /// (Better Auth shape: `iss`, `client_id`, `sub`, `exp`, `scope`, custom claims).
    #[must_use]
    pub fn issue_opaque(&self, claims: Value) -> String {
        let token = URL_SAFE_NO_PAD.encode(SigningKey::random_bytes());
        if let Ok(mut store) = self.state.opaque.write() {
            store.insert(token.clone(), claims);
        }
        token
    }

    /// Revokes an opaque token: introspection then answers `{"active": false}`.
    pub fn revoke_opaque(&self, token: &str) {
        if let Ok(mut store) = self.state.opaque.write() {
            store.remove(token);
        }
    }

    /// The client credentials the introspection endpoint accepts (default `test-client` /
    /// `test-secret`).
    pub fn set_introspection_client(&self, id: &str, secret: &str) {
        if let Ok(mut c) = self.state.introspection_client.write() {
            *c = (id.to_string(), secret.to_string());
        }
    }

    /// Introspection calls served so far.
    #[must_use]
    pub fn introspections(&self) -> usize {
        self.state.introspections.load(Ordering::SeqCst)
    }

    /// Sets the audience minted tokens carry by default (initially `test-client`).
    pub fn set_default_audience(&self, aud: impl Into<String>) {
        if let Ok(mut a) = self.state.default_audience.write() {
            *a = aud.into();
        }
    }

    /// Sets the algorithm minted tokens use by default (a key of it must exist).
    pub fn set_default_alg(&self, alg: Algorithm) {
        if let Ok(mut a) = self.state.default_alg.write() {
            *a = alg;
        }
    }

    /// Sends `Cache-Control` with JWKS responses (`None`: no header).
    pub fn set_cache_control(&self, value: Option<&str>) {
        if let Ok(mut c) = self.state.cache_control.write() {
            *c = value.map(str::to_owned);
        }
    }

    /// Switches a failure mode on (`Some`) or off (`None`).
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.state
            .down
            .store(matches!(fault, Some(Fault::Down)), Ordering::Release);
        if let Ok(mut f) = self.state.fault.write() {
            *f = fault;
        }
    }

    /// Adds a new key (it becomes the signer for its algorithm) and returns its kid.
    ///
    /// # Errors
    ///
    /// [`TestIssuerError::Key`] if generation fails.
    pub fn rotate(&self, alg: Algorithm) -> Result<String, TestIssuerError> {
        let n = self.state.keys.read().map(|k| k.len()).unwrap_or(0) + 1;
        let kid = format!("key-{}-{n}", alg.as_str().to_lowercase());
        let key = SigningKey::generate(alg, kid.clone())?;
        self.add_key(key);
        Ok(kid)
    }

    /// Publishes a raw JWK beside the issuer's keys, as given (for hostile key-set tests: a
    /// key nobody can sign with, or one a verifier must refuse).
    pub fn publish_raw_jwk(&self, jwk: Value) {
        if let Ok(mut raw) = self.state.raw_jwks.write() {
            raw.push(jwk);
        }
    }

    /// Publishes a key (placed first, so it signs for its algorithm).
    pub fn add_key(&self, key: SigningKey) {
        if let Ok(mut keys) = self.state.keys.write() {
            keys.insert(0, Arc::new(key));
        }
    }

    /// Removes a key from the JWKS (the next refresh stops accepting it).
    pub fn remove_key(&self, kid: &str) {
        if let Ok(mut keys) = self.state.keys.write() {
            keys.retain(|k| k.kid != kid);
        }
    }

    /// The current signing key for `alg`, if any.
    #[must_use]
    pub fn key(&self, alg: Algorithm) -> Option<Arc<SigningKey>> {
        self.state
            .keys
            .read()
            .ok()?
            .iter()
            .find(|k| k.alg == alg)
            .cloned()
    }

    /// The key with this kid, if published.
    #[must_use]
    pub fn key_by_kid(&self, kid: &str) -> Option<Arc<SigningKey>> {
        self.state
            .keys
            .read()
            .ok()?
            .iter()
            .find(|k| k.kid == kid)
            .cloned()
    }

    /// All published keys.
    #[must_use]
    pub fn keys(&self) -> Vec<Arc<SigningKey>> {
        self.state
            .keys
            .read()
            .map(|k| k.clone())
            .unwrap_or_default()
    }

    /// Starts a token with default claims: `iss` this issuer, `aud` the default audience,
    /// `sub` `user-1`, `iat` now, `exp` in one hour, signed with the default algorithm's key.
    pub fn token(&self) -> TokenBuilder<'_> {
        let now = unix_now();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.state.issuer));
        claims.insert("sub".into(), json!("user-1"));
        let aud = self
            .state
            .default_audience
            .read()
            .map(|a| a.clone())
            .unwrap_or_default();
        claims.insert("aud".into(), json!(aud));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + 3600));
        TokenBuilder {
            issuer: self,
            claims,
            header: Map::new(),
            alg: self
                .state
                .default_alg
                .read()
                .map(|a| *a)
                .unwrap_or(Algorithm::EdDSA),
            kid: KidChoice::FromKey,
        }
    }
}

impl TestIssuer {
    /// Starts a back-channel logout token (OIDC Back-Channel Logout 1.0 §2.4), shaped like
    /// Better Auth's: header `typ` `logout+jwt`; `iss` this issuer, `aud` the default audience,
    /// `sub` `user-1`, `sid` `session-1`, `iat` now, `exp` in two minutes, a random `jti` and
    /// the back-channel logout event.
    pub fn logout_token(&self) -> TokenBuilder<'_> {
        let now = unix_now();
        self.token()
            .header("typ", json!("logout+jwt"))
            .claim("sid", json!("session-1"))
            .claim("exp", json!(now + 120))
            .claim(
                "jti",
                json!(URL_SAFE_NO_PAD.encode(SigningKey::random_bytes())),
            )
            .claim(
                "events",
                json!({ crate::logout::BACKCHANNEL_LOGOUT_EVENT: {} }),
            )
    }
}

/// Serves `router` on a free loopback port in the current runtime; its `http://` origin. For
/// stand-in servers in tests (an upstream, a fake SSO endpoint).
///
/// # Panics
///
/// When no loopback port can be bound.
#[cfg(any(test, feature = "testing"))]
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

#[cfg(feature = "testing")]
pub mod attacks;
