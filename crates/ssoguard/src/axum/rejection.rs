//! [`AuthRejection`]: what an extractor or guard answers when a request is not let through.

use crate::error::VerifyError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fmt;
use std::sync::Arc;

/// Why a request was refused, with its RFC 6750 response.
///
/// - missing credentials: 401, `WWW-Authenticate: Bearer realm="…"` (no error code);
/// - invalid token: 401, `… error="invalid_token", error_description="…"`;
/// - missing role/permission/scope: 403, `… error="insufficient_scope"`;
/// - a cookie-borne token on a cross-site state-changing request (CSRF): 403, no challenge;
/// - an API key over its rate limit: 429 with `Retry-After`, no challenge;
/// - keys unavailable: 503 with `Retry-After`.
///
/// Bodies are FastAPI-shaped: `{"detail": "…"}`.
#[derive(Debug, Clone)]
pub struct AuthRejection {
    kind: RejectionKind,
    realm: Arc<str>,
}

#[derive(Debug, Clone)]
enum RejectionKind {
    Verify(VerifyError),
    Forbidden(String),
    CrossSite(&'static str),
}

impl AuthRejection {
    pub(crate) fn verify(err: VerifyError, realm: Arc<str>) -> Self {
        AuthRejection {
            kind: RejectionKind::Verify(err),
            realm,
        }
    }

    pub(crate) fn forbidden(detail: String, realm: Arc<str>) -> Self {
        AuthRejection {
            kind: RejectionKind::Forbidden(detail),
            realm,
        }
    }

    pub(crate) fn cross_site(reason: &'static str, realm: Arc<str>) -> Self {
        AuthRejection {
            kind: RejectionKind::CrossSite(reason),
            realm,
        }
    }

    /// The HTTP status this rejection answers with.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match &self.kind {
            RejectionKind::Verify(e) => {
                StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::UNAUTHORIZED)
            }
            RejectionKind::Forbidden(_) | RejectionKind::CrossSite(_) => StatusCode::FORBIDDEN,
        }
    }

    /// The verification error behind a 401/503, if that is what this is.
    #[must_use]
    pub fn verify_error(&self) -> Option<&VerifyError> {
        match &self.kind {
            RejectionKind::Verify(e) => Some(e),
            RejectionKind::Forbidden(_) | RejectionKind::CrossSite(_) => None,
        }
    }

    fn detail(&self) -> String {
        match &self.kind {
            RejectionKind::Verify(VerifyError::MissingToken) => "Not authenticated".into(),
            RejectionKind::Verify(e) if e.is_unavailable() => {
                "Authentication service unavailable, retry later".into()
            }
            RejectionKind::Verify(e) => format!("Invalid token: {e}"),
            RejectionKind::Forbidden(detail) => detail.clone(),
            RejectionKind::CrossSite(reason) => format!("Cross-site request refused: {reason}"),
        }
    }

    fn challenge(&self) -> Option<String> {
        let realm = quote(&self.realm);
        match &self.kind {
            RejectionKind::Verify(e) if e.is_unavailable() || e.status_code() == 429 => None,
            RejectionKind::Verify(e) => Some(match e.oauth_error_code() {
                None => format!("Bearer realm=\"{realm}\""),
                Some(code) => format!(
                    "Bearer realm=\"{realm}\", error=\"{code}\", error_description=\"{}\"",
                    quote(&e.to_string())
                ),
            }),
            // Not a token problem: no challenge to answer.
            RejectionKind::CrossSite(_) => None,
            RejectionKind::Forbidden(detail) => Some(format!(
                "Bearer realm=\"{realm}\", error=\"insufficient_scope\", error_description=\"{}\"",
                quote(detail)
            )),
        }
    }
}

/// Makes a value safe inside a quoted-string of an HTTP header.
fn quote(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .map(|c| if c == '"' || c == '\\' { '\'' } else { c })
        .collect()
}

impl fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail())
    }
}

impl std::error::Error for AuthRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            RejectionKind::Verify(e) => Some(e),
            RejectionKind::Forbidden(_) | RejectionKind::CrossSite(_) => None,
        }
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (
            status,
            axum::Json(serde_json::json!({ "detail": self.detail() })),
        )
            .into_response();
        if let Some(challenge) = self.challenge() {
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        if let RejectionKind::Verify(VerifyError::KeysUnavailable { retry_after, .. }) = &self.kind
        {
            let secs = retry_after.as_secs().max(1);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let RejectionKind::Verify(VerifyError::ApiKey(
            crate::api_key::ApiKeyRefusal::RateLimited { retry_after },
        )) = &self.kind
        {
            let secs = retry_after.as_secs().max(1);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
