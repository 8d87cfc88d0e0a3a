//! What `ssoguard verify` says about each step: the detail and the hint, read from the token and
//! the SSO's answers. Whether a step passed is the library's ([`ssoguard::Explanation`]), never
//! decided here.

use super::report::Step;
use crate::decode::{
    Decoded, audiences, bare_origin, date_claim, origin_of, quote_list, str_claim,
};
use crate::inspect::LEEWAY;
use crate::net::alg_list;
use crate::timefmt::{relative, rfc3339, span_between};
use serde_json::{Map, Value};
use ssoguard::dpop::{DpopError, DpopRequest};
use ssoguard::{Algorithm, TokenClaims, VerifyError};
use ssoguard::{DiscoveryError, ProviderMetadata};
use std::fmt::Write as _;

/// Clock differences under this many seconds are reported as probable clock skew.
const SKEW_HINT: i64 = 5 * 60;

pub(super) fn header_step(decoded: &Decoded) -> Step {
    match decoded {
        Decoded::Opaque { len } => Step::fail(
            "header",
            format!("opaque token ({len} characters), not a JWT"),
        )
        .hint(
            "an opaque access token (Better Auth's oidc-provider default) or a session token \
             cannot be verified locally: use the SSO's introspection endpoint \
             (<issuer>/oauth2/introspect), or have the client send its JWT (id_token / JWT \
             access token)",
        ),
        Decoded::Jwe { .. } => Step::fail("header", "encrypted token (JWE), not a signed JWT")
            .hint("ssoguard verifies signed tokens (JWS) only: ask the SSO for unencrypted tokens"),
        Decoded::Jwt(jwt) => match &jwt.header {
            Err(e) => Step::fail("header", format!("refused: {e}"))
                .hint("the header must be a JSON object with a string alg and no repeated member"),
            Ok(h) => {
                let max = 8 * 1024;
                if jwt.token_len > max {
                    return Step::fail(
                        "header",
                        format!("token is {} bytes, over the 8 KiB limit", jwt.token_len),
                    )
                    .hint(
                        "tokens this large usually carry bulky claims (all groups, a picture): \
                         trim them at the SSO, or raise max_token_bytes in the service",
                    );
                }
                if let Some(crit) = &h.crit {
                    return Step::fail("header", format!("crit {crit:?} present")).hint(
                        "ssoguard implements no critical header extension, so it must refuse \
                         the token (RFC 7515 §4.1.11)",
                    );
                }
                let mut detail = format!("JWS, alg {}", h.alg);
                match &h.kid {
                    Some(kid) => {
                        let _ = write!(detail, ", kid {kid}");
                    }
                    None => detail.push_str(", no kid"),
                }
                if let Some(typ) = &h.typ {
                    let _ = write!(detail, ", typ {typ}");
                }
                let step = Step::ok("header", detail);
                if h.embedded_key_members.is_empty() {
                    step
                } else {
                    step.hint(format!(
                        "the header carries {}: ignored, keys come only from the issuer's JWKS",
                        h.embedded_key_members.join(", ")
                    ))
                }
            }
        },
    }
}

