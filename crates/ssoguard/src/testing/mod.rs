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
use crate::verify::unix_now;
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A private signing key (for tests and the dev issuer only).
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    pkcs8: Vec<u8>,
    pair: Pair,
}

enum Pair {
    Ed(Ed25519KeyPair),
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

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

/// A key as stored in a keys file: kid, alg and the PKCS#8 private key (base64url).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredKey {
    /// Key id.
    pub kid: String,
    /// JWS algorithm name.
    pub alg: String,
    /// PKCS#8 DER, base64url without padding.
    pub pkcs8: String,
}

fn ec_signing(alg: Algorithm) -> Option<&'static signature::EcdsaSigningAlgorithm> {
    Some(match alg {
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        Algorithm::ES512 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
        _ => return None,
    })
}

fn rsa_padding(alg: Algorithm) -> Option<&'static dyn signature::RsaEncoding> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_SHA512,
        _ => return None,
    })
}

fn key_err(what: &str) -> TestIssuerError {
    TestIssuerError::Key(what.to_string())
}

impl SigningKey {
    /// Generates a fresh key for `alg` (RSA keys are 2048 bits).
    ///
    /// # Errors
    ///
    /// [`TestIssuerError::Key`] if the crypto library fails.
    pub fn generate(alg: Algorithm, kid: impl Into<String>) -> Result<Self, TestIssuerError> {
        let rng = SystemRandom::new();
        let pkcs8 = match alg {
            Algorithm::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| key_err("Ed25519 generation failed"))?
                .as_ref()
                .to_vec(),
            Algorithm::ES256 | Algorithm::ES384 | Algorithm::ES512 => {
                let signing = ec_signing(alg).ok_or_else(|| key_err("not an EC algorithm"))?;
                EcdsaKeyPair::generate_pkcs8(signing, &rng)
                    .map_err(|_| key_err("EC generation failed"))?
                    .as_ref()
                    .to_vec()
            }
            _ => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| key_err("RSA generation failed"))?;
                pair.as_der()
                    .map_err(|_| key_err("RSA export failed"))?
                    .as_ref()
                    .to_vec()
            }
        };
        Self::from_pkcs8(alg, kid, pkcs8)
    }

    /// Loads a key from PKCS#8 DER.
    ///
    /// # Errors
    ///
    /// [`TestIssuerError::Key`] if the bytes are not a key of `alg`'s type.
    pub fn from_pkcs8(
        alg: Algorithm,
        kid: impl Into<String>,
        pkcs8: Vec<u8>,
    ) -> Result<Self, TestIssuerError> {
        let pair = match alg {
            Algorithm::EdDSA => Pair::Ed(
                Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| key_err("bad Ed25519 PKCS#8"))?,
            ),
            Algorithm::ES256 | Algorithm::ES384 | Algorithm::ES512 => {
                let signing = ec_signing(alg).ok_or_else(|| key_err("not an EC algorithm"))?;
                Pair::Ec(
                    EcdsaKeyPair::from_pkcs8(signing, &pkcs8)
                        .map_err(|_| key_err("bad EC PKCS#8"))?,
                )
            }
            _ => Pair::Rsa(RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| key_err("bad RSA PKCS#8"))?),
        };
        Ok(SigningKey {
            kid: kid.into(),
            alg,
            pkcs8,
            pair,
        })
    }

    /// The key id.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    #[must_use]
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The key in keys-file form.
    #[must_use]
    pub fn to_stored(&self) -> StoredKey {
        StoredKey {
            kid: self.kid.clone(),
            alg: self.alg.as_str().to_string(),
            pkcs8: URL_SAFE_NO_PAD.encode(&self.pkcs8),
        }
    }

    /// Loads a key from keys-file form.
    ///
    /// # Errors
    ///
    /// [`TestIssuerError::Key`] for an unknown alg or bad key bytes.
    pub fn from_stored(stored: &StoredKey) -> Result<Self, TestIssuerError> {
        let alg = Algorithm::from_jws_name(&stored.alg).ok_or_else(|| key_err("unknown alg"))?;
        let pkcs8 = URL_SAFE_NO_PAD
            .decode(&stored.pkcs8)
            .map_err(|_| key_err("pkcs8 is not base64url"))?;
        Self::from_pkcs8(alg, stored.kid.clone(), pkcs8)
    }

    /// The public JWK, shaped like Better Auth's (`kid`, `alg`, no `use`).
    #[must_use]
    pub fn public_jwk(&self) -> Value {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        match &self.pair {
            Pair::Ed(pair) => json!({
                "kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref()),
                "kid": self.kid, "alg": "EdDSA",
            }),
            Pair::Ec(pair) => {
                let point = pair.public_key().as_ref();
                let len = (point.len() - 1) / 2;
                let crv = match self.alg {
                    Algorithm::ES256 => "P-256",
                    Algorithm::ES384 => "P-384",
                    _ => "P-521",
                };
                json!({
                    "kty": "EC", "crv": crv, "x": b64(&point[1..=len]), "y": b64(&point[1 + len..]),
                    "kid": self.kid, "alg": self.alg.as_str(),
                })
            }
            Pair::Rsa(pair) => {
                let public = pair.public_key();
                json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                    "kid": self.kid, "alg": self.alg.as_str(),
                })
            }
        }
    }

    /// The raw public key bytes (Ed25519: 32 bytes; EC: SEC1 point; RSA: PKCS#1 DER).
    #[must_use]
    pub fn public_key_bytes(&self) -> Vec<u8> {
        match &self.pair {
            Pair::Ed(p) => p.public_key().as_ref().to_vec(),
            Pair::Ec(p) => p.public_key().as_ref().to_vec(),
            Pair::Rsa(p) => p.public_key().as_ref().to_vec(),
        }
    }

    fn random_bytes() -> [u8; 24] {
        let mut out = [0u8; 24];
        let _ = aws_lc_rs::rand::SecureRandom::fill(&SystemRandom::new(), &mut out);
        out
    }

    /// Signs `message` with this key's algorithm (JWS encoding: ECDSA `r || s`).
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.sign_as(self.alg, message).unwrap_or_default()
    }

    /// Signs with another algorithm of the same key type (RS256 key signing PS256, for tests).
    #[must_use]
    pub fn sign_as(&self, alg: Algorithm, message: &[u8]) -> Option<Vec<u8>> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Ed(p) => Some(p.sign(message).as_ref().to_vec()),
            Pair::Ec(p) => p.sign(&rng, message).ok().map(|s| s.as_ref().to_vec()),
            Pair::Rsa(p) => {
                let padding = rsa_padding(alg)?;
                let mut sig = vec![0u8; p.public_modulus_len()];
                p.sign(padding, &rng, message, &mut sig).ok()?;
                Some(sig)
            }
        }
    }

    /// Builds a compact JWS from JSON header and payload values, signed by this key.
    #[must_use]
    pub fn sign_compact(&self, header: &Value, payload: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let sig = self.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
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

struct IssuerState {
    origin: String,
    issuer: String,
    keys: RwLock<Vec<Arc<SigningKey>>>,
    fault: RwLock<Option<Fault>>,
    cache_control: RwLock<Option<String>>,
    default_alg: RwLock<Algorithm>,
    default_audience: RwLock<String>,
    jwks_fetches: AtomicUsize,
    discovery_fetches: AtomicUsize,
    introspections: AtomicUsize,
    opaque: RwLock<std::collections::HashMap<String, Value>>,
    introspection_client: RwLock<(String, String)>,
    down: AtomicBool,
    /// Raw JWKs published beside the keys (hostile key-set tests).
    raw_jwks: RwLock<Vec<Value>>,
}

/// The in-process issuer. Dropping it stops its server.
pub struct TestIssuer {
    state: Arc<IssuerState>,
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

struct FaultyListener {
    inner: TcpListener,
    state: Arc<IssuerState>,
}

/// A connection that fails every read and write while the issuer is [`Fault::Down`], so pooled
/// keep-alive connections die too, as they would if the SSO went away.
struct FaultyStream {
    inner: TcpStream,
    state: Arc<IssuerState>,
}

impl FaultyStream {
    fn check(&self) -> std::io::Result<()> {
        if self.state.down.load(Ordering::Acquire) {
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "issuer is down",
            ))
        } else {
            Ok(())
        }
    }
}

