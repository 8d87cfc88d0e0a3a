//! [`Verifier::explain`](crate::Verifier::explain): every check of a verification, in the
//! library's own order, with its outcome.
//!
//! The explanation is recorded by the very code that verifies (`Verifier::verify_uncached`), so
//! the order and the verdict cannot drift from what [`Verifier::verify`](crate::Verifier::verify)
//! does. Nothing here contains the token or any part of it.

use crate::claims::TokenClaims;
use crate::error::VerifyError;
use crate::jwk::{SkippedKey, VerifyingKey};
use std::sync::Arc;

/// One check a verification runs. [`Check::JWT`] and [`Check::OPAQUE`] list them in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Check {
    /// The token's length against the configured cap.
    Size,
    /// Compact JWS shape, a strict header (no duplicate members, a string `alg`), no `crit`.
    Header,
    /// The header's `alg` is in the verifier's allowlist.
    Algorithm,
    /// A key of the SSO's key set (discovery and JWKS fetched as needed) matches the `kid`,
    /// and the key's type and `alg` fit the header's `alg`.
    Key,
    /// The signature verifies with that key.
    Signature,
    /// An opaque token is active according to the SSO's introspection endpoint.
    Introspection,
    /// The payload is a JSON object whose registered claims have the right types (`sub` set).
    Claims,
    /// `exp` is not past (leeway included).
    Expiry,
    /// `nbf`, if set, is not in the future.
    NotBefore,
    /// `iat`, if set, is not in the future.
    IssuedAt,
    /// `iss` is the configured (or discovered) issuer.
    Issuer,
    /// `aud` contains an accepted audience.
    Audience,
    /// A DPoP proof came with the token and holds (RFC 9449 §4.3: `typ`, `alg`, `jwk`,
    /// signature, `htm`, `htu`, `iat`, `ath`); the error names the failed rule.
    DpopProof,
    /// Sent as `Bearer`: the token is not sender-constrained (`cnf`) and DPoP is not required.
    /// Sent with DPoP: the token's `cnf.jkt` is the proof key's thumbprint.
    SenderConstraint,
    /// The DPoP proof was not used before (its `jti`, within the `iat` window).
    DpopReplay,
    /// The token's session (`sid`) or subject was not signed out at the SSO.
    Revocation,
}

impl Check {
    /// The checks of a JWT sent as `Bearer`, in the order they run.
    pub const JWT: [Check; 13] = [
        Check::Size,
        Check::Header,
        Check::Algorithm,
        Check::Key,
        Check::Signature,
        Check::Claims,
        Check::Expiry,
        Check::NotBefore,
        Check::IssuedAt,
        Check::Issuer,
        Check::Audience,
        Check::SenderConstraint,
        Check::Revocation,
    ];

    /// The checks of an opaque token (when introspection is configured), in the order they run.
    pub const OPAQUE: [Check; 10] = [
        Check::Size,
        Check::Introspection,
        Check::Claims,
        Check::Expiry,
        Check::NotBefore,
        Check::IssuedAt,
        Check::Issuer,
        Check::Audience,
        Check::SenderConstraint,
        Check::Revocation,
    ];

    /// The checks of a JWT sent with a DPoP proof, in the order they run.
    pub const DPOP_JWT: [Check; 15] = [
        Check::Size,
        Check::Header,
        Check::Algorithm,
        Check::Key,
        Check::Signature,
        Check::Claims,
        Check::Expiry,
        Check::NotBefore,
        Check::IssuedAt,
        Check::Issuer,
        Check::Audience,
        Check::DpopProof,
        Check::SenderConstraint,
        Check::DpopReplay,
        Check::Revocation,
    ];

    /// The checks of an opaque token sent with a DPoP proof, in the order they run (`cnf.jkt`
    /// comes from introspection).
    pub const DPOP_OPAQUE: [Check; 12] = [
        Check::Size,
        Check::Introspection,
        Check::Claims,
        Check::Expiry,
        Check::NotBefore,
        Check::IssuedAt,
        Check::Issuer,
        Check::Audience,
        Check::DpopProof,
        Check::SenderConstraint,
        Check::DpopReplay,
        Check::Revocation,
    ];

