//! A Better-Auth-shaped **development** issuer (feature `dev-issuer`): the same code runs
//! `ssoguard dev-issuer` and `tasks-api --dev`. It runs on the test issuer's server (discovery,
//! JWKS, real keys), without making the rest of `ssoguard::testing` (fault injection, the attack
//! catalogue) part of a production build.
//!
//! On top of discovery and JWKS it serves:
//! - `POST /api/auth/oauth2/token`:
//!   - `grant_type=client_credentials` (client id/secret by HTTP Basic or form, optional `scope`
//!     and `resource`): a JWT access token with `sub` = client id;
//!   - `grant_type=urn:ssoguard:dev-user` with `user=<id or email>`: an id_token (and the same
//!     JWT as access token) for a configured dev user — a shortcut that stands in for the PKCE
//!     login flow in local development;
//! - `GET /api/auth/oauth2/userinfo` with a token it issued;
//! - `GET /api/auth/admin/get-user?id=…` guarded by `Authorization: Bearer <api key>`, in the
//!   shape of Better Auth's admin plugin.
//!
//! Keys persist in a keys file (`{"keys":[{kid, alg, pkcs8}]}`) so tokens survive restarts.
//!
//! **Development only**: anyone who can reach it can mint tokens for the dev users.

use crate::algorithm::Algorithm;
use crate::testing::TestIssuer;
use crate::time::unix_now;
use crate::verify::Verifier;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use crate::testing::{SigningKey, StoredKey, TestIssuerError};

/// A user the dev issuer can mint tokens for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevUser {
    /// The user id (`sub`).
    pub id: String,
    /// Email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Better Auth role string (`"user"`, `"admin"`, `"user,admin"`).
    pub role: String,
}

/// The default dev users: `alice` (role `user`) and `admin` (role `admin`).
#[must_use]
pub fn default_users() -> Vec<DevUser> {
    vec![
        DevUser {
            id: "alice".into(),
            email: "alice@example.com".into(),
            name: "Alice Example".into(),
            role: "user".into(),
        },
        DevUser {
            id: "admin".into(),
            email: "admin@example.com".into(),
            name: "Ada Admin".into(),
            role: "admin".into(),
        },
    ]
}

#[derive(Serialize, Deserialize)]
struct KeysFile {
    keys: Vec<StoredKey>,
}

