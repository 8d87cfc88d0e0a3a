//! axum integration (feature `axum`): extractors, guards and their rejections.
//!
//! The [`Auth`] value (a [`Verifier`] plus token-source settings) reaches extractors through
//! [`FromRef`] state, never a global:
//!
//! ```
//! use axum::{Router, extract::FromRef, routing::get};
//! use ssoguard::axum::{Auth, CurrentUser, RequireRole, RequireLayer, Admin};
//!
//! #[derive(Clone, FromRef)]
//! struct AppState { auth: Auth }
//!
//! async fn me(user: CurrentUser) -> String { user.id }
//! async fn admin_only(RequireRole(user, ..): RequireRole<Admin>) -> String { user.id }
//!
//! # fn build(verifier: ssoguard::Verifier) -> Router {
//! let state = AppState { auth: Auth::new(verifier) };
//! Router::new()
//!     .route("/api/me", get(me))
//!     .route("/api/admin", get(admin_only))
//!     .route("/api/admin/stats", get(|| async { "ok" }).route_layer(RequireLayer::role(&state, "admin")))
//!     .with_state(state)
//! # }
//! ```

mod api_key;
mod credential;
mod organization;
mod rejection;
mod require;

pub use organization::{OrganizationRejection, PermissionName, RequirePermission};
pub use rejection::AuthRejection;
pub use require::{RequireLayer, RequireRole, RequireService};

use crate::challenge::Scheme;
use crate::claims::TokenClaims;
use crate::credential::{CredentialSources, Csrf};
use crate::error::{ConfigError, VerifyError};
use crate::session::SessionVerifier;
use crate::verify::Verifier;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// What the extractors need: the verifier and where tokens may come from.
#[derive(Clone, Debug)]
pub struct Auth {
    verifier: Verifier,
    /// Where credentials may come from ([`crate::credential`]).
    sources: CredentialSources,
    /// Better Auth session cookies, when accepted ([`Auth::with_sessions`]).
    sessions: Option<SessionVerifier>,
    realm: Arc<str>,
    /// The CSRF rule for cookie credentials: allowed origins ([`Auth::with_allowed_origins`]).
    csrf: Csrf,
    /// Better Auth API keys ([`Auth::with_api_keys`]).
    api_keys: Option<crate::api_key::ApiKeyVerifier>,
    /// The public base URL DPoP proofs name ([`Auth::with_public_url`]).
    public_url: Option<Arc<str>>,
}

impl Auth {
    /// Bearer tokens only, realm `api`.
    #[must_use]
    pub fn new(verifier: Verifier) -> Self {
        Auth {
            verifier,
            sources: CredentialSources::new(),
            sessions: None,
            realm: Arc::from("api"),
            csrf: Csrf::allowed_origins(std::iter::empty::<&str>()),
            api_keys: None,
            public_url: None,
        }
    }

    /// Also accepts the token from this httpOnly cookie when no `Authorization` header is sent
    /// (the seed's Next.js client sends `credentials: 'include'`). Default: cookies are ignored.
    ///
    /// A browser sends cookies on its own, also with requests another site makes it send, so
    /// a cookie-borne token is CSRF-checked: a state-changing request (any method but `GET`,
    /// `HEAD`, `OPTIONS`, `TRACE`) is let through only when its `Origin` (or, without one, its
    /// `Referer`'s origin) is one of [`with_allowed_origins`](Self::with_allowed_origins), its
    /// `Content-Type` is JSON (`application/json`, `application/*+json`; a request without a
    /// body may have none) and `Sec-Fetch-Site` is not `cross-site`. Otherwise it is refused
    /// with 403 `{"detail": "Cross-site request refused: …"}` before the handler runs.
    /// A token in the `Authorization` header is never CSRF-checked (browsers do not add it).
    /// Two cookies of this name (cookie tossing from a sibling subdomain) are ambiguous
    /// credentials: 401. A WebSocket handshake (`GET` with `Upgrade: websocket`) is checked
    /// like a state-changing request.
    #[must_use]
    pub fn with_cookie(mut self, name: impl Into<String>) -> Self {
        self.sources.cookies = vec![Arc::from(name.into())];
        self
    }