impl AsyncRead for FaultyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultyStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl axum::serve::Listener for FaultyListener {
    type Io = FaultyStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    if self.state.down.load(Ordering::Acquire) {
                        drop(stream);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let stream = FaultyStream {
                        inner: stream,
                        state: self.state.clone(),
                    };
                    return (stream, addr);
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
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

enum KidChoice {
    FromKey,
    None,
    Explicit(String),
}

/// Mints one token; see [`TestIssuer::token`].
#[must_use = "call .sign() to get the token"]
pub struct TokenBuilder<'a> {
    issuer: &'a TestIssuer,
    claims: Map<String, Value>,
    header: Map<String, Value>,
    alg: Algorithm,
    kid: KidChoice,
}

impl TokenBuilder<'_> {
    /// Sets `sub`.
    #[allow(clippy::should_implement_trait)]
    pub fn sub(self, sub: &str) -> Self {
        self.claim("sub", json!(sub))
    }
    /// Sets `email`.
    pub fn email(self, email: &str) -> Self {
        self.claim("email", json!(email))
    }
    /// Sets `name`.
    pub fn name(self, name: &str) -> Self {
        self.claim("name", json!(name))
    }
    /// Sets `role` (Better Auth style: comma-separated for several).
    pub fn role(self, role: &str) -> Self {
        self.claim("role", json!(role))
    }
    /// Sets `aud` to one audience.
    pub fn aud(self, aud: &str) -> Self {
        self.claim("aud", json!(aud))
    }
    /// Sets `iss`.
    pub fn iss(self, iss: &str) -> Self {
        self.claim("iss", json!(iss))
    }
    /// Sets `exp` to now + `ttl`.
    pub fn ttl(self, ttl: Duration) -> Self {
        let exp = unix_now() + i64::try_from(ttl.as_secs()).unwrap_or(0);
        self.claim("exp", json!(exp))
    }
    /// Sets `exp` relative to now (negative: already expired).
    pub fn exp_in(self, seconds: i64) -> Self {
        self.claim("exp", json!(unix_now() + seconds))
    }
    /// Sets `nbf` relative to now.
    pub fn nbf_in(self, seconds: i64) -> Self {
        self.claim("nbf", json!(unix_now() + seconds))
    }
    /// Sets `iat` relative to now.
    pub fn iat_in(self, seconds: i64) -> Self {
        self.claim("iat", json!(unix_now() + seconds))
    }
    /// Sets any claim.
    pub fn claim(mut self, name: &str, value: Value) -> Self {
        self.claims.insert(name.to_owned(), value);
        self
    }
    /// Removes a claim (e.g. `exp`, to test that it is required).
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }
    /// Signs with the issuer's current key for `alg`.
    pub fn alg(mut self, alg: Algorithm) -> Self {
        self.alg = alg;
        self
    }
    /// Puts this `kid` in the header (the key still comes from `alg`).
    pub fn kid(mut self, kid: &str) -> Self {
        self.kid = KidChoice::Explicit(kid.to_owned());
        self
    }
    /// Leaves `kid` out of the header.
    pub fn no_kid(mut self) -> Self {
        self.kid = KidChoice::None;
        self
    }
    /// Adds a header member (`typ`, `crit`, `jku`, …).
    pub fn header(mut self, name: &str, value: Value) -> Self {
        self.header.insert(name.to_owned(), value);
        self
    }

    /// The claims as they will be signed.
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// Signs with the issuer's key for the chosen algorithm.
    ///
    /// # Panics
    ///
    /// If the issuer has no key for that algorithm (a test set-up error).
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn sign(self) -> String {
        let key = self
            .issuer
            .key(self.alg)
            .expect("the test issuer has no key for this algorithm");
        self.sign_with(&key)
    }

    /// Signs with any key (an attacker's, a removed one).
    #[must_use]
    pub fn sign_with(self, key: &SigningKey) -> String {
        let mut header = Map::new();
        header.insert("alg".into(), json!(key.alg.as_str()));
        match &self.kid {
            KidChoice::FromKey => {
                header.insert("kid".into(), json!(key.kid));
            }
            KidChoice::Explicit(kid) => {
                header.insert("kid".into(), json!(kid));
            }
            KidChoice::None => {}
        }
        header.extend(self.header);
        key.sign_compact(&Value::Object(header), &Value::Object(self.claims))
    }
}

