//! [`McpAuthLayer`] (feature `axum`): an MCP endpoint (an `rmcp` `StreamableHttpService`, or any
//! axum-mounted MCP server) protected as an OAuth resource, with the rules of [`McpResource`].

use super::resource::McpResource;
use crate::axum::{Auth, AuthRejection, CurrentUser, VerifiedClaims};
use crate::challenge::Scheme;
use crate::claims::TokenClaims;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The largest MCP request body read by default (1 MiB).
pub const DEFAULT_MCP_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Protects an MCP endpoint: every request needs a token for the resource (its `aud`), checked
/// by `auth`'s verifier; a `tools/call` needs its tool's scopes, decided before the server
/// sees the request.
///
/// - No token, or a refused one: 401 with `WWW-Authenticate: Bearer …,
///   resource_metadata="<metadata URL>"` (and the `DPoP` challenge where DPoP is accepted).
/// - A service (`client_credentials`) token: 403, unless
///   [`allow_service_tokens`](Self::allow_service_tokens) — MCP tools act for a user.
/// - A `tools/call` (or any message, with [`McpResource::every_request`]) needing scopes the
///   token lacks: 403 `error="insufficient_scope", scope="…"`, the step-up signal.
/// - A `POST` body that is not JSON-RPC the rules can read: 400; compressed: 415; larger than
///   [`max_body_bytes`](Self::max_body_bytes): 413. Nothing unchecked reaches the server.
///
/// The request reaches the server with the caller attached: a [`CurrentUser`] (user tokens)
/// and the verified `Arc<TokenClaims>` in the request's extensions, which `rmcp` hands tools
/// as `Extension<http::request::Parts>`. Only `Authorization` credentials count: `auth`
/// should not accept cookies here (an MCP client sends a token; a cookie would invite CSRF).
///
/// # Example
///
/// ```
/// use axum::Router;
/// use ssoguard::axum::Auth;
/// use ssoguard::mcp::{McpAuthLayer, McpResource};
///
/// # fn build(mcp_server: axum::routing::MethodRouter) -> Result<Router, Box<dyn std::error::Error>> {
/// let resource = McpResource::new("https://api.example.com/mcp")?
///     .tool_scopes("list_tasks", ["tasks:read"])
///     .tool_scopes("create_task", ["tasks:write"]);
/// // The audience of tokens for /mcp is the resource itself (RFC 8707).
/// let verifier = ssoguard::Verifier::builder()
///     .authority("https://sso.example.com")
///     .audience(resource.resource())
///     .build()?;
/// let mcp = McpAuthLayer::new(Auth::new(verifier), resource);
/// let app = Router::new()
///     .nest_service("/mcp", tower_layer::Layer::layer(&mcp, mcp_server))
///     .merge(mcp.metadata_router());
/// # Ok(app) }
/// ```
#[derive(Clone, Debug)]
pub struct McpAuthLayer {
    auth: Auth,
    resource: McpResource,
    service_tokens: bool,
    max_body_bytes: usize,
}

impl McpAuthLayer {
    /// Guards `resource` with `auth` (whose verifier's audience should be
    /// [`McpResource::resource`]). Defaults: user tokens only, bodies up to
    /// [`DEFAULT_MCP_MAX_BODY_BYTES`].
    #[must_use]
    pub fn new(auth: Auth, resource: McpResource) -> Self {
        McpAuthLayer {
            auth,
            resource,
            service_tokens: false,
            max_body_bytes: DEFAULT_MCP_MAX_BODY_BYTES,
        }
    }

    /// Lets service (`client_credentials`) tokens in too. Default: refused with 403.
    #[must_use]
    pub fn allow_service_tokens(mut self) -> Self {
        self.service_tokens = true;
        self
    }

    /// The largest `POST` body read (413 beyond). Default [`DEFAULT_MCP_MAX_BODY_BYTES`].
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// The resource.
    #[must_use]
    pub fn resource(&self) -> &McpResource {
        &self.resource
    }

    /// A router serving the RFC 9728 metadata at [`McpResource::metadata_path`] (`GET`): 503
    /// while the SSO's issuer is not known yet (its discovery document not fetched).
    pub fn metadata_router<S>(&self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let path = self.resource.metadata_path().to_string();
        Router::new().route(&path, get(metadata).with_state(Arc::new(self.clone())))
    }

