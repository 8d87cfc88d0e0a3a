//! Remote mode: `GET <base>/get-session` with the key header, which the plugin answers with the
//! key owner's session when `enableSessionForAPIKeys` is on; with
//! [`remote_permissions`](super::ApiKeyVerifierBuilder::remote_permissions), then
//! `GET <base>/api-key/get?id=<key id>` with the same header for the key's permissions.
//!
//! The answer (it echoes the key in `session.token`) is read for the user only and dropped;
//! nothing of it is logged. The plugin's refusals map onto [`ApiKeyRefusal`] by their `code`;
//! anything else (a 5xx, a transport error, an unreadable body) is a 503.

use super::{ApiKeyRefusal, FoundKey, LookupResult, Owner, unavailable};
use crate::error::{ConfigError, VerifyError};
use crate::fetch::{MAX_REPLY_BYTES, read_bounded};
use serde_json::Value;
use std::time::Duration;

pub(crate) struct RemoteLookup {
    base: String,
    endpoint: String,
    header: String,
    http: reqwest::Client,
    /// Also `GET <base>/api-key/get?id=<key id>` for the key's permissions.
    fetch_permissions: bool,
}

impl RemoteLookup {
    pub(crate) fn new(
        base: &str,
        header: &str,
        timeout: Duration,
        allow_http: bool,
        fetch_permissions: bool,
    ) -> Result<Self, ConfigError> {
        let base = base.trim().trim_end_matches('/').to_string();
        crate::builder::check_url("api key remote base", &base)?;
        if !allow_http && crate::fetch::is_remote_plain_http(&base) {
            return Err(ConfigError::PlainHttp {
                setting: "api key remote base",
            });
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(timeout)
            // The key travels in a header: no redirect may carry it elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(ConfigError::HttpClient)?;
        Ok(RemoteLookup {
            endpoint: format!("{base}/get-session"),
            base,
            header: header.to_string(),
            http,
            fetch_permissions,
        })
    }

    /// The SSO's base URL, the `iss` of the claims this mode gives.
    pub(crate) fn issuer(&self) -> &str {
        &self.base
    }

    pub(crate) async fn lookup(&self, key: &str) -> LookupResult {
        let mut found = self.session(key).await?;
        if self.fetch_permissions {
            let Some(id) = found.key_id.clone() else {
                tracing::warn!("API key check: get-session answer has no key id");
                return Err(unavailable());
            };
            let url = format!("{}/api-key/get", self.base);
            let body = self.call(&url, key, Some(("id", id.as_str()))).await?;
            found.permissions = body
                .get("permissions")
                .map(super::permission_list)
                .unwrap_or_default();
        }
        Ok(found)
    }

    /// The owner, from get-session.
    async fn session(&self, key: &str) -> LookupResult {
        let body = self.call(&self.endpoint, key, None).await?;
        found(&body).ok_or_else(|| {
            if body.is_null() {
                // The plugin did not take the key: enableSessionForAPIKeys off, or another
                // header name.
                tracing::warn!(
                    endpoint = %self.endpoint,
                    "get-session answered null for an API key: is the apiKey plugin on with enableSessionForAPIKeys and this header name?"
                );
                VerifyError::ApiKey(ApiKeyRefusal::Unknown)
            } else {
                tracing::warn!(
                    endpoint = %self.endpoint,
                    "API key check: get-session answer has no user id"
                );
                unavailable()
            }
        })
    }

    /// A GET with the key: the JSON body of a 200, the refusal of a plugin error, else 503.
    async fn call(
        &self,
        endpoint: &str,
        key: &str,
        query: Option<(&str, &str)>,
    ) -> Result<Value, VerifyError> {
        let mut request = self.http.get(endpoint);
        if let Some(pair) = query {
            request = request.query(&[pair]);
        }
        let response = request
            .header(self.header.as_str(), key)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(
                    endpoint,
                    failure = crate::fetch::transport_failure(&e),
                    "API key check: call to Better Auth failed"
                );
                unavailable()
            })?;
        let status = response.status().as_u16();
        let bytes = read_bounded(response, endpoint, MAX_REPLY_BYTES)
            .await
            .map_err(|_| {
                tracing::warn!(endpoint, status, "API key check: reply unreadable");
                unavailable()
            })?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status == 200 {
            return Ok(body);
        }
        let code = body.get("code").and_then(Value::as_str).unwrap_or("");
        match refusal(status, code, &body) {
            Some(refusal) => Err(VerifyError::ApiKey(refusal)),
            None => {
                tracing::warn!(endpoint, status, code, "API key check: unexpected answer");
                Err(unavailable())
            }
        }
    }
}

/// The owner in a get-session answer (`{"user": {...}, "session": {"id": <key id>, ...}}`).
fn found(body: &Value) -> Option<FoundKey> {
    let user = body.get("user")?;
    let id = user.get("id")?.as_str().filter(|id| !id.is_empty())?;
    let text = |name: &str| user.get(name).and_then(Value::as_str).map(str::to_owned);
    Some(FoundKey {
        key_id: body
            .pointer("/session/id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        owner: Owner::User {
            id: id.to_string(),
            email: text("email"),
            name: text("name"),
            role: text("role"),
            email_verified: user.get("emailVerified").and_then(Value::as_bool),
        },
        // get-session names the user, not the key's permissions.
        permissions: Vec::new(),
        // `session.expiresAt` is the key's `expiresAt`, or for a key without one a session
        // lifetime from now: a bound on reusing the answer, not a reason to refuse (the plugin
        // has judged the expiry on its own clock).
        expires_at: None,
        reuse_until: body
            .pointer("/session/expiresAt")
            .and_then(super::dates::millis)
            .map(|ms| ms / 1000),
    })
}

/// The plugin's refusal for an error answer (status, `code`), or `None` when the answer is
/// not a refusal of the key (a 5xx, an unknown status).
pub(crate) fn refusal(status: u16, code: &str, body: &Value) -> Option<ApiKeyRefusal> {
    Some(match (status, code) {
        (401 | 403, "KEY_DISABLED") => ApiKeyRefusal::Disabled,
        (401 | 403, "KEY_EXPIRED") => ApiKeyRefusal::Expired,
        (401 | 403, "INVALID_REFERENCE_ID_FROM_API_KEY") => ApiKeyRefusal::NoOwner,
        // INVALID_API_KEY, KEY_NOT_FOUND (a 403 for keys shorter than the plugin's length).
        (401 | 403, _) => ApiKeyRefusal::Unknown,
        (429, "USAGE_EXCEEDED") => ApiKeyRefusal::UsageExhausted,
        (429, _) => ApiKeyRefusal::RateLimited {
            retry_after: Duration::from_millis(
                body.pointer("/details/tryAgainIn")
                    .and_then(Value::as_u64)
                    .unwrap_or(1000),
            )
            .max(Duration::from_secs(1)),
        },
        _ => return None,
    })
}
