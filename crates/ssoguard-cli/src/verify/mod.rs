//! `ssoguard verify`: the library's verdict, explained one step at a time.
//!
//! The steps, their order and whether each passed are [`ssoguard::Verifier::explain`]'s: the
//! library records every check as it runs it. This module only renders them, adding what the
//! token and the SSO's answers say about why a check failed (the hints).

use crate::decode::{self, Decoded, Jwt};
use crate::input::redact;
use crate::net::alg_list;
use crate::timefmt::now;
use ssoguard::ProviderMetadata;
use ssoguard::dpop::DpopRequest;
use ssoguard::{
    Algorithm, Check, Explanation, KeySetInfo, KeyStatus, Outcome, Verifier, VerifyError,
};
use std::sync::Arc;

mod hints;
mod options;
mod report;

pub(crate) use options::{DpopOptions, VerifyOptions};
use report::{ErrorReport, Report, Step, render_text};

use hints::{
    aud_step, claims_step, cnf_step, discovery_step, dpop_step, exp_step, fallback_hint,
    header_step, iat_step, iss_step, nbf_step, sub_step,
};

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
    // The proof is a credential too (single-use, but never echoed).
    let (out, err) = match &opts.dpop {
        Some(dpop) if !dpop.proof.is_empty() => {
            (redact(&out, &dpop.proof), redact(&err, &dpop.proof))
        }
        _ => (out, err),
    };
    match &token {
        Ok(token) => (redact(&out, token), redact(&err, token), code),
        Err(_) => (out, err, code),
    }
}

