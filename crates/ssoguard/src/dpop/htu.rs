//! The DPoP `htu` comparison: a URL without query and fragment, normalised per RFC 3986
//! §6.2.2 (case, percent-encoding, dot segments) and §6.2.3 (default port, empty path), as
//! RFC 9449 §4.3 asks.

use url::Url;

/// `url` reduced to `scheme://host[:port]/path`, normalised; `None` when it is not an absolute
/// `http`/`https` URL, has a fragment, or carries user information.
///
/// The `url` crate lower-cases scheme and host, drops the scheme's default port, removes dot
/// segments and turns an empty path into `/`; this function then decodes percent-encoded
/// unreserved characters and upper-cases the remaining percent-encodings. The query is dropped:
/// `htu` names the target URI without it.
pub(crate) fn normalize(url: &str) -> Option<String> {
    let parsed = Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.fragment().is_some()
        || !parsed.username().is_empty()
        || parsed.password().is_some()
    {
        return None;
    }
    let host = parsed.host_str()?;
    let mut out = String::with_capacity(url.len());
    out.push_str(parsed.scheme());
    out.push_str("://");
    out.push_str(host);
    if let Some(port) = parsed.port() {
        out.push(':');
        out.push_str(&port.to_string());
    }
    normalize_percent(parsed.path(), &mut out);
    Some(out)
}

/// RFC 3986 §6.2.2.1 and §6.2.2.2: `%7e` becomes `~`, `%2f` becomes `%2F`.
fn normalize_percent(path: &str, out: &mut String) {
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                let byte = u8::try_from(h * 16 + l).unwrap_or(0);
                if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                    out.push(byte as char);
                } else {
                    out.push('%');
                    out.push(bytes[i + 1].to_ascii_uppercase() as char);
                    out.push(bytes[i + 2].to_ascii_uppercase() as char);
                }
                i += 3;
                continue;
            }
        }
        out.push(bytes[i] as char);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn equivalent_urls_normalise_alike() {
        let want = Some("https://api.example.com/tasks/~me".to_string());
        for url in [
            "https://api.example.com/tasks/~me",
            "HTTPS://API.Example.COM/tasks/~me",
            "https://api.example.com:443/tasks/~me",
            "https://api.example.com/tasks/%7eme",
            "https://api.example.com/tasks/%7Eme",
            "https://api.example.com/x/../tasks/./~me",
            "https://api.example.com/tasks/~me?page=2",
        ] {
            assert_eq!(normalize(url), want, "{url}");
        }
        assert_eq!(
            normalize("http://localhost:80"),
            Some("http://localhost/".into())
        );
        assert_eq!(
            normalize("http://localhost:8000/a%2fb"),
            Some("http://localhost:8000/a%2Fb".into())
        );
        assert_eq!(
            normalize("http://127.0.0.1:8000/a%2Fb"),
            Some("http://127.0.0.1:8000/a%2Fb".into())
        );
    }

    #[test]
    fn different_or_unusable_urls_do_not() {
        let base = normalize("https://api.example.com/tasks");
        for other in [
            "http://api.example.com/tasks",
            "https://api.example.com:8443/tasks",
            "https://api.example.org/tasks",
            "https://api.example.com/Tasks",
            "https://api.example.com/tasks/",
        ] {
            assert_ne!(normalize(other), base, "{other}");
        }
        for bad in [
            "",
            "/tasks",
            "ftp://api.example.com/tasks",
            "https://api.example.com/tasks#frag",
            "https://user:pw@api.example.com/tasks",
            "not a url",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }
}
