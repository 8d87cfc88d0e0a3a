//! Errors: [`ConfigError`] when a verifier is built, [`VerifyError`] for each token.
//!
//! Every message is safe to show to a client: none contains the token or any part of it. Each
//! [`VerifyError`] knows its HTTP meaning ([`VerifyError::status_code`]): an invalid token is a
//! 401 with the RFC 6750 `invalid_token` code, a missing one a 401 without a code, and keys that
//! cannot be obtained a 503 — never a 401, since the client did nothing wrong.

use std::time::Duration;

/// A verifier could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A URL setting could not be parsed or has a scheme other than http/https.
    #[error("{setting} is not a valid http(s) URL: {reason}")]
    InvalidUrl {
        /// Which setting (e.g. `issuer`, `jwks_url`).
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A URL setting is plain `http` to a host other than a loopback one: keys, tokens and
    /// secrets would cross the network in the clear. Allowed only by
    /// [`VerifierBuilder::insecure_allow_http`](crate::VerifierBuilder::insecure_allow_http).
    #[error(
        "{setting} is plain http to a non-loopback host, which sends keys, tokens and secrets in the clear: use https (for a private network, allow it explicitly)"
    )]
    PlainHttp {
        /// Which setting.
        setting: &'static str,
    },
    /// No audience was configured and the audience check was not explicitly turned off.
    #[error(
        "no audience configured: set the client id(s) tokens are issued for (e.g. SSO_CLIENT_ID)"
    )]
    MissingAudience,
    /// Neither an issuer/authority nor a JWKS URL was given.
    #[error("no issuer configured: set the SSO issuer or its origin (e.g. AUTH_SERVER_URL)")]
    MissingIssuer,
    /// The algorithm allowlist is empty.
    #[error("the algorithm allowlist is empty")]
    NoAlgorithms,
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
    /// A duration or size setting is out of range.
    #[error("invalid setting {setting}: {reason}")]
    InvalidSetting {
        /// Which setting.
        setting: &'static str,
        /// Why.
        reason: String,
    },
}

/// Why signing keys are not available (the service side of a 503).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeysUnavailable {
    /// No key set has been loaded yet (first fetch failed or still running past the wait bound).
    NotLoaded,
    /// The last good key set is older than the staleness bound and refreshing it fails.
    Stale,
    /// The token introspection endpoint could not be reached or answered badly.
    Introspection,
    /// An API key could not be checked: the SSO's `get-session` or Better Auth's database
    /// could not be reached or answered badly ([`crate::api_key`]).
    ApiKeyLookup,
    /// The session store (Better Auth's `get-session`, its database or its secondary storage)
    /// could not be reached or answered badly.
    SessionStore,
    /// An organization membership could not be looked up (Better Auth's database could not be
    /// reached or answered badly, [`crate::organization`]).
    OrganizationStore,
    /// The DPoP replay store could not record a proof (full, or unreachable): the proof cannot
    /// be checked for reuse, so the request is not let in.
    DpopReplayStore,
}

