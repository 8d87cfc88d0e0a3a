//! Better Auth API keys (`x-api-key`): the settings and the verifier built from them.
//!
//! | Variable | Meaning |
//! |---|---|
//! | `BETTER_AUTH_API_KEYS` | `off` (default), `remote` (ask `<AUTH_SERVER_URL>/api/auth/get-session`; the plugin needs `enableSessionForAPIKeys`), `database` (read Better Auth's `apikey` table) |
//! | `BETTER_AUTH_API_KEY_REMOTE_PERMISSIONS` | `remote` only: `1` also reads the key's permissions (`/api-key/get`, a second use of the key per lookup); default `0`: remote keys carry none |
//! | `BETTER_AUTH_API_KEY_HEADER` | the key header, default `x-api-key` |
//! | `BETTER_AUTH_API_KEY_CACHE_TTL` | how long an answer is reused (e.g. `2s`), default `30s`: the revocation lag |
//! | `BETTER_AUTH_DATABASE_URL` | Better Auth's database (`postgres://…`, `sqlite://…`), required by `database` |
//! | `BETTER_AUTH_API_KEY_SERVICE_CONFIGS` | `database` only: plugin `configId`s whose keys belong to no user (service callers) |
//!
//! Inconsistent settings stop the service at start.

use crate::config::{ConfigError, Secret, parse_duration, parse_switch};
use ssoguard::api_key::ApiKeyVerifier;
use std::time::Duration;

/// How API keys are checked (`BETTER_AUTH_API_KEYS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyMode {
    /// Not accepted (the default).
    Off,
    /// Better Auth's `get-session` over HTTP.
    Remote,
    /// Better Auth's database, read-only.
    Database,
}

/// The API key settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeySettings {
    /// `BETTER_AUTH_API_KEYS`.
    pub mode: ApiKeyMode,
    /// `BETTER_AUTH_API_KEY_HEADER`, default `x-api-key`.
    pub header: String,
    /// `BETTER_AUTH_API_KEY_CACHE_TTL`, default 30 s.
    pub cache_ttl: Duration,
    /// `BETTER_AUTH_DATABASE_URL`.
    pub database_url: Option<Secret>,
    /// `BETTER_AUTH_API_KEY_SERVICE_CONFIGS`.
    pub service_configs: Vec<String>,
    /// `BETTER_AUTH_API_KEY_REMOTE_PERMISSIONS`.
    pub remote_permissions: bool,
}

