//! A minimal axum app on ssoguard: the library's share of `tasks-api`'s cost, without its
//! middleware (CORS, tracing, body limit), and with the verified-token cache switchable.
//!
//! Routes: `GET /api/me` (the `CurrentUser` JSON, as `tasks-api` serves it), `GET /health` and
//! `GET /metrics` (the verifier's counters as JSON, e.g. how many EdDSA checks were batched).
//!
//! Environment: `AUTH_SERVER_URL` (required), `SSO_CLIENT_ID` (default `test-client`),
//! `HOST` (default `127.0.0.1`), `PORT` (default `18003`), `TOKEN_CACHE` (`on` (default) or `off`),
//! `SIGNATURE_BATCHING` (`on` (default) or `off`: `VerifierBuilder::signature_batching`).

use axum::extract::FromRef;
use axum::routing::get;
use axum::{Json, Router};
use ssoguard::axum::{Auth, CurrentUser};
use ssoguard::{TokenCacheConfig, Verifier};

#[derive(Clone, FromRef)]
struct AppState {
    auth: Auth,
}

async fn me(user: CurrentUser) -> Json<CurrentUser> {
    Json(user)
}

#[tokio::main]
async fn main() {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let Ok(authority) = std::env::var("AUTH_SERVER_URL") else {
        eprintln!("ssoguard-app: AUTH_SERVER_URL is required");
        std::process::exit(2);
    };
    let cache = match env("TOKEN_CACHE", "on").as_str() {
        "on" => TokenCacheConfig::default(),
        "off" => TokenCacheConfig::default().enabled(false),
        other => {
            eprintln!("ssoguard-app: TOKEN_CACHE must be on or off, not {other}");
            std::process::exit(2);
        }
    };
    let batching = match env("SIGNATURE_BATCHING", "on").as_str() {
        "on" => true,
        "off" => false,
        other => {
            eprintln!("ssoguard-app: SIGNATURE_BATCHING must be on or off, not {other}");
            std::process::exit(2);
        }
    };
    let verifier = Verifier::builder()
        .authority(authority)
        .audience(env("SSO_CLIENT_ID", "test-client"))
        .token_cache(cache)
        .signature_batching(batching)
        .build()
        .expect("verifier configuration");
    if let Err(e) = verifier.warm_up().await {
        eprintln!("ssoguard-app: keys not loaded yet: {e}");
    }
    let counters = verifier.clone();
    let state = AppState {
        auth: Auth::new(verifier),
    };
    let app = Router::new()
        .route("/api/me", get(me))
        .route("/health", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(move || {
                let counters = counters.clone();
                async move { Json(counters.metrics()) }
            }),
        )
        .with_state(state);
    let addr = format!("{}:{}", env("HOST", "127.0.0.1"), env("PORT", "18003"));
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .unwrap_or_else(|e| panic!("cannot bind {addr}: {e}"));
    eprintln!("ssoguard-app: listening on {addr}");
    axum::serve(listener, app).await.expect("server");
}
