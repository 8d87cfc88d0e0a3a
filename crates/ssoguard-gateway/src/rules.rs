//! Ordered `[[route]]` rules: the first rule whose path and method match decides; a request that
//! matches none is refused (default deny), so a forgotten path never leaks.
//!
//! A plain path is a prefix matched on `/` boundaries (`/api` matches `/api` and `/api/x`, not
//! `/apix`); a path with `*`, `?` or `[` is a glob where `*` stays within one segment and `**`
//! crosses segments. Matching sees the path only, never the query.

use crate::config::RouteConfig;
use globset::{GlobBuilder, GlobMatcher};
use ssoguard::TokenClaims;

/// What a rule asks of a request.
#[derive(Debug)]
pub(crate) struct Rule {
    path: PathMatch,
    /// The same path, matched against [`crate::path::loose`] forms.
    loose: PathMatch,
    methods: Vec<String>,
    pub(crate) public: bool,
    roles_any: Vec<String>,
    roles_all: Vec<String>,
    scopes: Vec<String>,
    /// Indexes into the issuer list; empty = any.
    issuers: Vec<usize>,
    /// What the rule asks of the token's organization, if anything.
    organization: Option<OrganizationRule>,
}

/// A rule's organization requirements, checked by the gate on the caller's
/// [`Member`](ssoguard::organization::Member)ship.
#[derive(Debug)]
pub(crate) struct OrganizationRule {
    pub(crate) roles_any: Vec<String>,
    pub(crate) permissions: Vec<ssoguard::organization::Permission>,
    /// The path segment (1-based) naming the organization.
    pub(crate) segment: Option<usize>,
}

impl OrganizationRule {
    /// The organization `path` names, for a rule with a segment.
    pub(crate) fn requested<'p>(&self, path: &'p str) -> Option<&'p str> {
        let n = self.segment?;
        path.split('/')
            .filter(|s| !s.is_empty())
            .nth(n.checked_sub(1)?)
    }
}

#[derive(Debug)]
enum PathMatch {
    Prefix(String),
    Glob(GlobMatcher),
}

/// Compiles a glob the way rules use it.
///
/// # Errors
///
/// The glob's parse error, as text.
pub(crate) fn glob(pattern: &str) -> Result<GlobMatcher, String> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("bad glob {pattern:?}: {e}"))
}

/// The ordered rules.
#[derive(Debug)]
pub(crate) struct Rules(Vec<Rule>, bool);

/// A path whose exact and lenient readings reach different rules ([`crate::path`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Ambiguous;

/// Why an authenticated request is still refused (403).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Forbidden(pub(crate) String, pub(crate) Vec<String>);

impl Rules {
    /// Compiles the configured rules; `issuer_names` resolves rule issuers to indexes.
    pub(crate) fn new(routes: &[RouteConfig], issuer_names: &[String]) -> Result<Rules, String> {
        let mut rules = Vec::with_capacity(routes.len());
        for r in routes {
            let (path, loose) = if r.path.contains(['*', '?', '[']) {
                let insensitive = GlobBuilder::new(&r.path)
                    .literal_separator(true)
                    .case_insensitive(true)
                    .build()
                    .map(|g| g.compile_matcher())
                    .map_err(|e| format!("bad glob {:?}: {e}", r.path))?;
                (
                    PathMatch::Glob(glob(&r.path)?),
                    PathMatch::Glob(insensitive),
                )
            } else {
                let prefix = r.path.trim_end_matches('/');
                (
                    PathMatch::Prefix(prefix.to_string()),
                    PathMatch::Prefix(crate::path::loose(prefix)),
                )
            };
            let issuers = r
                .issuers
                .iter()
                .map(|name| {
                    issuer_names
                        .iter()
                        .position(|n| n == name)
                        .ok_or_else(|| format!("route names unknown issuer {name:?}"))
                })
                .collect::<Result<_, _>>()?;
            rules.push(Rule {
                path,
                loose,
                methods: r.methods.clone(),
                public: r.public,
                roles_any: r.roles_any.clone(),
                roles_all: r.roles_all.clone(),
                scopes: r.scopes.clone(),
                issuers,
                organization: r.needs_organization().then(|| OrganizationRule {
                    roles_any: r.organization_roles_any.clone(),
                    permissions: r.organization_permissions.clone(),
                    segment: r.organization_segment,
                }),
            });
        }
        let all_lower = routes.iter().all(|r| crate::path::loose(&r.path) == r.path);
        Ok(Rules(rules, all_lower))
    }

    /// The first rule matching `method` and `path`, or None (refuse); [`Ambiguous`] when the
    /// path's lenient reading ([`crate::path::loose`]: case, trailing dots and spaces) reaches
    /// another rule than the path as sent.
    pub(crate) fn find(&self, method: &str, path: &str) -> Result<Option<&Rule>, Ambiguous> {
        let method_ok =
            |rule: &Rule| rule.methods.is_empty() || rule.methods.iter().any(|m| m == method);
        let exact = self
            .0
            .iter()
            .position(|rule| method_ok(rule) && rule.path.matches(path));
        // The usual case: nothing to fold on either side (checked without allocating), one
        // reading.
        if self.1 && !crate::path::has_loose_forms(path) {
            return Ok(exact.map(|i| &self.0[i]));
        }
        let loose_path = crate::path::loose(path);
        let loose = self
            .0
            .iter()
            .position(|rule| method_ok(rule) && rule.loose.matches(&loose_path));
        if exact != loose {
            return Err(Ambiguous);
        }
        Ok(exact.map(|i| &self.0[i]))
    }
}

