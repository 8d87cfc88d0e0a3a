//! HTTP routes, one module per resource; each exposes `router()`.

pub mod admin;
pub mod docs;
pub mod health;
pub mod logout;
pub mod mcp;
pub mod me;
pub mod org_tasks;
pub mod service;
pub mod tasks;

use crate::db::Db;
use axum::extract::FromRef;
use ssoguard::axum::Auth;
use ssoguard::m2m::SsoAdminClient;
use ssoguard::mcp::McpAuthLayer;
use ssoguard::organization::Organizations;
use ssoguard::shared::RedisRevocations;
use std::ops::Deref;
use std::sync::Arc;

/// Shared state, behind one `Arc`: axum clones the state for every request, and a clone of this
/// is one reference count (the services inside are cheap to clone too, but each is several).
/// Fields are reached through `Deref` (`state.db`); extractors reach the verifier through
/// `FromRef<AppState> for Auth`.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

/// What the routes share.
pub struct Services {
    /// The verifier and token sources.
    pub auth: Auth,
    /// The task repository.
    pub db: Db,
    /// The SSO admin client (`None` when `SSO_API_KEY` is not set).
    pub sso: Option<SsoAdminClient>,
    /// The organizations of `/api/orgs/{org_id}/…` (memberships, roles, permissions).
    pub organizations: Organizations,
    /// The revocations shared through Redis (`None` when `SSOGUARD_REDIS_URL` is not set), for
    /// `/ready`.
    pub shared: Option<Arc<RedisRevocations>>,
    /// The guard of `/mcp` (`None` when `PUBLIC_URL` is not set: no MCP endpoint).
    pub mcp: Option<McpAuthLayer>,
}

impl AppState {
    /// Bundles the services.
    #[must_use]
    pub fn new(
        auth: Auth,
        db: Db,
        sso: Option<SsoAdminClient>,
        organizations: Organizations,
        shared: Option<Arc<RedisRevocations>>,
        mcp: Option<McpAuthLayer>,
    ) -> Self {
        AppState(Arc::new(Services {
            auth,
            db,
            sso,
            organizations,
            shared,
            mcp,
        }))
    }
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

impl FromRef<AppState> for Auth {
    fn from_ref(state: &AppState) -> Auth {
        state.auth.clone()
    }
}

impl FromRef<AppState> for Organizations {
    fn from_ref(state: &AppState) -> Organizations {
        state.organizations.clone()
    }
}
