//! The configuration from one TOML file: every value checked, every refusal naming the file
//! and line. `HOST`/`PORT` and the other override variables still win over the file's values.

use super::checks::{
    check_public_url, check_upstream, front_from_env, listen_from_env, metrics_from_env,
    shared_config, trusted_from_env,
};
use super::{Config, ConfigError, IssuerConfig, OrganizationsConfig, RouteConfig, default_headers};
use crate::api_keys::ApiKeyIssuer;
use crate::front::Front;
use crate::sessions::SessionIssuer;
use crate::shared::{REDIS_URL_VAR, SharedConfig};
use serde::Deserialize;
use ssoguard::session::{DEFAULT_COOKIE_PREFIX, SessionSecret};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// Headers a `[headers]` mapping may never set: hop-by-hop headers (RFC 9110 §7.6.1) and the
/// ones that carry credentials or framing.
const RESERVED_HEADERS: [&str; 14] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "authorization",
    "cookie",
    "set-cookie",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<Spanned<String>>,
    metrics_listen: Option<Spanned<String>>,
    upstream: Option<Spanned<String>>,
    upstream_timeout_secs: Option<u64>,
    header_read_timeout_secs: Option<Spanned<u64>>,
    max_connections: Option<Spanned<usize>>,
    #[serde(default)]
    forward_authorization: bool,
    #[serde(default)]
    forward_credential_cookie: bool,
    #[serde(default)]
    dpop_required: bool,
    front: Option<Spanned<String>>,
    realm: Option<String>,
    resource: Option<String>,
    public_url: Option<Spanned<String>>,
    #[serde(default)]
    trusted_proxies: Vec<Spanned<String>>,
    shared: Option<FileShared>,
    #[serde(default)]
    issuer: Vec<FileIssuer>,
    #[serde(default)]
    headers: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    route: Vec<FileRoute>,
    organizations: Option<FileOrganizations>,
    #[serde(default)]
    mcp: Vec<super::mcp::FileMcp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOrganizations {
    id_claim: Option<String>,
    role_claim: Option<String>,
    roles: Option<Spanned<toml::Value>>,
    database_url_env: Option<Spanned<String>>,
    dynamic_roles: Option<Spanned<bool>>,
    cache_ttl_secs: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileIssuer {
    pub(crate) name: Spanned<String>,
    /// `jwt` (default), `better-auth-session` or `better-auth-api-key`.
    pub(crate) kind: Option<Spanned<String>>,
    pub(crate) issuer: Option<Spanned<String>>,
    pub(crate) authority: Option<String>,
    pub(crate) jwks_url: Option<String>,
    #[serde(default)]
    pub(crate) audiences: Vec<String>,
    pub(crate) cookie: Option<String>,
    pub(crate) introspection: Option<FileIntrospection>,
    /// `better-auth-session`: the variable holding Better Auth's secret.
    pub(crate) secret_env: Option<Spanned<String>>,
    /// `better-auth-session`: longest a looked-up session is reused. Default 30.
    pub(crate) cache_ttl_secs: Option<u64>,
    /// `better-auth-session`: Better Auth's `advanced.cookiePrefix`. Default `better-auth`.
    pub(crate) cookie_prefix: Option<String>,
    /// `better-auth-api-key`: the key header. Default `x-api-key`.
    pub(crate) header: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileIntrospection {
    client_id: String,
    client_secret_env: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRoute {
    path: Spanned<String>,
    #[serde(default)]
    methods: Vec<Spanned<String>>,
    public: Option<Spanned<bool>>,
    /// Says what a rule without `public` means anyway: a valid credential is required.
    authenticated: Option<Spanned<bool>>,
    #[serde(default)]
    roles_any: Vec<String>,
    #[serde(default)]
    roles_all: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    issuers: Vec<Spanned<String>>,
    #[serde(default)]
    organization_roles_any: Vec<String>,
    #[serde(default)]
    organization_permissions: Vec<Spanned<String>>,
    organization_segment: Option<Spanned<usize>>,
}

/// `[shared]` in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileShared {
    pub(super) redis_url: Option<String>,
}

impl Config {
    /// Reads and checks a TOML file. `HOST`/`PORT` override `listen` when set.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the file and line.
    pub fn from_file(
        path: &Path,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: cannot read: {e}", path.display())))?;
        Self::from_toml(&text, &path.display().to_string(), env)
    }

    /// Parses and checks TOML text; `origin` names it in messages.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming `origin` and the line.
    pub fn from_toml(
        text: &str,
        origin: &str,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let at = |span: std::ops::Range<usize>, message: String| {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            ConfigError(format!("{origin} line {line}: {message}"))
        };
        let file: FileConfig = toml::from_str(text).map_err(|e| match e.span() {
            Some(span) => at(span, e.message().to_string()),
            None => ConfigError(format!("{origin}: {}", e.message())),
        })?;
        if file.issuer.is_empty() {
            return Err(ConfigError(format!(
                "{origin}: no [[issuer]]: at least one is needed"
            )));
        }
        let several = file.issuer.iter().filter(|i| !is_better_auth(i)).count() > 1;
        let mut issuers: Vec<IssuerConfig> = Vec::new();
        for fi in &file.issuer {
            let name = fi.name.get_ref().clone();
            if issuers.iter().any(|i| i.name == name) {
                return Err(at(
                    fi.name.span(),
                    format!("issuer name {name:?} is used twice"),
                ));
            }
            if let Some(session) = better_auth_issuer(fi, &issuers, env, &at)? {
                issuers.push(session);
                continue;
            }
            let issuer = fi.issuer.as_ref().map(|s| s.get_ref().clone());
            if let (Some(url), Some(spanned)) = (&issuer, &fi.issuer) {
                if issuers.iter().any(|i| i.issuer.as_ref() == Some(url)) {
                    return Err(at(
                        spanned.span(),
                        format!("issuer {url:?} overlaps an earlier [[issuer]] (same issuer URL)"),
                    ));
                }
            }
            if several && issuer.is_none() {
                return Err(at(
                    fi.name.span(),
                    format!(
                        "issuer {name:?} has no `issuer`: with several issuers each names its exact issuer"
                    ),
                ));
            }
            if issuer.is_none() && fi.authority.is_none() && fi.jwks_url.is_none() {
                return Err(at(
                    fi.name.span(),
                    format!("issuer {name:?} needs `issuer` or `authority`"),
                ));
            }
            if fi.audiences.iter().all(|a| a.trim().is_empty()) {
                return Err(at(
                    fi.name.span(),
                    format!("issuer {name:?} has no audiences"),
                ));
            }
            let introspection = match &fi.introspection {
                None => None,
                Some(i) => {
                    let var = i.client_secret_env.get_ref();
                    match env(var).filter(|v| !v.is_empty()) {
                        Some(secret) => Some((i.client_id.clone(), secret)),
                        None => {
                            return Err(at(
                                i.client_secret_env.span(),
                                format!("client_secret_env: the variable {var} is not set"),
                            ));
                        }
                    }
                }
            };
            issuers.push(IssuerConfig {
                name,
                issuer,
                authority: fi.authority.clone(),
                jwks_url: fi.jwks_url.clone(),
                audiences: fi.audiences.clone(),
                cookie: fi.cookie.clone(),
                introspection,
                session: None,
                api_key: None,
            });
        }
        if issuers.iter().filter(|i| i.introspection.is_some()).count() > 1 {
            return Err(ConfigError(format!(
                "{origin}: more than one [[issuer]] has introspection: opaque tokens carry no issuer, so only one may"
            )));
        }
        let mut headers = default_headers();
        for (name, claim) in &file.headers {
            let lower = name.get_ref().to_ascii_lowercase();
            if axum::http::HeaderName::from_bytes(lower.as_bytes()).is_err() {
                return Err(at(
                    name.span(),
                    format!("{:?} is not a header name", name.get_ref()),
                ));
            }
            if RESERVED_HEADERS.contains(&lower.as_str()) {
                return Err(at(
                    name.span(),
                    format!(
                        "[headers] {:?} is a hop-by-hop or reserved header and cannot carry a claim",
                        name.get_ref()
                    ),
                ));
            }
            if claim.get_ref().trim().is_empty() {
                return Err(at(claim.span(), "empty claim path".into()));
            }
            headers.retain(|(h, _)| *h != lower);
            headers.push((lower, claim.get_ref().clone()));
        }
        if file.route.is_empty() {
            return Err(ConfigError(format!(
                "{origin}: no [[route]]: every request would be refused (default deny)"
            )));
        }
        let mut routes = Vec::new();
        for fr in &file.route {
            let path = fr.path.get_ref().clone();
            if !path.starts_with('/') {
                return Err(at(
                    fr.path.span(),
                    format!("path {path:?} must start with /"),
                ));
            }
            if path.contains('*') || path.contains('?') || path.contains('[') {
                crate::rules::glob(&path).map_err(|e| at(fr.path.span(), e))?;
            }
            let mut methods = Vec::new();
            for m in &fr.methods {
                let upper = m.get_ref().to_ascii_uppercase();
                if axum::http::Method::from_bytes(upper.as_bytes()).is_err() || upper.is_empty() {
                    return Err(at(
                        m.span(),
                        format!("{:?} is not an HTTP method", m.get_ref()),
                    ));
                }
                methods.push(upper);
            }
            let public = fr.public.as_ref().is_some_and(|p| *p.get_ref());
            if let Some(authenticated) = &fr.authenticated {
                if *authenticated.get_ref() == public {
                    return Err(at(
                        authenticated.span(),
                        "set either `public = true` or `authenticated = true` (the default), \
                         not both, and neither to false"
                            .into(),
                    ));
                }
            }
            let mut organization_permissions = Vec::new();
            for p in &fr.organization_permissions {
                organization_permissions.push(
                    p.get_ref()
                        .parse::<ssoguard::organization::Permission>()
                        .map_err(|e| at(p.span(), e.to_string()))?,
                );
            }
            if let Some(segment) = &fr.organization_segment {
                if *segment.get_ref() == 0 {
                    return Err(at(
                        segment.span(),
                        "organization_segment counts path segments from 1".into(),
                    ));
                }
            }
            if public
                && (!fr.roles_any.is_empty()
                    || !fr.roles_all.is_empty()
                    || !fr.scopes.is_empty()
                    || !fr.issuers.is_empty()
                    || !fr.organization_roles_any.is_empty()
                    || !organization_permissions.is_empty()
                    || fr.organization_segment.is_some())
            {
                return Err(at(
                    fr.public.as_ref().map_or(fr.path.span(), Spanned::span),
                    "a public route cannot also require roles, scopes, issuers or an organization"
                        .into(),
                ));
            }
            for name in &fr.issuers {
                if !issuers.iter().any(|i| &i.name == name.get_ref()) {
                    return Err(at(
                        name.span(),
                        format!("route names unknown issuer {:?}", name.get_ref()),
                    ));
                }
            }
            routes.push(RouteConfig {
                path,
                methods,
                public,
                roles_any: fr.roles_any.clone(),
                roles_all: fr.roles_all.clone(),
                scopes: fr.scopes.clone(),
                issuers: fr.issuers.iter().map(|s| s.get_ref().clone()).collect(),
                organization_roles_any: fr.organization_roles_any.clone(),
                organization_permissions,
                organization_segment: fr.organization_segment.as_ref().map(|s| *s.get_ref()),
            });
        }
        let get = |k: &str| {
            env(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let listen_default = match &file.listen {
            None => None,
            Some(l) => Some(
                l.get_ref()
                    .parse::<SocketAddr>()
                    .map_err(|e| at(l.span(), format!("listen: {e}")))?,
            ),
        };
        let upstream = match file.upstream {
            None => get("UPSTREAM_URL"),
            Some(u) => {
                check_upstream(u.get_ref()).map_err(|e| at(u.span(), format!("upstream: {e}")))?;
                Some(u.into_inner())
            }
        };
        let front = match &file.front {
            None => Front::default(),
            Some(f) => f.get_ref().parse().map_err(|e| at(f.span(), e))?,
        };
        let public_url = match get("PUBLIC_URL") {
            Some(u) => {
                Some(check_public_url(&u).map_err(|e| ConfigError(format!("PUBLIC_URL: {e}")))?)
            }
            None => match &file.public_url {
                None => None,
                Some(u) => Some(
                    check_public_url(u.get_ref())
                        .map_err(|e| at(u.span(), format!("public_url: {e}")))?,
                ),
            },
        };
        let mut trusted = Vec::new();
        for ip in &file.trusted_proxies {
            trusted.push(ip.get_ref().trim().parse().map_err(|_| {
                at(
                    ip.span(),
                    format!("trusted_proxies: {:?} is not an IP address", ip.get_ref()),
                )
            })?);
        }
        let trusted_proxies = trusted_from_env(&get, trusted)?;
        let mut limits = crate::Limits::default();
        if let Some(secs) = &file.header_read_timeout_secs {
            if *secs.get_ref() == 0 {
                return Err(at(
                    secs.span(),
                    "header_read_timeout_secs must be at least 1".into(),
                ));
            }
            limits.header_read_timeout = Duration::from_secs(*secs.get_ref());
        }
        if let Some(max) = &file.max_connections {
            if *max.get_ref() == 0 {
                return Err(at(max.span(), "max_connections must be at least 1".into()));
            }
            limits.max_connections = *max.get_ref();
        }
        let organizations = match &file.organizations {
            None => OrganizationsConfig::default(),
            Some(o) => {
                let defaults = OrganizationsConfig::default();
                let roles = match &o.roles {
                    None => defaults.roles,
                    Some(roles) => serde_json::to_value(roles.get_ref())
                        .map_err(|e| e.to_string())
                        .and_then(|v| {
                            ssoguard::organization::AccessControl::from_json(&v)
                                .map_err(|e| e.to_string())
                        })
                        .map_err(|e| {
                            at(
                                roles.span(),
                                format!(
                                    "[organizations] roles: {e} (use role = {{ resource = [\"action\", …] }})"
                                ),
                            )
                        })?,
                };
                let database_url = match &o.database_url_env {
                    None => None,
                    Some(var) => Some(
                        env(var.get_ref())
                            .filter(|v| !v.trim().is_empty())
                            .ok_or_else(|| {
                                at(
                                    var.span(),
                                    format!(
                                        "database_url_env: the variable {} is not set",
                                        var.get_ref()
                                    ),
                                )
                            })?,
                    ),
                };
                let dynamic_roles = o.dynamic_roles.as_ref().is_some_and(|d| *d.get_ref());
                if dynamic_roles && database_url.is_none() {
                    return Err(at(
                        o.dynamic_roles.as_ref().map_or(0..0, Spanned::span),
                        "dynamic_roles are read from Better Auth's database: set database_url_env"
                            .into(),
                    ));
                }
                let cache_ttl = match &o.cache_ttl_secs {
                    None => defaults.cache_ttl,
                    Some(secs) if *secs.get_ref() == 0 => {
                        return Err(at(secs.span(), "cache_ttl_secs must not be 0".into()));
                    }
                    Some(secs) => Duration::from_secs(*secs.get_ref()),
                };
                OrganizationsConfig {
                    id_claim: o.id_claim.clone().unwrap_or(defaults.id_claim),
                    role_claim: o.role_claim.clone().unwrap_or(defaults.role_claim),
                    roles,
                    database_url,
                    dynamic_roles,
                    cache_ttl,
                }
            }
        };
        let metrics_listen = match &file.metrics_listen {
            None => None,
            Some(l) => Some(
                l.get_ref()
                    .parse::<SocketAddr>()
                    .map_err(|e| at(l.span(), format!("metrics_listen: {e}")))?,
            ),
        };
        let (mcp_entries, public) = (&file.mcp, public_url.as_deref());
        let mcp =
            super::mcp::mcp_from_file(mcp_entries, public, upstream.is_some(), &issuers, &at)?;
        Ok(Config {
            metrics_listen: metrics_from_env(&get, metrics_listen)?,
            limits,
            public_url,
            trusted_proxies,
            front: front_from_env(&get, front)?,
            listen: listen_from_env(&get, listen_default)?,
            upstream,
            upstream_timeout: Duration::from_secs(file.upstream_timeout_secs.unwrap_or(30)),
            forward_authorization: file.forward_authorization,
            forward_credential_cookie: file.forward_credential_cookie,
            dpop_required: file.dpop_required,
            realm: file.realm.unwrap_or_else(|| "ssoguard".into()),
            resource: file.resource,
            shared: shared_from_file(file.shared.as_ref(), env)?,
            issuers,
            headers,
            routes,
            organizations,
            mcp,
        })
    }
}

/// True for a Better Auth session or API-key issuer (not a token issuer).
fn is_better_auth(fi: &FileIssuer) -> bool {
    use crate::sessions::KIND;
    fi.kind
        .as_ref()
        .is_some_and(|k| k.get_ref() == KIND || k.get_ref() == crate::api_keys::KIND)
}

/// The issuer of an `[[issuer]]` table of kind `better-auth-session` or `better-auth-api-key`;
/// `None` for a token issuer.
fn better_auth_issuer(
    fi: &FileIssuer,
    earlier: &[IssuerConfig],
    env: &impl Fn(&str) -> Option<String>,
    at: &impl Fn(Range<usize>, String) -> ConfigError,
) -> Result<Option<IssuerConfig>, ConfigError> {
    use crate::sessions::KIND;
    let Some(kind) = &fi.kind else {
        return Ok(None);
    };
    match kind.get_ref().as_str() {
        "jwt" => return Ok(None),
        KIND => {}
        crate::api_keys::KIND => return api_key_issuer(fi, earlier, at).map(Some),
        other => {
            return Err(at(
                kind.span(),
                format!(
                    "kind {other:?}: use \"jwt\", \"{KIND}\" or \"{}\"",
                    crate::api_keys::KIND
                ),
            ));
        }
    }
    let name = fi.name.get_ref();
    if fi.issuer.is_some()
        || fi.jwks_url.is_some()
        || fi.introspection.is_some()
        || fi.cookie.is_some()
        || fi.header.is_some()
        || !fi.audiences.is_empty()
    {
        return Err(at(
            kind.span(),
            format!(
                "issuer {name:?} ({KIND}) takes authority, secret_env, cache_ttl_secs and cookie_prefix only"
            ),
        ));
    }
    if earlier.iter().any(|i| i.session.is_some()) {
        return Err(at(
            kind.span(),
            format!("only one {KIND} issuer is allowed"),
        ));
    }
    let authority = fi.authority.clone().ok_or_else(|| {
        at(
            fi.name.span(),
            format!("issuer {name:?} ({KIND}) needs `authority`: Better Auth's origin"),
        )
    })?;
    let secret_env = fi.secret_env.as_ref().ok_or_else(|| {
        at(
            fi.name.span(),
            format!(
                "issuer {name:?} ({KIND}) needs `secret_env`: the variable holding Better Auth's secret"
            ),
        )
    })?;
    let var = secret_env.get_ref();
    let value = env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
        at(
            secret_env.span(),
            format!("secret_env: the variable {var} is not set"),
        )
    })?;
    let secret = SessionSecret::new(value)
        .map_err(|e| at(secret_env.span(), format!("secret_env: {var}: {e}")))?;
    let cache_ttl = Duration::from_secs(fi.cache_ttl_secs.unwrap_or(30));
    if cache_ttl.is_zero() {
        return Err(at(fi.name.span(), "cache_ttl_secs must not be 0".into()));
    }
    Ok(Some(IssuerConfig {
        session: Some(SessionIssuer {
            secret,
            cache_ttl,
            cookie_prefix: fi
                .cookie_prefix
                .clone()
                .unwrap_or_else(|| DEFAULT_COOKIE_PREFIX.into()),
        }),
        ..IssuerConfig::better_auth(name.clone(), authority)
    }))
}

/// The issuer of an `[[issuer]]` table of kind `better-auth-api-key`.
fn api_key_issuer(
    fi: &FileIssuer,
    earlier: &[IssuerConfig],
    at: &impl Fn(Range<usize>, String) -> ConfigError,
) -> Result<IssuerConfig, ConfigError> {
    use crate::api_keys::KIND;
    let name = fi.name.get_ref();
    let span = fi.kind.as_ref().map_or(fi.name.span(), |k| k.span());
    if fi.issuer.is_some()
        || fi.jwks_url.is_some()
        || fi.introspection.is_some()
        || fi.cookie.is_some()
        || !fi.audiences.is_empty()
        || fi.secret_env.is_some()
        || fi.cookie_prefix.is_some()
    {
        return Err(at(
            span,
            format!("issuer {name:?} ({KIND}) takes authority, header and cache_ttl_secs only"),
        ));
    }
    if earlier.iter().any(|i| i.api_key.is_some()) {
        return Err(at(span, format!("only one {KIND} issuer is allowed")));
    }
    let authority = fi.authority.clone().ok_or_else(|| {
        at(
            fi.name.span(),
            format!("issuer {name:?} ({KIND}) needs `authority`: Better Auth's origin"),
        )
    })?;
    let header = fi.header.as_ref().map_or_else(
        || "x-api-key".to_owned(),
        |h| h.get_ref().to_ascii_lowercase(),
    );
    if axum::http::HeaderName::from_bytes(header.as_bytes()).is_err() {
        let span = fi.header.as_ref().map_or(fi.name.span(), |h| h.span());
        return Err(at(span, format!("{header:?} is not a header name")));
    }
    let cache_ttl = Duration::from_secs(fi.cache_ttl_secs.unwrap_or(30));
    if cache_ttl.is_zero() {
        return Err(at(fi.name.span(), "cache_ttl_secs must not be 0".into()));
    }
    let issuer = IssuerConfig {
        api_key: Some(ApiKeyIssuer { header, cache_ttl }),
        ..IssuerConfig::better_auth(name.clone(), authority)
    };
    // Checked here, so an http authority off loopback is refused with its line.
    crate::api_keys::verifier(
        name,
        issuer.authority.as_deref().unwrap_or_default(),
        issuer.api_key.as_ref().expect("set above"),
        None,
    )
    .map_err(|e| at(fi.name.span(), e))?;
    Ok(issuer)
}

/// The shared settings from the file's `[shared]` and the environment: at most one of them may
/// name the Redis.
pub(super) fn shared_from_file(
    file: Option<&FileShared>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<SharedConfig>, ConfigError> {
    let from_env = env(REDIS_URL_VAR).filter(|v| !v.trim().is_empty());
    let from_file = file.and_then(|f| f.redis_url.as_deref());
    match (from_file, from_env) {
        (Some(_), Some(_)) => Err(ConfigError(format!(
            "[shared] redis_url and {REDIS_URL_VAR} are both set: set one of them"
        ))),
        (Some(url), None) => shared_config(url, "[shared] redis_url").map(Some),
        (None, Some(url)) => shared_config(&url, REDIS_URL_VAR).map(Some),
        (None, None) => Ok(None),
    }
}
