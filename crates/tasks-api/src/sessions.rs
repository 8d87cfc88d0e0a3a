//! Better Auth session cookies: the settings, read from the environment, and the
//! [`SessionVerifier`] they build.
//!
//! | variable | meaning |
//! |---|---|
//! | `BETTER_AUTH_SECRET` | Better Auth's secret; setting it turns session cookies on (≥ 32 characters) |
//! | `BETTER_AUTH_SECRETS` | Better Auth's rotation list (`2:new,1:old`); wins over `BETTER_AUTH_SECRET`, as in Better Auth |
//! | `BETTER_AUTH_SESSION_LOOKUP` | `remote` (default: `GET <AUTH_SERVER_URL>/get-session`), `database` or `redis` |
//! | `BETTER_AUTH_DATABASE_URL` | Better Auth's database (`postgres://…`, `sqlite://…`), for `database` |
//! | `BETTER_AUTH_REDIS_URL` | Better Auth's secondary-storage Redis (`redis://…`), for `redis` |
//! | `BETTER_AUTH_SESSION_CACHE_TTL` | longest a looked-up session is reused (`30s`); the revocation lag |
//! | `BETTER_AUTH_COOKIE_PREFIX` | Better Auth's `advanced.cookiePrefix` (`better-auth`) |

use crate::config::{ConfigError, Secret, parse_duration};
use ssoguard::revocation::Revocations;
use ssoguard::session::{DatabaseLookup, RedisLookup, SessionSecret, SessionVerifier};
use std::sync::Arc;
use std::time::Duration;

/// Where sessions are looked up (`BETTER_AUTH_SESSION_LOOKUP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionLookup {
    /// Better Auth's `get-session` at `AUTH_SERVER_URL` (default).
    Remote,
    /// Better Auth's database, read-only (`BETTER_AUTH_DATABASE_URL`).
    Database(Secret),
    /// Better Auth's Redis secondary storage (`BETTER_AUTH_REDIS_URL`).
    Redis(Secret),
}

/// The session-cookie settings; `None` in [`Config`](crate::config::Config) when
/// `BETTER_AUTH_SECRET` is not set (session cookies ignored).
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// `BETTER_AUTH_SECRET` (or the current one of `BETTER_AUTH_SECRETS`), redacted.
    pub secret: SessionSecret,
    /// `BETTER_AUTH_SESSION_LOOKUP` with its URL.
    pub lookup: SessionLookup,
    /// `BETTER_AUTH_SESSION_CACHE_TTL`. Default 30 s.
    pub cache_ttl: Duration,
    /// `BETTER_AUTH_COOKIE_PREFIX`. Default `better-auth`.
    pub cookie_prefix: String,
}