    /// A short stable name: `size`, `header`, `algorithm`, `key`, `signature`,
    /// `introspection`, `claims`, `exp`, `nbf`, `iat`, `iss`, `aud`, `dpop`, `cnf`, `dpop-jti`,
    /// `revoked`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Check::Size => "size",
            Check::Header => "header",
            Check::Algorithm => "algorithm",
            Check::Key => "key",
            Check::Signature => "signature",
            Check::Introspection => "introspection",
            Check::Claims => "claims",
            Check::Expiry => "exp",
            Check::NotBefore => "nbf",
            Check::IssuedAt => "iat",
            Check::Issuer => "iss",
            Check::Audience => "aud",
            Check::DpopProof => "dpop",
            Check::SenderConstraint => "cnf",
            Check::DpopReplay => "dpop-jti",
            Check::Revocation => "revoked",
        }
    }
}

/// What became of one [`Check`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The check ran and passed.
    Passed,
    /// The check ran and refused the token (or could not run: a 503 condition); verification
    /// stopped here.
    Failed(VerifyError),
    /// The check is turned off by the verifier's configuration (see `dangerous`).
    Skipped,
    /// An earlier check failed, so this one did not run.
    NotReached,
}

/// The key that checked a token's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyInfo {
    /// Its `kid`, if it has one.
    pub kid: Option<String>,
    /// Its type and size, e.g. `Ed25519`, `RSA 2048`, `P-256`.
    pub description: String,
}

/// The SSO's key set as the key check saw it (public information: key ids and why keys were
/// left out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeySetInfo {
    /// The `kid`s of the usable keys, sorted.
    pub kids: Vec<String>,
    /// The keys left out (unsupported type, algorithm not allowed, too weak, …), with reasons.
    pub skipped: Vec<SkippedKey>,
}

/// The record of one verification: see [`Verifier::explain`](crate::Verifier::explain).
#[derive(Debug, Clone)]
pub struct Explanation {
    checks: Vec<(Check, Outcome)>,
    key: Option<KeyInfo>,
    key_set: Option<KeySetInfo>,
    verdict: Result<Arc<TokenClaims>, VerifyError>,
}

impl Explanation {
    /// Every check of the token's path ([`Check::JWT`], [`Check::OPAQUE`], [`Check::DPOP_JWT`]
    /// or [`Check::DPOP_OPAQUE`]), in order, with
    /// its outcome; the checks after a failure are [`Outcome::NotReached`].
    #[must_use]
    pub fn checks(&self) -> &[(Check, Outcome)] {
        &self.checks
    }

    /// The outcome of `check`, if it is on the token's path.
    #[must_use]
    pub fn outcome(&self, check: Check) -> Option<&Outcome> {
        self.checks
            .iter()
            .find(|(c, _)| *c == check)
            .map(|(_, o)| o)
    }

    /// The key that checked the signature (once the key was found).
    #[must_use]
    pub fn key(&self) -> Option<&KeyInfo> {
        self.key.as_ref()
    }

    /// The key set the key check looked in (once one was loaded).
    #[must_use]
    pub fn key_set(&self) -> Option<&KeySetInfo> {
        self.key_set.as_ref()
    }

    /// The verdict: what [`Verifier::verify`](crate::Verifier::verify) answers for this token.
    ///
    /// # Errors
    ///
    /// The [`VerifyError`] of the failed check.
    pub fn verdict(&self) -> Result<&Arc<TokenClaims>, &VerifyError> {
        self.verdict.as_ref()
    }

    /// The check that failed and why, if one did.
    #[must_use]
    pub fn failure(&self) -> Option<(Check, &VerifyError)> {
        self.checks.iter().find_map(|(c, o)| match o {
            Outcome::Failed(e) => Some((*c, e)),
            _ => None,
        })
    }
}

/// Records the checks of one verification when on; costs a branch per check when off (the
/// `verify` path).
pub(crate) struct Trace {
    checks: Option<Vec<(Check, Outcome)>>,
    dpop: bool,
    key: Option<KeyInfo>,
    key_set: Option<KeySetInfo>,
}

