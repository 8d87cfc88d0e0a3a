//! `GET /api/me`: the current user.

use super::AppState;
use axum::Router;
use axum::routing::get;
use ssoguard::axum::CurrentUser;

/// The `/api/me` route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/me", get(me))
}

/// The authenticated user, as the seed's `get_current_user` returns it: `CurrentUser`'s JSON.
#[utoipa::path(get, path = "/api/me", tag = "users", security(("bearer" = [])), responses(
    (status = 200, description = "The current user"),
    (status = 401, description = "Missing or invalid token"),
    (status = 503, description = "Signing keys unavailable")))]
pub async fn me(user: CurrentUser) -> CurrentUser {
    user
}
