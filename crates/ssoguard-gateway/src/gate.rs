//! The one decision pipeline the forward-auth endpoint and the reverse proxy share: find the
//! rule, find the credential, route it to its issuer, verify, check the rule, build identity
//! headers. Finding the credential, the CSRF check and the refusals' rendering are the
//! library's ([`ssoguard::credential`]), the same as the axum extractors'.
//!
//! Guarantees: no rule = refused (default deny); a fault (keys unavailable) = 503, never "let
//! in"; a cookie credential on an unsafe method or a WebSocket handshake needs an `Origin` equal
//! to the gateway's public origin (`public_url`, or the trusted front's `X-Forwarded-*`)
//! ([`Csrf::same_origin`]); messages never contain the token.

use crate::config::Config;
use crate::hygiene::Protected;
use crate::identity::{self, UnsafeValue};
use crate::metrics::GatewayMetrics;
use crate::rules::Rules;
use axum::Json;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use ssoguard::api_key::ApiKeyVerifier;
use ssoguard::axum::Auth;
use ssoguard::challenge::Scheme;
use ssoguard::credential::{
    Credential, CredentialSources, Csrf, Refusal as CredentialRefusal, RefusalContext,
};
use ssoguard::dpop::{DpopConfig, DpopRequest, Presented};
use ssoguard::mcp::McpAuthLayer;
use ssoguard::mcp::McpResource;
use ssoguard::organization::{MembershipRefusal, OrganizationSource, Organizations};
use ssoguard::revocation::{MemoryRevocations, Revocations};
use ssoguard::session::SessionVerifier;
use ssoguard::shared::RedisRevocations;
use ssoguard::{IntrospectionConfig, IssuerRouter, TokenClaims, Verifier, VerifyError};
use std::collections::HashMap;
use std::sync::Arc;

/// The shared pipeline (cheap to clone).
#[derive(Clone)]
pub struct Gate {
    inner: Arc<GateInner>,
}

struct GateInner {
    router: IssuerRouter,
    names: Vec<String>,
    /// The first issuer's verifier: its DPoP settings name the challenges and the metadata.
    first: Verifier,
    /// Where credentials come from: `Authorization`, the issuers' cookies, the session cookie,
    /// the API-key header.
    sources: CredentialSources,
    csrf: Csrf,
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
    /// The revocations shared through Redis (`[shared]`), for `/_ssoguard/ready`.
    shared: Option<Arc<RedisRevocations>>,
    /// Memberships from the token's organization claims: for rules naming the organization
    /// by the token alone, and for rules naming it by a path segment.
    by_claim: Organizations,
    by_path: Organizations,
    /// The `[[mcp]]` endpoints.
    mcp: Vec<McpEndpoint>,
}

/// One `[[mcp]]` endpoint: its exact path and the library's guard
/// ([`ssoguard::mcp::McpAuthLayer`]: token for the resource, per-tool scopes from the body).
struct McpEndpoint {
    path: String,
    guard: McpAuthLayer,
}

/// A verifier builder for a token issuer's keys with `audiences`, its revocations and DPoP.
fn token_verifier(
    i: &crate::config::IssuerConfig,
    audiences: &[String],
    revocations: Arc<dyn Revocations>,
    dpop: DpopConfig,
) -> ssoguard::VerifierBuilder {
    let mut vb = Verifier::builder()
        .audiences(audiences.iter().cloned())
        .revocations(revocations)
        .dpop(dpop);
    if let Some(authority) = &i.authority {
        vb = vb.authority(authority);
    }
    if let Some(issuer) = &i.issuer {
        vb = vb.issuer(issuer);
    }
    if let Some(url) = &i.jwks_url {
        vb = vb.jwks_url(url);
    }
    vb
}

