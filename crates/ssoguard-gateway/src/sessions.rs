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

use crate::config::{ConfigError, FileIssuer, IssuerConfig};
use ssoguard::revocation::Revocations;
use ssoguard::session::{DEFAULT_COOKIE_PREFIX, SessionSecret, SessionVerifier};
use std::ops::Range;
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

/// True for a Better Auth session or API-key issuer (not a token issuer).
pub(crate) fn is_better_auth(fi: &FileIssuer) -> bool {
    fi.kind
        .as_ref()
        .is_some_and(|k| k.get_ref() == KIND || k.get_ref() == crate::api_keys::KIND)
}

/// The issuer of an `[[issuer]]` table of kind `better-auth-session` or `better-auth-api-key`;
/// `None` for a token issuer.
pub(crate) fn from_file(
    fi: &FileIssuer,
    earlier: &[IssuerConfig],
    env: &impl Fn(&str) -> Option<String>,
    at: &impl Fn(Range<usize>, String) -> ConfigError,
) -> Result<Option<IssuerConfig>, ConfigError> {
    let Some(kind) = &fi.kind else {
        return Ok(None);
    };
    match kind.get_ref().as_str() {
        "jwt" => return Ok(None),
        KIND => {}
        crate::api_keys::KIND => return crate::api_keys::from_file(fi, earlier, at).map(Some),
        other => {
            return Err(at(
                kind.span(),
                format!(
                    "kind {other:?}: use \"jwt\", \"{KIND}\" or \"{}\"",
                    crate::api_keys::KIND
                ),
            ));
        }
    }
    let name = fi.name.get_ref();
    if fi.issuer.is_some()
        || fi.jwks_url.is_some()
        || fi.introspection.is_some()
        || fi.cookie.is_some()
        || fi.header.is_some()
        || !fi.audiences.is_empty()
    {
        return Err(at(
            kind.span(),
            format!(
                "issuer {name:?} ({KIND}) takes authority, secret_env, cache_ttl_secs and cookie_prefix only"
            ),
        ));
    }
    if earlier.iter().any(|i| i.session.is_some()) {
        return Err(at(
            kind.span(),
            format!("only one {KIND} issuer is allowed"),
        ));
    }
    let authority = fi.authority.clone().ok_or_else(|| {
        at(
            fi.name.span(),
            format!("issuer {name:?} ({KIND}) needs `authority`: Better Auth's origin"),
        )
    })?;
    let secret_env = fi.secret_env.as_ref().ok_or_else(|| {
        at(
            fi.name.span(),
            format!(
                "issuer {name:?} ({KIND}) needs `secret_env`: the variable holding Better Auth's secret"
            ),
        )
    })?;
    let var = secret_env.get_ref();
    let value = env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
        at(
            secret_env.span(),
            format!("secret_env: the variable {var} is not set"),
        )
    })?;
    let secret = SessionSecret::new(value)
        .map_err(|e| at(secret_env.span(), format!("secret_env: {var}: {e}")))?;
    let cache_ttl = Duration::from_secs(fi.cache_ttl_secs.unwrap_or(30));
    if cache_ttl.is_zero() {
        return Err(at(fi.name.span(), "cache_ttl_secs must not be 0".into()));
    }
    Ok(Some(IssuerConfig {
        session: Some(SessionIssuer {
            secret,
            cache_ttl,
            cookie_prefix: fi
                .cookie_prefix
                .clone()
                .unwrap_or_else(|| DEFAULT_COOKIE_PREFIX.into()),
        }),
        ..IssuerConfig::better_auth(name.clone(), authority)
    }))
}

/// `BETTER_AUTH_SECRET` set: a session issuer `session` for `AUTH_SERVER_URL`.
pub(crate) fn from_env(
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

/// The verifier of a session issuer.
/// `revocations` is the store of the same SSO's token verifier, so a back-channel logout refuses
/// the session's cookie too.
pub(crate) fn verifier(
    issuer: &IssuerConfig,
    session: &SessionIssuer,
    revocations: Arc<dyn Revocations>,
) -> Result<SessionVerifier, String> {
    let base = better_auth_base(issuer.authority.as_deref().unwrap_or_default());
    SessionVerifier::builder()
        .revocations(revocations)
        .secret(session.secret.clone())
        .remote(&base)
        .issuer(&base)
        .cache_ttl(session.cache_ttl)
        .cookie_prefix(&session.cookie_prefix)
        .build()
        .map_err(|e| format!("issuer {:?}: {e}", issuer.name))
}

/// Better Auth's base URL from an `authority`: kept when it has a path, else the origin plus
/// the default base path `/api/auth`.
pub(crate) fn better_auth_base(authority: &str) -> String {
    let url = authority.trim_end_matches('/');
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    if url[after_scheme..].contains('/') {
        url.to_owned()
    } else {
        format!("{url}/api/auth")
    }
}
