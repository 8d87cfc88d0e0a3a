//! OpenID Connect Back-Channel Logout 1.0: the SSO POSTs a signed logout token when a user
//! signs out, and every token of that session is refused from then on ([`crate::revocation`]).
//!
//! [`Verifier::back_channel_logout`] validates a logout token (§2.6) and records the
//! revocation; [`Verifier::verify_logout_token`] only validates. The rules, in order:
//!
//! 1. a compact JWS (no `crit`) whose `typ` is `logout+jwt`, `JWT` or absent, signed with an
//!    allowed algorithm by a key of the SSO's key set (the verifier's JWKS);
//! 2. `iss` is the SSO's issuer; `aud` contains one of the verifier's audiences;
//! 3. `iat` present, not in the future and not older than the maximum age (default 2 min,
//!    Better Auth's logout token lifetime), each within the verifier's leeway; `exp`, if
//!    present, not past;
//! 4. `jti` present and not seen before (for as long as the token could be accepted);
//! 5. `events` is an object whose `http://schemas.openid.net/event/backchannel-logout` member
//!    is an object;
//! 6. `sid` and/or `sub` present (strings);
//! 7. **no** `nonce` (which would make an ID token pass for a logout token).
//!
//! A receiver answers 200 with `Cache-Control: no-store` on success, 400 with
//! [`LogoutError::oauth_body`] for a refused token, and 503 when the SSO's keys or the stores
//! are unavailable ([`LogoutError::status_code`]).

use crate::dpop::ReplayStore as _;
use crate::error::VerifyError;
use crate::explain::Trace;
use crate::revocation::Revocation;
use crate::time::unix_now;
use crate::verify::Verifier;
use aws_lc_rs::digest;
use serde_json::{Map, Value};

mod state;

pub(crate) use state::LogoutState;

/// The event member a logout token's `events` must carry.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A validated logout token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogoutToken {
    /// The signed-out session, if named.
    pub sid: Option<String>,
    /// The signed-out subject, if named.
    pub sub: Option<String>,
    /// When the SSO issued the logout token.
    pub issued_at: i64,
}

impl LogoutToken {
    /// The revocation this logout means: the session if `sid` is named, else the subject's
    /// tokens issued before [`LogoutToken::issued_at`].
    #[must_use]
    pub fn revocation(&self) -> Revocation {
        Revocation::new(self.sid.clone(), self.sub.clone(), self.issued_at)
    }
}

/// Why a logout token was refused (400), or could not be checked (503). Messages never contain
/// the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogoutError {
    /// The request carried no `logout_token`.
    #[error("missing logout_token")]
    Missing,
    /// The JWS, its signature, `iss` or `aud` failed (the token error says which).
    #[error("invalid logout token: {0}")]
    Token(VerifyError),
    /// A logout-specific claim rule failed.
    #[error("invalid logout token: {0}")]
    Claim(&'static str),
    /// The token's `jti` was seen before.
    #[error("logout token already used")]
    Replayed,
    /// The SSO's keys, the `jti` store or the revocation store are unavailable: nothing was
    /// revoked, the SSO may retry.
    #[error("logout cannot be processed now")]
    Unavailable,
}

impl LogoutError {
    /// 400 for a refused token, 503 when it could not be checked or recorded.
    #[must_use]
    pub fn status_code(&self) -> u16 {
        match self {
            LogoutError::Unavailable => 503,
            _ => 400,
        }
    }

    /// The OAuth error code of the 400 body (`invalid_request`), `None` for a 503.
    #[must_use]
    pub fn oauth_error_code(&self) -> Option<&'static str> {
        match self {
            LogoutError::Unavailable => None,
            _ => Some("invalid_request"),
        }
    }

    /// The response body: `{"error":"invalid_request","error_description":"…"}` for a 400,
    /// `{"error":"temporarily_unavailable",…}` for a 503.
    #[must_use]
    pub fn oauth_body(&self) -> Value {
        serde_json::json!({
            "error": self.oauth_error_code().unwrap_or("temporarily_unavailable"),
            "error_description": self.to_string(),
        })
    }
}

impl From<VerifyError> for LogoutError {
    fn from(e: VerifyError) -> Self {
        if e.is_unavailable() {
            LogoutError::Unavailable
        } else {
            LogoutError::Token(e)
        }
    }
}

/// A logout token's `typ`: `logout+jwt` (the spec's recommendation), `JWT` or none.
fn logout_kind(typ: Option<&str>) -> Result<bool, VerifyError> {
    let Some(typ) = typ else { return Ok(false) };
    let media = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    if media.eq_ignore_ascii_case("logout+jwt") || media.eq_ignore_ascii_case("jwt") {
        Ok(false)
    } else {
        Err(VerifyError::UnexpectedTokenType)
    }
}

impl Verifier {
    /// Validates a back-channel logout token (rules in [`crate::logout`]) and records its
    /// revocation: from then on the session's (or subject's) tokens are refused.
    ///
    /// # Errors
    ///
    /// [`LogoutError`]: 400 for a refused token, 503 when it could not be checked or recorded.
    pub async fn back_channel_logout(&self, token: &str) -> Result<LogoutToken, LogoutError> {
        let logout = self.verify_logout_token(token).await?;
        self.inner
            .revocations
            .revoke(&logout.revocation(), unix_now())
            .map_err(|_| LogoutError::Unavailable)?;
        tracing::info!(
            sid = logout.sid.is_some(),
            sub = logout.sub.is_some(),
            "back-channel logout recorded"
        );
        Ok(logout)
    }

