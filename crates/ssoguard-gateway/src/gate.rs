//! The one decision pipeline the forward-auth endpoint and the reverse proxy share: find the
//! rule, find the token, route it to its issuer, verify, check the rule, build identity headers.
//!
//! Guarantees: no rule = refused (default deny); a fault (keys unavailable) = 503, never "let
//! in"; a token taken from a cookie on an unsafe method needs an `Origin` of the same host (CSRF);
//! messages never contain the token.

use crate::config::Config;
use crate::hygiene::{self, Protected};
use crate::identity::{self, UnsafeValue};
use crate::metrics::GatewayMetrics;
use crate::rules::Rules;
use axum::Json;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ssoguard::api_key::{ApiKeyRefusal, ApiKeyVerifier};
use ssoguard::axum::Auth;
use ssoguard::session::SessionVerifier;
use ssoguard::{IntrospectionConfig, IssuerRouter, TokenClaims, Verifier, VerifyError};
use std::sync::Arc;

/// The shared pipeline (cheap to clone).
#[derive(Clone)]
pub struct Gate {
    inner: Arc<GateInner>,
}

struct GateInner {
    router: IssuerRouter,
    names: Vec<String>,
    bearer: Auth,
    cookies: Vec<Auth>,
    /// The `better-auth-session` issuer: its index for the rules, and its verifier.
    sessions: Option<(usize, SessionVerifier)>,
    /// The `better-auth-api-key` issuer: its index for the rules, its verifier, and its header.
    api_keys: Option<(usize, ApiKeyVerifier, HeaderName)>,
    rules: Rules,
    mapping: Vec<(HeaderName, String)>,
    realm: String,
    resource: Option<String>,
    protected: Protected,
    metrics: GatewayMetrics,
}

/// The request as the gate sees it (the original one, for forward-auth).
pub(crate) struct Check<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) headers: &'a HeaderMap,
    /// `host[:port]` the client addressed (for the cookie Origin check and RFC 9728).
    pub(crate) host: Option<&'a str>,
}

/// Which credential a request carries ([`Gate::credential`]).
enum Credential<'h> {
    /// A bearer token, or a token from an issuer's cookie.
    Token { token: &'h str, from_cookie: bool },
    /// An API key: the API-key issuer's index, its verifier, the key.
    ApiKey(usize, &'h ApiKeyVerifier, &'h str),
    /// No token: Better Auth's session cookie, if any ([`Gate::session`]).
    Session,
}

/// Let through, with these identity headers (empty for a public route).
pub(crate) struct Allowed {
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
}

/// Why a request is refused, and its response.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// 401 or 503.
    Verify(VerifyError),
    /// 403 `insufficient_scope`.
    Forbidden(String),
    /// 403: no rule matches (default deny).
    NoRoute,
    /// A path whose readings reach different rules (`crate::path`): 400 in the reverse proxy,
    /// 403 in forward-auth.
    AmbiguousPath,
    /// 403: a cookie credential on a cross-site unsafe request.
    CrossSite,
    /// 403: a claim cannot be sent as a header.
    UnsafeClaim(HeaderName),
}

