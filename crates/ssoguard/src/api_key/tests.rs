use super::*;
use serde_json::json;
use std::sync::atomic::AtomicUsize;

#[test]
fn stored_hash_matches_the_plugin() {
    // A key and the `key` column Better Auth 1.7.5 (@better-auth/api-key) stored for it.
    assert_eq!(
        stored_hash("QmXHsutaWoABZgtCBcHInkEEkLHzRhuxiBJBGXJWEFHEdaQYlNlFgFLjomPswtDj"),
        "xsvDrOZN_m8NfNUW7O2T4wYWL3fQTtA-kIcibqGGGgE"
    );
}

#[test]
fn permissions_map_to_resource_action() {
    let want = ["projects:read", "tasks:read", "tasks:write"];
    let object = json!({"tasks": ["read", "write"], "projects": ["read"]});
    assert_eq!(permission_list(&object), want);
    // The database column holds the JSON text.
    let text = Value::String(object.to_string());
    assert_eq!(permission_list(&text), want);
    for none in [
        json!(null),
        json!("not json"),
        json!(["tasks:read"]),
        json!({"tasks": "read"}),
    ] {
        assert!(permission_list(&none).is_empty(), "{none}");
    }
    assert_eq!(
        permission_list(&json!({"tasks": ["read", 7]})),
        ["tasks:read"]
    );
}

#[test]
fn refusals_follow_the_plugin_codes() {
    use remote::refusal;
    let none = Value::Null;
    assert_eq!(
        refusal(401, "KEY_DISABLED", &none),
        Some(ApiKeyRefusal::Disabled)
    );
    assert_eq!(
        refusal(401, "KEY_EXPIRED", &none),
        Some(ApiKeyRefusal::Expired)
    );
    assert_eq!(
        refusal(401, "INVALID_API_KEY", &none),
        Some(ApiKeyRefusal::Unknown)
    );
    assert_eq!(
        refusal(403, "INVALID_API_KEY", &none),
        Some(ApiKeyRefusal::Unknown)
    );
    assert_eq!(
        refusal(429, "USAGE_EXCEEDED", &none),
        Some(ApiKeyRefusal::UsageExhausted)
    );
    let limited = json!({"code": "RATE_LIMITED", "details": {"tryAgainIn": 59_944}});
    assert_eq!(
        refusal(429, "RATE_LIMITED", &limited),
        Some(ApiKeyRefusal::RateLimited {
            retry_after: Duration::from_millis(59_944)
        })
    );
    assert_eq!(refusal(500, "", &none), None);
    assert_eq!(refusal(502, "INVALID_API_KEY", &none), None);
    let err = VerifyError::ApiKey(ApiKeyRefusal::RateLimited {
        retry_after: Duration::from_secs(1),
    });
    assert_eq!((err.status_code(), err.oauth_error_code()), (429, None));
    assert_eq!(err.kind(), "api_key_refused");
}

#[test]
fn claims_of_a_user_and_of_a_service_key() {
    let user = FoundKey {
        key_id: Some("k1".into()),
        owner: Owner::User {
            id: "u1".into(),
            email: Some("a@example.com".into()),
            name: Some("A".into()),
            role: Some("user,admin".into()),
            email_verified: Some(true),
        },
        permissions: vec!["tasks:read".into()],
        expires_at: None,
        reuse_until: None,
    };
    let c = claims_for(&user, "http://sso/api/auth", 1_000, Duration::from_secs(30)).expect("ok");
    assert_eq!((c.sub.as_str(), c.exp), ("u1", 1_030));
    assert_eq!(c.email.as_deref(), Some("a@example.com"));
    assert!(c.has_role("admin") && c.has_permission("tasks:read"));
    assert!(!c.is_client_credentials());
    assert_eq!(c.extra["api_key_id"], "k1");
    assert_eq!(c.extra["auth_method"], "api_key");

    let service = FoundKey {
        owner: Owner::Service {
            reference_id: "org1".into(),
        },
        expires_at: Some(2_000),
        ..user
    };
    let c = claims_for(&service, "x", 1_000, Duration::from_secs(30)).expect("ok");
    assert_eq!((c.sub.as_str(), c.exp), ("org1", 2_000));
    assert!(c.is_client_credentials());
    assert_eq!(c.organization_id.as_deref(), Some("org1"));
    assert!(c.email.is_none() && c.roles().is_empty());
}

