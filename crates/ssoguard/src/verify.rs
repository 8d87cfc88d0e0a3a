//! The [`Verifier`]: a bearer JWT in, verified [`TokenClaims`] or a precise [`VerifyError`] out.

use crate::algorithm::Algorithm;
use crate::batch;
use crate::claims::TokenClaims;
use crate::discovery::ProviderMetadata;
use crate::dpop::DpopConfig;
use crate::error::{KeysUnavailable, VerifyError};
use crate::explain::{Check, Explanation, Trace};
use crate::introspection::{Introspector, is_b64token, looks_opaque};
use crate::jwk::VerifyingKey;
use crate::jwks::{JwksCache, KeyStatus};
use crate::jws;
use crate::logout::LogoutState;
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::revocation::Revocations;
use crate::time::unix_now;
use crate::token_cache::{TokenCache, Verified};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
    pub(crate) inner: Arc<Inner>,
}

/// A verifier's shared state (built by `VerifierBuilder::build`).
pub(crate) struct Inner {
    pub(crate) keys: JwksCache,
    pub(crate) audiences: Vec<String>,
    pub(crate) allowed: Vec<Algorithm>,
    pub(crate) leeway: i64,
    pub(crate) max_token_bytes: usize,
    pub(crate) check_issuer: bool,
    pub(crate) check_audience: bool,
    pub(crate) allow_sender_constrained: bool,
    pub(crate) token_cache: TokenCache,
    pub(crate) signature_batching: bool,
    pub(crate) introspector: Option<Arc<Introspector>>,
    pub(crate) dpop: DpopConfig,
    pub(crate) revocations: Arc<dyn Revocations>,
    pub(crate) logout: LogoutState,
    pub(crate) purged_generation: AtomicU64,
    pub(crate) metrics: Arc<Metrics>,
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
    /// Verifies a token and returns its claims.
    ///
    /// Checks, in order ([`Check::JWT`]): size, shape and `crit`, algorithm allowlist, key (by
    /// `kid`, pinned to the key's type and `alg`), signature, claim types, then `exp`, `nbf`,
    /// `iat`, `iss`, `aud`, `cnf` (a sender-constrained token is refused here: see
    /// [`verify_dpop`](Self::verify_dpop)) and revocation ([`crate::logout`]). A token verified
    /// before is answered from the verified-token cache ([`crate::TokenCacheConfig`]) while its
    /// key is still in the SSO's key set; `exp`, `nbf`, `iat`, `cnf` and revocation are checked
    /// again on every hit.
    ///
    /// # Errors
    ///
    /// A [`VerifyError`] naming the first failed check; [`VerifyError::KeysUnavailable`] when the
    /// SSO's keys cannot be obtained (a 503 condition, not the token's fault).
    pub async fn verify(&self, token: &str) -> Result<Arc<TokenClaims>, VerifyError> {
        let now = unix_now();
        let result = self.verify_cached(token, now).await.and_then(|claims| {
            let trace = &mut Trace::off();
            self.check_bearer(&claims, trace)?;
            self.check_revoked(&claims, now, trace)?;
            Ok(claims)
        });
        self.record(&result);
        result
    }

    /// Counts a verification's outcome.
    pub(crate) fn record(&self, result: &Result<Arc<TokenClaims>, VerifyError>) {
        match result {
            Ok(_) => Metrics::incr(&self.inner.metrics.verified),
            Err(e) => self.inner.metrics.record_failure(e),
        }
    }

    /// Runs every check of [`verify`](Self::verify) on `token`, bypassing the verified-token
    /// cache, and records each one's outcome in order: what `ssoguard verify` prints.
    ///
    /// Keys are fetched as `verify` would; the metrics are not touched.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn run(verifier: ssoguard::Verifier, token: &str) {
    /// use ssoguard::{Check, Outcome};
    ///
    /// let explanation = verifier.explain(token).await;
    /// for (check, outcome) in explanation.checks() {
    ///     println!("{:<10} {outcome:?}", check.name());
    /// }
    /// if let Some((check, error)) = explanation.failure() {
    ///     println!("refused at {}: {error}", check.name());
    /// }
    /// # }
    /// ```
    pub async fn explain(&self, token: &str) -> Explanation {
        let mut trace = Trace::on();
        let now = unix_now();
        let result = self
            .verify_uncached(token, now, &mut trace)
            .await
            .and_then(|verified| {
                self.check_bearer(&verified.claims, &mut trace)?;
                self.check_revoked(&verified.claims, now, &mut trace)?;
                Ok(verified.claims)
            });
        trace.finish(result)
    }

