//! CORS for the front-end origins: tower-http's [`CorsLayer`], configured from `CORS_ORIGINS`.
//!
//! Exact origins only (credentialed CORS cannot use a wildcard: `*` is refused at start with
//! [`CorsError::Wildcard`]), credentials allowed, the methods and headers the front end uses, and
//! `x-next-cursor` exposed. tower-http sends its `Vary` header on every response, so shared caches
//! never mix answers for different origins.

use crate::config::Config;
use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// `CORS_ORIGINS` names an origin CORS cannot use.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CorsError {
    /// `*`: a wildcard cannot be combined with credentials (the Fetch standard forbids it, and
    /// tower-http would panic on it).
    #[error(
        "CORS_ORIGINS has an invalid origin: * (a wildcard cannot be used with credentials; list the front-end origins)"
    )]
    Wildcard,
    /// An origin that is not a valid header value.
    #[error("CORS_ORIGINS has an invalid origin: {0}")]
    InvalidOrigin(String),
}

/// The service's CORS layer for the configured front-end origins.
///
/// # Errors
///
/// [`CorsError`] for an origin that is not a valid header value, or `*`.
pub fn cors_layer(config: &Config) -> Result<CorsLayer, CorsError> {
    let origins = config
        .cors_origins
        .iter()
        .map(|o| {
            if o == "*" {
                return Err(CorsError::Wildcard);
            }
            HeaderValue::from_str(o).map_err(|_| CorsError::InvalidOrigin(o.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([HeaderName::from_static("x-next-cursor")]))
}
