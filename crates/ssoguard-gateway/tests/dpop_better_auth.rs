//! DPoP through the gateway binary with the real Better Auth: a real DPoP client
//! (interop/better-auth/dpop.mjs, built on `jose`) obtains DPoP-bound access tokens — client
//! credentials (JWT and opaque), authorization code with PKCE, refresh — with this test's ES256
//! key; the gateway (forward-auth, `public_url` set as a deployment would, introspection for the
//! opaque token) lets each through with a proof from that key, and refuses a replayed proof, a
//! proof for another method or URL or from another key, a stale one, no proof, and the token sent
//! as Bearer.
//!
//! Without Node.js the test is a loud skip, and a failure under `CI`.

mod support;

use serde_json::{Value, json};
use ssoguard::Algorithm;
use ssoguard::testing::DpopClient;
use support::*;

const PUBLIC_URL: &str = "https://api.example.com";
const RESOURCE: &str = "http://localhost:8000";

/// The tokens dpop.mjs obtained with `client`'s key for the user `email`.
async fn dpop_tokens(sso: &BetterAuth, client: &DpopClient, email: &str) -> Value {
    let pkcs8 = client.key().to_stored().pkcs8;
    let out = tokio::process::Command::new("node")
        .current_dir(interop_dir())
        .args(["dpop.mjs", &sso.origin, &pkcs8, email, "user-password-123"])
        .output()
        .await
        .expect("node runs");
    assert!(
        out.status.success(),
        "dpop.mjs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON line")
}

/// Forward-auth for `GET path` with `Authorization: <scheme> <token>` and maybe a proof.
async fn forward_auth(
    gateway: &Gateway,
    path: &str,
    scheme: &str,
    token: &str,
    proof: Option<&str>,
) -> u16 {
    let mut request = reqwest::Client::new()
        .get(gateway.url("/_ssoguard/auth"))
        .header("x-original-method", "GET")
        .header("x-original-uri", path)
        .header("authorization", format!("{scheme} {token}"));
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    request
        .send()
        .await
        .expect("gateway reachable")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn better_auths_dpop_bound_tokens_pass_the_gateway_only_with_their_proof() {
    if !node_ready() {
        return;
    }
    let sso = BetterAuth::start("EdDSA").await;
    let issuer = format!("{}/api/auth", sso.origin);
    let email = format!("dpop-{}@example.com", free_port());
    let resp = reqwest::Client::new()
        .post(format!("{issuer}/sign-up/email"))
        .header("origin", &sso.origin)
        .json(&json!({"email": email, "password": "user-password-123", "name": "DPoP"}))
        .send()
        .await
        .expect("sign-up");
    assert!(resp.status().is_success(), "sign-up: {}", resp.status());
    let client = DpopClient::generate(Algorithm::ES256).expect("key");
    let tokens = dpop_tokens(&sso, &client, &email).await;

    let config = format!(
        "public_url = \"{PUBLIC_URL}\"\n\n[[issuer]]\nname = \"better-auth\"\nissuer = \"{issuer}\"\n\
         audiences = [\"{RESOURCE}\", \"rust-backend\"]\n\
         introspection = {{ client_id = \"rust-backend\", client_secret_env = \"BA_CLIENT_SECRET\" }}\n\n\
         [[route]]\npath = \"/api/service\"\nscopes = [\"api:read\"]\n\n[[route]]\npath = \"/api\"\n"
    );
    let gateway = Gateway::start(&config, &[("BA_CLIENT_SECRET", "rust-backend-secret")]).await;
    let other_key = DpopClient::generate(Algorithm::ES256).expect("key");

    for name in [
        "client_credentials_jwt",
        "client_credentials_opaque",
        "authorization_code",
        "refresh",
    ] {
        let token = tokens[name]["access_token"].as_str().expect(name);
        assert_eq!(tokens[name]["token_type"], "DPoP", "{name}");
        let path = if name.starts_with("client_credentials") {
            "/api/service/stats"
        } else {
            "/api/me"
        };
        let url = format!("{PUBLIC_URL}{path}");
        let proof = client.proof("GET", &url, token).sign();
        assert_eq!(
            forward_auth(&gateway, path, "DPoP", token, Some(&proof)).await,
            200,
            "{name}: token and proof"
        );
        let refused = [
            ("replayed proof", proof),
            ("another method", client.proof("POST", &url, token).sign()),
            (
                "another URL",
                client
                    .proof("GET", &format!("{PUBLIC_URL}/api/other"), token)
                    .sign(),
            ),
            ("another key", other_key.proof("GET", &url, token).sign()),
            (
                "stale iat",
                client.proof("GET", &url, token).iat_in(-600).sign(),
            ),
        ];
        for (what, proof) in refused {
            assert_eq!(
                forward_auth(&gateway, path, "DPoP", token, Some(&proof)).await,
                401,
                "{name}: {what}"
            );
        }
        assert_eq!(
            forward_auth(&gateway, path, "DPoP", token, None).await,
            401,
            "{name}: no proof"
        );
        assert_eq!(
            forward_auth(&gateway, path, "Bearer", token, None).await,
            401,
            "{name}: the token as Bearer"
        );
    }
}
