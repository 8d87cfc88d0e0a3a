//! [`RequireLayer`]: a `route_layer` guard for a role, permission, scope or organization
//! membership, and the [`RequireRole`] extractor, sharing one requirement check.

use super::{
    Auth, AuthRejection, CurrentUser, RoleName, VerifiedClaims, claims_of_kind, scheme_of,
};
use crate::challenge::Scheme;
use crate::claims::TokenClaims;
use crate::organization::{Organizations, Permission};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::Request;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

#[derive(Debug, Clone)]
pub(super) enum Requirement {
    Role(String),
    AnyRole(Vec<String>),
    Permission(String),
    Scope(String),
    /// Membership of the request's organization (and a permission in it): checked by
    /// `organization.rs`, after the credential, never by the claims alone.
    Organization(Option<Permission>),
}

impl Requirement {
    pub(super) fn check(
        &self,
        claims: &TokenClaims,
        auth: &Auth,
        scheme: Option<Scheme>,
    ) -> Result<(), AuthRejection> {
        let (ok, detail) = match self {
            Requirement::Role(role) => (claims.has_role(role), format!("Role '{role}' required")),
            Requirement::AnyRole(roles) => (
                roles.iter().any(|r| claims.has_role(r)),
                format!("One of roles {} required", roles.join(", ")),
            ),
            Requirement::Permission(p) => (
                claims.has_permission(p),
                format!("Permission '{p}' required"),
            ),
            Requirement::Scope(s) => (claims.has_scope(s), format!("Scope '{s}' required")),
            // The membership is checked against the organization, not the claims.
            Requirement::Organization(_) => return Ok(()),
        };
        if ok {
            Ok(())
        } else {
            tracing::debug!(requirement = ?self, "access refused: requirement not met");
            let scope = match self {
                Requirement::Scope(s) => vec![s.clone()],
                _ => Vec::new(),
            };
            Err(auth.forbidden(detail, scope, scheme))
        }
    }
}

/// A `route_layer` guard: authenticates, checks a role, permission or scope, and lets the
/// request through with its verified claims attached (extractors then reuse them).
#[derive(Clone, Debug)]
pub struct RequireLayer {
    auth: Auth,
    requirement: Arc<Requirement>,
    /// Whether a service (`client_credentials`) token may pass a role requirement.
    service_tokens: bool,
    /// The organizations, for an organization requirement.
    organizations: Option<Organizations>,
}

impl RequireLayer {
    fn new<S>(state: &S, requirement: Requirement) -> Self
    where
        Auth: FromRef<S>,
    {
        RequireLayer {
            auth: Auth::from_ref(state),
            requirement: Arc::new(requirement),
            service_tokens: false,
            organizations: None,
        }
    }

    fn organization<S>(state: &S, permission: Option<Permission>) -> Self
    where
        Auth: FromRef<S>,
        Organizations: FromRef<S>,
    {
        RequireLayer {
            organizations: Some(Organizations::from_ref(state)),
            ..Self::new(state, Requirement::Organization(permission))
        }
    }

    /// Requires a user who is a member of the request's organization
    /// ([`Organizations`]); the [`Member`](crate::organization::Member) extractor then reuses
    /// the membership. Refusals as described in
    /// [`OrganizationRejection`](super::OrganizationRejection) (403, 404 for a non-member of
    /// an organization the request names, 503). Service tokens are refused (403).
    pub fn organization_member<S>(state: &S) -> Self
    where
        Auth: FromRef<S>,
        Organizations: FromRef<S>,
    {
        Self::organization(state, None)
    }

    /// Requires a member of the request's organization whose roles grant `permission`
    /// (`"task:create".parse()?`): 403 `Permission 'task:create' required in this
    /// organization` for a member without it, otherwise as
    /// [`organization_member`](Self::organization_member).
    pub fn organization_permission<S>(state: &S, permission: Permission) -> Self
    where
        Auth: FromRef<S>,
        Organizations: FromRef<S>,
    {
        Self::organization(state, Some(permission))
    }

    /// Lets service (`client_credentials`) tokens pass a [`role`](Self::role) or
    /// [`any_role`](Self::any_role) requirement too. Default: roles are users' — a service
    /// token is refused with 403 even if it carries the role (as the [`CurrentUser`](super::CurrentUser)
    /// extractor refuses it). Permission and scope requirements accept both kinds.
    #[must_use]
    pub fn allow_service_tokens(mut self) -> Self {
        self.service_tokens = true;
        self
    }