async fn apply_fault(state: &IssuerState) -> Option<Response> {
    let fault = state.fault.read().ok()?.clone()?;
    match fault {
        Fault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            None
        }
        Fault::Status(code) => Some(
            StatusCode::from_u16(code)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response(),
        ),
        _ => None,
    }
}

async fn discovery(State(state): State<Arc<IssuerState>>) -> Response {
    state.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    if let Some(resp) = apply_fault(&state).await {
        return resp;
    }
    let algs: Vec<&str> = state
        .keys
        .read()
        .map(|k| k.iter().map(|k| k.alg.as_str()).collect())
        .unwrap_or_default();
    let issuer = &state.issuer;
    axum::Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "userinfo_endpoint": format!("{issuer}/oauth2/userinfo"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
    }))
    .into_response()
}

async fn introspect(
    State(state): State<Arc<IssuerState>>,
    headers: axum::http::HeaderMap,
    body: String,
) -> Response {
    state.introspections.fetch_add(1, Ordering::SeqCst);
    if let Some(resp) = apply_fault(&state).await {
        return resp;
    }
    let expected = state
        .introspection_client
        .read()
        .map(|c| c.clone())
        .unwrap_or_default();
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    if basic.as_deref() != Some(format!("{}:{}", expected.0, expected.1).as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let token = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(str::to_owned)
        .unwrap_or_default();
    let found = state
        .opaque
        .read()
        .ok()
        .and_then(|s| s.get(&token).cloned());
    let answer = match found {
        Some(Value::Object(mut claims)) => {
            let expired = claims
                .get("exp")
                .and_then(Value::as_i64)
                .is_some_and(|e| e <= unix_now());
            if expired {
                json!({"active": false})
            } else {
                claims.insert("active".into(), json!(true));
                claims
                    .entry("token_type")
                    .or_insert_with(|| json!("Bearer"));
                Value::Object(claims)
            }
        }
        _ => json!({"active": false}),
    };
    axum::Json(answer).into_response()
}

async fn jwks(State(state): State<Arc<IssuerState>>) -> Response {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    if let Some(resp) = apply_fault(&state).await {
        return resp;
    }
    let fault = state.fault.read().ok().and_then(|f| f.clone());
    let body = match fault {
        Some(Fault::Html) => {
            return (
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>502 Bad Gateway</body></html>",
            )
                .into_response();
        }
        Some(Fault::Garbage) => return "\u{0}\u{1}not json{{{".into_response(),
        Some(Fault::EmptySet) => json!({"keys": []}),
        Some(Fault::Huge) => {
            let filler = "x".repeat(2 * 1024 * 1024);
            json!({"keys": [], "filler": filler})
        }
        _ => {
            let mut keys: Vec<Value> = state
                .keys
                .read()
                .map(|k| k.iter().map(|k| k.public_jwk()).collect())
                .unwrap_or_default();
            if let Ok(raw) = state.raw_jwks.read() {
                keys.extend(raw.iter().cloned());
            }
            json!({ "keys": keys })
        }
    };
    let cache_control = state.cache_control.read().ok().and_then(|c| c.clone());
    let mut resp = axum::Json(body).into_response();
    if let Some(cc) = cache_control {
        if let Ok(v) = header::HeaderValue::from_str(&cc) {
            resp.headers_mut().insert(header::CACHE_CONTROL, v);
        }
    }
    resp
}

/// Serves `router` on a free loopback port in the current runtime; its `http://` origin.
#[cfg(test)]
pub(crate) async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

pub mod attacks;
pub mod dev;
