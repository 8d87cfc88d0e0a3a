//! `ssoguard dev-issuer` and `ssoguard mint`: a local SSO for development, and offline tokens.

use crate::timefmt::now;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use ssoguard::Algorithm;
use ssoguard::dev::{DevIssuer, DevIssuerConfig, load_or_create_keys};
use ssoguard::dev::{SigningKey, StoredKey};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The dev issuer's default address, and the issuer `mint` puts in `iss` by default.
pub(crate) const DEFAULT_ISSUER: &str = "http://127.0.0.1:3001/api/auth";

const BANNER: &str = "\
################################################################################
#  ssoguard dev-issuer: FOR DEVELOPMENT ONLY                                   #
#  Anyone who can reach this port can mint valid tokens for the dev users.     #
#  Never expose it, and never point a production service at it.                #
################################################################################
";

/// Runs the dev issuer until Ctrl-C or SIGTERM. Exit 0 after a signal, 1 when it cannot start.
pub(crate) async fn dev_issuer(addr: &str, keys_path: &Path, alg: Algorithm) -> u8 {
    let keys = match load_or_create_keys(keys_path, alg) {
        Ok(keys) => keys,
        Err(e) => {
            eprintln!("error: keys file {}: {e}", keys_path.display());
            return 1;
        }
    };
    let signer = keys
        .first()
        .map(|k| format!("{} ({})", k.kid(), k.alg()))
        .unwrap_or_default();
    let mut config = DevIssuerConfig::with_keys(keys);
    config.addr = addr.to_string();
    let client_secret = config.client_secret.clone();
    let dev = match DevIssuer::start(config).await {
        Ok(dev) => dev,
        Err(e) => {
            eprintln!("error: cannot start the dev issuer on {addr}: {e}");
            return 1;
        }
    };
    eprint!("{BANNER}");
    let issuer = dev.issuer_url().to_string();
    let origin = dev.origin().to_string();
    let mut out = String::new();
    let users: Vec<String> = dev
        .users()
        .iter()
        .map(|u| format!("{} ({}, role {})", u.id, u.email, u.role))
        .collect();
    let keys = keys_path.display();
    let issuer_flag = if issuer == DEFAULT_ISSUER {
        String::new()
    } else {
        format!(" --issuer {issuer}")
    };
    let _ = write!(
        out,
        "issuer         {issuer}\n\
         discovery      {issuer}/.well-known/openid-configuration\n\
         jwks           {jwks}\n\
         signing key    {signer}, keys file {keys}\n\
         client id      {client_id}\n\
         client secret  {client_secret}\n\
         api key        {api_key}  (Authorization: Bearer on {issuer}/admin/get-user)\n\
         dev users      {users}\n\
         \n\
         get a token for alice:\n  \
         curl -s -X POST {issuer}/oauth2/token -d grant_type=urn:ssoguard:dev-user -d user=alice\n\
         client credentials:\n  \
         curl -s -u {client_id}:{client_secret} -X POST {issuer}/oauth2/token -d grant_type=client_credentials\n\
         service settings:\n  \
         AUTH_SERVER_URL={origin} SSO_ISSUER={issuer} SSO_CLIENT_ID={client_id} SSO_API_KEY={api_key}\n\
         check a token:\n  \
         ssoguard verify --issuer {origin} --audience {client_id} -   (token on stdin)\n\
         mint one offline:\n  \
         ssoguard mint --keys {keys} --sub alice{issuer_flag}\n\
         \n\
         serving until Ctrl-C / SIGTERM\n",
        jwks = dev.jwks_url(),
        client_id = dev.client_id(),
        api_key = dev.api_key(),
        users = users.join(", "),
    );
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    drop(stdout);
    shutdown_signal().await;
    drop(dev);
    eprintln!("dev issuer stopped");
    0
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// What `mint` puts in the token.
#[derive(Debug)]
pub(crate) struct MintOptions {
    /// The dev issuer's keys file.
    pub(crate) keys: PathBuf,
    /// Sign with the first key of this algorithm instead of the first key.
    pub(crate) alg: Option<Algorithm>,
    /// `sub`.
    pub(crate) sub: String,
    /// `email`.
    pub(crate) email: Option<String>,
    /// `name`.
    pub(crate) name: Option<String>,
    /// `role`.
    pub(crate) role: Option<String>,
    /// `aud` (one: a string; several: an array).
    pub(crate) aud: Vec<String>,
    /// Lifetime in seconds.
    pub(crate) ttl: u64,
    /// Extra claims, applied last (they override the others).
    pub(crate) claims: Vec<(String, Value)>,
    /// `iss`, exactly.
    pub(crate) issuer: String,
}

#[derive(Deserialize)]
struct KeysFile {
    keys: Vec<StoredKey>,
}

/// Mints a token: (stdout, stderr, exit code).
pub(crate) fn mint(opts: &MintOptions) -> (String, String, u8) {
    let key = match load_key(&opts.keys, opts.alg) {
        Ok(k) => k,
        Err(e) => return (String::new(), format!("error: {e}\n"), 2),
    };
    let now = now();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(opts.issuer));
    claims.insert("sub".into(), json!(opts.sub));
    let aud = match opts.aud.as_slice() {
        [] => json!("dev-client"),
        [one] => json!(one),
        many => json!(many),
    };
    claims.insert("aud".into(), aud);
    claims.insert("iat".into(), json!(now));
    let ttl = i64::try_from(opts.ttl).unwrap_or(i64::MAX);
    claims.insert("exp".into(), json!(now.saturating_add(ttl)));
    for (name, value) in [
        ("email", &opts.email),
        ("name", &opts.name),
        ("role", &opts.role),
    ] {
        if let Some(v) = value {
            claims.insert(name.into(), json!(v));
        }
    }
    for (name, value) in &opts.claims {
        claims.insert(name.clone(), value.clone());
    }
    let header = json!({ "alg": key.alg().as_str(), "kid": key.kid() });
    let token = key.sign_compact(&header, &Value::Object(claims));
    (format!("{token}\n"), String::new(), 0)
}

