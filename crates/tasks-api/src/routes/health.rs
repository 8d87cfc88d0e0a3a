//! `/health` (no dependencies) and `/ready` (database answers and signing keys are loaded; with
//! `SSOGUARD_REDIS_URL`, the shared state's connection is reported but does not make the
//! instance unready).

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

/// The health routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
}

/// Liveness: always 200 while the process serves.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, description = "Alive")))]
pub async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: 200 when the database answers and signing keys are loaded; 503 naming what is not.
///
/// With `SSOGUARD_REDIS_URL`, `shared_state` is `ok`, `connecting` or `degraded` (Redis
/// unreachable: DPoP requests are answered 503, revocations known here are still enforced, those
/// received elsewhere are not heard until Redis is back; `unpublished` counts logouts received
/// here and waiting to be shared; opaque tokens are introspected with this instance's own cache
/// and budget). It does not make the instance unready: taking every
/// instance out of the load balancer because Redis is down would refuse every request, bearer
/// JWTs included, which still work. Without it, `shared_state` is `in_process`.
///
/// The body says what is ready and what is not, never why: the SSO's URL and its error text
/// would tell any caller about the internal network. Details go to the log.
#[utoipa::path(get, path = "/ready", tag = "health", responses(
    (status = 200, description = "Ready"),
    (status = 503, description = "Not ready; `not_ready` lists what")))]
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let database = state.db.ping().await;
    let keys = state.auth.verifier().key_status();
    let mut not_ready = Vec::new();
    if !database {
        not_ready.push("database");
    }
    if !keys.ready {
        not_ready.push("signing_keys");
        tracing::warn!(
            last_error = keys.last_error.as_deref().unwrap_or("none yet"),
            "not ready: signing keys unavailable"
        );
    }
    let mut body = json!({
        "status": if not_ready.is_empty() { "ready" } else { "not_ready" },
        "not_ready": not_ready,
        "database": if database { "ok" } else { "unreachable" },
        "signing_keys": if keys.ready { "ok" } else { "unavailable" },
        "shared_state": "in_process",
    });
    if let Some(shared) = &state.shared {
        body["shared_state"] = json!(shared.health().as_str());
        body["unpublished"] = json!(shared.unpublished());
    }
    let status = if not_ready.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
