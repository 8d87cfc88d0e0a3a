//! `/mcp`: the caller's tasks as MCP tools (streamable HTTP, `rmcp`), served when `PUBLIC_URL`
//! is set (the resource `<PUBLIC_URL>/mcp` is the audience its tokens carry, RFC 8707).
//!
//! | tool | scope | what |
//! | --- | --- | --- |
//! | `list_tasks` | `tasks:read` | the caller's tasks, newest first (`limit`, `cursor`) |
//! | `create_task` | `tasks:write` | a new task (`title`, `description`, `done`) |
//! | `update_task` | `tasks:write` | one of the caller's tasks (`id` and the fields to change) |
//! | `delete_task` | `tasks:write` | one of the caller's tasks (`id`) |
//!
//! Same data and rules as the REST API (`/api/tasks`): the same validation (`TaskCreate`,
//! `TaskUpdate`, `ListQuery`), another user's task is "not found". Tokens, scopes and the
//! `insufficient_scope` step-up are [`ssoguard::mcp::McpAuthLayer`]'s, decided before a tool
//! runs; the tools read the caller it attached. The server is stateless (no `Mcp-Session-Id`):
//! any instance behind a load balancer answers any request.

use super::AppState;
use crate::db::{Db, Task};
use crate::error::ApiError;
use crate::input::{ListQuery, TaskCreate, TaskUpdate};
use axum::Router;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};
use ssoguard::axum::CurrentUser;
use ssoguard::mcp::McpAuthLayer;
use ssoguard::mcp::McpResource;
use std::collections::HashMap;
use std::sync::Arc;

/// The scope of `list_tasks`.
pub const SCOPE_READ: &str = "tasks:read";
/// The scope of the tools that change tasks.
pub const SCOPE_WRITE: &str = "tasks:write";

/// The resource at `<public_url>/mcp` and its tools' scopes.
///
/// # Errors
///
/// [`ssoguard::ConfigError`] when `public_url` is not an absolute http(s) URL.
pub fn resource(public_url: &str) -> Result<McpResource, ssoguard::ConfigError> {
    let base = public_url.trim().trim_end_matches('/');
    Ok(McpResource::new(format!("{base}/mcp"))?
        .tool_scopes("list_tasks", [SCOPE_READ])
        .tool_scopes("create_task", [SCOPE_WRITE])
        .tool_scopes("update_task", [SCOPE_WRITE])
        .tool_scopes("delete_task", [SCOPE_WRITE])
        .resource_name("tasks-api"))
}

/// `/mcp` and its metadata when the service has a public URL; else no route.
pub fn router_if_enabled(state: &AppState) -> Router<AppState> {
    match &state.mcp {
        Some(guard) => router(state.db.clone(), guard),
        None => Router::new(),
    }
}

/// `/mcp` behind `guard`, and the resource's metadata document.
pub fn router<S>(db: Db, guard: &McpAuthLayer) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let hosts = allowed_hosts(guard.resource().resource());
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_allowed_hosts(hosts);
    let service = StreamableHttpService::new(
        move || Ok(TasksMcp::new(db.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    Router::new()
        .route_service("/mcp", tower::Layer::layer(guard, service))
        .merge(guard.metadata_router())
}

/// The `Host` values rmcp accepts (its DNS-rebinding guard): loopback, and the public URL's
/// host with and without its port.
fn allowed_hosts(resource: &str) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
        .into_iter()
        .map(String::from)
        .collect();
    if let Ok(url) = reqwest::Url::parse(resource) {
        if let Some(host) = url.host_str() {
            hosts.push(host.to_string());
            if let Some(port) = url.port() {
                hosts.push(format!("{host}:{port}"));
            }
        }
    }
    hosts
}

/// The MCP server: one per request (stateless), sharing the database pool.
#[derive(Clone)]
pub struct TasksMcp {
    db: Db,
    tool_router: ToolRouter<Self>,
}

/// `list_tasks` arguments.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct ListArgs {
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `create_task` arguments (the body of `POST /api/tasks`).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateArgs {
    /// The title (not blank; its length limit is the REST API's).
    pub title: String,
    /// The description.
    #[serde(default)]
    pub description: Option<String>,
    /// Done or not (default false).
    #[serde(default)]
    pub done: Option<bool>,
}

/// `update_task` arguments: the task's id and the fields of `PATCH /api/tasks/{id}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct UpdateArgs {
    /// The task's id.
    pub id: String,
    /// A new title.
    #[serde(default)]
    pub title: Option<String>,
    /// A new description (null clears it).
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Option<String>>,
    /// The new done flag.
    #[serde(default)]
    pub done: Option<bool>,
}

/// `delete_task` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DeleteArgs {
    /// The task's id.
    pub id: String,
}

