//! CORS for the front-end origins: tower-http's [`CorsLayer`], configured from `CORS_ORIGINS`,
//! run for the requests that carry an `Origin` header ([`CorsForOriginLayer`]).
//!
//! Exact origins only (credentialed CORS cannot use a wildcard: `*` is refused at start with
//! [`CorsError::Wildcard`]), credentials allowed, the methods and headers the front end uses, and
//! `x-next-cursor` exposed. Every response carries [`CORS_VARY`] (added once by
//! `startup::with_middleware`), so shared caches never mix answers for different origins.
//!
//! Why not `CorsLayer` on every request: browsers send `Origin` on every cross-origin request and
//! every preflight, and a request without one (a server-side fetch, a CLI, a same-origin `GET`)
//! gets nothing from CORS headers; but tower-http's service, settings included, is cloned and run
//! for every request, which costs 8–12 % of a cached request end to end (paired A/B,
//! docs/benchmarks-log.md).

use crate::config::Config;
use axum::http::{HeaderName, HeaderValue, Method, Request, Response, header};
use futures_util::future::Either;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::util::Oneshot;
use tower::{Layer, Service, ServiceExt as _};
use tower_http::cors::{AllowOrigin, Cors, CorsLayer};

/// The `Vary` value of every response: tower-http's default (the CORS request headers), sent
/// with or without CORS so caches never mix the two kinds of answer.
pub const CORS_VARY: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);

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

/// The service's CORS for the configured front-end origins (without `Vary`: [`CORS_VARY`]).
///
/// # Errors
///
/// [`CorsError`] for an origin that is not a valid header value, or `*`.
pub fn cors_layer(config: &Config) -> Result<CorsForOriginLayer, CorsError> {
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
    let cors = CorsLayer::new()
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
        .expose_headers([HeaderName::from_static("x-next-cursor")])
        .vary([]);
    Ok(CorsForOriginLayer {
        cors: Arc::new(cors),
    })
}

/// Runs a [`CorsLayer`] for requests that carry an `Origin` header; other requests go to the
/// inner service untouched. The settings are shared (`Arc`), so cloning the service, which
/// `axum::serve` does for every request, costs one reference count.
#[derive(Clone, Debug)]
pub struct CorsForOriginLayer {
    cors: Arc<CorsLayer>,
}

impl<S> Layer<S> for CorsForOriginLayer {
    type Service = CorsForOrigin<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CorsForOrigin {
            cors: self.cors.clone(),
            inner,
        }
    }
}

/// The service [`CorsForOriginLayer`] builds.
#[derive(Clone, Debug)]
pub struct CorsForOrigin<S> {
    cors: Arc<CorsLayer>,
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CorsForOrigin<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Either<Oneshot<Cors<S>, Request<ReqBody>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if request.headers().contains_key(header::ORIGIN) {
            // tower-http's service around a clone of the inner one, called once (readiness
            // included): `self.inner` was made ready for this call and stays unused.
            Either::Left(self.cors.layer(self.inner.clone()).oneshot(request))
        } else {
            Either::Right(self.inner.call(request))
        }
    }
}
