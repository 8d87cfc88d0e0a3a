//! `ssoguard verify`: the library's verdict, explained one step at a time.
//!
//! The verdict is [`ssoguard::Verifier::verify`]'s. The step lines are diagnostics computed
//! independently with the library's public pieces (discovery, `parse_jwks`, `parse_header`,
//! the claim rules) and then reconciled with the verdict: the step the library's error names is
//! marked decisive and failed, and a step the library got past is never shown as failed.

use crate::decode::{
    self, Decoded, Jwt, audiences, bare_origin, date_claim, origin_of, quote_list, str_claim,
};
use crate::input::redact;
use crate::inspect::LEEWAY;
use crate::net::{self, FetchError, Jwks, alg_list};
use crate::timefmt::{now, relative, rfc3339, span_between};
use serde::Serialize;
use serde_json::{Map, Value};
use ssoguard::discovery::{DiscoveryError, ProviderMetadata, fetch_provider_metadata};
use ssoguard::jwk::{JwksParseError, VerifyingKey};
use ssoguard::{Algorithm, TokenClaims, Verifier, VerifyError};
use std::fmt::Write as _;
use std::sync::Arc;

/// Clock differences under this many seconds are reported as probable clock skew.
const SKEW_HINT: i64 = 5 * 60;

/// What `verify` was asked to do.
#[derive(Debug, Clone)]
pub(crate) struct VerifyOptions {
    /// The token argument (`None` or `-`: stdin).
    pub(crate) token: Option<String>,
    /// Origin or issuer.
    pub(crate) issuer: String,
    /// Accepted audiences; empty: not checked.
    pub(crate) audiences: Vec<String>,
    /// Explicit JWKS URL.
    pub(crate) jwks_url: Option<String>,
    /// Allowed algorithms; empty: all.
    pub(crate) algorithms: Vec<Algorithm>,
}

/// The machine-readable report (`--json`); the text output carries the same content.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    valid: bool,
    exit_code: u8,
    issuer: Option<String>,
    audiences: Vec<String>,
    algorithms: Vec<String>,
    steps: Vec<Step>,
    error: Option<ErrorReport>,
    claims: Option<Value>,
}

#[derive(Debug, Serialize)]
struct Step {
    step: &'static str,
    ok: Option<bool>,
    decisive: bool,
    detail: String,
    hint: Option<String>,
}

#[derive(Debug, Serialize)]
struct ErrorReport {
    kind: String,
    message: String,
    step: Option<&'static str>,
}

impl Step {
    fn new(step: &'static str, ok: Option<bool>, detail: impl Into<String>) -> Self {
        Step {
            step,
            ok,
            decisive: false,
            detail: detail.into(),
            hint: None,
        }
    }
    fn ok(step: &'static str, detail: impl Into<String>) -> Self {
        Self::new(step, Some(true), detail)
    }
    fn fail(step: &'static str, detail: impl Into<String>) -> Self {
        Self::new(step, Some(false), detail)
    }
    fn skip(step: &'static str, detail: impl Into<String>) -> Self {
        Self::new(step, None, detail)
    }
    /// Adds a hint (a second one is appended as its own sentence).
    fn hint(mut self, hint: impl Into<String>) -> Self {
        let hint = hint.into();
        self.hint = Some(match self.hint.take() {
            Some(old) => format!("{old}. {hint}"),
            None => hint,
        });
        self
    }
}

/// The position of each step in the library's own order of checks.
fn library_order(step: &str) -> u8 {
    match step {
        "header" => 0,
        "algorithm" => 1,
        "discovery" => 2,
        "jwks" => 3,
        "kid" => 4,
        "signature" => 5,
        "sub" => 6,
        "exp" => 7,
        "nbf" => 8,
        "iat" => 9,
        "iss" => 10,
        "aud" => 11,
        _ => 12,
    }
}

/// Where in the library's order an error stops verification.
fn error_stage(err: &VerifyError) -> u8 {
    match err {
        VerifyError::UnsupportedAlgorithm => 1,
        VerifyError::KeysUnavailable { .. } => 2,
        VerifyError::UnknownKey | VerifyError::AmbiguousKey | VerifyError::AlgorithmMismatch => 4,
        VerifyError::InvalidSignature => 5,
        VerifyError::MissingClaim(_) | VerifyError::InvalidClaim(_) => 6,
        VerifyError::Expired => 7,
        VerifyError::NotYetValid => 8,
        VerifyError::IssuedInFuture => 9,
        VerifyError::IssuerMismatch => 10,
        VerifyError::AudienceMismatch => 11,
        VerifyError::SenderConstrained => 12,
        _ => 0,
    }
}