#[test]
fn builder_refuses_incomplete_or_unsafe_settings() {
    let err = ApiKeyVerifier::builder().build().unwrap_err();
    assert!(err.to_string().contains("remote or database"), "{err}");
    for header in ["", "authorization", "Cookie", "x api key"] {
        let err = ApiKeyVerifier::builder()
            .remote("http://localhost:3001/api/auth")
            .header(header)
            .build()
            .unwrap_err();
        assert!(
            matches!(err, ConfigError::InvalidSetting { .. }),
            "{header}: {err}"
        );
    }
    let err = ApiKeyVerifier::builder()
        .remote("http://localhost:3001/api/auth")
        .timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("timeout"), "{err}");
    let err = ApiKeyVerifier::builder()
        .remote("http://sso.example.com/api/auth")
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::PlainHttp { .. }), "{err}");
    let ok = ApiKeyVerifier::builder()
        .remote("http://sso.example.com/api/auth")
        .insecure_allow_http()
        .header("X-Service-Key")
        .build()
        .expect("allowed explicitly");
    assert_eq!(ok.header_name(), "x-service-key");
    assert!(format!("{ok:?}").contains("remote"));
}

/// A get-session stand-in: answers per key, counts calls, can be slow.
async fn fake_sso(delay: Duration) -> (String, Arc<AtomicUsize>) {
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::get;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = axum::Router::new().route(
        "/api/auth/get-session",
        get(move |headers: HeaderMap| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                let key = headers
                    .get("x-api-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                match key {
                    "good-key" => (
                        StatusCode::OK,
                        axum::Json(json!({
                            "user": {"id": "u1", "email": "u1@example.com", "name": "U",
                                     "role": "user", "emailVerified": false},
                            "session": {"id": "key-1", "token": "good-key"}
                        })),
                    ),
                    "disabled-key" => (
                        StatusCode::UNAUTHORIZED,
                        axum::Json(
                            json!({"code": "KEY_DISABLED", "message": "API Key is disabled"}),
                        ),
                    ),
                    "broken-key" => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        axum::Json(json!({"message": "db down"})),
                    ),
                    _ => (
                        StatusCode::UNAUTHORIZED,
                        axum::Json(
                            json!({"code": "INVALID_API_KEY", "message": "Invalid API key."}),
                        ),
                    ),
                }
            }
        }),
    );
    let origin = crate::testing::serve(app).await;
    (format!("{origin}/api/auth"), calls)
}

