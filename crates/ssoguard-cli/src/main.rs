//! `ssoguard`: inspect and verify Better Auth SSO tokens, run a development issuer, mint dev
//! tokens. `ssoguard --help` and `ssoguard <command> --help` document every command.
//!
//! `inspect` and `verify` never print the token, or any part of it.

mod decode;
mod dev;
mod input;
mod inspect;
mod jwks_cmd;
mod net;
mod timefmt;
mod verify;

use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use ssoguard::Algorithm;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

const TOP_EXAMPLES: &str = "\
Examples:
  ssoguard inspect < token.txt
  ssoguard verify --issuer http://localhost:3001 --audience rust-backend < token.txt
  ssoguard jwks --issuer http://localhost:3001
  ssoguard dev-issuer
  ssoguard mint --sub alice --role admin | ssoguard verify --issuer http://127.0.0.1:3001 --audience dev-client

Tokens are read from stdin when TOKEN is `-` or absent (preferred: an argument lands in your
shell history). A leading \"Bearer \" is accepted. inspect and verify never print the token.";

const INSPECT_EXAMPLES: &str = "\
Examples:
  ssoguard inspect < token.txt
  pbpaste | ssoguard inspect
  echo \"Bearer $TOKEN\" | ssoguard inspect -

Output: the header, the claims, iat/nbf/exp as UTC dates (RFC 3339) with relative times, the
kind of token it looks like (OIDC id_token, at+jwt access token, Better Auth jwt-plugin token,
client-credentials token) and warnings (alg none/HS*, no kid, no exp, lifetime over 24 h,
jku/jwk/x5u/x5c, crit, …). Nothing is verified: use `ssoguard verify` for a verdict.

Exit codes: 0 a recognised token (a JWT, a JWE, or an opaque token, which is only described);
2 anything else (empty input, not base64url, not JSON, wrong number of segments).";

const VERIFY_EXAMPLES: &str = "\
Examples:
  ssoguard verify --issuer http://localhost:3001 --audience rust-backend < token.txt
  ssoguard verify --issuer http://localhost:3001/api/auth < token.txt      (aud not checked)
  ssoguard verify --issuer https://sso.example.com --alg RS256 --json - < token.txt | jq .error
  SSO_ISSUER=http://localhost:3001 SSO_CLIENT_ID=rust-backend ssoguard verify < token.txt
  ssoguard verify --issuer http://localhost:3001 --audience rust-backend \\
       --dpop \"$PROOF\" --method POST --url https://api.example.com/api/tasks < token.txt

The verdict is ssoguard's own (Verifier::verify, default settings: 60 s leeway, every
asymmetric algorithm unless --alg restricts them). Each step line is a diagnostic computed
alongside, with a hint when it fails: header, discovery, JWKS, kid, algorithm, signature, exp,
nbf, iat, iss, aud, sub, claims, then dpop (the proof: typ, alg, jwk, signature, htm, htu, iat,
ath; with --dpop), cnf (the sender constraint: a cnf-bound token needs its DPoP proof, a DPoP
request needs a cnf.jkt-bound token of the proof's key), dpop-jti (the proof not used before;
with --dpop) and revoked (no back-channel logout of its session: this process has received none).
The step the library's error names is the decisive one. A proof is single-use and bound to one
method, URL and token: make a fresh one for each run.

Exit codes: 0 valid; 1 invalid token; 2 usage error (bad arguments, unreadable input, input that
is not a token at all); 3 SSO unavailable (discovery or JWKS could not be fetched: the library's
keys_unavailable, a 503 in a service).

--json prints one object (this shape is stable):
  {
    \"valid\": bool,                  the library's verdict
    \"exit_code\": 0 | 1 | 2 | 3,
    \"issuer\": string | null,        the issuer tokens are checked against, once known
    \"audiences\": [string],          --audience values ([]: aud not checked)
    \"algorithms\": [string],         allowed algorithms
    \"steps\": [{
      \"step\": \"header\" | \"discovery\" | \"jwks\" | \"kid\" | \"algorithm\" | \"signature\" |
              \"exp\" | \"nbf\" | \"iat\" | \"iss\" | \"aud\" | \"sub\" | \"claims\" |
              \"dpop\" | \"cnf\" | \"dpop-jti\" | \"revoked\",
      \"ok\": true | false | null,     null: not checked
      \"decisive\": bool,             true on the step the library's error names
      \"detail\": string,
      \"hint\": string | null         how to fix it (on a passed step: a note)
    }],
    \"error\": {\"kind\": string, \"message\": string, \"step\": string | null} | null,
                                    kind: VerifyError::kind() (expired, audience_mismatch, …),
                                    \"usage\" or \"invalid_input\" for exit code 2
    \"claims\": object | null         the verified claims (only when valid)
  }
