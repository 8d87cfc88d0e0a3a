//! `GET /openapi.json` and `GET /docs` (Swagger UI, vendored: nothing is downloaded at build
//! time), with the Bearer scheme declared so "Authorize" works.
//!
//! The document is the contract `scripts/contract` checks the running service against
//! (schemathesis): request schemas come from the types requests are read with
//! ([`crate::input`]), and every status a route can answer is listed.

use super::AppState;
use crate::input::TaskUpdate;
use axum::Router;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder, Schema};
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

/// What every operation behind the Bearer scheme can answer besides its own statuses: the
/// library's rejections (401, 403) and unavailable signing keys or database (503). Added here
/// once, so no route can forget one; a route's own description of a status is kept.
struct SecuredResponses;

fn error_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorDetail")))
                .build(),
        )
        .into()
}

impl Modify for SecuredResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let statuses = [
            (
                "401",
                "No token, or a token that is invalid, expired or not for this API \
                 (`WWW-Authenticate` says which)",
            ),
            (
                "403",
                "The token is valid but not allowed here: a missing role, scope or organization \
                 permission, a service token on a user route (or a user token on a service \
                 route), or a cross-site request carrying the cookie",
            ),
            (
                "503",
                "Signing keys, the database or an organization membership lookup unavailable; `Retry-After` says when to retry",
            ),
        ];
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                if operation.security.as_ref().is_none_or(Vec::is_empty) {
                    continue;
                }
                for (status, description) in statuses {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| error_response(description));
                }
            }
        }
    }
}

/// States in the schema what [`TaskUpdate::from_body`] enforces: a `PATCH` body names at least one
/// known field (`anyOf` of one `required` each). utoipa's `Object` has no `anyOf`, so the keyword
/// goes in through its flattened extension map, beside `properties`.
struct PatchNamesAField;

impl Modify for PatchNamesAField {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        if let Some(RefOr::T(Schema::Object(update))) = components.schemas.get_mut("TaskUpdate") {
            let any_of: Vec<_> = TaskUpdate::FIELDS
                .iter()
                .map(|f| serde_json::json!({ "required": [f] }))
                .collect();
            update
                .extensions
                .get_or_insert_with(Default::default)
                .insert("anyOf".into(), any_of.into());
        }
    }
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "tasks-api", description = "User-scoped and organization tasks behind Better Auth SSO, verified by ssoguard."),
    paths(
        super::health::health, super::health::ready, super::me::me,
        super::tasks::list_tasks, super::tasks::create_task, super::tasks::get_task,
        super::tasks::update_task, super::tasks::delete_task,
        super::org_tasks::list_org_tasks, super::org_tasks::create_org_task,
        super::org_tasks::update_org_task, super::org_tasks::delete_org_task,
        super::admin::get_user, super::admin::delete_user, super::service::stats,
        super::logout::backchannel_logout,
    ),
    components(schemas(
        crate::db::Task, crate::input::TaskCreate, crate::input::TaskUpdate,
        super::admin::AdminUserView, super::admin::DeletedTasks, super::service::ServiceStats,
        super::logout::LogoutForm, super::logout::OAuthError,
        crate::error::FieldError, crate::error::ErrorDetail, crate::error::ValidationErrors,
    )),
    modifiers(&BearerScheme, &SecuredResponses, &PatchNamesAField),
)]
pub struct ApiDoc;

/// The docs routes.
pub fn router() -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{MAX_DESCRIPTION, MAX_LIMIT, MAX_TITLE};
    use serde_json::{Value, json};

    fn doc() -> Value {
        serde_json::to_value(ApiDoc::openapi()).expect("the document serializes")
    }

    #[test]
    fn every_secured_operation_documents_401_403_and_503() {
        let doc = doc();
        let mut secured = 0;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("path item") {
                if operation.get("security").is_none() {
                    continue;
                }
                secured += 1;
                for status in ["401", "403", "503"] {
                    assert!(
                        operation["responses"].get(status).is_some(),
                        "{method} {path} does not document {status}"
                    );
                }
            }
        }
        assert_eq!(
            secured, 13,
            "me, five task routes, four organization task routes, two admin routes, service stats"
        );
    }

    #[test]
    fn the_documented_limits_are_the_enforced_ones() {
        let doc = doc();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["Title"]["maxLength"], json!(MAX_TITLE));
        assert_eq!(schemas["Title"]["minLength"], json!(1));
        assert_eq!(schemas["Description"]["maxLength"], json!(MAX_DESCRIPTION));
        assert_eq!(schemas["TaskCreate"]["required"], json!(["title"]));
        // In a PATCH, `title` and `done` may be absent but not null; `description` may be null.
        let update = &schemas["TaskUpdate"]["properties"];
        assert!(update["title"].get("$ref").is_some(), "{update}");
        assert!(update["description"].get("oneOf").is_some(), "{update}");
        // ...and at least one of them is named.
        assert_eq!(
            schemas["TaskUpdate"]["anyOf"],
            json!([{"required": ["title"]}, {"required": ["description"]}, {"required": ["done"]}])
        );
        let limit = doc["paths"]["/api/tasks"]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == "limit")
            .expect("limit")
            .clone();
        assert_eq!(limit["schema"]["minimum"], json!(1));
        assert_eq!(limit["schema"]["maximum"], json!(MAX_LIMIT));
    }
}
