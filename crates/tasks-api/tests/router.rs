//! Router tests: the service's router as `tasks-api` serves it (every route, the middleware),
//! called in process with `oneshot` — no socket — with real tokens from a dev issuer and a real
//! SQLite database.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use ssoguard::Algorithm;
use ssoguard::dev::{DevIssuer, DevIssuerConfig};
use ssoguard::testing::SigningKey;
use std::collections::HashMap;
use tasks_api::config::Config;
use tasks_api::cors::cors_layer;
use tasks_api::startup::{build_router, build_state, with_middleware};
use tower::ServiceExt as _;

/// The service's router and a dev issuer (kept alive) whose tokens it accepts.
struct Router {
    config: Config,
    state: tasks_api::routes::AppState,
    dev: DevIssuer,
    db_file: std::path::PathBuf,
}

impl Router {
    async fn new() -> Router {
        let key = SigningKey::generate(Algorithm::EdDSA, "router-eddsa").expect("key");
        let mut dev_config = DevIssuerConfig::with_keys(vec![key]);
        dev_config.addr = "127.0.0.1:0".into();
        let dev = DevIssuer::start(dev_config).await.expect("dev issuer");
        let db_file = std::env::temp_dir().join(format!(
            "tasks-api-router-{}.db",
            uuid::Uuid::new_v4().simple()
        ));
        let vars: HashMap<&str, String> = [
            ("AUTH_SERVER_URL", dev.issuer().origin().to_string()),
            ("SSO_CLIENT_ID", dev.client_id().to_string()),
            ("DATABASE_URL", format!("sqlite://{}", db_file.display())),
            ("PORT", "0".to_string()),
        ]
        .into_iter()
        .collect();
        let config = Config::from_lookup(false, |k| vars.get(k).cloned()).expect("config");
        let state = build_state(&config).await.expect("state");
        Router {
            config,
            state,
            dev,
            db_file,
        }
    }

    /// One request through a fresh clone of the service, as `axum::serve` makes it.
    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let token = self.dev.token_for("alice").expect("token");
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let service = with_middleware(
            build_router(self.state.clone()),
            cors_layer(&self.config).expect("cors"),
        );
        let response = service
            .oneshot(request.body(body).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON body")
        };
        (status, json)
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.db_file);
    }
}

#[tokio::test]
async fn a_patch_naming_no_known_field_is_422_and_changes_nothing() {
    let router = Router::new().await;
    let (status, task) = router
        .send(
            "POST",
            "/api/tasks",
            Some(json!({"title": "write the README"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let path = format!("/api/tasks/{}", task["id"].as_str().expect("id"));

    // `completed` is not a field of a task (`done` is): refused, not answered 200 unchanged.
    for body in [json!({"completed": true}), json!({})] {
        let (status, answer) = router.send("PATCH", &path, Some(body.clone())).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {answer}"
        );
        let detail = answer["detail"].as_array().expect("detail list");
        assert_eq!(detail.len(), 1, "{answer}");
        assert_eq!(detail[0]["loc"], json!(["body"]), "{answer}");
        assert_eq!(detail[0]["type"], "value_error", "{answer}");
        assert!(
            detail[0]["msg"]
                .as_str()
                .expect("msg")
                .contains("title, description, done"),
            "{answer}"
        );
    }
    let (status, unchanged) = router.send("GET", &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(unchanged, task, "a refused PATCH changed the task");

    // A known field beside an unknown one: the known one is applied, the unknown one ignored.
    let (status, patched) = router
        .send(
            "PATCH",
            &path,
            Some(json!({"done": true, "completed": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["done"], true);
    assert_eq!(patched["title"], "write the README");
}