    /// Validates a back-channel logout token without recording anything but its `jti`.
    ///
    /// # Errors
    ///
    /// As [`back_channel_logout`](Self::back_channel_logout).
    pub async fn verify_logout_token(&self, token: &str) -> Result<LogoutToken, LogoutError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(LogoutError::Missing);
        }
        let now = unix_now();
        let signed = self
            .check_jws(token, &mut Trace::off(), logout_kind)
            .await?;
        let payload = crate::jws::decode_payload(signed.payload_b64)?;
        let claims: Map<String, Value> = serde_json::from_slice(&payload)
            .map_err(|_| LogoutError::Claim("payload is not a JSON object"))?;
        self.check_logout_claims(&claims, now)?;
        let string = |name: &str| match claims.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(LogoutError::Claim("sid and sub must be non-empty strings")),
        };
        let (sid, sub) = (string("sid")?, string("sub")?);
        if sid.is_none() && sub.is_none() {
            return Err(LogoutError::Claim("neither sid nor sub"));
        }
        let issued_at = claims.get("iat").and_then(Value::as_i64).unwrap_or(now);
        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let inner = &*self.inner;
        let mut key = [0u8; 32];
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let hash = digest::digest(&digest::SHA256, format!("{iss}\n{jti}").as_bytes());
        key.copy_from_slice(hash.as_ref());
        let keep_until = issued_at
            .saturating_add(inner.logout.max_age)
            .saturating_add(2 * inner.leeway);
        match inner
            .logout
            .jtis
            .check_and_insert(key, keep_until, now)
            .await
        {
            Ok(true) => Ok(LogoutToken {
                sid,
                sub,
                issued_at,
            }),
            Ok(false) => Err(LogoutError::Replayed),
            Err(_) => Err(LogoutError::Unavailable),
        }
    }

    /// Rules 2–5 and 7 on the verified payload.
    fn check_logout_claims(
        &self,
        claims: &Map<String, Value>,
        now: i64,
    ) -> Result<(), LogoutError> {
        let inner = &*self.inner;
        if claims.contains_key("nonce") {
            return Err(LogoutError::Claim("a logout token must not contain nonce"));
        }
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or(LogoutError::Claim("iss missing"))?;
        if inner.check_issuer {
            match inner.keys.issuer_matches(iss) {
                Some(true) => {}
                Some(false) => return Err(LogoutError::Token(VerifyError::IssuerMismatch)),
                None => return Err(LogoutError::Unavailable),
            }
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => inner.audiences.iter().any(|a| a == aud),
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .any(|aud| inner.audiences.iter().any(|a| a == aud)),
            _ => false,
        };
        if inner.check_audience && !audience_ok {
            return Err(LogoutError::Token(VerifyError::AudienceMismatch));
        }
        let iat = claims
            .get("iat")
            .ok_or(LogoutError::Claim("iat missing"))?
            .as_i64()
            .ok_or(LogoutError::Claim("iat is not an integer"))?;
        if iat > now.saturating_add(inner.leeway) {
            return Err(LogoutError::Claim("iat is in the future"));
        }
        if iat < now.saturating_sub(inner.logout.max_age.saturating_add(inner.leeway)) {
            return Err(LogoutError::Claim("iat is too old"));
        }
        if let Some(exp) = claims.get("exp") {
            let exp = exp
                .as_i64()
                .ok_or(LogoutError::Claim("exp is not an integer"))?;
            if now >= exp.saturating_add(inner.leeway) {
                return Err(LogoutError::Claim("expired"));
            }
        }
        match claims.get("jti") {
            Some(Value::String(jti)) if !jti.is_empty() && jti.len() <= 512 => {}
            Some(_) => return Err(LogoutError::Claim("jti must be a short non-empty string")),
            None => return Err(LogoutError::Claim("jti missing")),
        }
        let event = claims
            .get("events")
            .and_then(Value::as_object)
            .and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT));
        if !matches!(event, Some(Value::Object(_))) {
            return Err(LogoutError::Claim(
                "events lacks the back-channel logout event",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn logout_token_types() {
        for typ in [
            None,
            Some("logout+jwt"),
            Some("application/logout+jwt"),
            Some("JWT"),
        ] {
            assert_eq!(logout_kind(typ), Ok(false), "{typ:?}");
        }
        for typ in ["at+jwt", "dpop+jwt", "secevent+jwt", ""] {
            assert_eq!(
                logout_kind(Some(typ)),
                Err(VerifyError::UnexpectedTokenType),
                "{typ}"
            );
        }
    }

    #[test]
    fn errors_have_their_http_meaning() {
        assert_eq!(LogoutError::Replayed.status_code(), 400);
        assert_eq!(LogoutError::Unavailable.status_code(), 503);
        let body = LogoutError::Claim("jti missing").oauth_body();
        assert_eq!(body["error"], "invalid_request");
        assert_eq!(
            body["error_description"],
            "invalid logout token: jti missing"
        );
        let unavailable = VerifyError::KeysUnavailable {
            reason: crate::KeysUnavailable::NotLoaded,
            retry_after: Duration::from_secs(1),
        };
        assert_eq!(LogoutError::from(unavailable), LogoutError::Unavailable);
    }
}