/// The step a library error names.
fn decisive_step(err: &VerifyError, discovery_failed: bool) -> &'static str {
    match err {
        VerifyError::UnsupportedAlgorithm | VerifyError::AlgorithmMismatch => "algorithm",
        VerifyError::UnknownKey | VerifyError::AmbiguousKey => "kid",
        VerifyError::InvalidSignature => "signature",
        VerifyError::Expired => "exp",
        VerifyError::NotYetValid => "nbf",
        VerifyError::IssuedInFuture => "iat",
        VerifyError::IssuerMismatch => "iss",
        VerifyError::AudienceMismatch => "aud",
        VerifyError::SenderConstrained | VerifyError::Inactive => "claims",
        VerifyError::MissingClaim(c) | VerifyError::InvalidClaim(c) => match *c {
            "exp" => "exp",
            "nbf" => "nbf",
            "iat" => "iat",
            "iss" => "iss",
            "aud" => "aud",
            "sub" => "sub",
            _ => "claims",
        },
        VerifyError::Malformed(m) if m.contains("payload") || m.contains("claims") => "claims",
        VerifyError::KeysUnavailable { .. } if discovery_failed => "discovery",
        VerifyError::KeysUnavailable { .. } => "jwks",
        _ => "header",
    }
}

/// Runs `verify`: (stdout, stderr, exit code), as text or JSON, with the token redacted.
pub(crate) async fn run(opts: &VerifyOptions, json: bool) -> (String, String, u8) {
    let token = crate::input::read_token(opts.token.as_deref());
    let report = report(opts, token.as_deref().map_err(String::as_str)).await;
    let code = report.exit_code;
    let (out, err) = if json {
        let json = serde_json::to_string_pretty(&report).unwrap_or_default();
        (format!("{json}\n"), String::new())
    } else {
        let text = render_text(&report, opts);
        if report.steps.is_empty() {
            (String::new(), text)
        } else {
            (text, String::new())
        }
    };
    match &token {
        Ok(token) => (redact(&out, token), redact(&err, token), code),
        Err(_) => (out, err, code),
    }
}

/// Builds the report: runs the library, runs the diagnostics, reconciles.
async fn report(opts: &VerifyOptions, token: Result<&str, &str>) -> Report {
    let allowed: Vec<Algorithm> = if opts.algorithms.is_empty() {
        Algorithm::ALL.to_vec()
    } else {
        opts.algorithms.clone()
    };
    let mut report = Report {
        valid: false,
        exit_code: 2,
        issuer: None,
        audiences: opts.audiences.clone(),
        algorithms: allowed.iter().map(|a| a.as_str().to_string()).collect(),
        steps: Vec::new(),
        error: None,
        claims: None,
    };
    let usage = |report: &mut Report, message: String| {
        report.error = Some(ErrorReport {
            kind: "usage".into(),
            message,
            step: None,
        });
    };
    let token = match token {
        Ok(t) => t,
        Err(e) => {
            usage(&mut report, e.to_string());
            return report;
        }
    };
    let mut builder = Verifier::builder()
        .authority(opts.issuer.clone())
        .algorithms(allowed.iter().copied());
    if let Some(url) = &opts.jwks_url {
        builder = builder.jwks_url(url.clone());
    }
    builder = if opts.audiences.is_empty() {
        builder.insecure_disable_audience_check()
    } else {
        builder.audiences(opts.audiences.iter().cloned())
    };
    let verifier = match builder.build() {
        Ok(v) => v,
        Err(e) => {
            usage(&mut report, e.to_string());
            return report;
        }
    };
    let decoded = match decode::decode(token) {
        Ok(d) => d,
        Err(reason) => {
            report.steps.push(Step {
                decisive: true,
                ..Step::fail("header", reason.clone()).hint(
                    "pass the raw token (the part after \"Bearer \"); `ssoguard inspect` shows \
                     what the input is",
                )
            });
            report.error = Some(ErrorReport {
                kind: "invalid_input".into(),
                message: reason,
                step: Some("header"),
            });
            return report;
        }
    };

    let verdict = verifier.verify(token).await;

    let diag = diagnose(opts, &allowed, &decoded).await;
    report.issuer = diag
        .meta
        .as_ref()
        .map(|m| m.issuer.clone())
        .or_else(|| verifier.issuer().map(|i| i.to_string()));
    let mut steps = diag.steps;
    reconcile(&mut steps, &verdict, diag.key_desc.as_deref());
    report.steps = steps;
    match verdict {
        Ok(claims) => {
            report.valid = true;
            report.exit_code = 0;
            report.claims = serde_json::to_value(&*claims).ok();
        }
        Err(err) => {
            report.exit_code = if err.is_unavailable() { 3 } else { 1 };
            let step = report.steps.iter().find(|s| s.decisive).map(|s| s.step);
            report.error = Some(ErrorReport {
                kind: err.kind().into(),
                message: err.to_string(),
                step,
            });
        }
    }
    report
}

