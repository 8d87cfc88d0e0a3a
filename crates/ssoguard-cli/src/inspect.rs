//! `ssoguard inspect`: decode a token without verifying it.

use crate::decode::{self, Decoded, Jwt, date_claim, str_claim};
use crate::input::redact;
use crate::timefmt::{now, relative, rfc3339, span, span_between};
use serde_json::{Map, Value};
use ssoguard::{Algorithm, TokenClaims};
use std::fmt::Write as _;

/// The leeway ssoguard applies to `exp`, `nbf` and `iat` by default.
pub(crate) const LEEWAY: i64 = 60;

const BANNER: &str = "UNVERIFIED — decoded only: the signature, issuer, audience and times are NOT checked.\n\
                      Do not trust anything below; run `ssoguard verify` for a verdict.\n";

/// Runs `inspect`: exit 0 for a recognised token (JWT, JWE, opaque), 2 for anything else.
pub(crate) fn run(token_arg: Option<&str>) -> (String, String, u8) {
    let token = match crate::input::read_token(token_arg) {
        Ok(t) => t,
        Err(e) => return (String::new(), format!("error: {e}\n"), 2),
    };
    let (out, err, code) = match decode::decode(&token) {
        Ok(decoded) => (render(&decoded), String::new(), 0),
        Err(reason) => (String::new(), format!("error: {reason}\n"), 2),
    };
    (redact(&out, &token), redact(&err, &token), code)
}

fn render(decoded: &Decoded) -> String {
    let mut out = String::from(BANNER);
    match decoded {
        Decoded::Opaque { len } => {
            let _ = writeln!(
                out,
                "\nkind      opaque token ({len} characters): not a JWT, nothing to decode\n\n\
                 It looks like a Better Auth opaque access token (the oidc-provider plugin issues \
                 opaque access\ntokens unless JWT access tokens are configured) or a session token. \
                 It cannot be checked\nlocally: verify it through the SSO's introspection endpoint \
                 (POST <issuer>/oauth2/introspect)\nor its userinfo endpoint."
            );
        }
        Decoded::Jwe { header } => {
            let _ = writeln!(
                out,
                "\nkind      encrypted token (JWE, five segments): only the header is readable\n\
                 \nheader\n{}\n\nwarnings\n  ! ssoguard accepts signed tokens (JWS) only; an \
                 encrypted token is refused",
                indent(&pretty(header))
            );
        }
        Decoded::Jwt(jwt) => render_jwt(&mut out, jwt),
    }
    out
}

fn render_jwt(out: &mut String, jwt: &Jwt) {
    let now = now();
    let _ = writeln!(out, "\nkind      {}", decode::kind(jwt));
    let _ = writeln!(out, "\nheader\n{}", indent(&pretty(&jwt.header_json)));
    let _ = writeln!(out, "\nclaims\n{}", indent(&pretty(&jwt.claims)));
    let _ = writeln!(out, "\ntimes (UTC)");
    for (name, verb) in [("iat", "issued"), ("nbf", "valid from"), ("exp", "")] {
        let line = match date_claim(&jwt.claims, name) {
            Ok(None) => "(not set)".to_string(),
            Err(()) => "(not a number)".to_string(),
            Ok(Some(ts)) => {
                let rel = match name {
                    "exp" if ts <= now => format!("expired {}", relative(ts, now)),
                    "exp" => format!("expires {}", relative(ts, now)),
                    _ => format!("{verb} {}", relative(ts, now)),
                };
                format!("{}  {rel}", rfc3339(ts))
            }
        };
        let _ = writeln!(out, "  {name}  {line}");
    }
    if let Some(lifetime) = lifetime(&jwt.claims) {
        let _ = writeln!(out, "  lifetime  {}", span(lifetime.unsigned_abs()));
    }
    let warnings = warnings(jwt, now);
    let _ = writeln!(out, "\nwarnings");
    if warnings.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for w in warnings {
        let _ = writeln!(out, "  ! {w}");
    }
}

/// `exp - iat` (or `exp - nbf`), when both are numbers.
fn lifetime(claims: &Map<String, Value>) -> Option<i64> {
    let exp = date_claim(claims, "exp").ok()??;
    let start = date_claim(claims, "iat")
        .ok()
        .flatten()
        .or_else(|| date_claim(claims, "nbf").ok().flatten())?;
    Some(exp.saturating_sub(start))
}

fn warnings(jwt: &Jwt, now: i64) -> Vec<String> {
    let mut w = Vec::new();
    match &jwt.header {
        Err(e) => w.push(format!("header refused by ssoguard: {e}")),
        Ok(header) => {
            let alg = header.alg.as_str();
            if alg.eq_ignore_ascii_case("none") {
                w.push(
                    "alg \"none\": the token is unsigned — anyone can forge it; never accepted"
                        .into(),
                );
            } else if alg.to_ascii_uppercase().starts_with("HS") {
                w.push(format!(
                    "alg {alg} is HMAC (a shared secret): ssoguard never accepts HMAC; an SSO \
                     must sign with a public-key algorithm"
                ));
            } else if Algorithm::from_jws_name(alg).is_none() {
                w.push(format!("alg {alg:?} is not an algorithm ssoguard supports"));
            }
            if header.kid.is_none() {
                w.push(
                    "no kid: the verifier has to guess the key (ssoguard accepts it only when \
                     exactly one key fits)"
                        .into(),
                );
            }
            for member in &header.embedded_key_members {
                w.push(format!(
                    "header carries {member}: a key (or key URL) chosen by the token itself; \
                     ssoguard ignores it and uses only the issuer's JWKS"
                ));
            }
            if let Some(crit) = &header.crit {
                w.push(format!(
                    "crit {crit:?}: critical header extensions are not implemented, so ssoguard \
                     refuses the token"
                ));
            }
        }
    }
    if jwt.signature_len == 0 {
        w.push("empty signature".into());
    }
    let claims = &jwt.claims;
    match date_claim(claims, "exp") {
        Ok(None) => w.push("no exp: the token never expires (ssoguard refuses it)".into()),
        Ok(Some(exp)) if exp <= now => w.push(format!("expired {}", relative(exp, now))),
        _ => {}
    }
    if let Ok(Some(nbf)) = date_claim(claims, "nbf") {
        if nbf > now + LEEWAY {
            w.push(format!("not valid yet: nbf is {}", relative(nbf, now)));
        }
    }
    if let Ok(Some(iat)) = date_claim(claims, "iat") {
        if iat > now + LEEWAY {
            w.push(format!(
                "issued in the future: iat is {} (clock skew?)",
                relative(iat, now)
            ));
        }
    }
    match lifetime(claims) {
        Some(l) if l > 24 * 3600 => w.push(format!(
            "lifetime {} is longer than 24 h: a leaked token stays usable that long",
            span(l.unsigned_abs())
        )),
        Some(l) if l < 0 => w.push(format!("exp is {} before iat/nbf", span_between(l, 0))),
        _ => {}
    }
    if claims.contains_key("cnf") {
        w.push(
            "sender-constrained (cnf): bound to a DPoP/mTLS key, refused as a plain bearer token"
                .into(),
        );
    }
    if let Err(e) = TokenClaims::from_json(&Value::Object(claims.clone())) {
        w.push(format!("claims refused by ssoguard: {e}"));
    }
    if str_claim(claims, "iss").is_some_and(|iss| iss.ends_with('/')) {
        w.push("iss ends with '/': issuers are compared exactly, slash included".into());
    }
    w
}

fn pretty(map: &Map<String, Value>) -> String {
    serde_json::to_string_pretty(map).unwrap_or_else(|_| "{}".into())
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
