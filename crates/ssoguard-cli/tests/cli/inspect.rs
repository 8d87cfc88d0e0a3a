//! `ssoguard inspect`: decoding without verifying, warnings, token kinds, garbage refused, and
//! the token never echoed.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn inspect_decodes_an_id_token_with_dates_and_relative_times() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let token = issuer
        .token()
        .sub("alice")
        .email("alice@example.com")
        .sign();
    let run = ssoguard(&["inspect"], format!("Bearer {token}\n")).await;
    run.assert_code(0)
        .assert_no_leak(&token)
        .assert_contains("UNVERIFIED")
        .assert_contains("OIDC id_token")
        .assert_contains("\"sub\": \"alice\"")
        .assert_contains("\"kid\": \"key-eddsa-1\"")
        .assert_contains("expires in")
        .assert_contains("issued ")
        .assert_contains("lifetime  1 h")
        .assert_contains("(none)");
    let exp = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("exp  "))
        .expect("exp line");
    assert!(exp.contains("Z  expires in"), "{exp}");
    // The argument form works too.
    ssoguard(&["inspect", &token], "")
        .await
        .assert_code(0)
        .assert_no_leak(&token);
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_warns_about_dangerous_headers_and_claims() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let mut claims = claims_for(&issuer);
    claims.as_object_mut().expect("object").remove("exp");
    let token = format!(
        "{}.{}.c2ln",
        enc(
            &json!({"alg": "HS256", "jku": "http://evil.example/jwks", "crit": ["b64"], "x5c": []})
        ),
        enc(&claims)
    );
    let run = ssoguard(&["inspect", "-"], token.clone()).await;
    run.assert_code(0)
        .assert_no_leak(&token)
        .assert_contains("alg HS256 is HMAC")
        .assert_contains("no kid")
        .assert_contains("no exp")
        .assert_contains("header carries jku")
        .assert_contains("header carries x5c")
        .assert_contains("crit [\"b64\"]");

    let token = issuer.token().exp_in(3 * 86_400).sign();
    ssoguard(&["inspect"], token.clone())
        .await
        .assert_code(0)
        .assert_contains("longer than 24 h")
        .assert_no_leak(&token);

    let token = format!(
        "{}.{}.",
        enc(&json!({"alg": "none"})),
        enc(&claims_for(&issuer))
    );
    ssoguard(&["inspect"], token.clone())
        .await
        .assert_code(0)
        .assert_contains("alg \"none\"")
        .assert_contains("empty signature")
        .assert_no_leak(&token);
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_tells_token_kinds_apart() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let at = issuer
        .token()
        .sub("svc")
        .claim("azp", json!("svc"))
        .header("typ", json!("at+jwt"))
        .sign();
    ssoguard(&["inspect"], at.clone())
        .await
        .assert_code(0)
        .assert_contains("client-credentials access token (header typ at+jwt");
    let user_at = issuer.token().header("typ", json!("at+jwt")).sign();
    ssoguard(&["inspect"], user_at)
        .await
        .assert_contains("JWT access token (header typ at+jwt");
    let plugin = issuer
        .token()
        .iss("http://localhost:3000")
        .aud("http://localhost:3000")
        .sign();
    ssoguard(&["inspect"], plugin)
        .await
        .assert_contains("Better Auth jwt-plugin token");
    let cc = issuer
        .token()
        .sub("svc")
        .claim("client_id", json!("svc"))
        .sign();
    ssoguard(&["inspect"], cc)
        .await
        .assert_contains("client-credentials token");
    let opaque = "Xk3rP9qLm2Vt7YwZa8Bc4Dn6Ef1Gh5Jk";
    ssoguard(&["inspect"], opaque)
        .await
        .assert_code(0)
        .assert_contains("opaque token (32 characters)")
        .assert_contains("introspection")
        .assert_no_leak(opaque);
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_refuses_garbage_with_exit_2_and_never_panics() {
    let mut random = vec![0u8; 512];
    // Deterministic bytes covering every value, non-UTF-8 included.
    for (i, b) in random.iter_mut().enumerate() {
        *b = u8::try_from((i * 167 + 13) % 256).expect("byte");
    }
    let header = enc(&json!({"alg": "EdDSA"}));
    let bad_json_payload = format!("{header}.{}.c2ln", URL_SAFE_NO_PAD.encode("{\"sub\": oops"));
    let bad_json_header = format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode("{alg: EdDSA"),
        enc(&json!({"sub": "x"}))
    );
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (random, "not UTF-8"),
        (b"a.b.c".to_vec(), "not base64url"),
        (Vec::new(), "no token"),
        (b"\n\n".to_vec(), "no token"),
        (bad_json_payload.clone().into_bytes(), "payload is not JSON"),
        (bad_json_header.clone().into_bytes(), "header is not JSON"),
        (b"one.two".to_vec(), "2 dot-separated segments"),
        (b"short".to_vec(), "neither a JWT"),
        (
            format!("{header}.{}.!!!", enc(&json!({}))).into_bytes(),
            "signature segment",
        ),
        (
            format!("{header}.{}.x", enc(&json!([1, 2]))).into_bytes(),
            "not an object",
        ),
    ];
    for (input, message) in cases {
        let text = String::from_utf8_lossy(&input).into_owned();
        let run = ssoguard(&["inspect"], input).await;
        run.assert_code(2).assert_contains(message);
        assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
        if text.len() >= 20 {
            run.assert_no_leak(&text);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_crafted_to_quote_itself_is_still_never_echoed() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let payload = enc(&claims_for(&issuer));
    // The kid and a claim repeat parts of the token itself.
    let header = enc(&json!({"alg": "EdDSA", "kid": &payload[..40]}));
    let token = format!("{header}.{payload}.c2ln");
    for args in [vec!["inspect"], vec!["verify", "--issuer", issuer.origin()]] {
        let run = ssoguard(&args, token.clone()).await;
        run.assert_no_leak(&token).assert_contains("[redacted]");
        assert!(run.code == 0 || run.code == 1, "{}", run.code);
    }
}
