//! Building and running the service: `App::build` → bound port → `run_until_stopped`.

use crate::config::{Config, origin_of};
use crate::cors::{CORS_VARY, CorsError, CorsForOriginLayer, cors_layer};
use crate::db::Db;
use crate::routes::{self, AppState};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, header};
use axum::response::{IntoResponse, Response};
use ssoguard::axum::Auth;
use ssoguard::dev::{DevIssuer, DevIssuerConfig, load_or_create_keys};
use ssoguard::dpop::DpopConfig;
use ssoguard::m2m::SsoAdminClient;
use ssoguard::mcp::McpAuthLayer;
use ssoguard::shared::SharedRedis;
use ssoguard::{Algorithm, IntrospectionConfig, Verifier, VerifierBuilder};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use tokio::net::TcpListener;
use tower::{Service, ServiceBuilder};
use tower_http::sensitive_headers::{
    SetSensitiveRequestHeadersLayer, SetSensitiveResponseHeadersLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The service failed to start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Configuration rejected by the verifier.
    #[error("invalid SSO configuration: {0}")]
    Sso(ssoguard::ConfigError),
    /// An SSO URL is plain http to a non-loopback host and `SSO_ALLOW_HTTP` is not set.
    #[error(
        "{setting} uses plain http to a non-loopback host: use https, or set SSO_ALLOW_HTTP=1 to allow it on a private network you trust"
    )]
    PlainHttp {
        /// The library's name of the setting (`authority` is `AUTH_SERVER_URL`).
        setting: &'static str,
    },
    /// `PUBLIC_URL` is not an absolute http(s) URL.
    #[error(
        "PUBLIC_URL is invalid: give the absolute http(s) URL clients reach this service at (e.g. https://api.example.com)"
    )]
    InvalidPublicUrl,
    /// The session-cookie settings are not usable (the variable at fault is named).
    #[error("invalid Better Auth session settings: {0}")]
    Sessions(crate::config::ConfigError),
    /// The organization settings are not usable (the variable at fault is named).
    #[error("invalid organization settings: BETTER_AUTH_DATABASE_URL: {0}")]
    Organizations(ssoguard::ConfigError),
    /// `SSOGUARD_REDIS_URL` is not a URL the Redis client accepts (the value is not repeated).
    #[error("SSOGUARD_REDIS_URL is not a usable redis:// or rediss:// URL")]
    RedisUrl,
    /// The database could not be reached or migrated at start.
    #[error("cannot open the database: {0}")]
    Database(#[from] sqlx::Error),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The dev issuer could not start.
    #[error("cannot start the dev issuer: {0}")]
    DevIssuer(#[from] ssoguard::dev::TestIssuerError),
    /// A CORS origin is not usable.
    #[error(transparent)]
    Cors(#[from] CorsError),
}

/// A built, bound service.
pub struct App {
    listener: TcpListener,
    router: Router,
    cors: CorsForOriginLayer,
    addr: SocketAddr,
    dev: Option<DevIssuer>,
    state: AppState,
}

impl App {
    /// Builds the service: dev issuer (in dev mode), verifier, database, router, listener.
    ///
    /// # Errors
    ///
    /// [`StartupError`] naming what failed.
    pub async fn build(mut config: Config) -> Result<App, StartupError> {
        let dev = if config.dev {
            Some(start_dev_issuer(&mut config).await?)
        } else {
            None
        };
        let state = build_state(&config).await?;
        let cors = cors_layer(&config)?;
        let router = build_router(state.clone());
        let addr = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: format!("{}:{}", config.host, config.port),
            source,
        })?;
        // Load keys in the background: the service answers 503 until they arrive, never blocks.
        let verifier = state.auth.verifier().clone();
        tokio::spawn(async move {
            if let Err(e) = verifier.warm_up().await {
                tracing::warn!(error = %e, "signing keys not loaded yet; retrying in the background");
            }
        });
        Ok(App {
            listener,
            router,
            cors,
            addr,
            dev,
            state,
        })
    }

    /// The bound address (port 0 resolved).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The dev issuer, in dev mode.
    #[must_use]
    pub fn dev_issuer(&self) -> Option<&DevIssuer> {
        self.dev.as_ref()
    }

    /// The shared state (tests use its database handle).
    #[must_use]
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until Ctrl-C or SIGTERM, then drains in-flight requests.
    ///
    /// # Errors
    ///
    /// The server's I/O error.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let _dev = self.dev;
        let service = with_middleware(self.router, self.cors);
        axum::serve(
            self.listener,
            axum::ServiceExt::<Request>::into_make_service(service),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
    }
}

