//! Table-driven verification tests against the in-process test issuer: real keys, real
//! signatures, real HTTP discovery and JWKS fetches.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use ssoguard::testing::{TestIssuer, attacks};
use ssoguard::{Algorithm, Check, Outcome, TokenCacheConfig, Verifier, VerifyError};
use std::time::Duration;

fn verifier(issuer: &TestIssuer) -> Verifier {
    Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .build()
        .expect("valid config")
}

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

fn parts(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

#[tokio::test]
async fn every_algorithm_verifies_and_rejects_tampering() {
    let issuer = TestIssuer::start_all_algorithms().await.expect("issuer");
    let v = verifier(&issuer);
    for alg in Algorithm::ALL {
        let token = issuer.token().sub("alice").alg(alg).sign();
        let claims = v
            .verify(&token)
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(claims.sub, "alice", "{alg}");

        // Payload altered, signature kept.
        let p = parts(&token);
        let forged_payload = b64(
            &json!({"iss": issuer.issuer(), "sub": "mallory", "aud": "test-client",
            "exp": 4_000_000_000_i64})
            .to_string(),
        );
        let forged = format!("{}.{}.{}", p[0], forged_payload, p[2]);
        assert_eq!(
            v.verify(&forged).await.unwrap_err(),
            VerifyError::InvalidSignature,
            "{alg}"
        );

        // One flipped signature bit.
        let mut sig = URL_SAFE_NO_PAD.decode(&p[2]).expect("b64");
        sig[3] ^= 0x01;
        let flipped = format!("{}.{}.{}", p[0], p[1], URL_SAFE_NO_PAD.encode(sig));
        assert_eq!(
            v.verify(&flipped).await.unwrap_err(),
            VerifyError::InvalidSignature,
            "{alg}"
        );

        // Signature stripped.
        let stripped = format!("{}.{}.", p[0], p[1]);
        assert_eq!(
            v.verify(&stripped).await.unwrap_err(),
            VerifyError::InvalidSignature,
            "{alg}"
        );
    }
    // Discovery once, JWKS once, for all of that.
    assert_eq!(issuer.jwks_fetches(), 1);
    assert_eq!(issuer.discovery_fetches(), 1);
}

#[tokio::test]
async fn ed25519_alg_name_is_accepted() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let v = verifier(&issuer);
    let key = issuer.key(Algorithm::EdDSA).expect("key");
    let now = chrono_now();
    let header = json!({"alg": "Ed25519", "kid": key.kid()});
    let payload =
        json!({"iss": issuer.issuer(), "sub": "u", "aud": "test-client", "exp": now + 60});
    let token = key.sign_compact(&header, &payload);
    assert_eq!(v.verify(&token).await.expect("Ed25519 name").sub, "u");
}

fn chrono_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("fits")
}

#[tokio::test]
async fn claim_rules() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let v = verifier(&issuer);
    let iss = issuer.issuer().to_string();
    let cases: Vec<(&str, String, Result<(), VerifyError>)> = vec![
        ("valid", issuer.token().sign(), Ok(())),
        (
            "expired",
            issuer.token().exp_in(-120).sign(),
            Err(VerifyError::Expired),
        ),
        (
            "expired within leeway",
            issuer.token().exp_in(-30).sign(),
            Ok(()),
        ),
        (
            "not yet valid",
            issuer.token().nbf_in(600).sign(),
            Err(VerifyError::NotYetValid),
        ),
        (
            "nbf within leeway",
            issuer.token().nbf_in(30).sign(),
            Ok(()),
        ),
        (
            "issued in the future",
            issuer.token().iat_in(600).sign(),
            Err(VerifyError::IssuedInFuture),
        ),
        (
            "exp missing",
            issuer.token().without("exp").sign(),
            Err(VerifyError::MissingClaim("exp")),
        ),
        (
            "exp a string",
            issuer.token().claim("exp", json!("4000000000")).sign(),
            Err(VerifyError::InvalidClaim("exp")),
        ),
        (
            "nbf a string",
            issuer.token().claim("nbf", json!("1")).sign(),
            Err(VerifyError::InvalidClaim("nbf")),
        ),
        (
            "wrong issuer",
            issuer.token().iss("http://evil.example/api/auth").sign(),
            Err(VerifyError::IssuerMismatch),
        ),
        (
            "origin as issuer",
            issuer.token().iss(issuer.origin()).sign(),
            Err(VerifyError::IssuerMismatch),
        ),
        (
            "trailing-slash issuer",
            issuer.token().iss(&format!("{iss}/")).sign(),
            Err(VerifyError::IssuerMismatch),
        ),
        (
            "missing issuer",
            issuer.token().without("iss").sign(),
            Err(VerifyError::MissingClaim("iss")),
        ),
        (
            "wrong audience",
            issuer.token().aud("web").sign(),
            Err(VerifyError::AudienceMismatch),
        ),
        (
            "missing audience",
            issuer.token().without("aud").sign(),
            Err(VerifyError::MissingClaim("aud")),
        ),
        (
            "audience array with ours",
            issuer
                .token()
                .claim("aud", json!(["x", "test-client"]))
                .sign(),
            Ok(()),
        ),
        (
            "audience array without ours",
            issuer.token().claim("aud", json!(["x", "y"])).sign(),
            Err(VerifyError::AudienceMismatch),
        ),
        (
            "missing sub",
            issuer.token().without("sub").sign(),
            Err(VerifyError::MissingClaim("sub")),
        ),
        (
            "DPoP-bound",
            issuer.token().claim("cnf", json!({"jkt": "abc"})).sign(),
            Err(VerifyError::SenderConstrained),
        ),
        (
            "unknown crit",
            issuer
                .token()
                .header("crit", json!(["exp-ext"]))
                .header("exp-ext", json!(1))
                .sign(),
            Err(VerifyError::UnsupportedCritical),
        ),
    ];
    for (name, token, expected) in cases {
        let got = v.verify(&token).await.map(|_| ());
        assert_eq!(got, expected, "{name}");
        if let Err(e) = got {
            assert_eq!(e.status_code(), 401, "{name}");
            assert!(
                !e.to_string().contains(&token[..20]),
                "{name}: message echoes the token"
            );
        }
    }
}

