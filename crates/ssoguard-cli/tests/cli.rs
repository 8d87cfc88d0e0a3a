//! The `ssoguard` binary, run as a separate process against real issuers on real ports.

use assert_cmd::Command;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use ssoguard::Algorithm;
use ssoguard::testing::{Fault, SigningKey, TestIssuer};
use std::time::{Duration, Instant};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }

    /// The text line of a verify step (`  aud        ✗ …`).
    fn step(&self, name: &str) -> String {
        self.stdout
            .lines()
            .find(|l| l.starts_with(&format!("  {name:<10} ")))
            .unwrap_or_else(|| panic!("no {name} line in:\n{}", self.stdout))
            .to_string()
    }

    fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }

    /// `needle` occurs in the output, whitespace runs (hint wrapping) counting as one space.
    fn assert_contains(&self, needle: &str) -> &Self {
        let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            squash(&self.all()).contains(&squash(needle)),
            "expected {needle:?} in\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// No output contains the token or any 20-character slice of it.
    fn assert_no_leak(&self, token: &str) -> &Self {
        let all = self.all();
        let bytes = token.as_bytes();
        for start in 0..bytes.len().saturating_sub(19) {
            if let Some(slice) = token.get(start..start + 20) {
                assert!(
                    !all.contains(slice),
                    "output contains a slice of the token: {slice}\n{all}"
                );
            }
        }
        self
    }
}