pub(super) fn discovery_step(
    given: &str,
    result: &Result<ProviderMetadata, DiscoveryError>,
    allowed: &[Algorithm],
) -> Step {
    let api_auth = format!("{}/api/auth", origin_of(given));
    match result {
        Ok(meta) => {
            let mut step = Step::ok("discovery", format!("issuer {}", meta.issuer));
            if meta.issuer != given && meta.issuer == format!("{given}/api/auth") {
                step.detail.push_str(" (found only under /api/auth)");
                step = step.hint(format!(
                    "you gave the origin; the issuer is {0} and tokens must carry exactly that \
                     iss. To name it directly: use --issuer {0} / set SSO_ISSUER={0}",
                    meta.issuer
                ));
            }
            let advertised: Vec<&str> = meta
                .id_token_signing_alg_values_supported
                .iter()
                .map(String::as_str)
                .collect();
            let usable = advertised
                .iter()
                .any(|a| Algorithm::from_jws_name(a).is_some_and(|a| allowed.contains(&a)));
            if !advertised.is_empty() && !usable {
                step = step.hint(format!(
                    "the SSO signs with {}, but only {} is allowed (--alg)",
                    advertised.join(", "),
                    alg_list(allowed)
                ));
            }
            step
        }
        Err(DiscoveryError::Unreachable(why)) => {
            Step::fail("discovery", format!("the SSO is unreachable: {why}")).hint(format!(
                "is the SSO running at {given}? Check the host, the port and any proxy; a service \
             answers 503 (keys unavailable) until it can reach the SSO"
            ))
        }
        Err(DiscoveryError::NotFound { tried, last_error }) => {
            let step = Step::fail(
                "discovery",
                format!("no OpenID configuration found (tried {tried}; last: {last_error})"),
            );
            if given != api_auth && !given.ends_with("/api/auth") {
                step.hint(format!(
                    "Better Auth serves discovery under {api_auth}: use --issuer {api_auth} / \
                     set SSO_ISSUER={api_auth} (or the origin {})",
                    origin_of(given)
                ))
            } else {
                step.hint(
                    "is this the SSO? Better Auth needs the oidc-provider (or jwt) plugin to \
                     serve /.well-known/openid-configuration",
                )
            }
        }
        Err(DiscoveryError::IssuerMismatch {
            url,
            found,
            expected,
        }) => Step::fail(
            "discovery",
            format!("{url} names issuer {found:?}, expected {expected:?}"),
        )
        .hint(format!(
            "the SSO calls itself {found}: use --issuer {found} / set SSO_ISSUER={found} if that \
             is the SSO you mean; otherwise its BETTER_AUTH_URL differs from the URL you reach it \
             by (localhost vs 127.0.0.1, http vs https, a proxy)"
        )),
        Err(other) => Step::fail("discovery", other.to_string()),
    }
}

pub(super) fn skew_hint(off_by: i64, direction: &str) -> String {
    format!(
        "off by only {} (beyond the {LEEWAY} s leeway): if the token was just issued, this \
         machine's clock is {direction} the SSO's — clock skew; sync both with NTP",
        span_between(off_by, 0)
    )
}

pub(super) fn exp_step(c: &Map<String, Value>, now: i64) -> Step {
    match date_claim(c, "exp") {
        Err(()) => Step::fail("exp", "not a number").hint("exp must be a NumericDate (seconds)"),
        Ok(None) => Step::fail("exp", "missing").hint("ssoguard refuses tokens without exp"),
        Ok(Some(exp)) if now >= exp + LEEWAY => {
            let age = now - exp;
            let step = Step::fail(
                "exp",
                format!("expired {} ({})", relative(exp, now), rfc3339(exp)),
            );
            if age < SKEW_HINT {
                step.hint(format!(
                    "it expired just now — get a fresh token; or, {}",
                    skew_hint(age, "ahead of")
                ))
            } else {
                step.hint("get a fresh token (sign in again, or use the refresh token)")
            }
        }
        Ok(Some(exp)) if now >= exp => Step::ok(
            "exp",
            format!(
                "expired {} ago, accepted within the {LEEWAY} s leeway",
                span_between(now, exp)
            ),
        ),
        Ok(Some(exp)) => Step::ok(
            "exp",
            format!("expires {} ({})", relative(exp, now), rfc3339(exp)),
        ),
    }
}

pub(super) fn future_claim_step(
    name: &'static str,
    c: &Map<String, Value>,
    now: i64,
    what_fail: &str,
    what_ok: &str,
) -> Step {
    match date_claim(c, name) {
        Err(()) => Step::fail(name, "not a number").hint(format!("{name} must be a NumericDate")),
        Ok(None) => Step::ok(name, "not set"),
        Ok(Some(ts)) if ts > now + LEEWAY => {
            let ahead = ts - now;
            let step = Step::fail(
                name,
                format!("{what_fail} {} ({})", relative(ts, now), rfc3339(ts)),
            );
            if ahead < SKEW_HINT {
                step.hint(skew_hint(ahead, "behind"))
            } else {
                step.hint(format!(
                    "{name} is far in the future: the token was minted with a wrong {name}, or \
                     a clock is badly off"
                ))
            }
        }
        Ok(Some(ts)) if ts > now => Step::ok(
            name,
            format!(
                "{what_ok} {} in the future, accepted within the {LEEWAY} s leeway",
                span_between(ts, now)
            ),
        ),
        Ok(Some(ts)) => Step::ok(
            name,
            format!("{what_ok} {} ({})", relative(ts, now), rfc3339(ts)),
        ),
    }
}

pub(super) fn nbf_step(c: &Map<String, Value>, now: i64) -> Step {
    future_claim_step("nbf", c, now, "not valid until", "valid since")
}

