//! `POST /_ssoguard/backchannel-logout`: OpenID Connect Back-Channel Logout 1.0 receiver, in
//! both modes (the reserved `/_ssoguard/` prefix is answered by the gateway itself, never
//! proxied).
//!
//! The SSO POSTs `logout_token=<JWT>` (`application/x-www-form-urlencoded`) when a user signs
//! out. The token is routed to its issuer by [`IssuerRouter::back_channel_logout`] (its `iss`,
//! then verified with that issuer's keys and audiences, `ssoguard::logout`), and the revocation
//! is recorded in that issuer's verifier: from then on every token of the session (or, for a
//! `sub`-only logout, the subject's earlier tokens) is refused, cached verifications included.
//!
//! | outcome | status | body |
//! |---|---|---|
//! | recorded | `200`, `Cache-Control: no-store` | empty |
//! | no form body, no `logout_token`, an unknown issuer, a refused token | `400`, `Cache-Control: no-store` | `{"error":"invalid_request","error_description":"…"}` |
//! | the SSO's keys or the stores unavailable | `503`, `Cache-Control: no-store` | `{"error":"temporarily_unavailable",…}` |
//! | another method | `405` | |
//!
//! The token is never logged or echoed.

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use serde::Deserialize;
use ssoguard::IssuerRouter;
use ssoguard::logout::LogoutError;

/// The receiver's path.
pub(crate) const PATH: &str = "/_ssoguard/backchannel-logout";

/// The receiver: `POST` only (other methods `405`), with the gateway's issuer router.
pub(crate) fn route<S: Clone + Send + Sync + 'static>(issuers: IssuerRouter) -> MethodRouter<S> {
    post(backchannel_logout).with_state(issuers)
}

#[derive(Debug, Deserialize)]
struct LogoutForm {
    logout_token: Option<String>,
}

async fn backchannel_logout(
    State(issuers): State<IssuerRouter>,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> Response {
    let outcome = match form {
        Ok(Form(LogoutForm {
            logout_token: Some(token),
        })) => issuers.back_channel_logout(&token).await.map(|_| ()),
        Ok(Form(LogoutForm { logout_token: None })) | Err(_) => Err(LogoutError::Missing),
    };
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
