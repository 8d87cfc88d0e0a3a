//! DPoP (RFC 9449): a proof that the caller holds the key an access token is bound to.
//!
//! A request carries `Authorization: DPoP <token>` and one `DPoP: <proof>` header. The proof is
//! a JWT the client signs for this one request; [`DpopConfig`] sets what is accepted and
//! [`crate::Verifier::verify_dpop`] checks token and proof together. The proof rules, in the
//! order they run (RFC 9449 §4.3):
//!
//! 1. one `DPoP` header, a compact JWS of at most 8 KiB, a strict header with no `crit`;
//! 2. `typ` is `dpop+jwt`;
//! 3. `alg` is in the configured list (default: what Better Auth accepts — `EdDSA`, `ES256`,
//!    `ES512`, `PS256`, `RS256`); every algorithm here is asymmetric;
//! 4. `jwk` is a public key (no `d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`) that fits `alg`;
//! 5. the signature verifies with that key;
//! 6. `htm`, `htu`, `iat`, `jti` present with the right types, `ath` present;
//! 7. `htm` is the request method; `htu` is the request URL without query and fragment, both
//!    normalised (RFC 3986 §6.2.2/§6.2.3);
//! 8. `iat` within the window (default ±60 s);
//! 9. `ath` is base64url(SHA-256(access token));
//! 10. the token's `cnf.jkt` is the RFC 7638 thumbprint of `jwk` (checked by the verifier);
//! 11. the proof was not seen before within the window ([`ReplayStore`]).
//!
//! Server nonces (`DPoP-Nonce`, `use_dpop_nonce`) are not used: Better Auth's server and its
//! resource helper neither send nor require them, and its clients work without them.

mod bind;
mod error;
mod htu;
mod presented;
mod replay;

pub use error::DpopError;
pub use presented::{Presented, proof_header};
pub use replay::{MemoryReplayStore, ReplayKey, ReplayStore, ReplayStoreUnavailable};

use crate::algorithm::Algorithm;
use crate::error::ConfigError;
use crate::jwk::{self, VerifyingKey};
use crate::jws;
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::Method;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// Largest `DPoP` header accepted, in bytes.
const MAX_PROOF_BYTES: usize = 8 * 1024;
/// Longest `jti` accepted (Better Auth's limit).
const MAX_JTI_BYTES: usize = 512;
/// JWK members that only a private (or symmetric) key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// What a service accepts as a DPoP proof. Enable it with
/// [`VerifierBuilder::dpop`](crate::VerifierBuilder::dpop).
///
/// # Example
///
/// ```
/// use ssoguard::Algorithm;
/// use ssoguard::dpop::DpopConfig;
/// use std::time::Duration;
///
/// let config = DpopConfig::default()
///     .algorithms([Algorithm::ES256, Algorithm::EdDSA])
///     .iat_window(Duration::from_secs(30))
///     .required(true);
/// assert!(config.is_required());
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct DpopConfig {
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) iat_window: i64,
    pub(crate) required: bool,
    pub(crate) replay: Arc<dyn ReplayStore>,
}

impl Default for DpopConfig {
    fn default() -> Self {
        DpopConfig {
            algorithms: Self::BETTER_AUTH_ALGORITHMS.to_vec(),
            iat_window: 60,
            required: false,
            replay: Arc::new(MemoryReplayStore::default()),
        }
    }
}

impl DpopConfig {
    /// The proof algorithms Better Auth accepts (`DPOP_SIGNING_ALGORITHMS`): the default.
    pub const BETTER_AUTH_ALGORITHMS: [Algorithm; 5] = [
        Algorithm::EdDSA,
        Algorithm::ES256,
        Algorithm::ES512,
        Algorithm::PS256,
        Algorithm::RS256,
    ];

