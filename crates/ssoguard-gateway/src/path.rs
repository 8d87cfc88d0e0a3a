//! Path and method forms no backend reads differently.
//!
//! Two layers. [`canonical`] refuses what has no single reading (dot segments, encoded `/`,
//! `;` parameters, `#`, control characters, bad UTF-8 including overlong encodings). Then
//! [`loose`] gives the path as the most lenient common backend would read it: case folded
//! (IIS, Windows and macOS file systems, case-insensitive routers), trailing dots and spaces of
//! each segment dropped (IIS and Windows: `admin.` and `admin%20` are `admin`). The rules are
//! matched against both; when the two readings reach different rules the request is refused
//! (`crate::rules::Rules::find`), so neither reading can walk around the other's rule, and a
//! path whose readings agree (the usual case: `/api/Tasks/ABC` under `/api`) is served as sent.
//!
//! Methods: a method with a lower-case letter is refused ([`canonical_method`]): `delete` is
//! `DELETE` to Django and Flask but matches no `DELETE` rule.

/// The path rules are matched against: percent-escapes decoded; `None` (refused) when it holds
/// a dot segment, an empty segment, an encoded `/`, `\` or `%`, a control character, a `;`
/// (path parameters: Tomcat, Jetty and Spring drop `;jsessionid=1` and read `/..;/` as `/../`),
/// a `#` (a fragment has no place in a request target: nginx forwards `/public/x#/../admin`
/// raw), or is not a UTF-8 absolute path. A backend that normalises paths differently can then
/// never be reached through a rule meant for another path (`/public/../admin`, `/%61dmin`).
pub(crate) fn canonical(raw: &str) -> Option<String> {
    if !raw.starts_with('/') {
        return None;
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            let decoded = u8::from_str_radix(hex, 16).ok()?;
            if decoded == b'/' || decoded == b'\\' || decoded == b'%' {
                return None;
            }
            out.push(decoded);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    let path = String::from_utf8(out).ok()?;
    if path
        .chars()
        .any(|c| c.is_control() || matches!(c, '\\' | ';' | '#'))
    {
        return None;
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    let last = segments.len() - 1;
    for (n, segment) in segments.iter().enumerate() {
        if *segment == "." || *segment == ".." || (segment.is_empty() && n != last) {
            return None;
        }
    }
    Some(path)
}

/// The path as the most lenient common backend reads it: lower case, trailing dots and spaces
/// of every segment dropped.
pub(crate) fn loose(path: &str) -> String {
    path.split('/')
        .map(|segment| segment.trim_end_matches(['.', ' ']).to_lowercase())
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether [`loose`] could change `path` (an upper-case or non-ASCII letter, or a segment
/// ending in a dot or a space); false means `loose(path) == path`.
pub(crate) fn has_loose_forms(path: &str) -> bool {
    path.bytes()
        .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
        || path.split('/').any(|segment| segment.ends_with(['.', ' ']))
}

/// The method, when it is spelled canonically (no lower-case letter).
pub(crate) fn canonical_method(method: &str) -> Option<&str> {
    (!method.is_empty() && !method.bytes().any(|b| b.is_ascii_lowercase())).then_some(method)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths() {
        assert_eq!(canonical("/").as_deref(), Some("/"));
        assert_eq!(canonical("/api/tasks/").as_deref(), Some("/api/tasks/"));
        assert_eq!(canonical("/api/%61dmin").as_deref(), Some("/api/admin"));
        assert_eq!(canonical("/caf%C3%A9").as_deref(), Some("/café"));
        for bad in [
            "api",
            "/api/public/../admin",
            "/api/./x",
            "/api/%2e%2e/admin",
            "/api//admin",
            "/api%2fadmin",
            "/api%5cadmin",
            "/a%",
            "/a%zz",
            "/a%00b",
            "/a%0d%0ab",
            "/%ff",
            "/a%2525",
            "/public/..;/admin/x",
            "/api/admin;jsessionid=1/users",
            "/api/admin%3bx/users",
            "/api/admin%3Bx/users",
            "/public/x#/../../admin/x",
            "/public/x%23/../admin",
            "/api/admin%09/users",
            "/api/admin%00/users",
            "/api/admin%5c..%5cx",
            "/api/%c0%afadmin",
            "/api/%e0%80%afadmin",
        ] {
            assert_eq!(canonical(bad), None, "{bad}");
        }
    }

    #[test]
    fn loose_forms() {
        assert_eq!(loose("/api/ADMIN/users"), "/api/admin/users");
        assert_eq!(loose("/api/admin./users"), "/api/admin/users");
        assert_eq!(loose("/api/admin /users"), "/api/admin/users");
        assert_eq!(loose("/api/admin. . /users/"), "/api/admin/users/");
        assert_eq!(loose("/api/tasks"), "/api/tasks");
        for path in ["/api/tasks", "/a/b.c/d", "/", "/api/x-y_z/1"] {
            assert!(!has_loose_forms(path), "{path}");
            assert_eq!(loose(path), path);
        }
        for path in [
            "/api/ADMIN",
            "/api/admin./x",
            "/api/admin /x",
            "/caf\u{c9}",
            "/x.",
        ] {
            assert!(has_loose_forms(path), "{path}");
        }
    }

    #[test]
    fn methods() {
        assert_eq!(canonical_method("DELETE"), Some("DELETE"));
        assert_eq!(canonical_method("PROPFIND"), Some("PROPFIND"));
        for bad in ["delete", "Delete", "gEt", ""] {
            assert_eq!(canonical_method(bad), None, "{bad}");
        }
    }
}