Steps are empty for usage errors.";

const JWKS_EXAMPLES: &str = "\
Examples:
  ssoguard jwks --issuer http://localhost:3001
  ssoguard jwks --issuer https://sso.example.com/api/auth --alg RS256

Prints where discovery found the document, the issuer, jwks_uri, endpoints and advertised
algorithms, then one row per published key (kid, kty, crv or RSA bits, alg, use, status) and
the reason each skipped key is skipped.
Exit codes: 0 at least one usable key; 2 bad arguments; 3 discovery or JWKS not obtainable, or
no usable key.";

const DEV_EXAMPLES: &str = "\
Examples:
  ssoguard dev-issuer
  ssoguard dev-issuer --addr 127.0.0.1:4001 --alg RS256 --keys /tmp/dev-keys.json
  curl -s -X POST http://127.0.0.1:3001/api/auth/oauth2/token \\
       -d grant_type=urn:ssoguard:dev-user -d user=alice

FOR DEVELOPMENT ONLY: anyone who can reach it can mint tokens. Serves Better-Auth-shaped
discovery and JWKS under /api/auth, a token endpoint (client_credentials with
dev-client/dev-secret, and grant_type=urn:ssoguard:dev-user for the dev users alice and admin),
userinfo, and admin/get-user (API key dev-api-key). Keys persist in the keys file, so tokens
survive restarts; a new --alg adds a key of that algorithm. Stops on Ctrl-C or SIGTERM.";

const MINT_EXAMPLES: &str = "\
Examples:
  ssoguard mint --sub alice --email alice@example.com --role admin
  ssoguard mint --sub alice --aud rust-backend --ttl 15m --claim organization_id=org-1
  ssoguard mint --sub alice --claim exp=1700000000          (an expired token)
  ssoguard mint --sub svc --claim azp=svc --claim 'scope=\"api:read\"'

Signs with the first key of the dev issuer's keys file (or the first --alg key), header
{alg, kid}. Claims: iss (default http://127.0.0.1:3001/api/auth), sub, aud (default
dev-client; repeat --aud for an array), iat now, exp now + ttl, then --claim k=v in order (v is
parsed as JSON when it parses, else taken as a string; --claim overrides everything). Prints
only the token.";

/// Inspect and verify Better Auth SSO tokens; run a dev issuer; mint dev tokens.
#[derive(Debug, Parser)]
#[command(name = "ssoguard", version, after_help = TOP_EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode a token WITHOUT verifying it: header, claims, times, kind, warnings.
    #[command(after_help = INSPECT_EXAMPLES)]
    Inspect(InspectArgs),
    /// Verify a token as ssoguard does, explaining each step, with hints.
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Show the SSO's discovery document and its signing keys.
    #[command(after_help = JWKS_EXAMPLES)]
    Jwks(JwksArgs),
    /// Run a local Better-Auth-shaped issuer (DEVELOPMENT ONLY).
    #[command(after_help = DEV_EXAMPLES)]
    DevIssuer(DevIssuerArgs),
    /// Print a token signed with the dev issuer's key.
    #[command(after_help = MINT_EXAMPLES)]
    Mint(MintArgs),
}

#[derive(Debug, Args)]
struct InspectArgs {
    /// The token; `-` or absent: read it from stdin.
    #[arg(value_name = "TOKEN|-")]
    token: Option<String>,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The token; `-` or absent: read it from stdin.
    #[arg(value_name = "TOKEN|-")]
    token: Option<String>,
    /// The SSO's origin (http://localhost:3001) or issuer (…/api/auth).
    #[arg(long, env = "SSO_ISSUER", value_name = "URL")]
    issuer: String,
    /// An accepted audience (the client id, SSO_CLIENT_ID); repeatable. Absent: aud not checked.
    #[arg(long, env = "SSO_CLIENT_ID", value_name = "A", value_delimiter = ',')]
    audience: Vec<String>,
    /// Fetch keys from this JWKS URL instead of discovery's jwks_uri.
    #[arg(long, env = "JWKS_URL", value_name = "URL")]
    jwks_url: Option<String>,
    /// Allow only these algorithms (repeatable), like a server configured that way.
    #[arg(long, value_name = "ALG", value_parser = parse_alg)]
    alg: Vec<Algorithm>,
    /// A DPoP proof (RFC 9449) sent with the token: explain the request as `Authorization:
    /// DPoP <token>` with this `DPoP` header (needs --url).
    #[arg(long, value_name = "PROOF", requires = "url")]
    dpop: Option<String>,
    /// With --dpop: the request's method.
    #[arg(long, value_name = "METHOD", default_value = "GET", requires = "dpop")]
    method: String,
    /// With --dpop: the request's URL as the client called it (query and fragment ignored).
    #[arg(long, value_name = "URL", requires = "dpop")]
    url: Option<String>,
    /// Print a machine-readable report (shape below).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct JwksArgs {
    /// The SSO's origin or issuer.
    #[arg(long, env = "SSO_ISSUER", value_name = "URL")]
    issuer: String,
    /// Fetch keys from this JWKS URL instead of discovery's jwks_uri.
    #[arg(long, env = "JWKS_URL", value_name = "URL")]
    jwks_url: Option<String>,
    /// Judge usability as a verifier allowing only these algorithms (repeatable).
    #[arg(long, value_name = "ALG", value_parser = parse_alg)]
    alg: Vec<Algorithm>,
}

