//! `/api/tasks`: the caller's tasks. Another user's task answers 404, never 403 or its content.

use super::AppState;
use crate::db::{self, NewTask, PageStart, Task, TaskPatch};
use crate::error::{ApiError, FieldError};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value};
use ssoguard::axum::CurrentUser;
use std::collections::HashMap;

/// Longest title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 5000;

/// The task routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/tasks", get(list_tasks).post(create_task))
        .route(
            "/api/tasks/{id}",
            get(get_task).patch(update_task).delete(delete_task),
        )
}

/// Body of `POST /api/tasks`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct TaskCreate {
    /// 1 to 200 characters.
    pub title: String,
    /// Up to 5000 characters.
    pub description: Option<String>,
    /// Default false.
    pub done: Option<bool>,
}

/// Body of `PATCH /api/tasks/{id}`: any subset; `description: null` clears it.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct TaskUpdate {
    /// 1 to 200 characters.
    pub title: Option<String>,
    /// Up to 5000 characters, or null.
    pub description: Option<String>,
    /// Done flag.
    pub done: Option<bool>,
}

fn parse_object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.is_empty() {
        return Err(ApiError::Validation(vec![FieldError {
            loc: vec!["body".into()],
            msg: "Field required".into(),
            kind: "missing".into(),
        }]));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::Validation(vec![FieldError {
            loc: vec!["body".into()],
            msg: "Input should be a valid dictionary or object".into(),
            kind: "model_attributes_type".into(),
        }])),
        Err(e) => Err(ApiError::Validation(vec![FieldError {
            loc: vec!["body".into(), e.column().to_string()],
            msg: "JSON decode error".into(),
            kind: "json_invalid".into(),
        }])),
    }
}

fn title_field(value: &Value, errors: &mut Vec<FieldError>) -> Option<String> {
    match value {
        Value::String(s) if s.trim().is_empty() => {
            errors.push(FieldError::body(
                "title",
                "String should have at least 1 character",
                "string_too_short",
            ));
            None
        }
        Value::String(s) if s.chars().count() > MAX_TITLE => {
            errors.push(FieldError::body(
                "title",
                format!("String should have at most {MAX_TITLE} characters"),
                "string_too_long",
            ));
            None
        }
        Value::String(s) => Some(s.clone()),
        _ => {
            errors.push(FieldError::body(
                "title",
                "Input should be a valid string",
                "string_type",
            ));
            None
        }
    }
}

fn description_field(value: &Value, errors: &mut Vec<FieldError>) -> Option<Option<String>> {
    match value {
        Value::Null => Some(None),
        Value::String(s) if s.chars().count() > MAX_DESCRIPTION => {
            errors.push(FieldError::body(
                "description",
                format!("String should have at most {MAX_DESCRIPTION} characters"),
                "string_too_long",
            ));
            None
        }
        Value::String(s) => Some(Some(s.clone())),
        _ => {
            errors.push(FieldError::body(
                "description",
                "Input should be a valid string",
                "string_type",
            ));
            None
        }
    }
}

fn done_field(value: &Value, errors: &mut Vec<FieldError>) -> Option<bool> {
    if let Value::Bool(b) = value {
        Some(*b)
    } else {
        errors.push(FieldError::body(
            "done",
            "Input should be a valid boolean",
            "bool_type",
        ));
        None
    }
}

fn validate_create(body: &Bytes) -> Result<NewTask, ApiError> {
    let map = parse_object(body)?;
    let mut errors = Vec::new();
    let title = match map.get("title") {
        None => {
            errors.push(FieldError::body("title", "Field required", "missing"));
            None
        }
        Some(v) => title_field(v, &mut errors),
    };
    let description = map
        .get("description")
        .map(|v| description_field(v, &mut errors));
    let done = match map.get("done") {
        None | Some(Value::Null) => Some(false),
        Some(v) => done_field(v, &mut errors),
    };
    match (title, description.unwrap_or(Some(None)), done) {
        (Some(title), Some(description), Some(done)) if errors.is_empty() => Ok(NewTask {
            title,
            description,
            done,
        }),
        _ => Err(ApiError::Validation(errors)),
    }
}

fn validate_patch(body: &Bytes) -> Result<TaskPatch, ApiError> {
    let map = parse_object(body)?;
    let mut errors = Vec::new();
    let mut patch = TaskPatch::default();
    if let Some(v) = map.get("title") {
        patch.title = title_field(v, &mut errors);
    }
    if let Some(v) = map.get("description") {
        patch.description = description_field(v, &mut errors);
    }
    if let Some(v) = map.get("done") {
        patch.done = done_field(v, &mut errors);
    }
    if errors.is_empty() {
        Ok(patch)
    } else {
        Err(ApiError::Validation(errors))
    }
}

