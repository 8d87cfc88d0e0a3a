//! The configuration from the environment alone (the single-issuer case with the seed's names),
//! and the choice between it and the file (`GATEWAY_CONFIG`).

use super::checks::{
    check_public_url, check_upstream, front_from_env, listen_from_env, metrics_from_env,
    shared_config, trusted_from_env,
};
use super::{Config, ConfigError, IssuerConfig, RouteConfig, default_headers};
use crate::front::Front;
use crate::sessions::SessionIssuer;
use crate::shared::{REDIS_URL_VAR, SharedConfig};
use ssoguard::session::{DEFAULT_COOKIE_PREFIX, SessionSecret};
use std::path::Path;
use std::time::Duration;

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
        issuers.extend(session_from_env(&get)?);
        let config = Config {
            listen: listen_from_env(&get, None)?,
            metrics_listen: metrics_from_env(&get, None)?,
            upstream: get("UPSTREAM_URL"),
            upstream_timeout: Duration::from_secs(30),
            limits: crate::Limits::default(),
            forward_authorization: false,
            forward_credential_cookie: false,
            dpop_required: match get("DPOP_REQUIRED").as_deref() {
                None | Some("0" | "false") => false,
                Some("1" | "true") => true,
                Some(other) => {
                    return Err(ConfigError(format!(
                        "DPOP_REQUIRED: {other:?} (use 1 or 0)"
                    )));
                }
            },
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
            shared: shared_from_env(&get)?,
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
                organization_roles_any: Vec::new(),
                organization_permissions: Vec::new(),
                organization_segment: None,
            }],
            organizations: super::OrganizationsConfig::default(),
            mcp: Vec::new(),
        };
        if let Some(upstream) = &config.upstream {
            check_upstream(upstream).map_err(|e| ConfigError(format!("UPSTREAM_URL: {e}")))?;
        }
        Ok(config)
    }
}

/// `BETTER_AUTH_SECRET` set: a session issuer `session` for `AUTH_SERVER_URL`.
fn session_from_env(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<IssuerConfig>, ConfigError> {
    let Some(value) = get("BETTER_AUTH_SECRET") else {
        return Ok(None);
    };
    let secret =
        SessionSecret::new(value).map_err(|e| ConfigError(format!("BETTER_AUTH_SECRET: {e}")))?;
    let authority = get("AUTH_SERVER_URL").unwrap_or_else(|| "http://localhost:3001".into());
    Ok(Some(IssuerConfig {
        session: Some(SessionIssuer {
            secret,
            cache_ttl: Duration::from_secs(30),
            cookie_prefix: get("BETTER_AUTH_COOKIE_PREFIX")
                .unwrap_or_else(|| DEFAULT_COOKIE_PREFIX.into()),
        }),
        ..IssuerConfig::better_auth("session".into(), authority)
    }))
}

/// The shared settings from the environment alone (`SSOGUARD_REDIS_URL`).
pub(super) fn shared_from_env(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<SharedConfig>, ConfigError> {
    get(REDIS_URL_VAR)
        .map(|url| shared_config(&url, REDIS_URL_VAR))
        .transpose()
}
