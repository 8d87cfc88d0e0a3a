//! Better Auth's session cookies: their names, finding them in `Cookie` headers, and the
//! signature check.
//!
//! Better Auth (through better-call's signed cookies) writes the session cookie as
//! `encodeURIComponent(token + "." + base64(HMAC-SHA256(secret, token)))`: the signature is
//! standard base64 with padding, 44 characters. The check here is the same, in constant time
//! (`aws_lc_rs::hmac::verify`), and it runs before anything else: a cookie whose signature does
//! not verify never causes a lookup.
//!
//! Names: `<prefix>.session_token` and `<prefix>.session_data` (prefix `better-auth`, Better
//! Auth's `advanced.cookiePrefix`), with `__Secure-` in front when Better Auth runs on https.
//! Both forms are read; a request carrying the cookie twice (two values of one name, or both the
//! `__Secure-` and the plain name) is ambiguous and refused: a sibling subdomain can plant a
//! plain-named cookie (cookie tossing), and picking either would be a guess.

use super::secret::SessionSecret;
use crate::error::VerifyError;
use base64::Engine as _;

/// Better Auth's cookie prefix when `advanced.cookiePrefix` is not set.
pub const DEFAULT_COOKIE_PREFIX: &str = "better-auth";

/// The prefix browsers require for cookies set with `Secure` (Better Auth on https).
const SECURE_PREFIX: &str = "__Secure-";

/// Length of a better-call cookie signature: base64 of 32 bytes, padded.
const SIGNATURE_LEN: usize = 44;

/// The session cookies of one request, as sent (values still percent-encoded).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionCookies<'a> {
    /// The name it came under (`better-auth.session_token` or its `__Secure-` form).
    pub token_cookie_name: &'a str,
    /// The `session_token` cookie's value.
    pub session_token: &'a str,
    /// The `session_data` cookie (Better Auth's cookie cache), when sent whole (not chunked).
    pub session_data: Option<&'a str>,
}

impl std::fmt::Debug for SessionCookies<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCookies")
            .field("token_cookie_name", &self.token_cookie_name)
            .field("session_token", &"[redacted]")
            .field("session_data", &self.session_data.map(|_| "[redacted]"))
            .finish()
    }
}

/// The cookie names of one Better Auth configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CookieNames {
    token: String,
    data: String,
}

impl CookieNames {
    pub(crate) fn new(prefix: &str) -> Self {
        CookieNames {
            token: format!("{prefix}.session_token"),
            data: format!("{prefix}.session_data"),
        }
    }

    /// The plain name of the session-token cookie (`better-auth.session_token`).
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// Finds the session cookies in `Cookie` header values.
    ///
    /// `Ok(None)` when no session-token cookie was sent.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Malformed`] (ambiguous credentials) for two session-token cookies or two
    /// session-data cookies.
    pub(crate) fn find<'a>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a str>,
    ) -> Result<Option<SessionCookies<'a>>, VerifyError> {
        let mut token: Option<(&'a str, &'a str)> = None;
        let mut data: Option<&'a str> = None;
        for header in cookie_headers {
            for pair in header.split(';') {
                let Some((name, value)) = pair.trim().split_once('=') else {
                    continue;
                };
                let name = name.trim();
                let value = value.trim();
                let plain = name.strip_prefix(SECURE_PREFIX).unwrap_or(name);
                if value.is_empty() {
                    // Better Auth expires a cookie by setting it empty.
                    continue;
                }
                if plain == self.token {
                    if token.is_some() {
                        return Err(VerifyError::Malformed(
                            "ambiguous credentials: more than one session cookie",
                        ));
                    }
                    token = Some((name, value));
                } else if plain == self.data {
                    if data.is_some() {
                        return Err(VerifyError::Malformed(
                            "ambiguous credentials: more than one session data cookie",
                        ));
                    }
                    data = Some(value);
                }
            }
        }
        Ok(token.map(|(name, value)| SessionCookies {
            token_cookie_name: name,
            session_token: value,
            session_data: data,
        }))
    }
}

/// Decodes `%XX` escapes (what `encodeURIComponent` wrote). `None` for a bad escape or a result
/// that is not UTF-8.
pub(crate) fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The session token of a signed session cookie value, after the signature check.
///
/// # Errors
///
/// - [`VerifyError::Malformed`]: not `token.signature` (percent-encoded), or a signature that
///   is not 44 characters of padded base64 — the shapes Better Auth itself refuses;
/// - [`VerifyError::InvalidSignature`]: the HMAC does not verify with `secret`.
pub(crate) fn verify_signed_token(
    raw: &str,
    secret: &SessionSecret,
) -> Result<String, VerifyError> {
    let value = percent_decode(raw.trim_matches('"')).ok_or(VerifyError::Malformed(
        "session cookie is not percent-encoded UTF-8",
    ))?;
    let dot = value
        .rfind('.')
        .filter(|&i| i >= 1)
        .ok_or(VerifyError::Malformed(
            "session cookie is not token.signature",
        ))?;
    let (token, signature) = (&value[..dot], &value[dot + 1..]);
    if signature.len() != SIGNATURE_LEN || !signature.ends_with('=') {
        return Err(VerifyError::Malformed(
            "session cookie signature has the wrong length",
        ));
    }
    let signature = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .map_err(|_| VerifyError::Malformed("session cookie signature is not base64"))?;
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.key_bytes());
    // Constant time: `verify` compares the tags without an early exit.
    aws_lc_rs::hmac::verify(&key, token.as_bytes(), &signature)
        .map_err(|_| VerifyError::InvalidSignature)?;
    Ok(token.to_owned())
}

