//! What the `dpop` and `mcp` benches share: the service as `tasks-api` serves it, on a dev issuer
//! with one EdDSA key and a SQLite file, with a public URL; and one request made as
//! `axum::serve` makes it.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt as _;
use ssoguard::Algorithm;
use ssoguard::dev::{DevIssuer, DevIssuerConfig};
use ssoguard::testing::SigningKey;
use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use tasks_api::config::Config;
use tasks_api::cors::cors_layer;
use tasks_api::routes::AppState;
use tasks_api::startup::{build_router, build_state, with_middleware};
use tokio::runtime::Runtime;
use tower::{Service, ServiceExt as _};

/// One request as `axum::serve` makes it: a clone of the service, called once, the body read.
pub(crate) async fn call<S>(service: &S, request: Request<Body>) -> usize
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

/// The service, its state (its database) and its dev issuer; the SQLite file is removed on drop.
pub(crate) struct Served<S> {
    pub(crate) service: S,
    /// Its database, for benches that fill it first.
    #[allow(
        dead_code,
        reason = "each bench compiles this module; not every one reads the state"
    )]
    pub(crate) state: AppState,
    pub(crate) dev: DevIssuer,
    pub(crate) rt: Runtime,
    db_file: PathBuf,
}

impl<S> Drop for Served<S> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.db_file);
    }
}

/// `tasks-api` with `PUBLIC_URL=public_url`, its keys loaded, on a current-thread runtime.
pub(crate) fn serve(
    name: &str,
    public_url: &str,
) -> Served<impl Service<Request<Body>, Response = Response, Error = Infallible> + Clone> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // The service's own log set-up, so disabled spans cost what they do in production.
    tasks_api::telemetry::init(tasks_api::config::LogFormat::Pretty);
    // A file: each connection to `sqlite::memory:` would be its own empty database.
    let db_file =
        std::env::temp_dir().join(format!("tasks-api-{name}-bench-{}.db", std::process::id()));
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
            ("PUBLIC_URL", public_url.to_string()),
        ]
        .into_iter()
        .collect();
        let config = Config::from_lookup(false, |k| vars.get(k).cloned()).expect("config");
        let state = build_state(&config).await.expect("state");
        state.auth.verifier().warm_up().await.expect("keys");
        (config, state, dev)
    });
    let service = with_middleware(
        build_router(state.clone()),
        cors_layer(&config).expect("cors"),
    );
    Served {
        service,
        state,
        dev,
        rt,
        db_file,
    }
}