/// A field that is present (`null` included) is `Some`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

type ToolResult = Result<CallToolResult, ErrorData>;

#[tool_router]
impl TasksMcp {
    /// The server over `db`.
    #[must_use]
    pub fn new(db: Db) -> Self {
        TasksMcp {
            db,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "List your tasks, newest first. Returns {tasks, next_cursor}.")]
    async fn list_tasks(
        &self,
        Extension(parts): Extension<axum::http::request::Parts>,
        Parameters(args): Parameters<ListArgs>,
    ) -> ToolResult {
        let user = caller(&parts)?;
        let mut query = HashMap::new();
        if let Some(limit) = args.limit {
            query.insert("limit".to_string(), limit.to_string());
        }
        if let Some(cursor) = args.cursor {
            query.insert("cursor".to_string(), cursor);
        }
        let run = async {
            let ListQuery { limit, start } = ListQuery::from_query(&query)?;
            let mut tasks = self.db.list(&user.id, limit + 1, start).await?;
            let more = tasks.len() > usize::try_from(limit).unwrap_or(usize::MAX);
            tasks.truncate(usize::try_from(limit).unwrap_or(0));
            let next = more.then(|| tasks.last().map(Task::cursor)).flatten();
            Ok(json!({ "tasks": tasks, "next_cursor": next }))
        };
        outcome(run.await)
    }

    #[tool(description = "Create a task. Returns the task.")]
    async fn create_task(
        &self,
        Extension(parts): Extension<axum::http::request::Parts>,
        Parameters(args): Parameters<CreateArgs>,
    ) -> ToolResult {
        let user = caller(&parts)?;
        let body = json!({
            "title": args.title,
            "description": args.description,
            "done": args.done.unwrap_or(false),
        });
        let run = async {
            let new = TaskCreate::from_body(body.to_string().as_bytes())?;
            Ok(json!(self.db.create(&user.id, new).await?))
        };
        outcome(run.await)
    }

    #[tool(description = "Update one of your tasks: give its id and the fields to change.")]
    async fn update_task(
        &self,
        Extension(parts): Extension<axum::http::request::Parts>,
        Parameters(args): Parameters<UpdateArgs>,
    ) -> ToolResult {
        let user = caller(&parts)?;
        let mut body = json!({});
        if let Some(title) = args.title {
            body["title"] = json!(title);
        }
        if let Some(description) = args.description {
            body["description"] = json!(description);
        }
        if let Some(done) = args.done {
            body["done"] = json!(done);
        }
        let run = async {
            let patch = TaskUpdate::from_body(body.to_string().as_bytes())?;
            match self.db.update(&user.id, &args.id, patch).await? {
                Some(task) => Ok(json!(task)),
                None => Err(ApiError::NotFound("Task")),
            }
        };
        outcome(run.await)
    }

    #[tool(description = "Delete one of your tasks by id. Returns {deleted: id}.")]
    async fn delete_task(
        &self,
        Extension(parts): Extension<axum::http::request::Parts>,
        Parameters(args): Parameters<DeleteArgs>,
    ) -> ToolResult {
        let user = caller(&parts)?;
        let run = async {
            if self.db.delete(&user.id, &args.id).await? {
                Ok(json!({ "deleted": args.id }))
            } else {
                Err(ApiError::NotFound("Task"))
            }
        };
        outcome(run.await)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for TasksMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("tasks-api", env!("CARGO_PKG_VERSION")))
            .with_instructions("Your tasks: list_tasks, create_task, update_task, delete_task.")
    }
}

/// The user the guard attached. Its absence is a wiring fault (the guard is missing), never a
/// reason to act as anyone.
fn caller(parts: &axum::http::request::Parts) -> Result<CurrentUser, ErrorData> {
    parts
        .extensions
        .get::<CurrentUser>()
        .cloned()
        .ok_or_else(|| ErrorData::internal_error("no authenticated caller", None))
}

/// A tool's answer: its JSON as structured content, or the REST API's error body as a tool
/// error (`isError`), so the model sees what to fix. A database fault is a protocol error.
fn outcome(result: Result<Value, ApiError>) -> ToolResult {
    match result {
        Ok(value) => Ok(CallToolResult::structured(value)),
        Err(ApiError::Database(e)) => {
            tracing::error!(error = %e, "database error");
            Err(ErrorData::internal_error(
                "Database unavailable, retry later",
                None,
            ))
        }
        Err(ApiError::Validation(errors)) => Ok(CallToolResult::structured_error(
            json!({ "detail": errors }),
        )),
        Err(other) => Ok(CallToolResult::structured_error(
            json!({ "detail": other.to_string() }),
        )),
    }
}
