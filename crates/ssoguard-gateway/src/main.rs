//! `ssoguard-gateway` binary: configuration from `GATEWAY_CONFIG` or the environment,
//! `--check-config` to validate it and exit.

use ssoguard_gateway::{App, Config};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of the system allocator, as in `tasks-api`: every request allocates a few
/// dozen small blocks (hyper buffers, header maps, identity header values), which mimalloc
/// serves faster than glibc's malloc (docs/benchmarks-log.md, Gateway).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HELP: &str = "ssoguard-gateway: verify Better Auth SSO tokens in front of any backend.

Usage: ssoguard-gateway [--check-config]

Configuration: GATEWAY_CONFIG=path/to/gateway.toml, or the environment alone:
AUTH_SERVER_URL, SSO_ISSUER, JWKS_URL, SSO_CLIENT_ID, SSO_CLIENT_SECRET, AUTH_COOKIE_NAME,
UPSTREAM_URL (reverse proxy; unset = forward-auth only), HOST, PORT (default 127.0.0.1:4180),
GATEWAY_FRONT (forward-auth: nginx, caddy, traefik or generic; default nginx), PUBLIC_URL,
TRUSTED_PROXIES (comma-separated IPs), METRICS_LISTEN (ip:port for metrics and health).
Logs: JSON lines on stderr (RUST_LOG filters, LOG_FORMAT=pretty for humans).
Exit codes: 0 ok, 2 invalid configuration, 1 start-up or server failure.";

#[tokio::main]
async fn main() -> ExitCode {
    let mut check_only = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check-config" => check_only = true,
            "-h" | "--help" => {
                println!("{HELP}");
                return ExitCode::SUCCESS;
            }
            "-V" | "--version" => {
                println!("ssoguard-gateway {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("ssoguard-gateway: unknown argument {other:?}\n\n{HELP}");
                return ExitCode::from(2);
            }
        }
    }
    let config = match Config::load(|k| std::env::var(k).ok()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("ssoguard-gateway: {e}");
            return ExitCode::from(2);
        }
    };
    if check_only {
        // Builds the verifiers and rules too (no I/O), so every refusal shows here.
        let metrics = ssoguard_gateway::metrics::GatewayMetrics::new();
        return match ssoguard_gateway::Gate::new(&config, metrics) {
            Ok(_) => {
                println!(
                    "configuration OK: {} issuer(s), {} route(s), {}",
                    config.issuers.len(),
                    config.routes.len(),
                    config
                        .upstream
                        .as_deref()
                        .map_or("forward-auth only".to_string(), |u| format!("upstream {u}"))
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ssoguard-gateway: invalid configuration: {e}");
                ExitCode::from(2)
            }
        };
    }
    init_logs();
    let app = match App::build(config).await {
        Ok(app) => app,
        Err(e @ ssoguard_gateway::StartupError::Config(_)) => {
            eprintln!("ssoguard-gateway: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("ssoguard-gateway: {e}");
            return ExitCode::from(1);
        }
    };
    tracing::info!(addr = %app.local_addr(), "ssoguard-gateway listening");
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ssoguard-gateway: {e}");
            ExitCode::from(1)
        }
    }
}

fn init_logs() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a terminal; LOG_FORMAT chooses the format (JSON unless `pretty`).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = if std::env::var("LOG_FORMAT").is_ok_and(|f| f == "pretty") {
        builder.try_init()
    } else {
        builder.with_ansi(false).json().try_init()
    };
}
