//! The verifier's DPoP entry points: the token's checks, then the proof bound to it.

use super::{DpopError, DpopRequest, Presented, check_proof};
use crate::claims::TokenClaims;
use crate::error::{KeysUnavailable, VerifyError};
use crate::explain::{Check, Explanation, Trace};
use crate::time::unix_now;
use crate::verify::Verifier;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

impl Verifier {
    /// Verifies a token as it was presented: [`verify`](Self::verify) for `Bearer`,
    /// [`verify_dpop`](Self::verify_dpop) for `DPoP`.
    ///
    /// # Errors
    ///
    /// As those two.
    pub async fn verify_presented(
        &self,
        presented: Presented<'_>,
        request: &DpopRequest,
    ) -> Result<Arc<TokenClaims>, VerifyError> {
        match presented {
            Presented::Bearer(token) => self.verify(token).await,
            Presented::Dpop { token, proof } => self.verify_dpop(token, proof, request).await,
        }
    }

    /// Verifies a DPoP-bound access token and its proof (RFC 9449 §4.3, §7.1; the rules are
    /// in [`crate::dpop`]): every check of [`verify`](Self::verify) on the token (cached
    /// verifications too), then the proof, then the token's `cnf.jkt` against the proof key,
    /// then the proof's `jti` against the replay store, then revocation. A proof is checked on
    /// every request, never cached.
    ///
    /// # Errors
    ///
    /// The token's [`VerifyError`]; [`VerifyError::Dpop`] for a refused proof;
    /// [`VerifyError::DpopUnboundToken`] for a token without `cnf.jkt` (a bearer token sent
    /// with the DPoP scheme); [`VerifyError::SenderConstrained`] for one bound another way;
    /// [`VerifyError::KeysUnavailable`] when the replay store cannot record the proof (503).
    pub async fn verify_dpop(
        &self,
        token: &str,
        proof: Option<&str>,
        request: &DpopRequest,
    ) -> Result<Arc<TokenClaims>, VerifyError> {
        let now = unix_now();
        let result = match self.verify_cached(token, now).await {
            Ok(claims) => self
                .bind(&claims, token, proof, request, now, &mut Trace::off())
                .await
                .map(|()| claims),
            Err(e) => Err(e),
        };
        self.record(&result);
        result
    }

    /// [`explain`](Self::explain) for a DPoP request: every check of
    /// [`verify_dpop`](Self::verify_dpop), in order ([`Check::DPOP_JWT`]). The proof's `jti` is
    /// recorded as used, as it would be by `verify_dpop`.
    pub async fn explain_dpop(
        &self,
        token: &str,
        proof: Option<&str>,
        request: &DpopRequest,
    ) -> Explanation {
        let mut trace = Trace::on();
        trace.dpop();
        let now = unix_now();
        let result = match self.verify_uncached(token, now, &mut trace).await {
            Ok(verified) => self
                .bind(&verified.claims, token, proof, request, now, &mut trace)
                .await
                .map(|()| verified.claims),
            Err(e) => Err(e),
        };
        trace.finish(result)
    }

    /// The DPoP checks after the token's own.
    async fn bind(
        &self,
        claims: &TokenClaims,
        token: &str,
        proof: Option<&str>,
        request: &DpopRequest,
        now: i64,
        trace: &mut Trace,
    ) -> Result<(), VerifyError> {
        let config = &self.inner.dpop;
        // A bearer token sent with the DPoP scheme: refused before any proof work.
        let jkt = match claims.extra.get("cnf") {
            None => {
                return trace.check(Check::DpopProof, Err(VerifyError::DpopUnboundToken));
            }
            Some(cnf) => match cnf.get("jkt") {
                Some(Value::String(jkt)) if !jkt.is_empty() => jkt.as_str(),
                _ => return trace.check(Check::DpopProof, Err(VerifyError::SenderConstrained)),
            },
        };
        let checked = proof
            .ok_or(DpopError::MissingProof)
            .and_then(|proof| check_proof(proof, token, request, config, now))
            .map_err(VerifyError::Dpop);
        let checked = trace.check(Check::DpopProof, checked)?;
        let bound = if checked.jkt.as_bytes() == jkt.as_bytes() {
            Ok(())
        } else {
            Err(VerifyError::Dpop(DpopError::KeyMismatch))
        };
        trace.check(Check::SenderConstraint, bound)?;
        let fresh = match config
            .replay
            .check_and_insert(checked.replay_key, checked.expires_at, now)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(VerifyError::Dpop(DpopError::Replayed)),
            Err(_) => Err(VerifyError::KeysUnavailable {
                reason: KeysUnavailable::DpopReplayStore,
                retry_after: Duration::from_secs(1),
            }),
        };
        trace.check(Check::DpopReplay, fresh)?;
        self.check_revoked(claims, now, trace)
    }
}