    /// Accepts DPoP-bound tokens (`Authorization: DPoP <token>` with a `DPoP` proof, RFC 9449)
    /// for requests to this public base URL (`https://api.example.com`, or with the prefix a
    /// proxy strips: `https://example.com/api`): a proof's `htu` must be this base followed by
    /// the request's path. The base is configuration, never read from request headers.
    /// Default: none, and a DPoP request is refused with 401 ("DPoP is not accepted: the
    /// service has no public URL configured"). A `cnf`-bound token sent as `Bearer` is refused
    /// either way; the proof rules and whether bearer tokens are refused are the verifier's
    /// ([`VerifierBuilder::dpop`](crate::VerifierBuilder::dpop)). With it, a 401 also carries
    /// a `DPoP` challenge with `algs`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidUrl`] when `url` is not an absolute http(s) URL.
    pub fn with_public_url(mut self, url: impl AsRef<str>) -> Result<Self, ConfigError> {
        let url = url.as_ref().trim().trim_end_matches('/');
        crate::dpop::DpopRequest::new(Method::GET, url)?;
        self.public_url = Some(Arc::from(url));
        Ok(self)
    }

    /// Also accepts Better Auth's **session cookie** (`better-auth.session_token`), checked by
    /// `sessions` ([`SessionVerifier`]: signature, then cookie cache or a cached lookup), when
    /// the request has no `Authorization: Bearer` header and no token cookie
    /// ([`with_cookie`](Self::with_cookie)). Default: session cookies are ignored.
    ///
    /// The user it names becomes the same [`CurrentUser`] as with a JWT (`sub` = user id), with
    /// [`CurrentUser::session_id`] set. Like a token cookie, a session cookie on a
    /// state-changing request must pass the CSRF check described at
    /// [`with_cookie`](Self::with_cookie) (allowed `Origin`, JSON `Content-Type`), and two
    /// session cookies are ambiguous credentials (401).
    ///
    /// ```no_run
    /// # fn build(verifier: ssoguard::Verifier) -> Result<ssoguard::axum::Auth, ssoguard::ConfigError> {
    /// use ssoguard::session::{SessionSecret, SessionVerifier};
    ///
    /// let sessions = SessionVerifier::builder()
    ///     .secret(SessionSecret::new(std::env::var("BETTER_AUTH_SECRET").unwrap_or_default())?)
    ///     .remote("http://localhost:3001/api/auth")
    ///     .build()?;
    /// let auth = ssoguard::axum::Auth::new(verifier)
    ///     .with_sessions(sessions)
    ///     .with_allowed_origins(["http://localhost:3000"]);
    /// # Ok(auth) }
    /// ```
    #[must_use]
    pub fn with_sessions(mut self, sessions: SessionVerifier) -> Self {
        self.sources = self.sources.session_cookies(&sessions);
        self.sessions = Some(sessions);
        self
    }

    /// The session-cookie verifier, when session cookies are accepted.
    #[must_use]
    pub fn sessions(&self) -> Option<&SessionVerifier> {
        self.sessions.as_ref()
    }