    /// The proof algorithms accepted (all asymmetric: no other kind exists in [`Algorithm`]).
    /// Default: [`DpopConfig::BETTER_AUTH_ALGORITHMS`]. An empty list fails at `build()`.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        let mut algorithms: Vec<Algorithm> = algorithms.into_iter().collect();
        algorithms.sort();
        algorithms.dedup();
        self.algorithms = algorithms;
        self
    }

    /// How far a proof's `iat` may be from now, either way. Default: 60 s. Between 1 s and
    /// 10 min, else `build()` fails. Proofs are remembered for this long after their `iat`.
    pub fn iat_window(mut self, window: Duration) -> Self {
        self.iat_window = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
        self
    }

    /// Refuse bearer tokens: every request must be DPoP. Default: `false` (a token without
    /// `cnf` may be sent as `Bearer`; a `cnf`-bound one never).
    pub fn required(mut self, required: bool) -> Self {
        self.required = required;
        self
    }

    /// Where proof ids are remembered. Default: a [`MemoryReplayStore`] of
    /// [`MemoryReplayStore::DEFAULT_CAPACITY`] proofs, for this process only.
    pub fn replay_store(mut self, store: Arc<dyn ReplayStore>) -> Self {
        self.replay = store;
        self
    }

    /// True when bearer tokens are refused.
    #[must_use]
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// The accepted proof algorithms (for `dpop_signing_alg_values_supported` and the `algs`
    /// challenge parameter).
    #[must_use]
    pub fn accepted_algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if self.algorithms.is_empty() {
            return Err(ConfigError::InvalidSetting {
                setting: "dpop algorithms",
                reason: "the list is empty".into(),
            });
        }
        if !(1..=600).contains(&self.iat_window) {
            return Err(ConfigError::InvalidSetting {
                setting: "dpop iat_window",
                reason: "must be between 1 s and 10 min".into(),
            });
        }
        Ok(())
    }
}

/// The request a proof must name: its method and its URL as the client addressed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopRequest {
    method: Method,
    htu: String,
}

impl DpopRequest {
    /// A request to `url` (absolute, as the client called it: behind a proxy, the public URL).
    /// Query and fragment are ignored.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidUrl`] when `url` is not an absolute http(s) URL.
    ///
    /// # Example
    ///
    /// ```
    /// use ssoguard::dpop::DpopRequest;
    ///
    /// let a = DpopRequest::new(http::Method::GET, "HTTPS://API.example.com:443/me?x=1")?;
    /// let b = DpopRequest::new(http::Method::GET, "https://api.example.com/me")?;
    /// assert_eq!(a, b);
    /// # Ok::<(), ssoguard::ConfigError>(())
    /// ```
    pub fn new(method: Method, url: &str) -> Result<Self, ConfigError> {
        let htu = htu::normalize(url).ok_or_else(|| ConfigError::InvalidUrl {
            setting: "dpop request url",
            reason: "not an absolute http(s) URL without user info or fragment".into(),
        })?;
        Ok(DpopRequest { method, htu })
    }

    /// A request for `uri` (the path the service received, e.g. `request.uri()`) under the
    /// service's public base URL (`https://api.example.com`, or with the prefix a proxy strips:
    /// `https://example.com/api`). Configure the base; never take it from request headers
    /// unless they come from a proxy you trust.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidUrl`] when the base is not an absolute http(s) URL.
    pub fn from_base(
        method: Method,
        public_base: &str,
        uri: &http::Uri,
    ) -> Result<Self, ConfigError> {
        let base = public_base.trim_end_matches('/');
        Self::new(method, &format!("{base}{}", uri.path()))
    }

    /// The request method.
    #[must_use]
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The normalised URL a proof's `htu` must match.
    #[must_use]
    pub fn htu(&self) -> &str {
        &self.htu
    }
}

/// A proof that passed rules 1–9 (signature, request, time and token hash), not yet bound to
/// the token nor checked for replay.
#[derive(Debug)]
pub(crate) struct CheckedProof {
    /// RFC 7638 thumbprint of the proof key (base64url SHA-256).
    pub(crate) jkt: String,
    /// The replay key and how long to keep it.
    pub(crate) replay_key: ReplayKey,
    pub(crate) expires_at: i64,
}