/// Signs `token` as Better Auth does (tests and tools; the value is percent-encoded).
#[cfg(any(test, feature = "testing"))]
#[must_use]
pub fn sign_session_token(token: &str, secret: &SessionSecret) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.key_bytes());
    let tag = aws_lc_rs::hmac::sign(&key, token.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
    percent_encode_component(&format!("{token}.{signature}"))
}

/// `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` escaped.
#[cfg(any(test, feature = "testing"))]
fn percent_encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3 / 2);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SessionSecret {
        SessionSecret::new(s).expect("secret")
    }

    const SECRET: &str = "ssoguard-dev-secret-0123456789abcdef0123456789";

    #[test]
    fn a_cookie_written_by_better_auth_verifies() {
        // Captured from Better Auth 1.7.5 (`Set-Cookie` of /sign-up/email, BA_SECRET above).
        let raw =
            "gPz4UkWeb2kAy1iun3MGtgj7ejytsqKh.FAUCT1%2FwgYMcT6M0cJjU7G9NZQCs1W%2F5%2BX90ScU7bHo%3D";
        assert_eq!(
            verify_signed_token(raw, &secret(SECRET)).as_deref(),
            Ok("gPz4UkWeb2kAy1iun3MGtgj7ejytsqKh")
        );
        assert_eq!(
            sign_session_token("gPz4UkWeb2kAy1iun3MGtgj7ejytsqKh", &secret(SECRET)),
            raw
        );
        // Quoted, as some clients send it.
        assert!(verify_signed_token(&format!("\"{raw}\""), &secret(SECRET)).is_ok());
    }

    #[test]
    fn wrong_secret_and_tampering_are_invalid_signatures() {
        let raw = sign_session_token("session-token-123", &secret(SECRET));
        let other = secret("another-secret-0123456789abcdef0123456789");
        assert_eq!(
            verify_signed_token(&raw, &other),
            Err(VerifyError::InvalidSignature)
        );
        let swapped = raw.replacen("session-token-123", "session-token-124", 1);
        assert_eq!(
            verify_signed_token(&swapped, &secret(SECRET)),
            Err(VerifyError::InvalidSignature)
        );
        // The tag is compared whole: flipping its last byte fails too.
        let decoded = percent_decode(&raw).expect("decoded");
        let (token, sig) = decoded.rsplit_once('.').expect("dot");
        let mut tag = base64::engine::general_purpose::STANDARD
            .decode(sig)
            .expect("b64");
        tag[31] ^= 1;
        let flipped = format!(
            "{token}.{}",
            base64::engine::general_purpose::STANDARD.encode(&tag)
        );
        assert_eq!(
            verify_signed_token(&flipped, &secret(SECRET)),
            Err(VerifyError::InvalidSignature)
        );
    }

    #[test]
    fn malformed_values_are_refused_before_any_hmac() {
        for bad in [
            "",
            "no-signature",
            ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "token.short=",
            "token.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "token.!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!=",
            "token%ZZ.x",
            "token%C3%28.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            assert!(
                matches!(
                    verify_signed_token(bad, &secret(SECRET)),
                    Err(VerifyError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn percent_decoding_matches_encode_uri_component() {
        assert_eq!(
            percent_decode("a%2Fb%2Bc%3D%25").as_deref(),
            Some("a/b+c=%")
        );
        assert_eq!(percent_decode("%e2%9c%93").as_deref(), Some("✓"));
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(
            percent_encode_component("a/b+c= ✓"),
            "a%2Fb%2Bc%3D%20%E2%9C%93"
        );
    }

    #[test]
    fn cookies_are_found_under_both_names_and_duplicates_are_ambiguous() {
        let names = CookieNames::new(DEFAULT_COOKIE_PREFIX);
        let found = names
            .find(["theme=dark; better-auth.session_token=abc.sig; better-auth.session_data=xyz"])
            .expect("ok")
            .expect("found");
        assert_eq!(
            (
                found.token_cookie_name,
                found.session_token,
                found.session_data
            ),
            ("better-auth.session_token", "abc.sig", Some("xyz"))
        );
        let secure = names
            .find(["__Secure-better-auth.session_token=abc.sig"])
            .expect("ok")
            .expect("found");
        assert_eq!(
            secure.token_cookie_name,
            "__Secure-better-auth.session_token"
        );
        assert_eq!(names.find(["other=1", "a=b"]).expect("ok"), None);
        assert_eq!(
            names.find(["better-auth.session_token="]).expect("ok"),
            None
        );
        for twice in [
            vec!["better-auth.session_token=a.b; better-auth.session_token=c.d"],
            vec![
                "better-auth.session_token=a.b",
                "__Secure-better-auth.session_token=c.d",
            ],
            vec![
                "better-auth.session_token=a.b; better-auth.session_data=1; better-auth.session_data=2",
            ],
        ] {
            assert!(
                matches!(names.find(twice.clone()), Err(VerifyError::Malformed(m)) if m.starts_with("ambiguous")),
                "{twice:?}"
            );
        }
        let custom = CookieNames::new("myapp");
        assert!(
            custom
                .find(["better-auth.session_token=a.b"])
                .expect("ok")
                .is_none()
        );
        assert!(
            custom
                .find(["myapp.session_token=a.b"])
                .expect("ok")
                .is_some()
        );
    }
}