impl SessionSettings {
    /// Reads the settings through `get` (empty values count as unset).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the variable: a short secret, an unknown lookup, a
    /// lookup without its URL (or a URL for another lookup), a TTL that is not a duration, or
    /// any of these without `BETTER_AUTH_SECRET`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let invalid = |name: &'static str, reason: String| ConfigError::Invalid { name, reason };
        let secret = match (get("BETTER_AUTH_SECRETS"), get("BETTER_AUTH_SECRET")) {
            (Some(list), _) => Some(
                SessionSecret::from_versioned(&list)
                    .map_err(|e| invalid("BETTER_AUTH_SECRETS", reason_of(&e)))?,
            ),
            (None, Some(secret)) => Some(
                SessionSecret::new(secret)
                    .map_err(|e| invalid("BETTER_AUTH_SECRET", reason_of(&e)))?,
            ),
            (None, None) => None,
        };
        let kind = get("BETTER_AUTH_SESSION_LOOKUP").map(|v| v.trim().to_ascii_lowercase());
        let database_url = get("BETTER_AUTH_DATABASE_URL");
        let redis_url = get("BETTER_AUTH_REDIS_URL");
        let Some(secret) = secret else {
            for name in [
                "BETTER_AUTH_SESSION_LOOKUP",
                "BETTER_AUTH_REDIS_URL",
                "BETTER_AUTH_SESSION_CACHE_TTL",
                "BETTER_AUTH_COOKIE_PREFIX",
            ] {
                if get(name).is_some() {
                    return Err(invalid(
                        name,
                        "session cookies need BETTER_AUTH_SECRET (Better Auth's secret) as well"
                            .into(),
                    ));
                }
            }
            return Ok(None);
        };
        let unused = |name: &'static str, lookup: &str| {
            invalid(
                name,
                format!("it is only used with BETTER_AUTH_SESSION_LOOKUP={lookup}"),
            )
        };
        let lookup = match kind.as_deref() {
            // BETTER_AUTH_DATABASE_URL may serve API keys (`BETTER_AUTH_API_KEYS=database`)
            // instead: `Config` refuses it when neither uses it.
            None | Some("remote") => {
                if redis_url.is_some() {
                    return Err(unused("BETTER_AUTH_REDIS_URL", "redis"));
                }
                SessionLookup::Remote
            }
            Some("database") => {
                if redis_url.is_some() {
                    return Err(unused("BETTER_AUTH_REDIS_URL", "redis"));
                }
                SessionLookup::Database(Secret::new(database_url.ok_or_else(|| {
                    invalid(
                        "BETTER_AUTH_DATABASE_URL",
                        "required with BETTER_AUTH_SESSION_LOOKUP=database (Better Auth's postgres:// or sqlite:// database)".into(),
                    )
                })?))
            }
            Some("redis") => SessionLookup::Redis(Secret::new(redis_url.ok_or_else(|| {
                invalid(
                    "BETTER_AUTH_REDIS_URL",
                    "required with BETTER_AUTH_SESSION_LOOKUP=redis (e.g. redis://127.0.0.1:6379)"
                        .into(),
                )
            })?)),
            Some(other) => {
                return Err(invalid(
                    "BETTER_AUTH_SESSION_LOOKUP",
                    format!("\"{other}\" (use remote, database or redis)"),
                ));
            }
        };
        let cache_ttl = match get("BETTER_AUTH_SESSION_CACHE_TTL") {
            None => Duration::from_secs(30),
            Some(v) => parse_duration(&v).filter(|d| !d.is_zero()).ok_or_else(|| {
                invalid(
                    "BETTER_AUTH_SESSION_CACHE_TTL",
                    "use a positive duration like 30s or 2m".into(),
                )
            })?,
        };
        Ok(Some(SessionSettings {
            secret,
            lookup,
            cache_ttl,
            cookie_prefix: get("BETTER_AUTH_COOKIE_PREFIX")
                .map(|p| p.trim().to_owned())
                .unwrap_or_else(|| ssoguard::session::DEFAULT_COOKIE_PREFIX.into()),
        }))
    }

    /// The verifier. `auth_server_url` serves the `remote` lookup: a URL with a path is
    /// Better Auth's base (`<origin><basePath>`), a bare origin gets `/api/auth`. Every answer,
    /// cached or not, is checked against `revocations` (the verifier's, so a back-channel logout
    /// ends the session's cookies too). With `shared` (`SSOGUARD_REDIS_URL`), a live session
    /// looked up by one instance is reused by the others until its cache TTL ends.
    ///
    /// # Errors
    ///
    /// The library's [`ssoguard::ConfigError`] (a bad URL, plain http to a remote host, a bad
    /// cookie prefix).
    pub fn build(
        &self,
        auth_server_url: &str,
        allow_http: bool,
        revocations: Arc<dyn Revocations>,
        shared: Option<&ssoguard::shared::SharedRedis>,
    ) -> Result<SessionVerifier, ssoguard::ConfigError> {
        let mut builder = SessionVerifier::builder()
            .secret(self.secret.clone())
            .revocations(revocations)
            .cache_ttl(self.cache_ttl)
            .cookie_prefix(&self.cookie_prefix)
            .issuer(remote_base(auth_server_url));
        builder = match &self.lookup {
            SessionLookup::Remote => builder.remote(remote_base(auth_server_url)),
            SessionLookup::Database(url) => builder.database(DatabaseLookup::new(url.expose())),
            SessionLookup::Redis(url) => builder.redis(RedisLookup::new(url.expose())),
        };
        if allow_http {
            builder = builder.insecure_allow_http();
        }
        if let Some(redis) = shared {
            builder = builder.shared(redis);
        }
        builder.build()
    }
}

/// Better Auth's `<origin><basePath>` from `AUTH_SERVER_URL`.
#[must_use]
pub fn remote_base(auth_server_url: &str) -> String {
    let url = auth_server_url.trim_end_matches('/');
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    if url[after_scheme..].contains('/') {
        url.to_owned()
    } else {
        format!("{url}/api/auth")
    }
}

/// The library's error with the variable at fault named (`BETTER_AUTH_DATABASE_URL`, …).
#[must_use]
pub fn variable_at_fault(e: ssoguard::ConfigError) -> ConfigError {
    let name = match &e {
        ssoguard::ConfigError::InvalidSetting { setting, .. } => match *setting {
            "session_database_url" | "session_schema" => "BETTER_AUTH_DATABASE_URL",
            "session_redis_url" => "BETTER_AUTH_REDIS_URL",
            "cookie_prefix" => "BETTER_AUTH_COOKIE_PREFIX",
            "cache_ttl" => "BETTER_AUTH_SESSION_CACHE_TTL",
            _ => "BETTER_AUTH_SECRET",
        },
        _ => "AUTH_SERVER_URL",
    };
    ConfigError::Invalid {
        name,
        reason: reason_of(&e),
    }
}

