//! The gateway's configuration: one TOML file (`GATEWAY_CONFIG=path`), or the environment alone
//! for the single-issuer case with the seed's names.
//!
//! Everything is checked before the gateway starts: an unknown key, two issuers with the same
//! issuer URL or name, a rule naming an unknown issuer, a header mapped onto a hop-by-hop or
//! otherwise reserved header, a bad glob or method is refused with a message that names the file
//! and line. A secret never sits in the file: `client_secret_env` names the variable holding it.
//!
//! One file per source: this module holds the settings' types and [`ConfigError`]; `file` reads
//! the TOML file ([`Config::from_file`], [`Config::from_toml`]); `env` the environment alone
//! ([`Config::from_env`]) and chooses between the two ([`Config::load`]); `checks` holds what
//! both apply (URL checks, the variables that override the file).

mod checks;
mod env;
mod file;
mod mcp;
#[cfg(test)]
mod tests;

use crate::front::Front;
use std::net::SocketAddr;
use std::time::Duration;

/// The reserved prefix of the gateway's own endpoints (never forwarded upstream).
pub const RESERVED_PREFIX: &str = "/_ssoguard/";

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
    /// Refuse bearer tokens: every token must be DPoP-bound and sent with its proof
    /// (`dpop_required`, `DPOP_REQUIRED`). Default false (bearer and DPoP both accepted).
    pub dpop_required: bool,
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
    /// How organization rules read tokens (`[organizations]`).
    pub organizations: OrganizationsConfig,
    /// MCP servers behind the gateway (`[[mcp]]`): their endpoint paths are decided by these,
    /// not by the `[[route]]` rules.
    pub mcp: Vec<McpConfig>,
}

/// One `[[mcp]]`: an MCP endpoint protected as an OAuth resource (reverse-proxy mode).
#[derive(Debug, Clone)]
pub struct McpConfig {
    /// The endpoint's path, exactly (`/mcp`).
    pub path: String,
    /// The resource URL: the audience its tokens carry (RFC 8707).
    pub resource: String,
    /// The token issuer (name) whose tokens are accepted; `None`: the first token issuer.
    pub issuer: Option<String>,
    /// Scopes every request needs.
    pub every_request: Vec<String>,
    /// Scopes of a tool not listed in `tools`; `None`: every scope named in `tools`.
    pub other_tools: Option<Vec<String>>,
    /// Tool name → the scopes it needs.
    pub tools: Vec<(String, Vec<String>)>,
}

/// `[organizations]`: the claims organization rules read, the roles' statements, and where
/// memberships are looked up.
#[derive(Clone)]
pub struct OrganizationsConfig {
    /// The claim naming the token's organization (`id_claim`). Default `org_id`.
    pub id_claim: String,
    /// The claim holding the member's roles there (`role_claim`). Default `org_role`.
    pub role_claim: String,
    /// The roles (`roles`, a table of role → resource → actions, replacing the default):
    /// Better Auth's default roles `owner`, `admin`, `member` unless given.
    pub roles: ssoguard::organization::AccessControl,
    /// Better Auth's database (from the variable `database_url_env` names): memberships and
    /// roles are looked up there, read-only, instead of read from the token's role claim.
    /// None: memberships from claims.
    pub database_url: Option<String>,
    /// `dynamic_roles`: Better Auth's dynamic access control is on (`organizationRole` read).
    pub dynamic_roles: bool,
    /// `cache_ttl_secs`: longest a looked-up membership is reused. Default 30 s.
    pub cache_ttl: Duration,
}

impl std::fmt::Debug for OrganizationsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The database URL may hold a password.
        f.debug_struct("OrganizationsConfig")
            .field("id_claim", &self.id_claim)
            .field("role_claim", &self.role_claim)
            .field("roles", &self.roles)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "[redacted]"),
            )
            .field("dynamic_roles", &self.dynamic_roles)
            .field("cache_ttl", &self.cache_ttl)
            .finish()
    }
}

impl Default for OrganizationsConfig {
    fn default() -> Self {
        OrganizationsConfig {
            id_claim: "org_id".into(),
            role_claim: "org_role".into(),
            roles: ssoguard::organization::AccessControl::default(),
            database_url: None,
            dynamic_roles: false,
            cache_ttl: Duration::from_secs(30),
        }
    }
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
    /// At least one of these roles in the token's organization (`organization_roles_any`).
    pub organization_roles_any: Vec<String>,
    /// Every one of these permissions (`task:delete`) in the token's organization
    /// (`organization_permissions`).
    pub organization_permissions: Vec<ssoguard::organization::Permission>,
    /// The path segment (1-based) naming the organization (`organization_segment`): the
    /// token's organization must be that one.
    pub organization_segment: Option<usize>,
}

impl RouteConfig {
    /// True when the rule asks anything of the token's organization.
    #[must_use]
    pub fn needs_organization(&self) -> bool {
        !self.organization_roles_any.is_empty()
            || !self.organization_permissions.is_empty()
            || self.organization_segment.is_some()
    }
}

/// A configuration that cannot be used, with where it is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The default identity headers (oauth2-proxy's names) and their claims.
pub const DEFAULT_HEADERS: [(&str, &str); 4] = [
    ("x-auth-request-user", "sub"),
    ("x-auth-request-email", "email"),
    ("x-auth-request-roles", "roles"),
    ("x-auth-request-issuer", "iss"),
];

fn default_headers() -> Vec<(String, String)> {
    DEFAULT_HEADERS
        .iter()
        .map(|(h, c)| ((*h).to_string(), (*c).to_string()))
        .collect()
}
