//! Reading the token: from the argument or stdin, trimmed, with an optional `Bearer ` prefix.
//!
//! Error messages here never contain the input.

use std::io::{IsTerminal as _, Read as _};

/// Largest input read from stdin (a real token is a few KiB at most).
const MAX_INPUT: u64 = 1024 * 1024;

/// Reads the token from `arg` (`None` or `-`: stdin) and normalises it.
///
/// Strips surrounding whitespace and an optional `Authorization:` and `Bearer ` prefix, so a
/// header copied from a browser's network tab works as is.
pub(crate) fn read_token(arg: Option<&str>) -> Result<String, String> {
    let raw = match arg {
        Some(token) if token != "-" => token.to_string(),
        _ => read_stdin()?,
    };
    let token = normalise(&raw);
    if token.is_empty() {
        return Err("no token: pass it as an argument or on stdin (`-` or nothing)".into());
    }
    Ok(token.to_string())
}

/// Length of the token slices [`redact`] removes.
const SLICE: usize = 20;

/// Replaces every run of `output` that repeats 20 or more consecutive bytes of `token` with
/// `[redacted]`.
///
/// The commands never print the token; this is the safety net for values a crafted token could
/// make equal to part of itself (a `kid` copying the payload segment, say).
pub(crate) fn redact(output: &str, token: &str) -> String {
    let (out, tok) = (output.as_bytes(), token.as_bytes());
    if tok.len() < SLICE || out.len() < SLICE {
        return output.to_string();
    }
    let windows: std::collections::HashSet<&[u8]> = tok.windows(SLICE).collect();
    let mut hidden = vec![false; out.len()];
    let mut any = false;
    for (i, window) in out.windows(SLICE).enumerate() {
        if windows.contains(window) {
            hidden[i..i + SLICE].fill(true);
            any = true;
        }
    }
    if !any {
        return output.to_string();
    }
    let mut result = Vec::with_capacity(out.len());
    let mut i = 0;
    while i < out.len() {
        if hidden[i] {
            result.extend_from_slice(b"[redacted]");
            while i < out.len() && hidden[i] {
                i += 1;
            }
        } else {
            result.push(out[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&result).into_owned()
}

fn read_stdin() -> Result<String, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("reading the token from stdin (paste it, then Ctrl-D)…");
    }
    let mut bytes = Vec::new();
    stdin
        .lock()
        .take(MAX_INPUT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read stdin: {}", e.kind()))?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err("not a token: the input is larger than 1 MiB".into());
    }
    String::from_utf8(bytes).map_err(|_| "not a token: the input is not UTF-8 text".into())
}

fn normalise(raw: &str) -> &str {
    let mut token = raw.trim();
    if let Some(rest) = strip_prefix_ignore_case(token, "authorization:") {
        token = rest.trim_start();
    }
    if let Some(rest) = strip_prefix_ignore_case(token, "bearer ") {
        token = rest.trim_start();
    }
    token
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_whitespace_are_stripped() {
        assert_eq!(normalise("  abc.def.ghi \n"), "abc.def.ghi");
        assert_eq!(normalise("Bearer abc"), "abc");
        assert_eq!(normalise("bearer   abc"), "abc");
        assert_eq!(normalise("Authorization: Bearer abc\r\n"), "abc");
        assert_eq!(normalise("Bearer"), "Bearer");
        assert_eq!(normalise("é"), "é");
        assert!(read_token(Some("  ")).unwrap_err().contains("no token"));
    }

    #[test]
    fn redaction_removes_every_long_slice() {
        let token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz";
        let leaked = format!("kid {} and {}", &token[3..30], &token[40..62]);
        let clean = redact(&leaked, token);
        assert_eq!(clean, "kid [redacted] and [redacted]");
        assert_eq!(redact("nothing here", token), "nothing here");
        assert_eq!(redact(&token[..19], token), &token[..19]);
    }
}