#[tokio::test]
async fn attack_catalogue_is_refused_with_the_precise_error() {
    let issuer = TestIssuer::start_all_algorithms().await.expect("issuer");
    let v = verifier(&issuer);
    let cases = attacks::attack_cases(&issuer, "test-client").expect("catalogue");
    assert!(cases.len() >= 45, "{} cases", cases.len());
    for case in cases {
        let got = v.verify(&case.token).await.map(|_| ());
        assert_eq!(got, Err(case.expected.clone()), "{}", case.name);
    }
    for (name, token) in attacks::valid_cases(&issuer, "test-client") {
        assert!(v.verify(&token).await.is_ok(), "{name}");
    }
}

#[tokio::test]
async fn missing_kid_is_accepted_only_when_one_key_fits() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let v = verifier(&issuer);
    assert!(v.verify(&issuer.token().no_kid().sign()).await.is_ok());

    let issuer = TestIssuer::start().await.expect("issuer");
    issuer.rotate(Algorithm::EdDSA).expect("second key");
    let v = verifier(&issuer);
    assert_eq!(
        v.verify(&issuer.token().no_kid().sign()).await.unwrap_err(),
        VerifyError::AmbiguousKey
    );
}

#[tokio::test]
async fn algorithm_allowlist_is_enforced() {
    let issuer = TestIssuer::start_all_algorithms().await.expect("issuer");
    let v = Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .algorithms([Algorithm::RS256])
        .build()
        .expect("config");
    assert!(
        v.verify(&issuer.token().alg(Algorithm::RS256).sign())
            .await
            .is_ok()
    );
    // The seed's RS256-only setup against a default (EdDSA) Better Auth token.
    assert_eq!(
        v.verify(&issuer.token().alg(Algorithm::EdDSA).sign())
            .await
            .unwrap_err(),
        VerifyError::UnsupportedAlgorithm
    );
}