    /// The origins (`https://app.example.com`) whose state-changing requests may carry a
    /// cookie-borne token: the same list as the service's CORS origins. Compared exactly
    /// (ASCII case-insensitively, without a trailing `/`). Default: none, so a cookie-borne
    /// token works for safe methods only.
    #[must_use]
    pub fn with_allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.csrf = Csrf::allowed_origins(origins);
        self
    }

    /// The realm named in `WWW-Authenticate`. Default: `api`.
    #[must_use]
    pub fn with_realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Arc::from(realm.into());
        self
    }

    /// True when DPoP-bound tokens are accepted ([`with_public_url`](Self::with_public_url)).
    #[must_use]
    pub fn accepts_dpop(&self) -> bool {
        self.public_url.is_some()
    }

    /// The verifier.
    #[must_use]
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Finds the token in a request: `Authorization: Bearer` or `DPoP` (scheme
    /// case-insensitive, exactly one), else the configured cookie. A session cookie is not a
    /// token: see [`with_sessions`](Self::with_sessions).
    ///
    /// # Errors
    ///
    /// [`VerifyError::MissingToken`] when there is none; [`VerifyError::Malformed`] for several
    /// Authorization headers or a Bearer value that is not exactly one token.
    pub fn token_from_headers<'h>(&self, headers: &'h HeaderMap) -> Result<&'h str, VerifyError> {
        self.find_token(headers)?.ok_or(VerifyError::MissingToken)
    }

    /// Extracts and verifies the request's token, without knowing the method: a cookie-borne
    /// token is CSRF-checked as for a state-changing request. Prefer
    /// [`authenticate_request`](Self::authenticate_request).
    ///
    /// # Errors
    ///
    /// An [`AuthRejection`] (401, 403 for a cross-site cookie request, or 503).
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
    ) -> Result<Arc<TokenClaims>, AuthRejection> {
        self.authenticate_request(&Method::POST, headers).await
    }

    /// Extracts and verifies the request's token; a cookie-borne token on a state-changing
    /// `method` must pass the CSRF check described at [`with_cookie`](Self::with_cookie).
    ///
    /// # Errors
    ///
    /// An [`AuthRejection`] (401, 403 for a cross-site cookie request, or 503).
    pub async fn authenticate_request(
        &self,
        method: &Method,
        headers: &HeaderMap,
    ) -> Result<Arc<TokenClaims>, AuthRejection> {
        self.authenticate_inner(method, None, headers)
            .await
            .map(|(claims, _)| claims)
    }

    /// [`authenticate_request`](Self::authenticate_request) with the request's URI, which a
    /// DPoP proof names (see [`with_public_url`](Self::with_public_url)).
    ///
    /// # Errors
    ///
    /// An [`AuthRejection`] (401, 403 for a cross-site cookie request, 429, or 503).
    pub async fn authenticate_http(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<Arc<TokenClaims>, AuthRejection> {
        self.authenticate_inner(method, Some(uri), headers)
            .await
            .map(|(claims, _)| claims)
    }
}

/// Claims verified earlier in the same request (by a [`RequireLayer`]), reused by extractors,
/// with the scheme the credential came with.
#[derive(Clone, Debug)]
pub(crate) struct VerifiedClaims(pub(crate) Arc<TokenClaims>, pub(crate) Option<Scheme>);

async fn claims_from_parts<S>(
    parts: &mut Parts,
    state: &S,
) -> Result<(Arc<TokenClaims>, Auth), AuthRejection>
where
    Auth: FromRef<S>,
{
    let auth = Auth::from_ref(state);
    if let Some(VerifiedClaims(claims, _)) = parts.extensions.get::<VerifiedClaims>() {
        return Ok((claims.clone(), auth));
    }
    let (claims, scheme) = auth
        .authenticate_inner(&parts.method, Some(&parts.uri), &parts.headers)
        .await?;
    parts
        .extensions
        .insert(VerifiedClaims(claims.clone(), scheme));
    Ok((claims, auth))
}

/// The scheme of the credential verified earlier in this request.
fn scheme_of(parts: &Parts) -> Option<Scheme> {
    parts
        .extensions
        .get::<VerifiedClaims>()
        .and_then(|VerifiedClaims(_, scheme)| *scheme)
}

/// Verified claims of the wanted caller kind: a service (`client_credentials`) token when
/// `service` is true, a user token otherwise; the other kind is refused with 403 `refusal`.
async fn claims_of_kind<S>(
    parts: &mut Parts,
    state: &S,
    service: bool,
    refusal: &str,
) -> Result<Arc<TokenClaims>, AuthRejection>
where
    Auth: FromRef<S>,
{
    let (claims, auth) = claims_from_parts(parts, state).await?;
    if claims.is_client_credentials() != service {
        return Err(auth.forbidden(refusal.into(), Vec::new(), scheme_of(parts)));
    }
    Ok(claims)
}

/// The authenticated user, as the seed's `get_current_user` returns it, plus roles,
/// organization and permissions.
///
/// Returned from a handler it is its JSON (what `Json(user)` sends):
///
/// ```
/// use ssoguard::axum::CurrentUser;
///
/// async fn me(user: CurrentUser) -> CurrentUser { user }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct CurrentUser {
    /// `sub`.
    pub id: String,
    /// `email`.
    pub email: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `role` as sent; `"user"` when absent (the seed's default).
    pub role: String,
    /// `email_verified`; `false` when absent.
    pub email_verified: bool,
    /// Roles split from `role`.
    pub roles: Vec<String>,
    /// `organization_id`.
    pub organization_id: Option<String>,
    /// `permissions`.
    pub permissions: Vec<String>,
    /// The Better Auth session id (`sid`): set for a session cookie, and for a token that
    /// names its session.
    pub session_id: Option<String>,
    /// The admin impersonating the user (`impersonated_by`; Better Auth's admin plugin), for a
    /// session cookie of an impersonation session.
    pub impersonated_by: Option<String>,
    /// All verified claims.
    #[serde(skip)]
    pub claims: Arc<TokenClaims>,
}

