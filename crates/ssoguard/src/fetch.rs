//! Bounded HTTP GETs for discovery documents and key sets, and the bounded body read every
//! other SSO reply (introspection, token endpoint, admin API) goes through.
//!
//! Every fetch has a connect timeout, a total timeout and a response-size cap enforced while
//! streaming, so a hostile or broken SSO can neither stall a refresh forever nor make the
//! service buffer an unbounded body. Redirects are followed at most 3 times and never from
//! `https` to plain `http` ([`redirect_policy`]).

use futures_util::StreamExt as _;
use std::time::Duration;

/// A fetched body and the `Cache-Control: max-age` it came with.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) bytes: Vec<u8>,
    pub(crate) max_age: Option<Duration>,
}

/// Why a fetch failed. Messages name the URL, never a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// No usable answer: connection failed, timed out, a refused redirect, a refused plain-http
    /// URL. The message names the URL and the kind of failure.
    #[error("{0}")]
    Transport(String),
    /// An HTTP error status.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL fetched.
        url: String,
        /// The status code.
        status: u16,
    },
    /// A body larger than the cap.
    #[error("{url} sent more than {limit} bytes")]
    TooLarge {
        /// The URL fetched.
        url: String,
        /// The cap, in bytes.
        limit: usize,
    },
}

/// GETs a JSON document (a discovery document, a JWKS) the way the verifier does: connect
/// timeout 2 s, total 5 s, at most 1 MiB read, at most 3 redirects and none from `https` to plain
/// `http`. For diagnostic tools (`ssoguard jwks`), so they fetch exactly as the service would.
///
/// ```no_run
/// # async fn run() -> Result<(), ssoguard::FetchError> {
/// let jwks = ssoguard::fetch_document("http://localhost:3001/api/auth/jwks").await?;
/// assert!(!jwks.is_empty());
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`FetchError`]: unreachable, an HTTP error status, or a body over 1 MiB.
pub async fn fetch_document(url: &str) -> Result<Vec<u8>, FetchError> {
    let fetcher = HttpFetcher::new(
        None,
        Duration::from_secs(2),
        Duration::from_secs(5),
        1 << 20,
    )
    .map_err(|e| FetchError::Transport(describe(url, &e)))?;
    fetcher.get(url).await.map(|fetched| fetched.bytes)
}

#[derive(Debug, Clone)]
pub(crate) struct HttpFetcher {
    client: reqwest::Client,
    max_bytes: usize,
    allow_remote_http: bool,
    /// The timeouts of a client built here (`None`: the caller's own client).
    own_client: Option<(Duration, Duration)>,
}

impl HttpFetcher {
    pub(crate) fn new(
        client: Option<reqwest::Client>,
        connect_timeout: Duration,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Self, reqwest::Error> {
        let own_client = client.is_none().then_some((connect_timeout, timeout));
        let client = match client {
            Some(c) => c,
            None => Self::client(connect_timeout, timeout, true)?,
        };
        Ok(HttpFetcher {
            client,
            max_bytes,
            allow_remote_http: true,
            own_client,
        })
    }

    fn client(
        connect_timeout: Duration,
        timeout: Duration,
        allow_remote_http: bool,
    ) -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .redirect(redirect_policy(allow_remote_http))
            .user_agent(concat!("ssoguard/", env!("CARGO_PKG_VERSION")))
            .build()
    }

    /// Whether plain `http` to a non-loopback host may be fetched or redirected to. Default
    /// here: allowed (one-off fetches of configured URLs); the verifier refuses it unless told
    /// otherwise, so a discovered `jwks_uri` cannot downgrade a verifier configured with https.
    pub(crate) fn allow_remote_http(mut self, allow: bool) -> Result<Self, reqwest::Error> {
        if let Some((connect_timeout, timeout)) = self.own_client {
            self.client = Self::client(connect_timeout, timeout, allow)?;
        }
        self.allow_remote_http = allow;
        Ok(self)
    }

    pub(crate) async fn get(&self, url: &str) -> Result<Fetched, FetchError> {
        self.get_with_headers(url, &[]).await
    }

    /// [`get`](Self::get) with extra request headers (a session cookie for Better Auth's
    /// `get-session`). Header values are never part of an error message.
    pub(crate) async fn get_with_headers(
        &self,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<Fetched, FetchError> {
        if !self.allow_remote_http && is_remote_plain_http(url) {
            return Err(FetchError::Transport(format!(
                "{url}: plain http to a non-loopback host is refused (use https)"
            )));
        }
        let mut request = self.client.get(url).header("accept", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| FetchError::Transport(describe(url, &e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: status.as_u16(),
            });
        }
        if response
            .content_length()
            .is_some_and(|len| len > self.max_bytes as u64)
        {
            return Err(FetchError::TooLarge {
                url: url.to_string(),
                limit: self.max_bytes,
            });
        }
        let max_age = response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_max_age);
        let bytes = read_bounded(response, url, self.max_bytes).await?;
        Ok(Fetched { bytes, max_age })
    }
}

/// Largest reply read from the SSO's introspection, token and admin endpoints (as for JWKS).
pub(crate) const MAX_REPLY_BYTES: usize = 1024 * 1024;

