//! The `remote` lookup: Better Auth's own `GET <base>/get-session`, with the session cookie.
//!
//! Called with `disableCookieCache=true` (the answer comes from Better Auth's session store,
//! not from a cache cookie, which is not forwarded anyway) and `disableRefresh=true` (a
//! read-only check: a backend asking does not slide the session's expiry or set cookies).
//! Replies go through the library's bounded fetcher ([`crate::fetch`]: 2 s connect, 5 s total,
//! 1 MiB). A `null` body means no live session (401); anything but a 200 with `null` or a
//! session object is the store's fault (503).

use super::record::{SessionRecord, StoreDown};
use crate::fetch::{HttpFetcher, MAX_REPLY_BYTES};
use std::time::Duration;

pub(crate) struct RemoteStore {
    url: String,
    fetcher: HttpFetcher,
}

impl RemoteStore {
    /// `base` is Better Auth's `<origin><basePath>` (`http://localhost:3001/api/auth`).
    pub(crate) fn new(
        base: &str,
        timeout: Duration,
        allow_remote_http: bool,
    ) -> Result<Self, reqwest::Error> {
        let fetcher = HttpFetcher::new(None, Duration::from_secs(2), timeout, MAX_REPLY_BYTES)?
            .allow_remote_http(allow_remote_http)?;
        Ok(RemoteStore {
            url: format!(
                "{}/get-session?disableCookieCache=true&disableRefresh=true",
                base.trim_end_matches('/')
            ),
            fetcher,
        })
    }

    pub(crate) async fn find(
        &self,
        cookie_name: &str,
        cookie_value: &str,
    ) -> Result<Option<SessionRecord>, StoreDown> {
        let cookie = format!("{cookie_name}={cookie_value}");
        let fetched = self
            .fetcher
            .get_with_headers(&self.url, &[("cookie", &cookie)])
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "session lookup (get-session) failed");
                StoreDown
            })?;
        let body: serde_json::Value = serde_json::from_slice(&fetched.bytes).map_err(|_| {
            tracing::error!(url = %self.url, "get-session answered something other than JSON");
            StoreDown
        })?;
        if body.is_null() {
            return Ok(None);
        }
        SessionRecord::from_json(&body).map(Some).map_err(|e| {
            tracing::error!(url = %self.url, reason = %e, "get-session answered an unusable session");
            StoreDown
        })
    }
}
