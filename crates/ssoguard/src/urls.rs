//! Two URL forms every surface needs from one configured SSO URL: its origin, and Better Auth's
//! base URL (where `get-session`, the API-key and admin endpoints live).
//!
//! ```
//! use ssoguard::urls::{better_auth_base, origin_of};
//!
//! assert_eq!(origin_of("https://sso.example/api/auth?x#y"), "https://sso.example");
//! assert_eq!(origin_of("not a url"), "");
//! assert_eq!(better_auth_base("http://localhost:3001/"), "http://localhost:3001/api/auth");
//! assert_eq!(better_auth_base("https://sso.example/auth"), "https://sso.example/auth");
//! ```

/// The `scheme://host[:port]` of an absolute URL: everything before the first `/`, `?` or `#`
/// after the scheme; `""` when `url` has no `scheme://`.
#[must_use]
pub fn origin_of(url: &str) -> &str {
    let Some(scheme_end) = url.find("://") else {
        return "";
    };
    let rest = &url[scheme_end + 3..];
    let end = rest
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + 3 + i);
    &url[..end]
}

/// Better Auth's base URL from a configured authority (`AUTH_SERVER_URL`): kept when it has a
/// path (the issuer form `http://localhost:3001/api/auth`, or a custom `basePath`), else the
/// origin plus Better Auth's default base path `/api/auth`. A trailing `/` is dropped.
#[must_use]
pub fn better_auth_base(authority: &str) -> String {
    let url = authority.trim_end_matches('/');
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    if url[after_scheme..].contains('/') {
        url.to_owned()
    } else {
        format!("{url}/api/auth")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(origin_of("http://h:1/api/auth"), "http://h:1");
        assert_eq!(origin_of("http://h:1"), "http://h:1");
        assert_eq!(origin_of("https://h?q=1"), "https://h");
        assert_eq!(origin_of("https://h#f"), "https://h");
        assert_eq!(origin_of("h:1/x"), "");
    }

    #[test]
    fn better_auth_bases() {
        assert_eq!(
            better_auth_base("http://localhost:3001"),
            "http://localhost:3001/api/auth"
        );
        assert_eq!(
            better_auth_base("http://localhost:3001/"),
            "http://localhost:3001/api/auth"
        );
        assert_eq!(
            better_auth_base("https://sso.example.com/auth"),
            "https://sso.example.com/auth"
        );
        assert_eq!(
            better_auth_base("https://sso.example.com/auth/"),
            "https://sso.example.com/auth"
        );
    }
}
