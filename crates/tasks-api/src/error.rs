//! [`ApiError`]: every failure a handler can answer with, in FastAPI's shape.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use ssoguard::axum::{AuthRejection, OrganizationRejection};

/// One validation problem, FastAPI style.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Where: e.g. `["body", "title"]`.
    pub loc: Vec<String>,
    /// What is wrong.
    pub msg: String,
    /// Machine-readable kind (`missing`, `string_type`, `string_too_long`, …).
    #[serde(rename = "type")]
    pub kind: String,
}

impl FieldError {
    /// A problem with a body field.
    #[must_use]
    pub fn body(field: &str, msg: impl Into<String>, kind: &str) -> Self {
        FieldError {
            loc: vec!["body".into(), field.into()],
            msg: msg.into(),
            kind: kind.into(),
        }
    }

    /// A problem with a query parameter.
    #[must_use]
    pub fn query(field: &str, msg: impl Into<String>, kind: &str) -> Self {
        FieldError {
            loc: vec!["query".into(), field.into()],
            msg: msg.into(),
            kind: kind.into(),
        }
    }
}

/// The body of every error but 422: `{"detail": "…"}`, FastAPI's shape (the library's
/// rejections answer the same).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// What went wrong, for a person.
    pub detail: String,
}

/// The body of a 422: every problem of the request.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ValidationErrors {
    /// One entry per problem.
    pub detail: Vec<FieldError>,
}

/// Errors a route can answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401/403/503 from authentication or authorization.
    #[error(transparent)]
    Auth(#[from] AuthRejection),
    /// 401/403/404/503 from an organization membership or permission check.
    #[error(transparent)]
    Organization(#[from] OrganizationRejection),
    /// 404 `{"detail": "Task not found"}`: also for another user's task.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 422 with FastAPI's `detail` list.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 503: the database did not answer. The cause is logged, never sent.
    #[error("database unavailable")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Database(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Auth(rejection) => rejection.into_response(),
            ApiError::Organization(rejection) => rejection.into_response(),
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                axum::Json(ErrorDetail {
                    detail: format!("{what} not found"),
                }),
            )
                .into_response(),
            ApiError::Validation(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(ValidationErrors { detail: errors }),
            )
                .into_response(),
            ApiError::Database(e) => {
                tracing::error!(error = %e, "database error");
                let mut resp = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(ErrorDetail {
                        detail: "Database unavailable, retry later".into(),
                    }),
                )
                    .into_response();
                resp.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from_static("5"),
                );
                resp
            }
        }
    }
}
