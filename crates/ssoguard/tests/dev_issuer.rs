//! The dev issuer's endpoints and keys file, over real HTTP.

use ssoguard::dev::{DevIssuer, DevIssuerConfig, load_or_create_keys};
use ssoguard::{Algorithm, Verifier};

async fn start(keys_path: &std::path::Path) -> DevIssuer {
    let keys = load_or_create_keys(keys_path, Algorithm::EdDSA).expect("keys");
    let mut config = DevIssuerConfig::with_keys(keys);
    config.addr = "127.0.0.1:0".into();
    DevIssuer::start(config).await.expect("dev issuer")
}

#[tokio::test]
async fn dev_tokens_verify_and_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("ssoguard-dev-{}", std::process::id()));
    let path = dir.join("keys.json");
    let _ = std::fs::remove_file(&path);
    let dev = start(&path).await;
    let origin = dev.issuer().origin().to_string();
    let http = reqwest::Client::new();

    let resp: serde_json::Value = http
        .post(format!("{origin}/api/auth/oauth2/token"))
        .form(&[
            ("grant_type", "urn:ssoguard:dev-user"),
            ("user", "admin@example.com"),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let id_token = resp["id_token"].as_str().expect("id_token").to_string();
    let verifier = Verifier::builder()
        .authority(&origin)
        .audience("dev-client")
        .build()
        .expect("verifier");
    let claims = verifier.verify(&id_token).await.expect("valid");
    assert_eq!(claims.sub, "admin");
    assert!(claims.has_role("admin"));

    // client_credentials with Basic auth and a resource.
    let resp: serde_json::Value = http
        .post(format!("{origin}/api/auth/oauth2/token"))
        .basic_auth("dev-client", Some("dev-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "api:read"),
            ("resource", "http://api"),
        ])
        .send()
        .await
        .expect("cc")
        .json()
        .await
        .expect("json");
    let m2m = resp["access_token"].as_str().expect("access_token");
    let v2 = Verifier::builder()
        .authority(&origin)
        .audience("http://api")
        .build()
        .expect("verifier");
    let claims = v2.verify(m2m).await.expect("m2m valid");
    assert_eq!(claims.sub, "dev-client");
    assert!(claims.has_scope("api:read"));
    let wrong = http
        .post(format!("{origin}/api/auth/oauth2/token"))
        .basic_auth("dev-client", Some("nope"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("cc");
    assert_eq!(wrong.status(), 401);

    // Admin endpoint: key required, 404 for unknown users.
    let url = format!("{origin}/api/auth/admin/get-user?id=alice");
    assert_eq!(http.get(&url).send().await.expect("get").status(), 401);
    let user: serde_json::Value = http
        .get(&url)
        .bearer_auth("dev-api-key")
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(user["email"], "alice@example.com");
    let missing = http
        .get(format!("{origin}/api/auth/admin/get-user?id=nobody"))
        .bearer_auth("dev-api-key")
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), 404);

    // Userinfo with the id_token.
    let info: serde_json::Value = http
        .get(format!("{origin}/api/auth/oauth2/userinfo"))
        .bearer_auth(&id_token)
        .send()
        .await
        .expect("userinfo")
        .json()
        .await
        .expect("json");
    assert_eq!(info["sub"], "admin");

    // Restart with the same keys file: the old token still verifies.
    drop(dev);
    let dev2 = start(&path).await;
    let v3 = Verifier::builder()
        .authority(dev2.issuer().origin())
        .audience("dev-client")
        .build()
        .expect("v");
    let old_claims = serde_json::from_str::<serde_json::Value>(
        &String::from_utf8(
            base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                id_token.split('.').nth(1).expect("payload"),
            )
            .expect("b64"),
        )
        .expect("utf8"),
    )
    .expect("json");
    // Same key (kid), new origin: re-mint with the same key and check the kid matches.
    let fresh = dev2.token_for("alice").expect("alice");
    assert!(v3.verify(&fresh).await.is_ok());
    let kid_of = |t: &str| {
        let h = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            t.split('.').next().expect("h"),
        )
        .expect("b64");
        serde_json::from_slice::<serde_json::Value>(&h).expect("json")["kid"].clone()
    };
    assert_eq!(kid_of(&fresh), kid_of(&id_token), "keys persisted");
    assert_eq!(old_claims["sub"], "admin");
    let _ = std::fs::remove_dir_all(&dir);
}
