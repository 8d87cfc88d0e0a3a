//! The gateway's configuration: one TOML file (`GATEWAY_CONFIG=path`), or the environment alone
//! for the single-issuer case with the seed's names.
//!
//! Everything is checked before the gateway starts: an unknown key, two issuers with the same
//! issuer URL or name, a rule naming an unknown issuer, a header mapped onto a hop-by-hop or
//! otherwise reserved header, a bad glob or method is refused with a message that names the file
//! and line. A secret never sits in the file: `client_secret_env` names the variable holding it.

use crate::front::Front;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// The reserved prefix of the gateway's own endpoints (never forwarded upstream).
pub const RESERVED_PREFIX: &str = "/_ssoguard/";

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

/// The gateway's settings, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen. Default `127.0.0.1:4180` (`HOST`/`PORT`, or `listen`).
    pub listen: SocketAddr,
    /// A separate listener for `/_ssoguard/metrics` and `/_ssoguard/health` (`metrics_listen`,
    /// `METRICS_LISTEN`). In reverse-proxy mode metrics are served there only (the main port
    /// faces clients); in forward-auth-only mode also on the main port.
    pub metrics_listen: Option<SocketAddr>,
    /// Reverse-proxy target (`upstream`, `UPSTREAM_URL`). None = forward-auth only.
    pub upstream: Option<String>,
    /// Longest wait for the upstream's response head before a 504. Default 30 s.
    pub upstream_timeout: Duration,
    /// Connection limits (`header_read_timeout_secs`, `max_connections`); defaults in
    /// [`crate::Limits`].
    pub limits: crate::Limits,
    /// Forward the client's `Authorization` header upstream. Default false (stripped).
    pub forward_authorization: bool,
    /// Forward the cookies that carry a credential (issuer `cookie`s, Better Auth's session
    /// cookies) upstream. Default false (removed from `Cookie`).
    pub forward_credential_cookie: bool,
    /// The proxy in front in forward-auth mode (`front`, `GATEWAY_FRONT`): the one header set
    /// the original request is read from. Default [`Front::Nginx`].
    pub front: Front,
    /// The realm of `WWW-Authenticate`. Default `ssoguard`.
    pub realm: String,
    /// RFC 9728 resource identifier; default: [`Config::public_url`], else the origin
    /// described below.
    pub resource: Option<String>,
    /// The gateway's public origin (`public_url`, `PUBLIC_URL`: `https://api.example`): every
    /// absolute URL it writes (RFC 9728 `resource`, `resource_metadata`) and the scheme it
    /// states upstream (`X-Forwarded-Proto`). Unset: the front's `X-Forwarded-Proto`/`-Host`
    /// in forward-auth mode, a trusted proxy's in reverse-proxy mode, else `http://` and the
    /// gateway's own address, never a client's `Host` or `X-Forwarded-*`.
    pub public_url: Option<String>,
    /// Peers whose `X-Forwarded-For`/`-Host`/`-Proto` the reverse proxy believes
    /// (`trusted_proxies`, `TRUSTED_PROXIES` comma-separated IPs). Default: none.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Revocations and DPoP replay shared with the other instances through Redis (`[shared]`,
    /// `SSOGUARD_REDIS_URL`; [`crate::shared`]). Default: none, kept in process.
    pub shared: Option<crate::shared::SharedConfig>,
    /// The issuers, in order.
    pub issuers: Vec<IssuerConfig>,
    /// Identity headers: header name (lower case) → claim path, defaults first.
    pub headers: Vec<(String, String)>,
    /// The rules, in order; first match wins, no match = refused.
    pub routes: Vec<RouteConfig>,
}

/// One `[[issuer]]`.
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    /// A name rules refer to.
    pub name: String,
    /// The exact issuer (`iss`). Required with several issuers; else discovered.
    pub issuer: Option<String>,
    /// Origin or issuer URL for discovery (`AUTH_SERVER_URL`).
    pub authority: Option<String>,
    /// Explicit JWKS URL (`JWKS_URL`).
    pub jwks_url: Option<String>,
    /// Accepted audiences (`SSO_CLIENT_ID`, comma-separated).
    pub audiences: Vec<String>,
    /// Cookie that may carry the token (`AUTH_COOKIE_NAME`).
    pub cookie: Option<String>,
    /// Opaque tokens through introspection: (client id, secret).
    pub introspection: Option<(String, String)>,
    /// `kind = "better-auth-session"`: Better Auth's session cookie instead of tokens
    /// ([`crate::sessions`]).
    pub session: Option<crate::sessions::SessionIssuer>,
    /// `kind = "better-auth-api-key"`: Better Auth API keys ([`crate::api_keys`]).
    pub api_key: Option<crate::api_keys::ApiKeyIssuer>,
}

