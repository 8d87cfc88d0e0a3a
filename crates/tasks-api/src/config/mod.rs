//! Typed configuration from the environment (and `.env`), with the variable names of the Better
//! Auth SSO integration design (`AUTH_SERVER_URL`, `SSO_CLIENT_ID`, `JWKS_URL`, …).
//!
//! Secrets (`SSO_API_KEY`, the database password) live in [`Secret`], whose `Debug` is redacted,
//! so logging the config never leaks them.

use std::time::Duration;

mod values;

pub use values::{ConfigError, Secret, parse_duration, parse_switch};

/// Log output format (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (default).
    Pretty,
    /// One JSON object per line.
    Json,
}

/// The service configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `AUTH_SERVER_URL`: the SSO origin or issuer. Default `http://localhost:3001`.
    pub auth_server_url: String,
    /// `SSO_ISSUER`: exact issuer; default from discovery.
    pub sso_issuer: Option<String>,
    /// `JWKS_URL`: explicit key-set URL; default from discovery.
    pub jwks_url: Option<String>,
    /// `SSO_CLIENT_ID`: accepted audiences (comma-separated). Required outside dev mode.
    pub sso_client_ids: Vec<String>,
    /// `SSO_CLIENT_SECRET`: the client's secret; when set, opaque access tokens are accepted
    /// through the SSO's introspection endpoint (as the first `SSO_CLIENT_ID`). Optional.
    pub sso_client_secret: Option<Secret>,
    /// `INTROSPECTION_CACHE_TTL` (`60s`): longest an active introspection answer is cached
    /// (also bounded by the token's `exp`); a revoked opaque token is refused after at most this.
    pub introspection_cache_ttl: Option<Duration>,
    /// `INTROSPECTION_MAX_PER_SECOND` (`50`): most introspection calls this process starts per
    /// second; over it (or over the concurrency bound) a token is answered 503 + `Retry-After`.
    pub introspection_max_per_second: Option<u32>,
    /// `INTROSPECTION_MAX_CONCURRENT` (`10`): most introspection calls in progress at once.
    pub introspection_max_concurrent: Option<u32>,
    /// `SSO_ALLOW_HTTP=1`: allow plain http to a non-loopback SSO (a private network you trust).
    /// Default: refused at start; loopback http (`localhost`, `127.0.0.1`, `::1`) is always
    /// allowed.
    pub sso_allow_http: bool,
    /// `SSO_API_KEY`: bearer key for the SSO admin API (M2M). Optional.
    pub sso_api_key: Option<Secret>,
    /// `SSO_ADMIN_USER_PATH`: path template of the SSO's get-user endpoint, relative to the
    /// origin. Default Better Auth's `/api/auth/admin/get-user?id={user_id}`.
    pub sso_admin_user_path: String,
    /// `DATABASE_URL`. Default `sqlite://tasks.db` (created if missing).
    pub database_url: Secret,
    /// `HOST`. Default `127.0.0.1`.
    pub host: String,
    /// `PORT`. Default 8000 (0 picks a free port).
    pub port: u16,
    /// `CORS_ORIGINS` (comma-separated). Default: the auth server's origin and
    /// `http://localhost:3000`, credentials allowed.
    pub cors_origins: Vec<String>,
    /// `AUTH_COOKIE_NAME`: accept the token from this cookie too. Unset: cookies ignored.
    pub auth_cookie_name: Option<String>,
    /// `PUBLIC_URL`: the URL clients reach this service at (`https://api.example.com`, or with
    /// the prefix a proxy strips). DPoP proofs must name it (`htu`); never read from request
    /// headers. Unset: DPoP requests are refused (401), bearer tokens work as before.
    pub public_url: Option<String>,
    /// `DPOP_REQUIRED` (`1`): every token must be DPoP-bound and come with its proof; a bearer
    /// token is refused (401 with the DPoP challenge). Needs `PUBLIC_URL`. Default off: bearer
    /// and DPoP both accepted.
    pub dpop_required: bool,
    /// `BETTER_AUTH_SECRET` and the other `BETTER_AUTH_*` session settings
    /// ([`crate::sessions`]): accept Better Auth's session cookie. Unset: ignored.
    pub sessions: Option<crate::sessions::SessionSettings>,
    /// `JWKS_CACHE_TTL` (`3600`, `1h`, `30m`). Default: the library's 1 h.
    pub jwks_cache_ttl: Option<Duration>,
    /// `JWKS_REFETCH_COOLDOWN` (`30s`): minimum time between unknown-kid refetches and between
    /// retries while the SSO is down. Default: the library's 30 s.
    pub jwks_refetch_cooldown: Option<Duration>,
    /// `LOG_FORMAT`: `pretty` (default) or `json`.
    pub log_format: LogFormat,
    /// `--dev`: run an in-process dev issuer and trust it.
    pub dev: bool,
    /// `DEV_ISSUER_ADDR`: where the dev issuer listens. Default `127.0.0.1:3001`.
    pub dev_issuer_addr: String,
    /// `DEV_KEYS_FILE`: the dev issuer's keys file. Default `.ssoguard/dev-keys.json`.
    pub dev_keys_file: String,
    /// Better Auth API keys: `BETTER_AUTH_API_KEYS` and the variables of [`crate::api_keys`].
    pub api_keys: crate::api_keys::ApiKeySettings,
    /// `SSOGUARD_REDIS_URL` (`redis://…`, `rediss://…`): revocations and DPoP replay shared with
    /// every other instance through this Redis. Unset: both stay in this process.
    pub redis_url: Option<Secret>,
    /// `BETTER_AUTH_ORGANIZATIONS` and the other organization settings
    /// ([`crate::organizations`]): how `/api/orgs/{org_id}/…` checks memberships.
    pub organizations: crate::organizations::OrganizationSettings,
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The origin (`scheme://host[:port]`) of a URL ([`ssoguard::urls::origin_of`]).
#[must_use]
pub fn origin_of(url: &str) -> String {
    ssoguard::urls::origin_of(url).to_string()
}

