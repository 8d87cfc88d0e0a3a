//! Better Auth's cookie cache (`session.cookieCache`): the `session_data` cookie, checked
//! without a lookup.
//!
//! Only the **compact** strategy (Better Auth's default) is read: the cookie is base64url (no
//! padding) of `{"session": P, "expiresAt": ms, "signature": S}` where `P` is
//! `{"session": …, "user": …, "updatedAt": ms, "version": "1"}` and `S` is base64url(HMAC-SHA256(
//! secret, JSON.stringify({...P, expiresAt}))). The signed text is rebuilt from the cookie's own
//! bytes (the JSON of `P` with `,"expiresAt":<ms>` spliced in before its closing brace), which
//! is exactly what `JSON.stringify` re-creates from a value it wrote, so no re-serialisation can
//! differ from Better Auth's; the tag is compared in constant time.
//!
//! The cache is used only when the signature verifies, its `expiresAt` and the embedded
//! session's `expiresAt` are in the future, its `version` is the configured one (Better Auth's
//! `cookieCache.version`, default `"1"`) and the embedded session's token is the session
//! cookie's token (Better Auth's own checks in `get-session`). Anything else — the `jwt` and
//! `jwe` strategies (HMAC-signed JWTs, which this library never accepts, and encrypted
//! tokens), a cookie split into chunks (`session_data.0`, …), a stale or foreign cache — is not
//! an error: the session is looked up instead.

use super::record::SessionRecord;
use super::secret::SessionSecret;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Compact<'a> {
    #[serde(borrow)]
    session: &'a RawValue,
    #[serde(rename = "expiresAt", borrow)]
    expires_at: &'a RawValue,
    signature: String,
}

/// What a verified cookie cache says.
#[derive(Debug)]
pub(crate) enum CookieCache {
    /// Valid: the session and its user (the rules are applied by the caller).
    Valid(Box<SessionRecord>),
    /// Not usable (another strategy, stale, foreign, bad signature): look the session up.
    Unusable(&'static str),
}

/// Reads a compact `session_data` cookie for the session `token`.
pub(crate) fn read(
    raw: &str,
    token: &str,
    secret: &SessionSecret,
    version: &str,
    now_ms: i64,
) -> CookieCache {
    match read_inner(raw, token, secret, version, now_ms) {
        Ok(record) => CookieCache::Valid(Box::new(record)),
        Err(why) => CookieCache::Unusable(why),
    }
}

fn read_inner(
    raw: &str,
    token: &str,
    secret: &SessionSecret,
    version: &str,
    now_ms: i64,
) -> Result<SessionRecord, &'static str> {
    let raw = super::cookie::percent_decode(raw).ok_or("not percent-encoded")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .map_err(|_| "not the compact strategy (base64url JSON)")?;
    let text = std::str::from_utf8(&bytes).map_err(|_| "not UTF-8")?;
    let compact: Compact<'_> = serde_json::from_str(text).map_err(|_| "not the compact form")?;
    let expires_at: i64 = compact
        .expires_at
        .get()
        .parse()
        .map_err(|_| "expiresAt is not an integer")?;
    let payload = compact.session.get();
    let body = payload
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .ok_or("session is not an object")?;
    let signed = if body.is_empty() {
        format!("{{\"expiresAt\":{expires_at}}}")
    } else {
        format!("{{{body},\"expiresAt\":{expires_at}}}")
    };
    let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(compact.signature.trim_end_matches('='))
        .map_err(|_| "signature is not base64url")?;
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.key_bytes());
    aws_lc_rs::hmac::verify(&key, signed.as_bytes(), &tag).map_err(|_| "bad signature")?;
    // Signed by the secret: from here on the content is Better Auth's.
    if expires_at <= now_ms {
        return Err("cookie cache expired");
    }
    let value: serde_json::Value = serde_json::from_str(payload).map_err(|_| "bad payload")?;
    if value.get("expiresAt").is_some() {
        // `{...P, expiresAt}` would have replaced it in place: not a form Better Auth writes.
        return Err("payload names expiresAt");
    }
    let cached_version = value
        .get("version")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("1");
    if cached_version != version {
        return Err("another cookie cache version");
    }
    let record = SessionRecord::from_json(&value).map_err(|_| "incomplete session")?;
    if record.token.as_deref() != Some(token) {
        return Err("cached for another session");
    }
    Ok(record)
}

