//! Organization extractors: the caller's [`Member`]ship, [`RequirePermission`], and their
//! rejection, on [`crate::organization`].
//!
//! The organization comes from where [`Organizations`] is configured to take it; for
//! [`OrganizationSource::PathSegment`] it is the route's path parameter of that name
//! (`/api/orgs/{org_id}/tasks`). Refusals:
//!
//! - a refused credential: the [`AuthRejection`] (401, 403 for CSRF, 503);
//! - a service (`client_credentials`) token: 403 (organizations have users as members);
//! - no active organization, not a member of the credential's organization, a missing
//!   permission: 403 `insufficient_scope` with the reason as `detail`;
//! - not a member of an organization the **request** names: 404 `Organization not found`, the
//!   answer for an organization that does not exist, so a non-member cannot tell them apart;
//! - the membership could not be looked up: 503 with `Retry-After`, never let in.
//!
//! The member is resolved once per request: a [`RequireLayer::organization_permission`]
//! (or `organization_member`) and the extractors after it share it.
//!
//! [`RequireLayer::organization_permission`]: super::RequireLayer::organization_permission

use super::{Auth, AuthRejection, claims_of_kind, scheme_of};
use crate::challenge::Scheme;
use crate::claims::TokenClaims;
use crate::error::{KeysUnavailable, VerifyError};
use crate::organization::{
    Member, MembershipRefusal, OrganizationSource, Organizations, Permission,
};
use axum::extract::{FromRef, FromRequestParts, RawPathParams};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

/// Why a request was not let in as a member: the credential's own refusal (401, 403 for CSRF,
/// 503); 403 for a service token; 403 `insufficient_scope` without an active organization, a
/// membership of the credential's organization or a permission; 404 `Organization not found`
/// for a non-member of an organization the request names; 503 with `Retry-After` when the
/// membership cannot be looked up.
#[derive(Debug, Clone)]
pub struct OrganizationRejection(Box<Rejected>);

#[derive(Debug, Clone)]
struct Rejected {
    /// The membership refusal, when the credential itself was fine.
    refusal: Option<MembershipRefusal>,
    /// The rendered refusal; `None` for the 404.
    response: Option<AuthRejection>,
}

impl OrganizationRejection {
    fn membership(auth: &Auth, refusal: MembershipRefusal, scheme: Option<Scheme>) -> Self {
        let response = match &refusal {
            MembershipRefusal::NotMember { hidden: true } => None,
            MembershipRefusal::Unavailable => Some(auth.reject(
                VerifyError::KeysUnavailable {
                    reason: KeysUnavailable::OrganizationStore,
                    retry_after: Duration::from_secs(5),
                },
                scheme,
            )),
            other => {
                tracing::debug!(refusal = %other, "organization access refused");
                Some(auth.forbidden(other.to_string(), Vec::new(), scheme))
            }
        };
        OrganizationRejection(Box::new(Rejected {
            refusal: Some(refusal),
            response,
        }))
    }

    /// The rejection of `refusal`, rendered with `auth`'s realm: for a check a handler makes
    /// itself (`member.require(&permission)`, a rule on the resource's owner).
    #[must_use]
    pub fn new(auth: &Auth, refusal: MembershipRefusal) -> Self {
        Self::membership(auth, refusal, None)
    }

    /// The HTTP status: 401, 403, 404 or 503.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.0
            .response
            .as_ref()
            .map_or(StatusCode::NOT_FOUND, AuthRejection::status)
    }

    /// Why the caller is not a member (or lacks a permission), when the credential was fine.
    #[must_use]
    pub fn membership_refusal(&self) -> Option<&MembershipRefusal> {
        self.0.refusal.as_ref()
    }
}

impl From<AuthRejection> for OrganizationRejection {
    fn from(rejection: AuthRejection) -> Self {
        OrganizationRejection(Box::new(Rejected {
            refusal: None,
            response: Some(rejection),
        }))
    }
}

impl fmt::Display for OrganizationRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0.refusal, &self.0.response) {
            (Some(refusal), _) => fmt::Display::fmt(refusal, f),
            (None, Some(response)) => fmt::Display::fmt(response, f),
            (None, None) => f.write_str("Organization not found"),
        }
    }
}

impl std::error::Error for OrganizationRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match (&self.0.refusal, &self.0.response) {
            (Some(refusal), _) => Some(refusal),
            (None, Some(response)) => Some(response),
            (None, None) => None,
        }
    }
}

impl IntoResponse for OrganizationRejection {
    fn into_response(self) -> Response {
        match self.0.response {
            Some(response) => response.into_response(),
            None => (
                StatusCode::NOT_FOUND,
                axum::Json(serde_json::json!({"detail": "Organization not found"})),
            )
                .into_response(),
        }
    }
}

/// The member of this request, resolved once (the layer and later extractors share it).
#[derive(Clone)]
struct ResolvedMember(Member);

