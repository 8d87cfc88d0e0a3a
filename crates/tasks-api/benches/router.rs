//! In-process cost of one `tasks-api` request on the token-cache hit path, against a minimal
//! axum app: user space only (no sockets, no kernel), so the figures are stable enough to compare
//! middleware and extractor changes that the load harness (`bench/run.sh`) cannot resolve.
//!
//! - `router/floor_noauth`: a one-route axum `Router` returning the same shape of JSON as
//!   `bench/peer-jwt-authorizer`'s `/noauth` (the in-process analogue of the HTTP floor);
//! - `router/tasks_api_me_cached`: the full `tasks-api` router (CORS, tracing, sensitive headers,
//!   body limit, every route) answering `GET /api/me` with a bearer token already in the
//!   verified-token cache (hash, lookup, `exp`/`nbf` check, `CurrentUser`, JSON).
//!
//! Both call `Router::oneshot` on a clone per request and read the whole body, as `axum::serve`
//! does. Run: `cargo bench -p tasks-api --bench router -- --warm-up-time 1 --measurement-time 3`
//! (results in `docs/BENCHMARKS.md`).

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use axum::{Json, Router};
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt as _;
use serde::Serialize;
use ssoguard::Algorithm;
use ssoguard::testing::SigningKey;
use ssoguard::testing::dev::{DevIssuer, DevIssuerConfig};
use std::collections::HashMap;
use tasks_api::config::Config;
use tasks_api::startup::{build_router, build_state};
use tower::ServiceExt as _;

/// The allocator the `tasks-api` binary uses (`src/main.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Serialize)]
struct User {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    email: String,
    name: String,
    role: String,
}

async fn noauth() -> Json<User> {
    Json(User {
        iss: "http://127.0.0.1:18000/api/auth".into(),
        sub: "user-000001".into(),
        aud: "test-client".into(),
        exp: 2_000_000_000,
        iat: 1_999_996_400,
        email: "user1@example.com".into(),
        name: "Bench User 1".into(),
        role: "user".into(),
    })
}

async fn call(router: &Router, request: Request<Body>) -> usize {
    let response = router.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    body.len()
}

fn router_bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // The service's own log set-up (RUST_LOG default `info`), so disabled spans cost what they do
    // in production.
    tasks_api::telemetry::init(tasks_api::config::LogFormat::Pretty);
    let (tasks_router, token, _dev) = rt.block_on(async {
        let key = SigningKey::generate(Algorithm::RS256, "bench-rs256").expect("key");
        let mut dev_config = DevIssuerConfig::with_keys(vec![key]);
        dev_config.addr = "127.0.0.1:0".into();
        let dev = DevIssuer::start(dev_config).await.expect("dev issuer");
        let vars: HashMap<&str, String> = [
            ("AUTH_SERVER_URL", dev.issuer().origin().to_string()),
            ("SSO_CLIENT_ID", dev.client_id().to_string()),
            ("DATABASE_URL", "sqlite::memory:".to_string()),
            ("PORT", "0".to_string()),
        ]
        .into_iter()
        .collect();
        let config = Config::from_lookup(false, |k| vars.get(k).cloned()).expect("config");
        let state = build_state(&config).await.expect("state");
        state.auth.verifier().warm_up().await.expect("keys");
        let router = build_router(state, &config).expect("router");
        let token = dev.token_for("alice").expect("token");
        (router, token, dev)
    });
    let floor = Router::new().route("/noauth", get(noauth));
    let me = || {
        Request::get("/api/me")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request")
    };
    // The first call verifies the signature and fills the cache; every measured call is a hit.
    assert!(rt.block_on(call(&tasks_router, me())) > 0);

    let mut group = c.benchmark_group("router");
    group.bench_function("floor_noauth", |b| {
        b.to_async(&rt).iter(|| {
            call(
                &floor,
                Request::get("/noauth")
                    .body(Body::empty())
                    .expect("request"),
            )
        });
    });
    group.bench_function("tasks_api_me_cached", |b| {
        b.to_async(&rt).iter(|| call(&tasks_router, me()));
    });
    group.finish();
}

criterion_group!(benches, router_bench);
criterion_main!(benches);
