//! `[[issuer]] kind = "better-auth-session"`: Better Auth's session cookie
//! (`better-auth.session_token`) as a credential, checked by ssoguard's
//! [`SessionVerifier`]: the cookie's HMAC with Better Auth's secret, then its cookie cache or a
//! cached `GET <authority>/get-session` (a bare origin gets `/api/auth`).
//!
//! ```toml
//! [[issuer]]
//! name = "sessions"
//! kind = "better-auth-session"
//! authority = "https://auth.example.com"   # Better Auth's origin, or <origin><basePath>
//! secret_env = "BETTER_AUTH_SECRET"        # the variable holding its secret (never the file)
//! cache_ttl_secs = 30                      # the revocation lag (default 30)
//! cookie_prefix = "better-auth"            # advanced.cookiePrefix (default)
//! ```
//!
//! With the environment alone, `BETTER_AUTH_SECRET` adds such an issuer (named `session`) for
//! `AUTH_SERVER_URL`. A session cookie is read only when the request carries no bearer token and
//! no token cookie; on an unsafe method it needs an `Origin` of the request's host, as token
//! cookies do. A rule's `issuers = ["sessions"]` admits session cookies only. At least one token
//! `[[issuer]]` is still needed beside it.

use ssoguard::revocation::Revocations;
use ssoguard::session::{SessionSecret, SessionVerifier};
use std::sync::Arc;
use std::time::Duration;

/// The `kind` of a session-cookie issuer.
pub const KIND: &str = "better-auth-session";

/// The settings of a `better-auth-session` issuer (its `authority` is the issuer's).
#[derive(Debug, Clone)]
pub struct SessionIssuer {
    /// Better Auth's secret (redacted in `Debug`).
    pub secret: SessionSecret,
    /// Longest a looked-up session is reused. Default 30 s.
    pub cache_ttl: Duration,
    /// Better Auth's `advanced.cookiePrefix`. Default `better-auth`.
    pub cookie_prefix: String,
}

/// The verifier of the session issuer `name` reached at `authority`.
/// `revocations` is the store of the same SSO's token verifier, so a back-channel logout refuses
/// the session's cookie too. With `[shared]`, live sessions are shared with the other instances.
pub(crate) fn verifier(
    name: &str,
    authority: &str,
    session: &SessionIssuer,
    revocations: Arc<dyn Revocations>,
    shared: Option<&ssoguard::shared::SharedRedis>,
) -> Result<SessionVerifier, String> {
    let base = ssoguard::urls::better_auth_base(authority);
    let mut builder = SessionVerifier::builder();
    if let Some(redis) = shared {
        builder = builder.shared(redis);
    }
    builder
        .revocations(revocations)
        .secret(session.secret.clone())
        .remote(&base)
        .issuer(&base)
        .cache_ttl(session.cache_ttl)
        .cookie_prefix(&session.cookie_prefix)
        .build()
        .map_err(|e| format!("issuer {name:?}: {e}"))
}
