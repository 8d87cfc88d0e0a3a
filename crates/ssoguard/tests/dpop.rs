//! DPoP (RFC 9449 §4.3, §7.1) against the in-process test issuer: real tokens bound with
//! `cnf.jkt`, real ES256 and EdDSA proofs, one test per proof rule (accept and refuse).

use http::{HeaderMap, Method};
use serde_json::json;
use ssoguard::challenge::Scheme;
use ssoguard::dpop::{DpopConfig, DpopError, DpopRequest, Presented};
use ssoguard::testing::{DpopClient, SigningKey, TestIssuer, attacks};
use ssoguard::{
    Algorithm, Check, KeysUnavailable, Outcome, TokenCacheConfig, Verifier, VerifyError,
};
use std::sync::Arc;
use std::time::Duration;

const URL: &str = "https://api.example.com/api/me";

struct Setup {
    issuer: TestIssuer,
    verifier: Verifier,
    client: DpopClient,
    token: String,
    request: DpopRequest,
}

async fn setup_with(alg: Algorithm, config: DpopConfig) -> Setup {
    let issuer = TestIssuer::start().await.expect("issuer");
    let verifier = Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .dpop(config)
        .build()
        .expect("config");
    let client = DpopClient::generate(alg).expect("client key");
    let token = issuer
        .token()
        .header("typ", json!("at+jwt"))
        .cnf_jkt(&client.jkt())
        .sign();
    let request = DpopRequest::new(Method::GET, URL).expect("request");
    Setup {
        issuer,
        verifier,
        client,
        token,
        request,
    }
}

async fn setup(alg: Algorithm) -> Setup {
    setup_with(alg, DpopConfig::default()).await
}

impl Setup {
    async fn send(&self, proof: &str) -> Result<Arc<ssoguard::TokenClaims>, VerifyError> {
        self.verifier
            .verify_dpop(&self.token, Some(proof), &self.request)
            .await
    }
}

fn dpop(e: DpopError) -> Result<(), VerifyError> {
    Err(VerifyError::Dpop(e))
}

async fn outcome(s: &Setup, proof: &str) -> Result<(), VerifyError> {
    s.send(proof).await.map(|_| ())
}

#[tokio::test]
async fn a_valid_proof_is_accepted_es256_and_eddsa() {
    for alg in [Algorithm::ES256, Algorithm::EdDSA] {
        let s = setup(alg).await;
        let proof = s.client.proof("GET", URL, &s.token).sign();
        let claims = s
            .send(&proof)
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(claims.sub, "user-1");
    }
}

#[tokio::test]
async fn rule_typ_must_be_dpop_jwt() {
    let s = setup(Algorithm::ES256).await;
    for typ in [json!("JWT"), json!("at+jwt"), json!(null)] {
        let proof = s
            .client
            .proof("GET", URL, &s.token)
            .header("typ", typ.clone())
            .sign();
        let expected = if typ.is_null() {
            // A null typ is not a string: the strict header parse refuses it.
            dpop(DpopError::Malformed(
                "header is not a JSON object with a string alg",
            ))
        } else {
            dpop(DpopError::WrongType)
        };
        assert_eq!(outcome(&s, &proof).await, expected, "{typ}");
    }
    let no_typ = s
        .client
        .proof("GET", URL, &s.token)
        .without_header("typ")
        .sign();
    assert_eq!(outcome(&s, &no_typ).await, dpop(DpopError::WrongType));
}

#[tokio::test]
async fn rule_shape_strict_header_no_crit() {
    let s = setup(Algorithm::ES256).await;
    let proof = s
        .client
        .proof("GET", URL, &s.token)
        .header("crit", json!(["exp"]))
        .sign();
    assert_eq!(
        outcome(&s, &proof).await,
        dpop(DpopError::Malformed("crit is not supported"))
    );
    assert_eq!(
        outcome(&s, "not-a-jws").await,
        dpop(DpopError::Malformed("a JWS has three dot-separated parts"))
    );
    let huge = format!("{}.{}.sig", "e".repeat(9000), "p");
    assert_eq!(
        outcome(&s, &huge).await,
        dpop(DpopError::Malformed("proof too large"))
    );
}