fn page_from_query(query: &HashMap<String, String>) -> Result<(i64, PageStart), ApiError> {
    let mut errors = Vec::new();
    let limit = match query.get("limit").map(|v| v.parse::<i64>()) {
        None => 20,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            errors.push(FieldError::query(
                "limit",
                "Input should be an integer from 1 to 100",
                "int_range",
            ));
            20
        }
    };
    let start = match (
        query.get("cursor"),
        query.get("offset").map(|v| v.parse::<i64>()),
    ) {
        (Some(cursor), _) => match db::parse_cursor(cursor) {
            Some((micros, id)) => PageStart::After(micros, id),
            None => {
                errors.push(FieldError::query("cursor", "Invalid cursor", "value_error"));
                PageStart::Offset(0)
            }
        },
        (None, None) => PageStart::Offset(0),
        (None, Some(Ok(n))) if n >= 0 => PageStart::Offset(n),
        (None, Some(_)) => {
            errors.push(FieldError::query(
                "offset",
                "Input should be a non-negative integer",
                "int_range",
            ));
            PageStart::Offset(0)
        }
    };
    if errors.is_empty() {
        Ok((limit, start))
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// The caller's tasks, newest first. `limit` (1–100, default 20) with `offset`, or `cursor`
/// (the `X-Next-Cursor` header of the previous page).
#[utoipa::path(get, path = "/api/tasks", tag = "tasks", security(("bearer" = [])),
    params(("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = [Task], description = "Tasks; `X-Next-Cursor` when more exist"),
        (status = 401), (status = 422), (status = 503)))]
pub async fn list_tasks(
    user: CurrentUser,
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (limit, start) = page_from_query(&query)?;
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
    responses((status = 201, body = Task), (status = 401), (status = 413), (status = 422), (status = 503)))]
pub async fn create_task(
    user: CurrentUser,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    let new = validate_create(&body)?;
    let task = state.db.create(&user.id, new).await?;
    Ok((StatusCode::CREATED, Json(task)))
}

/// One of the caller's tasks (404 for anyone else's).
#[utoipa::path(get, path = "/api/tasks/{id}", tag = "tasks", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Task), (status = 404)))]
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
#[utoipa::path(patch, path = "/api/tasks/{id}", tag = "tasks", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = TaskUpdate,
    responses((status = 200, body = Task), (status = 404), (status = 422)))]
pub async fn update_task(
    user: CurrentUser,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Task>, ApiError> {
    let patch = validate_patch(&body)?;
    state
        .db
        .update(&user.id, &id, patch)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("Task"))
}

/// Deletes one of the caller's tasks (204).
#[utoipa::path(delete, path = "/api/tasks/{id}", tag = "tasks", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 204), (status = 404)))]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(result: Result<NewTask, ApiError>) -> Vec<(String, String)> {
        match result {
            Err(ApiError::Validation(e)) => {
                e.into_iter().map(|f| (f.loc.join("."), f.kind)).collect()
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn create_validation_matches_fastapi() {
        let ok = validate_create(&Bytes::from_static(br#"{"title":"x"}"#)).expect("valid");
        assert!(!ok.done && ok.description.is_none());
        assert_eq!(
            errors(validate_create(&Bytes::from_static(b"{}"))),
            [("body.title".into(), "missing".into())]
        );
        assert_eq!(
            errors(validate_create(&Bytes::from_static(br#"{"title":5}"#))),
            [("body.title".into(), "string_type".into())]
        );
        assert_eq!(
            errors(validate_create(&Bytes::from_static(br#"{"title":"  "}"#))),
            [("body.title".into(), "string_too_short".into())]
        );
        let long = format!(r#"{{"title":"{}"}}"#, "x".repeat(201));
        assert_eq!(
            errors(validate_create(&Bytes::from(long))),
            [("body.title".into(), "string_too_long".into())]
        );
        assert_eq!(
            errors(validate_create(&Bytes::from_static(
                br#"{"title":"x","done":"yes","description":1}"#
            ))),
            [
                ("body.description".into(), "string_type".into()),
                ("body.done".into(), "bool_type".into())
            ]
        );
        assert_eq!(
            errors(validate_create(&Bytes::from_static(b"[1]")))[0].1,
            "model_attributes_type"
        );
        assert_eq!(
            errors(validate_create(&Bytes::from_static(b"{oops")))[0].1,
            "json_invalid"
        );
        assert_eq!(errors(validate_create(&Bytes::new()))[0].1, "missing");
    }
}