impl PathMatch {
    fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Prefix(prefix) => {
                prefix.is_empty()
                    || path == prefix
                    || path
                        .strip_prefix(prefix.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            }
            PathMatch::Glob(glob) => glob.is_match(path),
        }
    }
}

impl Rule {
    /// The rule's organization requirements.
    pub(crate) fn organization(&self) -> Option<&OrganizationRule> {
        self.organization.as_ref()
    }

    /// Checks a verified token against the rule's requirements.
    ///
    /// # Errors
    ///
    /// [`Forbidden`] naming the first unmet requirement.
    pub(crate) fn allows(&self, issuer: usize, claims: &TokenClaims) -> Result<(), Forbidden> {
        if !self.issuers.is_empty() && !self.issuers.contains(&issuer) {
            return Err(Forbidden(
                "Token issuer not allowed here".into(),
                Vec::new(),
            ));
        }
        if !self.roles_any.is_empty() && !self.roles_any.iter().any(|r| claims.has_role(r)) {
            return Err(Forbidden(
                format!("One of the roles {} required", self.roles_any.join(", ")),
                Vec::new(),
            ));
        }
        if let Some(missing) = self.roles_all.iter().find(|r| !claims.has_role(r)) {
            return Err(Forbidden(format!("Role '{missing}' required"), Vec::new()));
        }
        if let Some(missing) = self.scopes.iter().find(|s| !claims.has_scope(s)) {
            // The `scope` parameter names every scope the rule needs (RFC 6750 §3.1).
            return Err(Forbidden(
                format!("Scope '{missing}' required"),
                self.scopes.clone(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(path: &str) -> RouteConfig {
        RouteConfig {
            path: path.into(),
            methods: Vec::new(),
            public: false,
            roles_any: Vec::new(),
            roles_all: Vec::new(),
            scopes: Vec::new(),
            issuers: Vec::new(),
            organization_roles_any: Vec::new(),
            organization_permissions: Vec::new(),
            organization_segment: None,
        }
    }

    fn claims(role: &str, scope: &str) -> TokenClaims {
        TokenClaims::from_json(&serde_json::json!({
            "iss": "i", "sub": "u", "aud": "a", "exp": 2_000_000_000i64, "role": role, "scope": scope
        }))
        .expect("claims")
    }

    #[test]
    fn first_match_wins_and_no_match_is_none() {
        let mut public = route("/api/public");
        public.public = true;
        let mut admin = route("/api/admin/**");
        admin.roles_any = vec!["admin".into()];
        let mut reads = route("/api/*/items");
        reads.methods = vec!["GET".into()];
        let rules = Rules::new(&[public, admin, reads, route("/api")], &[]).expect("rules");
        let index = |m: &str, p: &str| {
            rules.find(m, p).expect("one reading").map(|r| {
                rules
                    .0
                    .iter()
                    .position(|x| std::ptr::eq(x, r))
                    .unwrap_or(99)
            })
        };
        assert_eq!(index("GET", "/api/public"), Some(0));
        assert_eq!(index("GET", "/api/public/x"), Some(0));
        assert_eq!(index("GET", "/api/publicity"), Some(3));
        assert_eq!(index("DELETE", "/api/admin/users/1"), Some(1));
        assert_eq!(index("GET", "/api/x/items"), Some(2));
        assert_eq!(index("POST", "/api/x/items"), Some(3));
        assert_eq!(index("GET", "/api/x/y/items"), Some(3));
        assert_eq!(index("GET", "/apix"), None);
        assert_eq!(index("GET", "/"), None);
        assert_eq!(index("GET", "/other"), None);
        // Readings that agree: served as sent.
        assert_eq!(index("GET", "/api/Tasks/ABC"), Some(3));
        // Case, trailing dots or spaces reaching another rule: ambiguous.
        for p in [
            "/api/ADMIN/users",
            "/api/Admin/users",
            "/API/admin/users",
            "/api/admin./users",
            "/api/admin /users",
            "/api/admin.../users",
            "/api/PUBLIC/x",
            "/api/public./x",
            "/Api/x",
            "/api/x/items.",
            "/api/x/ITEMS",
        ] {
            assert_eq!(rules.find("GET", p).map(|_| ()), Err(Ambiguous), "{p}");
        }
    }

    #[test]
    fn requirements() {
        let mut r = route("/");
        r.roles_any = vec!["admin".into(), "ops".into()];
        r.roles_all = vec!["user".into()];
        r.scopes = vec!["api:write".into()];
        r.issuers = vec!["b".into()];
        let rules = Rules::new(&[r], &["a".into(), "b".into()]).expect("rules");
        let rule = rules
            .find("GET", "/x")
            .expect("one reading")
            .expect("match");
        assert!(
            rule.allows(1, &claims("user,admin", "api:read api:write"))
                .is_ok()
        );
        assert!(rule.allows(0, &claims("user,admin", "api:write")).is_err());
        let no_role = rule
            .allows(1, &claims("user", "api:write"))
            .expect_err("role");
        assert!(no_role.0.contains("admin, ops"));
        assert_eq!(
            rule.allows(1, &claims("admin", "api:write")),
            Err(Forbidden("Role 'user' required".into(), Vec::new()))
        );
        assert_eq!(
            rule.allows(1, &claims("user,ops", "api:read")),
            Err(Forbidden(
                "Scope 'api:write' required".into(),
                vec!["api:write".into()]
            ))
        );
    }
}