impl IssuerConfig {
    /// A Better Auth issuer reached at `authority` (session cookies, API keys): no token
    /// settings; the caller sets its `session` or `api_key`.
    pub(crate) fn better_auth(name: String, authority: String) -> Self {
        IssuerConfig {
            name,
            issuer: None,
            authority: Some(authority),
            jwks_url: None,
            audiences: Vec::new(),
            cookie: None,
            introspection: None,
            session: None,
            api_key: None,
        }
    }
}

/// One `[[route]]`.
#[derive(Debug, Clone)]
pub struct RouteConfig {
    /// A path prefix (matched on `/` boundaries) or a glob (`*` within a segment, `**` across).
    pub path: String,
    /// Methods (upper case); empty = all.
    pub methods: Vec<String>,
    /// No token needed.
    pub public: bool,
    /// At least one of these roles.
    pub roles_any: Vec<String>,
    /// Every one of these roles.
    pub roles_all: Vec<String>,
    /// Every one of these scopes.
    pub scopes: Vec<String>,
    /// Only tokens of these issuers (names); empty = any.
    pub issuers: Vec<String>,
}

/// A configuration that cannot be used, with where it is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

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
    front: Option<Spanned<String>>,
    realm: Option<String>,
    resource: Option<String>,
    public_url: Option<Spanned<String>>,
    #[serde(default)]
    trusted_proxies: Vec<Spanned<String>>,
    shared: Option<crate::shared::FileShared>,
    #[serde(default)]
    issuer: Vec<FileIssuer>,
    #[serde(default)]
    headers: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    route: Vec<FileRoute>,
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
}

/// The default identity headers (oauth2-proxy's names) and their claims.
pub const DEFAULT_HEADERS: [(&str, &str); 4] = [
    ("x-auth-request-user", "sub"),
    ("x-auth-request-email", "email"),
    ("x-auth-request-roles", "roles"),
    ("x-auth-request-issuer", "iss"),
];

impl Config {
    /// `GATEWAY_CONFIG` set: the file; otherwise the environment alone.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the variable, or the file and line, that is wrong.
    pub fn load(env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        match env("GATEWAY_CONFIG").filter(|p| !p.is_empty()) {
            Some(path) => Self::from_file(Path::new(&path), &env),
            None => Self::from_env(&env),
        }
    }

