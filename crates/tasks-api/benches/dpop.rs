//! `GET /api/me` with DPoP beside Bearer in one run, every request with a token never seen
//! before (distinct tokens: the verified-token cache never answers), through the service as
//! `tasks-api` serves it (`build_router` wrapped by `with_middleware`, in process, no sockets):
//!
//! - `dpop-http/bearer_distinct`: an EdDSA token as `Bearer`;
//! - `dpop-http/dpop_distinct`: an EdDSA token bound to an ES256 key (`cnf.jkt`), sent as `DPoP`
//!   with a fresh proof from that key (`htu` = `PUBLIC_URL` + `/api/me`, `ath`, a new `jti`).
//!
//! Tokens and proofs are minted outside the measured time (`iter_batched`): what is measured is
//! the server's work, one extra signature check (the proof's) plus its claim checks and the
//! replay store. Run: `cargo bench -p tasks-api --bench dpop -- --warm-up-time 1
//! --measurement-time 3` (results in `docs/BENCHMARKS.md`).

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt as _;
use ssoguard::Algorithm;
use ssoguard::dev::{DevIssuer, DevIssuerConfig};
use ssoguard::testing::{DpopClient, SigningKey};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use tasks_api::config::Config;
use tasks_api::cors::cors_layer;
use tasks_api::startup::{build_router, build_state, with_middleware};
use tower::{Service, ServiceExt as _};

/// The allocator the `tasks-api` binary uses (`src/main.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PUBLIC_URL: &str = "https://api.example.test";

async fn call<S>(service: &S, request: Request<Body>) -> usize
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone,
{
    let response = service.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    body.len()
}

fn dpop_bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    tasks_api::telemetry::init(tasks_api::config::LogFormat::Pretty);
    let db_file =
        std::env::temp_dir().join(format!("tasks-api-dpop-bench-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db_file);
    let (config, state, dev) = rt.block_on(async {
        let key = SigningKey::generate(Algorithm::EdDSA, "bench-eddsa").expect("key");
        let mut dev_config = DevIssuerConfig::with_keys(vec![key]);
        dev_config.addr = "127.0.0.1:0".into();
        let dev = DevIssuer::start(dev_config).await.expect("dev issuer");
        let vars: HashMap<&str, String> = [
            ("AUTH_SERVER_URL", dev.issuer().origin().to_string()),
            ("SSO_CLIENT_ID", dev.client_id().to_string()),
            ("DATABASE_URL", format!("sqlite://{}", db_file.display())),
            ("PORT", "0".to_string()),
            ("PUBLIC_URL", PUBLIC_URL.to_string()),
        ]
        .into_iter()
        .collect();
        let config = Config::from_lookup(false, |k| vars.get(k).cloned()).expect("config");
        let state = build_state(&config).await.expect("state");
        state.auth.verifier().warm_up().await.expect("keys");
        (config, state, dev)
    });
    let service = with_middleware(build_router(state), cors_layer(&config).expect("cors"));
    let client = DpopClient::generate(Algorithm::ES256).expect("proof key");
    let jkt = client.jkt();
    let me_url = format!("{PUBLIC_URL}/api/me");
    let n = AtomicU64::new(0);
    // A token never seen before: its `jti` differs (the subject too, as distinct users would).
    let mint = |bound: bool| {
        let i = n.fetch_add(1, Ordering::Relaxed);
        let builder = dev
            .issuer()
            .token()
            .sub(&format!("user-{i}"))
            .role("user")
            .claim("jti", serde_json::json!(format!("t-{i}")));
        if bound {
            builder.cnf_jkt(&jkt).sign()
        } else {
            builder.sign()
        }
    };
    let bearer = || {
        Request::get("/api/me")
            .header(header::AUTHORIZATION, format!("Bearer {}", mint(false)))
            .body(Body::empty())
            .expect("request")
    };
    let dpop = || {
        let token = mint(true);
        let proof = client.proof("GET", &me_url, &token).sign();
        Request::get("/api/me")
            .header(header::AUTHORIZATION, format!("DPoP {token}"))
            .header("dpop", proof)
            .body(Body::empty())
            .expect("request")
    };
    assert!(rt.block_on(call(&service, bearer())) > 0);
    assert!(rt.block_on(call(&service, dpop())) > 0);

    let mut group = c.benchmark_group("dpop-http");
    group.bench_function("bearer_distinct", |b| {
        b.to_async(&rt)
            .iter_batched(bearer, |req| call(&service, req), BatchSize::SmallInput);
    });
    group.bench_function("dpop_distinct", |b| {
        b.to_async(&rt)
            .iter_batched(dpop, |req| call(&service, req), BatchSize::SmallInput);
    });
    group.finish();
    let _ = std::fs::remove_file(&db_file);
}

criterion_group!(benches, dpop_bench);
criterion_main!(benches);
