//! `tasks-api` binary: configuration from the environment, `--dev` for the built-in issuer.

use clap::Parser;
use tasks_api::config::Config;
use tasks_api::startup::App;

/// mimalloc instead of the system allocator: a request allocates a few dozen small blocks
/// (hyper buffers, header maps, boxed futures, the JSON body), which mimalloc serves faster than
/// glibc's malloc (`benches/router.rs` measures it; docs/benchmarks-log.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// User-scoped tasks behind Better Auth SSO.
#[derive(Parser)]
#[command(
    version,
    about,
    after_help = "Configuration comes from the environment and .env: \
AUTH_SERVER_URL, SSO_ISSUER, JWKS_URL, SSO_CLIENT_ID, SSO_API_KEY, DATABASE_URL, HOST, PORT, \
CORS_ORIGINS, AUTH_COOKIE_NAME, JWKS_CACHE_TTL, RUST_LOG, LOG_FORMAT (see crates/tasks-api/README.md)."
)]
struct Cli {
    /// Development mode: start a built-in dev issuer on DEV_ISSUER_ADDR (127.0.0.1:3001), trust
    /// only it, and print ready tokens and curl lines. Never use in production.
    #[arg(long)]
    dev: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env(cli.dev) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("tasks-api: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    tasks_api::telemetry::init(config.log_format);
    let app = match App::build(config).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("tasks-api: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let addr = app.local_addr();
    tracing::info!(%addr, "tasks-api listening");
    if let Some(dev) = app.dev_issuer() {
        print_dev_banner(dev, addr);
    }
    match app.run_until_stopped().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tasks-api: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

fn print_dev_banner(dev: &ssoguard::dev::DevIssuer, addr: std::net::SocketAddr) {
    let user = dev.token_for("alice").unwrap_or_default();
    let admin = dev.token_for("admin").unwrap_or_default();
    let base = format!("http://{addr}");
    println!(
        "\n==================== tasks-api DEV MODE (do not use in production) ====================\n\
         dev issuer : {issuer}\n\
         API        : {base}   docs: {base}/docs\n\n\
         USER_TOKEN={user}\n\n\
         ADMIN_TOKEN={admin}\n\n\
         curl -s {base}/api/me -H \"Authorization: Bearer {user}\"\n\
         curl -s -X POST {base}/api/tasks -H \"Authorization: Bearer {user}\" -H 'Content-Type: application/json' -d '{{\"title\":\"first task\"}}'\n\
         curl -s {base}/api/tasks -H \"Authorization: Bearer {user}\"\n\
         curl -s {base}/api/admin/users/alice -H \"Authorization: Bearer {admin}\"\n\
         ========================================================================================\n",
        issuer = dev.issuer_url(),
    );
}