    /// The single-issuer case from the seed's variables; every path needs a valid token.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for a missing `SSO_CLIENT_ID` or a bad `HOST`/`PORT`.
    pub fn from_env(env: &impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |k: &str| {
            env(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let audiences: Vec<String> = get("SSO_CLIENT_ID")
            .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default();
        if audiences.iter().all(String::is_empty) {
            return Err(ConfigError(
                "SSO_CLIENT_ID is not set: the client id(s) tokens are issued for".into(),
            ));
        }
        let introspection = get("SSO_CLIENT_SECRET").map(|s| (audiences[0].clone(), s));
        let issuer = IssuerConfig {
            name: "default".into(),
            issuer: get("SSO_ISSUER"),
            authority: Some(
                get("AUTH_SERVER_URL").unwrap_or_else(|| "http://localhost:3001".into()),
            ),
            jwks_url: get("JWKS_URL"),
            audiences,
            cookie: get("AUTH_COOKIE_NAME"),
            introspection,
            session: None,
            api_key: None,
        };
        let mut issuers = vec![issuer];
        issuers.extend(crate::sessions::from_env(&get)?);
        let config = Config {
            listen: listen_from_env(&get, None)?,
            metrics_listen: metrics_from_env(&get, None)?,
            upstream: get("UPSTREAM_URL"),
            upstream_timeout: Duration::from_secs(30),
            limits: crate::Limits::default(),
            forward_authorization: false,
            forward_credential_cookie: false,
            front: front_from_env(&get, Front::default())?,
            realm: "ssoguard".into(),
            resource: None,
            public_url: match get("PUBLIC_URL") {
                None => None,
                Some(u) => Some(
                    check_public_url(&u).map_err(|e| ConfigError(format!("PUBLIC_URL: {e}")))?,
                ),
            },
            trusted_proxies: trusted_from_env(&get, Vec::new())?,
            shared: crate::shared::from_env(&get)?,
            issuers,
            headers: default_headers(),
            routes: vec![RouteConfig {
                path: "/".into(),
                methods: Vec::new(),
                public: false,
                roles_any: Vec::new(),
                roles_all: Vec::new(),
                scopes: Vec::new(),
                issuers: Vec::new(),
            }],
        };
        if let Some(upstream) = &config.upstream {
            check_upstream(upstream).map_err(|e| ConfigError(format!("UPSTREAM_URL: {e}")))?;
        }
        Ok(config)
    }

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
        let several = file
            .issuer
            .iter()
            .filter(|i| !crate::sessions::is_better_auth(i))
            .count()
            > 1;
        let mut issuers: Vec<IssuerConfig> = Vec::new();
        for fi in &file.issuer {
            let name = fi.name.get_ref().clone();
            if issuers.iter().any(|i| i.name == name) {
                return Err(at(
                    fi.name.span(),
                    format!("issuer name {name:?} is used twice"),
                ));
            }
            if let Some(session) = crate::sessions::from_file(fi, &issuers, env, &at)? {
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
            if public
                && (!fr.roles_any.is_empty()
                    || !fr.roles_all.is_empty()
                    || !fr.scopes.is_empty()
                    || !fr.issuers.is_empty())
            {
                return Err(at(
                    fr.public.as_ref().map_or(fr.path.span(), Spanned::span),
                    "a public route cannot also require roles, scopes or issuers".into(),
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
        let metrics_listen = match &file.metrics_listen {
            None => None,
            Some(l) => Some(
                l.get_ref()
                    .parse::<SocketAddr>()
                    .map_err(|e| at(l.span(), format!("metrics_listen: {e}")))?,
            ),
        };
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
            realm: file.realm.unwrap_or_else(|| "ssoguard".into()),
            resource: file.resource,
            shared: crate::shared::from_file(file.shared.as_ref(), env)?,
            issuers,
            headers,
            routes,
        })
    }
}

fn default_headers() -> Vec<(String, String)> {
    DEFAULT_HEADERS
        .iter()
        .map(|(h, c)| ((*h).to_string(), (*c).to_string()))
        .collect()
}

fn listen_from_env(
    get: &impl Fn(&str) -> Option<String>,
    default: Option<SocketAddr>,
) -> Result<SocketAddr, ConfigError> {
    let default = default.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 4180)));
    let host = match get("HOST") {
        None => default.ip(),
        Some(h) => h
            .parse()
            .map_err(|_| ConfigError(format!("HOST {h:?} is not an IP address")))?,
    };
    let port = match get("PORT") {
        None => default.port(),
        Some(p) => p
            .parse()
            .map_err(|_| ConfigError(format!("PORT {p:?} is not a port number")))?,
    };
    Ok(SocketAddr::new(host, port))
}

/// `METRICS_LISTEN` (`ip:port`) when set, else `default`.
fn metrics_from_env(
    get: &impl Fn(&str) -> Option<String>,
    default: Option<SocketAddr>,
) -> Result<Option<SocketAddr>, ConfigError> {
    match get("METRICS_LISTEN") {
        None => Ok(default),
        Some(a) => a
            .parse()
            .map(Some)
            .map_err(|_| ConfigError(format!("METRICS_LISTEN {a:?} is not an ip:port address"))),
    }
}

/// `TRUSTED_PROXIES` (comma-separated IPs) when set, else `default`.
fn trusted_from_env(
    get: &impl Fn(&str) -> Option<String>,
    default: Vec<std::net::IpAddr>,
) -> Result<Vec<std::net::IpAddr>, ConfigError> {
    match get("TRUSTED_PROXIES") {
        None => Ok(default),
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse().map_err(|_| {
                    ConfigError(format!("TRUSTED_PROXIES: {s:?} is not an IP address"))
                })
            })
            .collect(),
    }
}

