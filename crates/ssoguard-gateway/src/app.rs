//! The gateway's HTTP side: its own endpoints under `/_ssoguard/`, RFC 9728 metadata, and
//! everything else either proxied (reverse-proxy mode) or answered 404 (forward-auth only).
//!
//! [`App::build`] binds the port (0 = any) and builds everything without I/O towards the SSO;
//! keys are warmed up in the background, so the gateway starts while the SSO is down and
//! answers 503 until keys arrive. [`App::run_until`] serves until its future resolves, then
//! finishes in-flight requests (graceful shutdown).

use crate::config::Config;
use crate::front::Front;
use crate::gate::{Check, Gate, Refusal};
use crate::metrics::GatewayMetrics;
use crate::path::{canonical, canonical_method};
use crate::proxy::{Upstream, detail};
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::json;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::TcpListener;

/// Start-up failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// The configuration cannot be turned into verifiers or rules.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

#[derive(Clone)]
struct AppState {
    gate: Gate,
    upstream: Option<Upstream>,
    front: Front,
    /// `public_url` (scheme, authority).
    public: Option<(String, String)>,
    trusted_proxies: Arc<[IpAddr]>,
    /// The bound address: the origin of last resort.
    local: SocketAddr,
}

impl AppState {
    /// The `(scheme, host)` of the absolute URLs the gateway writes and of the scheme it states
    /// upstream: `public_url`; else `X-Forwarded-Proto`/`-Host` from the front (forward-auth
    /// only mode: the port answers the configured front) or from a trusted proxy; else `http`
    /// and the gateway's own address. Never a client's `Host` or `X-Forwarded-*`.
    fn origin(&self, headers: &HeaderMap, peer: SocketAddr) -> (String, String) {
        if let Some((scheme, authority)) = &self.public {
            return (scheme.clone(), authority.clone());
        }
        if self.trusts(peer) {
            let (proto, host) = forwarded_origin(headers);
            if let Some(host) = host {
                return (proto, host);
            }
        }
        ("http".into(), self.local.to_string())
    }

    /// Whether `peer`'s forwarded headers are believed: a configured trusted proxy, or any peer
    /// in forward-auth-only mode (where the port answers the front's questions).
    fn trusts(&self, peer: SocketAddr) -> bool {
        self.upstream.is_none() || self.trusted_proxies.contains(&peer.ip())
    }
}

fn peer(req: &Request<Body>) -> SocketAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(SocketAddr::from(([127, 0, 0, 1], 0)), |c| c.0)
}

/// A built gateway, bound to its port.
pub struct App {
    listener: TcpListener,
    /// `metrics_listen`, bound.
    metrics: Option<TcpListener>,
    router: Router,
    gate: Gate,
    limits: crate::Limits,
}

impl App {
    /// Checks the configuration, builds the verifiers and binds the listen address.
    ///
    /// # Errors
    ///
    /// [`StartupError`] for a configuration the verifiers refuse or a port that cannot be bound.
    pub async fn build(config: Config) -> Result<App, StartupError> {
        let metrics = GatewayMetrics::new();
        let gate = Gate::new(&config, metrics.clone()).map_err(StartupError::Config)?;
        metrics.register_issuers(gate.router().clone(), gate.issuer_names().to_vec());
        let upstream = config.upstream.as_deref().map(|url| {
            Upstream::new(
                url,
                config.upstream_timeout,
                config.forward_authorization,
                config.forward_credential_cookie,
                metrics.clone(),
            )
        });
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: config.listen,
                    source,
                })?;
        for verifier in gate.router().verifiers() {
            let verifier = verifier.clone();
            tokio::spawn(async move {
                if let Err(e) = verifier.warm_up().await {
                    tracing::warn!(
                        reason = e.kind(),
                        "SSO keys not loaded yet; retrying in the background"
                    );
                }
            });
        }
        let local = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let public = config.public_url.as_deref().and_then(|url| {
            let (scheme, authority) = url.split_once("://")?;
            Some((scheme.to_string(), authority.to_string()))
        });
        let router = router(AppState {
            gate: gate.clone(),
            upstream,
            front: config.front,
            public,
            trusted_proxies: config.trusted_proxies.clone().into(),
            local,
        });
        let metrics_listener = match config.metrics_listen {
            None => None,
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartupError::Bind { addr, source })?,
            ),
        };
        Ok(App {
            metrics: metrics_listener,
            listener,
            router,
            gate,
            limits: config.limits,
        })
    }

    /// The bound address.
    ///
    /// # Panics
    ///
    /// Never in practice: a bound listener has an address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The decision pipeline (for tests and diagnostics).
    #[must_use]
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The router, without a listener (router-level tests).
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    ///
    /// # Errors
    ///
    /// The server's I/O error.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        if let Some(listener) = self.metrics {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(%addr, "metrics listening");
            }
            let router = metrics_router(self.gate.clone());
            let limits = self.limits;
            tokio::spawn(async move {
                if let Err(e) =
                    crate::server::serve(listener, router, limits, std::future::pending()).await
                {
                    tracing::warn!(error = %e, "metrics listener failed");
                }
            });
        }
        crate::server::serve(self.listener, self.router, self.limits, shutdown).await
    }

    /// Serves until SIGTERM or Ctrl-C.
    ///
    /// # Errors
    ///
    /// The server's I/O error.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/_ssoguard/auth", any(forward_auth))
        .route("/_ssoguard/health", get(health))
        .route("/_ssoguard/ready", get(ready))
        .route("/_ssoguard/metrics", get(metrics))
        .route(
            crate::logout::PATH,
            crate::logout::route(state.gate.router().clone()),
        )
        .route("/_ssoguard/{*rest}", any(reserved))
        .route(
            "/.well-known/oauth-protected-resource",
            get(resource_metadata),
        )
        .merge(mcp_metadata(&state.gate))
        .fallback(proxy)
        .with_state(state)
}

