//! [`JwksConfig`]: the key cache's settings, their defaults and the combinations refused.

use crate::error::ConfigError;
use std::time::Duration;

/// Settings of the key cache. Every default is chosen for a Better Auth deployment and can be
/// changed through [`crate::VerifierBuilder`].
///
/// # Example
///
/// ```
/// use ssoguard::{JwksConfig, Verifier};
/// use std::time::Duration;
///
/// let config = JwksConfig::default()
///     .ttl(Duration::from_secs(600))
///     .max_stale(Duration::from_secs(3600));
/// let verifier = Verifier::builder()
///     .authority("http://localhost:3001")
///     .audience("rust-backend")
///     .jwks_config(config)
///     .build()?;
/// # let _ = verifier;
/// # Ok::<(), ssoguard::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JwksConfig {
    /// How long a key set is fresh when the response has no `Cache-Control: max-age`.
    /// Default: 1 hour.
    pub ttl: Duration,
    /// Use the response's `Cache-Control: max-age`, clamped to
    /// [`JwksConfig::min_ttl`]..=[`JwksConfig::max_ttl`]. Default: `true`.
    pub respect_cache_control: bool,
    /// Lower clamp for `max-age`. Default: 30 s (a provider saying `no-cache` must not make every
    /// request fetch).
    pub min_ttl: Duration,
    /// Upper clamp for `max-age`. Default: 24 h (rotation must be noticed within a day).
    pub max_ttl: Duration,
    /// Refresh in the background this long before expiry (at most a tenth of the TTL).
    /// Default: 5 min.
    pub refresh_ahead: Duration,
    /// Minimum time between refetches caused by unknown kids, and between retries after a failed
    /// fetch. Default: 30 s. Lowering it lets forged kids drive more traffic to the SSO.
    pub refetch_cooldown: Duration,
    /// How long a request waits for an in-flight fetch before giving up. Default: 5 s.
    pub wait_timeout: Duration,
    /// Total timeout of one HTTP fetch. Default: 5 s.
    pub fetch_timeout: Duration,
    /// Connect timeout of one HTTP fetch. Default: 2 s.
    pub connect_timeout: Duration,
    /// Largest accepted JWKS or discovery response. Default: 1 MiB.
    pub max_response_bytes: usize,
    /// Most keys accepted in one JWKS. Default: 100.
    pub max_keys: usize,
    /// How long past expiry the last good set is still used while refreshes fail.
    /// Default: 24 h. After that, verification fails closed (503).
    pub max_stale: Duration,
}

impl Default for JwksConfig {
    fn default() -> Self {
        JwksConfig {
            ttl: Duration::from_secs(3600),
            respect_cache_control: true,
            min_ttl: Duration::from_secs(30),
            max_ttl: Duration::from_secs(24 * 3600),
            refresh_ahead: Duration::from_secs(300),
            refetch_cooldown: Duration::from_secs(30),
            wait_timeout: Duration::from_secs(5),
            fetch_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            max_response_bytes: 1024 * 1024,
            max_keys: 100,
            max_stale: Duration::from_secs(24 * 3600),
        }
    }
}

/// A consuming setter per field: `JwksConfig::default().ttl(…)`. The default is on the field.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            #[must_use]
            pub fn $name(mut self, $name: $ty) -> Self {
                self.$name = $name;
                self
            }
        )*
    };
}

