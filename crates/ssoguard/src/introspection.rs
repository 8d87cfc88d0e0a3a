//! RFC 7662 token introspection for opaque access tokens (Better Auth's default access tokens).
//!
//! Called with `client_secret_basic`. Active results are cached by the token's SHA-256 until
//! min(`exp`, 60 s), bounded in entries; concurrent requests for the same token share one call.
//! `active: false` is [`VerifyError::Inactive`] (401); an unreachable or misbehaving endpoint is
//! [`VerifyError::KeysUnavailable`] with [`KeysUnavailable::Introspection`] (503). Inactive
//! answers are not cached, so a token is refused as soon as the SSO says so, and accepted again
//! never (revocation is final).

use crate::error::{KeysUnavailable, VerifyError};
use crate::form::form_encode;
use crate::time::unix_now;
use crate::token_cache::{TokenCache, TokenHash};
use crate::ttl_map::TtlMap;
use base64::Engine as _;
use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Introspection settings.
///
/// # Example
///
/// ```
/// use ssoguard::{IntrospectionConfig, Verifier};
///
/// let verifier = Verifier::builder()
///     .authority("http://localhost:3001")
///     .audience("rust-backend")
///     .introspection(IntrospectionConfig::new("rust-backend", "rust-backend-secret"))
///     .build()?;
/// # let _ = verifier;
/// # Ok::<(), ssoguard::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct IntrospectionConfig {
    /// OAuth client id used to authenticate to the endpoint.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// Endpoint; default from discovery (`introspection_endpoint`), else `<issuer>/oauth2/introspect`.
    pub endpoint: Option<String>,
    /// Longest an active answer is cached. Default: 60 s.
    pub cache_ttl: Duration,
    /// Most cached answers. Default: 10,000.
    pub max_entries: usize,
    /// Timeout of one call. Default: 5 s.
    pub timeout: Duration,
}

impl std::fmt::Debug for IntrospectionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl IntrospectionConfig {
    /// Defaults for this client.
    #[must_use]
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        IntrospectionConfig {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            endpoint: None,
            cache_ttl: Duration::from_secs(60),
            max_entries: 10_000,
            timeout: Duration::from_secs(5),
        }
    }
}

type SharedCall = Shared<BoxFuture<'static, Result<Map<String, Value>, VerifyError>>>;

pub(crate) struct Introspector {
    cfg: IntrospectionConfig,
    http: reqwest::Client,
    cache: TtlMap<TokenHash, Map<String, Value>>,
    inflight: Mutex<HashMap<TokenHash, SharedCall>>,
    calls: std::sync::atomic::AtomicU64,
}

fn unavailable() -> VerifyError {
    VerifyError::KeysUnavailable {
        reason: KeysUnavailable::Introspection,
        retry_after: Duration::from_secs(5),
    }
}

impl Introspector {
    pub(crate) fn new(cfg: IntrospectionConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(cfg.timeout)
            .build()?;
        Ok(Introspector {
            cache: TtlMap::new(cfg.max_entries),
            cfg,
            http,
            inflight: Mutex::new(HashMap::new()),
            calls: std::sync::atomic::AtomicU64::new(0),
        })
    }

    pub(crate) fn explicit_endpoint(&self) -> Option<&str> {
        self.cfg.endpoint.as_deref()
    }

    #[cfg(feature = "testing")]
    pub(crate) fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    #[cfg(feature = "testing")]
    pub(crate) fn cached_entries(&self) -> usize {
        self.cache.len()
    }

    /// The active response for `token` (cached, single-flight), as a claims map: `sub` falls
    /// back to `client_id` and `aud` to `client_id`, so client-credentials tokens fit.
    pub(crate) async fn introspect(
        self: &Arc<Self>,
        token: &str,
        endpoint: &str,
    ) -> Result<Map<String, Value>, VerifyError> {
        let hash = TokenCache::hash(token);
        if let Some(map) = self.cache.get(&hash) {
            return Ok(map);
        }
        let call = {
            let Ok(mut inflight) = self.inflight.lock() else {
                return Err(unavailable());
            };
            // A call that finished since the lookup above stored its answer before leaving the
            // in-flight map (which it does under this lock): look again rather than call twice.
            if let Some(map) = self.cache.get(&hash) {
                return Ok(map);
            }
            match inflight.get(&hash) {
                Some(call) => call.clone(),
                None => {
                    let this = self.clone();
                    let token = token.to_string();
                    let endpoint = endpoint.to_string();
                    let task = tokio::spawn(async move {
                        let result = this.call(&token, &endpoint).await;
                        if let Ok(map) = &result {
                            this.store(hash, map);
                        }
                        if let Ok(mut inflight) = this.inflight.lock() {
                            inflight.remove(&hash);
                        }
                        result
                    });
                    let call = async move { task.await.unwrap_or_else(|_| Err(unavailable())) }
                        .boxed()
                        .shared();
                    inflight.insert(hash, call.clone());
                    call
                }
            }
        };
        call.await
    }

    fn store(&self, hash: TokenHash, map: &Map<String, Value>) {
        let now_unix = unix_now();
        let exp = map
            .get("exp")
            .and_then(Value::as_i64)
            .unwrap_or(now_unix + 60);
        let left = u64::try_from(exp.saturating_sub(now_unix)).unwrap_or(0);
        let ttl = self.cfg.cache_ttl.min(Duration::from_secs(left));
        self.cache.insert(hash, map.clone(), ttl);
    }

    async fn call(&self, token: &str, endpoint: &str) -> Result<Map<String, Value>, VerifyError> {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            form_encode(&self.cfg.client_id),
            form_encode(&self.cfg.client_secret)
        ));
        let response = self
            .http
            .post(endpoint)
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(format!(
                "token={}&token_type_hint=access_token",
                form_encode(token)
            ))
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(
                    endpoint,
                    timeout = e.is_timeout(),
                    "introspection call failed"
                );
                unavailable()
            })?;
        let status = response.status();
        if !status.is_success() {
            tracing::error!(
                endpoint,
                status = status.as_u16(),
                "introspection endpoint refused the call (check the client id/secret)"
            );
            return Err(unavailable());
        }
        let body: Value = response.json().await.map_err(|_| unavailable())?;
        let Value::Object(mut map) = body else {
            return Err(unavailable());
        };
        if map.get("active") != Some(&Value::Bool(true)) {
            return Err(VerifyError::Inactive);
        }
        map.remove("active");
        map.remove("token_type");
        let client_id = map.get("client_id").cloned();
        if !map.contains_key("sub") {
            if let Some(id) = &client_id {
                map.insert("sub".into(), id.clone());
            }
        }
        if !map.contains_key("aud") {
            if let Some(id) = client_id {
                map.insert("aud".into(), id);
            }
        }
        if !map.contains_key("exp") {
            map.insert("exp".into(), Value::from(unix_now() + 60));
        }
        Ok(map)
    }
}

/// True when a bearer value cannot be a compact JWS (so it is an opaque token).
pub(crate) fn looks_opaque(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() != 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_detection() {
        assert!(looks_opaque("abcDEF123"));
        assert!(looks_opaque("a.b.c.d.e"));
        assert!(!looks_opaque("a.b.c"));
    }
}
