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

/// Security review row 7: random bearer strings cannot make the service flood the SSO with
/// introspection calls carrying the client secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bearer_strings_are_refused_without_io_or_within_the_budget() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let v = verifier(&issuer, Duration::from_secs(60), 1000);
    let well_formed: Vec<String> = (0..300)
        .map(|i| format!("rAnd0m-{i:04}_{}", "x".repeat(i % 40)))
        .collect();
    let malformed: Vec<String> = (0..100)
        .map(|i| format!("bad token {i}, <{}>", "%".repeat(i % 5)))
        .collect();

    let calls_before = issuer.introspections();
    for token in &malformed {
        assert_eq!(
            v.verify(token).await.unwrap_err(),
            VerifyError::Malformed("not an RFC 6750 bearer token"),
            "{token}"
        );
    }
    assert_eq!(
        issuer.introspections(),
        calls_before,
        "no I/O for malformed ones"
    );

    let started = std::time::Instant::now();
    let tasks: Vec<_> = well_formed
        .into_iter()
        .map(|token| {
            let v = v.clone();
            tokio::spawn(async move { v.verify(&token).await })
        })
        .collect();
    let (mut inactive, mut over_budget) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            Err(VerifyError::Inactive) => inactive += 1,
            Err(e @ VerifyError::KeysUnavailable { retry_after, .. }) => {
                assert_eq!(e.status_code(), 503);
                assert!(retry_after >= Duration::from_secs(1));
                over_budget += 1;
            }
            other => panic!("a random token must never pass: {other:?}"),
        }
    }
    let calls = issuer.introspections() - calls_before;
    // Default budget: 50 calls a second, 10 at once.
    assert!(calls <= 60, "{calls} calls for 300 random tokens");
    assert_eq!(calls, inactive, "every call answered");
    assert!(
        over_budget >= 240,
        "{over_budget} answered 503 without a call"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn introspection_budget_is_configurable() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let mut cfg = IntrospectionConfig::new("test-client", "test-secret");
    cfg.max_calls_per_second = 2;
    cfg.max_concurrent_calls = 1;
    let v = Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .introspection(cfg)
        .build()
        .expect("config");
    let mut answers = Vec::new();
    for i in 0..5 {
        answers.push(v.verify(&format!("token{i}")).await.unwrap_err());
    }
    assert_eq!(issuer.introspections(), 2, "{answers:?}");
    assert!(answers[2..].iter().all(VerifyError::is_unavailable));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(v.verify("later").await.unwrap_err(), VerifyError::Inactive);
}

#[tokio::test]
async fn refresh_tokens_and_users_without_sub_are_not_access_tokens() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let v = verifier(&issuer, Duration::from_secs(60), 100);
    for token_type in [
        "refresh_token",
        "urn:ietf:params:oauth:token-type:refresh_token",
    ] {
        let mut claims = user_claims(&issuer, "alice");
        claims["token_type"] = json!(token_type);
        assert_eq!(
            v.verify(&issuer.issue_opaque(claims)).await.unwrap_err(),
            VerifyError::UnexpectedTokenType,
            "{token_type}"
        );
    }
    // A user's token whose answer lacks `sub` does not become a service token of its client.
    for user_marker in ["username", "sid"] {
        let mut claims = user_claims(&issuer, "alice");
        let map = claims.as_object_mut().expect("object");
        map.remove("sub");
        map.insert(user_marker.into(), json!("alice-or-her-session"));
        assert_eq!(
            v.verify(&issuer.issue_opaque(claims)).await.unwrap_err(),
            VerifyError::MissingClaim("sub"),
            "{user_marker}"
        );
    }
    let mut neither = user_claims(&issuer, "alice");
    let map = neither.as_object_mut().expect("object");
    map.remove("sub");
    map.remove("client_id");
    assert_eq!(
        v.verify(&issuer.issue_opaque(neither)).await.unwrap_err(),
        VerifyError::MissingClaim("sub")
    );
}

#[tokio::test]
async fn introspection_replies_are_size_capped() {
    use axum::routing::post;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let huge = format!(
        r#"{{"active":true,"sub":"u","client_id":"test-client","pad":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let router = axum::Router::new().route("/introspect", post(move || async move { huge }));
    tokio::spawn(async move { axum::serve(listener, router).await });
    let mut cfg = IntrospectionConfig::new("test-client", "test-secret");
    cfg.endpoint = Some(format!("http://{addr}/introspect"));
    let v = Verifier::builder()
        .issuer("http://127.0.0.1:9/api/auth")
        .jwks_url("http://127.0.0.1:9/jwks")
        .audience("test-client")
        .introspection(cfg)
        .build()
        .expect("config");
    let err = v.verify("opaque-token").await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
}