#[tokio::test]
async fn remote_answers_are_cached_single_flight_and_typed() {
    let (base, calls) = fake_sso(Duration::from_millis(100)).await;
    let keys = ApiKeyVerifier::builder()
        .remote(&base)
        .build()
        .expect("build");
    // Twenty concurrent requests with one key: one call.
    let all = futures_util::future::join_all((0..20).map(|_| keys.verify("good-key"))).await;
    for claims in &all {
        let claims = claims.as_ref().expect("accepted");
        assert_eq!(claims.sub, "u1");
        assert_eq!(claims.iss, base);
        assert_eq!(claims.extra["api_key_id"], "key-1");
        assert!(
            claims.permissions.is_empty(),
            "remote mode has no permissions"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(keys.lookups(), 1);

    assert_eq!(
        keys.verify("disabled-key").await.unwrap_err(),
        VerifyError::ApiKey(ApiKeyRefusal::Disabled)
    );
    assert_eq!(
        keys.verify("disabled-key").await.unwrap_err(),
        VerifyError::ApiKey(ApiKeyRefusal::Disabled),
        "a refusal is cached"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        keys.verify("nope").await.unwrap_err(),
        VerifyError::ApiKey(ApiKeyRefusal::Unknown)
    );
    // A failing SSO is a 503, never cached.
    for _ in 0..2 {
        let err = keys.verify("broken-key").await.unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    // Values that cannot be keys: no call.
    assert_eq!(
        keys.verify("").await.unwrap_err(),
        VerifyError::MissingToken
    );
    assert!(matches!(
        keys.verify("has\tcontrol").await.unwrap_err(),
        VerifyError::Malformed(_)
    ));
    assert_eq!(
        keys.verify(&"k".repeat(2000)).await.unwrap_err(),
        VerifyError::TokenTooLarge
    );
    assert_eq!(calls.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn an_unreachable_sso_is_503_and_the_key_stays_secret() {
    let keys = ApiKeyVerifier::builder()
        .remote("http://127.0.0.1:9/api/auth")
        .timeout(Duration::from_secs(2))
        .build()
        .expect("build");
    let err = keys.verify("secret-key-value").await.unwrap_err();
    assert_eq!(err.status_code(), 503);
    assert!(!err.to_string().contains("secret-key-value"));
    assert!(!format!("{err:?} {keys:?}").contains("secret-key-value"));
}

#[tokio::test]
async fn cache_ttl_bounds_how_long_an_answer_is_reused() {
    let (base, calls) = fake_sso(Duration::ZERO).await;
    let keys = ApiKeyVerifier::builder()
        .remote(&base)
        .cache_ttl(Duration::from_millis(300))
        .build()
        .expect("build");
    keys.verify("good-key").await.expect("ok");
    keys.verify("good-key").await.expect("ok");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    keys.verify("good-key").await.expect("ok");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "asked again after the TTL");
}

/// Four instances sharing one real Redis: an accepted key looked up by one is looked up by no
/// other, with the same claims; refusals are not shared; Redis killed: each looks up for itself,
/// promptly; the key itself is never stored in Redis.
#[cfg(feature = "shared-redis")]
#[tokio::test]
async fn instances_sharing_redis_look_a_key_up_once() {
    let Ok(mut redis) = crate::testing::RedisServer::start() else {
        assert!(std::env::var_os("CI").is_none(), "redis-server cannot run");
        eprintln!("SKIPPED: redis-server cannot run");
        return;
    };
    let (base, calls) = fake_sso(Duration::ZERO).await;
    let shared = crate::shared::SharedRedis::new(&redis.url()).expect("url");
    let instances: Vec<ApiKeyVerifier> = (0..4)
        .map(|_| {
            ApiKeyVerifier::builder()
                .remote(&base)
                .shared(&shared)
                .build()
                .expect("verifier")
        })
        .collect();
    let first = instances[0].verify("good-key").await.expect("accepted");
    for other in &instances[1..] {
        let claims = other.verify("good-key").await.expect("accepted from Redis");
        assert_eq!(claims.sub, first.sub);
        assert_eq!(claims.extra["api_key_id"], "key-1");
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "one lookup for the cluster"
    );
    let lookups: Vec<u64> = instances.iter().map(ApiKeyVerifier::lookups).collect();
    assert_eq!(lookups, [1, 0, 0, 0]);
    // What Redis holds: claims under a hash, never the key.
    let mut conn = redis::Client::open(redis.url())
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("connection");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .expect("keys");
    assert!(keys.iter().any(|k| k.contains("apikey:")), "{keys:?}");
    for key in &keys {
        assert!(!key.contains("good-key"), "{key}");
        let value: Option<String> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap_or(None);
        assert!(!value.unwrap_or_default().contains("good-key"), "{key}");
    }
    // Refusals are asked again by each instance.
    for keys in &instances[..2] {
        assert_eq!(
            keys.verify("disabled-key").await.unwrap_err(),
            VerifyError::ApiKey(ApiKeyRefusal::Disabled)
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // Redis killed: a new key is looked up by each instance, within bounded waits.
    redis.kill();
    let started = std::time::Instant::now();
    for keys in &instances[..2] {
        let err = keys.verify("other-key").await.unwrap_err();
        assert_eq!(err, VerifyError::ApiKey(ApiKeyRefusal::Unknown));
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(calls.load(Ordering::SeqCst), 5);
}