    /// The verified-token cache in front of [`verify_uncached`](Self::verify_uncached): the
    /// token's own checks, not how it was presented (`cnf`) nor revocation, which callers check
    /// on every request.
    pub(crate) async fn verify_cached(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Arc<TokenClaims>, VerifyError> {
        let inner = &*self.inner;
        let cacheable = inner.token_cache.enabled()
            && token.len() <= inner.max_token_bytes
            && !self.introspects(token);
        if !cacheable {
            let verified = self.verify_uncached(token, now, &mut Trace::off()).await?;
            return Ok(verified.claims);
        }
        let hash = TokenCache::hash(token);
        let hit = inner
            .token_cache
            .get(&hash, Instant::now(), |generation, kid, key| {
                generation == inner.keys.current_generation()
                    || inner.keys.current().is_some_and(|set| set.holds(kid, key))
            });
        if let Some(claims) = hit {
            self.check_times(&claims, now, &mut Trace::off())?;
            Metrics::incr(&inner.metrics.cache_hits);
            return Ok(claims);
        }
        let verified = self.verify_uncached(token, now, &mut Trace::off()).await?;
        if let Some(signer) = verified.signer {
            self.purge_if_rotated(signer.generation);
            inner.token_cache.insert(
                hash,
                Verified {
                    claims: verified.claims.clone(),
                    kid: signer.kid,
                    key: signer.key,
                    generation: signer.generation,
                    seconds_to_exp: verified.claims.exp.saturating_sub(now),
                    payload_bytes: verified.payload_bytes,
                },
            );
        }
        Ok(verified.claims)
    }

    /// True when `token` is opaque and goes to introspection instead of the JWS checks.
    fn introspects(&self, token: &str) -> bool {
        self.inner.introspector.is_some() && looks_opaque(token)
    }

    /// Every check, in order, each recorded in `trace`: size, then (a JWS) header, algorithm,
    /// key, signature, claims, or (an opaque token, when introspection is on) introspection;
    /// then the claim checks.
    pub(crate) async fn verify_uncached(
        &self,
        token: &str,
        now: i64,
        trace: &mut Trace,
    ) -> Result<Verification, VerifyError> {
        let inner = &*self.inner;
        let size = if token.len() > inner.max_token_bytes {
            Err(VerifyError::TokenTooLarge)
        } else {
            Ok(())
        };
        trace.check(Check::Size, size)?;
        if let Some(introspector) = &inner.introspector {
            if looks_opaque(token) {
                // Refused without a call: no access token has other characters (RFC 6750).
                let syntax = if is_b64token(token) {
                    Ok(())
                } else {
                    Err(VerifyError::Malformed("not an RFC 6750 bearer token"))
                };
                trace.check(Check::Header, syntax)?;
                return self.verify_opaque(introspector, token, now, trace).await;
            }
        }
        let signed = self.check_jws(token, trace, bearer_kind).await?;
        let parsed = jws::decode_payload(signed.payload_b64).and_then(|payload| {
            let claims = TokenClaims::from_json_slice(&payload)?;
            // A security event (a logout token sent without its `typ`) is no bearer token.
            if claims.extra.contains_key("events") {
                return Err(VerifyError::UnexpectedTokenType);
            }
            Ok((claims, payload.len()))
        });
        let (claims, payload_bytes) = trace.check(Check::Claims, parsed)?;
        self.check_claims(&claims, now, signed.kind, trace)?;
        Ok(Verification {
            claims: Arc::new(claims),
            signer: Some(signed.signer),
            payload_bytes,
        })
    }

    /// The JWS checks shared by every signed token the SSO sends (access and ID tokens, logout
    /// tokens): shape, `crit`, `typ` (by `kind`, which also says whether it is an access
    /// token), algorithm, key and signature, each recorded in `trace`.
    pub(crate) async fn check_jws<'t>(
        &self,
        token: &'t str,
        trace: &mut Trace,
        kind: fn(Option<&str>) -> Result<bool, VerifyError>,
    ) -> Result<SignedJws<'t>, VerifyError> {
        let inner = &*self.inner;
        let header = jws::split(token, inner.max_token_bytes).and_then(|jws| {
            if jws.header.crit.is_some() {
                return Err(VerifyError::UnsupportedCritical);
            }
            let kind = kind(jws.header.typ.as_deref())?;
            Ok((jws, kind))
        });
        let (jws, kind) = trace.check(Check::Header, header)?;
        let alg = jws.alg.filter(|a| inner.allowed.contains(a));
        let alg = trace.check(
            Check::Algorithm,
            alg.ok_or(VerifyError::UnsupportedAlgorithm),
        )?;
        // A `kid` we do not hold makes the key set refetch, but only for a token that claims our
        // issuer (when issuers are checked at all): a stranger's token cannot make us download
        // anything. The claim checks below compare `iss` again, verified.
        let claims_our_issuer = || {
            !inner.check_issuer
                || crate::jws::unverified_issuer(jws.payload_b64)
                    .is_ok_and(|iss| inner.keys.issuer_matches(&iss).unwrap_or(true))
        };
        let found = inner
            .keys
            .key_for(jws.header.kid.as_deref(), alg, claims_our_issuer)
            .await
            .and_then(|(key, generation)| {
                if key.fits(alg) {
                    Ok((key, generation))
                } else {
                    Err(VerifyError::AlgorithmMismatch)
                }
            });
        if trace.is_on() {
            if let Some(set) = inner.keys.current() {
                let (kids, skipped) = set.describe();
                trace.key_set(kids, skipped);
            }
        }
        let (key, generation) = trace.check(Check::Key, found)?;
        trace.key(&key);
        let valid = if inner.signature_batching && alg == Algorithm::EdDSA {
            let outcome = batch::verify(&key, alg, jws.signing_input, &jws.signature).await;
            if outcome.batched {
                Metrics::incr(&inner.metrics.ed25519_batched);
            }
            outcome.valid
        } else {
            key.verify(alg, jws.signing_input, &jws.signature) == Some(true)
        };
        let signature = if valid {
            Ok(())
        } else {
            Err(VerifyError::InvalidSignature)
        };
        trace.check(Check::Signature, signature)?;
        Ok(SignedJws {
            payload_b64: jws.payload_b64,
            kind,
            signer: Signer {
                kid: jws.header.kid,
                key,
                generation,
            },
        })
    }

    async fn verify_opaque(
        &self,
        introspector: &Arc<Introspector>,
        token: &str,
        now: i64,
        trace: &mut Trace,
    ) -> Result<Verification, VerifyError> {
        let answer = match self.introspection_endpoint(introspector).await {
            Ok(endpoint) => introspector.introspect(token, &endpoint).await,
            Err(e) => Err(e),
        };
        let map = trace.check(Check::Introspection, answer)?;
        let claims = trace.check(Check::Claims, TokenClaims::from_map(map))?;
        // An introspected token is an access token: RFC 9068's rules, no ID-token `azp` rule.
        self.check_claims(&claims, now, true, trace)?;
        Ok(Verification {
            claims: Arc::new(claims),
            signer: None,
            payload_bytes: 0,
        })
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

    /// Introspection calls made so far (0 when introspection is off). Feature `testing`.
    #[cfg(feature = "testing")]
    #[must_use]
    pub fn introspection_calls(&self) -> u64 {
        self.inner.introspector.as_ref().map_or(0, |i| i.calls())
    }

    /// Active introspection answers currently cached. Feature `testing`.
    #[cfg(feature = "testing")]
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

    /// OIDC Core 3.1.3.7: an ID token for several audiences that names its authorized party
    /// must name one of ours. (An RFC 9068 access token's `azp`/`client_id` is the calling
    /// client, which may differ: not checked here.) Compares borrowed strings: no allocation.
    fn check_authorized_party(&self, claims: &TokenClaims) -> Result<(), VerifyError> {
        let several = matches!(&claims.aud, crate::claims::Audience::Many(list) if list.len() > 1);
        if !several || !self.inner.check_audience {
            return Ok(());
        }
        match claims.extra.get("azp") {
            None => Ok(()),
            Some(azp) => match azp.as_str() {
                Some(azp) if self.inner.audiences.iter().any(|a| a == azp) => Ok(()),
                _ => Err(VerifyError::AuthorizedPartyMismatch),
            },
        }
    }

    /// The time checks (`exp`, `nbf`, `iat`), each within the leeway: on every verification and
    /// on every cache hit.
    fn check_times(
        &self,
        claims: &TokenClaims,
        now: i64,
        trace: &mut Trace,
    ) -> Result<(), VerifyError> {
        let latest = now.saturating_add(self.inner.leeway);
        let refuse = |refused: bool, error: VerifyError| if refused { Err(error) } else { Ok(()) };
        let expired = now >= claims.exp.saturating_add(self.inner.leeway);
        trace.check(Check::Expiry, refuse(expired, VerifyError::Expired))?;
        let early = claims.nbf.is_some_and(|nbf| nbf > latest);
        trace.check(Check::NotBefore, refuse(early, VerifyError::NotYetValid))?;
        let future = claims.iat.is_some_and(|iat| iat > latest);
        trace.check(Check::IssuedAt, refuse(future, VerifyError::IssuedInFuture))?;
        Ok(())
    }

    /// The claim checks after the signature: times, then issuer, audience and `cnf` (each
    /// unless turned off by an `insecure_*` builder setting). `access_token` (an RFC 9068
    /// `at+jwt` or an introspected token) exempts it from the ID-token `azp` rule.
    fn check_claims(
        &self,
        claims: &TokenClaims,
        now: i64,
        access_token: bool,
        trace: &mut Trace,
    ) -> Result<(), VerifyError> {
        let inner = &*self.inner;
        self.check_times(claims, now, trace)?;
        if inner.check_issuer {
            let matches =
                inner
                    .keys
                    .issuer_matches(&claims.iss)
                    .ok_or(VerifyError::KeysUnavailable {
                        reason: KeysUnavailable::NotLoaded,
                        retry_after: Duration::from_secs(1),
                    });
            let issuer = matches.and_then(|m| {
                if m {
                    Ok(())
                } else {
                    Err(VerifyError::IssuerMismatch)
                }
            });
            trace.check(Check::Issuer, issuer)?;
        } else {
            trace.skip(Check::Issuer);
        }
        if inner.check_audience {
            let matches = inner.audiences.iter().any(|a| claims.aud.contains(a));
            let audience = if !matches {
                Err(VerifyError::AudienceMismatch)
            } else if access_token {
                Ok(())
            } else {
                self.check_authorized_party(claims)
            };
            trace.check(Check::Audience, audience)?;
        } else {
            trace.skip(Check::Audience);
        }
        Ok(())
    }

    /// `cnf` for a token sent as `Bearer`: refused when the service requires DPoP, or when the
    /// token is sender-constrained (unless that check is turned off in `dangerous`).
    pub(crate) fn check_bearer(
        &self,
        claims: &TokenClaims,
        trace: &mut Trace,
    ) -> Result<(), VerifyError> {
        let inner = &*self.inner;
        if inner.dpop.required {
            return trace.check(Check::SenderConstraint, Err(VerifyError::DpopRequired));
        }
        if inner.allow_sender_constrained {
            trace.skip(Check::SenderConstraint);
            return Ok(());
        }
        let constrained = if claims.extra.contains_key("cnf") {
            Err(VerifyError::SenderConstrained)
        } else {
            Ok(())
        };
        trace.check(Check::SenderConstraint, constrained)
    }

    /// Revocation (back-channel logout): the token's `sid`, or its `sub` and `iat`. One atomic
    /// load when nothing is revoked.
    pub(crate) fn check_revoked(
        &self,
        claims: &TokenClaims,
        now: i64,
        trace: &mut Trace,
    ) -> Result<(), VerifyError> {
        let store = &self.inner.revocations;
        let revoked = !store.is_empty() && {
            let sid = claims.extra.get("sid").and_then(|v| v.as_str());
            store.is_revoked(sid, &claims.sub, claims.iat, now)
        };
        trace.check(
            Check::Revocation,
            if revoked {
                Err(VerifyError::Revoked)
            } else {
                Ok(())
            },
        )
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

    /// The DPoP settings: for RFC 9728 metadata (`dpop_signing_alg_values_supported`,
    /// `dpop_bound_access_tokens_required`) and challenges.
    pub fn dpop(&self) -> &DpopConfig {
        &self.inner.dpop
    }

    /// The revocation store back-channel logouts go to: hand it to a
    /// [`SessionVerifier`](crate::session::SessionVerifier) so its caches never answer for a
    /// signed-out session either.
    #[must_use]
    pub fn revocations(&self) -> Arc<dyn Revocations> {
        self.inner.revocations.clone()
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
    /// [`crate::TokenCacheConfig::max_bytes`] bounds).
    #[must_use]
    pub fn token_cache_bytes(&self) -> usize {
        self.inner.token_cache.bytes()
    }
}

/// What [`Verifier::verify_uncached`] found.
pub(crate) struct Verification {
    pub(crate) claims: Arc<TokenClaims>,
    /// The key that checked a JWS (none for an introspected token, which is not cached here).
    signer: Option<Signer>,
    /// Length of the decoded payload (the cache's memory estimate).
    payload_bytes: usize,
}

/// A JWS whose signature checked out, payload still encoded.
pub(crate) struct SignedJws<'t> {
    pub(crate) payload_b64: &'t str,
    /// What the `typ` rule said (for bearer tokens: an RFC 9068 access token).
    pub(crate) kind: bool,
    signer: Signer,
}

/// The key that checked a signature, and the key set it came from.
struct Signer {
    kid: Option<String>,
    key: Arc<VerifyingKey>,
    generation: u64,
}

/// Whether a header `typ` is a bearer token's: `Ok(true)` for an RFC 9068 access token
/// (`at+jwt`), `Ok(false)` for a plain JWT (an ID token: no `typ`, `JWT`), and
/// [`VerifyError::UnexpectedTokenType`] for anything else (`logout+jwt`, `dpop+jwt`,
/// `secevent+jwt`, `token-introspection+jwt`, …), whose signature alone must not authenticate.
/// Compared case-insensitively with the optional `application/` prefix (RFC 7515 §4.1.9).
fn bearer_kind(typ: Option<&str>) -> Result<bool, VerifyError> {
    let Some(typ) = typ else { return Ok(false) };
    let media = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    if media.eq_ignore_ascii_case("jwt") {
        Ok(false)
    } else if media.eq_ignore_ascii_case("at+jwt") {
        Ok(true)
    } else {
        Err(VerifyError::UnexpectedTokenType)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_kinds_by_typ() {
        for typ in [None, Some("JWT"), Some("jwt"), Some("application/jwt")] {
            assert_eq!(bearer_kind(typ), Ok(false), "{typ:?}");
        }
        for typ in ["at+jwt", "AT+JWT", "application/at+jwt"] {
            assert_eq!(bearer_kind(Some(typ)), Ok(true), "{typ}");
        }
        for typ in [
            "logout+jwt",
            "dpop+jwt",
            "secevent+jwt",
            "token-introspection+jwt",
            "application/",
            "",
            "JOSE",
        ] {
            assert_eq!(
                bearer_kind(Some(typ)),
                Err(VerifyError::UnexpectedTokenType),
                "{typ}"
            );
        }
    }
}