/// Why a token was refused, or why it could not be checked.
///
/// `Display` gives a short message that is safe to return to the client.
///
/// # Example
///
/// ```
/// use ssoguard::VerifyError;
///
/// let err = VerifyError::AudienceMismatch;
/// assert_eq!(err.to_string(), "audience mismatch");
/// assert_eq!((err.status_code(), err.oauth_error_code()), (401, Some("invalid_token")));
/// assert_eq!(err.kind(), "audience_mismatch");
/// assert_eq!(VerifyError::MissingToken.oauth_error_code(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// No credentials were sent (401 without an error code, RFC 6750 §3.1).
    #[error("not authenticated")]
    MissingToken,
    /// The token is larger than the configured cap.
    #[error("token too large")]
    TokenTooLarge,
    /// The token is a JWE (five segments); only signed tokens are accepted.
    #[error("encrypted tokens (JWE) are not accepted")]
    Encrypted,
    /// The token is not a well-formed compact JWS; the reason names the part.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The header's `alg` is not an allowed asymmetric algorithm (`none`, `HS256`, …).
    #[error("unsupported or disallowed signing algorithm")]
    UnsupportedAlgorithm,
    /// The header's `alg` does not fit the key its `kid` names.
    #[error("algorithm does not match the signing key")]
    AlgorithmMismatch,
    /// The header names a critical extension (`crit`) this verifier does not implement.
    #[error("unsupported critical header parameter")]
    UnsupportedCritical,
    /// No key in the issuer's key set has this `kid` (also after a permitted refetch).
    #[error("signing key not found")]
    UnknownKey,
    /// The token has no `kid` and several keys could have signed it.
    #[error("token has no key id and several keys match")]
    AmbiguousKey,
    /// The signature does not verify.
    #[error("invalid signature")]
    InvalidSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("token issued in the future")]
    IssuedInFuture,
    /// A required claim is absent.
    #[error("missing claim: {0}")]
    MissingClaim(&'static str),
    /// A claim has the wrong type (e.g. `exp` as a string).
    #[error("invalid claim: {0}")]
    InvalidClaim(&'static str),
    /// `iss` is not the configured issuer.
    #[error("issuer mismatch")]
    IssuerMismatch,
    /// `aud` contains none of the configured audiences.
    #[error("audience mismatch")]
    AudienceMismatch,
    /// The SSO's introspection endpoint says the (opaque) token is not active: unknown, expired
    /// or revoked.
    #[error("token is not active")]
    Inactive,
    /// The token's kind is not a bearer access or ID token: a header `typ` such as `logout+jwt`
    /// or `dpop+jwt`, or an introspection answer naming a refresh token.
    #[error("not a bearer token")]
    UnexpectedTokenType,
    /// An ID token for several audiences names another client in `azp` (OIDC Core 3.1.3.7).
    #[error("authorized party mismatch")]
    AuthorizedPartyMismatch,
    /// The token is sender-constrained (`cnf`), which a Bearer request cannot prove (or, sent
    /// with a DPoP proof, bound by another method than DPoP's `cnf.jkt`).
    #[error("sender-constrained (DPoP/mTLS) token used as a bearer token")]
    SenderConstrained,
    /// The DPoP proof sent with the token was refused (401, `invalid_dpop_proof`).
    #[error("{0}")]
    Dpop(crate::dpop::DpopError),
    /// The service requires DPoP and the token came as `Bearer`.
    #[error("DPoP is required: send the token with the DPoP scheme and a proof")]
    DpopRequired,
    /// The token came with the DPoP scheme but is not bound to a key (no `cnf.jkt`).
    #[error("DPoP authorization requires a DPoP-bound access token")]
    DpopUnboundToken,
    /// The token's session was signed out at the SSO (back-channel logout), or its subject's
    /// tokens issued before a logout are refused.
    #[error("token revoked")]
    Revoked,
    /// An `x-api-key` credential was refused ([`crate::api_key`]): 401, or 429 when the key is
    /// over its rate limit.
    #[error("{0}")]
    ApiKey(crate::api_key::ApiKeyRefusal),
    /// The session cookie is well signed but names no live session: unknown token, signed out,
    /// revoked, or deleted by an admin.
    #[error("session not found")]
    SessionNotFound,
    /// The session's user is banned (Better Auth's admin plugin; a ban whose `banExpires` has
    /// passed no longer counts).
    #[error("user is banned")]
    UserBanned,
    /// Signing keys could not be obtained: a service failure, answered with 503.
    #[error("authentication service unavailable")]
    KeysUnavailable {
        /// What is missing.
        reason: KeysUnavailable,
        /// When a retry may succeed (the refetch cooldown).
        retry_after: Duration,
    },
}

impl VerifyError {
    /// The HTTP status this error maps to: 401, 503 for [`VerifyError::KeysUnavailable`], 429
    /// for an API key over its rate limit.
    #[must_use]
    pub fn status_code(&self) -> u16 {
        match self {
            VerifyError::KeysUnavailable { .. } => 503,
            VerifyError::ApiKey(refusal) => refusal.status_code(),
            _ => 401,
        }
    }

    /// The RFC 6750 error code: `None` for a missing token, `invalid_token` otherwise
    /// (and `None` for a 503, which is not an authentication failure).
    #[must_use]
    pub fn oauth_error_code(&self) -> Option<&'static str> {
        match self {
            VerifyError::MissingToken | VerifyError::KeysUnavailable { .. } => None,
            VerifyError::Dpop(_) => Some("invalid_dpop_proof"),
            // Over its rate limit, the key is valid: no token error to report.
            VerifyError::ApiKey(crate::api_key::ApiKeyRefusal::RateLimited { .. }) => None,
            _ => Some("invalid_token"),
        }
    }

    /// True when the failure is the service's, not the token's (503).
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(self, VerifyError::KeysUnavailable { .. })
    }

    /// A stable snake_case label for metrics and machine-readable reports.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            VerifyError::MissingToken => "missing_token",
            VerifyError::TokenTooLarge => "token_too_large",
            VerifyError::Encrypted => "encrypted",
            VerifyError::Malformed(_) => "malformed",
            VerifyError::UnsupportedAlgorithm => "unsupported_algorithm",
            VerifyError::AlgorithmMismatch => "algorithm_mismatch",
            VerifyError::UnsupportedCritical => "unsupported_critical",
            VerifyError::UnknownKey => "unknown_key",
            VerifyError::AmbiguousKey => "ambiguous_key",
            VerifyError::InvalidSignature => "invalid_signature",
            VerifyError::Expired => "expired",
            VerifyError::NotYetValid => "not_yet_valid",
            VerifyError::IssuedInFuture => "issued_in_future",
            VerifyError::MissingClaim(_) => "missing_claim",
            VerifyError::InvalidClaim(_) => "invalid_claim",
            VerifyError::IssuerMismatch => "issuer_mismatch",
            VerifyError::AudienceMismatch => "audience_mismatch",
            VerifyError::SenderConstrained => "sender_constrained",
            VerifyError::Dpop(_) => "invalid_dpop_proof",
            VerifyError::DpopRequired => "dpop_required",
            VerifyError::DpopUnboundToken => "dpop_unbound_token",
            VerifyError::Revoked => "revoked",
            VerifyError::UnexpectedTokenType => "unexpected_token_type",
            VerifyError::AuthorizedPartyMismatch => "authorized_party_mismatch",
            VerifyError::Inactive => "inactive",
            VerifyError::ApiKey(_) => "api_key_refused",
            VerifyError::SessionNotFound => "session_not_found",
            VerifyError::UserBanned => "user_banned",
            VerifyError::KeysUnavailable { .. } => "keys_unavailable",
        }
    }

    /// Every [`VerifyError::kind`] label, in a fixed order (for metrics tables).
    pub const KINDS: [&'static str; 29] = [
        "missing_token",
        "token_too_large",
        "encrypted",
        "malformed",
        "unsupported_algorithm",
        "algorithm_mismatch",
        "unsupported_critical",
        "unknown_key",
        "ambiguous_key",
        "invalid_signature",
        "expired",
        "not_yet_valid",
        "issued_in_future",
        "missing_claim",
        "invalid_claim",
        "issuer_mismatch",
        "audience_mismatch",
        "sender_constrained",
        "invalid_dpop_proof",
        "dpop_required",
        "dpop_unbound_token",
        "revoked",
        "unexpected_token_type",
        "authorized_party_mismatch",
        "inactive",
        "api_key_refused",
        "session_not_found",
        "user_banned",
        "keys_unavailable",
    ];

    pub(crate) fn kind_index(&self) -> usize {
        let kind = self.kind();
        Self::KINDS.iter().position(|k| *k == kind).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_meaning() {
        assert_eq!(VerifyError::MissingToken.status_code(), 401);
        assert_eq!(VerifyError::MissingToken.oauth_error_code(), None);
        assert_eq!(
            VerifyError::Expired.oauth_error_code(),
            Some("invalid_token")
        );
        let unavailable = VerifyError::KeysUnavailable {
            reason: KeysUnavailable::NotLoaded,
            retry_after: Duration::from_secs(30),
        };
        assert_eq!(unavailable.status_code(), 503);
        assert!(unavailable.is_unavailable());
        assert_eq!(
            VerifyError::KINDS[unavailable.kind_index()],
            "keys_unavailable"
        );
        assert_eq!(
            VerifyError::KINDS[VerifyError::Expired.kind_index()],
            "expired"
        );
    }
}