#[tokio::test]
async fn rule_alg_must_be_configured_and_asymmetric() {
    // EdDSA is Better Auth's default list; a service may narrow it.
    let s = setup_with(
        Algorithm::EdDSA,
        DpopConfig::default().algorithms([Algorithm::ES256]),
    )
    .await;
    let proof = s.client.proof("GET", URL, &s.token).sign();
    assert_eq!(outcome(&s, &proof).await, dpop(DpopError::Algorithm));
    for alg in ["none", "HS256"] {
        let proof = s
            .client
            .proof("GET", URL, &s.token)
            .header("alg", json!(alg))
            .sign();
        assert_eq!(
            outcome(&s, &proof).await,
            dpop(DpopError::Algorithm),
            "{alg}"
        );
    }
}

#[tokio::test]
async fn rule_jwk_must_be_a_public_key_fitting_alg() {
    let s = setup(Algorithm::ES256).await;
    let missing = s
        .client
        .proof("GET", URL, &s.token)
        .without_header("jwk")
        .sign();
    assert_eq!(
        outcome(&s, &missing).await,
        dpop(DpopError::Key("the header has no jwk object"))
    );
    let mut private = s.client.public_jwk();
    private["d"] = json!("c2VjcmV0");
    let proof = s
        .client
        .proof("GET", URL, &s.token)
        .header("jwk", private)
        .sign();
    assert_eq!(
        outcome(&s, &proof).await,
        dpop(DpopError::Key("the jwk contains private key material"))
    );
    let symmetric = json!({"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0"});
    let proof = s
        .client
        .proof("GET", URL, &s.token)
        .header("jwk", symmetric)
        .sign();
    assert_eq!(
        outcome(&s, &proof).await,
        dpop(DpopError::Key("the jwk contains private key material"))
    );
    // An Ed25519 key under alg ES256.
    let ed = DpopClient::generate(Algorithm::EdDSA).expect("key");
    let proof = s
        .client
        .proof("GET", URL, &s.token)
        .header("jwk", ed.public_jwk())
        .sign();
    assert_eq!(
        outcome(&s, &proof).await,
        dpop(DpopError::Key(
            "not a usable public key for the proof's alg"
        ))
    );
}

#[tokio::test]
async fn rule_signature_must_verify_with_the_jwk() {
    let s = setup(Algorithm::ES256).await;
    let attacker = SigningKey::generate(Algorithm::ES256, "attacker").expect("key");
    let proof = s.client.proof("GET", URL, &s.token).sign_with(&attacker);
    assert_eq!(outcome(&s, &proof).await, dpop(DpopError::Signature));
    // A valid proof whose payload is swapped for another request's.
    let good = s.client.proof("GET", URL, &s.token).sign();
    let other = s.client.proof("POST", URL, &s.token).sign();
    let g: Vec<&str> = good.split('.').collect();
    let o: Vec<&str> = other.split('.').collect();
    let spliced = format!("{}.{}.{}", g[0], o[1], g[2]);
    assert_eq!(outcome(&s, &spliced).await, dpop(DpopError::Signature));
}

#[tokio::test]
async fn rule_required_claims_present() {
    let s = setup(Algorithm::EdDSA).await;
    for claim in ["htm", "htu", "iat", "jti", "ath"] {
        let proof = s.client.proof("GET", URL, &s.token).without(claim).sign();
        assert_eq!(
            outcome(&s, &proof).await,
            dpop(DpopError::MissingClaim(claim)),
            "{claim}"
        );
    }
    let proof = s
        .client
        .proof("GET", URL, &s.token)
        .claim("iat", json!("now"))
        .sign();
    assert_eq!(
        outcome(&s, &proof).await,
        dpop(DpopError::Malformed("iat is not an integer"))
    );
}