impl ApiKeySettings {
    /// Reads the settings through `get` (which returns `None` for unset or blank variables).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the variable: an unknown mode, a bad TTL, `database`
    /// without `BETTER_AUTH_DATABASE_URL` or with a URL that is not Postgres/SQLite, service
    /// configurations outside `database` mode.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mode = match get("BETTER_AUTH_API_KEYS")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("off") => ApiKeyMode::Off,
            Some("remote") => ApiKeyMode::Remote,
            Some("database") => ApiKeyMode::Database,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "BETTER_AUTH_API_KEYS",
                    reason: format!("\"{other}\" (use off, remote or database)"),
                });
            }
        };
        let cache_ttl = match get("BETTER_AUTH_API_KEY_CACHE_TTL") {
            None => Duration::from_secs(30),
            Some(v) => parse_duration(&v).ok_or_else(|| ConfigError::Invalid {
                name: "BETTER_AUTH_API_KEY_CACHE_TTL",
                reason: "use seconds or a value like 2s, 1m".into(),
            })?,
        };
        let database_url = get("BETTER_AUTH_DATABASE_URL").map(|v| Secret::new(v.trim()));
        if mode == ApiKeyMode::Database {
            let Some(url) = &database_url else {
                return Err(ConfigError::Invalid {
                    name: "BETTER_AUTH_DATABASE_URL",
                    reason: "required when BETTER_AUTH_API_KEYS=database".into(),
                });
            };
            let url = url.expose();
            if !["postgres://", "postgresql://", "sqlite:"]
                .iter()
                .any(|p| url.starts_with(p))
            {
                return Err(ConfigError::Invalid {
                    name: "BETTER_AUTH_DATABASE_URL",
                    reason: "use postgres://… or sqlite://…".into(),
                });
            }
        }
        let service_configs: Vec<String> = get("BETTER_AUTH_API_KEY_SERVICE_CONFIGS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if !service_configs.is_empty() && mode != ApiKeyMode::Database {
            return Err(ConfigError::Invalid {
                name: "BETTER_AUTH_API_KEY_SERVICE_CONFIGS",
                reason: "only BETTER_AUTH_API_KEYS=database can see whom a key belongs to".into(),
            });
        }
        let remote_permissions = parse_switch(
            "BETTER_AUTH_API_KEY_REMOTE_PERMISSIONS",
            get("BETTER_AUTH_API_KEY_REMOTE_PERMISSIONS").as_deref(),
        )?;
        if remote_permissions && mode != ApiKeyMode::Remote {
            return Err(ConfigError::Invalid {
                name: "BETTER_AUTH_API_KEY_REMOTE_PERMISSIONS",
                reason: "only for BETTER_AUTH_API_KEYS=remote (database mode reads them)".into(),
            });
        }
        Ok(ApiKeySettings {
            remote_permissions,
            mode,
            header: get("BETTER_AUTH_API_KEY_HEADER")
                .map_or_else(|| "x-api-key".into(), |h| h.trim().to_ascii_lowercase()),
            cache_ttl,
            database_url,
            service_configs,
        })
    }

    /// The verifier these settings describe (`None` when off). `auth_server_url` is
    /// `AUTH_SERVER_URL`: an origin (Better Auth's default base path `/api/auth` is added) or a
    /// URL with its base path.
    ///
    /// # Errors
    ///
    /// The library's [`ssoguard::ConfigError`] (a bad header name, a plain-http SSO).
    pub fn verifier(
        &self,
        auth_server_url: &str,
        allow_http: bool,
        shared: Option<&ssoguard::shared::SharedRedis>,
    ) -> Result<Option<ApiKeyVerifier>, ssoguard::ConfigError> {
        let mut builder = ApiKeyVerifier::builder()
            .header(&self.header)
            .cache_ttl(self.cache_ttl)
            .negative_ttl(self.cache_ttl.min(Duration::from_secs(5)));
        builder = match (self.mode, &self.database_url) {
            (ApiKeyMode::Off, _) => return Ok(None),
            (ApiKeyMode::Remote, _) => builder
                .remote(ssoguard::urls::better_auth_base(auth_server_url))
                .remote_permissions(self.remote_permissions),
            (ApiKeyMode::Database, Some(url)) => builder
                .database_url(url.expose())
                .service_configs(self.service_configs.iter().cloned()),
            (ApiKeyMode::Database, None) => {
                return Err(ssoguard::ConfigError::InvalidSetting {
                    setting: "BETTER_AUTH_DATABASE_URL",
                    reason: "required when BETTER_AUTH_API_KEYS=database".into(),
                });
            }
        };
        if allow_http {
            builder = builder.insecure_allow_http();
        }
        // SSOGUARD_REDIS_URL: an accepted key looked up by one instance serves them all.
        if let Some(redis) = shared {
            builder = builder.shared(redis);
        }
        builder.build().map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<ApiKeySettings, ConfigError> {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        ApiKeySettings::from_lookup(|k| map.get(k).map(|v| (*v).to_string()))
    }

    #[test]
    fn off_by_default_with_documented_defaults() {
        let s = settings(&[]).expect("ok");
        assert_eq!(s.mode, ApiKeyMode::Off);
        assert_eq!(s.header, "x-api-key");
        assert_eq!(s.cache_ttl, Duration::from_secs(30));
        assert!(
            s.verifier("http://localhost:3001", false, None)
                .expect("ok")
                .is_none()
        );
    }

    #[test]
    fn modes_and_their_requirements() {
        let s = settings(&[
            ("BETTER_AUTH_API_KEYS", "remote"),
            ("BETTER_AUTH_API_KEY_HEADER", "X-Service-Key"),
            ("BETTER_AUTH_API_KEY_CACHE_TTL", "1s"),
        ])
        .expect("ok");
        assert_eq!(
            (s.mode, s.header.as_str()),
            (ApiKeyMode::Remote, "x-service-key")
        );
        assert_eq!(s.cache_ttl, Duration::from_secs(1));
        let keys = s
            .verifier("http://localhost:3001", false, None)
            .expect("ok")
            .expect("on");
        assert_eq!(keys.header_name(), "x-service-key");
        let err = s
            .verifier("http://sso.example.com", false, None)
            .unwrap_err();
        assert!(
            matches!(err, ssoguard::ConfigError::PlainHttp { .. }),
            "{err}"
        );

        let err = settings(&[("BETTER_AUTH_API_KEYS", "database")]).unwrap_err();
        assert!(
            err.to_string().contains("BETTER_AUTH_DATABASE_URL"),
            "{err}"
        );
        let err = settings(&[
            ("BETTER_AUTH_API_KEYS", "database"),
            ("BETTER_AUTH_DATABASE_URL", "mysql://x"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("postgres://"), "{err}");
        let s = settings(&[
            ("BETTER_AUTH_API_KEYS", "database"),
            ("BETTER_AUTH_DATABASE_URL", "postgres://u:hunter2@db/auth"),
            ("BETTER_AUTH_API_KEY_SERVICE_CONFIGS", "org-keys, ci"),
        ])
        .expect("ok");
        assert_eq!(s.service_configs, ["org-keys", "ci"]);
        assert!(!format!("{s:?}").contains("hunter2"), "the URL is redacted");

        for (name, value) in [
            ("BETTER_AUTH_API_KEYS", "yes"),
            ("BETTER_AUTH_API_KEY_CACHE_TTL", "soon"),
        ] {
            let err = settings(&[(name, value)]).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
        let err = settings(&[
            ("BETTER_AUTH_API_KEYS", "remote"),
            ("BETTER_AUTH_API_KEY_SERVICE_CONFIGS", "ci"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("SERVICE_CONFIGS"), "{err}");
        let on = [
            ("BETTER_AUTH_API_KEYS", "remote"),
            ("BETTER_AUTH_API_KEY_REMOTE_PERMISSIONS", "1"),
        ];
        assert!(settings(&on).expect("ok").remote_permissions);
        let err = settings(&[("BETTER_AUTH_API_KEY_REMOTE_PERMISSIONS", "1")]).unwrap_err();
        assert!(err.to_string().contains("only for"), "{err}");
    }
}