async fn start_dev_issuer(config: &mut Config) -> Result<DevIssuer, StartupError> {
    let keys = load_or_create_keys(Path::new(&config.dev_keys_file), Algorithm::EdDSA)?;
    let mut dev_config = DevIssuerConfig::with_keys(keys);
    dev_config.addr = config.dev_issuer_addr.clone();
    let dev = DevIssuer::start(dev_config).await?;
    tracing::warn!(
        issuer = dev.issuer_url(),
        "DEV MODE: trusting the built-in development issuer; never use --dev in production"
    );
    config.auth_server_url = dev.origin().to_string();
    config.sso_issuer = None;
    config.jwks_url = None;
    config.sso_client_ids = vec![dev.client_id().to_string()];
    config.sso_api_key = Some(crate::config::Secret::new(dev.api_key()));
    let origin = dev.origin().to_string();
    if !config.cors_origins.contains(&origin) {
        config.cors_origins.push(origin);
    }
    Ok(dev)
}

/// Builds the verifier, database and SSO client from the configuration.
///
/// # Errors
///
/// [`StartupError`] for an invalid SSO configuration or an unreachable database.
pub async fn build_state(config: &Config) -> Result<AppState, StartupError> {
    let mut builder = sso_verifier(config, config.sso_client_ids.iter().cloned());
    // SSOGUARD_REDIS_URL: revocations, DPoP replay and introspection (answers and budget)
    // shared with the other instances. DPOP_REQUIRED: bearer tokens refused.
    let redis = match &config.redis_url {
        None => None,
        Some(url) => Some(SharedRedis::new(url.expose()).map_err(|_| StartupError::RedisUrl)?),
    };
    if let (Some(secret), Some(client_id)) =
        (&config.sso_client_secret, config.sso_client_ids.first())
    {
        let mut introspection = IntrospectionConfig::new(client_id, secret.expose());
        if let Some(ttl) = config.introspection_cache_ttl {
            introspection.cache_ttl = ttl;
        }
        if let Some(rate) = config.introspection_max_per_second {
            introspection.max_calls_per_second = rate;
        }
        if let Some(concurrent) = config.introspection_max_concurrent {
            introspection.max_concurrent_calls = concurrent;
        }
        if let Some(redis) = &redis {
            introspection = introspection.shared(redis);
        }
        builder = builder.introspection(introspection);
    }
    let mut dpop = DpopConfig::default().required(config.dpop_required);
    let shared = match &redis {
        None => None,
        Some(redis) => {
            let revocations = redis.revocations();
            builder = builder.revocations(revocations.clone());
            dpop = dpop.replay_store(redis.replay_store());
            tracing::info!("revocations, DPoP replay and introspection shared through Redis");
            Some(revocations)
        }
    };
    builder = builder.dpop(dpop.clone());
    let verifier = builder.build().map_err(verifier_error)?;
    // `/mcp` (PUBLIC_URL): its own verifier, whose audience is the resource `<PUBLIC_URL>/mcp`
    // (RFC 8707), sharing the revocations (a back-channel logout ends MCP access too).
    let mcp = match &config.public_url {
        None => None,
        Some(url) => {
            let resource =
                routes::mcp::resource(url).map_err(|_| StartupError::InvalidPublicUrl)?;
            let mcp_verifier = sso_verifier(config, [resource.resource().to_string()])
                .dpop(dpop)
                .revocations(verifier.revocations())
                .build()
                .map_err(verifier_error)?;
            let mcp_auth = Auth::new(mcp_verifier)
                .with_realm("tasks-api")
                .with_public_url(url)
                .map_err(|_| StartupError::InvalidPublicUrl)?;
            Some(McpAuthLayer::new(mcp_auth, resource))
        }
    };
    let mut auth = Auth::new(verifier).with_realm("tasks-api");
    // DPoP (`Authorization: DPoP` + a proof) needs the public URL the proofs name.
    if let Some(url) = &config.public_url {
        auth = auth
            .with_public_url(url)
            .map_err(|_| StartupError::InvalidPublicUrl)?;
    }
    if let Some(cookie) = &config.auth_cookie_name {
        // Cookie-borne tokens on state-changing requests only from the CORS origins (CSRF).
        auth = auth
            .with_cookie(cookie)
            .with_allowed_origins(&config.cors_origins);
    }
    // API keys (`BETTER_AUTH_API_KEYS`, crate::api_keys).
    if let Some(keys) = config
        .api_keys
        .verifier(
            &config.auth_server_url,
            config.sso_allow_http,
            redis.as_ref(),
        )
        .map_err(StartupError::Sso)?
    {
        auth = auth.with_api_keys(keys);
    }
    if let Some(sessions) = &config.sessions {
        let sessions = sessions
            .build(
                &config.auth_server_url,
                config.sso_allow_http,
                auth.verifier().revocations(),
                redis.as_ref(),
            )
            .map_err(|e| match e {
                ssoguard::ConfigError::PlainHttp { .. } => StartupError::PlainHttp {
                    setting: "AUTH_SERVER_URL",
                },
                other => StartupError::Sessions(crate::sessions::variable_at_fault(other)),
            })?;
        tracing::info!(
            lookup = sessions.lookup_kind(),
            "accepting Better Auth session cookies"
        );
        // Session cookies on state-changing requests only from the CORS origins (CSRF).
        auth = auth
            .with_sessions(sessions)
            .with_allowed_origins(&config.cors_origins);
    }
    let organizations = config
        .organizations
        .build(auth.verifier().revocations())
        .map_err(StartupError::Organizations)?;
    let db = Db::connect(config.database_url.expose()).await?;
    let sso = config.sso_api_key.as_ref().map(|key| {
        SsoAdminClient::new(
            &origin_of(&config.auth_server_url),
            &config.sso_admin_user_path,
            key.expose(),
        )
    });
    Ok(AppState::new(auth, db, sso, organizations, shared, mcp))
}

