//! MCP against REST in one run: the same 20 tasks listed by `tools/call list_tasks` on `/mcp`
//! and by `GET /api/tasks`, each with a token already in the verified-token cache, through the
//! service as `tasks-api` serves it (`build_router` wrapped by `with_middleware`, in process, no
//! sockets). The difference is the protocol's own cost (JSON-RPC framing, the guard reading the
//! body for the tool's scopes, rmcp's dispatch and per-request server), not verification's.
//!
//! - `mcp/rest_list_tasks`: `GET /api/tasks` (the REST API's audience);
//! - `mcp/mcp_list_tasks`: `POST /mcp` `tools/call` `list_tasks` (a token for `<PUBLIC_URL>/mcp`
//!   with `tasks:read`);
//! - `mcp/mcp_tools_list`: `POST /mcp` `tools/list`, the protocol with no database work.
//!
//! Run: `cargo bench -p tasks-api --bench mcp -- --warm-up-time 1 --measurement-time 3`
//! (results in `docs/BENCHMARKS.md`).

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt as _;
use serde_json::json;
use ssoguard::Algorithm;
use ssoguard::dev::{DevIssuer, DevIssuerConfig};
use ssoguard::testing::SigningKey;
use std::collections::HashMap;
use std::convert::Infallible;
use tasks_api::config::Config;
use tasks_api::cors::cors_layer;
use tasks_api::startup::{build_router, build_state, with_middleware};
use tower::{Service, ServiceExt as _};

/// The allocator the `tasks-api` binary uses (`src/main.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PUBLIC_URL: &str = "http://127.0.0.1:8000";

/// One request as `axum::serve` makes it: a clone of the service, called once, the body read.
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

fn mcp_bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    tasks_api::telemetry::init(tasks_api::config::LogFormat::Pretty);
    let db_file =
        std::env::temp_dir().join(format!("tasks-api-mcp-bench-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db_file);
    let (config, state, rest_token, mcp_token, _dev) = rt.block_on(async {
        let key = SigningKey::generate(Algorithm::EdDSA, "bench-eddsa").expect("key");
        let mut dev_config = DevIssuerConfig::with_keys(vec![key]);
        dev_config.addr = "127.0.0.1:0".into();
        let dev = DevIssuer::start(dev_config).await.expect("dev issuer");
        let vars: HashMap<&str, String> = [
            ("AUTH_SERVER_URL", dev.issuer().origin().to_string()),
            ("SSO_CLIENT_ID", dev.client_id().to_string()),
            // A file: each connection to `sqlite::memory:` would be its own empty database.
            ("DATABASE_URL", format!("sqlite://{}", db_file.display())),
            ("PORT", "0".to_string()),
            ("PUBLIC_URL", PUBLIC_URL.to_string()),
        ]
        .into_iter()
        .collect();
        let config = Config::from_lookup(false, |k| vars.get(k).cloned()).expect("config");
        let state = build_state(&config).await.expect("state");
        state.auth.verifier().warm_up().await.expect("keys");
        let rest_token = dev.token_for("alice").expect("token");
        let mcp_token = dev
            .issuer()
            .token()
            .sub("alice")
            .aud(&format!("{PUBLIC_URL}/mcp"))
            .claim("scope", json!("tasks:read"))
            .sign();
        for i in 0..20 {
            let body = format!(r#"{{"title":"task {i}"}}"#);
            let new = tasks_api::input::TaskCreate::from_body(body.as_bytes()).expect("task");
            state.db.create("alice", new).await.expect("create");
        }
        (config, state, rest_token, mcp_token, dev)
    });
    let service = with_middleware(build_router(state), cors_layer(&config).expect("cors"));
    let rest = || {
        Request::get("/api/tasks")
            .header(header::HOST, "127.0.0.1:8000")
            .header(header::AUTHORIZATION, format!("Bearer {rest_token}"))
            .body(Body::empty())
            .expect("request")
    };
    let mcp = |message: &serde_json::Value| {
        Request::post("/mcp")
            .header(header::HOST, "127.0.0.1:8000")
            .header(header::AUTHORIZATION, format!("Bearer {mcp_token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .body(Body::from(message.to_string()))
            .expect("request")
    };
    let list_tasks = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "list_tasks", "arguments": {}}});
    let tools_list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    // Fills the verified-token caches; every measured call is a hit. Same 20 tasks both ways.
    let rest_bytes = rt.block_on(call(&service, rest()));
    let mcp_bytes = rt.block_on(call(&service, mcp(&list_tasks)));
    assert!(
        rest_bytes > 0 && mcp_bytes > rest_bytes,
        "{rest_bytes} {mcp_bytes}"
    );

    let mut group = c.benchmark_group("mcp");
    group.bench_function("rest_list_tasks", |b| {
        b.to_async(&rt).iter(|| call(&service, rest()));
    });
    group.bench_function("mcp_list_tasks", |b| {
        b.to_async(&rt).iter(|| call(&service, mcp(&list_tasks)));
    });
    group.bench_function("mcp_tools_list", |b| {
        b.to_async(&rt).iter(|| call(&service, mcp(&tools_list)));
    });
    group.finish();
}

criterion_group!(benches, mcp_bench);
criterion_main!(benches);
