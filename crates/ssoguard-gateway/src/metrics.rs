//! Prometheus metrics (`/_ssoguard/metrics`, OpenMetrics text) through `prometheus-client`.
//!
//! - `ssoguard_gateway_decisions_total{outcome,reason}`: every decision, by outcome (`allowed`,
//!   `public`, `unauthenticated`, `forbidden`, `unavailable`) and reason (the library's
//!   `VerifyError::kind`, or `rule`, `no_route`, `cross_site_cookie`, `unsafe_claim`);
//! - `ssoguard_gateway_upstream_duration_seconds{status}`: time to the upstream's response head,
//!   by status class (`2xx` … `5xx`, `error`, `timeout`);
//! - per issuer, read from its verifier at scrape time: `ssoguard_jwks_fetches_total`,
//!   `ssoguard_jwks_fetch_failures_total`, `ssoguard_keys_ready`, `ssoguard_jwks_age_seconds`.
//!
//! One registry per gateway (no global state), so tests can run several gateways in a process.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use ssoguard::IssuerRouter;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Labels = Vec<(&'static str, &'static str)>;

/// The gateway's metrics (cheap to clone).
#[derive(Clone)]
pub struct GatewayMetrics {
    decisions: Family<Labels, Counter>,
    upstream: Family<Labels, Histogram>,
    registry: Arc<Mutex<Registry>>,
}

impl Default for GatewayMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl GatewayMetrics {
    /// A fresh registry with the gateway's own metrics.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let decisions = Family::<Labels, Counter>::default();
        registry.register(
            "ssoguard_gateway_decisions",
            "Authentication decisions by outcome and reason",
            decisions.clone(),
        );
        let upstream = Family::<Labels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0,
            ])
        });
        registry.register(
            "ssoguard_gateway_upstream_duration_seconds",
            "Time to the upstream's response head, by status class",
            upstream.clone(),
        );
        GatewayMetrics {
            decisions,
            upstream,
            registry: Arc::new(Mutex::new(registry)),
        }
    }

    /// Adds the per-issuer key metrics (read from the verifiers at scrape time).
    pub fn register_issuers(&self, router: IssuerRouter, names: Vec<String>) {
        if let Ok(mut registry) = self.registry.lock() {
            registry.register_collector(Box::new(IssuerCollector { router, names }));
        }
    }

    pub(crate) fn decision(&self, outcome: &'static str, reason: &'static str) {
        self.decisions
            .get_or_create(&vec![("outcome", outcome), ("reason", reason)])
            .inc();
    }

    pub(crate) fn upstream(&self, status: &'static str, elapsed: Duration) {
        self.upstream
            .get_or_create(&vec![("status", status)])
            .observe(elapsed.as_secs_f64());
    }

    /// The OpenMetrics text.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(registry) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        }
        out
    }
}

#[derive(Debug)]
struct IssuerCollector {
    router: IssuerRouter,
    names: Vec<String>,
}

impl Collector for IssuerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let rows: Vec<_> = self
            .router
            .verifiers()
            .zip(&self.names)
            .map(|(v, name)| (name.as_str(), v.metrics(), v.key_status()))
            .collect();
        let mut counter = |metric: &str, help: &str, value: &dyn Fn(usize) -> u64| {
            let mut family = encoder.encode_descriptor(
                metric,
                help,
                None,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            for (i, (name, _, _)) in rows.iter().enumerate() {
                let labels = [("issuer", *name)];
                ConstCounter::new(value(i)).encode(family.encode_family(&labels)?)?;
            }
            Ok::<(), std::fmt::Error>(())
        };
        counter("ssoguard_jwks_fetches", "JWKS fetches started", &|i| {
            rows[i].1.jwks_fetches
        })?;
        counter(
            "ssoguard_jwks_fetch_failures",
            "JWKS (or discovery) fetches that failed",
            &|i| rows[i].1.jwks_fetch_failures,
        )?;
        let mut gauge = |metric: &str, help: &str, value: &dyn Fn(usize) -> i64| {
            let mut family = encoder.encode_descriptor(
                metric,
                help,
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            for (i, (name, _, _)) in rows.iter().enumerate() {
                let labels = [("issuer", *name)];
                ConstGauge::new(value(i)).encode(family.encode_family(&labels)?)?;
            }
            Ok::<(), std::fmt::Error>(())
        };
        gauge(
            "ssoguard_keys_ready",
            "1 when a key set is loaded and within its staleness bound",
            &|i| i64::from(rows[i].2.ready),
        )?;
        gauge(
            "ssoguard_jwks_age_seconds",
            "Seconds since the key set was fetched (-1: none yet)",
            &|i| {
                rows[i]
                    .2
                    .age_secs
                    .and_then(|a| i64::try_from(a).ok())
                    .unwrap_or(-1)
            },
        )?;
        Ok(())
    }
}