#[tokio::test]
async fn discovery_requires_the_issuer_to_match() {
    let issuer = TestIssuer::start().await.expect("issuer");
    // Configured issuer differs from what the document says: keys never load, 503-class error.
    let v = Verifier::builder()
        .authority(issuer.origin())
        .issuer(issuer.origin()) // the classic mistake: origin instead of <origin>/api/auth
        .audience("test-client")
        .build()
        .expect("config");
    let err = v.verify(&issuer.token().sign()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(
        v.key_status()
            .last_error
            .unwrap_or_default()
            .contains("names issuer")
    );

    // Explicit issuer + JWKS URL: discovery is skipped entirely.
    let v = Verifier::builder()
        .issuer(issuer.issuer())
        .jwks_url(issuer.jwks_url())
        .audience("test-client")
        .build()
        .expect("config");
    let before = issuer.discovery_fetches();
    assert!(v.verify(&issuer.token().sign()).await.is_ok());
    assert_eq!(issuer.discovery_fetches(), before);

    // The issuer URL itself works as the authority too.
    let v = Verifier::builder()
        .authority(issuer.issuer())
        .audience("test-client")
        .build()
        .expect("config");
    assert!(v.verify(&issuer.token().sign()).await.is_ok());
    assert_eq!(v.issuer().as_deref(), Some(issuer.issuer()));
}

#[tokio::test]
async fn verified_token_cache_hits_and_rechecks_expiry() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let v = Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .leeway(Duration::ZERO)
        .build()
        .expect("config");
    // Keys first: `exp` has whole-second granularity, so the token may have only just over a
    // second left, and the five verifications below must not spend it on discovery and JWKS.
    v.warm_up().await.expect("keys");
    let token = issuer.token().exp_in(2).sign();
    for _ in 0..5 {
        assert!(v.verify(&token).await.is_ok());
    }
    assert_eq!(v.metrics().cache_hits, 4);
    assert_eq!(v.token_cache_len(), 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        v.verify(&token).await.expect_err("expired"),
        VerifyError::Expired
    );
    // Failures are never cached as successes (the last byte differs, the length is the same).
    let bad = format!("{}x", &token[..token.len() - 1]);
    assert_eq!(bad.len(), token.len());
    for _ in 0..2 {
        assert!(v.verify(&bad).await.is_err());
    }
    let valid = issuer.token().sign();
    assert!(v.verify(&valid).await.is_ok());
    // Same length, one signature character changed: decodes, fails the signature check.
    let mut forged = valid.clone().into_bytes();
    let at = forged.len() - 10;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    assert_eq!(
        v.verify(&forged).await.expect_err("forged"),
        VerifyError::InvalidSignature
    );
    assert!(v.verify(&valid).await.is_ok());
    assert_eq!(v.metrics().cache_hits, 5);
}

/// A cache that is off, or one that refuses an entry (too large for its memory bound), verifies
/// every time.
#[tokio::test]
async fn without_a_cache_entry_every_request_is_verified() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let build = |cache: TokenCacheConfig| {
        Verifier::builder()
            .authority(issuer.origin())
            .audience("test-client")
            .token_cache(cache)
            .build()
            .expect("config")
    };
    let off = build(TokenCacheConfig::default().enabled(false));
    // 1 KiB per shard: less than any entry's estimate.
    let tiny = build(TokenCacheConfig::default().max_bytes(16 * 1024));
    let token = issuer.token().sign();
    for v in [&off, &tiny] {
        for _ in 0..3 {
            assert!(v.verify(&token).await.is_ok());
        }
        let m = v.metrics();
        assert_eq!((m.verified, m.cache_hits), (3, 0));
    }
    assert_eq!(tiny.token_cache_len(), 0);
}

/// A cache entry lives no longer than min(`exp`, the cache TTL); after that the token is verified
/// again from scratch. Each verifier has its own cache.
#[tokio::test]
async fn verified_token_cache_respects_its_ttl_and_its_verifier() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let build = || {
        Verifier::builder()
            .authority(issuer.origin())
            .audience("test-client")
            .token_cache(TokenCacheConfig::default().ttl(Duration::from_secs(1)))
            .build()
            .expect("config")
    };
    let (v, other) = (build(), build());
    let token = issuer.token().exp_in(3600).sign();
    for _ in 0..3 {
        assert!(v.verify(&token).await.is_ok());
    }
    assert_eq!(v.metrics().cache_hits, 2);
    // Another verifier (another issuer or audience, say) does its own checks.
    assert!(other.verify(&token).await.is_ok());
    assert_eq!(other.metrics().cache_hits, 0);
    assert!(v.verify(&token).await.is_ok());
    assert_eq!(v.metrics().cache_hits, 3);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(v.verify(&token).await.is_ok());
    assert_eq!(
        (v.metrics().cache_hits, v.metrics().verified),
        (3, 5),
        "after the TTL the cache does not answer"
    );
}

