//! `ssoguard jwks`: the discovery document and the key table.

use crate::net::{self, Jwks, MAX_KEYS, alg_list};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use ssoguard::Algorithm;
use ssoguard::ParsedKeySet;
use ssoguard::ProviderMetadata;
use std::collections::HashSet;
use std::fmt::Write as _;

/// Runs `jwks`: (stdout, stderr, exit code). 0: at least one usable key; 2: bad arguments;
/// 3: discovery or the JWKS could not be obtained, or no key is usable.
pub(crate) async fn run(
    issuer: &str,
    jwks_url: Option<&str>,
    algorithms: &[Algorithm],
) -> (String, String, u8) {
    for (setting, url) in [("--issuer", Some(issuer)), ("--jwks-url", jwks_url)] {
        if let Some(url) = url {
            if let Err(e) = net::check_url(setting, url) {
                return (String::new(), format!("error: {e}\n"), 2);
            }
        }
    }
    let allowed: Vec<Algorithm> = if algorithms.is_empty() {
        Algorithm::ALL.to_vec()
    } else {
        algorithms.to_vec()
    };
    let given = issuer.strip_suffix('/').unwrap_or(issuer);
    let mut out = String::new();
    let meta = match ProviderMetadata::fetch(given, None).await {
        Ok(meta) => meta,
        Err(e) => {
            return (
                out,
                format!(
                    "error: discovery failed: {e}\nhint: pass the SSO's origin or its issuer \
                     (Better Auth: <origin>/api/auth)\n"
                ),
                3,
            );
        }
    };
    let found_at = ProviderMetadata::candidate_locations(given)
        .into_iter()
        .find(|(_, implied)| *implied == meta.issuer)
        .map_or_else(
            || format!("{}/.well-known/openid-configuration", meta.issuer),
            |(url, _)| url,
        );
    let mut rows: Vec<(&str, String)> = vec![
        ("discovery", found_at),
        ("issuer", meta.issuer.clone()),
        ("jwks_uri", meta.jwks_uri.clone()),
    ];
    let extra = |name: &str| {
        meta.extra
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    for (name, value) in [
        ("authorization_endpoint", extra("authorization_endpoint")),
        ("token_endpoint", meta.token_endpoint.clone()),
        ("userinfo_endpoint", meta.userinfo_endpoint.clone()),
        (
            "introspection_endpoint",
            meta.introspection_endpoint.clone(),
        ),
        ("revocation_endpoint", extra("revocation_endpoint")),
        ("end_session_endpoint", extra("end_session_endpoint")),
    ] {
        if let Some(v) = value {
            rows.push((name, v));
        }
    }
    let algs = if meta.id_token_signing_alg_values_supported.is_empty() {
        "(not advertised)".to_string()
    } else {
        meta.id_token_signing_alg_values_supported.join(", ")
    };
    rows.push(("signing algs", algs));
    if let Some(grants) = meta
        .extra
        .get("grant_types_supported")
        .and_then(Value::as_array)
    {
        let grants: Vec<&str> = grants.iter().filter_map(Value::as_str).collect();
        rows.push(("grant types", grants.join(", ")));
    }
    for (name, value) in rows {
        let _ = writeln!(out, "{name:<23}{value}");
    }

    let url = jwks_url.map_or_else(|| meta.jwks_uri.clone(), str::to_owned);
    let bytes = match ssoguard::fetch_document(&url).await {
        Ok(b) => b,
        Err(e) => return (out, format!("error: JWKS {e}\n"), 3),
    };
    let jwks = Jwks::parse(&bytes, &allowed);
    let _ = writeln!(out);
    if let Err(e) = &jwks.all {
        if jwks.raw.is_empty() {
            return (out, format!("error: JWKS {url}: {e}\n"), 3);
        }
    }
    let table = key_table(&jwks, &allowed);
    let usable = table.iter().filter(|r| r.reason.is_none()).count();
    let skipped = table.len() - usable;
    let restricted = if algorithms.is_empty() {
        String::new()
    } else {
        format!(" with {}", alg_list(&allowed))
    };
    let _ = writeln!(
        out,
        "JWKS {url}: {usable} usable key{}{restricted}, {skipped} skipped",
        if usable == 1 { "" } else { "s" }
    );
    let header = ["KID", "KTY", "CRV/BITS", "ALG", "USE", "STATUS"];
    let cells: Vec<[String; 6]> = table
        .iter()
        .map(|r| {
            [
                r.kid.clone(),
                r.kty.clone(),
                r.size.clone(),
                r.alg.clone(),
                r.use_.clone(),
                if r.reason.is_some() {
                    "skipped".into()
                } else {
                    format!("ok: verifies {}", r.verifies)
                },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cols: &[String]| {
        let mut l = String::new();
        for (i, (cell, w)) in cols.iter().zip(widths).enumerate() {
            if i + 1 == cols.len() {
                let _ = write!(l, "  {cell}");
            } else {
                let _ = write!(l, "  {cell:<w$}");
            }
        }
        l
    };
    let _ = writeln!(out, "{}", line(&header.map(String::from)));
    for row in &cells {
        let _ = writeln!(out, "{}", line(row));
    }
    if skipped > 0 {
        let _ = writeln!(out, "\nskipped keys:");
        for r in table.iter().filter(|r| r.reason.is_some()) {
            let _ = writeln!(
                out,
                "  {}: {}",
                r.kid,
                r.reason.as_deref().unwrap_or_default()
            );
        }
    }
    let code = if usable > 0 { 0 } else { 3 };
    let err = if usable > 0 {
        String::new()
    } else {
        format!("error: no usable signing key{restricted}\n")
    };
    (out, err, code)
}

struct Row {
    kid: String,
    kty: String,
    size: String,
    alg: String,
    use_: String,
    verifies: String,
    reason: Option<String>,
}

/// One row per key of the document, in order, with why a key is skipped.
///
/// `parse_jwks` reports skipped keys in document order; each key is also parsed alone to tell
/// which rows they are (a key that parses alone but is skipped in the set is a duplicate kid).
fn key_table(jwks: &Jwks, allowed: &[Algorithm]) -> Vec<Row> {
    let mut skipped = jwks.skipped.clone().into_iter();
    let mut seen_kids = HashSet::new();
    let mut rows = Vec::new();
    for raw in jwks.raw.iter().take(MAX_KEYS) {
        let text = |name: &str| -> String {
            match raw.get(name) {
                None | Some(Value::Null) => "-".into(),
                Some(Value::String(s)) => s.chars().take(64).collect(),
                Some(_) => "?".into(),
            }
        };
        let kid = match raw.get("kid").and_then(Value::as_str) {
            Some(k) => k.chars().take(64).collect(),
            None => "(no kid)".to_string(),
        };
        let kty = text("kty");
        let size = match kty.as_str() {
            "RSA" => raw
                .get("n")
                .and_then(Value::as_str)
                .and_then(|n| URL_SAFE_NO_PAD.decode(n).ok())
                .map_or_else(
                    || "?".into(),
                    |n| {
                        let zeros = n.iter().take_while(|b| **b == 0).count();
                        format!("{} bits", (n.len() - zeros) * 8)
                    },
                ),
            _ => text("crv"),
        };
        let alone =
            ParsedKeySet::parse(json!({ "keys": [raw] }).to_string().as_bytes(), allowed, 1);
        let kid_value = raw.get("kid").and_then(Value::as_str).map(str::to_owned);
        let duplicate = kid_value.as_ref().is_some_and(|k| seen_kids.contains(k));
        let (verifies, reason) = match alone {
            Ok(set) if !duplicate => {
                if let Some(k) = kid_value.clone() {
                    seen_kids.insert(k);
                }
                let algs: Vec<Algorithm> = set
                    .keys
                    .first()
                    .map(|k| k.algorithms().collect())
                    .unwrap_or_default();
                (alg_list(&algs), None)
            }
            _ => {
                let reason = skipped
                    .next()
                    .map_or_else(|| "not usable".to_string(), |s| s.reason);
                (String::new(), Some(reason))
            }
        };
        rows.push(Row {
            kid,
            kty,
            size,
            alg: text("alg"),
            use_: text("use"),
            verifies,
            reason,
        });
    }
    rows
}