pub(super) fn iat_step(c: &Map<String, Value>, now: i64) -> Step {
    future_claim_step("iat", c, now, "issued in the future:", "issued")
}

pub(super) fn iss_step(
    c: &Map<String, Value>,
    given: &str,
    meta: Option<&ProviderMetadata>,
) -> Step {
    let Some(expected) = meta.map(|m| m.issuer.as_str()) else {
        return match str_claim(c, "iss") {
            Some(iss) => {
                let step = Step::skip(
                    "iss",
                    format!("not checked (issuer unknown); the token says {iss}"),
                );
                if iss.trim_end_matches('/') == given {
                    step
                } else {
                    step.hint(format!(
                        "if the token is right about where it comes from, try --issuer {iss}"
                    ))
                }
            }
            None => Step::fail("iss", "missing"),
        };
    };
    let iss = match c.get("iss") {
        None | Some(Value::Null) => {
            return Step::fail("iss", "missing").hint("ssoguard refuses tokens without iss");
        }
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Step::fail("iss", "not a string"),
    };
    if iss == expected {
        return Step::ok("iss", iss);
    }
    let step = Step::fail(
        "iss",
        format!("token is from {iss:?}, expected {expected:?}"),
    );
    let api_auth = format!("{given}/api/auth");
    let hint = if iss == api_auth {
        format!(
            "the token's iss is {api_auth}: use --issuer {api_auth} / set SSO_ISSUER={api_auth}"
        )
    } else if bare_origin(iss).is_some()
        && expected == format!("{}/api/auth", iss.trim_end_matches('/'))
    {
        format!(
            "the SSO's issuer is {expected} (discovery found it only under /api/auth: use \
             --issuer {expected} / set SSO_ISSUER={expected}), but this token's iss is the bare \
             origin {iss}. Better Auth's jwt plugin (/api/auth/token, the set-auth-jwt header) \
             signs with iss = BETTER_AUTH_URL: send the OIDC id_token or access token instead, or \
             set the jwt plugin's issuer to {expected}"
        )
    } else if iss.trim_end_matches('/') == expected.trim_end_matches('/') {
        "they differ only by a trailing slash: iss is compared exactly; make the SSO's issuer \
         and BETTER_AUTH_URL agree"
            .to_string()
    } else {
        format!(
            "the token was issued by another SSO or environment (or BETTER_AUTH_URL differs from \
             the URL you reach the SSO by): point --issuer / SSO_ISSUER at {}",
            origin_of(iss)
        )
    };
    step.hint(hint)
}

pub(super) fn aud_step(c: &Map<String, Value>, expected: &[String]) -> Step {
    let aud = audiences(c);
    match c.get("aud") {
        None | Some(Value::Null) => {
            return Step::fail("aud", "missing").hint("ssoguard refuses tokens without aud");
        }
        Some(Value::String(_)) => {}
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
        Some(_) => return Step::fail("aud", "not a string or an array of strings"),
    }
    if expected.is_empty() {
        return Step::skip(
            "aud",
            format!(
                "not checked (pass --audience); token is for {}",
                quote_list(&aud)
            ),
        );
    }
    if let Some(hit) = expected.iter().find(|e| aud.contains(&e.as_str())) {
        return Step::ok("aud", hit.as_str());
    }
    let wanted: Vec<&str> = expected.iter().map(String::as_str).collect();
    let expected_text = if wanted.len() == 1 {
        format!("{:?}", wanted[0])
    } else {
        format!("one of {}", quote_list(&wanted))
    };
    Step::fail(
        "aud",
        format!(
            "token is for {}, expected {expected_text}",
            quote_list(&aud)
        ),
    )
    .hint(format!(
        "SSO_CLIENT_ID (--audience) must be the client id the token was issued for: the token \
         names {}. Set SSO_CLIENT_ID to it if this API belongs to that client, or have the \
         client request a token for {expected_text}",
        quote_list(&aud)
    ))
}

pub(super) fn sub_step(c: &Map<String, Value>) -> Step {
    match c.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => {
            let client = str_claim(c, "azp").or_else(|| str_claim(c, "client_id"));
            if client == Some(s.as_str()) {
                Step::ok("sub", format!("{s} (a client: client-credentials token)"))
            } else {
                Step::ok("sub", s.as_str())
            }
        }
        Some(Value::String(_)) | None | Some(Value::Null) => {
            Step::fail("sub", "missing or empty").hint("sub names the user; ssoguard requires it")
        }
        Some(_) => Step::fail("sub", "not a string"),
    }
}