/// Loads signing keys from `path`, or generates one key of `alg` and writes the file.
///
/// An existing file whose keys are of another algorithm gets a new `alg` key added, so tokens
/// minted before keep verifying.
///
/// # Errors
///
/// [`TestIssuerError`] when the file cannot be read, parsed or written.
pub fn load_or_create_keys(
    path: &Path,
    alg: Algorithm,
) -> Result<Vec<SigningKey>, TestIssuerError> {
    let mut keys = if path.exists() {
        let text = std::fs::read_to_string(path)?;
        let file: KeysFile = serde_json::from_str(&text).map_err(|e| {
            TestIssuerError::Key(format!("{}: not a keys file ({e})", path.display()))
        })?;
        file.keys
            .iter()
            .map(SigningKey::from_stored)
            .collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    if let Some(pos) = keys.iter().position(|k| k.alg() == alg) {
        // The requested algorithm signs: put its key first.
        let key = keys.remove(pos);
        keys.insert(0, key);
        return Ok(keys);
    }
    let kid = format!("dev-{}-{}", alg.as_str().to_lowercase(), unix_now());
    keys.insert(0, SigningKey::generate(alg, kid)?);
    save_keys(path, &keys)?;
    Ok(keys)
}

fn save_keys(path: &Path, keys: &[SigningKey]) -> Result<(), TestIssuerError> {
    let file = KeysFile {
        keys: keys.iter().map(SigningKey::to_stored).collect(),
    };
    let text =
        serde_json::to_string_pretty(&file).map_err(|e| TestIssuerError::Key(e.to_string()))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    write_private(path, text.as_bytes())?;
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Settings of the dev issuer: [`DevIssuerConfig::with_keys`], then change any field.
#[derive(Debug)]
#[non_exhaustive]
pub struct DevIssuerConfig {
    /// Listen address. Default: `127.0.0.1:3001` (the seed's `AUTH_SERVER_URL`).
    pub addr: String,
    /// Signing keys; the first one signs. Default: one fresh EdDSA key (not persisted).
    pub keys: Vec<SigningKey>,
    /// Dev users. Default: [`default_users`].
    pub users: Vec<DevUser>,
    /// The OAuth client: its id is the `aud` of id_tokens. Default: `dev-client`.
    pub client_id: String,
    /// The client's secret for `client_credentials`. Default: `dev-secret`.
    pub client_secret: String,
    /// Bearer key for the admin endpoint (`SSO_API_KEY`). Default: `dev-api-key`.
    pub api_key: String,
    /// Token lifetime. Default: 10 h (Better Auth's id_token lifetime).
    pub token_ttl: Duration,
}

impl DevIssuerConfig {
    /// Defaults with the given keys.
    #[must_use]
    pub fn with_keys(keys: Vec<SigningKey>) -> Self {
        DevIssuerConfig {
            addr: "127.0.0.1:3001".into(),
            keys,
            users: default_users(),
            client_id: "dev-client".into(),
            client_secret: "dev-secret".into(),
            api_key: "dev-api-key".into(),
            token_ttl: Duration::from_secs(10 * 3600),
        }
    }
}

struct DevState {
    users: Vec<DevUser>,
    client_id: String,
    client_secret: String,
    api_key: String,
    token_ttl: Duration,
    issuer: OnceLock<Arc<TestIssuer>>,
    verifier: OnceLock<Verifier>,
}

/// A running dev issuer.
#[derive(Clone)]
pub struct DevIssuer {
    issuer: Arc<TestIssuer>,
    state: Arc<DevState>,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer")
            .field("issuer", &self.issuer.issuer())
            .finish_non_exhaustive()
    }
}

impl DevIssuer {
    /// Starts the dev issuer.
    ///
    /// # Errors
    ///
    /// [`TestIssuerError`] when the address cannot be bound or there is no key.
    pub async fn start(config: DevIssuerConfig) -> Result<Self, TestIssuerError> {
        if config.keys.is_empty() {
            return Err(TestIssuerError::Key(
                "the dev issuer needs a signing key".into(),
            ));
        }
        let state = Arc::new(DevState {
            users: config.users,
            client_id: config.client_id,
            client_secret: config.client_secret,
            api_key: config.api_key,
            token_ttl: config.token_ttl,
            issuer: OnceLock::new(),
            verifier: OnceLock::new(),
        });
        let routes = Router::new()
            .route("/api/auth/oauth2/token", post(token_endpoint))
            .route("/api/auth/oauth2/userinfo", get(userinfo))
            .route("/api/auth/admin/get-user", get(get_user))
            .with_state(state.clone());
        let issuer =
            Arc::new(TestIssuer::start_with_keys(&config.addr, config.keys, routes).await?);
        issuer.set_default_audience(state.client_id.clone());
        let verifier = Verifier::builder()
            .issuer(issuer.issuer())
            .jwks_url(issuer.jwks_url())
            .insecure_disable_audience_check()
            .build()
            .map_err(|e| TestIssuerError::Key(e.to_string()))?;
        let _ = state.verifier.set(verifier);
        let _ = state.issuer.set(issuer.clone());
        Ok(DevIssuer { issuer, state })
    }

    /// The underlying test issuer (feature `testing`: fault injection, key rotation, counters).
    #[cfg(feature = "testing")]
    #[must_use]
    pub fn issuer(&self) -> &TestIssuer {
        &self.issuer
    }

    /// The issuer URL: the `iss` of its tokens, `<origin>/api/auth`.
    #[must_use]
    pub fn issuer_url(&self) -> &str {
        self.issuer.issuer()
    }

    /// The origin it serves on (`http://127.0.0.1:<port>`): the `AUTH_SERVER_URL` to set.
    #[must_use]
    pub fn origin(&self) -> &str {
        self.issuer.origin()
    }

    /// The JWKS URL.
    #[must_use]
    pub fn jwks_url(&self) -> String {
        self.issuer.jwks_url()
    }

    /// The OAuth client id (the `aud` of id_tokens).
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.state.client_id
    }

    /// The admin API key.
    #[must_use]
    pub fn api_key(&self) -> &str {
        &self.state.api_key
    }

    /// The dev users.
    #[must_use]
    pub fn users(&self) -> &[DevUser] {
        &self.state.users
    }

    /// Mints an id_token for a dev user (by id or email).
    #[must_use]
    pub fn token_for(&self, user: &str) -> Option<String> {
        let user = find_user(&self.state.users, user)?;
        Some(mint_user_token(&self.issuer, &self.state, user))
    }
}

