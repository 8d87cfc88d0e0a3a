//! The configuration's tests: files with and without errors, the environment alone.

use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse(text: &str) -> Result<Config, String> {
    Config::from_toml(text, "gw.toml", &no_env).map_err(|e| e.0)
}

const BASE: &str = r#"
[[issuer]]
name = "main"
issuer = "http://127.0.0.1:3001/api/auth"
audiences = ["rust-backend"]

[[route]]
path = "/"
"#;

#[test]
fn minimal_file() {
    let c = parse(BASE).expect("valid");
    assert_eq!(c.listen.to_string(), "127.0.0.1:4180");
    assert_eq!(c.headers.len(), 4);
    assert!(c.upstream.is_none());
}

#[test]
fn bad_files_name_the_line() {
    let cases = [
        (
            format!("{BASE}\nbogus = 1\n"),
            "line 10",
            "unknown field `bogus`",
        ),
        (
            format!(
                "{BASE}\n[[issuer]]\nname = \"two\"\nissuer = \"http://127.0.0.1:3001/api/auth\"\naudiences = [\"x\"]\n"
            ),
            "line 12",
            "overlaps",
        ),
        (
            format!("{BASE}issuers = [\"nope\"]\n"),
            "line 9",
            "unknown issuer \"nope\"",
        ),
        (
            format!("{BASE}\n[headers]\n\"Transfer-Encoding\" = \"sub\"\n"),
            "line 11",
            "hop-by-hop",
        ),
        (
            format!("{BASE}\n[headers]\n\"Connection\" = \"sub\"\n"),
            "line 11",
            "hop-by-hop",
        ),
        (
            format!("{BASE}methods = [\"G T\"]\n"),
            "line 9",
            "not an HTTP method",
        ),
        (
            format!("{BASE}public = true\nroles_any = [\"a\"]\n"),
            "line 9",
            "public route",
        ),
        (
            format!("{BASE}public = true\nauthenticated = true\n"),
            "line 10",
            "not both",
        ),
        (
            format!("{BASE}authenticated = false\n"),
            "line 9",
            "neither to false",
        ),
        (
            format!(
                "{BASE}\n[[issuer]]\nname = \"main\"\nissuer = \"http://x/api/auth\"\naudiences = [\"x\"]\n"
            ),
            "line 11",
            "used twice",
        ),
    ];
    for (text, line, message) in cases {
        let err = parse(&text).expect_err(message);
        assert!(err.starts_with(&format!("gw.toml {line}: ")), "{err}");
        assert!(err.contains(message), "{err}");
    }
    assert!(
        parse("[[issuer]]\nname=\"a\"\nissuer=\"http://a\"\naudiences=[\"x\"]\n")
            .expect_err("no routes")
            .contains("default deny")
    );
}

#[test]
fn front_limits_urls_and_listeners() {
    let c = parse(BASE).expect("valid");
    assert_eq!(c.front, Front::Nginx);
    assert_eq!(c.limits, crate::Limits::default());
    assert!(c.public_url.is_none() && c.trusted_proxies.is_empty());
    assert!(c.metrics_listen.is_none() && !c.forward_credential_cookie);
    let c = parse(&format!(
        "front = \"Caddy\"\nheader_read_timeout_secs = 3\nmax_connections = 7\n\
         public_url = \"https://api.example/\"\ntrusted_proxies = [\"10.0.0.1\", \"::1\"]\n\
         metrics_listen = \"127.0.0.1:9464\"\nforward_credential_cookie = true\n{BASE}"
    ))
    .expect("valid");
    assert_eq!(c.front, Front::Caddy);
    assert_eq!(c.limits.header_read_timeout, Duration::from_secs(3));
    assert_eq!(c.limits.max_connections, 7);
    assert_eq!(c.public_url.as_deref(), Some("https://api.example"));
    assert_eq!(c.trusted_proxies.len(), 2);
    assert_eq!(c.metrics_listen.map(|a| a.port()), Some(9464));
    assert!(c.forward_credential_cookie);
    for (top, message) in [
        (
            "front = \"envoy\"",
            "not one of nginx, caddy, traefik, generic",
        ),
        ("header_read_timeout_secs = 0", "at least 1"),
        ("max_connections = 0", "at least 1"),
        ("public_url = \"https://api.example/app\"", "without a path"),
        ("public_url = \"ftp://x\"", "not an http"),
        ("trusted_proxies = [\"10.0.0.0/8\"]", "not an IP address"),
        ("metrics_listen = \"nope\"", "metrics_listen"),
    ] {
        let err = parse(&format!("{top}\n{BASE}")).expect_err(message);
        assert!(err.starts_with("gw.toml line 1: "), "{err}");
        assert!(err.contains(message), "{err}");
    }
    // The environment wins over the file.
    let env = |k: &str| match k {
        "GATEWAY_FRONT" => Some("traefik".to_string()),
        "TRUSTED_PROXIES" => Some("127.0.0.1, ::1".to_string()),
        "PUBLIC_URL" => Some("http://gw.example:8080".to_string()),
        _ => None,
    };
    let c =
        Config::from_toml(&format!("front = \"nginx\"\n{BASE}"), "gw.toml", &env).expect("valid");
    assert_eq!(c.front, Front::Traefik);
    assert_eq!(c.trusted_proxies.len(), 2);
    assert_eq!(c.public_url.as_deref(), Some("http://gw.example:8080"));
    let bad = |k: &str| (k == "GATEWAY_FRONT").then(|| "apache".to_string());
    assert!(Config::from_toml(BASE, "gw.toml", &bad).is_err());
}