/// An `http(s)://host[:port]` origin, without a trailing slash.
fn check_public_url(url: &str) -> Result<String, String> {
    let uri: axum::http::Uri = url.trim().parse().map_err(|e| format!("{url:?}: {e}"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
        return Err(format!("{url:?} is not an http:// or https:// origin"));
    }
    if uri.path() != "/" && !uri.path().is_empty() || uri.query().is_some() {
        return Err(format!(
            "{url:?}: a public URL is an origin, without a path"
        ));
    }
    Ok(url.trim().trim_end_matches('/').to_string())
}

/// `GATEWAY_FRONT` when set, else `default` (the file's `front`).
fn front_from_env(
    get: &impl Fn(&str) -> Option<String>,
    default: Front,
) -> Result<Front, ConfigError> {
    match get("GATEWAY_FRONT") {
        None => Ok(default),
        Some(f) => f
            .parse()
            .map_err(|e| ConfigError(format!("GATEWAY_FRONT: {e}"))),
    }
}

fn check_upstream(url: &str) -> Result<(), String> {
    let uri: axum::http::Uri = url.parse().map_err(|e| format!("{url:?}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("{url:?}: only http:// upstreams are supported"));
    }
    if uri.host().is_none() {
        return Err(format!("{url:?} has no host"));
    }
    if uri.path() != "/" && !uri.path().is_empty() {
        return Err(format!("{url:?}: an upstream is an origin, without a path"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(text: &str) -> Result<Config, String> {
        Config::from_toml(text, "gw.toml", &no_env).map_err(|e| e.0)
    }

    const BASE: &str = r#"
[[issuer]]
name = "main"
issuer = "http://127.0.0.1:3001/api/auth"
audiences = ["rust-backend"]

[[route]]
path = "/"
"#;

    #[test]
    fn minimal_file() {
        let c = parse(BASE).expect("valid");
        assert_eq!(c.listen.to_string(), "127.0.0.1:4180");
        assert_eq!(c.headers.len(), 4);
        assert!(c.upstream.is_none());
    }

    #[test]
    fn bad_files_name_the_line() {
        let cases = [
            (
                format!("{BASE}\nbogus = 1\n"),
                "line 10",
                "unknown field `bogus`",
            ),
            (
                format!(
                    "{BASE}\n[[issuer]]\nname = \"two\"\nissuer = \"http://127.0.0.1:3001/api/auth\"\naudiences = [\"x\"]\n"
                ),
                "line 12",
                "overlaps",
            ),
            (
                format!("{BASE}issuers = [\"nope\"]\n"),
                "line 9",
                "unknown issuer \"nope\"",
            ),
            (
                format!("{BASE}\n[headers]\n\"Transfer-Encoding\" = \"sub\"\n"),
                "line 11",
                "hop-by-hop",
            ),
            (
                format!("{BASE}\n[headers]\n\"Connection\" = \"sub\"\n"),
                "line 11",
                "hop-by-hop",
            ),
            (
                format!("{BASE}methods = [\"G T\"]\n"),
                "line 9",
                "not an HTTP method",
            ),
            (
                format!("{BASE}public = true\nroles_any = [\"a\"]\n"),
                "line 9",
                "public route",
            ),
            (
                format!("{BASE}public = true\nauthenticated = true\n"),
                "line 10",
                "not both",
            ),
            (
                format!("{BASE}authenticated = false\n"),
                "line 9",
                "neither to false",
            ),
            (
                format!(
                    "{BASE}\n[[issuer]]\nname = \"main\"\nissuer = \"http://x/api/auth\"\naudiences = [\"x\"]\n"
                ),
                "line 11",
                "used twice",
            ),
        ];
        for (text, line, message) in cases {
            let err = parse(&text).expect_err(message);
            assert!(err.starts_with(&format!("gw.toml {line}: ")), "{err}");
            assert!(err.contains(message), "{err}");
        }
        assert!(
            parse("[[issuer]]\nname=\"a\"\nissuer=\"http://a\"\naudiences=[\"x\"]\n")
                .expect_err("no routes")
                .contains("default deny")
        );
    }

    #[test]
    fn front_limits_urls_and_listeners() {
        let c = parse(BASE).expect("valid");
        assert_eq!(c.front, Front::Nginx);
        assert_eq!(c.limits, crate::Limits::default());
        assert!(c.public_url.is_none() && c.trusted_proxies.is_empty());
        assert!(c.metrics_listen.is_none() && !c.forward_credential_cookie);
        let c = parse(&format!(
            "front = \"Caddy\"\nheader_read_timeout_secs = 3\nmax_connections = 7\n\
             public_url = \"https://api.example/\"\ntrusted_proxies = [\"10.0.0.1\", \"::1\"]\n\
             metrics_listen = \"127.0.0.1:9464\"\nforward_credential_cookie = true\n{BASE}"
        ))
        .expect("valid");
        assert_eq!(c.front, Front::Caddy);
        assert_eq!(c.limits.header_read_timeout, Duration::from_secs(3));
        assert_eq!(c.limits.max_connections, 7);
        assert_eq!(c.public_url.as_deref(), Some("https://api.example"));
        assert_eq!(c.trusted_proxies.len(), 2);
        assert_eq!(c.metrics_listen.map(|a| a.port()), Some(9464));
        assert!(c.forward_credential_cookie);
        for (top, message) in [
            (
                "front = \"envoy\"",
                "not one of nginx, caddy, traefik, generic",
            ),
            ("header_read_timeout_secs = 0", "at least 1"),
            ("max_connections = 0", "at least 1"),
            ("public_url = \"https://api.example/app\"", "without a path"),
            ("public_url = \"ftp://x\"", "not an http"),
            ("trusted_proxies = [\"10.0.0.0/8\"]", "not an IP address"),
            ("metrics_listen = \"nope\"", "metrics_listen"),
        ] {
            let err = parse(&format!("{top}\n{BASE}")).expect_err(message);
            assert!(err.starts_with("gw.toml line 1: "), "{err}");
            assert!(err.contains(message), "{err}");
        }
        // The environment wins over the file.
        let env = |k: &str| match k {
            "GATEWAY_FRONT" => Some("traefik".to_string()),
            "TRUSTED_PROXIES" => Some("127.0.0.1, ::1".to_string()),
            "PUBLIC_URL" => Some("http://gw.example:8080".to_string()),
            _ => None,
        };
        let c = Config::from_toml(&format!("front = \"nginx\"\n{BASE}"), "gw.toml", &env)
            .expect("valid");
        assert_eq!(c.front, Front::Traefik);
        assert_eq!(c.trusted_proxies.len(), 2);
        assert_eq!(c.public_url.as_deref(), Some("http://gw.example:8080"));
        let bad = |k: &str| (k == "GATEWAY_FRONT").then(|| "apache".to_string());
        assert!(Config::from_toml(BASE, "gw.toml", &bad).is_err());
    }

    #[test]
    fn authenticated_is_the_explicit_default() {
        let c = parse(&format!("{BASE}authenticated = true\n")).expect("valid");
        assert!(!c.routes[0].public);
        let implicit = parse(BASE).expect("valid");
        assert_eq!(c.routes[0].public, implicit.routes[0].public);
    }

    #[test]
    fn headers_map_claims_and_override_defaults() {
        let c = parse(&format!(
            "{BASE}\n[headers]\n\"X-Org-Role\" = \"org.role\"\n\"X-Auth-Request-Email\" = \"mail\"\n"
        ))
        .expect("valid");
        assert!(
            c.headers
                .contains(&("x-org-role".into(), "org.role".into()))
        );
        assert!(
            c.headers
                .contains(&("x-auth-request-email".into(), "mail".into()))
        );
        assert_eq!(c.headers.len(), 5);
    }

    #[test]
    fn environment_alone() {
        let env = |k: &str| match k {
            "SSO_CLIENT_ID" => Some("rust-backend".to_string()),
            "UPSTREAM_URL" => Some("http://127.0.0.1:9000".to_string()),
            "PORT" => Some("0".to_string()),
            "AUTH_COOKIE_NAME" => Some("tok".to_string()),
            _ => None,
        };
        let c = Config::load(env).expect("valid");
        assert_eq!(c.listen.to_string(), "127.0.0.1:0");
        assert_eq!(c.upstream.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(c.issuers[0].cookie.as_deref(), Some("tok"));
        assert_eq!(c.routes.len(), 1);
        assert!(!c.routes[0].public);
        let err = Config::load(no_env).expect_err("no client id");
        assert!(err.0.contains("SSO_CLIENT_ID"));
        let bad = |k: &str| match k {
            "SSO_CLIENT_ID" => Some("x".to_string()),
            "UPSTREAM_URL" => Some("https://a/b".to_string()),
            _ => None,
        };
        assert!(
            Config::load(bad)
                .expect_err("https")
                .0
                .contains("UPSTREAM_URL")
        );
    }
}
