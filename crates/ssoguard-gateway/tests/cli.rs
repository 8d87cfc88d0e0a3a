//! The binary's `--check-config`, its exit codes, and the README showing the tested configs.

use std::process::Command;

fn gateway(config: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ssoguard-gateway"))
        .arg("--check-config")
        .env("GATEWAY_CONFIG", config)
        .env_remove("UPSTREAM_URL")
        .output()
        .expect("run the gateway")
}

fn deploy(name: &str) -> String {
    format!("{}/deploy/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn check_config_accepts_the_readme_config() {
    let out = gateway(&deploy("gateway.toml"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "configuration OK: 2 issuer(s), 4 route(s), forward-auth only"
    );
}

#[test]
fn check_config_refuses_with_the_line() {
    let dir = std::env::temp_dir().join(format!("ssoguard-gw-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let good = std::fs::read_to_string(deploy("gateway.toml")).expect("config");
    let cases = [
        (
            good.replace("issuers = [\"production\"]", "issuers = [\"prod\"]"),
            "line 31: route names unknown issuer \"prod\"",
        ),
        (
            good.replace("\"X-Auth-Request-Org\"", "\"Connection\""),
            "line 22: [headers] \"Connection\" is a hop-by-hop",
        ),
        (
            good.replace("127.0.0.1:3002", "127.0.0.1:3001"),
            "line 17: issuer \"http://127.0.0.1:3001/api/auth\" overlaps",
        ),
        (
            good.replace("cookie = ", "cookies = "),
            "line 13: unknown field `cookies`",
        ),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let path = dir.join(format!("bad-{i}.toml"));
        std::fs::write(&path, text).expect("write");
        let out = gateway(path.to_str().expect("utf-8 path"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("bad-{i}.toml {expected}")),
            "{expected}\n{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    let out = gateway("/nonexistent/gateway.toml");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn readme_links_every_config_the_tests_run() {
    // The README links the shipped files instead of copying them, so it cannot drift from what
    // the tests run; each must be linked, and must exist.
    let readme = std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR")))
        .expect("the gateway's README");
    for name in ["gateway.toml", "nginx.conf", "Caddyfile", "traefik.yml"] {
        assert!(
            std::path::Path::new(&deploy(name)).exists(),
            "deploy/{name}"
        );
        assert!(
            readme.contains(&format!("(deploy/{name})")),
            "crates/ssoguard-gateway/README.md does not link deploy/{name}"
        );
    }
}