impl Gate {
    /// Builds the verifiers (no I/O) and compiles the rules.
    ///
    /// # Errors
    ///
    /// A message naming the issuer or rule that cannot be built.
    pub fn new(config: &Config, metrics: GatewayMetrics) -> Result<Gate, String> {
        let mut builder = IssuerRouter::builder();
        let mut cookies = Vec::new();
        let mut session = None;
        let mut api_key = None;
        for i in &config.issuers {
            if let Some(settings) = &i.session {
                session = Some((i.name.clone(), crate::sessions::verifier(i, settings)?));
                continue;
            }
            if let Some(settings) = &i.api_key {
                api_key = Some((i.name.clone(), crate::api_keys::verifier(i, settings)?));
                continue;
            }
            let mut vb = Verifier::builder().audiences(i.audiences.iter().cloned());
            if let Some(authority) = &i.authority {
                vb = vb.authority(authority);
            }
            if let Some(issuer) = &i.issuer {
                vb = vb.issuer(issuer);
            }
            if let Some(url) = &i.jwks_url {
                vb = vb.jwks_url(url);
            }
            if let Some((id, secret)) = &i.introspection {
                vb = vb.introspection(IntrospectionConfig::new(id, secret));
            }
            let verifier = vb
                .build()
                .map_err(|e| format!("issuer {:?}: {e}", i.name))?;
            if let Some(cookie) = &i.cookie {
                cookies.push(Auth::new(verifier.clone()).with_cookie(cookie));
            }
            builder = match &i.issuer {
                Some(issuer) => builder.issuer(issuer, verifier),
                None => builder.discovered(verifier),
            };
            if i.introspection.is_some() {
                builder = builder.accepts_opaque();
            }
        }
        let router = builder.build().map_err(|e| e.to_string())?;
        // Token issuers in the router's order; the session and API-key issuers after them (for
        // the rules).
        let names: Vec<String> = config
            .issuers
            .iter()
            .filter(|i| i.session.is_none() && i.api_key.is_none())
            .map(|i| i.name.clone())
            .collect();
        let mut rule_names = names.clone();
        let sessions = session.map(|(name, verifier)| {
            rule_names.push(name);
            (rule_names.len() - 1, verifier)
        });
        let api_keys = match api_key {
            None => None,
            Some((name, verifier)) => {
                let header = HeaderName::from_bytes(verifier.header_name().as_bytes())
                    .map_err(|_| format!("issuer {name:?}: not a header name"))?;
                rule_names.push(name);
                Some((rule_names.len() - 1, verifier, header))
            }
        };
        let rules = Rules::new(&config.routes, &rule_names)?;
        let mapping: Vec<(HeaderName, String)> = config
            .headers
            .iter()
            .map(|(h, c)| {
                HeaderName::from_bytes(h.as_bytes())
                    .map(|name| (name, c.clone()))
                    .map_err(|_| format!("{h:?} is not a header name"))
            })
            .collect::<Result<_, _>>()?;
        let protected = Protected::new(
            mapping.iter().map(|(h, _)| h),
            api_keys.iter().map(|(_, _, header)| header),
            config
                .issuers
                .iter()
                .filter_map(|i| i.cookie.clone())
                .collect(),
            config
                .issuers
                .iter()
                .filter_map(|i| i.session.as_ref().map(|s| s.cookie_prefix.clone()))
                .collect(),
        );
        let first = router
            .verifiers()
            .next()
            .cloned()
            .ok_or("no issuer configured")?;
        Ok(Gate {
            inner: Arc::new(GateInner {
                router,
                names,
                bearer: Auth::new(first),
                cookies,
                sessions,
                api_keys,
                rules,
                mapping,
                realm: config.realm.clone(),
                resource: config.resource.clone(),
                protected,
                metrics,
            }),
        })
    }

    /// The issuer router (readiness, metrics, RFC 9728).
    pub fn router(&self) -> &IssuerRouter {
        &self.inner.router
    }

    /// The issuers' names, in order.
    pub fn issuer_names(&self) -> &[String] {
        &self.inner.names
    }

    /// The identity header names the gateway sets (stripped from every incoming request).
    pub(crate) fn identity_header_names(&self) -> impl Iterator<Item = &HeaderName> {
        self.inner.mapping.iter().map(|(h, _)| h)
    }

    /// The headers removed from a request before it is forwarded upstream: the identity
    /// headers, and the API-key header (a credential, as `Authorization` is).
    pub(crate) fn upstream_strip_names(&self) -> impl Iterator<Item = &HeaderName> {
        let key = self.inner.api_keys.as_ref().map(|(_, _, header)| header);
        self.identity_header_names().chain(key)
    }

    /// The identity and credential header names and cookies ([`crate::hygiene`]).
    pub(crate) fn protected(&self) -> &Protected {
        &self.inner.protected
    }

    /// The metrics.
    pub(crate) fn metrics(&self) -> &GatewayMetrics {
        &self.inner.metrics
    }

    /// The RFC 9728 resource identifier for a request to `host`.
    pub(crate) fn resource(&self, proto: &str, host: &str) -> String {
        match &self.inner.resource {
            Some(r) => r.clone(),
            None => format!("{proto}://{host}"),
        }
    }

