//! `[[issuer]] kind = "better-auth-api-key"`: Better Auth API keys (the `@better-auth/api-key`
//! plugin) as a credential, checked by ssoguard's [`ApiKeyVerifier`] in remote mode: a cached
//! `GET <authority>/get-session` with the key in its header (a bare origin gets `/api/auth`),
//! which needs the plugin's `enableSessionForAPIKeys: true`.
//!
//! ```toml
//! [[issuer]]
//! name = "keys"
//! kind = "better-auth-api-key"
//! authority = "https://auth.example.com"   # Better Auth's origin, or <origin><basePath>
//! header = "x-api-key"                     # the plugin's apiKeyHeaders (default)
//! cache_ttl_secs = 30                      # the revocation lag (default 30)
//! ```
//!
//! The key header is read only when the request has no `Authorization` header; the identity
//! headers name the key's owner (`sub` = the user id). A rule's `issuers = ["keys"]` admits API
//! keys only. Keys checked this way carry no permissions (Better Auth's get-session does not
//! tell them), so a rule with `scopes` refuses them. The key header is never forwarded upstream.
//! At least one token `[[issuer]]` is still needed beside it.

use ssoguard::api_key::ApiKeyVerifier;
use std::time::Duration;

/// The `kind` of an API-key issuer.
pub const KIND: &str = "better-auth-api-key";

/// The settings of a `better-auth-api-key` issuer (its `authority` is the issuer's).
#[derive(Debug, Clone)]
pub struct ApiKeyIssuer {
    /// The request header carrying keys (lower case). Default `x-api-key`.
    pub header: String,
    /// Longest an accepted key's answer is reused. Default 30 s.
    pub cache_ttl: Duration,
}

/// The verifier of the API-key issuer `name` reached at `authority` (remote mode; refusals
/// cached up to 5 s). With `[shared]`, accepted keys are shared with the other instances.
pub(crate) fn verifier(
    name: &str,
    authority: &str,
    keys: &ApiKeyIssuer,
    shared: Option<&ssoguard::shared::SharedRedis>,
) -> Result<ApiKeyVerifier, String> {
    let mut builder = ApiKeyVerifier::builder()
        .remote(ssoguard::urls::better_auth_base(authority))
        .header(&keys.header)
        .cache_ttl(keys.cache_ttl)
        .negative_ttl(keys.cache_ttl.min(Duration::from_secs(5)));
    if let Some(redis) = shared {
        builder = builder.shared(redis);
    }
    builder.build().map_err(|e| format!("issuer {name:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const TOKENS: &str = r#"
[[issuer]]
name = "main"
issuer = "http://127.0.0.1:3001/api/auth"
audiences = ["rust-backend"]
"#;

    fn parse(keys: &str) -> Result<Config, String> {
        let text = format!("{TOKENS}\n{keys}\n[[route]]\npath = \"/\"\nissuers = [\"keys\"]\n");
        Config::from_toml(&text, "gw.toml", &|_: &str| None).map_err(|e| e.0)
    }

    #[test]
    fn defaults_and_settings() {
        let c = parse("[[issuer]]\nname = \"keys\"\nkind = \"better-auth-api-key\"\nauthority = \"http://127.0.0.1:3001\"\n")
            .expect("valid");
        let keys = c.issuers[1].api_key.as_ref().expect("an API-key issuer");
        assert_eq!(keys.header, "x-api-key");
        assert_eq!(keys.cache_ttl.as_secs(), 30);
        let c = parse("[[issuer]]\nname = \"keys\"\nkind = \"better-auth-api-key\"\nauthority = \"http://127.0.0.1:3001\"\nheader = \"X-Service-Key\"\ncache_ttl_secs = 2\n")
            .expect("valid");
        let keys = c.issuers[1].api_key.as_ref().expect("an API-key issuer");
        assert_eq!(
            (keys.header.as_str(), keys.cache_ttl.as_secs()),
            ("x-service-key", 2)
        );
    }

    #[test]
    fn bad_tables_name_the_line() {
        let head = "[[issuer]]\nname = \"keys\"\nkind = \"better-auth-api-key\"\n";
        let cases = [
            (head.to_owned(), "line 8", "needs `authority`"),
            (
                format!("{head}authority = \"http://127.0.0.1:3001\"\naudiences = [\"x\"]\n"),
                "line 9",
                "takes authority, header and cache_ttl_secs only",
            ),
            (
                format!("{head}authority = \"http://127.0.0.1:3001\"\nheader = \"a b\"\n"),
                "line 11",
                "not a header name",
            ),
            (
                format!("{head}authority = \"http://127.0.0.1:3001\"\ncache_ttl_secs = 0\n"),
                "line 8",
                "must not be 0",
            ),
            (
                format!("{head}authority = \"http://sso.example.com\"\n"),
                "line 8",
                "plain http",
            ),
            (
                format!(
                    "{head}authority = \"http://127.0.0.1:3001\"\n[[issuer]]\nname = \"more\"\nkind = \"better-auth-api-key\"\nauthority = \"http://127.0.0.1:3001\"\n"
                ),
                "line 13",
                "only one",
            ),
        ];
        for (text, line, message) in cases {
            let err = parse(&text).expect_err(message);
            assert!(err.starts_with(&format!("gw.toml {line}: ")), "{err}");
            assert!(err.to_lowercase().contains(message), "{err}");
        }
    }
}
