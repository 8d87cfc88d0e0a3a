//! Scale figures for docs/benchmarks-log.md: JWKS fetches under a cold-cache stampede and a
//! forged-kid flood, steady-state SSO load, and the verified-token cache's memory at its bound.
//!
//! `cargo run --release -p ssoguard --features testing --example scale`

use ssoguard::testing::TestIssuer;
use ssoguard::{JwksConfig, TokenCacheConfig, Verifier};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = TestIssuer::start().await?;

    // 1. Cold-cache stampede: 10,000 concurrent verifications of distinct tokens.
    let verifier = Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .build()?;
    let tokens: Vec<Arc<String>> = (0..10_000)
        .map(|i| Arc::new(issuer.token().sub(&format!("user-{i}")).sign()))
        .collect();
    let started = Instant::now();
    let tasks: Vec<_> = tokens
        .iter()
        .map(|t| {
            let v = verifier.clone();
            let t = t.clone();
            tokio::spawn(async move { v.verify(&t).await.is_ok() })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await?);
    }
    println!(
        "stampede: 10000 concurrent cold-cache verifications, {ok} ok, JWKS fetches = {}, discovery fetches = {}, {:?}",
        issuer.jwks_fetches(),
        issuer.discovery_fetches(),
        started.elapsed()
    );

    // 2. Forged-kid flood: 10,000 requests with random unknown kids within one cooldown.
    let before = issuer.jwks_fetches();
    let tasks: Vec<_> = (0..10_000)
        .map(|i| {
            let v = verifier.clone();
            let t = issuer.token().kid(&format!("forged-{i}")).sign();
            tokio::spawn(async move { v.verify(&t).await.is_err() })
        })
        .collect();
    let mut refused = 0;
    for t in tasks {
        refused += usize::from(t.await?);
    }
    println!(
        "forged kids: 10000 requests, {refused} refused, JWKS fetches caused = {} (cooldown {:?})",
        issuer.jwks_fetches() - before,
        JwksConfig::default().refetch_cooldown
    );

    // 3. Steady state: fetches per hour at the default TTL (measured with a 1 s TTL over 10 s).
    let short = Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .jwks_ttl(Duration::from_secs(1))
        .build()?;
    short.warm_up().await?;
    let before = issuer.jwks_fetches();
    let token = issuer.token().sign();
    let end = Instant::now() + Duration::from_secs(10);
    let mut n = 0u64;
    while Instant::now() < end {
        let _ = short.verify(&token).await;
        n += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let fetched = issuer.jwks_fetches() - before;
    println!(
        "steady state: TTL 1 s over 10 s and {n} requests → {fetched} fetches (one per TTL, independent of traffic); \
         default TTL 1 h → 1 JWKS fetch per hour per instance"
    );

    // 4. Verified-token cache memory at its bound (10,000 entries).
    let cached = Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .token_cache(TokenCacheConfig::default())
        .build()?;
    cached.warm_up().await?;
    let fill: Vec<String> = (0..12_000)
        .map(|i| {
            issuer
                .token()
                .sub(&format!("user-{i}"))
                .email(&format!("user-{i}@example.com"))
                .name("A Typical User Name")
                .role("user")
                .claim("email_verified", serde_json::json!(true))
                .sign()
        })
        .collect();
    let token_bytes: usize = fill.iter().map(String::len).sum::<usize>() / fill.len();
    let rss_before = rss_kib();
    for t in &fill {
        cached.verify(t).await?;
    }
    let rss_after = rss_kib();
    println!(
        "token cache: {} entries after 12000 distinct tokens (bound 10000), typical token {token_bytes} B, RSS +{} KiB ({} B/entry); estimated {} KiB (bound {} KiB)",
        cached.token_cache_len(),
        rss_after.saturating_sub(rss_before),
        rss_after.saturating_sub(rss_before) * 1024 / cached.token_cache_len().max(1) as u64,
        cached.token_cache_bytes() / 1024,
        TokenCacheConfig::default().max_bytes / 1024
    );
    Ok(())
}
