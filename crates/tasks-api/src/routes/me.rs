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
    (status = 200, description = "The current user")))]
pub async fn me(user: CurrentUser) -> CurrentUser {
    user
}