struct Diagnosis {
    steps: Vec<Step>,
    meta: Option<ProviderMetadata>,
    key_desc: Option<String>,
}

async fn diagnose(opts: &VerifyOptions, allowed: &[Algorithm], decoded: &Decoded) -> Diagnosis {
    let given = opts.issuer.strip_suffix('/').unwrap_or(&opts.issuer);
    let mut steps = vec![header_step(decoded)];

    let discovery = fetch_provider_metadata(given, None).await;
    steps.push(discovery_step(given, &discovery, allowed));
    let meta = discovery.ok();

    let jwks_url = opts
        .jwks_url
        .clone()
        .or_else(|| meta.as_ref().map(|m| m.jwks_uri.clone()));
    let jwks = match &jwks_url {
        None => {
            steps.push(Step::skip("jwks", "not checked (discovery failed)"));
            None
        }
        Some(url) => {
            let fetched = net::get(url).await;
            let (step, jwks) = jwks_step(url, fetched, allowed);
            steps.push(step);
            jwks
        }
    };

    let jwt = match decoded {
        Decoded::Jwt(jwt) => Some(&**jwt),
        _ => None,
    };
    let (kid_step, alg_step, key_desc) = key_steps(jwt, jwks.as_ref(), allowed);
    steps.push(kid_step);
    steps.push(alg_step);
    steps.push(Step::skip("signature", "not checked"));

    match jwt {
        Some(jwt) => {
            let now = now();
            let c = &jwt.claims;
            steps.push(exp_step(c, now));
            steps.push(nbf_step(c, now));
            steps.push(iat_step(c, now));
            steps.push(iss_step(c, given, meta.as_ref()));
            steps.push(aud_step(c, &opts.audiences));
            steps.push(sub_step(c));
            steps.push(claims_step(c));
        }
        None => {
            for name in ["exp", "nbf", "iat", "iss", "aud", "sub", "claims"] {
                steps.push(Step::skip(name, "not checked (no JWT payload)"));
            }
        }
    }
    Diagnosis {
        steps,
        meta,
        key_desc,
    }
}