/// Large claim sets are held to the cache's memory bound, not just its entry bound; every token
/// still verifies, and a token evicted for room verifies again from scratch.
#[tokio::test]
async fn verified_token_cache_is_bounded_in_memory() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let max_bytes = 1 << 20;
    let v = Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .token_cache(TokenCacheConfig::default().max_bytes(max_bytes))
        .build()
        .expect("config");
    // ~4 KiB of claims per token (a ~5.5 KiB token; the default size cap is 8 KiB).
    let big = "x".repeat(4 * 1024);
    let tokens: Vec<String> = (0..200)
        .map(|i| {
            issuer
                .token()
                .sub(&format!("user-{i}"))
                .claim("profile", json!(big))
                .sign()
        })
        .collect();
    for token in &tokens {
        assert!(v.verify(token).await.is_ok());
        assert!(
            v.token_cache_bytes() <= max_bytes,
            "{}",
            v.token_cache_bytes()
        );
    }
    // Each entry is estimated at ~9.4 KiB: 200 would be ~1.8 MiB; at most 1 MiB is held.
    let held = v.token_cache_len();
    assert!((16..200).contains(&held), "{held} entries");
    let before = v.metrics();
    for token in &tokens {
        assert!(v.verify(token).await.is_ok());
    }
    let after = v.metrics();
    assert!(after.cache_hits - before.cache_hits <= held as u64);
    assert!(
        after.cache_hits - before.cache_hits < 200,
        "evicted tokens verified again"
    );
}

#[tokio::test]
async fn static_jwks_pins_keys_without_fetching() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let key = issuer.key(Algorithm::EdDSA).expect("key");
    let jwks = json!({"keys": [key.public_jwk()]}).to_string();
    let v = Verifier::builder()
        .issuer(issuer.issuer())
        .audience("test-client")
        .static_jwks(jwks)
        .build()
        .expect("config");
    assert!(v.verify(&issuer.token().sign()).await.is_ok());
    assert_eq!(
        v.verify(&issuer.token().kid("rotated").sign())
            .await
            .unwrap_err(),
        VerifyError::UnknownKey
    );
    assert_eq!((issuer.jwks_fetches(), issuer.discovery_fetches()), (0, 0));
    assert!(v.key_status().ready);
    let err = Verifier::builder()
        .issuer(issuer.issuer())
        .audience("a")
        .static_jwks("{}")
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        ssoguard::ConfigError::InvalidSetting {
            setting: "static_jwks",
            ..
        }
    ));
}

/// `explain` is `verify` step by step: for every attack it fails at one check with the very error
/// `verify` answers, every check before it passed and every check after it was not reached; a
/// valid token passes every check of `Check::JWT` in that order.
#[tokio::test]
async fn explain_records_every_check_in_order_and_agrees_with_verify() {
    let issuer = TestIssuer::start_all_algorithms().await.expect("issuer");
    let v = verifier(&issuer);
    for case in attacks::attack_cases(&issuer, "test-client").expect("catalogue") {
        let explanation = v.explain(&case.token).await;
        let checks: Vec<Check> = explanation.checks().iter().map(|(c, _)| *c).collect();
        assert_eq!(checks, Check::JWT.to_vec(), "{}", case.name);
        let (failed, error) = explanation.failure().expect(case.name);
        assert_eq!(error, &case.expected, "{}", case.name);
        assert_eq!(
            explanation.verdict().err(),
            Some(&case.expected),
            "{}",
            case.name
        );
        let at = checks
            .iter()
            .position(|c| *c == failed)
            .expect("on the path");
        for (i, (check, outcome)) in explanation.checks().iter().enumerate() {
            let expected = match i.cmp(&at) {
                std::cmp::Ordering::Less => Outcome::Passed,
                std::cmp::Ordering::Equal => Outcome::Failed(case.expected.clone()),
                std::cmp::Ordering::Greater => Outcome::NotReached,
            };
            assert_eq!(outcome, &expected, "{}: {}", case.name, check.name());
        }
    }
    for (name, token) in attacks::valid_cases(&issuer, "test-client") {
        let explanation = v.explain(&token).await;
        assert!(
            explanation
                .checks()
                .iter()
                .all(|(_, o)| *o == Outcome::Passed),
            "{name}: {:?}",
            explanation.checks()
        );
        assert!(explanation.key().is_some(), "{name}");
        assert!(explanation.key_set().is_some_and(|s| !s.kids.is_empty()));
        let claims = explanation.verdict().expect("valid");
        assert_eq!(**claims, *v.verify(&token).await.expect(&name));
    }
    // explain bypasses the cache and leaves the metrics alone.
    assert_eq!(v.metrics().cache_hits, 0);
}

/// A check turned off by configuration is reported as skipped, not as passed.
#[tokio::test]
async fn explain_reports_a_disabled_check_as_skipped() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let v = Verifier::builder()
        .authority(issuer.origin())
        .insecure_disable_audience_check()
        .build()
        .expect("config");
    let explanation = v.explain(&issuer.token().aud("web").sign()).await;
    assert_eq!(
        explanation.outcome(Check::Audience),
        Some(&Outcome::Skipped)
    );
    assert!(explanation.verdict().is_ok());
}