/// The `[[mcp]]` endpoints' RFC 9728 metadata, each at its path-inserted location.
fn mcp_metadata(gate: &Gate) -> Router<AppState> {
    gate.mcp_guards().fold(Router::new(), |router, guard| {
        router.merge(guard.metadata_router())
    })
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn ready(State(state): State<AppState>) -> Response {
    let issuers: Vec<_> = state
        .gate
        .router()
        .verifiers()
        .zip(state.gate.issuer_names())
        .map(|(v, name)| (name.clone(), v.key_status()))
        .collect();
    let all_ready = issuers.iter().all(|(_, s)| s.ready);
    // The shared state is reported, never a reason to be unready: bearer JWTs work without
    // Redis, and what this instance already knows is still enforced.
    let mut body = crate::shared::readiness(state.gate.shared());
    body["ready"] = json!(all_ready);
    body["issuers"] = issuers
        .iter()
        .map(|(name, s)| {
            json!({ "name": name, "ready": s.ready, "keys": s.keys, "age_secs": s.age_secs })
        })
        .collect();
    let body = Json(body);
    let status = if all_ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body).into_response()
}

/// Metrics on the main port: forward-auth-only mode (the port answers the front); in
/// reverse-proxy mode the port faces clients, so metrics are on `metrics_listen` only.
async fn metrics(State(state): State<AppState>) -> Response {
    if state.upstream.is_some() {
        return detail(StatusCode::NOT_FOUND, "Not Found");
    }
    render_metrics(&state.gate)
}

fn render_metrics(gate: &Gate) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        gate.metrics().render(),
    )
        .into_response()
}

/// The `metrics_listen` listener's endpoints: metrics, health, readiness.
fn metrics_router(gate: Gate) -> Router {
    Router::new()
        .route(
            "/_ssoguard/metrics",
            get(|State(gate): State<Gate>| async move { render_metrics(&gate) }),
        )
        .route("/_ssoguard/health", get(health))
        .fallback(reserved)
        .with_state(gate)
}

async fn reserved() -> Response {
    detail(StatusCode::NOT_FOUND, "Not Found")
}

/// RFC 9728 §3: where this resource's tokens come from.
async fn resource_metadata(State(state): State<AppState>, req: Request<Body>) -> Response {
    let (proto, host) = state.origin(req.headers(), peer(&req));
    let servers: Vec<String> = state
        .gate
        .router()
        .verifiers()
        .filter_map(|v| v.issuer().map(|i| i.to_string()))
        .collect();
    let dpop = state.gate.dpop();
    let algs: Vec<&str> = dpop
        .accepted_algorithms()
        .iter()
        .map(|a| a.as_str())
        .collect();
    let mut metadata = json!({
        "resource": state.gate.resource(&proto, &host),
        "authorization_servers": servers,
        "bearer_methods_supported": ["header"],
        "resource_name": "ssoguard-gateway",
        "dpop_signing_alg_values_supported": algs,
    });
    if dpop.is_required() {
        metadata["dpop_bound_access_tokens_required"] = json!(true);
    }
    Json(metadata).into_response()
}