    /// The caller of an authenticated request, or the refusal to send.
    async fn check(&self, req: Request<Body>) -> Result<Request<Body>, Response> {
        let (mut parts, body) = req.into_parts();
        let (claims, scheme) = self
            .auth
            .authenticate_inner(&parts.method, Some(&parts.uri), &parts.headers)
            .await
            .map_err(|rejection| self.refuse(&rejection))?;
        if claims.is_client_credentials() && !self.service_tokens {
            let refusal = self.auth.forbidden(
                "A user token is required (this is a service token)".into(),
                Vec::new(),
                scheme,
            );
            return Err(self.refuse(&refusal));
        }
        let (required, body) = if parts.method == Method::POST {
            let body = self.read_body(&parts.headers, body).await?;
            let required = self
                .resource
                .required_scopes(&body)
                .map_err(|e| detail(StatusCode::BAD_REQUEST, &e.to_string()))?;
            (required, Body::from(body))
        } else {
            (self.resource.scopes_for_every_request().to_vec(), body)
        };
        if let Some(refusal) = self.scope_refusal(&claims, &required, scheme) {
            return Err(refusal);
        }
        if !claims.is_client_credentials() {
            parts
                .extensions
                .insert(CurrentUser::from_claims(claims.clone()));
        }
        parts.extensions.insert(claims.clone());
        parts.extensions.insert(VerifiedClaims(claims, scheme));
        Ok(Request::from_parts(parts, body))
    }

    /// The body, whole: 415 when encoded, 413 when too large.
    async fn read_body(
        &self,
        headers: &axum::http::HeaderMap,
        body: Body,
    ) -> Result<axum::body::Bytes, Response> {
        let encoded = headers
            .get_all(header::CONTENT_ENCODING)
            .iter()
            .any(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
        if encoded {
            return Err(detail(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Encoding is not accepted on MCP requests",
            ));
        }
        axum::body::to_bytes(body, self.max_body_bytes)
            .await
            .map_err(|_| detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large"))
    }

    /// The step-up 403 when the token lacks one of `required`.
    fn scope_refusal(
        &self,
        claims: &TokenClaims,
        required: &[String],
        scheme: Option<Scheme>,
    ) -> Option<Response> {
        if required.iter().all(|s| claims.has_scope(s)) {
            return None;
        }
        tracing::debug!(?required, "MCP request refused: insufficient scope");
        let refusal = self.auth.forbidden(
            format!("Scope {} required", required.join(" ")),
            required.to_vec(),
            scheme,
        );
        Some(self.refuse(&refusal))
    }

    fn refuse(&self, rejection: &AuthRejection) -> Response {
        rejection.to_response_with_metadata(self.resource.metadata_url())
    }
}

async fn metadata(State(layer): State<Arc<McpAuthLayer>>) -> Response {
    let verifier = layer.auth.verifier();
    if verifier.issuer().is_none() {
        // Not fetched yet: one attempt now (the service may have just started).
        let _ = verifier.warm_up().await;
    }
    let dpop = layer.auth.accepts_dpop();
    match layer.resource.metadata(verifier, dpop) {
        Some(doc) => {
            let mut response = Json(doc).into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            response
        }
        None => detail(
            StatusCode::SERVICE_UNAVAILABLE,
            "Authentication service unavailable, retry later",
        ),
    }
}

fn detail(status: StatusCode, detail: &str) -> Response {
    (status, Json(serde_json::json!({ "detail": detail }))).into_response()
}

impl<Svc> tower_layer::Layer<Svc> for McpAuthLayer {
    type Service = McpAuthService<Svc>;

    fn layer(&self, inner: Svc) -> Self::Service {
        McpAuthService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of an [`McpAuthLayer`].
#[derive(Clone, Debug)]
pub struct McpAuthService<Svc> {
    inner: Svc,
    layer: McpAuthLayer,
}

impl<Svc> tower_service::Service<Request<Body>> for McpAuthService<Svc>
where
    Svc: tower_service::Service<Request<Body>, Error = Infallible> + Clone + Send + 'static,
    Svc::Response: IntoResponse,
    Svc::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The clone is not ready; swap so the ready one handles this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            match layer.check(req).await {
                Ok(req) => inner.call(req).await.map(IntoResponse::into_response),
                Err(refusal) => Ok(refusal),
            }
        })
    }
}