#[test]
fn authenticated_is_the_explicit_default() {
    let c = parse(&format!("{BASE}authenticated = true\n")).expect("valid");
    assert!(!c.routes[0].public);
    let implicit = parse(BASE).expect("valid");
    assert_eq!(c.routes[0].public, implicit.routes[0].public);
}

#[test]
fn headers_map_claims_and_override_defaults() {
    let c = parse(&format!(
        "{BASE}\n[headers]\n\"X-Org-Role\" = \"org.role\"\n\"X-Auth-Request-Email\" = \"mail\"\n"
    ))
    .expect("valid");
    assert!(
        c.headers
            .contains(&("x-org-role".into(), "org.role".into()))
    );
    assert!(
        c.headers
            .contains(&("x-auth-request-email".into(), "mail".into()))
    );
    assert_eq!(c.headers.len(), 5);
}

#[test]
fn environment_alone() {
    let env = |k: &str| match k {
        "SSO_CLIENT_ID" => Some("rust-backend".to_string()),
        "UPSTREAM_URL" => Some("http://127.0.0.1:9000".to_string()),
        "PORT" => Some("0".to_string()),
        "AUTH_COOKIE_NAME" => Some("tok".to_string()),
        _ => None,
    };
    let c = Config::load(env).expect("valid");
    assert_eq!(c.listen.to_string(), "127.0.0.1:0");
    assert_eq!(c.upstream.as_deref(), Some("http://127.0.0.1:9000"));
    assert_eq!(c.issuers[0].cookie.as_deref(), Some("tok"));
    assert_eq!(c.routes.len(), 1);
    assert!(!c.routes[0].public);
    let err = Config::load(no_env).expect_err("no client id");
    assert!(err.0.contains("SSO_CLIENT_ID"));
    let bad = |k: &str| match k {
        "SSO_CLIENT_ID" => Some("x".to_string()),
        "UPSTREAM_URL" => Some("https://a/b".to_string()),
        _ => None,
    };
    assert!(
        Config::load(bad)
            .expect_err("https")
            .0
            .contains("UPSTREAM_URL")
    );
}

/// `[shared]` and `SSOGUARD_REDIS_URL`: at most one of them names the Redis.
mod shared {
    use crate::config::env::shared_from_env;
    use crate::config::file::{FileShared, shared_from_file};
    use crate::shared::REDIS_URL_VAR;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_string())
        }
    }

    fn file(url: &str) -> FileShared {
        FileShared {
            redis_url: Some(url.to_string()),
        }
    }

    #[test]
    fn unset_means_in_process() {
        assert!(shared_from_file(None, &env(&[])).expect("ok").is_none());
        assert!(shared_from_env(&env(&[])).expect("ok").is_none());
    }

    #[test]
    fn either_route_works_alone() {
        let f = file("redis://127.0.0.1:6379");
        assert!(
            shared_from_file(Some(&f), &env(&[]))
                .expect("file")
                .is_some()
        );
        let e = env(&[(REDIS_URL_VAR, "rediss://cache.internal:6380/2")]);
        assert!(shared_from_file(None, &e).expect("env").is_some());
        assert!(shared_from_env(&e).expect("env").is_some());
    }

    #[test]
    fn both_routes_at_once_are_refused() {
        let f = file("redis://127.0.0.1:6379");
        let e = env(&[(REDIS_URL_VAR, "redis://127.0.0.1:6379")]);
        let err = shared_from_file(Some(&f), &e).expect_err("both");
        assert!(err.0.contains("both set"), "{err}");
    }

    #[test]
    fn a_bad_url_is_named_by_its_source_never_echoed() {
        let secret = "http://user:hunter2@cache:6379";
        let f = FileShared {
            redis_url: Some(secret.to_string()),
        };
        let err = shared_from_file(Some(&f), &env(&[])).expect_err("not redis");
        assert!(err.0.contains("[shared] redis_url"), "{err}");
        assert!(!err.0.contains("hunter2"), "{err}");
        let e = env(&[(REDIS_URL_VAR, "postgres://user:hunter2@db/x")]);
        let err = shared_from_env(&e).expect_err("not redis");
        assert!(
            err.0.contains(REDIS_URL_VAR) && !err.0.contains("hunter2"),
            "{err}"
        );
    }
}

#[test]
fn dpop_required_from_the_file_or_the_environment() {
    assert!(!parse(BASE).expect("valid").dpop_required);
    let c = parse(&format!("dpop_required = true\n{BASE}")).expect("valid");
    assert!(c.dpop_required);
    let err = parse(&format!("dpop_required = \"yes\"\n{BASE}")).expect_err("not a bool");
    assert!(err.contains("line 1"), "{err}");
    let env = |value: &'static str| {
        move |k: &str| match k {
            "SSO_CLIENT_ID" => Some("rust-backend".to_string()),
            "DPOP_REQUIRED" => Some(value.to_string()),
            _ => None,
        }
    };
    assert!(Config::load(env("1")).expect("valid").dpop_required);
    assert!(!Config::load(env("0")).expect("valid").dpop_required);
    let err = Config::load(env("yes")).expect_err("not a switch");
    assert!(err.0.contains("DPOP_REQUIRED"), "{err}");
}