/// Builds the report: the library's [`Explanation`] of the token, each check rendered as one or
/// more steps with the diagnostics that say why.
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

    let dpop = match &opts.dpop {
        None => None,
        Some(dpop) => match dpop_request(dpop) {
            Ok(request) => Some((dpop.proof.as_str(), request)),
            Err(message) => {
                report.steps.clear();
                usage(&mut report, message);
                return report;
            }
        },
    };
    let explanation = match &dpop {
        Some((proof, request)) => verifier.explain_dpop(token, Some(proof), request).await,
        None => verifier.explain(token).await,
    };
    let context = Context {
        opts,
        allowed: &allowed,
        given: opts.issuer.strip_suffix('/').unwrap_or(&opts.issuer),
        jwt: match &decoded {
            Decoded::Jwt(jwt) => Some(&**jwt),
            _ => None,
        },
        meta: verifier.provider_metadata(),
        key_status: verifier.key_status(),
        now: now(),
        dpop: dpop.as_ref().map(|(_, request)| request),
    };
    report.issuer = context
        .meta
        .as_ref()
        .map(|m| m.issuer.clone())
        .or_else(|| verifier.issuer().map(|i| i.to_string()));
    report.steps = steps(&context, &decoded, &explanation).await;
    match explanation.verdict() {
        Ok(claims) => {
            report.valid = true;
            report.exit_code = 0;
            report.claims = serde_json::to_value(&**claims).ok();
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

/// What the step renderers need besides the explanation.
struct Context<'a> {
    opts: &'a VerifyOptions,
    allowed: &'a [Algorithm],
    /// The `--issuer` given, without a trailing slash.
    given: &'a str,
    jwt: Option<&'a Jwt>,
    meta: Option<Arc<ProviderMetadata>>,
    key_status: KeyStatus,
    now: i64,
    /// The DPoP request explained (`--dpop`).
    dpop: Option<&'a DpopRequest>,
}

/// The request `--method` and `--url` describe.
fn dpop_request(dpop: &DpopOptions) -> Result<DpopRequest, String> {
    if dpop.proof.is_empty() {
        return Err("--dpop is empty: pass the DPoP header's proof".into());
    }
    let method = http::Method::from_bytes(dpop.method.trim().as_bytes())
        .map_err(|_| format!("--method {:?} is not an HTTP method", dpop.method))?;
    DpopRequest::new(method, dpop.url.trim()).map_err(|_| {
        format!(
            "--url {:?}: an absolute http(s) URL, as the client called it",
            dpop.url
        )
    })
}

/// The steps, in the library's order of checks. The library's size and header checks are one
/// `header` step; its key check is three (`discovery`, `jwks`, `kid`: where the keys come from);
/// its claims check is shown per claim (`sub`, then `exp` … `aud` with their own checks) and the
/// sender-constraint, DPoP and revocation checks follow as `dpop`, `cnf`, `dpop-jti` and
/// `revoked`.
async fn steps(cx: &Context<'_>, decoded: &Decoded, ex: &Explanation) -> Vec<Step> {
    let outcome = |check| ex.outcome(check).cloned().unwrap_or(Outcome::NotReached);
    let header = match (outcome(Check::Size), outcome(Check::Header)) {
        (Outcome::Failed(e), _) | (_, Outcome::Failed(e)) => Outcome::Failed(e),
        (Outcome::Passed, Outcome::Passed) => Outcome::Passed,
        _ => Outcome::NotReached,
    };
    let mut steps = vec![
        rendered(header_step(decoded), &header),
        rendered(algorithm_step(cx), &outcome(Check::Algorithm)),
    ];
    steps.extend(key_steps(cx, ex, &outcome(Check::Key)).await);
    steps.push(signature_step(ex, &outcome(Check::Signature)));

    // The claims check decides sub and the claims' types; a wrongly typed registered claim is
    // shown on that claim's own step.
    let claims_check = outcome(Check::Claims);
    let named = match &claims_check {
        Outcome::Failed(VerifyError::MissingClaim(c) | VerifyError::InvalidClaim(c)) => {
            ["sub", "exp", "nbf", "iat", "iss", "aud"]
                .contains(c)
                .then_some(*c)
        }
        _ => None,
    };
    let of = |name: &str, check: Check| match (&claims_check, named) {
        (Outcome::Failed(_), Some(n)) if n == name => claims_check.clone(),
        (Outcome::Passed, _) if name == "sub" => Outcome::Passed,
        (Outcome::Passed, _) => outcome(check),
        _ => Outcome::NotReached,
    };
    let unverified = !matches!(outcome(Check::Signature), Outcome::Passed);
    let claim = |step: Step, outcome: Outcome| {
        if unverified && outcome == Outcome::NotReached {
            Step::skip(step.step, format!("{} [unverified]", step.detail))
        } else {
            rendered(step, &outcome)
        }
    };
    let claim_steps: [(Step, Outcome); 6] = match cx.jwt {
        Some(jwt) => {
            let c = &jwt.claims;
            [
                (sub_step(c), of("sub", Check::Claims)),
                (exp_step(c, cx.now), of("exp", Check::Expiry)),
                (nbf_step(c, cx.now), of("nbf", Check::NotBefore)),
                (iat_step(c, cx.now), of("iat", Check::IssuedAt)),
                (
                    iss_step(c, cx.given, cx.meta.as_deref()),
                    of("iss", Check::Issuer),
                ),
                (aud_step(c, &cx.opts.audiences), of("aud", Check::Audience)),
            ]
        }
        None => ["sub", "exp", "nbf", "iat", "iss", "aud"].map(|name| {
            (
                Step::skip(name, "not checked (no JWT payload)"),
                Outcome::NotReached,
            )
        }),
    };
    for (step, outcome) in claim_steps {
        steps.push(claim(step, outcome));
    }
    let claims_outcome = match (&claims_check, named) {
        (Outcome::Failed(_), None) => claims_check.clone(),
        (Outcome::Passed, _) => Outcome::Passed,
        _ => Outcome::NotReached,
    };
    let claims_step = match cx.jwt {
        Some(jwt) => claims_step(&jwt.claims),
        None => Step::skip("claims", "not checked (no JWT payload)"),
    };
    steps.push(claim(claims_step, claims_outcome));
    let claims = cx.jwt.map(|jwt| &jwt.claims);
    if let Some(request) = cx.dpop {
        steps.push(rendered(
            dpop_step(request, claims),
            &outcome(Check::DpopProof),
        ));
    }
    steps.push(rendered(
        cnf_step(claims, cx.dpop.is_some()),
        &outcome(Check::SenderConstraint),
    ));
    if cx.dpop.is_some() {
        steps.push(rendered(
            Step::ok(
                "dpop-jti",
                "the proof was not used before (now recorded as used)",
            ),
            &outcome(Check::DpopReplay),
        ));
    }
    steps.push(rendered(
        Step::ok(
            "revoked",
            "not signed out (this process has received no back-channel logout)",
        ),
        &outcome(Check::Revocation),
    ));
    steps
}

/// `diagnosis` (the CLI's own reading of the token, for its detail and hint) with the library's
/// outcome: the library decides pass or fail, the diagnosis says why.
fn rendered(diagnosis: Step, outcome: &Outcome) -> Step {
    match outcome {
        Outcome::Passed if diagnosis.ok == Some(false) => Step {
            detail: format!("{} — yet the library's check passed", diagnosis.detail),
            hint: None,
            ..Step::ok(diagnosis.step, "")
        },
        Outcome::Passed => Step {
            ok: Some(true),
            ..diagnosis
        },
        Outcome::Failed(e) if diagnosis.ok != Some(false) => Step {
            decisive: true,
            hint: fallback_hint(e),
            ..Step::fail(diagnosis.step, format!("{e} (the library's verdict)"))
        },
        Outcome::Failed(_) => Step {
            decisive: true,
            ..diagnosis
        },
        Outcome::Skipped => Step {
            ok: None,
            ..diagnosis
        },
        _ => Step::skip(diagnosis.step, "not checked (an earlier check failed)"),
    }
}

fn algorithm_step(cx: &Context<'_>) -> Step {
    let Some(Ok(header)) = cx.jwt.map(|jwt| &jwt.header) else {
        return Step::skip("algorithm", "not checked (no JWS header)");
    };
    let allowed = cx.allowed;
    let alg_name = header.alg.as_str();
    let alg = Algorithm::from_jws_name(alg_name);
    match alg {
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
        Some(a) => Step::ok("algorithm", format!("{a}")),
    }
}

/// The library's key check as three steps: where the keys come from (discovery, the JWKS) and
/// the key the token names.
async fn key_steps(cx: &Context<'_>, ex: &Explanation, outcome: &Outcome) -> [Step; 3] {
    let not_reached = || Step::skip("", "not checked (an earlier check failed)");
    let named = |name: &'static str, step: Step| Step { step: name, ..step };
    let jwks_url = cx
        .opts
        .jwks_url
        .clone()
        .or_else(|| cx.meta.as_ref().map(|m| m.jwks_uri.clone()))
        .unwrap_or_else(|| "the JWKS".into());
    match outcome {
        Outcome::Passed | Outcome::Failed(_) => {}
        _ => {
            return [
                named("discovery", not_reached()),
                named("jwks", not_reached()),
                named("kid", not_reached()),
            ];
        }
    }
    match outcome {
        Outcome::Failed(e @ VerifyError::KeysUnavailable { .. }) => {
            if cx.meta.is_none() {
                // Diagnose the discovery the library could not do, for the hint.
                let diagnosis = ProviderMetadata::fetch(cx.given, None).await;
                let step = match diagnosis {
                    Err(_) => discovery_step(cx.given, &diagnosis, cx.allowed),
                    Ok(_) => Step::fail(
                        "discovery",
                        format!(
                            "{e}: {}",
                            cx.key_status.last_error.as_deref().unwrap_or("no answer")
                        ),
                    ),
                };
                [
                    Step {
                        decisive: true,
                        ..step
                    },
                    Step::skip("jwks", "not checked (discovery failed)"),
                    named("kid", not_reached()),
                ]
            } else {
                let why = cx.key_status.last_error.as_deref().unwrap_or("no answer");
                let transport = ["timed out", "connection failed", "request failed"]
                    .iter()
                    .any(|t| why.contains(t));
                let hint = if transport {
                    "the discovery document answered but its jwks_uri does not: is it reachable \
                     from here (internal host name, proxy)?"
                } else {
                    "jwks_uri must answer a JSON Web Key Set ({\"keys\":[…]}) — an HTML page \
                     usually means a login redirect or the wrong path; check --jwks-url or the \
                     jwks_uri of the discovery document (Better Auth: <origin>/api/auth/jwks)"
                };
                [
                    discovery_ok(cx),
                    Step {
                        decisive: true,
                        ..Step::fail("jwks", why).hint(hint)
                    },
                    named("kid", not_reached()),
                ]
            }
        }
        _ => {
            let set = ex.key_set().cloned().unwrap_or_default();
            let s = if set.kids.len() == 1 { "" } else { "s" };
            let mut jwks = Step::ok(
                "jwks",
                format!(
                    "{} key{s} ({} skipped) from {jwks_url}",
                    set.kids.len(),
                    set.skipped.len()
                ),
            );
            if !set.skipped.is_empty() {
                let reasons: Vec<String> = set
                    .skipped
                    .iter()
                    .take(5)
                    .map(|k| format!("{}: {}", k.kid.as_deref().unwrap_or("(no kid)"), k.reason))
                    .collect();
                jwks = jwks.hint(format!("skipped: {}", reasons.join("; ")));
            }
            let kid = match outcome {
                Outcome::Failed(e) => Step {
                    decisive: true,
                    ..kid_failure(cx, &set, e)
                },
                _ => kid_ok(cx, ex),
            };
            [discovery_ok(cx), jwks, kid]
        }
    }
}

fn discovery_ok(cx: &Context<'_>) -> Step {
    match &cx.meta {
        Some(meta) => discovery_step(cx.given, &Ok((**meta).clone()), cx.allowed),
        None => Step::skip("discovery", "not used (--jwks-url)"),
    }
}

fn kid_ok(cx: &Context<'_>, ex: &Explanation) -> Step {
    let key = ex.key();
    let desc = key.map_or("", |k| k.description.as_str());
    let token_kid = cx
        .jwt
        .and_then(|jwt| jwt.header.as_ref().ok())
        .and_then(|h| h.kid.clone());
    match (token_kid, key) {
        (Some(kid), _) => Step::ok("kid", format!("{kid} ({desc})")),
        (None, Some(k)) => Step::ok(
            "kid",
            format!(
                "no kid; the only key fitting the token is {} ({desc})",
                k.kid.as_deref().unwrap_or("(no kid)")
            ),
        ),
        (None, None) => Step::ok("kid", "found"),
    }
}

fn kid_failure(cx: &Context<'_>, set: &KeySetInfo, e: &VerifyError) -> Step {
    let header = cx.jwt.and_then(|jwt| jwt.header.as_ref().ok());
    let token_kid = header.and_then(|h| h.kid.clone());
    let alg = header.map_or("?", |h| h.alg.as_str());
    match (e, token_kid) {
        (VerifyError::AmbiguousKey, _) => {
            Step::fail("kid", format!("no kid, and several keys fit {alg}"))
                .hint("the token must name its key (kid) when the SSO publishes several")
        }
        (VerifyError::AlgorithmMismatch, kid) => Step::fail(
            "kid",
            format!(
                "token says {alg}, but key {} does not verify {alg}",
                kid.as_deref().unwrap_or("(no kid)")
            ),
        )
        .hint(
            "a key's type and alg pin the algorithm: this token was not signed by that key \
             (algorithm confusion, or a mislabelled key)",
        ),
        (_, Some(kid)) => {
            if let Some(skipped) = set.skipped.iter().find(|k| k.kid.as_deref() == Some(&kid)) {
                return Step::fail(
                    "kid",
                    format!("{kid} is published but unusable: {}", skipped.reason),
                );
            }
            Step::fail("kid", format!("{kid} is not in the JWKS")).hint(format!(
                "known kids: {}. The key was rotated out (the token predates the rotation: get a \
                 fresh token), or the token comes from another SSO/environment (check --issuer)",
                if set.kids.is_empty() {
                    "(none)".to_string()
                } else {
                    set.kids.join(", ")
                }
            ))
        }
        (_, None) => Step::fail("kid", format!("no kid, and no key fits {alg}")),
    }
}

fn signature_step(ex: &Explanation, outcome: &Outcome) -> Step {
    let key = ex.key().map_or_else(
        || "the issuer's key".to_string(),
        |k| {
            format!(
                "key {}, {}",
                k.kid.as_deref().unwrap_or("(no kid)"),
                k.description
            )
        },
    );
    match outcome {
        Outcome::Passed => Step::ok("signature", format!("valid ({key})")),
        Outcome::Failed(_) => Step {
            decisive: true,
            ..Step::fail("signature", format!("does not verify with {key}")).hint(
                "the token was altered after signing, or signed by another key under the same \
                 kid (another environment's SSO, a copied keys file)",
            )
        },
        _ => Step::skip("signature", "not checked (an earlier check failed)"),
    }
}