fn reason_of(e: &ssoguard::ConfigError) -> String {
    match e {
        ssoguard::ConfigError::InvalidSetting { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "ssoguard-dev-secret-0123456789abcdef0123456789";

    fn settings(vars: &[(&str, &str)]) -> Result<Option<SessionSettings>, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        SessionSettings::from_lookup(|k| map.get(k).cloned())
    }

    fn refused(vars: &[(&str, &str)]) -> &'static str {
        match settings(vars) {
            Err(ConfigError::Invalid { name, .. }) => name,
            other => panic!("{vars:?} accepted: {other:?}"),
        }
    }

    #[test]
    fn session_cookies_are_off_without_a_secret_and_default_to_remote() {
        assert!(settings(&[]).expect("ok").is_none());
        let s = settings(&[("BETTER_AUTH_SECRET", SECRET)])
            .expect("ok")
            .expect("on");
        assert_eq!(s.lookup, SessionLookup::Remote);
        assert_eq!(s.cache_ttl, Duration::from_secs(30));
        assert_eq!(s.cookie_prefix, "better-auth");
        assert!(!format!("{s:?}").contains("0123456789"), "{s:?}");
        let s = settings(&[
            ("BETTER_AUTH_SECRET", SECRET),
            ("BETTER_AUTH_SESSION_LOOKUP", "redis"),
            ("BETTER_AUTH_REDIS_URL", "redis://:pw@127.0.0.1:6379"),
            ("BETTER_AUTH_SESSION_CACHE_TTL", "2s"),
        ])
        .expect("ok")
        .expect("on");
        assert_eq!(s.cache_ttl, Duration::from_secs(2));
        assert!(!format!("{s:?}").contains("pw@"), "{s:?}");
        assert_eq!(remote_base("http://h:3001"), "http://h:3001/api/auth");
        assert_eq!(remote_base("http://h:3001/auth/"), "http://h:3001/auth");
    }

    #[tokio::test]
    async fn unusable_urls_and_prefixes_name_their_variable() {
        for (vars, name) in [
            (
                vec![
                    ("BETTER_AUTH_SESSION_LOOKUP", "database"),
                    ("BETTER_AUTH_DATABASE_URL", "mysql://db/auth"),
                ],
                "BETTER_AUTH_DATABASE_URL",
            ),
            (
                vec![
                    ("BETTER_AUTH_SESSION_LOOKUP", "redis"),
                    ("BETTER_AUTH_REDIS_URL", "not a url"),
                ],
                "BETTER_AUTH_REDIS_URL",
            ),
            (
                vec![("BETTER_AUTH_COOKIE_PREFIX", "my;app")],
                "BETTER_AUTH_COOKIE_PREFIX",
            ),
        ] {
            let mut all = vec![("BETTER_AUTH_SECRET", SECRET)];
            all.extend(vars);
            let settings = settings(&all).expect("parsed").expect("on");
            let err = settings
                .build(
                    "http://127.0.0.1:3001",
                    false,
                    Arc::new(ssoguard::revocation::MemoryRevocations::default()),
                    None,
                )
                .map_err(variable_at_fault)
                .expect_err("refused");
            assert!(
                matches!(err, ConfigError::Invalid { name: n, .. } if n == name),
                "{err}"
            );
        }
    }

    #[test]
    fn bad_session_settings_are_named() {
        let secret = ("BETTER_AUTH_SECRET", SECRET);
        assert_eq!(
            refused(&[("BETTER_AUTH_SECRET", "short")]),
            "BETTER_AUTH_SECRET"
        );
        assert_eq!(
            refused(&[("BETTER_AUTH_SECRETS", "nocolon")]),
            "BETTER_AUTH_SECRETS"
        );
        assert_eq!(
            refused(&[("BETTER_AUTH_SESSION_LOOKUP", "remote")]),
            "BETTER_AUTH_SESSION_LOOKUP"
        );
        assert_eq!(
            refused(&[secret, ("BETTER_AUTH_SESSION_LOOKUP", "memcached")]),
            "BETTER_AUTH_SESSION_LOOKUP"
        );
        assert_eq!(
            refused(&[secret, ("BETTER_AUTH_SESSION_LOOKUP", "database")]),
            "BETTER_AUTH_DATABASE_URL"
        );
        assert_eq!(
            refused(&[secret, ("BETTER_AUTH_SESSION_LOOKUP", "redis")]),
            "BETTER_AUTH_REDIS_URL"
        );
        assert_eq!(
            refused(&[secret, ("BETTER_AUTH_SESSION_CACHE_TTL", "0s")]),
            "BETTER_AUTH_SESSION_CACHE_TTL"
        );
    }
}