/// The request a DPoP proof must be for; a token without `cnf.jkt` is refused before the proof
/// is read.
pub(super) fn dpop_step(request: &DpopRequest, claims: Option<&Map<String, Value>>) -> Step {
    if claims.is_some_and(|c| !c.contains_key("cnf")) {
        return Step::fail("dpop", "no cnf.jkt: the token is not DPoP-bound").hint(
            "a DPoP request needs a token the SSO bound to the proof's key (a client registered \
             with dpop_bound_access_tokens); send this one as Bearer (drop --dpop)",
        );
    }
    Step::ok(
        "dpop",
        format!("proof for {} {}", request.method(), request.htu()),
    )
}

/// The sender constraint: what the token's `cnf` asks for, against the way it was sent.
pub(super) fn cnf_step(claims: Option<&Map<String, Value>>, dpop: bool) -> Step {
    let Some(c) = claims else {
        return Step::ok("cnf", "as introspection describes the token");
    };
    let jkt = c
        .get("cnf")
        .and_then(|cnf| cnf.get("jkt"))
        .and_then(Value::as_str);
    match (c.get("cnf"), jkt, dpop) {
        (None, _, false) => Step::ok("cnf", "not sender-constrained (a bearer token)"),
        (None, _, true) => Step::fail("cnf", "no cnf.jkt: the token is not DPoP-bound"),
        (Some(_), Some(jkt), false) => Step::fail(
            "cnf",
            format!("DPoP-bound (cnf.jkt {jkt}) but sent as Bearer"),
        )
        .hint(
            "a DPoP-bound token is refused as a bearer token: pass its proof (--dpop, \
                 --method, --url)",
        ),
        (Some(_), Some(jkt), true) => Step::ok("cnf", format!("bound to the proof's key {jkt}")),
        (Some(_), None, _) => Step::fail("cnf", "sender-constrained by another method than DPoP")
            .hint("a cnf without jkt (mTLS's x5t#S256) cannot be proven here"),
    }
}

pub(super) fn claims_step(c: &Map<String, Value>) -> Step {
    match TokenClaims::from_json(&Value::Object(c.clone())) {
        Err(VerifyError::InvalidClaim(name))
            if !["exp", "nbf", "iat", "iss", "aud", "sub"].contains(&name) =>
        {
            Step::fail("claims", format!("invalid claim: {name}")).hint(format!(
                "{name} has a type ssoguard does not accept (role: string or array of strings; \
                 email_verified: boolean)"
            ))
        }
        Ok(claims) => {
            let mut parts = Vec::new();
            if let Some(email) = &claims.email {
                parts.push(format!("email {email}"));
            }
            if let Some(role) = claims.role() {
                parts.push(format!("role {role}"));
            }
            if let Some(scope) = &claims.scope {
                parts.push(format!("scope {scope:?}"));
            }
            if parts.is_empty() {
                Step::ok("claims", "types ok")
            } else {
                Step::ok("claims", parts.join(", "))
            }
        }
        Err(_) => Step::ok("claims", "types ok (registered claims: see their steps)"),
    }
}

pub(super) fn fallback_hint(e: &VerifyError) -> Option<String> {
    match e {
        VerifyError::Dpop(DpopError::Replayed) => Some(
            "proofs are single-use (jti): the client must make a fresh proof for every request"
                .into(),
        ),
        VerifyError::Dpop(DpopError::KeyMismatch) => Some(
            "the proof is signed by another key than the one the token is bound to (cnf.jkt): \
             the token was obtained with another DPoP key"
                .into(),
        ),
        VerifyError::Dpop(_) => Some(
            "a proof holds for one request: the same method, the URL without query (behind a \
             proxy: the public URL), iat within ±60 s of now, ath of this very token, signed by \
             the key in its jwk; make a fresh one for each request"
                .into(),
        ),
        VerifyError::Revoked => Some(
            "the token's session was signed out at the SSO (back-channel logout): sign in again"
                .into(),
        ),
        VerifyError::KeysUnavailable { .. } => Some(
            "the SSO's keys could not be loaded when the library tried: check that the SSO is up \
             and that --issuer / --jwks-url point at it, then retry"
                .into(),
        ),
        VerifyError::UnknownKey => {
            Some("the token's key is not in the SSO's key set (rotated, or another SSO)".into())
        }
        _ => None,
    }
}
