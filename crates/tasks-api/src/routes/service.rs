//! `/api/service/*`: routes for other services (client-credentials tokens), guarded by scope.
//! User tokens are refused here, and service tokens are refused on user routes.

use super::AppState;
use crate::error::{ApiError, ErrorDetail};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use ssoguard::axum::{RequireLayer, ServiceClient};

/// The service routes; `api:read` scope required.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/service/stats", get(stats))
        .route_layer(RequireLayer::scope(state, "api:read"))
}

/// Statistics for a calling service.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServiceStats {
    /// The calling client (`sub` of its token).
    pub client_id: String,
    /// Tasks stored, all users together.
    pub total_tasks: i64,
}

/// Task statistics for a service caller.
///
/// Needs a client-credentials token with scope `api:read`; a user's token is refused (403).
#[utoipa::path(get, path = "/api/service/stats", tag = "service", security(("bearer" = [])),
    responses((status = 200, body = ServiceStats),
        (status = 403, body = ErrorDetail, description = "Scope 'api:read' or a service token required")))]
pub async fn stats(
    service: ServiceClient,
    State(state): State<AppState>,
) -> Result<Json<ServiceStats>, ApiError> {
    Ok(Json(ServiceStats {
        client_id: service.client_id,
        total_tasks: state.db.count_all().await?,
    }))
}