fn load_key(path: &Path, alg: Option<Algorithm>) -> Result<SigningKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "no keys file at {0}: run `ssoguard dev-issuer --keys {0}` once to create it",
                path.display()
            )
        } else {
            format!("cannot read {}: {}", path.display(), e.kind())
        }
    })?;
    let file: KeysFile = serde_json::from_str(&text)
        .map_err(|_| format!("{} is not a dev issuer keys file", path.display()))?;
    let stored = match alg {
        None => file.keys.first(),
        Some(alg) => file.keys.iter().find(|k| k.alg == alg.as_str()),
    }
    .ok_or_else(|| match alg {
        None => format!("{} holds no key", path.display()),
        Some(alg) => format!(
            "{} holds no {alg} key (run `ssoguard dev-issuer --alg {alg}` once to add one)",
            path.display()
        ),
    })?;
    SigningKey::from_stored(stored).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses `30s`, `15m`, `1h`, `2d` (or plain seconds) into seconds.
pub(crate) fn parse_ttl(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err("a ttl must be positive; to mint an expired token pass \
                    --claim exp=<unix time in the past>"
            .into());
    }
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let value: u64 = digits
        .parse()
        .map_err(|_| "expected a number and a unit: 30s, 15m, 1h, 2d".to_string())?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err("unknown unit: use s, m, h or d (30s, 15m, 1h, 2d)".into()),
    };
    match value.checked_mul(factor) {
        Some(0) => Err("a ttl must be positive".into()),
        Some(secs) if secs <= 10 * 365 * 86_400 => Ok(secs),
        _ => Err("a ttl must be at most ten years".into()),
    }
}

/// Parses `k=v`: `v` as JSON when it parses, else as a string.
pub(crate) fn parse_claim(text: &str) -> Result<(String, Value), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| "expected name=value".to_string())?;
    if name.is_empty() {
        return Err("the claim name is empty".into());
    }
    let value =
        serde_json::from_str::<Value>(value).unwrap_or_else(|_| Value::String(value.into()));
    Ok((name.to_string(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("30s"), Ok(30));
        assert_eq!(parse_ttl("15m"), Ok(900));
        assert_eq!(parse_ttl("1h"), Ok(3600));
        assert_eq!(parse_ttl("2d"), Ok(172_800));
        assert_eq!(parse_ttl("45"), Ok(45));
        assert!(parse_ttl("-5m").unwrap_err().contains("--claim exp="));
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("h").is_err());
        assert!(parse_ttl("99999999999999999999d").is_err());
    }

    #[test]
    fn claims() {
        assert_eq!(parse_claim("n=5"), Ok(("n".into(), json!(5))));
        assert_eq!(parse_claim("b=true"), Ok(("b".into(), json!(true))));
        assert_eq!(parse_claim("s=hello"), Ok(("s".into(), json!("hello"))));
        assert_eq!(parse_claim("a=[\"x\"]"), Ok(("a".into(), json!(["x"]))));
        assert_eq!(parse_claim("e="), Ok(("e".into(), json!(""))));
        assert_eq!(parse_claim("u=a=b"), Ok(("u".into(), json!("a=b"))));
        assert!(parse_claim("nope").is_err());
        assert!(parse_claim("=x").is_err());
    }
}