fn header_step(decoded: &Decoded) -> Step {
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

fn discovery_step(
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

fn jwks_step(
    url: &str,
    fetched: Result<Vec<u8>, FetchError>,
    allowed: &[Algorithm],
) -> (Step, Option<Jwks>) {
    let bytes = match fetched {
        Ok(b) => b,
        Err(e @ FetchError::Unreachable(_)) => {
            return (
                Step::fail("jwks", format!("{url} {e}"))
                    .hint("the discovery document answered but its jwks_uri does not: is it reachable from here (internal host name, proxy)?"),
                None,
            );
        }
        Err(e) => {
            return (
                Step::fail("jwks", format!("{url} {e}")).hint(
                    "check --jwks-url or the jwks_uri of the discovery document (Better Auth: \
                     <origin>/api/auth/jwks)",
                ),
                None,
            );
        }
    };
    let jwks = Jwks::parse(&bytes, allowed);
    let step = match (&jwks.allowed, &jwks.all) {
        (Ok(set), _) => {
            let s = if set.keys.len() == 1 { "" } else { "s" };
            let step = Step::ok(
                "jwks",
                format!(
                    "{} key{s} ({} skipped) from {url}",
                    set.keys.len(),
                    set.skipped.len()
                ),
            );
            if set.skipped.is_empty() {
                step
            } else {
                let reasons: Vec<String> = set
                    .skipped
                    .iter()
                    .take(5)
                    .map(|k| format!("{}: {}", k.kid.as_deref().unwrap_or("(no kid)"), k.reason))
                    .collect();
                step.hint(format!("skipped: {}", reasons.join("; ")))
            }
        }
        (Err(JwksParseError::NoUsableKeys { .. }), Ok(all)) => {
            let published: Vec<String> = all
                .keys
                .iter()
                .map(|k| match k.declared_alg() {
                    Some(a) => a.to_string(),
                    None => k.description().to_string(),
                })
                .collect();
            Step::fail(
                "jwks",
                format!(
                    "no key usable with {} ({} published: {})",
                    alg_list(allowed),
                    all.keys.len(),
                    published.join(", ")
                ),
            )
            .hint(format!(
                "the SSO publishes {} keys but only {} is allowed (--alg): allow its algorithm \
                 (Better Auth signs EdDSA by default)",
                published.join(", "),
                alg_list(allowed)
            ))
        }
        (Err(e), _) => Step::fail("jwks", format!("{url}: {e}")).hint(
            "jwks_uri must answer a JSON Web Key Set ({\"keys\":[…]}) — an HTML page usually \
             means a login redirect or the wrong path",
        ),
    };
    (step, Some(jwks))
}

/// The kid and algorithm steps, and the description of the key the token names.
fn key_steps(
    jwt: Option<&Jwt>,
    jwks: Option<&Jwks>,
    allowed: &[Algorithm],
) -> (Step, Step, Option<String>) {
    let Some(jwt) = jwt else {
        return (
            Step::skip("kid", "not checked (not a JWT)"),
            Step::skip("algorithm", "not checked (not a JWT)"),
            None,
        );
    };
    let Ok(header) = &jwt.header else {
        return (
            Step::skip("kid", "not checked (header refused)"),
            Step::skip("algorithm", "not checked (header refused)"),
            None,
        );
    };
    let alg_name = header.alg.as_str();
    let alg = Algorithm::from_jws_name(alg_name);
    let usable: Option<&[Arc<VerifyingKey>]> =
        jwks.and_then(|j| j.allowed.as_ref().ok().map(|s| s.keys.as_slice()));

    // kid
    let mut key: Option<&Arc<VerifyingKey>> = None;
    let kid_step = match (jwks, &header.kid) {
        (None, _) => Step::skip("kid", "not checked (no key set)"),
        (Some(jwks), Some(kid)) => {
            key = usable.and_then(|keys| keys.iter().find(|k| k.kid() == Some(kid.as_str())));
            let published = jwks.published_kids();
            match key {
                Some(k) => Step::ok("kid", format!("{kid} ({})", k.description())),
                None if published.iter().any(|p| p == kid) => {
                    let reason = jwks
                        .skipped
                        .iter()
                        .find(|k| k.kid.as_deref() == Some(kid))
                        .map_or_else(
                            || "not usable with the allowed algorithms".to_string(),
                            |k| k.reason.clone(),
                        );
                    Step::fail("kid", format!("{kid} is published but unusable: {reason}"))
                }
                None => Step::fail("kid", format!("{kid} is not in the JWKS")).hint(format!(
                    "known kids: {}. The key was rotated out (the token predates the rotation: \
                     get a fresh token), or the token comes from another SSO/environment (check \
                     --issuer)",
                    if published.is_empty() {
                        "(none)".to_string()
                    } else {
                        published.join(", ")
                    }
                )),
            }
        }
        (Some(_), None) => {
            let fitting: Vec<&Arc<VerifyingKey>> = match (usable, alg) {
                (Some(keys), Some(alg)) => keys
                    .iter()
                    .filter(|k| k.algorithms().any(|a| a == alg))
                    .collect(),
                _ => Vec::new(),
            };
            match fitting.as_slice() {
                [one] => {
                    key = Some(one);
                    Step::ok(
                        "kid",
                        format!(
                            "no kid; the only key fitting {alg_name} is {} ({})",
                            one.kid().unwrap_or("(no kid)"),
                            one.description()
                        ),
                    )
                }
                [] => Step::fail("kid", format!("no kid, and no key fits {alg_name}")),
                many => Step::fail(
                    "kid",
                    format!("no kid, and {} keys fit {alg_name}", many.len()),
                )
                .hint("the token must name its key (kid) when the SSO publishes several"),
            }
        }
    };

    // algorithm
    let alg_step = match alg {
        None if alg_name.eq_ignore_ascii_case("none") => Step::fail(
            "algorithm",
            "alg none: the token is unsigned",
        )
        .hint(
            "unsigned tokens are never accepted: anyone can write one. It did not come from the \
             SSO, or its signature was stripped",
        ),
        None if alg_name.to_ascii_uppercase().starts_with("HS") => Step::fail(
            "algorithm",
            format!("alg {alg_name} (HMAC) is never accepted"),
        )
        .hint(
            "HMAC needs a shared secret; SSO tokens must be signed with a public-key algorithm \
             (Better Auth: EdDSA by default)",
        ),
        None => Step::fail("algorithm", format!("alg {alg_name:?} is not supported"))
            .hint(format!("supported: {}", alg_list(&Algorithm::ALL))),
        Some(a) if !allowed.contains(&a) => Step::fail(
            "algorithm",
            format!(
                "token is signed with {a}, but only {} is allowed",
                alg_list(allowed)
            ),
        )
        .hint(if a == Algorithm::EdDSA {
            format!(
                "Better Auth signs EdDSA by default: allow it (drop --alg, or add --alg EdDSA; in \
                 the service, include Algorithm::EdDSA), or configure Better Auth's jwt plugin \
                 with keyPairConfig {{ alg: \"{}\" }}",
                allowed.first().map_or("RS256", |a| a.as_str())
            )
        } else {
            format!(
                "allow {a} (--alg {a}) if the SSO really signs with it, or configure the SSO to \
                 sign with {}",
                alg_list(allowed)
            )
        }),
        Some(a) => match key {
            Some(k) if !k.algorithms().any(|x| x == a) => Step::fail(
                "algorithm",
                format!(
                    "token says {a}, but key {} is {} and verifies {}",
                    k.kid().unwrap_or("(no kid)"),
                    k.description(),
                    k.algorithms()
                        .map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .hint(
                "a key's type and alg pin the algorithm: this token was not signed by that key \
                 (algorithm confusion, or a mislabelled key)",
            ),
            _ => Step::ok("algorithm", format!("{a}")),
        },
    };
    let key_desc =
        key.map(|k| format!("key {}, {}", k.kid().unwrap_or("(no kid)"), k.description()));
    (kid_step, alg_step, key_desc)
}

fn skew_hint(off_by: i64, direction: &str) -> String {
    format!(
        "off by only {} (beyond the {LEEWAY} s leeway): if the token was just issued, this \
         machine's clock is {direction} the SSO's — clock skew; sync both with NTP",
        span_between(off_by, 0)
    )
}

fn exp_step(c: &Map<String, Value>, now: i64) -> Step {
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

fn future_claim_step(
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

fn nbf_step(c: &Map<String, Value>, now: i64) -> Step {
    future_claim_step("nbf", c, now, "not valid until", "valid since")
}

fn iat_step(c: &Map<String, Value>, now: i64) -> Step {
    future_claim_step("iat", c, now, "issued in the future:", "issued")
}

fn iss_step(c: &Map<String, Value>, given: &str, meta: Option<&ProviderMetadata>) -> Step {
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

fn aud_step(c: &Map<String, Value>, expected: &[String]) -> Step {
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

fn sub_step(c: &Map<String, Value>) -> Step {
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

fn claims_step(c: &Map<String, Value>) -> Step {
    if c.contains_key("cnf") {
        return Step::fail("claims", "sender-constrained token (cnf)")
            .hint("a DPoP/mTLS-bound token cannot be used as a plain bearer token");
    }
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
            if let Some(role) = &claims.role {
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

/// Makes the steps agree with the library's verdict.
fn reconcile(
    steps: &mut [Step],
    verdict: &Result<Arc<TokenClaims>, VerifyError>,
    key_desc: Option<&str>,
) {
    let discovery_failed = steps
        .iter()
        .any(|s| s.step == "discovery" && s.ok == Some(false));
    let (stage, decisive) = match verdict {
        Ok(_) => (u8::MAX, None),
        Err(e) => (error_stage(e), Some(decisive_step(e, discovery_failed))),
    };
    let key = key_desc.unwrap_or("the issuer's key");
    for step in steps.iter_mut() {
        if step.step == "signature" {
            *step = match verdict {
                Err(VerifyError::InvalidSignature) => {
                    Step::fail("signature", format!("does not verify with {key}")).hint(
                        "the token was altered after signing, or signed by another key under the \
                         same kid (another environment's SSO, a copied keys file)",
                    )
                }
                _ if stage > 5 => Step::ok("signature", format!("valid ({key})")),
                _ => Step::skip("signature", "not checked (an earlier check failed)"),
            };
        }
        let order = library_order(step.step);
        if Some(step.step) == decisive {
            step.decisive = true;
            if step.ok != Some(false) {
                if let Err(e) = verdict {
                    step.detail = format!("{e} (the library's verdict)");
                    step.hint = fallback_hint(e);
                }
            }
            step.ok = Some(false);
        } else if order < stage && step.ok == Some(false) {
            step.ok = Some(true);
            step.detail
                .push_str(" — yet the library's own check passed (the SSO changed in between?)");
            step.hint = None;
        }
    }
    let verified = steps
        .iter()
        .any(|s| s.step == "signature" && s.ok == Some(true));
    if !verified {
        for step in steps.iter_mut() {
            if library_order(step.step) > 5 && step.ok.is_some() {
                step.detail.push_str(" [unverified]");
            }
        }
    }
}

fn fallback_hint(e: &VerifyError) -> Option<String> {
    match e {
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

/// Wraps `text` at word boundaries to `width` columns, every line indented by `indent`.
fn wrap(text: &str, indent: usize, width: usize) -> String {
    let pad = " ".repeat(indent);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && indent + line.chars().count() + 1 + word.chars().count() > width {
            lines.push(format!("{pad}{line}"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(format!("{pad}{line}"));
    }
    lines.join("\n")
}

/// The text form of a report.
fn render_text(report: &Report, opts: &VerifyOptions) -> String {
    let mut out = String::new();
    if report.steps.is_empty() {
        if let Some(e) = &report.error {
            let _ = writeln!(out, "error: {}", e.message);
        }
        return out;
    }
    let audience = if opts.audiences.is_empty() {
        "not checked".to_string()
    } else {
        opts.audiences.join(", ")
    };
    let algs = if opts.algorithms.is_empty() {
        "all".to_string()
    } else {
        report.algorithms.join(", ")
    };
    let _ = writeln!(
        out,
        "ssoguard verify: issuer {}, audience {audience}, algorithms {algs}",
        opts.issuer
    );
    for step in &report.steps {
        let mark = match step.ok {
            Some(true) => "✓",
            Some(false) => "✗",
            None => "–",
        };
        let label = if step.step == "jwks" {
            "JWKS"
        } else {
            step.step
        };
        let _ = writeln!(out, "  {label:<10} {mark} {}", step.detail);
        if let Some(hint) = &step.hint {
            let word = if step.ok == Some(false) {
                "hint"
            } else {
                "note"
            };
            let _ = writeln!(out, "{}", wrap(&format!("{word}: {hint}"), 15, 100));
        }
    }
    let verdict = match (&report.error, report.valid) {
        (_, true) => {
            let sub = report
                .claims
                .as_ref()
                .and_then(|c| c.get("sub"))
                .and_then(Value::as_str)
                .unwrap_or("?");
            format!("VALID: the library accepted the token (sub {sub})")
        }
        (Some(e), false) if report.exit_code == 3 => format!(
            "UNAVAILABLE: {} [{}] — the SSO's keys could not be loaded (exit 3)",
            e.message, e.kind
        ),
        (Some(e), false) if report.exit_code == 2 => {
            format!("NOT A TOKEN: {} (exit 2)", e.message)
        }
        (Some(e), false) => format!(
            "INVALID: {} [{} at step {}] (exit 1)",
            e.message,
            e.kind,
            e.step.unwrap_or("?")
        ),
        (None, false) => "INVALID".to_string(),
    };
    let _ = writeln!(out, "{verdict}");
    out
}
