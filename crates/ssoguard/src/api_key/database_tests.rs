//! Database mode on a SQLite file with Better Auth 1.7.5's own DDL for `user` (admin plugin
//! columns included) and `apikey` (copied from a server's migration), rows written as the
//! plugin writes them; then through axum: `CurrentUser`, `ServiceClient`,
//! `RequireLayer::permission`. The same mode against the real server is in
//! `tasks-api/tests/api_keys.rs`.

use super::*;
use crate::axum::{Auth, CurrentUser, RequireLayer, ServiceClient};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

const USER_DDL: &str = r#"CREATE TABLE "user" ("id" text not null primary key, "name" text not null, "email" text not null unique, "emailVerified" integer not null, "image" text, "createdAt" date not null, "updatedAt" date not null, "role" text, "banned" integer, "banReason" text, "banExpires" date)"#;
const API_KEY_DDL: &str = r#"CREATE TABLE "apikey" ("id" text not null primary key, "configId" text not null, "name" text, "start" text, "referenceId" text not null, "prefix" text, "key" text not null, "refillInterval" integer, "refillAmount" integer, "lastRefillAt" date, "enabled" integer, "rateLimitEnabled" integer, "rateLimitTimeWindow" integer, "rateLimitMax" integer, "requestCount" integer, "remaining" integer, "lastRequest" date, "expiresAt" date, "createdAt" date not null, "updatedAt" date not null, "permissions" text, "metadata" text)"#;

async fn seeded_database() -> (String, std::path::PathBuf) {
    use sqlx::ConnectOptions as _;
    let path = std::env::temp_dir().join(format!(
        "ssoguard-api-keys-{}-{}.db",
        std::process::id(),
        unix_now()
    ));
    let url = format!("sqlite://{}", path.display());
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .connect()
        .await
        .expect("create the database");
    let now = "2026-11-30T00:18:38.118Z";
    sqlx::query(USER_DDL)
        .execute(&mut conn)
        .await
        .expect("user");
    sqlx::query(API_KEY_DDL)
        .execute(&mut conn)
        .await
        .expect("apikey");
    sqlx::query(
        r#"INSERT INTO "user" VALUES ('u1', 'Ada', 'ada@example.com', 1, NULL, $1, $1, 'user,admin', 0, NULL, NULL)"#,
    )
    .bind(now)
    .execute(&mut conn)
    .await
    .expect("insert user");
    let keys = [
        (
            "k-user",
            "default",
            "u1",
            "user-key",
            r#"{"tasks":["read","write"]}"#,
        ),
        (
            "k-service",
            "service",
            "org-1",
            "service-key",
            r#"{"reports":["read"]}"#,
        ),
        ("k-orphan", "default", "ghost", "orphan-key", "null"),
    ];
    for (id, config, reference, key, permissions) in keys {
        sqlx::query(
            r#"INSERT INTO "apikey" ("id", "configId", "referenceId", "key", "enabled",
               "rateLimitEnabled", "rateLimitTimeWindow", "rateLimitMax", "requestCount",
               "createdAt", "updatedAt", "permissions")
               VALUES ($1, $2, $3, $4, 1, 1, 86400000, 10, 0, $5, $5, $6)"#,
        )
        .bind(id)
        .bind(config)
        .bind(reference)
        .bind(stored_hash(key))
        .bind(now)
        .bind(permissions)
        .execute(&mut conn)
        .await
        .expect("insert key");
    }
    (url, path)
}

#[derive(Clone, axum::extract::FromRef)]
struct State {
    auth: Auth,
}

fn app(keys: ApiKeyVerifier) -> Router {
    let verifier = crate::Verifier::builder()
        .authority("http://127.0.0.1:9")
        .audience("test-client")
        .build()
        .expect("verifier");
    let state = State {
        auth: Auth::new(verifier).with_api_keys(keys),
    };
    Router::new()
        .route("/me", get(|user: CurrentUser| async move { user }))
        .route(
            "/service",
            get(|client: ServiceClient| async move { client.client_id }),
        )
        .route(
            "/write",
            get(|| async { "written" })
                .route_layer(RequireLayer::permission(&state, "tasks:write")),
        )
        .route(
            "/projects",
            get(|| async { "projects" })
                .route_layer(RequireLayer::permission(&state, "projects:read")),
        )
        .with_state(state)
}

async fn send(app: &Router, path: &str, key: &str) -> (StatusCode, String) {
    let request = Request::get(path)
        .header("x-api-key", key)
        .body(Body::empty())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn database_keys_become_users_services_and_permissions() {
    let (url, path) = seeded_database().await;
    let keys = ApiKeyVerifier::builder()
        .database_url(&url)
        .service_configs(["service"])
        .build()
        .expect("build");

    let claims = keys.verify("user-key").await.expect("user key");
    assert_eq!(claims.sub, "u1");
    assert_eq!(claims.email.as_deref(), Some("ada@example.com"));
    assert_eq!(claims.email_verified, Some(true));
    assert!(claims.has_role("admin"));
    assert_eq!(claims.permissions, ["tasks:read", "tasks:write"]);
    assert_eq!(claims.extra["api_key_id"], "k-user");

    let service = keys.verify("service-key").await.expect("service key");
    assert!(service.is_client_credentials());
    assert_eq!(service.sub, "org-1");

    assert_eq!(
        keys.verify("orphan-key").await.unwrap_err(),
        VerifyError::ApiKey(ApiKeyRefusal::NoOwner)
    );
    assert_eq!(
        keys.verify("never-created").await.unwrap_err(),
        VerifyError::ApiKey(ApiKeyRefusal::Unknown)
    );

    let app = app(keys.clone());
    let (status, body) = send(&app, "/me", "user-key").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(r#""id":"u1""#), "{body}");
    assert_eq!(send(&app, "/write", "user-key").await.0, StatusCode::OK);
    let (status, body) = send(&app, "/projects", "user-key").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // A key without a user is a service, not a user.
    assert_eq!(
        send(&app, "/service", "service-key").await,
        (StatusCode::OK, "org-1".into())
    );
    assert_eq!(
        send(&app, "/me", "service-key").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, "/service", "user-key").await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = send(&app, "/me", "never-created").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("unknown API key"), "{body}");
    assert!(
        !body.contains("never-created"),
        "the key is not echoed: {body}"
    );

    // Two key headers are ambiguous; an Authorization header takes precedence.
    let request = Request::get("/me")
        .header("x-api-key", "user-key")
        .header("x-api-key", "service-key")
        .body(Body::empty())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let request = Request::get("/me")
        .header("x-api-key", "user-key")
        .header("authorization", "Bearer not-a-jwt")
        .body(Body::empty())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let lookups = keys.lookups();
    assert_eq!(send(&app, "/me", "user-key").await.0, StatusCode::OK);
    assert_eq!(keys.lookups(), lookups, "answered from the cache");

    // The database gone: 503, never 200 or 401, for a key not in the cache.
    std::fs::remove_file(&path).expect("remove");
    let fresh = ApiKeyVerifier::builder()
        .database_url(&url)
        .build()
        .expect("build");
    let err = fresh.verify("user-key").await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
}