/// Reads a response body, refusing it as soon as it exceeds `max_bytes` (by `Content-Length`
/// or while streaming), so a hostile endpoint cannot make the service buffer without bound.
pub(crate) async fn read_bounded(
    response: reqwest::Response,
    url: &str,
    max_bytes: usize,
) -> Result<Vec<u8>, FetchError> {
    let too_large = || FetchError::TooLarge {
        url: url.to_string(),
        limit: max_bytes,
    };
    if response
        .content_length()
        .is_some_and(|len| len > max_bytes as u64)
    {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| FetchError::Transport(describe(url, &e)))?;
        if bytes.len() + chunk.len() > max_bytes {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// At most 3 redirects, none from `https` to plain `http` (a downgrade would expose the
/// request, and with it a client secret or a token, to the network), and, unless
/// `allow_remote_http`, none to plain `http` on a non-loopback host.
pub(crate) fn redirect_policy(allow_remote_http: bool) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        let downgrade = attempt.url().scheme() == "http"
            && attempt.previous().iter().any(|url| url.scheme() == "https");
        if downgrade {
            attempt.error("refusing a redirect from https to http")
        } else if !allow_remote_http && is_remote_plain_http(attempt.url().as_str()) {
            attempt.error("refusing a redirect to plain http on a non-loopback host")
        } else if attempt.previous().len() > 3 {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

/// True when `url` is plain `http` to a host other than a loopback one (`localhost`,
/// `127.0.0.0/8`, `::1`): tokens, keys and secrets would cross the network in the clear.
#[must_use]
pub(crate) fn is_remote_plain_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let host = host.to_ascii_lowercase();
    let loopback = host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

fn describe(url: &str, e: &reqwest::Error) -> String {
    format!("{url}: {}", transport_failure(e))
}

/// What kind of transport failure a request error is (safe to log: no URL query, no body).
pub(crate) fn transport_failure(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    }
}

/// Parses `max-age` from a Cache-Control value; `no-cache`/`no-store` mean zero.
pub(crate) fn parse_max_age(value: &str) -> Option<Duration> {
    let mut max_age = None;
    for directive in value.split(',') {
        let directive = directive.trim();
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            max_age = secs
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    max_age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_parsing() {
        assert_eq!(
            parse_max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(
            parse_max_age("Max-Age=\"60\""),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(parse_max_age("public"), None);
        assert_eq!(parse_max_age("max-age=abc"), None);
    }

    #[tokio::test]
    async fn redirects_to_remote_plain_http_are_not_followed() {
        let router = axum::Router::new().route(
            "/jwks",
            axum::routing::get(|| async {
                axum::response::Redirect::temporary("http://203.0.113.7/jwks")
            }),
        );
        let origin = crate::testing::serve(router).await;
        let started = std::time::Instant::now();
        let strict = HttpFetcher::new(None, Duration::from_secs(2), Duration::from_secs(5), 1024)
            .and_then(|f| f.allow_remote_http(false))
            .expect("client");
        let err = strict.get(&format!("{origin}/jwks")).await.unwrap_err();
        assert!(matches!(err, FetchError::Transport(_)), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "refused, not tried"
        );
        let err = strict.get("http://203.0.113.7/jwks").await.unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");
    }

    /// A real TLS hop: an `https` server (self-signed certificate the client trusts) that
    /// redirects to a plain-`http` loopback server. Loopback http is otherwise allowed, so only
    /// the downgrade rule can refuse it; the http server must never see a request.
    #[tokio::test]
    async fn a_redirect_from_https_to_http_is_not_followed() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let plain = crate::testing::serve(axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { r#"{"keys":[]}"# }
            }),
        ))
        .await;

        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
        let tls = tokio_rustls::rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.cert.der().clone()],
                tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(
                    cert.signing_key.serialize_der().into(),
                ),
            )
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let location = format!("{plain}/jwks");
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, location) = (acceptor.clone(), location.clone());
                tokio::spawn(async move {
                    let Ok(mut stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    // One request per connection: read its head, answer a redirect, close.
                    let mut head = Vec::new();
                    let mut buf = [0_u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let reply = format!(
                        "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });

        let client = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).expect("pem"),
            )
            .redirect(redirect_policy(true))
            .build()
            .expect("client");
        let fetcher = HttpFetcher::new(
            Some(client),
            Duration::from_secs(2),
            Duration::from_secs(5),
            1024,
        )
        .expect("fetcher");
        let err = fetcher
            .get(&format!("https://localhost:{port}/jwks"))
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Transport(_)), "{err}");
        assert_eq!(
            hits.load(Ordering::SeqCst),
            0,
            "the http server was reached"
        );
        // The same http URL fetched directly works: only the downgrade was refused.
        fetcher
            .get(&format!("{plain}/jwks"))
            .await
            .expect("direct loopback http");
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn plain_http_is_remote_unless_loopback() {
        for remote in [
            "http://sso.example.invalid:3001",
            "http://10.0.0.5/api/auth",
            "http://localhost.evil.example/",
            "http://user@sso.example/",
            "HTTP://x".to_ascii_lowercase().as_str(),
        ] {
            assert!(is_remote_plain_http(remote), "{remote}");
        }
        for local in [
            "http://localhost:3001",
            "http://127.0.0.1:8080/jwks",
            "http://[::1]:3001/",
            "http://app.localhost/",
            "https://sso.example",
        ] {
            assert!(!is_remote_plain_http(local), "{local}");
        }
    }
}