impl JwksConfig {
    setters! {
        /// Sets [`JwksConfig::ttl`] (default 1 h).
        ttl: Duration;
        /// Sets [`JwksConfig::respect_cache_control`] (default `true`).
        respect_cache_control: bool;
        /// Sets [`JwksConfig::min_ttl`] (default 30 s).
        min_ttl: Duration;
        /// Sets [`JwksConfig::max_ttl`] (default 24 h).
        max_ttl: Duration;
        /// Sets [`JwksConfig::refresh_ahead`] (default 5 min).
        refresh_ahead: Duration;
        /// Sets [`JwksConfig::refetch_cooldown`] (default 30 s; lower lets forged kids drive
        /// more traffic to the SSO).
        refetch_cooldown: Duration;
        /// Sets [`JwksConfig::wait_timeout`] (default 5 s).
        wait_timeout: Duration;
        /// Sets [`JwksConfig::fetch_timeout`] (default 5 s).
        fetch_timeout: Duration;
        /// Sets [`JwksConfig::connect_timeout`] (default 2 s).
        connect_timeout: Duration;
        /// Sets [`JwksConfig::max_response_bytes`] (default 1 MiB).
        max_response_bytes: usize;
        /// Sets [`JwksConfig::max_keys`] (default 100).
        max_keys: usize;
        /// Sets [`JwksConfig::max_stale`] (default 24 h; after it, 503).
        max_stale: Duration;
    }

    /// Refuses settings that cannot work together or would overflow a deadline.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        let invalid = |setting: &'static str, reason: &str| {
            Err(ConfigError::InvalidSetting {
                setting,
                reason: reason.into(),
            })
        };
        let ten_years = Duration::from_secs(10 * 365 * 24 * 3600);
        for (setting, value) in [
            ("jwks ttl", self.ttl),
            ("min_ttl", self.min_ttl),
            ("max_ttl", self.max_ttl),
            ("refresh_ahead", self.refresh_ahead),
            ("refetch_cooldown", self.refetch_cooldown),
            ("wait_timeout", self.wait_timeout),
            ("fetch_timeout", self.fetch_timeout),
            ("connect_timeout", self.connect_timeout),
            ("max_stale", self.max_stale),
        ] {
            if value > ten_years {
                return invalid(setting, "longer than ten years");
            }
        }
        if self.min_ttl > self.max_ttl {
            return invalid("min_ttl", "greater than max_ttl");
        }
        for (setting, value) in [
            ("jwks ttl", self.ttl),
            ("max_ttl", self.max_ttl),
            ("wait_timeout", self.wait_timeout),
            ("fetch_timeout", self.fetch_timeout),
            ("connect_timeout", self.connect_timeout),
        ] {
            if value.is_zero() {
                return invalid(setting, "must be positive");
            }
        }
        if self.max_response_bytes == 0 {
            return invalid("max_response_bytes", "must be positive");
        }
        if self.max_keys == 0 {
            return invalid("max_keys", "must be positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_setter_changes_its_setting_only() {
        let set = JwksConfig::default()
            .ttl(Duration::from_secs(600))
            .refetch_cooldown(Duration::from_secs(5))
            .max_keys(7);
        let default = JwksConfig::default();
        assert_eq!(set.ttl, Duration::from_secs(600));
        assert_eq!(set.refetch_cooldown, Duration::from_secs(5));
        assert_eq!(set.max_keys, 7);
        assert_eq!(set.max_stale, default.max_stale);
        assert_eq!(set.min_ttl, default.min_ttl);
        assert!(set.check().is_ok());
    }

    #[test]
    fn impossible_settings_are_refused() {
        let ok = JwksConfig::default();
        assert!(ok.check().is_ok());
        let cases = [
            (
                JwksConfig {
                    min_ttl: Duration::from_secs(600),
                    max_ttl: Duration::from_secs(60),
                    ..ok.clone()
                },
                "min_ttl",
            ),
            (
                JwksConfig {
                    wait_timeout: Duration::ZERO,
                    ..ok.clone()
                },
                "wait_timeout",
            ),
            (
                JwksConfig {
                    refetch_cooldown: Duration::MAX,
                    ..ok.clone()
                },
                "refetch_cooldown",
            ),
            (
                JwksConfig {
                    max_keys: 0,
                    ..ok.clone()
                },
                "max_keys",
            ),
            (
                JwksConfig {
                    max_response_bytes: 0,
                    ..ok.clone()
                },
                "max_response_bytes",
            ),
        ];
        for (cfg, setting) in cases {
            match cfg.check() {
                Err(ConfigError::InvalidSetting { setting: s, .. }) => assert_eq!(s, setting),
                other => panic!("{setting}: {other:?}"),
            }
        }
    }
}
