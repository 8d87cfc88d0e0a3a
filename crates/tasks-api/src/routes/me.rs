//! `GET /api/me`: the current user.

use super::AppState;
use axum::Router;
use axum::routing::get;
use ssoguard::axum::CurrentUser;

/// The `/api/me` route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/me", get(me))
}

/// The signed-in user: id, email, name, role and roles from the verified token.
///
/// The JSON of the library's `CurrentUser`, the same fields whichever credential was accepted.
#[utoipa::path(get, path = "/api/me", tag = "users", security(("bearer" = [])), responses(
    (status = 200, description = "The current user")))]
pub async fn me(user: CurrentUser) -> CurrentUser {
    user
}