/// The guard of one `[[mcp]]`: bearer or DPoP tokens only (no cookies: an MCP client sends a
/// token), DPoP proofs naming `public_url`.
fn mcp_endpoint(
    config: &Config,
    m: &crate::config::McpConfig,
    i: &crate::config::IssuerConfig,
    revocations: Arc<dyn Revocations>,
    dpop: DpopConfig,
) -> Result<McpEndpoint, String> {
    let resource = McpResource::new(&m.resource)
        .map_err(|e| format!("[[mcp]] {:?}: {e}", m.path))?
        .every_request(m.every_request.iter().cloned());
    let resource = m.tools.iter().fold(resource, |r, (name, scopes)| {
        r.tool_scopes(name.clone(), scopes.iter().cloned())
    });
    let resource = match &m.other_tools {
        Some(scopes) => resource.other_tools(scopes.iter().cloned()),
        None => resource,
    };
    let verifier = token_verifier(i, std::slice::from_ref(&m.resource), revocations, dpop)
        .build()
        .map_err(|e| format!("[[mcp]] {:?}: {e}", m.path))?;
    let mut auth = Auth::new(verifier).with_realm(config.realm.clone());
    if let Some(url) = &config.public_url {
        auth = auth
            .with_public_url(url)
            .map_err(|e| format!("public_url: {e}"))?;
    }
    Ok(McpEndpoint {
        path: m.path.clone(),
        guard: McpAuthLayer::new(auth, resource),
    })
}

/// The request as the gate sees it (the original one, for forward-auth).
pub(crate) struct Check<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) headers: &'a HeaderMap,
    /// The path as the client sent it (before canonicalisation; no query): a DPoP proof's
    /// `htu` names it.
    pub(crate) raw_path: &'a str,
    /// The `scheme://host[:port]` the client addressed, from `public_url` or the trusted
    /// front's `X-Forwarded-*` (never a client's `Host` alone): the cookie Origin check and the
    /// base of a DPoP proof's `htu`.
    pub(crate) origin: &'a str,
}

/// Let through, with these identity headers (empty for a public route).
pub(crate) struct Allowed {
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
}

