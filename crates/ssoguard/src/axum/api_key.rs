//! API keys in the axum integration: [`Auth::with_api_keys`].

use super::Auth;
use crate::api_key::ApiKeyVerifier;
use axum::http::HeaderName;

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
        self.sources.api_key_header = HeaderName::from_bytes(keys.header_name().as_bytes()).ok();
        self.api_keys = Some(keys);
        self
    }

    /// The API key verifier, when API keys are accepted.
    #[must_use]
    pub fn api_keys(&self) -> Option<&ApiKeyVerifier> {
        self.api_keys.as_ref()
    }
}