impl Config {
    /// Reads the process environment (after loading `.env` if present).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the variable at fault.
    pub fn from_env(dev: bool) -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(dev, |name| std::env::var(name).ok())
    }

    /// Reads configuration through `get` (tests pass a map).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the variable at fault.
    pub fn from_lookup(
        dev: bool,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        // A trailing slash (`http://localhost:3001/`) is a typo, not another issuer: the setting
        // is normalised here; tokens' `iss` is still compared exactly.
        let auth_server_url = get("AUTH_SERVER_URL")
            .unwrap_or_else(|| "http://localhost:3001".into())
            .trim()
            .trim_end_matches('/')
            .to_string();
        let sso_client_ids = get("SSO_CLIENT_ID").map(|v| list(&v)).unwrap_or_default();
        if sso_client_ids.is_empty() && !dev {
            return Err(ConfigError::Missing("SSO_CLIENT_ID"));
        }
        let port = match get("PORT") {
            None => 8000,
            Some(p) => p.trim().parse().map_err(|_| ConfigError::Invalid {
                name: "PORT",
                reason: format!("\"{p}\" is not a port number"),
            })?,
        };
        let jwks_cache_ttl = match get("JWKS_CACHE_TTL") {
            None => None,
            Some(v) => Some(parse_duration(&v).filter(|d| !d.is_zero()).ok_or_else(|| {
                ConfigError::Invalid {
                    name: "JWKS_CACHE_TTL",
                    reason: "use seconds or a value like 30m, 1h".into(),
                }
            })?),
        };
        let jwks_refetch_cooldown = match get("JWKS_REFETCH_COOLDOWN") {
            None => None,
            Some(v) => Some(parse_duration(&v).ok_or_else(|| ConfigError::Invalid {
                name: "JWKS_REFETCH_COOLDOWN",
                reason: "use seconds or a value like 30s".into(),
            })?),
        };
        let introspection_cache_ttl = match get("INTROSPECTION_CACHE_TTL") {
            None => None,
            Some(v) => Some(parse_duration(&v).ok_or_else(|| ConfigError::Invalid {
                name: "INTROSPECTION_CACHE_TTL",
                reason: "use seconds or a value like 60s".into(),
            })?),
        };
        let count = |name: &'static str| -> Result<Option<u32>, ConfigError> {
            get(name)
                .map(|v| {
                    v.trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| ConfigError::Invalid {
                            name,
                            reason: format!("\"{v}\" is not a positive whole number"),
                        })
                })
                .transpose()
        };
        let introspection_max_per_second = count("INTROSPECTION_MAX_PER_SECOND")?;
        let introspection_max_concurrent = count("INTROSPECTION_MAX_CONCURRENT")?;
        let switch = |name: &'static str| parse_switch(name, get(name).as_deref());
        let sso_allow_http = switch("SSO_ALLOW_HTTP")?;
        let dpop_required = switch("DPOP_REQUIRED")?;
        let public_url = get("PUBLIC_URL");
        if dpop_required && public_url.is_none() {
            return Err(ConfigError::Invalid {
                name: "DPOP_REQUIRED",
                reason: "needs PUBLIC_URL, the URL DPoP proofs name".into(),
            });
        }
        let log_format = match get("LOG_FORMAT")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "LOG_FORMAT",
                    reason: format!("\"{other}\" (use pretty or json)"),
                });
            }
        };
        let cors_origins = get("CORS_ORIGINS").map(|v| list(&v)).unwrap_or_else(|| {
            vec![
                origin_of(&auth_server_url),
                "http://localhost:3000".to_string(),
            ]
        });
        let api_keys = crate::api_keys::ApiKeySettings::from_lookup(get)?;
        let sessions = crate::sessions::SessionSettings::from_lookup(get)?;
        let organizations = crate::organizations::OrganizationSettings::from_lookup(get)?;
        // Better Auth's database serves session lookups, API keys, memberships, or several.
        let database_used = api_keys.mode == crate::api_keys::ApiKeyMode::Database
            || sessions
                .as_ref()
                .is_some_and(|s| matches!(s.lookup, crate::sessions::SessionLookup::Database(_)))
            || matches!(
                organizations.membership,
                crate::organizations::MembershipSource::Database(_)
            );
        if get("BETTER_AUTH_DATABASE_URL").is_some() && !database_used {
            return Err(ConfigError::Invalid {
                name: "BETTER_AUTH_DATABASE_URL",
                reason: "it is only used with BETTER_AUTH_SESSION_LOOKUP=database, BETTER_AUTH_API_KEYS=database or BETTER_AUTH_ORGANIZATIONS=database".into(),
            });
        }
        let redis_url = match get("SSOGUARD_REDIS_URL") {
            None => None,
            Some(url) => {
                let url = url.trim().to_string();
                if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                    // The value is not repeated: it may hold a password.
                    return Err(ConfigError::Invalid {
                        name: "SSOGUARD_REDIS_URL",
                        reason: "use a redis:// or rediss:// URL".into(),
                    });
                }
                Some(Secret::new(url))
            }
        };
        Ok(Config {
            organizations,
            redis_url,
            api_keys,
            sessions,
            sso_issuer: get("SSO_ISSUER"),
            jwks_url: get("JWKS_URL"),
            sso_client_ids,
            sso_api_key: get("SSO_API_KEY").map(Secret::new),
            sso_client_secret: get("SSO_CLIENT_SECRET").map(Secret::new),
            introspection_cache_ttl,
            introspection_max_per_second,
            introspection_max_concurrent,
            sso_allow_http,
            sso_admin_user_path: get("SSO_ADMIN_USER_PATH")
                .unwrap_or_else(|| "/api/auth/admin/get-user?id={user_id}".into()),
            database_url: Secret::new(
                get("DATABASE_URL").unwrap_or_else(|| "sqlite://tasks.db".into()),
            ),
            host: get("HOST").unwrap_or_else(|| "127.0.0.1".into()),
            port,
            cors_origins,
            auth_cookie_name: get("AUTH_COOKIE_NAME"),
            public_url,
            dpop_required,
            jwks_cache_ttl,
            jwks_refetch_cooldown,
            log_format,
            dev,
            dev_issuer_addr: get("DEV_ISSUER_ADDR").unwrap_or_else(|| "127.0.0.1:3001".into()),
            dev_keys_file: get("DEV_KEYS_FILE").unwrap_or_else(|| ".ssoguard/dev-keys.json".into()),
            auth_server_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)], dev: bool) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        Config::from_lookup(dev, |k| map.get(k).cloned())
    }

    /// `DPOP_REQUIRED`: a switch that needs `PUBLIC_URL`.
    #[test]
    fn dpop_required_needs_a_public_url() {
        const CLIENT: (&str, &str) = ("SSO_CLIENT_ID", "web");
        assert!(!config(&[CLIENT], false).expect("default").dpop_required);
        let public = ("PUBLIC_URL", "https://api.example.com");
        let on = config(&[CLIENT, public, ("DPOP_REQUIRED", "1")], false).expect("on");
        assert!(on.dpop_required);
        match config(&[CLIENT, ("DPOP_REQUIRED", "1")], false) {
            Err(ConfigError::Invalid { name, reason }) => {
                assert_eq!(name, "DPOP_REQUIRED");
                assert!(reason.contains("PUBLIC_URL"), "{reason}");
            }
            other => panic!("expected an error, got {other:?}"),
        }
        assert!(config(&[CLIENT, public, ("DPOP_REQUIRED", "yes")], false).is_err());
    }

    /// `SSOGUARD_REDIS_URL`: optional, redis:// or rediss://, never echoed in an error.
    #[test]
    fn redis_url_is_optional_and_checked() {
        const CLIENT: (&str, &str) = ("SSO_CLIENT_ID", "web");
        assert!(config(&[CLIENT], false).expect("unset").redis_url.is_none());
        for url in [
            "redis://127.0.0.1:6379",
            "rediss://:pw@cache.internal:6380/1",
        ] {
            let c = config(&[CLIENT, ("SSOGUARD_REDIS_URL", url)], false).expect(url);
            assert_eq!(c.redis_url.as_ref().map(Secret::expose), Some(url));
            assert!(!format!("{c:?}").contains(url));
        }
        for url in ["http://127.0.0.1:6379", "127.0.0.1:6379", "redis:x-s3cret"] {
            match config(&[CLIENT, ("SSOGUARD_REDIS_URL", url)], false) {
                Err(e @ ConfigError::Invalid { name, .. }) => {
                    assert_eq!(name, "SSOGUARD_REDIS_URL");
                    assert!(!e.to_string().contains("s3cret"));
                }
                other => panic!("{url} accepted: {other:?}"),
            }
        }
    }

    /// One `BETTER_AUTH_DATABASE_URL` serves session lookups and API keys alike; set for
    /// neither, it is refused (a typo'd mode would otherwise go unnoticed).
    #[test]
    fn better_auth_database_url_serves_sessions_api_keys_or_both() {
        const CLIENT: (&str, &str) = ("SSO_CLIENT_ID", "web");
        const SECRET: (&str, &str) = (
            "BETTER_AUTH_SECRET",
            "a-better-auth-secret-of-32-chars-at-least",
        );
        const DB: (&str, &str) = ("BETTER_AUTH_DATABASE_URL", "sqlite://auth.db");
        const SESSIONS_IN_DB: (&str, &str) = ("BETTER_AUTH_SESSION_LOOKUP", "database");
        const KEYS_IN_DB: (&str, &str) = ("BETTER_AUTH_API_KEYS", "database");
        let refused = |vars: &[(&str, &str)]| match config(vars, false) {
            Err(ConfigError::Invalid { name, .. }) => name,
            other => panic!("{vars:?} accepted: {other:?}"),
        };
        assert_eq!(refused(&[CLIENT, DB]), "BETTER_AUTH_DATABASE_URL");
        assert_eq!(refused(&[CLIENT, SECRET, DB]), "BETTER_AUTH_DATABASE_URL");
        let keys_only = config(&[CLIENT, DB, KEYS_IN_DB], false).expect("keys in the database");
        assert!(keys_only.sessions.is_none());
        let both = config(&[CLIENT, SECRET, DB, SESSIONS_IN_DB, KEYS_IN_DB], false).expect("both");
        assert!(both.sessions.is_some());
        // Keys in the database, sessions through get-session.
        config(&[CLIENT, SECRET, DB, KEYS_IN_DB], false).expect("keys in the database");
    }

    #[test]
    fn defaults_follow_the_documented_ones() {
        let c = config(&[("SSO_CLIENT_ID", "web, rust-backend")], false).expect("config");
        assert_eq!(c.auth_server_url, "http://localhost:3001");
        assert_eq!(c.sso_client_ids, ["web", "rust-backend"]);
        assert_eq!(c.database_url.expose(), "sqlite://tasks.db");
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 8000));
        assert_eq!(
            c.cors_origins,
            ["http://localhost:3001", "http://localhost:3000"]
        );
        assert_eq!(c.auth_cookie_name, None);
        assert_eq!(c.log_format, LogFormat::Pretty);
    }

    #[test]
    fn missing_client_id_is_named_and_secrets_are_redacted() {
        let err = config(&[], false).unwrap_err();
        assert_eq!(err, ConfigError::Missing("SSO_CLIENT_ID"));
        assert!(err.to_string().contains("SSO_CLIENT_ID"));
        assert!(config(&[], true).is_ok(), "dev mode needs no client id");
        let c = config(
            &[
                ("SSO_CLIENT_ID", "a"),
                ("SSO_API_KEY", "super-secret-key"),
                ("DATABASE_URL", "postgres://u:pw@h/db"),
            ],
            false,
        )
        .expect("config");
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("super-secret-key") && !debug.contains("pw@"),
            "{debug}"
        );
    }

    #[test]
    fn bad_values_are_named() {
        let err = config(&[("SSO_CLIENT_ID", "a"), ("PORT", "eighty")], false).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { name: "PORT", .. }));
        let err = config(&[("SSO_CLIENT_ID", "a"), ("JWKS_CACHE_TTL", "soon")], false).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "JWKS_CACHE_TTL",
                ..
            }
        ));
        let c = config(&[("SSO_CLIENT_ID", "a"), ("JWKS_CACHE_TTL", "30m")], false).expect("ok");
        assert_eq!(c.jwks_cache_ttl, Some(Duration::from_secs(1800)));
        assert_eq!(origin_of("http://h:1/api/auth"), "http://h:1");
    }

    #[test]
    fn trailing_slashes_in_auth_server_url_are_normalised() {
        for (given, kept) in [
            ("http://localhost:3001/", "http://localhost:3001"),
            (" http://localhost:3001// ", "http://localhost:3001"),
            (
                "http://localhost:3001/api/auth/",
                "http://localhost:3001/api/auth",
            ),
        ] {
            let c = config(&[("SSO_CLIENT_ID", "a"), ("AUTH_SERVER_URL", given)], false)
                .expect("config");
            assert_eq!(c.auth_server_url, kept, "{given:?}");
        }
        // SSO_ISSUER is the exact `iss`: kept as written.
        let c = config(
            &[("SSO_CLIENT_ID", "a"), ("SSO_ISSUER", "http://h/api/auth/")],
            false,
        )
        .expect("config");
        assert_eq!(c.sso_issuer.as_deref(), Some("http://h/api/auth/"));
    }
}