/// Resolves the caller's membership for a request whose credential is verified.
pub(super) async fn resolve_member(
    parts: &mut Parts,
    auth: &Auth,
    organizations: &Organizations,
    claims: Arc<TokenClaims>,
    scheme: Option<Scheme>,
) -> Result<Member, OrganizationRejection> {
    if let Some(ResolvedMember(member)) = parts.extensions.get::<ResolvedMember>() {
        return Ok(member.clone());
    }
    let requested = match organizations.source() {
        OrganizationSource::PathSegment(name) => {
            let params = RawPathParams::from_request_parts(parts, &()).await.ok();
            let value = params.and_then(|p| {
                p.iter()
                    .find(|(key, _)| *key == name.as_str())
                    .map(|(_, value)| value.to_owned())
            });
            if value.is_none() {
                tracing::error!(
                    parameter = name.as_str(),
                    "the route has no such path parameter: no organization"
                );
            }
            value
        }
        _ => None,
    };
    let member = organizations
        .member(&claims, requested.as_deref())
        .await
        .map_err(|refusal| OrganizationRejection::membership(auth, refusal, scheme))?;
    parts.extensions.insert(ResolvedMember(member.clone()));
    Ok(member)
}

/// Checks `permission` for `member`.
pub(super) fn check_permission(
    auth: &Auth,
    member: &Member,
    permission: &Permission,
    scheme: Option<Scheme>,
) -> Result<(), OrganizationRejection> {
    member
        .require(permission)
        .map_err(|refusal| OrganizationRejection::membership(auth, refusal, scheme))
}

async fn member_of_request<S>(parts: &mut Parts, state: &S) -> Result<Member, OrganizationRejection>
where
    Auth: FromRef<S>,
    Organizations: FromRef<S>,
    S: Send + Sync,
{
    if let Some(ResolvedMember(member)) = parts.extensions.get::<ResolvedMember>() {
        return Ok(member.clone());
    }
    let claims = claims_of_kind(
        parts,
        state,
        false,
        "A user token is required (this is a service token)",
    )
    .await?;
    let auth = Auth::from_ref(state);
    let organizations = Organizations::from_ref(state);
    let scheme = scheme_of(parts);
    resolve_member(parts, &auth, &organizations, claims, scheme).await
}

/// The caller as a member of the request's organization.
///
/// ```
/// use axum::{Router, extract::FromRef, routing::get};
/// use ssoguard::axum::Auth;
/// use ssoguard::organization::{Member, Organizations, OrganizationSource};
///
/// #[derive(Clone, FromRef)]
/// struct AppState { auth: Auth, organizations: Organizations }
///
/// async fn roles(member: Member) -> String { member.roles.join(",") }
///
/// # fn build(auth: Auth) -> Result<Router, ssoguard::ConfigError> {
/// let organizations = Organizations::builder()
///     .source(OrganizationSource::PathSegment("org_id".into()))
///     .build()?;
/// let app = Router::new()
///     .route("/api/orgs/{org_id}/roles", get(roles))
///     .with_state(AppState { auth, organizations });
/// # Ok(app) }
/// ```
impl<S> FromRequestParts<S> for Member
where
    Auth: FromRef<S>,
    Organizations: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = OrganizationRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        member_of_request(parts, state).await
    }
}

/// A permission for [`RequirePermission`]. Declare one with [`permission!`](crate::permission).
pub trait PermissionName: Send + Sync + 'static {
    /// The resource (`task`).
    const RESOURCE: &'static str;
    /// The action (`create`).
    const ACTION: &'static str;
}

/// Declares a permission marker type for [`RequirePermission`].
///
/// ```
/// ssoguard::permission!(CreateTask, "task", "create");
/// async fn create(ssoguard::axum::RequirePermission(member, ..): ssoguard::axum::RequirePermission<CreateTask>) {}
/// ```
#[macro_export]
macro_rules! permission {
    ($name:ident, $resource:literal, $action:literal) => {
        #[doc = concat!("The `", $resource, ":", $action, "` permission.")]
        #[derive(Debug, Clone, Copy)]
        pub struct $name;
        impl $crate::axum::PermissionName for $name {
            const RESOURCE: &'static str = $resource;
            const ACTION: &'static str = $action;
        }
    };
}

/// Extractor: the caller as a member of the request's organization whose roles grant `P`
/// (403 `Permission '…' required in this organization` otherwise).
#[derive(Debug, Clone)]
pub struct RequirePermission<P: PermissionName>(pub Member, pub PhantomData<P>);

impl<S, P> FromRequestParts<S> for RequirePermission<P>
where
    Auth: FromRef<S>,
    Organizations: FromRef<S>,
    S: Send + Sync,
    P: PermissionName,
{
    type Rejection = OrganizationRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let member = member_of_request(parts, state).await?;
        let auth = Auth::from_ref(state);
        // A marker with an invalid name is granted nothing (fail closed).
        let permission = Permission::new(P::RESOURCE, P::ACTION).map_err(|_| {
            OrganizationRejection::membership(
                &auth,
                MembershipRefusal::NotMember { hidden: false },
                scheme_of(parts),
            )
        })?;
        check_permission(&auth, &member, &permission, scheme_of(parts))?;
        Ok(RequirePermission(member, PhantomData))
    }
}