    /// Decides about one request.
    pub(crate) async fn check(&self, req: &Check<'_>) -> Result<Allowed, Refusal> {
        let result = self.decide(req).await;
        let (outcome, reason) = match &result {
            Ok(a) if a.headers.is_empty() => ("public", "none"),
            Ok(_) => ("allowed", "none"),
            Err(Refusal::Verify(e)) if e.is_unavailable() => ("unavailable", e.kind()),
            Err(Refusal::Verify(e)) => ("unauthenticated", e.kind()),
            Err(Refusal::Forbidden(_)) => ("forbidden", "rule"),
            Err(Refusal::NoRoute) => ("forbidden", "no_route"),
            Err(Refusal::AmbiguousPath) => ("forbidden", "ambiguous_path"),
            Err(Refusal::CrossSite) => ("forbidden", "cross_site_cookie"),
            Err(Refusal::UnsafeClaim(_)) => ("forbidden", "unsafe_claim"),
        };
        self.inner.metrics.decision(outcome, reason);
        // Every refusal is logged with its reason (never the token: `VerifyError`'s text names
        // what failed, e.g. "audience mismatch", not the credential).
        match &result {
            Ok(_) => {}
            Err(Refusal::Verify(e)) if e.is_unavailable() => tracing::warn!(
                reason = e.kind(),
                detail = %e,
                method = req.method,
                path = req.path,
                "authentication unavailable"
            ),
            Err(Refusal::Verify(e)) => tracing::info!(
                reason = e.kind(),
                detail = %e,
                method = req.method,
                path = req.path,
                "request refused: credential not accepted"
            ),
            Err(Refusal::Forbidden(detail)) => tracing::info!(
                reason,
                detail = %detail,
                method = req.method,
                path = req.path,
                "request refused by rule"
            ),
            Err(refusal) => tracing::info!(
                reason,
                detail = ?refusal,
                method = req.method,
                path = req.path,
                "request refused"
            ),
        }
        result
    }

    async fn decide(&self, req: &Check<'_>) -> Result<Allowed, Refusal> {
        let inner = &*self.inner;
        let rule = inner
            .rules
            .find(req.method, req.path)
            .map_err(|_| Refusal::AmbiguousPath)?
            .ok_or(Refusal::NoRoute)?;
        if rule.public {
            return Ok(Allowed {
                headers: Vec::new(),
            });
        }
        let (issuer, claims) = match self.credential(req.headers).map_err(Refusal::Verify)? {
            Credential::Token { token, from_cookie } => {
                if from_cookie && needs_origin(req) && !same_origin(req.headers, req.host) {
                    return Err(Refusal::CrossSite);
                }
                inner.router.verify(token).await.map_err(Refusal::Verify)?
            }
            Credential::ApiKey(index, keys, key) => {
                (index, keys.verify(key).await.map_err(Refusal::Verify)?)
            }
            Credential::Session => self.session(req).await?,
        };
        rule.allows(issuer, &claims)
            .map_err(|f| Refusal::Forbidden(f.0))?;
        let headers = identity::headers_for(&claims, &inner.mapping)
            .map_err(|UnsafeValue(name)| Refusal::UnsafeClaim(name))?;
        Ok(Allowed { headers })
    }