/// `(proto, host)` the client used, from `X-Forwarded-Proto`/`-Host` (set by the proxy in front)
/// or `Host`.
fn forwarded_origin(headers: &HeaderMap) -> (String, Option<String>) {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or("").trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let proto = text("x-forwarded-proto")
        .filter(|p| p == "http" || p == "https")
        .unwrap_or_else(|| "http".into());
    let host = text("x-forwarded-host").or_else(|| text("host"));
    (proto, host)
}

/// Forward-auth: the original request as the configured front states it (nginx
/// `X-Original-URI`/`-Method`; Caddy, Traefik and generic `X-Forwarded-Uri`/`-Method`), refused
/// when anything else names a target or method ([`crate::front`]); then 200 with identity
/// headers, or the refusal.
async fn forward_auth(State(state): State<AppState>, req: Request<Body>) -> Response {
    // The request itself, not a `HeaderMap` extractor (which would clone every header).
    let headers = req.headers();
    // Absolute URLs, the cookie Origin check and a DPoP proof's URL come from `public_url` or
    // the trusted front ([`AppState::origin`]).
    let (proto, url_host) = state.origin(headers, peer(&req));
    let origin = format!("{proto}://{url_host}");
    let original = match crate::front::original(state.front, headers) {
        Ok(original) => original,
        Err(unclear) => {
            state
                .gate
                .metrics()
                .decision("forbidden", "unclear_original");
            tracing::warn!(front = %state.front, reason = %unclear, "forward-auth request refused");
            // 403, not 400: nginx `auth_request` turns any status but 2xx/401/403 into a 500.
            return detail(StatusCode::FORBIDDEN, &unclear.to_string());
        }
    };
    if let Err(refused) = crate::hygiene::check(headers, state.gate.protected()) {
        state.gate.metrics().decision("forbidden", "header_hygiene");
        tracing::warn!(reason = %refused, "forward-auth request refused");
        return detail(StatusCode::FORBIDDEN, &refused.to_string());
    }
    let Some(method) = canonical_method(original.method) else {
        state
            .gate
            .metrics()
            .decision("forbidden", "method_spelling");
        tracing::warn!(
            method = original.method,
            "forward-auth request refused: method not in canonical spelling"
        );
        return detail(StatusCode::FORBIDDEN, "Method must be upper case");
    };
    // Only the query is cut off: a `#` in the target is refused by `canonical`.
    let raw_path = original.uri.split('?').next().unwrap_or("/");
    let Some(path) = canonical(raw_path) else {
        state.gate.metrics().decision("forbidden", "ambiguous_path");
        tracing::warn!("forward-auth request refused: ambiguous path");
        return detail(StatusCode::FORBIDDEN, "Ambiguous request path refused");
    };
    if state.gate.mcp_endpoint(&path).is_some() {
        // Its tool rules are read from the body, which a front's auth request does not carry.
        state
            .gate
            .metrics()
            .decision("forbidden", "mcp_forward_auth");
        tracing::warn!(path, "forward-auth request refused: an [[mcp]] endpoint");
        return detail(
            StatusCode::FORBIDDEN,
            "MCP endpoints are served by the gateway's reverse proxy only",
        );
    }
    let check = Check {
        method,
        path: &path,
        headers,
        raw_path,
        origin: &origin,
    };
    match state.gate.check(&check).await {
        Ok(allowed) => {
            let mut response = StatusCode::OK.into_response();
            // Every identity header, empty when the claim is absent: nginx then drops the
            // client's header of that name and Caddy overwrites it (Caddy 2.6 would otherwise
            // forward the client's value, or its own placeholder text).
            for name in state.gate.identity_header_names() {
                response
                    .headers_mut()
                    .insert(name.clone(), axum::http::HeaderValue::from_static(""));
            }
            for (name, value) in allowed.headers {
                response.headers_mut().insert(name, value);
            }
            response
        }
        Err(refusal) => state.gate.refuse(&refusal, &proto, &url_host),
    }
}

