//! Opaque access tokens through RFC 7662 introspection, against the test issuer's endpoint.

use serde_json::json;
use ssoguard::testing::{Fault, TestIssuer};
use ssoguard::{IntrospectionConfig, Verifier, VerifyError};
use std::time::Duration;

fn verifier(issuer: &TestIssuer, ttl: Duration, max_entries: usize) -> Verifier {
    let mut cfg = IntrospectionConfig::new("test-client", "test-secret");
    cfg.cache_ttl = ttl;
    cfg.max_entries = max_entries;
    Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .introspection(cfg)
        .build()
        .expect("config")
}

fn user_claims(issuer: &TestIssuer, sub: &str) -> serde_json::Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    json!({
        "iss": issuer.issuer(), "client_id": "test-client", "azp": "test-client", "sub": sub,
        "exp": now + 3600, "iat": now, "scope": "openid email", "email": format!("{sub}@example.com"),
        "role": "user,admin",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_tokens_are_introspected_cached_and_shared() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let v = verifier(&issuer, Duration::from_secs(1), 100);
    let token = issuer.issue_opaque(user_claims(&issuer, "alice"));

    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let v = v.clone();
            let token = token.clone();
            tokio::spawn(async move { v.verify(&token).await })
        })
        .collect();
    for t in tasks {
        let claims = t.await.expect("task").expect("active");
        assert_eq!(claims.sub, "alice");
        assert!(claims.has_role("admin"));
        assert_eq!(claims.email.as_deref(), Some("alice@example.com"));
        assert!(!claims.is_client_credentials());
    }
    assert_eq!(
        issuer.introspections(),
        1,
        "concurrent requests share one call"
    );
    assert!(v.verify(&token).await.is_ok());
    assert_eq!(issuer.introspections(), 1, "cached");

    // Revoked: still accepted from cache until the entry ends, then refused.
    issuer.revoke_opaque(&token);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(v.verify(&token).await.unwrap_err(), VerifyError::Inactive);
    assert_eq!(
        v.verify("never-issued-token").await.unwrap_err(),
        VerifyError::Inactive
    );
}

#[tokio::test]
async fn client_credentials_opaque_tokens_are_service_principals() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let v = verifier(&issuer, Duration::from_secs(60), 100);
    let mut claims = user_claims(&issuer, "x");
    let map = claims.as_object_mut().expect("object");
    for k in ["sub", "email", "role"] {
        map.remove(k);
    }
    map.insert("scope".into(), json!("api:read api:write"));
    let token = issuer.issue_opaque(claims);
    let verified = v.verify(&token).await.expect("active");
    assert_eq!(verified.sub, "test-client");
    assert!(verified.is_client_credentials());
    assert!(verified.has_scope("api:read"));
}

#[tokio::test]
async fn foreign_clients_wrong_issuer_and_outages() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let v = verifier(&issuer, Duration::from_secs(60), 100);
    // A token issued to another client: audience mismatch.
    let mut other = user_claims(&issuer, "bob");
    other["client_id"] = json!("another-app");
    other["azp"] = json!("another-app");
    assert_eq!(
        v.verify(&issuer.issue_opaque(other)).await.unwrap_err(),
        VerifyError::AudienceMismatch
    );
    let mut wrong_iss = user_claims(&issuer, "bob");
    wrong_iss["iss"] = json!("https://evil.example/api/auth");
    assert_eq!(
        v.verify(&issuer.issue_opaque(wrong_iss)).await.unwrap_err(),
        VerifyError::IssuerMismatch
    );

    let token = issuer.issue_opaque(user_claims(&issuer, "carol"));
    issuer.set_fault(Some(Fault::Down));
    let err = v.verify(&token).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert_eq!(err.status_code(), 503);
    issuer.set_fault(None);
    assert!(v.verify(&token).await.is_ok());

    // Wrong client secret: a configuration error, answered as 503, never as "inactive".
    issuer.set_introspection_client("test-client", "rotated-secret");
    let fresh = issuer.issue_opaque(user_claims(&issuer, "dave"));
    assert!(v.verify(&fresh).await.unwrap_err().is_unavailable());
}

#[tokio::test]
async fn introspection_cache_is_bounded() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let v = verifier(&issuer, Duration::from_secs(60), 3);
    for i in 0..10 {
        let token = issuer.issue_opaque(user_claims(&issuer, &format!("u{i}")));
        assert!(v.verify(&token).await.is_ok());
        assert!(v.introspection_cache_len() <= 3);
    }
    assert_eq!(v.introspection_calls(), 10);
}

#[tokio::test]
async fn jwts_still_take_the_signature_path() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let v = verifier(&issuer, Duration::from_secs(60), 100);
    assert!(v.verify(&issuer.token().sign()).await.is_ok());
    assert_eq!(issuer.introspections(), 0);
}