/// Rules 1–9 for `proof`, sent with `access_token` in `request`.
pub(crate) fn check_proof(
    proof: &str,
    access_token: &str,
    request: &DpopRequest,
    config: &DpopConfig,
    now: i64,
) -> Result<CheckedProof, DpopError> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(DpopError::Malformed("proof too large"));
    }
    let parsed = jws::split(proof, MAX_PROOF_BYTES).map_err(|e| match e {
        crate::VerifyError::Malformed(m) => DpopError::Malformed(m),
        _ => DpopError::Malformed("not a compact JWS"),
    })?;
    if parsed.header.crit.is_some() {
        return Err(DpopError::Malformed("crit is not supported"));
    }
    if !parsed
        .header
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt"))
    {
        return Err(DpopError::WrongType);
    }
    let alg = parsed
        .alg
        .filter(|a| config.algorithms.contains(a))
        .ok_or(DpopError::Algorithm)?;
    let jwk = header_jwk(proof)?;
    let key = public_key(&jwk, alg)?;
    if key.verify(alg, parsed.signing_input, &parsed.signature) != Some(true) {
        return Err(DpopError::Signature);
    }
    let payload = jws::decode_payload(parsed.payload_b64)
        .map_err(|_| DpopError::Malformed("payload is not base64url"))?;
    let claims: Map<String, Value> = serde_json::from_slice(&payload)
        .map_err(|_| DpopError::Malformed("payload is not a JSON object"))?;
    let string = |name: &'static str| match claims.get(name) {
        None => Err(DpopError::MissingClaim(name)),
        Some(Value::String(s)) if !s.is_empty() => Ok(s.as_str()),
        Some(_) => Err(DpopError::Malformed("a claim has the wrong type")),
    };
    let htm = string("htm")?;
    let htu = string("htu")?;
    let jti = string("jti")?;
    let iat = match claims.get("iat") {
        None => return Err(DpopError::MissingClaim("iat")),
        Some(v) => v
            .as_i64()
            .ok_or(DpopError::Malformed("iat is not an integer"))?,
    };
    let ath = string("ath")?;
    if jti.len() > MAX_JTI_BYTES {
        return Err(DpopError::Malformed("jti too long"));
    }
    if htm != request.method.as_str() {
        return Err(DpopError::Method);
    }
    if htu::normalize(htu).as_deref() != Some(request.htu.as_str()) {
        return Err(DpopError::Url);
    }
    if iat < now.saturating_sub(config.iat_window) || iat > now.saturating_add(config.iat_window) {
        return Err(DpopError::IssuedAt);
    }
    if !constant_time_eq(ath.as_bytes(), token_hash(access_token).as_bytes()) {
        return Err(DpopError::TokenHash);
    }
    let jkt = thumbprint(&jwk).ok_or(DpopError::Key("unsupported key type"))?;
    let replay_key = replay_key(&jkt, request, jti);
    Ok(CheckedProof {
        jkt,
        replay_key,
        // Accepted while `now <= iat + window`: remembered one second past that.
        expires_at: iat.saturating_add(config.iat_window).saturating_add(1),
    })
}

/// The header's `jwk` member, an object with no private member.
fn header_jwk(proof: &str) -> Result<Map<String, Value>, DpopError> {
    #[derive(serde::Deserialize)]
    struct Header {
        jwk: Option<Value>,
    }
    let header_b64 = proof.split('.').next().unwrap_or_default();
    let json = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| DpopError::Malformed("header is not base64url"))?;
    let header: Header = serde_json::from_slice(&json)
        .map_err(|_| DpopError::Malformed("header is not a JSON object"))?;
    let Some(Value::Object(jwk)) = header.jwk else {
        return Err(DpopError::Key("the header has no jwk object"));
    };
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(DpopError::Key("the jwk contains private key material"));
    }
    Ok(jwk)
}

fn public_key(jwk: &Map<String, Value>, alg: Algorithm) -> Result<VerifyingKey, DpopError> {
    let key = jwk::parse_one(&Value::Object(jwk.clone()), alg)
        .map_err(|_| DpopError::Key("not a usable public key for the proof's alg"))?;
    if key.fits(alg) {
        Ok(key)
    } else {
        Err(DpopError::Key(
            "not a usable public key for the proof's alg",
        ))
    }
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url) of a public JWK: its required members in
/// lexicographic order, no whitespace. `None` for a key type other than EC, OKP and RSA, or a
/// required member that is not a string.
#[must_use]
pub fn thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let kty = jwk.get("kty")?.as_str()?;
    let members: &[&str] = match kty {
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        "RSA" => &["e", "kty", "n"],
        _ => return None,
    };
    let mut canonical = String::from("{");
    for (i, name) in members.iter().enumerate() {
        let value = jwk.get(*name)?.as_str()?;
        if i > 0 {
            canonical.push(',');
        }
        canonical.push_str(&format!("\"{name}\":"));
        canonical.push_str(&serde_json::to_string(value).ok()?);
    }
    canonical.push('}');
    Some(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes())))
}

/// `ath`: base64url(SHA-256(access token)).
#[must_use]
pub fn token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, access_token.as_bytes()))
}

fn replay_key(jkt: &str, request: &DpopRequest, jti: &str) -> ReplayKey {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in [jkt, request.method.as_str(), request.htu.as_str(), jti] {
        ctx.update(part.as_bytes());
        ctx.update(b"\n");
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(ctx.finish().as_ref());
    key
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
