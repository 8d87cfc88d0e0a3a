//! API keys in the axum integration: [`Auth::with_api_keys`].

use super::Auth;
use crate::api_key::ApiKeyVerifier;
use crate::claims::TokenClaims;
use crate::error::VerifyError;
use axum::http::{HeaderMap, header};
use std::sync::Arc;

impl Auth {
    /// Also accepts Better Auth API keys: a request with the verifier's key header
    /// (`x-api-key` by default) and **no** `Authorization` header is checked by `keys`, and the
    /// key's owner becomes the caller ([`CurrentUser`](super::CurrentUser), or a
    /// [`ServiceClient`](super::ServiceClient) for a key without a user); the key's permissions
    /// serve [`RequireLayer::permission`](super::RequireLayer::permission). Default: API keys
    /// are ignored.
    ///
    /// A request with both an `Authorization` header and a key is judged by its
    /// `Authorization` header alone. A key header is not sent by a browser on its own, so,
    /// unlike a cookie, it needs no CSRF check. Two key headers are ambiguous: 401.
    ///
    /// ```
    /// # fn build(verifier: ssoguard::Verifier) -> Result<(), ssoguard::ConfigError> {
    /// use ssoguard::{api_key::ApiKeyVerifier, axum::Auth};
    ///
    /// let keys = ApiKeyVerifier::builder().remote("http://localhost:3001/api/auth").build()?;
    /// let auth = Auth::new(verifier).with_api_keys(keys);
    /// # let _ = auth; Ok(()) }
    /// ```
    #[must_use]
    pub fn with_api_keys(mut self, keys: ApiKeyVerifier) -> Self {
        self.api_keys = Some(keys);
        self
    }

    /// The API key verifier, when API keys are accepted.
    #[must_use]
    pub fn api_keys(&self) -> Option<&ApiKeyVerifier> {
        self.api_keys.as_ref()
    }

    /// The API key answer for this request, or `None` when it is not an API-key request (no
    /// key verifier, an `Authorization` header, or no key header).
    pub(super) async fn api_key_claims(
        &self,
        headers: &HeaderMap,
    ) -> Option<Result<Arc<TokenClaims>, VerifyError>> {
        let keys = self.api_keys.as_ref()?;
        if headers.contains_key(header::AUTHORIZATION) {
            return None;
        }
        let mut values = headers.get_all(keys.header_name()).iter();
        let value = values.next()?;
        if values.next().is_some() {
            return Some(Err(VerifyError::Malformed(
                "ambiguous credentials: more than one API key header",
            )));
        }
        let Ok(key) = value.to_str() else {
            return Some(Err(VerifyError::Malformed("an API key is printable ASCII")));
        };
        Some(keys.verify(key).await)
    }
}

impl Auth {
    /// The rejection of a refused (or uncheckable) API key, logged by kind only.
    pub(super) fn api_key_rejection(&self, e: VerifyError) -> super::AuthRejection {
        if e.is_unavailable() {
            tracing::warn!(reason = e.kind(), "API key check unavailable");
        } else {
            tracing::debug!(reason = e.kind(), refusal = %e, "API key refused");
        }
        super::AuthRejection::verify(e, self.realm.clone())
    }
}
