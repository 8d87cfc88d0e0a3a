//! # ssoguard-gateway
//!
//! Better Auth SSO in front of any backend: a forward-auth endpoint for nginx `auth_request`,
//! Traefik `ForwardAuth` and Caddy `forward_auth`, and a reverse proxy that verifies, then
//! streams the request to the upstream with trusted identity headers.
//!
//! - [`config`]: one TOML file (`GATEWAY_CONFIG`) or the seed's environment variables;
//! - [`front`]: forward-auth mode's one source of truth for the original request (per front);
//! - `hygiene`: which client headers are dropped or refused, in one place;
//! - `path`: path and method forms no backend reads differently (refused, or both readings);
//! - `gate`: the one decision pipeline both modes share (rules, token, issuer, claims);
//! - `rules`: ordered `[[route]]` rules, first match wins, default deny;
//! - [`sessions`]: `kind = "better-auth-session"` issuers (Better Auth's session cookie);
//! - [`api_keys`]: `kind = "better-auth-api-key"` issuers (Better Auth API keys);
//! - `identity`: claims → identity headers, control characters refused;
//! - `logout`: `POST /_ssoguard/backchannel-logout`, the back-channel logout receiver;
//! - `proxy`: the reverse proxy (hyper-util's pooled client, streaming, WebSocket);
//! - `server`: the accept loop ([`Limits`]: header-read timeout, connection bound);
//! - [`metrics`]: Prometheus metrics; [`app`]: the endpoints and start-up.

pub mod api_keys;
pub mod app;
pub mod config;
pub mod front;
mod gate;
mod hygiene;
mod identity;
mod logout;
pub mod metrics;
mod path;
mod proxy;
mod rules;
mod server;
pub mod sessions;
pub mod shared;

pub use app::{App, StartupError};
pub use config::{Config, ConfigError};
pub use gate::Gate;
pub use server::Limits;