#[tokio::test]
async fn rule_htm_is_the_request_method() {
    let s = setup(Algorithm::ES256).await;
    for htm in ["POST", "get", "PUT"] {
        let proof = s.client.proof(htm, URL, &s.token).sign();
        assert_eq!(outcome(&s, &proof).await, dpop(DpopError::Method), "{htm}");
    }
}

#[tokio::test]
async fn rule_htu_is_the_request_url_normalised() {
    let s = setup(Algorithm::ES256).await;
    for same in [
        "HTTPS://API.EXAMPLE.COM/api/me",
        "https://api.example.com:443/api/me",
        "https://api.example.com/api/%6De",
        "https://api.example.com/api/me?query=ignored",
    ] {
        let proof = s.client.proof("GET", same, &s.token).sign();
        assert_eq!(outcome(&s, &proof).await, Ok(()), "{same}");
    }
    for other in [
        "https://api.example.com/api/other",
        "http://api.example.com/api/me",
        "https://api.example.com:8443/api/me",
        "https://evil.example.com/api/me",
        "https://api.example.com/api/me#fragment",
        "/api/me",
    ] {
        let proof = s.client.proof("GET", other, &s.token).sign();
        assert_eq!(outcome(&s, &proof).await, dpop(DpopError::Url), "{other}");
    }
}

#[tokio::test]
async fn rule_iat_within_the_window() {
    let s = setup_with(
        Algorithm::ES256,
        DpopConfig::default().iat_window(Duration::from_secs(30)),
    )
    .await;
    for (offset, ok) in [
        (-25, true),
        (25, true),
        (-40, false),
        (40, false),
        (-3600, false),
    ] {
        let proof = s.client.proof("GET", URL, &s.token).iat_in(offset).sign();
        let expected = if ok {
            Ok(())
        } else {
            dpop(DpopError::IssuedAt)
        };
        assert_eq!(outcome(&s, &proof).await, expected, "iat {offset}");
    }
}

#[tokio::test]
async fn rule_ath_is_the_hash_of_the_token_sent() {
    let s = setup(Algorithm::EdDSA).await;
    let other_token = s.issuer.token().cnf_jkt(&s.client.jkt()).sign();
    let proof = s.client.proof("GET", URL, &other_token).sign();
    assert_eq!(outcome(&s, &proof).await, dpop(DpopError::TokenHash));
}

#[tokio::test]
async fn rule_cnf_jkt_is_the_proof_keys_thumbprint() {
    let s = setup(Algorithm::ES256).await;
    let other = DpopClient::generate(Algorithm::ES256).expect("key");
    let proof = other.proof("GET", URL, &s.token).sign();
    assert_eq!(outcome(&s, &proof).await, dpop(DpopError::KeyMismatch));
    let explanation = s
        .verifier
        .explain_dpop(&s.token, Some(&proof), &s.request)
        .await;
    assert_eq!(
        explanation.failure(),
        Some((
            Check::SenderConstraint,
            &VerifyError::Dpop(DpopError::KeyMismatch)
        ))
    );
}

#[tokio::test]
async fn rule_a_proof_is_used_once() {
    let s = setup(Algorithm::EdDSA).await;
    let proof = s.client.proof("GET", URL, &s.token).sign();
    assert_eq!(outcome(&s, &proof).await, Ok(()));
    assert_eq!(outcome(&s, &proof).await, dpop(DpopError::Replayed));
    // The same jti on another request is another proof (the key scopes method and URL).
    let proof = s.client.proof("GET", URL, &s.token).sign();
    assert_eq!(outcome(&s, &proof).await, Ok(()));
}

#[tokio::test]
async fn a_missing_or_repeated_proof_header_is_refused() {
    let s = setup(Algorithm::ES256).await;
    assert_eq!(
        s.verifier
            .verify_dpop(&s.token, None, &s.request)
            .await
            .map(|_| ()),
        dpop(DpopError::MissingProof)
    );
    let mut headers = HeaderMap::new();
    let auth = format!("DPoP {}", s.token);
    headers.insert("authorization", auth.parse().expect("value"));
    headers.append("dpop", "a.b.c".parse().expect("value"));
    headers.append("dpop", "d.e.f".parse().expect("value"));
    assert_eq!(
        Presented::from_headers(&headers),
        Err(VerifyError::Dpop(DpopError::MultipleProofs))
    );
}