/// Writes a compact cookie cache as Better Auth does (tests).
#[cfg(any(test, feature = "testing"))]
#[must_use]
pub fn write_compact(
    session: &serde_json::Value,
    user: &serde_json::Value,
    expires_at_ms: i64,
    secret: &SessionSecret,
) -> String {
    let payload = serde_json::json!({
        "session": session, "user": user, "updatedAt": expires_at_ms - 300_000, "version": "1"
    });
    let payload_text = payload.to_string();
    let signed = format!(
        "{},\"expiresAt\":{expires_at_ms}}}",
        &payload_text[..payload_text.len() - 1]
    );
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.key_bytes());
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(aws_lc_rs::hmac::sign(&key, signed.as_bytes()).as_ref());
    let outer = format!(
        "{{\"session\":{payload_text},\"expiresAt\":{expires_at_ms},\"signature\":\"{signature}\"}}"
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(outer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "ssoguard-dev-secret-0123456789abcdef0123456789";
    const NOW: i64 = 1_764_461_876_000;

    fn secret() -> SessionSecret {
        SessionSecret::new(SECRET).expect("secret")
    }

    fn session(token: &str) -> serde_json::Value {
        json!({"id": "sid-1", "token": token, "userId": "u1", "expiresAt": "2026-12-07T00:17:56.029Z", "createdAt": "2026-11-30T00:17:56.029Z"})
    }

    fn user() -> serde_json::Value {
        json!({"id": "u1", "email": "u1@example.com", "name": "U", "emailVerified": true, "role": "user", "banned": false})
    }

    /// A `session_data` cookie of Better Auth 1.7.5 (BA_COOKIE_CACHE=1, the interop secret).
    const REAL: &str = "eyJzZXNzaW9uIjp7InNlc3Npb24iOnsiZXhwaXJlc0F0IjoiMjAyNi0xMi0wN1QwMDoyMzo1NC4xMDdaIiwidG9rZW4iOiJCR2hMQkZUcGNrRjBrZXV5VTdrZnRHams1VVlhbk1EeSIsImNyZWF0ZWRBdCI6IjIwMjYtMTEtMzBUMDA6MjM6NTQuMTA3WiIsInVwZGF0ZWRBdCI6IjIwMjYtMTEtMzBUMDA6MjM6NTQuMTA3WiIsImlwQWRkcmVzcyI6IiIsInVzZXJBZ2VudCI6ImN1cmwvNy44OC4xIiwidXNlcklkIjoiSTRJZWVrUWVHMk9jQ1haT1JaZVM3Y09CUkhRQkdYdkkiLCJpbXBlcnNvbmF0ZWRCeSI6bnVsbCwiaWQiOiJnMTRaTWk1YUJaMHM0S25MTkR0VEVBbmFHWkI2VEIwdSJ9LCJ1c2VyIjp7Im5hbWUiOiJRIiwiZW1haWwiOiJxQGV4YW1wbGUuY29tIiwiZW1haWxWZXJpZmllZCI6ZmFsc2UsImltYWdlIjpudWxsLCJjcmVhdGVkQXQiOiIyMDI2LTExLTMwVDAwOjIzOjU0LjEwNVoiLCJ1cGRhdGVkQXQiOiIyMDI2LTExLTMwVDAwOjIzOjU0LjEwNVoiLCJyb2xlIjoidXNlciIsImJhbm5lZCI6ZmFsc2UsImJhblJlYXNvbiI6bnVsbCwiYmFuRXhwaXJlcyI6bnVsbCwib3JnYW5pemF0aW9uSWQiOm51bGwsInBlcm1pc3Npb25zIjpudWxsLCJpZCI6Ikk0SWVla1FlRzJPY0NYWk9SWmVTN2NPQlJIUUJHWHZJIn0sInVwZGF0ZWRBdCI6MTc5NTk5ODIzNDExMiwidmVyc2lvbiI6IjEifSwiZXhwaXJlc0F0IjoxNzk1OTk4NTM0MTEyLCJzaWduYXR1cmUiOiJ5Y2RuVkx6YXRSUUZlM0JPa2lyTC1BWVAxVzBDZlViTDJ4bU83Z1hxcEkwIn0";

    #[test]
    fn a_cookie_cache_written_by_better_auth_verifies() {
        let CookieCache::Valid(record) = read(
            REAL,
            "BGhLBFTpckF0keuyU7kftGjk5UYanMDy",
            &secret(),
            "1",
            1_795_998_234_112,
        ) else {
            panic!("Better Auth's own cookie cache refused")
        };
        assert_eq!(record.user_id, "I4IeekQeG2OcCXZORZeS7cOBRHQBGXvI");
        assert_eq!(record.email.as_deref(), Some("q@example.com"));
        assert!(matches!(
            read(
                REAL,
                "BGhLBFTpckF0keuyU7kftGjk5UYanMDy",
                &secret(),
                "1",
                1_795_998_534_112
            ),
            CookieCache::Unusable("cookie cache expired")
        ));
    }

    #[test]
    fn a_compact_cache_for_this_session_is_used() {
        let raw = write_compact(&session("tok"), &user(), NOW + 300_000, &secret());
        let CookieCache::Valid(record) = read(&raw, "tok", &secret(), "1", NOW) else {
            panic!("valid cache refused")
        };
        assert_eq!(
            (record.user_id.as_str(), record.session_id.as_str()),
            ("u1", "sid-1")
        );
    }

    #[test]
    fn stale_foreign_forged_or_other_strategies_fall_back_to_a_lookup() {
        let raw = write_compact(&session("tok"), &user(), NOW + 300_000, &secret());
        let other = SessionSecret::new("another-secret-0123456789abcdef0123456789").expect("s");
        let cases = [
            (read(&raw, "tok", &other, "1", NOW), "bad signature"),
            (
                read(&raw, "tok", &secret(), "1", NOW + 300_000),
                "cookie cache expired",
            ),
            (
                read(&raw, "other-token", &secret(), "1", NOW),
                "cached for another session",
            ),
            (
                read(&raw, "tok", &secret(), "2", NOW),
                "another cookie cache version",
            ),
            (
                read(
                    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln",
                    "tok",
                    &secret(),
                    "1",
                    NOW,
                ),
                "not the compact strategy (base64url JSON)",
            ),
        ];
        for (got, why) in cases {
            assert!(
                matches!(got, CookieCache::Unusable(w) if w == why),
                "{got:?} vs {why}"
            );
        }
        // The payload altered, the signature kept: refused.
        let outer = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&raw)
            .expect("b64");
        let tampered = String::from_utf8(outer)
            .expect("utf8")
            .replace("u1@example.com", "u2@example.com");
        let tampered = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tampered);
        assert!(matches!(
            read(&tampered, "tok", &secret(), "1", NOW),
            CookieCache::Unusable("bad signature")
        ));
    }
}