impl Trace {
    /// A trace that records nothing.
    pub(crate) fn off() -> Self {
        Trace {
            checks: None,
            dpop: false,
            key: None,
            key_set: None,
        }
    }

    /// A trace that records every check.
    pub(crate) fn on() -> Self {
        Trace {
            checks: Some(Vec::with_capacity(Check::DPOP_JWT.len())),
            dpop: false,
            key: None,
            key_set: None,
        }
    }

    /// Marks the trace as a DPoP request's (its path has the DPoP checks).
    pub(crate) fn dpop(&mut self) {
        self.dpop = true;
    }

    /// Records `check` as passed or failed by `result`, and hands `result` on.
    pub(crate) fn check<T>(
        &mut self,
        check: Check,
        result: Result<T, VerifyError>,
    ) -> Result<T, VerifyError> {
        if let Some(checks) = &mut self.checks {
            let outcome = match &result {
                Ok(_) => Outcome::Passed,
                Err(e) => Outcome::Failed(e.clone()),
            };
            checks.push((check, outcome));
        }
        result
    }

    /// Records `check` as turned off by configuration.
    pub(crate) fn skip(&mut self, check: Check) {
        if let Some(checks) = &mut self.checks {
            checks.push((check, Outcome::Skipped));
        }
    }

    /// Records the key that is about to check the signature.
    pub(crate) fn key(&mut self, key: &VerifyingKey) {
        if self.checks.is_some() {
            self.key = Some(KeyInfo {
                kid: key.kid().map(str::to_owned),
                description: key.description().to_owned(),
            });
        }
    }

    /// True when this trace records (so describing the key set is worth its cost).
    pub(crate) fn is_on(&self) -> bool {
        self.checks.is_some()
    }

    /// Records the key set the key check looked in.
    pub(crate) fn key_set(&mut self, kids: Vec<String>, skipped: Vec<SkippedKey>) {
        if self.is_on() {
            self.key_set = Some(KeySetInfo { kids, skipped });
        }
    }

    /// The explanation: the recorded checks, then the rest of the token's path as not reached.
    pub(crate) fn finish(self, verdict: Result<Arc<TokenClaims>, VerifyError>) -> Explanation {
        let mut checks = self.checks.unwrap_or_default();
        let opaque = checks.iter().any(|(c, _)| *c == Check::Introspection);
        let path: &[Check] = match (opaque, self.dpop) {
            (true, false) => &Check::OPAQUE,
            (false, false) => &Check::JWT,
            (true, true) => &Check::DPOP_OPAQUE,
            (false, true) => &Check::DPOP_JWT,
        };
        let done = checks
            .last()
            .and_then(|(last, _)| path.iter().position(|c| c == last))
            .map_or(0, |i| i + 1);
        checks.extend(path[done..].iter().map(|c| (*c, Outcome::NotReached)));
        Explanation {
            checks,
            key: self.key,
            key_set: self.key_set,
            verdict,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unfinished_trace_is_completed_with_not_reached_checks() {
        let mut trace = Trace::on();
        trace.check(Check::Size, Ok(())).expect("passed");
        let _ = trace.check::<()>(Check::Header, Err(VerifyError::Malformed("x")));
        let explanation = trace.finish(Err(VerifyError::Malformed("x")));
        let names: Vec<&str> = explanation.checks().iter().map(|(c, _)| c.name()).collect();
        assert_eq!(
            names,
            Check::JWT.iter().map(|c| c.name()).collect::<Vec<_>>()
        );
        assert_eq!(explanation.outcome(Check::Size), Some(&Outcome::Passed));
        assert_eq!(
            explanation.failure(),
            Some((Check::Header, &VerifyError::Malformed("x")))
        );
        assert_eq!(
            explanation.outcome(Check::Signature),
            Some(&Outcome::NotReached)
        );
    }

    #[test]
    fn a_trace_that_is_off_records_nothing() {
        let mut trace = Trace::off();
        trace.check(Check::Size, Ok(())).expect("passed");
        trace.skip(Check::Audience);
        assert!(trace.checks.is_none());
    }
}