/// Why a request is refused, and its response.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// A credential refusal, rendered by the library: 401, 403 (`insufficient_scope`, CSRF),
    /// 429 or 503.
    Credential(ssoguard::credential::Refusal),
    /// 403: no rule matches (default deny).
    NoRoute,
    /// A path whose readings reach different rules (`crate::path`): 400 in the reverse proxy,
    /// 403 in forward-auth.
    AmbiguousPath,
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
        let mut sources = CredentialSources::new();
        let mut session = None;
        let mut api_key = None;
        // One revocation store per SSO (Better Auth base URL), shared by its token verifier and
        // its session verifier: a back-channel logout then refuses the session's tokens and its
        // cookie alike, and never another SSO's session that happens to use the same `sid`.
        // With `[shared]`, one Redis instead: its revocations are every SSO's (as in tasks-api,
        // keyed by `sid`/`sub`), and its replay store every verifier's.
        let redis = config
            .shared
            .as_ref()
            .map(crate::shared::SharedConfig::redis);
        let shared = redis
            .as_ref()
            .map(|redis| (redis.revocations(), redis.replay_store()));
        let mut revocations: HashMap<String, Arc<dyn Revocations>> = HashMap::new();
        let mut store_for = |i: &crate::config::IssuerConfig| -> Arc<dyn Revocations> {
            if let Some((shared, _)) = &shared {
                return shared.clone();
            }
            let base = ssoguard::urls::better_auth_base(
                i.authority
                    .as_deref()
                    .or(i.issuer.as_deref())
                    .unwrap_or_default(),
            );
            Arc::clone(
                revocations
                    .entry(base)
                    .or_insert_with(|| Arc::new(MemoryRevocations::default())),
            )
        };
        let mut mcp: Vec<McpEndpoint> = Vec::new();
        let mut no_token_issuer_yet = true;
        for i in &config.issuers {
            if let Some(settings) = &i.session {
                let authority = i.authority.as_deref().unwrap_or_default();
                let verifier = crate::sessions::verifier(
                    &i.name,
                    authority,
                    settings,
                    store_for(i),
                    redis.as_ref(),
                )?;
                session = Some((i.name.clone(), verifier));
                continue;
            }
            if let Some(settings) = &i.api_key {
                let authority = i.authority.as_deref().unwrap_or_default();
                let verifier =
                    crate::api_keys::verifier(&i.name, authority, settings, redis.as_ref())?;
                api_key = Some((i.name.clone(), verifier));
                continue;
            }
            let mut dpop = DpopConfig::default().required(config.dpop_required);
            if let Some((_, replay)) = &shared {
                dpop = dpop.replay_store(replay.clone());
            }
            let store = store_for(i);
            let mut vb = token_verifier(i, &i.audiences, store.clone(), dpop.clone());
            if let Some((id, secret)) = &i.introspection {
                let mut introspection = IntrospectionConfig::new(id, secret);
                // `[shared]`: answers and the introspection budget are the cluster's.
                if let Some(redis) = &redis {
                    introspection = introspection.shared(redis);
                }
                vb = vb.introspection(introspection);
            }
            let verifier = vb
                .build()
                .map_err(|e| format!("issuer {:?}: {e}", i.name))?;
            // `[[mcp]]` endpoints trusting this issuer: their own verifier, whose audience is
            // the resource (RFC 8707), with the issuer's keys settings and revocations.
            let first_token_issuer = std::mem::replace(&mut no_token_issuer_yet, false);
            for m in &config.mcp {
                let ours = match &m.issuer {
                    Some(name) => *name == i.name,
                    None => first_token_issuer,
                };
                if ours {
                    mcp.push(mcp_endpoint(config, m, i, store.clone(), dpop.clone())?);
                }
            }
            if let Some(cookie) = &i.cookie {
                sources = sources.token_cookie(cookie);
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
            sources = std::mem::take(&mut sources).session_cookies(&verifier);
            (rule_names.len() - 1, verifier)
        });
        let api_keys = match api_key {
            None => None,
            Some((name, verifier)) => {
                let header = HeaderName::from_bytes(verifier.header_name().as_bytes())
                    .map_err(|_| format!("issuer {name:?}: not a header name"))?;
                rule_names.push(name);
                sources = std::mem::take(&mut sources).api_key_header(header.clone());
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
        let organizations = |source: OrganizationSource| {
            let o = &config.organizations;
            let builder = Organizations::builder()
                .source(source)
                .claim_names(&o.id_claim, &o.role_claim, "team_id")
                .access_control(o.roles.clone())
                .cache_ttl(o.cache_ttl);
            match &o.database_url {
                None => builder.membership_from_claims(),
                Some(url) => builder.database(
                    ssoguard::organization::OrganizationDatabase::new(url)
                        .dynamic_roles(o.dynamic_roles),
                ),
            }
            .build()
            .map_err(|e| format!("[organizations]: {e}"))
        };
        let by_claim = organizations(OrganizationSource::Claims)?;
        let by_path = organizations(OrganizationSource::PathSegment("segment".into()))?;
        Ok(Gate {
            inner: Arc::new(GateInner {
                router,
                names,
                first,
                sources,
                csrf: Csrf::same_origin(),
                sessions,
                api_keys,
                rules,
                mapping,
                realm: config.realm.clone(),
                resource: config.resource.clone(),
                protected,
                metrics,
                shared: shared.map(|(revocations, _)| revocations),
                by_claim,
                by_path,
                mcp,
            }),
        })
    }

    /// The `[[mcp]]` endpoint at exactly `path`, if any.
    pub(crate) fn mcp_endpoint(&self, path: &str) -> Option<&McpAuthLayer> {
        self.inner
            .mcp
            .iter()
            .find(|m| m.path == path)
            .map(|m| &m.guard)
    }

    /// Every `[[mcp]]` endpoint's guard (their metadata routes).
    pub(crate) fn mcp_guards(&self) -> impl Iterator<Item = &McpAuthLayer> {
        self.inner.mcp.iter().map(|m| &m.guard)
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

    /// The identity headers and the claims they carry.
    pub(crate) fn mapping(&self) -> &[(HeaderName, String)] {
        &self.inner.mapping
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
            Err(Refusal::Credential(r)) => match r {
                CredentialRefusal::Verify { error, .. } if error.is_unavailable() => {
                    ("unavailable", error.kind())
                }
                CredentialRefusal::Verify { error, .. } => ("unauthenticated", error.kind()),
                CredentialRefusal::Forbidden { .. } => ("forbidden", "rule"),
                CredentialRefusal::CrossSite(_) => ("forbidden", "cross_site_cookie"),
            },
            Err(Refusal::NoRoute) => ("forbidden", "no_route"),
            Err(Refusal::AmbiguousPath) => ("forbidden", "ambiguous_path"),
            Err(Refusal::UnsafeClaim(_)) => ("forbidden", "unsafe_claim"),
        };
        self.inner.metrics.decision(outcome, reason);
        // Every refusal is logged with its reason (never the token: `VerifyError`'s text names
        // what failed, e.g. "audience mismatch", not the credential).
        match &result {
            Ok(_) => {}
            Err(Refusal::Credential(CredentialRefusal::Verify { error, .. }))
                if error.is_unavailable() =>
            {
                tracing::warn!(
                    reason = error.kind(),
                    detail = %error,
                    method = req.method,
                    path = req.path,
                    "authentication unavailable"
                );
            }
            Err(Refusal::Credential(CredentialRefusal::Verify { error, .. })) => tracing::info!(
                reason = error.kind(),
                detail = %error,
                method = req.method,
                path = req.path,
                "request refused: credential not accepted"
            ),
            Err(Refusal::Credential(refusal)) => tracing::info!(
                reason,
                detail = %refusal.detail(),
                method = req.method,
                path = req.path,
                "request refused"
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
        let (issuer, claims, scheme) = self.authenticate(req).await?;
        rule.allows(issuer, &claims).map_err(|f| {
            Refusal::Credential(CredentialRefusal::Forbidden {
                detail: f.0,
                scope: f.1,
                scheme,
            })
        })?;
        if let Some(organization) = rule.organization() {
            self.check_organization(organization, req.path, &claims)
                .await
                .map_err(|refusal| match refusal {
                    // A lookup that failed: 503, never let in.
                    None => Refusal::Credential(CredentialRefusal::Verify {
                        error: VerifyError::KeysUnavailable {
                            reason: ssoguard::KeysUnavailable::OrganizationStore,
                            retry_after: std::time::Duration::from_secs(5),
                        },
                        scheme,
                    }),
                    Some(detail) => Refusal::Credential(CredentialRefusal::Forbidden {
                        detail,
                        scope: Vec::new(),
                        scheme,
                    }),
                })?;
        }
        let headers = identity::headers_for(&claims, &inner.mapping)
            .map_err(|UnsafeValue(name)| Refusal::UnsafeClaim(name))?;
        Ok(Allowed { headers })
    }

    /// A rule's organization requirements against the caller's membership (from the token's
    /// claims, or looked up). Every refusal is a 403 with its detail (forward-auth fronts pass
    /// on only 401 and 403): a non-member and an organization that does not exist get the same
    /// answer. `None`: the lookup failed (503).
    async fn check_organization(
        &self,
        rule: &crate::rules::OrganizationRule,
        path: &str,
        claims: &Arc<TokenClaims>,
    ) -> Result<(), Option<String>> {
        let inner = &*self.inner;
        let member = match rule.segment {
            Some(_) => inner.by_path.member(claims, rule.requested(path)).await,
            None => inner.by_claim.member(claims, None).await,
        }
        .map_err(|refusal| match refusal {
            MembershipRefusal::Unavailable => None,
            MembershipRefusal::NotMember { .. } => {
                Some("Not a member of this organization".to_owned())
            }
            other => Some(other.to_string()),
        })?;
        if !rule.roles_any.is_empty() && !rule.roles_any.iter().any(|r| member.has_role(r)) {
            return Err(Some(format!(
                "One of the organization roles {} required",
                rule.roles_any.join(", ")
            )));
        }
        for permission in &rule.permissions {
            member
                .require(permission)
                .map_err(|r| Some(r.to_string()))?;
        }
        Ok(())
    }

    /// Finds, CSRF-checks and verifies the request's credential ([`ssoguard::credential`]):
    /// the issuer's index for the rules, the claims, and the scheme it came with.
    async fn authenticate(
        &self,
        req: &Check<'_>,
    ) -> Result<(usize, Arc<TokenClaims>, Option<Scheme>), Refusal> {
        let inner = &*self.inner;
        let refuse =
            |error, scheme| Refusal::Credential(CredentialRefusal::Verify { error, scheme });
        let credential = inner
            .sources
            .find(req.headers)
            .map_err(|e| refuse(e, None))?
            .ok_or_else(|| refuse(VerifyError::MissingToken, None))?;
        let scheme = credential.scheme();
        let method = Method::from_bytes(req.method.as_bytes())
            .map_err(|_| refuse(VerifyError::Malformed("not an HTTP method"), scheme))?;
        if credential.is_cookie() {
            inner
                .csrf
                .check(&method, req.headers, Some(req.origin))
                .map_err(|cross| Refusal::Credential(CredentialRefusal::CrossSite(cross)))?;
        }
        let verified = match credential {
            Credential::Bearer(token) | Credential::TokenCookie { token, .. } => {
                inner.router.verify(token).await
            }
            Credential::Dpop { token, proof } => {
                let url = format!("{}{}", req.origin.trim_end_matches('/'), req.raw_path);
                match DpopRequest::new(method, &url) {
                    Ok(request) => {
                        inner
                            .router
                            .verify_presented(Presented::Dpop { token, proof }, &request)
                            .await
                    }
                    Err(_) => Err(VerifyError::Malformed("DPoP request URL is not valid")),
                }
            }
            Credential::Session(cookies) => match &inner.sessions {
                Some((index, sessions)) => sessions.verify(&cookies).await.map(|c| (*index, c)),
                None => Err(VerifyError::MissingToken),
            },
            Credential::ApiKey(key) => match &inner.api_keys {
                Some((index, keys, _)) => keys.verify(key).await.map(|c| (*index, c)),
                None => Err(VerifyError::MissingToken),
            },
        };
        let (index, claims) = verified.map_err(|e| refuse(e, scheme))?;
        Ok((index, claims, scheme))
    }

    /// The revocations shared through Redis, when `[shared]` is set.
    pub(crate) fn shared(&self) -> Option<&Arc<RedisRevocations>> {
        self.inner.shared.as_ref()
    }

    /// The DPoP settings of the RFC 9728 metadata and the challenges.
    pub(crate) fn dpop(&self) -> &ssoguard::dpop::DpopConfig {
        self.inner.first.dpop()
    }

    /// The response for a refusal (FastAPI-shaped body, RFC 6750 challenge with the RFC 9728
    /// `resource_metadata` URL).
    pub(crate) fn refuse(&self, refusal: &Refusal, proto: &str, host: &str) -> Response {
        let metadata = format!(
            "{}/.well-known/oauth-protected-resource",
            self.resource(proto, host).trim_end_matches('/')
        );
        let (status, detail) = match refusal {
            Refusal::Credential(refusal) => {
                let context = RefusalContext {
                    realm: &self.inner.realm,
                    resource_metadata: Some(&metadata),
                    dpop: Some(self.dpop()),
                };
                return refusal.to_response(&context).map(Body::from);
            }
            Refusal::NoRoute => (StatusCode::FORBIDDEN, "No route allows this request".into()),
            Refusal::AmbiguousPath => (
                StatusCode::FORBIDDEN,
                "Ambiguous request path refused".to_string(),
            ),
            Refusal::UnsafeClaim(name) => (
                StatusCode::FORBIDDEN,
                format!("Identity claim for {name} cannot be sent as a header"),
            ),
        };
        (status, Json(serde_json::json!({ "detail": detail }))).into_response()
    }
}
