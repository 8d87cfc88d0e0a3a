//! [`Refusal`]: every answer to a request that is not let through, rendered the same by every
//! surface (status, `WWW-Authenticate`, `Retry-After`, a FastAPI-shaped `{"detail": …}` body).

use super::CrossSite;
use crate::challenge::{Scheme, challenges_for, is_scope_char, quote, render};
use crate::dpop::DpopConfig;
use crate::error::VerifyError;
use http::{HeaderValue, Response, StatusCode, header};

/// Why a request is refused.
///
/// - no credentials: 401, `WWW-Authenticate: Bearer realm="…"` (no error code);
/// - a refused credential: 401 with its OAuth error code (`invalid_token`, or
///   `invalid_dpop_proof` on the DPoP challenge) and description;
/// - a requirement not met: 403, `error="insufficient_scope"`, with `scope="…"` when scopes are
///   what is missing (RFC 6750 §3.1, the step-up signal);
/// - a cookie credential on a cross-site request (CSRF): 403, no challenge;
/// - an API key over its rate limit: 429 with `Retry-After`, no challenge;
/// - keys or stores unavailable: 503 with `Retry-After`, no challenge.
///
/// Where DPoP is accepted ([`RefusalContext::dpop`]) a 401 carries a `DPoP` challenge with
/// `algs` beside the `Bearer` one (only the `DPoP` one when bearer tokens are refused).
#[derive(Debug, Clone)]
pub enum Refusal {
    /// The credential is missing, refused, or could not be checked (401, 429, 503).
    Verify {
        /// Why.
        error: VerifyError,
        /// The `Authorization` scheme the client used, if any.
        scheme: Option<Scheme>,
    },
    /// A role, permission or scope requirement not met (403 `insufficient_scope`).
    Forbidden {
        /// The body's `detail` (e.g. `Role 'admin' required`).
        detail: String,
        /// The scopes the request needs, for the `scope` parameter (empty: none named).
        scope: Vec<String>,
        /// The `Authorization` scheme the client used, if any.
        scheme: Option<Scheme>,
    },
    /// A cookie credential on a cross-site request (403, no challenge).
    CrossSite(CrossSite),
}

/// What a surface adds to every refusal it renders.
#[derive(Debug, Clone, Copy)]
pub struct RefusalContext<'a> {
    /// The `realm` parameter of challenges.
    pub realm: &'a str,
    /// The RFC 9728 metadata URL, as the `resource_metadata` parameter of challenges.
    pub resource_metadata: Option<&'a str>,
    /// The DPoP settings when the surface accepts DPoP (a `DPoP` challenge is offered), else
    /// `None`.
    pub dpop: Option<&'a DpopConfig>,
}

impl From<VerifyError> for Refusal {
    fn from(error: VerifyError) -> Self {
        Refusal::Verify {
            error,
            scheme: None,
        }
    }
}

impl From<CrossSite> for Refusal {
    fn from(cross: CrossSite) -> Self {
        Refusal::CrossSite(cross)
    }
}

impl Refusal {
    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::Verify { error, .. } => {
                StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::UNAUTHORIZED)
            }
            Refusal::Forbidden { .. } | Refusal::CrossSite(_) => StatusCode::FORBIDDEN,
        }
    }

    /// The OAuth error code of the challenge, if any (`invalid_token`, `invalid_dpop_proof`,
    /// `insufficient_scope`).
    #[must_use]
    pub fn oauth_error_code(&self) -> Option<&'static str> {
        match self {
            Refusal::Verify { error, .. } if error.status_code() == 401 => error.oauth_error_code(),
            Refusal::Verify { .. } | Refusal::CrossSite(_) => None,
            Refusal::Forbidden { .. } => Some("insufficient_scope"),
        }
    }

    /// The body's `detail`. Never contains the credential.
    #[must_use]
    pub fn detail(&self) -> String {
        match self {
            Refusal::Verify {
                error: VerifyError::MissingToken,
                ..
            } => "Not authenticated".into(),
            Refusal::Verify { error, .. } if error.is_unavailable() => {
                "Authentication service unavailable, retry later".into()
            }
            Refusal::Verify { error, .. } => format!("Invalid token: {error}"),
            Refusal::Forbidden { detail, .. } => detail.clone(),
            Refusal::CrossSite(cross) => cross.to_string(),
        }
    }

    /// The `WWW-Authenticate` values (none for 403 CSRF, 429 and 503).
    #[must_use]
    pub fn www_authenticate(&self, context: &RefusalContext<'_>) -> Vec<String> {
        let mut challenges = match self {
            Refusal::Verify { error, scheme } => {
                challenges_for(context.dpop, Some(error), *scheme, Some(context.realm))
            }
            Refusal::Forbidden {
                detail,
                scope,
                scheme,
            } => {
                let scope = scope
                    .iter()
                    .filter(|s| !s.is_empty() && s.bytes().all(is_scope_char))
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(" ");
                let extra: &[(&str, &str)] = if scope.is_empty() {
                    &[]
                } else {
                    &[("scope", &scope)]
                };
                let error = ("insufficient_scope", detail.clone());
                vec![render(
                    scheme.unwrap_or(Scheme::Bearer),
                    Some(context.realm),
                    Some(&error),
                    extra,
                )]
            }
            Refusal::CrossSite(_) => Vec::new(),
        };
        if let Some(metadata) = context.resource_metadata {
            for challenge in &mut challenges {
                challenge.push_str(&format!(", resource_metadata=\"{}\"", quote(metadata)));
            }
        }
        challenges
    }

    /// The `Retry-After` seconds of a 503 or 429.
    #[must_use]
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Refusal::Verify {
                error:
                    VerifyError::KeysUnavailable { retry_after, .. }
                    | VerifyError::ApiKey(crate::api_key::ApiKeyRefusal::RateLimited { retry_after }),
                ..
            } => Some(retry_after.as_secs().max(1)),
            _ => None,
        }
    }

    /// The whole response: status, `WWW-Authenticate` (one header per challenge),
    /// `Retry-After`, and the JSON body `{"detail": …}`.
    #[must_use]
    pub fn to_response(&self, context: &RefusalContext<'_>) -> Response<String> {
        let body = serde_json::json!({ "detail": self.detail() }).to_string();
        let mut response = Response::new(body);
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for challenge in self.www_authenticate(context) {
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                headers.append(header::WWW_AUTHENTICATE, value);
            }
        }
        if let Some(secs) = self.retry_after() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