    /// Requires `role` from a user (403 `{"detail": "Role 'admin' required"}` otherwise; a
    /// service token is refused unless [`allow_service_tokens`](Self::allow_service_tokens)).
    pub fn role<S>(state: &S, role: impl Into<String>) -> Self
    where
        Auth: FromRef<S>,
    {
        Self::new(state, Requirement::Role(role.into()))
    }

    /// Requires one of `roles`.
    pub fn any_role<S, I>(state: &S, roles: I) -> Self
    where
        Auth: FromRef<S>,
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Self::new(
            state,
            Requirement::AnyRole(roles.into_iter().map(Into::into).collect()),
        )
    }

    /// Requires a permission in the `permissions` claim.
    pub fn permission<S>(state: &S, permission: impl Into<String>) -> Self
    where
        Auth: FromRef<S>,
    {
        Self::new(state, Requirement::Permission(permission.into()))
    }

    /// Requires a scope in the `scope` claim (client-credentials tokens).
    pub fn scope<S>(state: &S, scope: impl Into<String>) -> Self
    where
        Auth: FromRef<S>,
    {
        Self::new(state, Requirement::Scope(scope.into()))
    }
}

impl<Svc> tower_layer::Layer<Svc> for RequireLayer {
    type Service = RequireService<Svc>;

    fn layer(&self, inner: Svc) -> Self::Service {
        RequireService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of a [`RequireLayer`].
#[derive(Clone, Debug)]
pub struct RequireService<Svc> {
    inner: Svc,
    layer: RequireLayer,
}

impl<Svc, B> tower_service::Service<Request<B>> for RequireService<Svc>
where
    Svc: tower_service::Service<Request<B>, Response = Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    Svc::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // The clone is not ready; swap so the ready one handles this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (claims, scheme) = match req.extensions().get::<VerifiedClaims>() {
                Some(VerifiedClaims(c, scheme)) => (c.clone(), *scheme),
                None => match layer
                    .auth
                    .authenticate_inner(req.method(), Some(req.uri()), req.headers())
                    .await
                {
                    Ok(found) => found,
                    Err(rejection) => return Ok(rejection.into_response()),
                },
            };
            let role_requirement = matches!(
                *layer.requirement,
                Requirement::Role(_) | Requirement::AnyRole(_)
            );
            let organization = matches!(*layer.requirement, Requirement::Organization(_));
            let user_only = (role_requirement && !layer.service_tokens) || organization;
            if user_only && claims.is_client_credentials() {
                return Ok(layer
                    .auth
                    .forbidden(
                        "A user token is required (this is a service token)".into(),
                        Vec::new(),
                        scheme,
                    )
                    .into_response());
            }
            if let Err(rejection) = layer.requirement.check(&claims, &layer.auth, scheme) {
                return Ok(rejection.into_response());
            }
            req.extensions_mut()
                .insert(VerifiedClaims(claims.clone(), scheme));
            if let (Requirement::Organization(permission), Some(organizations)) =
                (&*layer.requirement, &layer.organizations)
            {
                let (mut parts, body) = req.into_parts();
                let checked = super::organization::resolve_member(
                    &mut parts,
                    &layer.auth,
                    organizations,
                    claims,
                    scheme,
                )
                .await
                .and_then(|member| {
                    permission.as_ref().map_or(Ok(()), |p| {
                        super::organization::check_permission(&layer.auth, &member, p, scheme)
                    })
                });
                if let Err(rejection) = checked {
                    return Ok(rejection.into_response());
                }
                req = Request::from_parts(parts, body);
            }
            inner.call(req).await
        })
    }
}

/// Extractor: the current user, who must have role `R` (403 otherwise). A user only: a
/// service (`client_credentials`) token is refused with 403 even if it carries the role, as
/// with [`CurrentUser`](super::CurrentUser); a route meant for service tokens with a role says so with
/// [`RequireLayer::allow_service_tokens`].
#[derive(Debug, Clone)]
pub struct RequireRole<R: RoleName>(pub CurrentUser, pub PhantomData<R>);

impl<S, R> FromRequestParts<S> for RequireRole<R>
where
    Auth: FromRef<S>,
    S: Send + Sync,
    R: RoleName,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let claims = claims_of_kind(
            parts,
            state,
            false,
            "A user token is required (this is a service token)",
        )
        .await?;
        let auth = Auth::from_ref(state);
        let requirement = Requirement::Role(R::NAME.into());
        requirement.check(&claims, &auth, scheme_of(parts))?;
        Ok(RequireRole(CurrentUser::from_claims(claims), PhantomData))
    }
}
