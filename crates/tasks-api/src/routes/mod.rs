//! HTTP routes, one module per resource; each exposes `router()`.

pub mod admin;
pub mod docs;
pub mod health;
pub mod me;
pub mod service;
pub mod tasks;

use crate::db::Db;
use axum::extract::FromRef;
use ssoguard::axum::Auth;
use ssoguard::m2m::SsoAdminClient;

/// Shared state; extractors reach the verifier through `FromRef<AppState> for Auth`.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// The verifier and token sources.
    pub auth: Auth,
    /// The task repository.
    pub db: Db,
    /// The SSO admin client (`None` when `SSO_API_KEY` is not set).
    pub sso: Option<SsoAdminClient>,
}
