//! DPoP (RFC 9449) with the real Better Auth: a real DPoP client (interop/better-auth/dpop.mjs,
//! built on `jose`) obtains DPoP-bound access tokens from the server — client credentials (JWT
//! and opaque), authorization code with PKCE, refresh — with this test's ES256 key, and
//! ssoguard's `Verifier::verify_dpop` checks them with real proofs from the same key: a valid
//! proof passes; a replayed proof, one for another method or URL, one signed by another key, a
//! stale `iat` and the `ath` of another token are refused, and so is the token sent as Bearer.
//! The opaque token is bound the same way through introspection (`cnf.jkt`). Then the same
//! tokens over HTTP, at a tasks-api configured with `PUBLIC_URL` (as a deployment would be):
//! `/api/me` (a user's token) or `/api/service/stats` (a client-credentials token) answers 200
//! to a token with its proof, and 401 to a replayed proof, a proof for
//! another method or URL or from another key, and to the token sent as Bearer.
//!
//! Without Node.js the test prints `SKIPPED: …` and passes, except under `CI`, where it fails.

mod interop_support;

use axum::http::Method;
use interop_support::{
    BetterAuth, CLIENT_ID, CLIENT_SECRET, RESOURCE, TasksApi, interop_dir, jwt_claims,
    prerequisites_met,
};
use serde_json::Value;
use ssoguard::dpop::{DpopError, DpopRequest};
use ssoguard::testing::DpopClient;
use ssoguard::{Algorithm, IntrospectionConfig, Verifier, VerifyError};

/// The public URL tasks-api is configured with, and the URL of `/api/me` under it.
const PUBLIC_URL: &str = "https://api.example.com";
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

    // The same tokens over HTTP, with fresh proofs (the ones above are spent).
    let api = TasksApi::for_server(
        &sso,
        &[
            ("SSO_CLIENT_ID", &format!("{CLIENT_ID},{RESOURCE}")),
            ("SSO_CLIENT_SECRET", CLIENT_SECRET),
            ("PUBLIC_URL", PUBLIC_URL),
        ],
    )
    .await;
    for name in [
        "client_credentials_jwt",
        "authorization_code",
        "refresh",
        "client_credentials_opaque",
    ] {
        let token = tokens[name]["access_token"].as_str().expect(name);
        check_over_http(&api, &client, token, name).await;
    }
}

/// `GET path` at `api` with `Authorization: <scheme> <token>` and maybe a proof: the status.
async fn get(api: &TasksApi, path: &str, scheme: &str, token: &str, proof: Option<&str>) -> u16 {
    let mut request = api
        .http
        .get(format!("{}{path}", api.base))
        .header("authorization", format!("{scheme} {token}"));
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    request.send().await.expect("request").status().as_u16()
}

/// The proof rules over HTTP for one real token: a user's token at `/api/me`, a service's
/// (client credentials, scope `api:read`) at `/api/service/stats`.
async fn check_over_http(api: &TasksApi, client: &DpopClient, token: &str, what: &str) {
    let path = if what.starts_with("client_credentials") {
        "/api/service/stats"
    } else {
        "/api/me"
    };
    let url = format!("{PUBLIC_URL}{path}");
    let other_key = DpopClient::generate(Algorithm::ES256).expect("key");
    let proof = client.proof("GET", &url, token).sign();
    assert_eq!(
        get(api, path, "DPoP", token, Some(&proof)).await,
        200,
        "{what}: token and proof"
    );
    let refused = [
        ("replayed proof", proof),
        (
            "proof for another method",
            client.proof("POST", &url, token).sign(),
        ),
        (
            "proof for another URL",
            client
                .proof("GET", &format!("{PUBLIC_URL}/api/tasks"), token)
                .sign(),
        ),
        (
            "proof signed by another key",
            other_key.proof("GET", &url, token).sign(),
        ),
        (
            "stale iat",
            client.proof("GET", &url, token).iat_in(-600).sign(),
        ),
    ];
    for (name, proof) in refused {
        assert_eq!(
            get(api, path, "DPoP", token, Some(&proof)).await,
            401,
            "{what}: {name}"
        );
    }
    assert_eq!(
        get(api, path, "DPoP", token, None).await,
        401,
        "{what}: no proof"
    );
    assert_eq!(
        get(api, path, "Bearer", token, None).await,
        401,
        "{what}: the token as Bearer"
    );
}