/// A verifier builder for the SSO with `audiences`: the settings every verifier of this
/// service shares (authority, issuer, JWKS URL and cache, plain-http permission).
fn sso_verifier<I>(config: &Config, audiences: I) -> VerifierBuilder
where
    I: IntoIterator<Item = String>,
{
    let mut builder = Verifier::builder()
        .authority(&config.auth_server_url)
        .audiences(audiences);
    if let Some(issuer) = &config.sso_issuer {
        builder = builder.issuer(issuer);
    }
    if let Some(url) = &config.jwks_url {
        builder = builder.jwks_url(url);
    }
    if let Some(ttl) = config.jwks_cache_ttl {
        builder = builder.jwks_ttl(ttl);
    }
    if let Some(cooldown) = config.jwks_refetch_cooldown {
        builder = builder.refetch_cooldown(cooldown);
    }
    if config.sso_allow_http {
        builder = builder.insecure_allow_http();
    }
    builder
}

/// A verifier's configuration error, naming this service's variable where there is one.
fn verifier_error(e: ssoguard::ConfigError) -> StartupError {
    match e {
        ssoguard::ConfigError::PlainHttp { setting } => StartupError::PlainHttp {
            setting: match setting {
                "authority" => "AUTH_SERVER_URL",
                "issuer" => "SSO_ISSUER",
                "jwks_url" => "JWKS_URL",
                other => other,
            },
        },
        other => StartupError::Sso(other),
    }
}

/// Every route, with its state; no middleware and no body limit (both added once around the
/// router by [`with_middleware`]).
pub fn build_router(state: AppState) -> Router {
    let admin = routes::admin::router(&state);
    Router::new()
        .merge(routes::health::router())
        .merge(routes::logout::router())
        .merge(routes::me::router())
        .merge(routes::service::router(&state))
        .merge(routes::tasks::router())
        .merge(routes::org_tasks::router(&state))
        .merge(admin)
        .merge(routes::docs::router())
        .merge(routes::mcp::router_if_enabled(&state))
        .with_state(state)
}

/// Request headers marked sensitive (never printed by tracing): the credentials (with
/// Better Auth's default API key header).
pub const SENSITIVE_REQUEST_HEADERS: [HeaderName; 3] = [
    header::AUTHORIZATION,
    header::COOKIE,
    HeaderName::from_static("x-api-key"),
];

/// Response headers marked sensitive.
pub const SENSITIVE_RESPONSE_HEADERS: [HeaderName; 1] = [header::SET_COOKIE];

/// The router wrapped **once** in the middleware: `Authorization`/`Cookie` marked sensitive
/// before tracing sees the request, `Set-Cookie` marked before tracing sees the response (the
/// order tower-http documents), then CORS ([`crate::cors`]), then the request body limit
/// ([`MAX_BODY_BYTES`], what extractors such as `Json` read).
///
/// The whole router is wrapped, not each route (`Router::layer`): axum boxes a route's layered
/// stack and clones it, box and all, for every request; here the stack is one concrete type that
/// `axum::serve` clones once per request (`benches/router.rs` measures the difference,
/// docs/benchmarks-log.md).
pub fn with_middleware(
    router: Router,
    cors: CorsForOriginLayer,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ Sync
+ 'static {
    ServiceBuilder::new()
        .layer(SetSensitiveRequestHeadersLayer::new(
            SENSITIVE_REQUEST_HEADERS,
        ))
        // axum::serve wants an `axum::body::Body`; TraceLayer wraps the body in its own type.
        .map_response(IntoResponse::into_response)
        .layer(TraceLayer::new_for_http())
        .layer(SetSensitiveResponseHeadersLayer::new(
            SENSITIVE_RESPONSE_HEADERS,
        ))
        .layer(SetResponseHeaderLayer::appending(header::VARY, CORS_VARY))
        .layer(cors)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .service(router)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
