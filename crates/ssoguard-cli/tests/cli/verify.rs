//! `ssoguard verify`: valid tokens, each failure class with its hint and exit code 1, an SSO
//! that is unavailable (3), usage errors (2), and `--json`.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_valid_token_passes_every_step_and_exits_0() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let token = issuer.token().sub("alice").role("admin").sign();
    let run = verify(&issuer, &token, &["--audience", "test-client"]).await;
    run.assert_code(0).assert_contains("VALID");
    for step in [
        "header",
        "discovery",
        "JWKS",
        "kid",
        "algorithm",
        "signature",
        "exp",
        "nbf",
        "iat",
        "iss",
        "aud",
        "sub",
        "claims",
    ] {
        assert!(run.step(step).contains('✓'), "{}", run.step(step));
    }
    assert!(run.step("JWKS").contains("1 key (0 skipped)"));
    assert!(run.step("exp").contains("expires in"));
    assert!(run.step("kid").contains("key-eddsa-1"));
    // Given the origin, discovery found the issuer under /api/auth: say so.
    run.assert_contains(&format!("use --issuer {}", issuer.issuer()))
        .assert_contains("SSO_ISSUER");

    // Given the exact issuer, there is nothing to note.
    let run = ssoguard(
        &[
            "verify",
            "--issuer",
            issuer.issuer(),
            "--audience",
            "test-client",
            &token,
        ],
        "",
    )
    .await;
    run.assert_code(0).assert_no_leak(&token);
    assert!(!run.stdout.contains("note:"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_is_read_from_stdin_with_or_without_dash_and_bearer() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let token = issuer.token().sign();
    for (args, input) in [
        (vec!["-"], format!("Bearer {token}\n")),
        (vec![], format!("  {token}  \n")),
        (vec!["-"], format!("Authorization: Bearer {token}\r\n")),
    ] {
        let mut all = vec!["--audience", "test-client"];
        all.extend(args);
        let mut cmd = vec!["verify", "--issuer", issuer.origin()];
        cmd.extend(all);
        let run = ssoguard(&cmd, input).await;
        run.assert_code(0).assert_no_leak(&token);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_audience_the_aud_step_is_not_checked_and_does_not_fail() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let token = issuer.token().aud("web").sign();
    let run = verify(&issuer, &token, &[]).await;
    run.assert_code(0);
    let aud = run.step("aud");
    assert!(aud.contains("not checked (pass --audience)"), "{aud}");
    assert!(aud.contains("\"web\""), "{aud}");
    let json = verify(&issuer, &token, &["--json"]).await.json();
    assert_eq!(json["valid"], true);
    let aud = json["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["step"] == "aud")
        .expect("aud step");
    assert_eq!(aud["ok"], Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_says_how_long_ago_and_exits_1() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let token = issuer.token().iat_in(-4 * 3600).exp_in(-3 * 3600).sign();
    let run = verify(&issuer, &token, &["--audience", "test-client"]).await;
    run.assert_code(1)
        .assert_contains("expired 3 h ago")
        .assert_contains("get a fresh token")
        .assert_contains("INVALID: token expired [expired at step exp]");
    assert!(run.step("exp").contains('✗'));
    assert!(run.step("signature").contains('✓'));
}

#[tokio::test(flavor = "multi_thread")]
async fn clock_skew_is_named_for_exp_nbf_and_iat_just_past_the_leeway() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let cases = [
        (issuer.token().exp_in(-150).sign(), "exp", "expired"),
        (issuer.token().nbf_in(150).sign(), "nbf", "not_yet_valid"),
        (issuer.token().iat_in(150).sign(), "iat", "issued_in_future"),
    ];
    for (token, step, kind) in cases {
        let run = verify(&issuer, &token, &["--audience", "test-client"]).await;
        run.assert_code(1)
            .assert_contains("clock skew")
            .assert_contains("60 s leeway");
        assert!(run.step(step).contains('✗'), "{}", run.stdout);
        let json = verify(&issuer, &token, &["--audience", "test-client", "--json"])
            .await
            .json();
        assert_eq!(json["error"]["kind"], kind);
        assert_eq!(json["error"]["step"], step);
        assert_eq!(json["exit_code"], 1);
    }
    // Far in the future: not blamed on clocks.
    let token = issuer.token().nbf_in(3 * 3600).sign();
    let run = verify(&issuer, &token, &["--audience", "test-client"]).await;
    run.assert_code(1).assert_contains("not valid until");
    assert!(!run.stdout.contains("clock skew"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_audience_mismatch_names_both_audiences_and_sso_client_id() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let token = issuer.token().aud("web").sign();
    let run = verify(&issuer, &token, &["--audience", "rust-backend"]).await;
    run.assert_code(1)
        .assert_contains("token is for \"web\", expected \"rust-backend\"")
        .assert_contains("SSO_CLIENT_ID");
    assert!(run.step("aud").contains('✗'));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_from_another_issuer_is_refused_with_a_hint() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let token = issuer
        .token()
        .iss("https://sso.staging.example.com/api/auth")
        .sign();
    let run = verify(&issuer, &token, &["--audience", "test-client"]).await;
    run.assert_code(1)
        .assert_contains("token is from \"https://sso.staging.example.com/api/auth\"")
        .assert_contains("another SSO or environment")
        .assert_contains("[issuer_mismatch at step iss]");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bare_origin_iss_against_the_api_auth_issuer_says_to_use_api_auth() {
    let issuer = TestIssuer::start().await.expect("issuer");
    // iss = the origin, as a Better Auth jwt-plugin token or a misconfigured issuer has it.
    let token = issuer.token().iss(issuer.origin()).sign();
    let run = verify(&issuer, &token, &["--audience", "test-client"]).await;
    run.assert_code(1)
        .assert_contains(&format!("use --issuer {}", issuer.issuer()))
        .assert_contains("SSO_ISSUER")
        .assert_contains("only under /api/auth");
    assert!(run.step("iss").contains('✗'));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_auth_iss_against_an_origin_issuer_says_to_use_api_auth() {
    // A proxy serves discovery at the root naming the origin as issuer, while tokens carry
    // <origin>/api/auth: the token's iss is <given>/api/auth.
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let doc = json!({"issuer": origin, "jwks_uri": format!("{origin}/api/auth/jwks")});
    let root = axum::Router::new().route(
        "/.well-known/openid-configuration",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc) }
        }),
    );
    let key = SigningKey::generate(Algorithm::EdDSA, "k1").expect("key");
    let issuer = TestIssuer::start_with_keys(&format!("127.0.0.1:{port}"), vec![key], root)
        .await
        .expect("issuer");
    let token = issuer.token().sign();
    let run = verify(&issuer, &token, &["--audience", "test-client"]).await;
    run.assert_code(1)
        .assert_contains(&format!("use --issuer {origin}/api/auth"))
        .assert_contains(&format!("SSO_ISSUER={origin}/api/auth"));
    assert!(run.step("iss").contains('✗'));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_origin_whose_discovery_names_another_origins_issuer_is_explained() {
    // Better Auth with BETTER_AUTH_URL=http://localhost:<port>, reached at 127.0.0.1: both
    // discovery locations (the docs' root alias and /api/auth) name the localhost issuer.
    let keys = TestIssuer::start().await.expect("issuer");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let origin = format!("http://127.0.0.1:{port}");
    let named = format!("http://localhost:{port}/api/auth");
    let doc = json!({"issuer": named, "jwks_uri": keys.jwks_url()});
    let serve = move || {
        let doc = doc.clone();
        async move { axum::Json(doc) }
    };
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(serve.clone()),
        )
        .route(
            "/api/auth/.well-known/openid-configuration",
            axum::routing::get(serve),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let token = keys.token().iss(&named).sign();
    let run = ssoguard(
        &[
            "verify",
            "--issuer",
            &origin,
            "--audience",
            "test-client",
            "-",
        ],
        token.clone(),
    )
    .await;
    run.assert_code(3)
        .assert_contains(&format!(
            "{origin}/.well-known/openid-configuration names issuer \"{named}\""
        ))
        .assert_contains(&format!("\"{origin}\" or \"{origin}/api/auth\""))
        .assert_contains("another origin")
        .assert_contains(&format!("SSO_ISSUER={named}"))
        .assert_contains("BETTER_AUTH_URL")
        .assert_no_leak(&token);
    assert!(run.step("discovery").contains('✗'));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_kid_after_rotation_lists_the_known_kids() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let old = issuer.key(Algorithm::EdDSA).expect("key");
    let token = issuer.token().sign_with(&old);
    let new_kid = issuer.rotate(Algorithm::EdDSA).expect("rotate");
    issuer.remove_key(old.kid());
    let run = verify(&issuer, &token, &["--audience", "test-client"]).await;
    run.assert_code(1)
        .assert_contains("key-eddsa-1 is not in the JWKS")
        .assert_contains(&format!("known kids: {new_kid}"))
        .assert_contains("rotated");
    assert!(run.step("kid").contains('✗'));
    let json = verify(&issuer, &token, &["--audience", "test-client", "--json"])
        .await
        .json();
    assert_eq!(json["error"]["kind"], "unknown_key");
    assert_eq!(json["error"]["step"], "kid");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_eddsa_token_against_an_rs256_only_setup_explains_better_auths_default() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let token = issuer.token().sign();
    let run = verify(
        &issuer,
        &token,
        &["--audience", "test-client", "--alg", "RS256"],
    )
    .await;
    run.assert_code(1)
        .assert_contains("token is signed with EdDSA, but only RS256 is allowed")
        .assert_contains("Better Auth signs EdDSA by default")
        .assert_contains("[unsupported_algorithm at step algorithm]");
    assert!(run.step("algorithm").contains('✗'));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_token_fails_the_signature_step() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let token = issuer.token().sub("alice").sign();
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = claims_for(&issuer);
    claims["sub"] = json!("admin");
    let tampered = format!("{}.{}.{}", parts[0], enc(&claims), parts[2]);
    let run = verify(&issuer, &tampered, &["--audience", "test-client"]).await;
    run.assert_code(1)
        .assert_contains("[invalid_signature at step signature]")
        .assert_contains("altered after signing");
    assert!(run.step("signature").contains('✗'));
    // The claims were not verified, and the output says so.
    assert!(run.step("sub").contains("[unverified]"));
    run.assert_no_leak(&token);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alg_none_token_is_refused() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let token = format!(
        "{}.{}.",
        enc(&json!({"alg": "none", "typ": "JWT"})),
        enc(&claims_for(&issuer))
    );
    let run = verify(&issuer, &token, &["--audience", "test-client"]).await;
    run.assert_code(1)
        .assert_contains("alg none: the token is unsigned")
        .assert_contains("never accepted");
    assert!(run.step("algorithm").contains('✗'));
    let json = verify(&issuer, &token, &["--audience", "test-client", "--json"])
        .await
        .json();
    assert_eq!(json["error"]["kind"], "unsupported_algorithm");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sso_that_is_down_exits_3() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let token = issuer.token().sign();
    issuer.set_fault(Some(Fault::Down));
    let run = verify(&issuer, &token, &["--audience", "test-client"]).await;
    run.assert_code(3)
        .assert_contains("UNAVAILABLE")
        .assert_contains("unreachable");
    assert!(run.step("discovery").contains('✗'));
    let json = verify(&issuer, &token, &["--audience", "test-client", "--json"])
        .await
        .json();
    assert_eq!(json["exit_code"], 3);
    assert_eq!(json["valid"], false);
    assert_eq!(json["error"]["kind"], "keys_unavailable");

    // Nothing listening at all.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let run = ssoguard(
        &["verify", "--issuer", &closed, "--audience", "x", "-"],
        token.clone(),
    )
    .await;
    run.assert_code(3)
        .assert_contains("is the SSO running")
        .assert_no_leak(&token);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jwks_endpoint_answering_html_exits_3_with_a_hint() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let token = issuer.token().sign();
    issuer.set_fault(Some(Fault::Html));
    let run = verify(&issuer, &token, &["--audience", "test-client"]).await;
    run.assert_code(3).assert_contains("login redirect");
    assert!(run.step("JWKS").contains('✗'));
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_exit_2() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let token = issuer.token().sign();
    // Missing --issuer, bad URL, unknown or forbidden algorithm, unknown command.
    ssoguard(&["verify"], token.clone()).await.assert_code(2);
    ssoguard(&["verify", "--issuer", "localhost:3001"], token.clone())
        .await
        .assert_code(2)
        .assert_contains("http://")
        .assert_no_leak(&token);
    for alg in ["HS256", "none", "foo"] {
        ssoguard(
            &["verify", "--issuer", issuer.origin(), "--alg", alg],
            token.clone(),
        )
        .await
        .assert_code(2)
        .assert_no_leak(&token);
    }
    ssoguard(&["frobnicate"], "").await.assert_code(2);
    // Empty and garbage input.
    for input in ["", "  \n", "a.b.c", "not a token at all"] {
        ssoguard(&["verify", "--issuer", issuer.origin()], input)
            .await
            .assert_code(2);
    }
    // --json reports usage errors in the same shape.
    let run = ssoguard(
        &["verify", "--issuer", "ftp://x", "--json", "-"],
        token.clone(),
    )
    .await;
    run.assert_code(2).assert_no_leak(&token);
    let json = run.json();
    assert_eq!(json["exit_code"], 2);
    assert_eq!(json["error"]["kind"], "usage");
    assert_eq!(json["steps"], json!([]));
    let json = ssoguard(&["verify", "--issuer", issuer.origin(), "--json"], "x.y.z")
        .await
        .json();
    assert_eq!(json["exit_code"], 2);
    assert_eq!(json["error"]["kind"], "invalid_input");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_carries_the_same_verdict_and_exit_code_as_the_text() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let good = issuer.token().sub("alice").role("user,admin").sign();
    let bad = issuer.token().aud("web").sign();
    for (token, valid, code) in [(&good, true, 0), (&bad, false, 1)] {
        let text = verify(&issuer, token, &["--audience", "test-client"]).await;
        let run = verify(&issuer, token, &["--audience", "test-client", "--json"]).await;
        assert_eq!(run.code, text.code);
        assert_eq!(run.code, code);
        let json = run.json();
        assert_eq!(json["valid"], valid);
        assert_eq!(json["exit_code"], code);
        assert_eq!(json["issuer"], issuer.issuer());
        let steps = json["steps"].as_array().expect("steps");
        assert_eq!(steps.len(), 15, "13 token steps, cnf and revoked");
        for step in steps {
            assert!(step["step"].is_string() && step["detail"].is_string());
            assert!(step["ok"].is_boolean() || step["ok"].is_null());
            assert!(step["hint"].is_string() || step["hint"].is_null());
        }
        if valid {
            assert_eq!(json["error"], Value::Null);
            assert_eq!(json["claims"]["sub"], "alice");
            assert_eq!(json["claims"]["role"], "user,admin");
            assert!(steps.iter().all(|s| s["ok"] != false));
        } else {
            assert_eq!(json["claims"], Value::Null);
            assert_eq!(json["error"]["kind"], "audience_mismatch");
            assert_eq!(json["error"]["message"], "audience mismatch");
            assert_eq!(json["error"]["step"], "aud");
            let decisive: Vec<&Value> = steps.iter().filter(|s| s["decisive"] == true).collect();
            assert_eq!(decisive.len(), 1);
            assert_eq!(decisive[0]["step"], "aud");
            assert_eq!(decisive[0]["ok"], false);
            assert!(
                decisive[0]["hint"]
                    .as_str()
                    .expect("hint")
                    .contains("SSO_CLIENT_ID")
            );
        }
    }
}

const API_URL: &str = "https://api.example.com/api/tasks";

/// `verify` of `token` sent with the DPoP scheme and `proof` for `method` `url`.
async fn verify_dpop(
    issuer: &TestIssuer,
    token: &str,
    proof: &str,
    method: &str,
    url: &str,
) -> Run {
    let run = verify(
        issuer,
        token,
        &[
            "--audience",
            "test-client",
            "--dpop",
            proof,
            "--method",
            method,
            "--url",
            url,
        ],
    )
    .await;
    run.assert_no_leak(proof);
    run
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dpop_request_is_explained_step_by_step() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let client = ssoguard::testing::DpopClient::generate(Algorithm::ES256).expect("key");
    let token = issuer.token().sub("alice").cnf_jkt(&client.jkt()).sign();
    let proof = client.proof("POST", API_URL, &token).sign();
    let run = verify_dpop(
        &issuer,
        &token,
        &proof,
        "POST",
        &format!("{API_URL}?page=2"),
    )
    .await;
    run.assert_code(0).assert_contains("VALID");
    for step in ["signature", "claims", "dpop", "cnf", "dpop-jti", "revoked"] {
        assert!(run.step(step).contains('✓'), "{}", run.stdout);
    }
    assert!(
        run.step("dpop")
            .contains(&format!("proof for POST {API_URL}"))
    );
    assert!(
        run.step("cnf").contains(&client.jkt()),
        "{}",
        run.step("cnf")
    );
    let order: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let at = |name: &str| order.iter().position(|s| *s == name).expect(name);
    assert!(at("claims") < at("dpop") && at("dpop") < at("cnf"));
    assert!(at("cnf") < at("dpop-jti") && at("dpop-jti") < at("revoked"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_proof_names_its_rule_and_step() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let client = ssoguard::testing::DpopClient::generate(Algorithm::ES256).expect("key");
    let other = ssoguard::testing::DpopClient::generate(Algorithm::ES256).expect("key");
    let token = issuer.token().cnf_jkt(&client.jkt()).sign();
    let cases = [
        (
            client
                .proof("POST", "https://api.example.com/other", &token)
                .sign(),
            "POST",
            "DPoP proof htu does not match the request URL",
            "dpop",
        ),
        (
            client.proof("GET", API_URL, &token).sign(),
            "POST",
            "DPoP proof htm does not match the request method",
            "dpop",
        ),
        (
            client.proof("POST", API_URL, &token).iat_in(-600).sign(),
            "POST",
            "DPoP proof iat is outside the accepted window",
            "dpop",
        ),
        (
            client.proof("POST", API_URL, "another-token").sign(),
            "POST",
            "DPoP proof ath does not match the access token",
            "dpop",
        ),
        (
            other.proof("POST", API_URL, &token).sign(),
            "POST",
            "DPoP proof key does not match the bound token",
            "cnf",
        ),
    ];
    for (proof, method, message, step) in cases {
        let run = verify_dpop(&issuer, &token, &proof, method, API_URL).await;
        run.assert_code(1).assert_contains(&format!(
            "INVALID: {message} [invalid_dpop_proof at step {step}]"
        ));
        assert!(run.step(step).contains('✗'), "{}", run.stdout);
        assert!(run.step("signature").contains('✓'), "{}", run.stdout);
        assert!(
            run.step("revoked").contains("not checked"),
            "{}",
            run.stdout
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sender_constraint_is_its_own_step() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let client = ssoguard::testing::DpopClient::generate(Algorithm::ES256).expect("key");
    // A DPoP-bound token as Bearer.
    let bound = issuer.token().cnf_jkt(&client.jkt()).sign();
    let run = verify(&issuer, &bound, &["--audience", "test-client"]).await;
    run.assert_code(1)
        .assert_contains("[sender_constrained at step cnf]")
        .assert_contains("pass its proof (--dpop, --method, --url)");
    assert!(run.step("claims").contains('✓'), "{}", run.stdout);
    assert!(run.step("cnf").contains('✗'), "{}", run.stdout);
    // A bearer token with a DPoP proof.
    let bearer = issuer.token().sign();
    let proof = client.proof("GET", API_URL, &bearer).sign();
    let run = verify_dpop(&issuer, &bearer, &proof, "GET", API_URL).await;
    run.assert_code(1)
        .assert_contains("[dpop_unbound_token at step dpop]")
        .assert_contains("send this one as Bearer (drop --dpop)");
    assert!(
        run.step("dpop").contains("not DPoP-bound"),
        "{}",
        run.stdout
    );
    // A bearer token as Bearer: cnf and revoked pass.
    let run = verify(&issuer, &bearer, &["--audience", "test-client"]).await;
    run.assert_code(0);
    assert!(
        run.step("cnf").contains("not sender-constrained"),
        "{}",
        run.stdout
    );
    assert!(run.step("revoked").contains('✓'), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn dpop_usage_errors_exit_2() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let token = issuer.token().sign();
    // --dpop without --url, --url without --dpop (clap).
    for extra in [&["--dpop", "x.y.z"][..], &["--url", API_URL][..]] {
        verify(&issuer, &token, extra).await.assert_code(2);
    }
    for (method, url, message) in [
        ("GET", "/api/tasks", "an absolute http(s) URL"),
        ("G T", API_URL, "is not an HTTP method"),
    ] {
        let run = verify(
            &issuer,
            &token,
            &[
                "--dpop", "x.y.z", "--method", method, "--url", url, "--json",
            ],
        )
        .await;
        run.assert_code(2).assert_contains(message);
    }
}
