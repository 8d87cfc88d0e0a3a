//! `/api/tasks`: the caller's tasks. Another user's task answers 404, never 403 or its content.

use super::AppState;
use crate::db::Task;
use crate::error::{ApiError, ErrorDetail, ValidationErrors};
use crate::input::{ListQuery, TaskCreate, TaskUpdate};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ssoguard::axum::CurrentUser;
use std::collections::HashMap;

/// The task routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/tasks", get(list_tasks).post(create_task))
        .route(
            "/api/tasks/{id}",
            get(get_task).patch(update_task).delete(delete_task),
        )
}

/// The caller's tasks, newest first, one page at a time.
///
/// `limit` (1–100, default 20) with `offset`, or `cursor` (the `X-Next-Cursor` header of the
/// previous page).
#[utoipa::path(get, path = "/api/tasks", tag = "tasks", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, body = [Task], description = "Tasks; `X-Next-Cursor` when more exist"),
        (status = 422, body = ValidationErrors, description = "A query parameter is invalid")))]
pub async fn list_tasks(
    user: CurrentUser,
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let ListQuery { limit, start } = ListQuery::from_query(&query)?;
    let mut tasks = state.db.list(&user.id, limit + 1, start).await?;
    let more = tasks.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    tasks.truncate(usize::try_from(limit).unwrap_or(0));
    let mut headers = HeaderMap::new();
    if more {
        if let Some(last) = tasks.last() {
            if let Ok(v) = HeaderValue::from_str(&last.cursor()) {
                headers.insert("x-next-cursor", v);
            }
        }
    }
    Ok((headers, Json(tasks)).into_response())
}

/// Creates a task for the caller.
#[utoipa::path(post, path = "/api/tasks", tag = "tasks", security(("bearer" = [])),
    request_body = TaskCreate,
    responses((status = 201, body = Task), (status = 413, description = "Body too large"),
        (status = 422, body = ValidationErrors, description = "The body is invalid")))]
pub async fn create_task(
    user: CurrentUser,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    let new = TaskCreate::from_body(&body)?;
    let task = state.db.create(&user.id, new).await?;
    Ok((StatusCode::CREATED, Json(task)))
}

/// One of the caller's tasks (404 for anyone else's).
#[utoipa::path(get, path = "/api/tasks/{id}", tag = "tasks", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Task), (status = 404, body = ErrorDetail, description = "No such task of the caller")))]
pub async fn get_task(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Task>, ApiError> {
    state
        .db
        .get(&user.id, &id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("Task"))
}

/// Updates one of the caller's tasks.
///
/// The body names at least one of `title`, `description`, `done`; a body that names none of them
/// (`{}`, or only unknown fields such as `completed`) is a 422, so a misspelt field never passes
/// for a successful update.
#[utoipa::path(patch, path = "/api/tasks/{id}", tag = "tasks", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = TaskUpdate,
    responses((status = 200, body = Task), (status = 404, body = ErrorDetail, description = "No such task of the caller"),
        (status = 413, description = "Body too large"),
        (status = 422, body = ValidationErrors, description = "The body is invalid")))]
pub async fn update_task(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Task>, ApiError> {
    let patch = TaskUpdate::from_body(&body)?;
    state
        .db
        .update(&user.id, &id, patch)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("Task"))
}

/// Deletes one of the caller's tasks (204).
#[utoipa::path(delete, path = "/api/tasks/{id}", tag = "tasks", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorDetail, description = "No such task of the caller")))]
pub async fn delete_task(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.db.delete(&user.id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("Task"))
    }
}