#[tokio::test]
async fn no_downgrade_a_bound_token_as_bearer_is_refused_even_when_cached() {
    let s = setup(Algorithm::ES256).await;
    let proof = s.client.proof("GET", URL, &s.token).sign();
    assert_eq!(outcome(&s, &proof).await, Ok(()));
    assert_eq!(
        s.verifier.token_cache_len(),
        1,
        "the DPoP verification is cached"
    );
    assert_eq!(
        s.verifier.verify(&s.token).await.map(|_| ()),
        Err(VerifyError::SenderConstrained)
    );
    // And a cached token never skips the proof: a replayed proof still fails.
    assert_eq!(outcome(&s, &proof).await, dpop(DpopError::Replayed));
}

#[tokio::test]
async fn a_bearer_token_sent_with_dpop_is_refused() {
    let s = setup(Algorithm::ES256).await;
    let bearer = s.issuer.token().sign();
    let proof = s.client.proof("GET", URL, &bearer).sign();
    assert_eq!(
        s.verifier
            .verify_dpop(&bearer, Some(&proof), &s.request)
            .await
            .map(|_| ()),
        Err(VerifyError::DpopUnboundToken)
    );
    // Bound another way (mTLS `x5t#S256`): not provable with DPoP.
    let mtls = s
        .issuer
        .token()
        .claim("cnf", json!({"x5t#S256": "abc"}))
        .sign();
    let proof = s.client.proof("GET", URL, &mtls).sign();
    assert_eq!(
        s.verifier
            .verify_dpop(&mtls, Some(&proof), &s.request)
            .await
            .map(|_| ()),
        Err(VerifyError::SenderConstrained)
    );
}

#[tokio::test]
async fn a_service_can_require_dpop() {
    let s = setup_with(Algorithm::ES256, DpopConfig::default().required(true)).await;
    let bearer = s.issuer.token().sign();
    assert_eq!(
        s.verifier.verify(&bearer).await.map(|_| ()),
        Err(VerifyError::DpopRequired)
    );
    let proof = s.client.proof("GET", URL, &s.token).sign();
    assert_eq!(outcome(&s, &proof).await, Ok(()));
}

#[tokio::test]
async fn the_token_is_checked_before_the_proof() {
    let s = setup(Algorithm::ES256).await;
    let expired = s
        .issuer
        .token()
        .cnf_jkt(&s.client.jkt())
        .exp_in(-3600)
        .sign();
    let proof = s
        .client
        .proof("GET", URL, &expired)
        .claim("jti", json!("fixed"))
        .sign();
    assert_eq!(
        s.verifier
            .verify_dpop(&expired, Some(&proof), &s.request)
            .await
            .map(|_| ()),
        Err(VerifyError::Expired)
    );
    // Its jti was not used up by a request refused for its token.
    let proof2 = s
        .client
        .proof("GET", URL, &s.token)
        .claim("jti", json!("fixed"))
        .sign();
    assert_eq!(outcome(&s, &proof2).await, Ok(()));
}

#[tokio::test]
async fn a_full_replay_store_answers_503_not_let_in() {
    let store = Arc::new(ssoguard::dpop::MemoryReplayStore::new(1));
    let s = setup_with(Algorithm::ES256, DpopConfig::default().replay_store(store)).await;
    let mut refused = None;
    for _ in 0..64 {
        let proof = s.client.proof("GET", URL, &s.token).sign();
        if let Err(e) = outcome(&s, &proof).await {
            refused = Some(e);
            break;
        }
    }
    match refused {
        Some(VerifyError::KeysUnavailable {
            reason: KeysUnavailable::DpopReplayStore,
            ..
        }) => {}
        other => panic!("expected 503 from a full store, got {other:?}"),
    }
}

