//! What the file and the environment alone both apply: the checks of the upstream and public
//! URLs, and the variables that override the file's values (`HOST`/`PORT`, `METRICS_LISTEN`,
//! `TRUSTED_PROXIES`, `GATEWAY_FRONT`).

use super::ConfigError;
use crate::front::Front;
use crate::shared::SharedConfig;
use std::net::SocketAddr;

pub(super) fn listen_from_env(
    get: &impl Fn(&str) -> Option<String>,
    default: Option<SocketAddr>,
) -> Result<SocketAddr, ConfigError> {
    let default = default.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 4180)));
    let host = match get("HOST") {
        None => default.ip(),
        Some(h) => h
            .parse()
            .map_err(|_| ConfigError(format!("HOST {h:?} is not an IP address")))?,
    };
    let port = match get("PORT") {
        None => default.port(),
        Some(p) => p
            .parse()
            .map_err(|_| ConfigError(format!("PORT {p:?} is not a port number")))?,
    };
    Ok(SocketAddr::new(host, port))
}

/// `METRICS_LISTEN` (`ip:port`) when set, else `default`.
pub(super) fn metrics_from_env(
    get: &impl Fn(&str) -> Option<String>,
    default: Option<SocketAddr>,
) -> Result<Option<SocketAddr>, ConfigError> {
    match get("METRICS_LISTEN") {
        None => Ok(default),
        Some(a) => a
            .parse()
            .map(Some)
            .map_err(|_| ConfigError(format!("METRICS_LISTEN {a:?} is not an ip:port address"))),
    }
}

/// `TRUSTED_PROXIES` (comma-separated IPs) when set, else `default`.
pub(super) fn trusted_from_env(
    get: &impl Fn(&str) -> Option<String>,
    default: Vec<std::net::IpAddr>,
) -> Result<Vec<std::net::IpAddr>, ConfigError> {
    match get("TRUSTED_PROXIES") {
        None => Ok(default),
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse().map_err(|_| {
                    ConfigError(format!("TRUSTED_PROXIES: {s:?} is not an IP address"))
                })
            })
            .collect(),
    }
}

/// An `http(s)://host[:port]` origin, without a trailing slash.
pub(super) fn check_public_url(url: &str) -> Result<String, String> {
    let uri: axum::http::Uri = url.trim().parse().map_err(|e| format!("{url:?}: {e}"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
        return Err(format!("{url:?} is not an http:// or https:// origin"));
    }
    if uri.path() != "/" && !uri.path().is_empty() || uri.query().is_some() {
        return Err(format!(
            "{url:?}: a public URL is an origin, without a path"
        ));
    }
    Ok(url.trim().trim_end_matches('/').to_string())
}

/// `GATEWAY_FRONT` when set, else `default` (the file's `front`).
pub(super) fn front_from_env(
    get: &impl Fn(&str) -> Option<String>,
    default: Front,
) -> Result<Front, ConfigError> {
    match get("GATEWAY_FRONT") {
        None => Ok(default),
        Some(f) => f
            .parse()
            .map_err(|e| ConfigError(format!("GATEWAY_FRONT: {e}"))),
    }
}

pub(super) fn check_upstream(url: &str) -> Result<(), String> {
    let uri: axum::http::Uri = url.parse().map_err(|e| format!("{url:?}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("{url:?}: only http:// upstreams are supported"));
    }
    if uri.host().is_none() {
        return Err(format!("{url:?} has no host"));
    }
    if uri.path() != "/" && !uri.path().is_empty() {
        return Err(format!("{url:?}: an upstream is an origin, without a path"));
    }
    Ok(())
}

/// The shared state's Redis at `url`, read from `source` (`[shared] redis_url` or the variable):
/// the library's check; the value itself is never repeated in the message.
pub(super) fn shared_config(url: &str, source: &str) -> Result<SharedConfig, ConfigError> {
    SharedConfig::new(url)
        .ok_or_else(|| ConfigError(format!("{source}: not a usable redis:// or rediss:// URL")))
}