fn find_user<'a>(users: &'a [DevUser], key: &str) -> Option<&'a DevUser> {
    users.iter().find(|u| u.id == key || u.email == key)
}

fn mint_user_token(issuer: &TestIssuer, state: &DevState, user: &DevUser) -> String {
    issuer
        .token()
        .sub(&user.id)
        .email(&user.email)
        .name(&user.name)
        .role(&user.role)
        .claim("email_verified", json!(true))
        .ttl(state.token_ttl)
        .sign()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

async fn token_endpoint(
    State(state): State<Arc<DevState>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let Some(issuer) = state.issuer.get() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let ttl_secs = state.token_ttl.as_secs();
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {
            let creds = basic_credentials(&headers).or_else(|| {
                Some((
                    form.get("client_id")?.clone(),
                    form.get("client_secret")?.clone(),
                ))
            });
            match creds {
                Some((id, secret)) if id == state.client_id && secret == state.client_secret => {}
                _ => {
                    return oauth_error(
                        StatusCode::UNAUTHORIZED,
                        "invalid_client",
                        "unknown client or wrong secret",
                    );
                }
            }
            let aud = form
                .get("resource")
                .cloned()
                .unwrap_or_else(|| state.client_id.clone());
            let mut builder = issuer
                .token()
                .sub(&state.client_id)
                .aud(&aud)
                .claim("azp", json!(state.client_id))
                .header("typ", json!("at+jwt"))
                .ttl(state.token_ttl);
            if let Some(scope) = form.get("scope") {
                builder = builder.claim("scope", json!(scope));
            }
            let token = builder.sign();
            axum::Json(json!({
                "access_token": token, "token_type": "Bearer", "expires_in": ttl_secs,
                "scope": form.get("scope"),
            }))
            .into_response()
        }
        Some("urn:ssoguard:dev-user") => {
            let Some(user) = form.get("user").and_then(|u| find_user(&state.users, u)) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown dev user");
            };
            let token = mint_user_token(issuer, &state, user);
            axum::Json(json!({
                "id_token": token, "access_token": token, "token_type": "Bearer", "expires_in": ttl_secs,
            }))
            .into_response()
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "use client_credentials or urn:ssoguard:dev-user",
        ),
    }
}

async fn userinfo(State(state): State<Arc<DevState>>, headers: HeaderMap) -> Response {
    let Some(verifier) = state.verifier.get() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let auth = crate::bearer::bearer_token(&headers).ok().flatten();
    let Some(token) = auth else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "bearer token required",
        );
    };
    match verifier.verify(token).await {
        Ok(claims) => {
            let mut out = Map::new();
            out.insert("sub".into(), json!(claims.sub));
            for (k, v) in [
                ("email", claims.email.as_deref()),
                ("name", claims.name.as_deref()),
                ("role", claims.role()),
            ] {
                if let Some(v) = v {
                    out.insert(k.into(), json!(v));
                }
            }
            if let Some(v) = claims.email_verified {
                out.insert("email_verified".into(), json!(v));
            }
            axum::Json(Value::Object(out)).into_response()
        }
        Err(e) => oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", &e.to_string()),
    }
}

#[derive(Deserialize)]
struct GetUser {
    id: Option<String>,
}

async fn get_user(
    State(state): State<Arc<DevState>>,
    headers: HeaderMap,
    Query(query): Query<GetUser>,
) -> Response {
    if crate::bearer::bearer_token(&headers).ok().flatten() != Some(state.api_key.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"code": "UNAUTHORIZED", "message": "Unauthorized"})),
        )
            .into_response();
    }
    let Some(id) = query.id else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"message": "id is required"})),
        )
            .into_response();
    };
    match find_user(&state.users, &id) {
        Some(user) => axum::Json(json!({
            "id": user.id, "email": user.email, "name": user.name, "role": user.role,
            "emailVerified": true, "banned": false,
        }))
        .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"code": "USER_NOT_FOUND", "message": "User not found"})),
        )
            .into_response(),
    }
}