impl CurrentUser {
    /// Builds the user from verified claims.
    #[must_use]
    pub fn from_claims(claims: Arc<TokenClaims>) -> Self {
        let roles = if claims.roles().is_empty() {
            vec![DEFAULT_ROLE.to_string()]
        } else {
            claims.roles().to_vec()
        };
        CurrentUser {
            id: claims.sub.clone(),
            email: claims.email.clone(),
            name: claims.name.clone(),
            role: claims.role().unwrap_or(DEFAULT_ROLE).to_owned(),
            email_verified: claims.email_verified.unwrap_or(false),
            roles,
            organization_id: claims.organization_id.clone(),
            permissions: claims.permissions.clone(),
            session_id: extra_string(&claims, "sid"),
            impersonated_by: extra_string(&claims, "impersonated_by"),
            claims,
        }
    }

    /// True when the user has `role`.
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

fn extra_string(claims: &TokenClaims, name: &str) -> Option<String> {
    claims
        .extra
        .get(name)
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

/// The role of a user whose token has no `role` claim (the seed's default).
const DEFAULT_ROLE: &str = "user";

/// The user as JSON (`Content-Type: application/json`): the same body as `Json(user)`.
impl IntoResponse for CurrentUser {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}

impl<S> FromRequestParts<S> for CurrentUser
where
    Auth: FromRef<S>,
    S: Send + Sync,
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
        Ok(CurrentUser::from_claims(claims))
    }
}

/// A service (machine-to-machine) caller: a `client_credentials` token, whose `sub` is the
/// client id. User tokens are refused with 403.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceClient {
    /// The calling client's id (`sub`).
    pub client_id: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// All verified claims.
    #[serde(skip)]
    pub claims: Arc<TokenClaims>,
}

impl<S> FromRequestParts<S> for ServiceClient
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let claims = claims_of_kind(parts, state, true, "A service token is required").await?;
        Ok(ServiceClient {
            client_id: claims.sub.clone(),
            scopes: claims.scopes().map(str::to_owned).collect(),
            claims,
        })
    }
}

/// The verified claims deserialized into an application's own type.
///
/// ```
/// use ssoguard::axum::Claims;
///
/// #[derive(serde::Deserialize)]
/// struct MyClaims { sub: String, tenant: Option<String> }
///
/// async fn handler(Claims(c): Claims<MyClaims>) -> String { c.sub }
/// ```
#[derive(Debug, Clone)]
pub struct Claims<T>(pub T);

impl<S, T> FromRequestParts<S> for Claims<T>
where
    Auth: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let (claims, auth) = claims_from_parts(parts, state).await?;
        claims
            .deserialize_into()
            .map(Claims)
            .map_err(|e| auth.reject(e, scheme_of(parts)))
    }
}

/// A role name for [`RequireRole`]. Declare your own with [`role!`](crate::role).
pub trait RoleName: Send + Sync + 'static {
    /// The role, as it appears in the `role` claim.
    const NAME: &'static str;
}

/// The `admin` role of Better Auth's admin plugin.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl RoleName for Admin {
    const NAME: &'static str = "admin";
}

/// Declares a role marker type for [`RequireRole`].
///
/// ```
/// ssoguard::role!(Editor, "editor");
/// async fn edit(ssoguard::axum::RequireRole(user, ..): ssoguard::axum::RequireRole<Editor>) {}
/// ```
#[macro_export]
macro_rules! role {
    ($name:ident, $role:literal) => {
        #[doc = concat!("The `", $role, "` role.")]
        #[derive(Debug, Clone, Copy)]
        pub struct $name;
        impl $crate::axum::RoleName for $name {
            const NAME: &'static str = $role;
        }
    };
}

#[cfg(test)]
mod tests;
