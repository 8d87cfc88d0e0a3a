//! DPoP and back-channel logout attacks: forged, replayed and misdirected proofs and logout
//! tokens, each with the refusal it must produce. Shared by the library's tests and the
//! services' whole-app suites, like [`super::attack_cases`].

use crate::algorithm::Algorithm;
use crate::challenge::Scheme;
use crate::dpop::DpopError;
use crate::error::VerifyError;
use crate::logout::{BACKCHANNEL_LOGOUT_EVENT, LogoutError};
use crate::testing::{DpopClient, SigningKey, TestIssuer};
use serde_json::json;

/// One DPoP attack: a request and the error the verifier must answer with.
#[derive(Debug, Clone)]
pub struct DpopAttackCase {
    /// What the attack is.
    pub name: &'static str,
    /// How the token is presented (`Authorization: <scheme> <token>`).
    pub scheme: Scheme,
    /// The access token.
    pub token: String,
    /// The `DPoP` header, if any.
    pub proof: Option<String>,
    /// The request's method (the URL is the one given to [`dpop_attack_cases`]).
    pub method: http::Method,
    /// When true, send the request once first (it succeeds), then again: the second answer is
    /// `expected`.
    pub replay: bool,
    /// The error the verifier must answer with.
    pub expected: VerifyError,
}

/// The DPoP attack catalogue for requests to `url` (`GET`, the service's public URL), with
/// tokens of `issuer` for `audience`. `None` when the issuer lacks an EdDSA key.
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn dpop_attack_cases(
    issuer: &TestIssuer,
    audience: &str,
    url: &str,
) -> Option<Vec<DpopAttackCase>> {
    let client = DpopClient::generate(Algorithm::ES256).ok()?;
    let attacker = DpopClient::generate(Algorithm::ES256).ok()?;
    let attacker_key = SigningKey::generate(Algorithm::ES256, "attacker").ok()?;
    let bound = issuer.token().aud(audience).cnf_jkt(&client.jkt()).sign();
    let other_bound = issuer
        .token()
        .aud(audience)
        .cnf_jkt(&client.jkt())
        .sub("other")
        .sign();
    let unbound = issuer.token().aud(audience).sign();
    let proof = || client.proof("GET", url, &bound);
    let other_url = format!("{}-other", url.trim_end_matches('/'));
    let dpop = |e: DpopError| VerifyError::Dpop(e);
    let case = |name, proof: Option<String>, expected| DpopAttackCase {
        name,
        scheme: Scheme::Dpop,
        token: bound.clone(),
        proof,
        method: http::Method::GET,
        replay: false,
        expected,
    };
    let cases = vec![
        DpopAttackCase {
            scheme: Scheme::Bearer,
            ..case(
                "DPoP-bound token sent as Bearer (downgrade)",
                None,
                VerifyError::SenderConstrained,
            )
        },
        DpopAttackCase {
            replay: true,
            ..case(
                "replayed proof",
                Some(proof().sign()),
                dpop(DpopError::Replayed),
            )
        },
        DpopAttackCase {
            method: http::Method::POST,
            ..case(
                "proof for GET used on POST",
                Some(proof().sign()),
                dpop(DpopError::Method),
            )
        },
        case(
            "proof for another URL",
            Some(client.proof("GET", &other_url, &bound).sign()),
            dpop(DpopError::Url),
        ),
        case(
            "proof signed by another key than its jwk",
            Some(proof().sign_with(&attacker_key)),
            dpop(DpopError::Signature),
        ),
        case(
            "proof by another key than the token is bound to",
            Some(attacker.proof("GET", url, &bound).sign()),
            dpop(DpopError::KeyMismatch),
        ),
        case(
            "stale proof (iat an hour ago)",
            Some(proof().iat_in(-3600).sign()),
            dpop(DpopError::IssuedAt),
        ),
        case(
            "proof from the future (iat in an hour)",
            Some(proof().iat_in(3600).sign()),
            dpop(DpopError::IssuedAt),
        ),
        case(
            "proof carrying the ath of another token",
            Some(client.proof("GET", url, &other_bound).sign()),
            dpop(DpopError::TokenHash),
        ),
        case(
            "proof without ath",
            Some(proof().without("ath").sign()),
            dpop(DpopError::MissingClaim("ath")),
        ),
        case(
            "proof with alg none",
            Some(proof().header("alg", json!("none")).sign()),
            dpop(DpopError::Algorithm),
        ),
        case(
            "proof with an HMAC alg and a symmetric jwk",
            Some(
                proof()
                    .header("alg", json!("HS256"))
                    .header("jwk", json!({"kty": "oct", "k": "c2VjcmV0"}))
                    .sign(),
            ),
            dpop(DpopError::Algorithm),
        ),
        case(
            "proof whose jwk carries a private key",
            Some({
                let mut jwk = client.public_jwk();
                jwk["d"] = json!("c2VjcmV0");
                proof().header("jwk", jwk).sign()
            }),
            dpop(DpopError::Key("the jwk contains private key material")),
        ),
        case(
            "proof with typ JWT",
            Some(proof().header("typ", json!("JWT")).sign()),
            dpop(DpopError::WrongType),
        ),
        case(
            "DPoP scheme without a proof",
            None,
            dpop(DpopError::MissingProof),
        ),
        DpopAttackCase {
            token: unbound.clone(),
            ..case(
                "unbound token sent with the DPoP scheme",
                Some(client.proof("GET", url, &unbound).sign()),
                VerifyError::DpopUnboundToken,
            )
        },
    ];
    Some(cases)
}

