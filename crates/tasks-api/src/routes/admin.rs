//! `/api/admin/users/{user_id}` (role `admin`): a user's task count and SSO profile, or the
//! deletion of their data.

use super::AppState;
use crate::error::{ApiError, ErrorDetail};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use ssoguard::axum::RequireLayer;

/// The admin routes, guarded by `RequireLayer::role(.., "admin")`.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/api/admin/users/{user_id}",
            get(get_user).delete(delete_user),
        )
        .route_layer(RequireLayer::role(state, "admin"))
}

/// What an admin sees about a user.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminUserView {
    /// The user id.
    pub user_id: String,
    /// How many tasks they have.
    pub task_count: i64,
    /// The SSO's profile (M2M call with `SSO_API_KEY`); null when not configured or not found.
    #[schema(value_type = Option<Object>)]
    pub sso_profile: Option<serde_json::Value>,
}

/// Result of deleting a user's data.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeletedTasks {
    /// How many tasks were deleted.
    pub deleted_tasks: u64,
}

/// A user's task count and SSO profile.
#[utoipa::path(get, path = "/api/admin/users/{user_id}", tag = "admin", security(("bearer" = [])),
    params(("user_id" = String, Path)),
    responses((status = 200, body = AdminUserView), (status = 403, body = ErrorDetail, description = "Role 'admin' required")))]
pub async fn get_user(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Result<Json<AdminUserView>, ApiError> {
    let task_count = state.db.count_for_user(&user_id).await?;
    let sso_profile = match &state.sso {
        None => None,
        Some(sso) => match sso.get_user(&user_id).await {
            Ok(profile) => profile,
            Err(e) => {
                tracing::warn!(error = %e, "SSO profile lookup failed");
                None
            }
        },
    };
    Ok(Json(AdminUserView {
        user_id,
        task_count,
        sso_profile,
    }))
}

/// Deletes all of a user's tasks.
#[utoipa::path(delete, path = "/api/admin/users/{user_id}", tag = "admin", security(("bearer" = [])),
    params(("user_id" = String, Path)),
    responses((status = 200, body = DeletedTasks), (status = 403, body = ErrorDetail, description = "Role 'admin' required")))]
pub async fn delete_user(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Result<Json<DeletedTasks>, ApiError> {
    let deleted_tasks = state.db.delete_all_for_user(&user_id).await?;
    tracing::info!(deleted_tasks, "admin deleted a user's tasks");
    Ok(Json(DeletedTasks { deleted_tasks }))
}
