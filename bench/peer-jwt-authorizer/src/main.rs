//! Load-benchmark peer: a minimal axum app verifying bearer JWTs with the published
//! `jwt-authorizer` 0.15 (jsonwebtoken 9 underneath), configured like ssoguard: JWKS from the
//! key server, `iss` and `aud` checked, `exp` required, 60 s leeway (its default).
//!
//! Routes: `GET /api/me` behind the authorizer layer (the verified claims as JSON) and
//! `GET /noauth` without it (the HTTP floor: same app, same shape of body, no verification).
//!
//! Environment: `JWKS_URL` and `ISSUER` (required), `AUDIENCE` (default `test-client`),
//! `HOST` (default `127.0.0.1`), `PORT` (default `18002`).

use axum::routing::get;
use axum::{Json, Router};
use jwt_authorizer::{Authorizer, IntoLayer, JwtAuthorizer, JwtClaims, Validation};
use serde::{Deserialize, Serialize};

/// The claims a Better Auth id_token carries (what `/api/me` returns).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct User {
    iss: String,
    sub: String,
    aud: serde_json::Value,
    exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
}

async fn me(JwtClaims(user): JwtClaims<User>) -> Json<User> {
    Json(user)
}

async fn noauth() -> Json<User> {
    Json(User {
        iss: "http://127.0.0.1:18000/api/auth".into(),
        sub: "user-000001".into(),
        aud: serde_json::Value::String("test-client".into()),
        exp: 2_000_000_000,
        iat: Some(1_999_996_400),
        email: Some("user1@example.com".into()),
        name: Some("Bench User 1".into()),
        role: Some("user".into()),
    })
}

#[tokio::main]
async fn main() {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let (Ok(jwks_url), Ok(issuer)) = (std::env::var("JWKS_URL"), std::env::var("ISSUER")) else {
        eprintln!("peer-jwt-authorizer: JWKS_URL and ISSUER are required");
        std::process::exit(2);
    };
    let audience = env("AUDIENCE", "test-client");
    let auth: Authorizer<User> = JwtAuthorizer::from_jwks_url(&jwks_url)
        .validation(Validation::new().iss(&[issuer]).aud(&[audience]))
        .build()
        .await
        .expect("authorizer");
    let app = Router::new()
        .route("/api/me", get(me))
        .layer(auth.into_layer())
        .route("/noauth", get(noauth));
    let addr = format!("{}:{}", env("HOST", "127.0.0.1"), env("PORT", "18002"));
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .unwrap_or_else(|e| panic!("cannot bind {addr}: {e}"));
    eprintln!("peer-jwt-authorizer: listening on {addr}");
    axum::serve(listener, app).await.expect("server");
}