/// One back-channel logout attack: a logout token and the refusal it must produce. Nothing
/// may be revoked by it.
#[derive(Debug, Clone)]
pub struct LogoutAttackCase {
    /// What the attack is.
    pub name: &'static str,
    /// The logout token.
    pub token: String,
    /// When true, post it once first (accepted), then again: the second answer is `expected`.
    pub replay: bool,
    /// The refusal.
    pub expected: LogoutError,
}

/// The back-channel logout attack catalogue for a receiver expecting `audience`, each naming
/// session `sid` (so a test can check that session is still valid afterwards, except after
/// the replay case's first, accepted, post).
#[must_use]
pub fn logout_attack_cases(
    issuer: &TestIssuer,
    audience: &str,
    sid: &str,
) -> Option<Vec<LogoutAttackCase>> {
    let ed = issuer.key(Algorithm::EdDSA)?;
    let forger = SigningKey::generate(Algorithm::EdDSA, ed.kid()).ok()?;
    let lt = || {
        issuer
            .logout_token()
            .aud(audience)
            .claim("sid", json!(sid))
            .alg(Algorithm::EdDSA)
    };
    let token = |e| LogoutError::Token(e);
    let claim = |e| LogoutError::Claim(e);
    let case = |name, token, expected| LogoutAttackCase {
        name,
        token,
        replay: false,
        expected,
    };
    let none_header = base64_url(&json!({"alg": "none", "typ": "logout+jwt"}).to_string());
    let payload = lt().claims().clone();
    let none_token = format!(
        "{none_header}.{}.",
        base64_url(&serde_json::Value::Object(payload).to_string())
    );
    Some(vec![
        case(
            "logout token signed by a forger under the SSO's kid",
            lt().sign_with(&forger),
            token(VerifyError::InvalidSignature),
        ),
        case(
            "logout token with alg none",
            none_token,
            token(VerifyError::UnsupportedAlgorithm),
        ),
        case(
            "logout token carrying a nonce",
            lt().claim("nonce", json!("n-0S6_WzA2Mj")).sign(),
            claim("a logout token must not contain nonce"),
        ),
        case(
            "logout token for another client, replayed here",
            lt().aud("another-client").sign(),
            token(VerifyError::AudienceMismatch),
        ),
        case(
            "logout token of another issuer",
            lt().iss("https://sso.evil.example").sign(),
            token(VerifyError::IssuerMismatch),
        ),
        case(
            "an ID token posted as a logout token",
            issuer
                .token()
                .aud(audience)
                .claim("sid", json!(sid))
                .claim("jti", json!("id-token-jti"))
                .sign(),
            claim("events lacks the back-channel logout event"),
        ),
        case(
            "an access token (typ at+jwt) posted as a logout token",
            lt().header("typ", json!("at+jwt")).sign(),
            token(VerifyError::UnexpectedTokenType),
        ),
        case(
            "stale logout token (iat an hour ago)",
            lt().iat_in(-3600).exp_in(-3480).sign(),
            claim("iat is too old"),
        ),
        case(
            "logout token whose event member is not an object",
            lt().claim("events", json!({ BACKCHANNEL_LOGOUT_EVENT: true }))
                .sign(),
            claim("events lacks the back-channel logout event"),
        ),
        case(
            "logout token without jti",
            lt().without("jti").sign(),
            claim("jti missing"),
        ),
        LogoutAttackCase {
            replay: true,
            ..case("replayed logout token", lt().sign(), LogoutError::Replayed)
        },
    ])
}

fn base64_url(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}