#[derive(Debug, Args)]
struct DevIssuerArgs {
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:3001")]
    addr: String,
    /// Keys file (created with one key when missing).
    #[arg(long, value_name = "FILE", default_value = ".ssoguard/dev-keys.json")]
    keys: PathBuf,
    /// Signing algorithm (Better Auth's choices).
    #[arg(long, default_value = "EdDSA", value_parser = ["EdDSA", "ES256", "ES512", "RS256", "PS256"])]
    alg: String,
}

#[derive(Debug, Args)]
struct MintArgs {
    /// The dev issuer's keys file.
    #[arg(long, value_name = "FILE", default_value = ".ssoguard/dev-keys.json")]
    keys: PathBuf,
    /// Sign with the file's first key of this algorithm (default: its first key).
    #[arg(long, value_name = "ALG", value_parser = parse_alg)]
    alg: Option<Algorithm>,
    /// `sub`: the user id.
    #[arg(long, value_name = "ID")]
    sub: String,
    /// `email`.
    #[arg(long)]
    email: Option<String>,
    /// `name`.
    #[arg(long)]
    name: Option<String>,
    /// `role` (Better Auth: comma-separated for several, e.g. user,admin).
    #[arg(long)]
    role: Option<String>,
    /// `aud` (repeatable; default dev-client).
    #[arg(long, value_name = "AUD")]
    aud: Vec<String>,
    /// Lifetime: 30s, 15m, 1h, 2d.
    #[arg(long, default_value = "1h", value_parser = dev::parse_ttl, allow_hyphen_values = true)]
    ttl: u64,
    /// An extra claim k=v (v as JSON if it parses, else a string); repeatable, applied last.
    #[arg(long, value_name = "K=V", value_parser = dev::parse_claim)]
    claim: Vec<(String, Value)>,
    /// `iss`, exactly as given.
    #[arg(long, value_name = "URL", default_value = dev::DEFAULT_ISSUER)]
    issuer: String,
}

fn parse_alg(name: &str) -> Result<Algorithm, String> {
    name.parse::<Algorithm>().map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(run(cli.command));
    ExitCode::from(code)
}

async fn run(command: Command) -> u8 {
    let (out, err, code) = match command {
        Command::Inspect(args) => inspect::run(args.token.as_deref()),
        Command::Verify(args) => {
            let opts = verify::VerifyOptions {
                token: args.token,
                issuer: args.issuer,
                audiences: args
                    .audience
                    .into_iter()
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty())
                    .collect(),
                jwks_url: args.jwks_url.filter(|u| !u.trim().is_empty()),
                algorithms: args.alg,
                dpop: args.dpop.map(|proof| verify::DpopOptions {
                    proof: proof.trim().to_string(),
                    method: args.method,
                    url: args.url.unwrap_or_default(),
                }),
            };
            verify::run(&opts, args.json).await
        }
        Command::Jwks(args) => {
            jwks_cmd::run(&args.issuer, args.jwks_url.as_deref(), &args.alg).await
        }
        Command::DevIssuer(args) => {
            let alg = parse_alg(&args.alg).unwrap_or(Algorithm::EdDSA);
            return dev::dev_issuer(&args.addr, &args.keys, alg).await;
        }
        Command::Mint(args) => dev::mint(&dev::MintOptions {
            keys: args.keys,
            alg: args.alg,
            sub: args.sub,
            email: args.email,
            name: args.name,
            role: args.role,
            aud: args.aud,
            ttl: args.ttl,
            claims: args.claim,
            issuer: args.issuer,
        }),
    };
    // Write errors (a closed pipe) are ignored: never panic on output.
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    let _ = std::io::stderr().lock().write_all(err.as_bytes());
    code
}