    /// Better Auth's session cookie, when a `better-auth-session` issuer is configured and no
    /// token was sent: the issuer's index and the session's claims.
    async fn session(&self, req: &Check<'_>) -> Result<(usize, Arc<TokenClaims>), Refusal> {
        let Some((index, sessions)) = &self.inner.sessions else {
            return Err(Refusal::Verify(VerifyError::MissingToken));
        };
        let cookie_headers = req
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok());
        let cookies = sessions
            .find_cookies(cookie_headers)
            .map_err(Refusal::Verify)?
            .ok_or(Refusal::Verify(VerifyError::MissingToken))?;
        if needs_origin(req) && !same_origin(req.headers, req.host) {
            return Err(Refusal::CrossSite);
        }
        let claims = sessions.verify(&cookies).await.map_err(Refusal::Verify)?;
        Ok((*index, claims))
    }

    /// The request's credential, in this order: the API key (when an API-key issuer is
    /// configured, no `Authorization` is sent and the key header is), the bearer token or a
    /// token cookie, else Better Auth's session cookie.
    fn credential<'h>(&'h self, headers: &'h HeaderMap) -> Result<Credential<'h>, VerifyError> {
        if let Some((index, keys, header)) = &self.inner.api_keys {
            if !headers.contains_key(header::AUTHORIZATION) {
                let mut values = headers.get_all(header).iter();
                if let Some(value) = values.next() {
                    if values.next().is_some() {
                        return Err(VerifyError::Malformed(
                            "ambiguous credentials: more than one API key header",
                        ));
                    }
                    let key = value
                        .to_str()
                        .map_err(|_| VerifyError::Malformed("an API key is printable ASCII"))?;
                    return Ok(Credential::ApiKey(*index, keys, key));
                }
            }
        }
        match self.token(headers) {
            Ok((token, from_cookie)) => Ok(Credential::Token { token, from_cookie }),
            Err(VerifyError::MissingToken) => Ok(Credential::Session),
            Err(e) => Err(e),
        }
    }

    /// The bearer token, else the first issuer cookie that carries one; and whether it came
    /// from a cookie.
    fn token<'h>(&self, headers: &'h HeaderMap) -> Result<(&'h str, bool), VerifyError> {
        match self.inner.bearer.token_from_headers(headers) {
            Err(VerifyError::MissingToken) => {}
            other => return other.map(|t| (t, false)),
        }
        for auth in &self.inner.cookies {
            if let Ok(token) = auth.token_from_headers(headers) {
                return Ok((token, true));
            }
        }
        Err(VerifyError::MissingToken)
    }

    /// The response for a refusal (FastAPI-shaped body, RFC 6750 challenge with the RFC 9728
    /// `resource_metadata` URL).
    pub(crate) fn refuse(&self, refusal: &Refusal, proto: &str, host: &str) -> Response {
        let metadata = format!(
            "{}/.well-known/oauth-protected-resource",
            self.resource(proto, host).trim_end_matches('/')
        );
        let realm = quote(&self.inner.realm);
        let (status, detail, challenge) = match refusal {
            Refusal::Verify(e) if e.is_unavailable() => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Authentication service unavailable, retry later".to_string(),
                None,
            ),
            Refusal::Verify(e) if e.status_code() == 429 => {
                (StatusCode::TOO_MANY_REQUESTS, e.to_string(), None)
            }
            Refusal::Verify(VerifyError::MissingToken) => (
                StatusCode::UNAUTHORIZED,
                "Not authenticated".to_string(),
                Some(format!("Bearer realm=\"{realm}\"")),
            ),
            Refusal::Verify(e) => (
                StatusCode::UNAUTHORIZED,
                format!("Invalid token: {e}"),
                Some(format!(
                    "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{}\"",
                    quote(&e.to_string())
                )),
            ),
            Refusal::Forbidden(detail) => (
                StatusCode::FORBIDDEN,
                detail.clone(),
                Some(format!(
                    "Bearer realm=\"{realm}\", error=\"insufficient_scope\", error_description=\"{}\"",
                    quote(detail)
                )),
            ),
            Refusal::NoRoute => (
                StatusCode::FORBIDDEN,
                "No route allows this request".to_string(),
                None,
            ),
            Refusal::AmbiguousPath => (
                StatusCode::FORBIDDEN,
                "Ambiguous request path refused".to_string(),
                None,
            ),
            Refusal::CrossSite => (
                StatusCode::FORBIDDEN,
                "Cross-site request with cookie credentials refused".to_string(),
                None,
            ),
            Refusal::UnsafeClaim(name) => (
                StatusCode::FORBIDDEN,
                format!("Identity claim for {name} cannot be sent as a header"),
                None,
            ),
        };
        let mut response = (status, Json(serde_json::json!({ "detail": detail }))).into_response();
        if let Some(challenge) = challenge {
            let challenge = format!("{challenge}, resource_metadata=\"{}\"", quote(&metadata));
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        if let Refusal::Verify(
            VerifyError::KeysUnavailable { retry_after, .. }
            | VerifyError::ApiKey(ApiKeyRefusal::RateLimited { retry_after }),
        ) = refusal
        {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after.as_secs().max(1)),
            );
        }
        response
    }
}

fn is_safe_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// Whether a cookie credential needs a same-origin `Origin`: unsafe methods, and WebSocket
/// handshakes (a `GET` that opens a two-way channel: cross-site WebSocket hijacking).
fn needs_origin(req: &Check<'_>) -> bool {
    !is_safe_method(req.method) || hygiene::is_websocket_handshake(req.headers)
}

/// True when the request's `Origin` names the host the request was sent to.
fn same_origin(headers: &HeaderMap, host: Option<&str>) -> bool {
    let (Some(origin), Some(host)) = (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        host,
    ) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}

/// Makes a value safe inside a quoted-string of an HTTP header.
fn quote(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .map(|c| if c == '"' || c == '\\' { '\'' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_check() {
        let mut h = HeaderMap::new();
        assert!(!same_origin(&h, Some("app.example")));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://app.example"),
        );
        assert!(same_origin(&h, Some("app.example")));
        assert!(!same_origin(&h, Some("app.example:8443")));
        assert!(!same_origin(&h, None));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&h, Some("app.example")));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h, Some("app.example")));
    }
}
