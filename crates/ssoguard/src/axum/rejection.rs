//! [`AuthRejection`]: what an extractor or guard answers when a request is not let through.

use crate::credential::{CrossSite, Refusal, RefusalContext};
use crate::error::VerifyError;
use crate::verify::Verifier;
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::fmt;
use std::sync::Arc;

/// Why a request was refused, with its RFC 6750 response, rendered by
/// [`ssoguard::credential::Refusal`](crate::credential::Refusal) (the gateway renders the
/// same):
///
/// - missing credentials: 401, `WWW-Authenticate: Bearer realm="…"` (no error code);
/// - invalid token: 401, `… error="invalid_token", error_description="…"`; a refused DPoP
///   proof: `error="invalid_dpop_proof"` on the `DPoP` challenge;
/// - missing role/permission/scope: 403, `… error="insufficient_scope"` (with `scope="…"` for
///   a scope requirement);
/// - a cookie-borne token on a cross-site state-changing request (CSRF): 403, no challenge;
/// - an API key over its rate limit: 429 with `Retry-After`, no challenge;
/// - keys unavailable: 503 with `Retry-After`.
///
/// Where DPoP is accepted ([`Auth::with_public_url`](super::Auth::with_public_url)) a 401 also
/// carries a `DPoP` challenge with `algs`. Bodies are FastAPI-shaped: `{"detail": "…"}`.
#[derive(Debug, Clone)]
pub struct AuthRejection {
    refusal: Refusal,
    realm: Arc<str>,
    /// The verifier whose DPoP settings the challenge names, when DPoP is accepted.
    dpop: Option<Verifier>,
}

impl AuthRejection {
    pub(crate) fn new(refusal: Refusal, realm: Arc<str>, dpop: Option<Verifier>) -> Self {
        AuthRejection {
            refusal,
            realm,
            dpop,
        }
    }

    pub(crate) fn cross_site(cross: CrossSite, realm: Arc<str>) -> Self {
        Self::new(Refusal::CrossSite(cross), realm, None)
    }

    /// The HTTP status this rejection answers with.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.refusal.status()
    }

    /// The verification error behind a 401/503, if that is what this is.
    #[must_use]
    pub fn verify_error(&self) -> Option<&VerifyError> {
        match &self.refusal {
            Refusal::Verify { error, .. } => Some(error),
            Refusal::Forbidden { .. } | Refusal::CrossSite(_) => None,
        }
    }

    /// The refusal, as every surface renders it.
    #[must_use]
    pub fn refusal(&self) -> &Refusal {
        &self.refusal
    }
}

impl AuthRejection {
    /// The response, with `resource_metadata` (RFC 9728) on its challenges.
    pub(crate) fn to_response_with_metadata(&self, metadata_url: &str) -> Response {
        let context = RefusalContext {
            realm: &self.realm,
            resource_metadata: Some(metadata_url),
            dpop: self.dpop.as_ref().map(Verifier::dpop),
        };
        self.refusal.to_response(&context).map(Body::from)
    }
}

impl fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.refusal.detail())
    }
}

impl std::error::Error for AuthRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.verify_error()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let context = RefusalContext {
            realm: &self.realm,
            resource_metadata: None,
            dpop: self.dpop.as_ref().map(Verifier::dpop),
        };
        self.refusal.to_response(&context).map(Body::from)
    }
}