/// Reverse-proxy mode: check, then forward; forward-auth-only mode: 404.
async fn proxy(State(state): State<AppState>, req: Request<Body>) -> Response {
    let Some(upstream) = &state.upstream else {
        return detail(StatusCode::NOT_FOUND, "Not Found");
    };
    let client = peer(&req);
    if let Err(refused) = crate::hygiene::check(req.headers(), state.gate.protected()) {
        state
            .gate
            .metrics()
            .decision("bad_request", "header_hygiene");
        tracing::warn!(reason = %refused, "request refused");
        return detail(StatusCode::BAD_REQUEST, &refused.to_string());
    }
    if canonical_method(req.method().as_str()).is_none() {
        state
            .gate
            .metrics()
            .decision("bad_request", "method_spelling");
        tracing::warn!(
            method = req.method().as_str(),
            "request refused: method not in canonical spelling"
        );
        return detail(StatusCode::BAD_REQUEST, "Method must be upper case");
    }
    let Some(path) = canonical(req.uri().path()) else {
        state
            .gate
            .metrics()
            .decision("bad_request", "ambiguous_path");
        tracing::warn!("request refused: ambiguous path");
        return detail(StatusCode::BAD_REQUEST, "Ambiguous request path refused");
    };
    if let Some(guard) = state.gate.mcp_endpoint(&path) {
        return mcp_proxy(&state, guard.clone(), req, client).await;
    }
    let method = req.method().as_str().to_string();
    let (proto, url_host) = state.origin(req.headers(), client);
    let origin = format!("{proto}://{url_host}");
    let decision = {
        let check = Check {
            method: &method,
            path: &path,
            headers: req.headers(),
            raw_path: req.uri().path(),
            origin: &origin,
        };
        state.gate.check(&check).await
    };
    match decision {
        Ok(allowed) => {
            upstream
                .forward(
                    req,
                    allowed.headers,
                    state.gate.upstream_strip_names(),
                    state.gate.protected(),
                    crate::proxy::Peer {
                        addr: client,
                        trusted: state.trusted_proxies.contains(&client.ip()),
                        proto: &proto,
                    },
                )
                .await
        }
        Err(Refusal::AmbiguousPath) => {
            tracing::warn!("request refused: path reads as another rule's");
            detail(StatusCode::BAD_REQUEST, "Ambiguous request path refused")
        }
        Err(refusal) => state.gate.refuse(&refusal, &proto, &url_host),
    }
}

/// An `[[mcp]]` endpoint: the library's guard ([`ssoguard::mcp::McpAuthLayer`]: a token for
/// the resource, the tool read from the JSON-RPC body and its scopes checked, the body passed on
/// as the exact bytes checked), then the upstream with the caller's identity headers.
async fn mcp_proxy(
    state: &AppState,
    guard: ssoguard::mcp::McpAuthLayer,
    req: Request<Body>,
    client: SocketAddr,
) -> Response {
    let (proto, _) = state.origin(req.headers(), client);
    let forward_state = state.clone();
    let forward = tower::service_fn(move |req: Request<Body>| {
        let state = forward_state.clone();
        let proto = proto.clone();
        async move {
            let Some(upstream) = &state.upstream else {
                return Ok::<_, std::convert::Infallible>(detail(
                    StatusCode::NOT_FOUND,
                    "Not Found",
                ));
            };
            let Some(claims) = req
                .extensions()
                .get::<Arc<ssoguard::TokenClaims>>()
                .cloned()
            else {
                return Ok(detail(StatusCode::INTERNAL_SERVER_ERROR, "No caller"));
            };
            let headers = match crate::identity::headers_for(&claims, state.gate.mapping()) {
                Ok(headers) => headers,
                Err(crate::identity::UnsafeValue(name)) => {
                    return Ok(detail(
                        StatusCode::FORBIDDEN,
                        &format!("Identity claim for {name} cannot be sent as a header"),
                    ));
                }
            };
            let response = upstream
                .forward(
                    req,
                    headers,
                    state.gate.upstream_strip_names(),
                    state.gate.protected(),
                    crate::proxy::Peer {
                        addr: client,
                        trusted: state.trusted_proxies.contains(&client.ip()),
                        proto: &proto,
                    },
                )
                .await;
            Ok(response)
        }
    });
    let response = tower::ServiceExt::oneshot(tower::Layer::layer(&guard, forward), req)
        .await
        .unwrap_or_else(|never| match never {});
    let outcome = match response.status().as_u16() {
        401 => "unauthenticated",
        403 => "forbidden",
        503 => "unavailable",
        400 | 413 | 415 => "bad_request",
        _ => "allowed",
    };
    state.gate.metrics().decision(outcome, "mcp");
    if outcome != "allowed" {
        tracing::info!(status = response.status().as_u16(), "MCP request refused");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_origin_prefers_forwarded_headers() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "gw:4180".parse().expect("value"));
        assert_eq!(
            forwarded_origin(&h),
            ("http".into(), Some("gw:4180".into()))
        );
        h.insert("x-forwarded-host", "app.example".parse().expect("value"));
        h.insert("x-forwarded-proto", "https".parse().expect("value"));
        assert_eq!(
            forwarded_origin(&h),
            ("https".into(), Some("app.example".into()))
        );
        h.insert("x-forwarded-proto", "javascript".parse().expect("value"));
        assert_eq!(forwarded_origin(&h).0, "http");
    }
}
