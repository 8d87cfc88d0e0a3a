//! CORS for the front-end origins, applied only to requests that are cross-origin requests.
//!
//! The rules are tower-http's [`CorsLayer`] (exact origins, credentials, the methods and headers
//! the front end uses). [`CorsForOriginLayer`] runs it only when the request has an `Origin`
//! header: browsers send one on every cross-origin request and every preflight, and a request
//! without one (a server-side fetch from Next.js, a CLI, a same-origin `GET`) gets nothing from
//! CORS headers. tower-http builds and merges its header set for every response, with or without
//! an `Origin` (0.33 µs of a 2.4 µs cached `GET /api/me` in process, `benches/router.rs`); this
//! skips that work where it cannot matter (CORS then costs 733 instructions per request instead
//! of 4,175, `bench/router-instructions.sh`, docs/BENCHMARKS.md §8). `Vary` is sent on every
//! response either way ([`CORS_VARY`], added by `startup::with_middleware`), so caches never mix
//! the two kinds of answer.

use crate::config::Config;
use crate::startup::StartupError;
use axum::http::{HeaderName, HeaderValue, Method, Request, Response, header};
use futures_util::future::Either;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::util::Oneshot;
use tower::{Layer, Service, ServiceExt as _};
use tower_http::cors::{AllowOrigin, Cors, CorsLayer};

/// The `Vary` value tower-http's CORS sends by default (its preflight request headers), on every
/// response, preflight or not: caches must not mix answers for different origins.
pub const CORS_VARY: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);

/// The service's CORS: [`cors_rules`] applied to requests with an `Origin` header.
///
/// # Errors
///
/// [`StartupError::Cors`] for an origin that is not a valid header value, or `*`.
pub fn cors_layer(config: &Config) -> Result<CorsForOriginLayer, StartupError> {
    cors_rules(config).map(CorsForOriginLayer::new)
}

/// tower-http's CORS settings for the configured front-end origins: exact matches, credentials
/// allowed. Without the `Vary` header, which `startup::with_middleware` adds as one static value
/// (tower-http would clone and join its list for every response: 0.11 µs per request,
/// `benches/router.rs`).
///
/// # Errors
///
/// [`StartupError::Cors`] for an origin that is not a valid header value, or `*`.
pub fn cors_rules(config: &Config) -> Result<CorsLayer, StartupError> {
    let origins = config
        .cors_origins
        .iter()
        .map(|o| {
            // Credentialed CORS cannot use a wildcard (the Fetch standard forbids it).
            if o == "*" {
                return Err(StartupError::Cors(
                    "* (a wildcard cannot be used with credentials; list the front-end origins)"
                        .into(),
                ));
            }
            HeaderValue::from_str(o).map_err(|_| StartupError::Cors(o.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // A predicate over a shared list, not `AllowOrigin::list`: tower-http clones the CORS settings
    // for every request, and a list is a `Vec` clone (an allocation) each time; same matching
    // (exact, case-sensitive byte comparison).
    let origins: Arc<[HeaderValue]> = origins.into();
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origins.iter().any(|allowed| allowed == origin)
        }))
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
        .vary([]))
}

/// Applies a [`CorsLayer`] to requests that carry an `Origin` header; other requests go to the
/// inner service untouched.
///
/// The CORS settings are shared (`Arc`), so the service costs one reference count to clone:
/// `axum::serve` clones the whole stack for every request, and tower-http's own [`Cors`] service
/// carries its settings by value (every header value, origin predicate and list). A
/// cross-origin request builds tower-http's [`Cors`] around a clone of the inner service and
/// calls it once (readiness included).
#[derive(Clone, Debug)]
pub struct CorsForOriginLayer {
    cors: Arc<CorsLayer>,
}

impl CorsForOriginLayer {
    /// Wraps tower-http's CORS settings.
    #[must_use]
    pub fn new(cors: CorsLayer) -> Self {
        CorsForOriginLayer {
            cors: Arc::new(cors),
        }
    }
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
            Either::Left(self.cors.layer(self.inner.clone()).oneshot(request))
        } else {
            Either::Right(self.inner.call(request))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;

    fn service() -> CorsForOrigin<Router> {
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::exact(HeaderValue::from_static(
                "http://front.example",
            )))
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::POST]);
        CorsForOriginLayer::new(cors).layer(Router::new().route("/r", get(|| async { "ok" })))
    }

    fn access_control_headers<B>(response: &Response<B>) -> Vec<String> {
        response
            .headers()
            .keys()
            .map(|k| k.as_str().to_owned())
            .filter(|k| k.starts_with("access-control-"))
            .collect()
    }

    #[tokio::test]
    async fn cors_headers_only_for_requests_with_an_origin() {
        let with_origin = Request::get("/r")
            .header(header::ORIGIN, "http://front.example")
            .body(Body::empty())
            .unwrap();
        let response = service().oneshot(with_origin).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "http://front.example"
        );
        assert_eq!(
            response.headers()[header::ACCESS_CONTROL_ALLOW_CREDENTIALS],
            "true"
        );

        let without = Request::get("/r").body(Body::empty()).unwrap();
        let response = service().oneshot(without).await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(access_control_headers(&response).is_empty());
    }

    #[tokio::test]
    async fn preflight_needs_an_origin() {
        let preflight = |origin: Option<&str>| {
            let mut request =
                Request::options("/r").header("access-control-request-method", "POST");
            if let Some(origin) = origin {
                request = request.header(header::ORIGIN, origin);
            }
            request.body(Body::empty()).unwrap()
        };
        let response = service()
            .oneshot(preflight(Some("http://front.example")))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_METHODS)
        );
        // Without an Origin it is not a preflight: the router answers (no OPTIONS route: 405).
        let response = service().oneshot(preflight(None)).await.unwrap();
        assert_eq!(response.status(), 405);
        assert!(access_control_headers(&response).is_empty());
    }
}
