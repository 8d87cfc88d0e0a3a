//! `ssoguard jwks`: the discovery summary and the key table, skipped keys with reasons.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn jwks_prints_the_discovery_summary_and_the_key_table() {
    let issuer = TestIssuer::start_all_algorithms().await.expect("issuer");
    let run = ssoguard(&["jwks", "--issuer", issuer.origin()], "").await;
    run.assert_code(0)
        .assert_contains(&format!("issuer                 {}", issuer.issuer()))
        .assert_contains(&format!("jwks_uri               {}", issuer.jwks_url()))
        .assert_contains("token_endpoint")
        .assert_contains("introspection_endpoint")
        .assert_contains("10 usable keys, 0 skipped")
        .assert_contains("KID")
        .assert_contains("CRV/BITS");
    for kid in [
        "key-eddsa-1",
        "key-es256-1",
        "key-es512-1",
        "key-rs256-1",
        "key-ps256-1",
    ] {
        assert!(run.stdout.contains(kid), "{kid}\n{}", run.stdout);
    }
    let rsa = run
        .stdout
        .lines()
        .find(|l| l.contains("key-rs256-1"))
        .expect("row");
    assert!(
        rsa.contains("RSA") && rsa.contains("2048 bits") && rsa.contains("RS256"),
        "{rsa}"
    );
    let ec = run
        .stdout
        .lines()
        .find(|l| l.contains("key-es512-1"))
        .expect("row");
    assert!(ec.contains("P-521"), "{ec}");

    // As a verifier allowing RS256 only would see it.
    let run = ssoguard(&["jwks", "--issuer", issuer.issuer(), "--alg", "RS256"], "").await;
    run.assert_code(0)
        .assert_contains("1 usable key with RS256, 9 skipped")
        .assert_contains("skipped keys:")
        .assert_contains("key-eddsa-1: alg EdDSA is not in the allowed algorithms");
}

#[tokio::test(flavor = "multi_thread")]
async fn jwks_lists_skipped_keys_with_reasons_and_fails_when_none_is_usable() {
    let key = SigningKey::generate(Algorithm::EdDSA, "good").expect("key");
    let doc = json!({"keys": [
        {"kty": "OKP", "crv": "X25519", "kid": "ecdh", "x": "AA"},
        key.public_jwk(),
        {"kty": "RSA", "kid": "tiny", "n": "AQAB", "e": "AQAB", "use": "sig"},
        key.public_jwk(),
    ]});
    let routes = axum::Router::new().route(
        "/custom/jwks",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc) }
        }),
    );
    let issuer = TestIssuer::start_with_keys("127.0.0.1:0", vec![key], routes)
        .await
        .expect("issuer");
    let custom = format!("{}/custom/jwks", issuer.origin());
    let run = ssoguard(
        &["jwks", "--issuer", issuer.origin(), "--jwks-url", &custom],
        "",
    )
    .await;
    run.assert_code(0)
        .assert_contains("1 usable key, 3 skipped")
        .assert_contains("ecdh: unsupported curve \"X25519\"")
        .assert_contains("tiny: RSA modulus of 24 bits")
        .assert_contains("good: duplicate kid");

    let run = ssoguard(&["jwks", "--issuer", issuer.origin(), "--alg", "ES256"], "").await;
    run.assert_code(3)
        .assert_contains("good: alg EdDSA is not in the allowed algorithms")
        .assert_contains("no usable signing key");

    let closed = format!("http://127.0.0.1:{}", free_port());
    ssoguard(&["jwks", "--issuer", &closed], "")
        .await
        .assert_code(3)
        .assert_contains("unreachable");
    ssoguard(&["jwks", "--issuer", "nope"], "")
        .await
        .assert_code(2);
}
