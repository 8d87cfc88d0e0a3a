//! The SSO admin client (the seed's `get_user_from_sso`): fetches a user's profile from the SSO
//! with the service's API key.
//!
//! Default endpoint: Better Auth's admin plugin, `GET <origin>/api/auth/admin/get-user?id=…`
//! with `Authorization: Bearer <SSO_API_KEY>` (an admin session token via the `bearer` plugin).
//! The path template (`SSO_ADMIN_USER_PATH`) also serves custom SSOs such as the seed's
//! `/api/admin/users/{user_id}`.

use crate::config::Secret;
use std::time::Duration;

/// Why a profile could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// The SSO refused the API key (401/403): a configuration problem.
    #[error("the SSO refused SSO_API_KEY (HTTP {0}): check that it is a valid admin session token")]
    Unauthorized(u16),
    /// Transport error, timeout or 5xx after retries.
    #[error("the SSO admin API is unavailable: {0}")]
    Unavailable(String),
}

/// Client for the SSO's admin user endpoint.
#[derive(Debug, Clone)]
pub struct SsoAdmin {
    http: reqwest::Client,
    origin: String,
    path_template: String,
    api_key: Option<Secret>,
}

impl SsoAdmin {
    /// A client for `origin` (`http://localhost:3001`); `None` key = M2M not configured.
    #[must_use]
    pub fn new(origin: &str, path_template: &str, api_key: Option<Secret>) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        SsoAdmin {
            http,
            origin: origin.trim_end_matches('/').to_string(),
            path_template: path_template.to_string(),
            api_key,
        }
    }

    /// True when an API key is configured.
    #[must_use]
    pub fn configured(&self) -> bool {
        self.api_key.is_some()
    }

    fn url_for(&self, user_id: &str) -> String {
        let encoded: String = user_id
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        format!(
            "{}{}",
            self.origin,
            self.path_template.replace("{user_id}", &encoded)
        )
    }

    /// The user's profile; `Ok(None)` when not configured or not found.
    ///
    /// # Errors
    ///
    /// [`SsoError`] when the key is refused or the SSO is unavailable (after one retry on 5xx).
    pub async fn get_user(&self, user_id: &str) -> Result<Option<serde_json::Value>, SsoError> {
        let Some(key) = &self.api_key else {
            return Ok(None);
        };
        let url = self.url_for(user_id);
        let mut last = String::new();
        for attempt in 0..2 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let resp = match self.http.get(&url).bearer_auth(key.expose()).send().await {
                Ok(resp) => resp,
                Err(e) => {
                    last = if e.is_timeout() {
                        "timeout".into()
                    } else {
                        "connection failed".into()
                    };
                    continue;
                }
            };
            let status = resp.status().as_u16();
            match status {
                200..=299 => {
                    let body: serde_json::Value = resp
                        .json()
                        .await
                        .map_err(|_| SsoError::Unavailable("invalid JSON from the SSO".into()))?;
                    // Better Auth wraps nothing; some SSOs answer {"user": {...}}.
                    let user = body.get("user").cloned().unwrap_or(body);
                    return Ok(Some(user));
                }
                404 => return Ok(None),
                401 | 403 => return Err(SsoError::Unauthorized(status)),
                500..=599 => last = format!("HTTP {status}"),
                _ => return Err(SsoError::Unavailable(format!("HTTP {status}"))),
            }
        }
        Err(SsoError::Unavailable(last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_template_encodes_the_id() {
        let c = SsoAdmin::new("http://sso/", "/api/auth/admin/get-user?id={user_id}", None);
        assert_eq!(
            c.url_for("a b&c"),
            "http://sso/api/auth/admin/get-user?id=a%20b%26c"
        );
        let c = SsoAdmin::new("http://sso", "/api/admin/users/{user_id}", None);
        assert_eq!(c.url_for("u1"), "http://sso/api/admin/users/u1");
    }
}
