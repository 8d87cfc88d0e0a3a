//! `GET /openapi.json` and `GET /docs` (Swagger UI, vendored: nothing is downloaded at build
//! time), with the Bearer scheme declared so "Authorize" works.

use super::AppState;
use axum::Router;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT".into());
        http.description = Some("id_token (or JWT access token) from Better Auth SSO".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "tasks-api", description = "User-scoped tasks behind Better Auth SSO, verified by ssoguard."),
    paths(
        super::health::health, super::health::ready, super::me::me,
        super::tasks::list_tasks, super::tasks::create_task, super::tasks::get_task,
        super::tasks::update_task, super::tasks::delete_task,
        super::admin::get_user, super::admin::delete_user, super::service::stats,
    ),
    components(schemas(
        crate::db::Task, super::tasks::TaskCreate, super::tasks::TaskUpdate,
        super::admin::AdminUserView, super::admin::DeletedTasks, super::service::ServiceStats, crate::error::FieldError,
    )),
    modifiers(&BearerScheme),
)]
pub struct ApiDoc;

/// The docs routes.
pub fn router() -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
}
