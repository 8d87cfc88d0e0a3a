//! `/api/orgs/{org_id}/tasks`: an organization's tasks (Better Auth's organization plugin).
//!
//! The rules, each checked here or by the library before the handler runs:
//! - only members of the organization the path names get in; anyone else gets 404
//!   `Organization not found`, the answer for an organization that does not exist
//!   ([`RequireLayer::organization_member`], [`crate::organizations`] for where memberships come
//!   from);
//! - every member lists and creates tasks;
//! - a member updates and deletes the tasks they created; holders of `task:update` /
//!   `task:delete` (by default `owner` and `admin`) any task of the organization; anyone else
//!   gets 403 `Permission 'task:update' required in this organization`;
//! - a task of another organization answers 404 `Task not found`.

use super::AppState;
use crate::db::{Owner, Task};
use crate::error::{ApiError, ErrorDetail, ValidationErrors};
use crate::input::{ListQuery, TaskCreate, TaskUpdate};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use ssoguard::axum::{OrganizationRejection, RequireLayer};
use ssoguard::organization::{Member, Permission};
use std::collections::HashMap;

/// The organization task routes, behind a membership check.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/api/orgs/{org_id}/tasks",
            get(list_org_tasks).post(create_org_task),
        )
        .route(
            "/api/orgs/{org_id}/tasks/{id}",
            patch(update_org_task).delete(delete_org_task),
        )
        .route_layer(RequireLayer::organization_member(state))
}

/// The organization's task `id`, if the member may change it with `action` (`update`,
/// `delete`): their own, or any with `task:<action>`.
async fn changeable(
    state: &AppState,
    member: &Member,
    id: &str,
    action: &str,
) -> Result<(), ApiError> {
    let task = state
        .db
        .get_of(Owner::Organization(&member.organization_id), id)
        .await?
        .ok_or(ApiError::NotFound("Task"))?;
    if task.user_id == member.user_id {
        return Ok(());
    }
    let permission = Permission::new("task", action).map_err(|_| ApiError::NotFound("Task"))?;
    member
        .require(&permission)
        .map_err(|refusal| OrganizationRejection::new(&state.auth, refusal).into())
}

/// The organization's tasks, newest first, one page at a time (every member).
///
/// `limit` (1–100, default 20) with `offset`, or `cursor` (the `X-Next-Cursor` header of the
/// previous page).
#[utoipa::path(get, path = "/api/orgs/{org_id}/tasks", tag = "organization tasks", security(("bearer" = [])),
    params(("org_id" = String, Path, description = "The organization (Better Auth's organization id)"), ListQuery),
    responses((status = 200, body = [Task], description = "The organization's tasks; `X-Next-Cursor` when more exist"),
        (status = 404, body = ErrorDetail, description = "Organization not found: no such organization, or the caller is not its member"),
        (status = 422, body = ValidationErrors, description = "A query parameter is invalid")))]
pub async fn list_org_tasks(
    member: Member,
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let ListQuery { limit, start } = ListQuery::from_query(&query)?;
    let owner = Owner::Organization(&member.organization_id);
    let mut tasks = state.db.list_of(owner, limit + 1, start).await?;
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

/// Creates a task in the organization (every member); the caller is its `user_id`.
#[utoipa::path(post, path = "/api/orgs/{org_id}/tasks", tag = "organization tasks", security(("bearer" = [])),
    params(("org_id" = String, Path, description = "The organization")),
    request_body = TaskCreate,
    responses((status = 201, body = Task),
        (status = 404, body = ErrorDetail, description = "Organization not found: no such organization, or the caller is not its member"),
        (status = 413, description = "Body too large"),
        (status = 422, body = ValidationErrors, description = "The body is invalid")))]
pub async fn create_org_task(
    member: Member,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    let new = TaskCreate::from_body(&body)?;
    let owner = Owner::Organization(&member.organization_id);
    let task = state.db.create_in(owner, &member.user_id, new).await?;
    Ok((StatusCode::CREATED, Json(task)))
}

/// Updates a task of the organization: the member who created it, or a holder of
/// `task:update` (by default `owner`, `admin`).
///
/// The body names at least one of `title`, `description`, `done`.
#[utoipa::path(patch, path = "/api/orgs/{org_id}/tasks/{id}", tag = "organization tasks", security(("bearer" = [])),
    params(("org_id" = String, Path, description = "The organization"), ("id" = String, Path)),
    request_body = TaskUpdate,
    responses((status = 200, body = Task),
        (status = 403, body = ErrorDetail, description = "Another member's task without `task:update` (`Permission 'task:update' required in this organization`), or a credential refused as on every route"),
        (status = 404, body = ErrorDetail, description = "Organization not found (no such organization, or the caller is not its member), or no such task in it"),
        (status = 413, description = "Body too large"),
        (status = 422, body = ValidationErrors, description = "The body is invalid")))]
pub async fn update_org_task(
    member: Member,
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Task>, ApiError> {
    let (_, id) = path;
    let patch = TaskUpdate::from_body(&body)?;
    changeable(&state, &member, &id, "update").await?;
    state
        .db
        .update_of(Owner::Organization(&member.organization_id), &id, patch)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("Task"))
}

/// Deletes a task of the organization (204): the member who created it, or a holder of
/// `task:delete` (by default `owner`, `admin`).
#[utoipa::path(delete, path = "/api/orgs/{org_id}/tasks/{id}", tag = "organization tasks", security(("bearer" = [])),
    params(("org_id" = String, Path, description = "The organization"), ("id" = String, Path)),
    responses((status = 204, description = "Deleted"),
        (status = 403, body = ErrorDetail, description = "Another member's task without `task:delete` (`Permission 'task:delete' required in this organization`), or a credential refused as on every route"),
        (status = 404, body = ErrorDetail, description = "Organization not found (no such organization, or the caller is not its member), or no such task in it")))]
pub async fn delete_org_task(
    member: Member,
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (_, id) = path;
    changeable(&state, &member, &id, "delete").await?;
    if state
        .db
        .delete_of(Owner::Organization(&member.organization_id), &id)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("Task"))
    }
}
