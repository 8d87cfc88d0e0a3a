//! Client-credentials token source and SSO admin client against the dev issuer, over HTTP.

use ssoguard::dev::{DevIssuer, DevIssuerConfig};
use ssoguard::m2m::{BETTER_AUTH_GET_USER, ClientCredentials, M2mError, SsoAdminClient};
use ssoguard::testing::Fault;
use ssoguard::testing::SigningKey;
use ssoguard::{Algorithm, Verifier};
use std::time::Duration;

async fn dev(ttl: Duration) -> DevIssuer {
    let mut cfg = DevIssuerConfig::with_keys(vec![
        SigningKey::generate(Algorithm::EdDSA, "k1").expect("key"),
    ]);
    cfg.addr = "127.0.0.1:0".into();
    cfg.token_ttl = ttl;
    DevIssuer::start(cfg).await.expect("dev issuer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_cached_shared_and_refreshed() {
    let dev = dev(Duration::from_secs(2)).await;
    let source = ClientCredentials::builder("dev-client", "dev-secret")
        .authority(dev.issuer().origin())
        .scope("api:read")
        .resource("http://api.example")
        .refresh_skew(Duration::from_secs(1))
        .build();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let s = source.clone();
            tokio::spawn(async move { s.token().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.expect("task").expect("token"));
    }
    assert!(tokens.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(source.fetches(), 1, "one request in flight for 50 callers");
    let again = source.token().await.expect("cached");
    assert_eq!(again, tokens[0]);
    assert_eq!(source.fetches(), 1);

    // The token is a real JWT for the resource, with the scope, and sub = the client id.
    let verifier = Verifier::builder()
        .authority(dev.issuer().origin())
        .audience("http://api.example")
        .build()
        .expect("v");
    let claims = verifier.verify(&again).await.expect("valid");
    assert!(claims.is_client_credentials() && claims.has_scope("api:read"));

    tokio::time::sleep(Duration::from_millis(1200)).await;
    let refreshed = source.token().await.expect("refreshed");
    assert_eq!(source.fetches(), 2, "refreshed shortly before expiry");
    assert!(!refreshed.is_empty());
}

#[tokio::test]
async fn credentials_errors_and_outages_are_told_apart() {
    let dev = dev(Duration::from_secs(600)).await;
    let wrong = ClientCredentials::builder("dev-client", "wrong")
        .authority(dev.issuer().origin())
        .build();
    assert!(matches!(
        wrong.token().await,
        Err(M2mError::Unauthorized(_))
    ));

    let endpoint = format!("{}/oauth2/token", dev.issuer().issuer());
    let down = ClientCredentials::builder("dev-client", "dev-secret")
        .token_endpoint(endpoint)
        .retries(2)
        .build();
    dev.issuer().set_fault(Some(Fault::Down));
    assert!(matches!(down.token().await, Err(M2mError::Unavailable(_))));
    assert_eq!(down.fetches(), 3, "first try + 2 retries");
    dev.issuer().set_fault(None);
    assert!(down.token().await.is_ok());
}

#[tokio::test]
async fn admin_client_fetches_caches_and_reports_bad_keys() {
    let dev = dev(Duration::from_secs(600)).await;
    let client = SsoAdminClient::new(dev.issuer().issuer(), BETTER_AUTH_GET_USER, dev.api_key());
    let alice = client.get_user("alice").await.expect("ok").expect("found");
    assert_eq!(alice["email"], "alice@example.com");
    assert_eq!(client.get_user("nobody").await.expect("ok"), None);
    // Cached: answers while the SSO is down.
    dev.issuer().set_fault(Some(Fault::Down));
    assert!(client.get_user("alice").await.expect("cached").is_some());
    assert!(matches!(
        client.get_user("admin").await,
        Err(M2mError::Unavailable(_))
    ));
    dev.issuer().set_fault(None);
    let bad = SsoAdminClient::new(dev.issuer().origin(), BETTER_AUTH_GET_USER, "wrong-key");
    let err = bad.get_user("alice").await.unwrap_err();
    assert!(matches!(err, M2mError::Unauthorized(_)));
    assert!(err.to_string().contains("API key"));
}