/// Runs the binary on a blocking thread (the issuer keeps serving on the runtime meanwhile).
async fn ssoguard(args: &[&str], stdin: impl Into<Vec<u8>>) -> Run {
    let args: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
    let stdin = stdin.into();
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ssoguard"));
        cmd.args(&args)
            .env_remove("SSO_ISSUER")
            .env_remove("SSO_CLIENT_ID")
            .env_remove("JWKS_URL")
            .env_remove("RUST_LOG")
            .timeout(Duration::from_secs(60))
            .write_stdin(stdin);
        let out = cmd.output().expect("runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("join")
}

/// `verify --issuer <origin> [extra…]` with the token on stdin.
async fn verify(issuer: &TestIssuer, token: &str, extra: &[&str]) -> Run {
    let mut args = vec!["verify", "--issuer", issuer.origin()];
    args.extend_from_slice(extra);
    let run = ssoguard(&args, format!("{token}\n")).await;
    run.assert_no_leak(token);
    run
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn enc(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn claims_for(issuer: &TestIssuer) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    json!({"iss": issuer.issuer(), "sub": "alice", "aud": "test-client", "iat": now, "exp": now + 3600})
}

// ---------------------------------------------------------------------------------------------
// verify: valid tokens
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// verify: each failure class, its hint, exit code 1
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// verify: SSO unavailable (3), usage errors (2), --json
// ---------------------------------------------------------------------------------------------

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
        assert_eq!(steps.len(), 13);
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

// ---------------------------------------------------------------------------------------------
// inspect
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// jwks
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// dev-issuer + mint
// ---------------------------------------------------------------------------------------------

struct DevProcess {
    child: std::process::Child,
}

impl Drop for DevProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mint_and_verify_round_trip_against_a_dev_issuer_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("dev-keys.json");
    let keys = keys.to_str().expect("utf-8 path").to_string();
    // Port 0: the dev issuer binds a free port itself and names it in its banner (a port picked
    // here and released could be taken by another test's server in between).
    let mut dev = DevProcess {
        child: std::process::Command::new(env!("CARGO_BIN_EXE_ssoguard"))
            .args(["dev-issuer", "--addr", "127.0.0.1:0", "--keys", &keys])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("dev-issuer starts"),
    };
    let stdout = dev.child.stdout.take().expect("stdout");
    let (origin_tx, origin_rx) = tokio::sync::oneshot::channel();
    // Reads stdout to its end (the assertions at the bottom look at all of it) and hands over
    // the origin as soon as the banner's issuer line arrives.
    let stdout_reader = std::thread::spawn(move || {
        use std::io::BufRead as _;
        let mut origin_tx = Some(origin_tx);
        let mut all = String::new();
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let origin = line
                .strip_prefix("issuer")
                .and_then(|rest| rest.trim().strip_suffix("/api/auth"));
            if let Some(origin) = origin
                && let Some(tx) = origin_tx.take()
            {
                let _ = tx.send(origin.to_string());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let origin = tokio::time::timeout(Duration::from_secs(30), origin_rx)
        .await
        .expect("the dev issuer printed its banner in time")
        .expect("an issuer line in the banner");
    let http = reqwest::Client::new();
    let discovery = format!("{origin}/api/auth/.well-known/openid-configuration");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if http
            .get(&discovery)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        assert!(Instant::now() < deadline, "the dev issuer did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let issuer = format!("{origin}/api/auth");
    let minted = ssoguard(
        &[
            "mint",
            "--keys",
            &keys,
            "--sub",
            "alice",
            "--email",
            "alice@example.com",
            "--role",
            "admin",
            "--ttl",
            "15m",
            "--claim",
            "organization_id=org-1",
            "--claim",
            "permissions=[\"tasks:read\"]",
            "--issuer",
            &issuer,
        ],
        "",
    )
    .await;
    minted.assert_code(0);
    let token = minted.stdout.trim().to_string();
    assert_eq!(token.split('.').count(), 3, "{token}");
    let run = ssoguard(
        &[
            "verify",
            "--issuer",
            &origin,
            "--audience",
            "dev-client",
            "--json",
        ],
        token.clone(),
    )
    .await;
    run.assert_code(0).assert_no_leak(&token);
    let json = run.json();
    assert_eq!(json["valid"], true);
    assert_eq!(json["claims"]["sub"], "alice");
    assert_eq!(json["claims"]["role"], "admin");
    assert_eq!(json["claims"]["organization_id"], "org-1");
    assert_eq!(json["claims"]["permissions"], json!(["tasks:read"]));
    let exp = json["claims"]["exp"].as_i64().expect("exp");
    let iat = json["claims"]["iat"].as_i64().expect("iat");
    assert_eq!(exp - iat, 900);

    // An expired one, minted with an exp in the past.
    let expired = ssoguard(
        &[
            "mint",
            "--keys",
            &keys,
            "--sub",
            "alice",
            "--issuer",
            &issuer,
            "--claim",
            "exp=1700000000",
        ],
        "",
    )
    .await;
    let expired = expired.stdout.trim().to_string();
    verify_text(&origin, &expired)
        .await
        .assert_code(1)
        .assert_contains("expired");

    // The token endpoint (what the printed curl line calls) issues tokens that verify too.
    let body: Value = http
        .post(format!("{issuer}/oauth2/token"))
        .form(&[("grant_type", "urn:ssoguard:dev-user"), ("user", "alice")])
        .send()
        .await
        .expect("token endpoint")
        .json()
        .await
        .expect("json");
    let id_token = body["id_token"].as_str().expect("id_token");
    verify_text(&origin, id_token).await.assert_code(0);

    // SIGTERM stops it cleanly; it printed the banner, the issuer and the curl line.
    let pid = dev.child.id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = dev.child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = dev.child.kill();
    let stdout = stdout_reader.join().expect("stdout reader");
    let mut stderr = String::new();
    use std::io::Read as _;
    if let Some(mut err) = dev.child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    assert!(stderr.contains("FOR DEVELOPMENT ONLY"), "{stderr}");
    assert!(
        stdout.contains(&format!("issuer         {issuer}")),
        "{stdout}"
    );
    assert!(stdout.contains("client secret  dev-secret"), "{stdout}");
    assert!(stdout.contains("api key        dev-api-key"), "{stdout}");
    assert!(
        stdout.contains("alice (alice@example.com, role user)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "curl -s -X POST {issuer}/oauth2/token -d grant_type=urn:ssoguard:dev-user -d user=alice"
        )),
        "{stdout}"
    );
    if cfg!(unix) {
        assert!(status.is_some_and(|s| s.success()), "{status:?} {stderr}");
    }
}

async fn verify_text(origin: &str, token: &str) -> Run {
    let run = ssoguard(
        &["verify", "--issuer", origin, "--audience", "dev-client"],
        token.to_string(),
    )
    .await;
    run.assert_no_leak(token);
    run
}

#[tokio::test(flavor = "multi_thread")]
async fn mint_refuses_bad_arguments_with_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("none.json");
    let missing = missing.to_str().expect("path");
    ssoguard(&["mint", "--keys", missing, "--sub", "a"], "")
        .await
        .assert_code(2)
        .assert_contains("ssoguard dev-issuer --keys");
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{]").expect("write");
    ssoguard(
        &[
            "mint",
            "--keys",
            garbage.to_str().expect("path"),
            "--sub",
            "a",
        ],
        "",
    )
    .await
    .assert_code(2)
    .assert_contains("not a dev issuer keys file");
    for ttl in ["-5m", "0s", "3w", "soon"] {
        let run = ssoguard(&["mint", "--keys", missing, "--sub", "a", "--ttl", ttl], "").await;
        run.assert_code(2);
        if ttl == "-5m" {
            run.assert_contains("--claim exp=");
        }
    }
    ssoguard(&["mint", "--keys", missing], "")
        .await
        .assert_code(2);
    ssoguard(
        &[
            "mint", "--keys", missing, "--sub", "a", "--claim", "novalue",
        ],
        "",
    )
    .await
    .assert_code(2);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_subcommand_has_examples_in_its_help() {
    for cmd in ["inspect", "verify", "jwks", "dev-issuer", "mint"] {
        ssoguard(&[cmd, "--help"], "")
            .await
            .assert_code(0)
            .assert_contains("Examples:");
    }
    ssoguard(&["verify", "--help"], "")
        .await
        .assert_contains("\"exit_code\"")
        .assert_contains("\"decisive\"");
    ssoguard(&["--help"], "")
        .await
        .assert_code(0)
        .assert_contains("Examples:");
}
