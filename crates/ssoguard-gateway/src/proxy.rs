//! Reverse-proxy mode: a request the gate let through goes to the upstream through hyper-util's
//! pooled client, bodies streamed both ways (never buffered), WebSocket upgrades spliced.
//!
//! Guarantees: hop-by-hop headers are dropped both ways (RFC 9110 §7.6.1); every identity header
//! name is removed from the client's request before the gateway's own values are added (no
//! spoofing); `Authorization` is removed unless `forward_authorization`; an upstream that
//! refuses or fails is a 502 and one that does not answer in time a 504, both `{"detail"}`.

use crate::hygiene::Protected;
use crate::metrics::GatewayMetrics;
use axum::Json;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// Who sent the request: its address, whether it is a trusted proxy (its `X-Forwarded-For`
/// and `-Host` are kept), and the scheme the original request used.
pub(crate) struct Peer<'a> {
    pub(crate) addr: SocketAddr,
    pub(crate) trusted: bool,
    pub(crate) proto: &'a str,
}

/// The upstream and the pooled client that reaches it.
#[derive(Clone)]
pub(crate) struct Upstream {
    client: Client<HttpConnector, Body>,
    scheme_authority: String,
    timeout: Duration,
    forward_authorization: bool,
    forward_credential_cookie: bool,
    metrics: GatewayMetrics,
}

impl Upstream {
    pub(crate) fn new(
        url: &str,
        timeout: Duration,
        forward_authorization: bool,
        forward_credential_cookie: bool,
        metrics: GatewayMetrics,
    ) -> Upstream {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Upstream {
            client,
            scheme_authority: url.trim_end_matches('/').to_string(),
            timeout,
            forward_authorization,
            forward_credential_cookie,
            metrics,
        }
    }

    /// Forwards `req` with `identity` headers set and `strip` names removed first.
    pub(crate) async fn forward<'a>(
        &self,
        mut req: Request<Body>,
        identity: Vec<(HeaderName, HeaderValue)>,
        strip: impl Iterator<Item = &'a HeaderName>,
        protected: &Protected,
        client: Peer<'_>,
    ) -> Response {
        let upgrade = upgrade_protocol(req.headers());
        let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();
        let headers = &mut parts.headers;
        let host = headers.get(header::HOST).cloned();
        remove_hop_by_hop(headers);
        crate::hygiene::clean_for_upstream(headers, protected, self.forward_credential_cookie);
        for name in strip {
            headers.remove(name);
        }
        if !self.forward_authorization {
            headers.remove(header::AUTHORIZATION);
        }
        for (name, value) in identity {
            headers.insert(name, value);
        }
        if let Some(protocol) = &upgrade {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, protocol.clone());
        }
        let ip = client.addr.ip().to_string();
        let prior = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .filter(|_| client.trusted);
        let forwarded_for = match prior {
            Some(prior) => format!("{prior}, {ip}"),
            None => ip.clone(),
        };
        if let Ok(value) = HeaderValue::from_str(&forwarded_for) {
            headers.insert("x-forwarded-for", value);
        }
        if let Ok(value) = HeaderValue::from_str(&ip) {
            headers.insert("x-real-ip", value);
        }
        if let Ok(proto) = HeaderValue::from_str(client.proto) {
            headers.insert("x-forwarded-proto", proto);
        }
        let kept_host = client.trusted && headers.contains_key("x-forwarded-host");
        match host {
            _ if kept_host => {}
            Some(host) => {
                headers.insert("x-forwarded-host", host);
            }
            None => {
                headers.remove("x-forwarded-host");
            }
        }
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        parts.uri = match format!("{}{path}", self.scheme_authority).parse::<Uri>() {
            Ok(uri) => uri,
            Err(_) => return detail(StatusCode::BAD_REQUEST, "Bad request target"),
        };
        parts.version = axum::http::Version::HTTP_11;
        // A client body that breaks off or has bad framing (a malformed chunk) fails the
        // upstream request too: that is the client's fault (400), not the upstream's (502).
        let body_failed = Arc::new(AtomicBool::new(false));
        let flag = body_failed.clone();
        let body = Body::new(body.map_err(move |e| {
            flag.store(true, Ordering::Relaxed);
            e
        }));
        let outgoing = Request::from_parts(parts, body);
        let started = Instant::now();
        let result = tokio::time::timeout(self.timeout, self.client.request(outgoing)).await;
        let mut response = match result {
            Err(_) => {
                self.metrics.upstream("timeout", started.elapsed());
                tracing::warn!(
                    timeout_ms = self.timeout.as_millis() as u64,
                    "upstream timed out"
                );
                return detail(
                    StatusCode::GATEWAY_TIMEOUT,
                    "Upstream did not answer in time",
                );
            }
            Ok(Err(e)) if body_failed.load(Ordering::Relaxed) => {
                tracing::info!(error = %e, "request refused: malformed request body");
                return detail(StatusCode::BAD_REQUEST, "Malformed request body");
            }
            Ok(Err(e)) => {
                self.metrics.upstream("error", started.elapsed());
                tracing::warn!(error = %e, "upstream unavailable");
                return detail(StatusCode::BAD_GATEWAY, "Upstream unavailable");
            }
            Ok(Ok(response)) => response,
        };
        self.metrics
            .upstream(status_class(response.status()), started.elapsed());
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            if let Some(client_upgrade) = client_upgrade {
                let upstream_upgrade = hyper::upgrade::on(&mut response);
                tokio::spawn(async move {
                    match tokio::try_join!(client_upgrade, upstream_upgrade) {
                        Ok((client_io, upstream_io)) => {
                            let mut client_io = TokioIo::new(client_io);
                            let mut upstream_io = TokioIo::new(upstream_io);
                            let _ = tokio::io::copy_bidirectional(&mut client_io, &mut upstream_io)
                                .await;
                        }
                        Err(e) => tracing::debug!(error = %e, "upgrade failed"),
                    }
                });
            }
            let (parts, _) = response.into_parts();
            return Response::from_parts(parts, Body::empty());
        }
        let (mut parts, body) = response.into_parts();
        remove_hop_by_hop(&mut parts.headers);
        parts.headers.remove(header::UPGRADE);
        Response::from_parts(parts, Body::new(body))
    }
}

/// The `Upgrade` protocol when the request asks to switch to WebSocket (the only upgrade
/// proxied: `hygiene::check` refuses others first).
fn upgrade_protocol(headers: &HeaderMap) -> Option<HeaderValue> {
    let asks = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    if asks {
        headers
            .get(header::UPGRADE)
            .filter(|v| v.to_str().is_ok_and(crate::hygiene::is_websocket))
            .cloned()
    } else {
        None
    }
}

/// Drops hop-by-hop headers, including those the `Connection` header names.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// A FastAPI-shaped error.
pub(crate) fn detail(status: StatusCode, detail: &str) -> Response {
    (status, Json(serde_json::json!({ "detail": detail }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_connection_named_headers_go() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        assert!(upgrade_protocol(&h).is_none());
        remove_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn websocket_upgrade_is_recognised() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert_eq!(
            upgrade_protocol(&h),
            Some(HeaderValue::from_static("websocket"))
        );
    }
}
