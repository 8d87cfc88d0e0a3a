//! DPoP (RFC 9449) with the real Better Auth: a real DPoP client (interop/better-auth/dpop.mjs,
//! built on `jose`) obtains DPoP-bound access tokens from the server — client credentials (JWT
//! and opaque), authorization code with PKCE, refresh — with this test's ES256 key, and
//! ssoguard's `Verifier::verify_dpop` checks them with real proofs from the same key: a valid
//! proof passes; a replayed proof, one for another method or URL, one signed by another key, a
//! stale `iat` and the `ath` of another token are refused, and so is the token sent as Bearer.
//! The opaque token is bound the same way through introspection (`cnf.jkt`).
//!
//! Without Node.js the test prints `SKIPPED: …` and passes, except under `CI`, where it fails.

mod interop_support;

use axum::http::Method;
use interop_support::{
    BetterAuth, CLIENT_ID, CLIENT_SECRET, RESOURCE, interop_dir, jwt_claims, prerequisites_met,
};
use serde_json::Value;
use ssoguard::dpop::{DpopError, DpopRequest};
use ssoguard::testing::DpopClient;
use ssoguard::{Algorithm, IntrospectionConfig, Verifier, VerifyError};

const API_URL: &str = "https://api.example.com/api/me";

/// The tokens dpop.mjs obtained with `client`'s key.
async fn dpop_tokens(sso: &BetterAuth, client: &DpopClient) -> Value {
    let user = sso.new_user("DPoP User").await;
    let pkcs8 = client.key().to_stored().pkcs8;
    let out = tokio::process::Command::new("node")
        .current_dir(interop_dir())
        .args([
            "dpop.mjs",
            &sso.origin,
            &pkcs8,
            &user.email,
            "user-password-123",
        ])
        .output()
        .await
        .expect("node runs");
    assert!(
        out.status.success(),
        "dpop.mjs: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        sso.stderr()
    );
    serde_json::from_slice(&out.stdout).expect("one JSON line")
}

fn request(method: Method) -> DpopRequest {
    DpopRequest::new(method, API_URL).expect("an absolute URL")
}

/// Every proof rule against one real DPoP-bound token.
async fn check_token(verifier: &Verifier, client: &DpopClient, token: &str, what: &str) {
    let other_key = DpopClient::generate(Algorithm::ES256).expect("key");
    let get = request(Method::GET);
    let proof = client.proof("GET", API_URL, token).sign();
    verifier
        .verify_dpop(token, Some(&proof), &get)
        .await
        .unwrap_or_else(|e| panic!("{what}: a valid proof refused: {e}"));
    let refused = |e: DpopError| Err(VerifyError::Dpop(e));
    let cases = [
        (
            "replayed proof",
            proof.clone(),
            get.clone(),
            refused(DpopError::Replayed),
        ),
        (
            "proof for another method",
            client.proof("GET", API_URL, token).sign(),
            request(Method::POST),
            refused(DpopError::Method),
        ),
        (
            "proof for another URL",
            client
                .proof("GET", "https://api.example.com/api/tasks", token)
                .sign(),
            get.clone(),
            refused(DpopError::Url),
        ),
        (
            "proof signed by another key",
            other_key.proof("GET", API_URL, token).sign(),
            get.clone(),
            refused(DpopError::KeyMismatch),
        ),
        (
            "stale iat",
            client.proof("GET", API_URL, token).iat_in(-600).sign(),
            get.clone(),
            refused(DpopError::IssuedAt),
        ),
        (
            "ath of another token",
            client.proof("GET", API_URL, "another-token").sign(),
            get.clone(),
            refused(DpopError::TokenHash),
        ),
    ];
    for (name, proof, req, expected) in cases {
        let got = verifier
            .verify_dpop(token, Some(&proof), &req)
            .await
            .map(|_| ());
        assert_eq!(got, expected, "{what}: {name}");
    }
    assert_eq!(
        verifier.verify(token).await.map(|_| ()),
        Err(VerifyError::SenderConstrained),
        "{what}: the token as Bearer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn better_auths_dpop_bound_tokens_need_their_proof() {
    if !prerequisites_met() {
        return;
    }
    let sso = BetterAuth::start("EdDSA", &[]).await;
    let client = DpopClient::generate(Algorithm::ES256).expect("key");
    let tokens = dpop_tokens(&sso, &client).await;
    let verifier = Verifier::builder()
        .authority(&sso.origin)
        .audiences([RESOURCE, CLIENT_ID])
        .introspection(IntrospectionConfig::new(CLIENT_ID, CLIENT_SECRET))
        .build()
        .expect("verifier");

    for name in ["client_credentials_jwt", "authorization_code", "refresh"] {
        let token = tokens[name]["access_token"].as_str().expect(name);
        assert_eq!(tokens[name]["token_type"], "DPoP", "{name}");
        assert_eq!(
            jwt_claims(token)["cnf"]["jkt"],
            client.jkt(),
            "{name}: bound to the test's key"
        );
        check_token(&verifier, &client, token, name).await;
    }
    // The opaque token: its cnf.jkt comes from introspection.
    let opaque = tokens["client_credentials_opaque"]["access_token"]
        .as_str()
        .expect("opaque");
    assert_eq!(opaque.split('.').count(), 1, "an opaque token");
    check_token(&verifier, &client, opaque, "opaque (introspection)").await;
}