#[tokio::test]
async fn explain_traces_every_dpop_check_in_order() {
    let s = setup(Algorithm::EdDSA).await;
    let proof = s.client.proof("GET", URL, &s.token).sign();
    let explanation = s
        .verifier
        .explain_dpop(&s.token, Some(&proof), &s.request)
        .await;
    let checks: Vec<Check> = explanation.checks().iter().map(|(c, _)| *c).collect();
    assert_eq!(checks, Check::DPOP_JWT.to_vec());
    assert!(
        explanation
            .checks()
            .iter()
            .all(|(_, o)| *o == Outcome::Passed),
        "{:?}",
        explanation.checks()
    );
    let replayed = s
        .verifier
        .explain_dpop(&s.token, Some(&proof), &s.request)
        .await;
    assert_eq!(
        replayed.failure(),
        Some((Check::DpopReplay, &VerifyError::Dpop(DpopError::Replayed)))
    );
    assert_eq!(
        replayed.outcome(Check::Revocation),
        Some(&Outcome::NotReached)
    );
}

#[tokio::test]
async fn presented_routes_bearer_and_dpop() {
    let s = setup(Algorithm::ES256).await;
    let bearer = s.issuer.token().sign();
    let claims = s
        .verifier
        .verify_presented(Presented::Bearer(&bearer), &s.request)
        .await
        .expect("bearer");
    assert_eq!(claims.sub, "user-1");
    let proof = s.client.proof("GET", URL, &s.token).sign();
    let presented = Presented::Dpop {
        token: &s.token,
        proof: Some(&proof),
    };
    assert!(
        s.verifier
            .verify_presented(presented, &s.request)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_opaque_token_is_bound_through_introspection() {
    let issuer = TestIssuer::start().await.expect("issuer");
    issuer.set_introspection_client("rs", "secret");
    let verifier = Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .introspection(ssoguard::IntrospectionConfig::new("rs", "secret"))
        .token_cache(TokenCacheConfig::default().enabled(false))
        .build()
        .expect("config");
    let client = DpopClient::generate(Algorithm::ES256).expect("key");
    let token = issuer.issue_opaque(json!({
        "sub": "user-1", "aud": "test-client", "iss": issuer.issuer(),
        "exp": 4_000_000_000_i64, "cnf": {"jkt": client.jkt()},
    }));
    let request = DpopRequest::new(Method::GET, URL).expect("request");
    let proof = client.proof("GET", URL, &token).sign();
    assert!(
        verifier
            .verify_dpop(&token, Some(&proof), &request)
            .await
            .is_ok()
    );
    assert_eq!(
        verifier.verify(&token).await.map(|_| ()),
        Err(VerifyError::SenderConstrained)
    );
    let other = DpopClient::generate(Algorithm::ES256).expect("key");
    let proof = other.proof("GET", URL, &token).sign();
    assert_eq!(
        verifier
            .verify_dpop(&token, Some(&proof), &request)
            .await
            .map(|_| ()),
        dpop(DpopError::KeyMismatch)
    );
}

#[tokio::test]
async fn the_dpop_attack_catalogue_is_refused() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let verifier = Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .build()
        .expect("config");
    let cases = attacks::dpop_attack_cases(&issuer, "test-client", URL).expect("catalogue");
    assert!(cases.len() >= 15);
    for case in cases {
        let request = DpopRequest::new(case.method.clone(), URL).expect("request");
        let presented = match case.scheme {
            Scheme::Bearer => Presented::Bearer(&case.token),
            Scheme::Dpop => Presented::Dpop {
                token: &case.token,
                proof: case.proof.as_deref(),
            },
        };
        if case.replay {
            assert!(
                verifier.verify_presented(presented, &request).await.is_ok(),
                "{}: first use",
                case.name
            );
        }
        let answer = verifier.verify_presented(presented, &request).await;
        assert_eq!(
            answer.map(|_| ()),
            Err(case.expected.clone()),
            "{}",
            case.name
        );
        let status = case.expected.status_code();
        assert_eq!(status, 401, "{}", case.name);
    }
}
