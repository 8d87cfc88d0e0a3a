//! `POST /auth/backchannel-logout`: OpenID Connect Back-Channel Logout 1.0 receiver.
//!
//! The SSO POSTs `logout_token=<JWT>` (`application/x-www-form-urlencoded`) when a user signs
//! out; the verifier validates it (`ssoguard::logout`) and records the revocation, after which
//! every token of that session (or, for a `sub`-only logout, the subject's earlier tokens) is
//! refused, cached verifications and session cookies included.
//!
//! | outcome | status | body |
//! |---|---|---|
//! | recorded | `200`, `Cache-Control: no-store` | empty |
//! | no form body, no `logout_token`, a refused token | `400`, `Cache-Control: no-store` | `{"error":"invalid_request","error_description":"…"}` |
//! | the SSO's keys or the stores unavailable | `503`, `Cache-Control: no-store` | `{"error":"temporarily_unavailable",…}` |
//! | another method | `405` | |
//!
//! The route takes no credential (the logout token is its own proof) and the token is never
//! logged or echoed.

use super::AppState;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use ssoguard::logout::LogoutError;

/// The path of the receiver.
pub const PATH: &str = "/auth/backchannel-logout";

/// The back-channel logout route.
pub fn router() -> Router<AppState> {
    Router::new().route(PATH, post(backchannel_logout))
}

/// The form the SSO posts.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LogoutForm {
    /// The logout token (a signed JWT, `typ` `logout+jwt`).
    pub logout_token: Option<String>,
}

/// The OAuth error body of a refused or unprocessable logout.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OAuthError {
    /// `invalid_request` (400) or `temporarily_unavailable` (503).
    pub error: String,
    /// What was wrong, for a person (never the token).
    pub error_description: String,
}

/// Back-channel logout: the SSO signs a session (or a subject) out; that session's tokens are
/// refused from then on.
#[utoipa::path(post, path = "/auth/backchannel-logout", tag = "auth",
    request_body(content = LogoutForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The logout is recorded (`Cache-Control: no-store`)"),
        (status = 400, body = OAuthError, description = "No `logout_token`, or a refused one (bad signature, issuer, audience, `iat`, `jti` replay, `events`, no `sid`/`sub`, a `nonce`); nothing revoked"),
        (status = 503, body = OAuthError, description = "The SSO's keys or the revocation store unavailable; nothing revoked, the SSO may retry"),
    ))]
pub async fn backchannel_logout(
    State(state): State<AppState>,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> Response {
    let outcome = match form {
        Ok(Form(LogoutForm {
            logout_token: Some(token),
        })) => state
            .auth
            .verifier()
            .back_channel_logout(&token)
            .await
            .map(|_| ()),
        Ok(Form(LogoutForm { logout_token: None })) | Err(_) => Err(LogoutError::Missing),
    };
    logout_response(outcome)
}

/// The receiver's answer for `outcome`: 200 empty, else the error's status and OAuth body;
/// always `Cache-Control: no-store`.
#[must_use]
pub fn logout_response(outcome: Result<(), LogoutError>) -> Response {
    let mut response = match outcome {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => {
            tracing::info!(error = %e, "back-channel logout refused");
            let status =
                StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            (status, Json(e.oauth_body())).into_response()
        }
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
