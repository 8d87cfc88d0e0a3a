//! Access control in Better Auth's shape: statements (`{ task: ["create", "read"] }`) granted to
//! roles, as the organization plugin's `createAccessControl` / `ac.newRole` write them.
//!
//! Rules, as Better Auth's `hasPermission` applies them:
//! - a permission `resource:action` is granted by a role whose statements list `action` under
//!   `resource`; nothing else grants it (no wildcards, no implied actions);
//! - a role the map does not know grants nothing;
//! - a member's roles are a comma-separated list (`"admin,auditor"`), split without trimming as
//!   Better Auth splits them (`"admin, auditor"` holds the roles `admin` and ` auditor`);
//! - dynamic roles (the `organizationRole` table) add their statements to the static role of the
//!   same name, or define a new role.
//!
//! Several roles are united: a member holds every permission one of their roles grants.

use crate::error::ConfigError;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// One permission: an action on a resource (`task:create`).
///
/// # Example
///
/// ```
/// use ssoguard::organization::Permission;
///
/// let p: Permission = "task:create".parse()?;
/// assert_eq!((p.resource(), p.action()), ("task", "create"));
/// assert_eq!(p.to_string(), "task:create");
/// assert!("task".parse::<Permission>().is_err());
/// # Ok::<(), ssoguard::organization::InvalidPermission>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission {
    resource: String,
    action: String,
}

/// A permission that is not `resource:action` (both parts non-empty, no whitespace).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a permission (use resource:action, e.g. task:create)")]
pub struct InvalidPermission(pub String);

impl Permission {
    /// `action` on `resource`.
    ///
    /// # Errors
    ///
    /// [`InvalidPermission`] when either part is empty or holds whitespace or `:`.
    pub fn new(
        resource: impl Into<String>,
        action: impl Into<String>,
    ) -> Result<Self, InvalidPermission> {
        let (resource, action) = (resource.into(), action.into());
        let ok = |s: &str| !s.is_empty() && !s.contains(':') && !s.contains(char::is_whitespace);
        if ok(&resource) && ok(&action) {
            Ok(Permission { resource, action })
        } else {
            Err(InvalidPermission(format!("{resource}:{action}")))
        }
    }

    /// The resource (`task`).
    #[must_use]
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The action (`create`).
    #[must_use]
    pub fn action(&self) -> &str {
        &self.action
    }
}

impl FromStr for Permission {
    type Err = InvalidPermission;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (resource, action) = s
            .split_once(':')
            .ok_or_else(|| InvalidPermission(s.to_owned()))?;
        Permission::new(resource, action).map_err(|_| InvalidPermission(s.to_owned()))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.resource, self.action)
    }
}

/// What a role may do: resource → actions (`{ task: ["create", "read"] }`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statements(BTreeMap<String, BTreeSet<String>>);

impl Statements {
    /// No statement.
    #[must_use]
    pub fn new() -> Self {
        Statements::default()
    }

    /// Adds `actions` on `resource`.
    #[must_use]
    pub fn allow<I, S>(mut self, resource: impl Into<String>, actions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.0
            .entry(resource.into())
            .or_default()
            .extend(actions.into_iter().map(Into::into));
        self
    }

    /// True when `permission` is granted.
    #[must_use]
    pub fn grants(&self, permission: &Permission) -> bool {
        self.0
            .get(permission.resource())
            .is_some_and(|actions| actions.contains(permission.action()))
    }

    /// Adds every statement of `other`.
    pub fn unite(&mut self, other: &Statements) {
        for (resource, actions) in &other.0 {
            self.0
                .entry(resource.clone())
                .or_default()
                .extend(actions.iter().cloned());
        }
    }

    /// Every granted permission, sorted.
    pub fn permissions(&self) -> impl Iterator<Item = String> + '_ {
        self.0.iter().flat_map(|(resource, actions)| {
            actions
                .iter()
                .map(move |action| format!("{resource}:{action}"))
        })
    }

    /// The statements of a JSON object `{"task": ["create"]}` (what `organizationRole.permission`
    /// holds, and each role of a roles map).
    ///
    /// # Errors
    ///
    /// A description of what is not a resource → list of action strings.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let Value::Object(map) = value else {
            return Err("statements must be a JSON object of resource → [actions]".into());
        };
        let mut statements = Statements::new();
        for (resource, actions) in map {
            let Value::Array(actions) = actions else {
                return Err(format!("the actions of {resource:?} are not a list"));
            };
            let actions = actions
                .iter()
                .map(|a| a.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("an action of {resource:?} is not a string"))?;
            statements = statements.allow(resource.clone(), actions);
        }
        Ok(statements)
    }
}

/// The static roles: role name → [`Statements`], Better Auth's default roles unless replaced.
///
/// [`AccessControl::default`] is Better Auth's `defaultRoles` (`access/statement.ts`):
///
/// | role | statements |
/// |---|---|
/// | `owner` | `organization: update, delete`; `member`, `team: create, update, delete`; `invitation: create, cancel`; `ac: create, read, update, delete` |
/// | `admin` | as `owner` without `organization: delete` |
/// | `member` | `ac: read` |
///
/// Better Auth replaces these defaults when its `organization({ roles })` option is given; do
/// the same here with [`AccessControl::empty`] or [`AccessControl::from_json`] and list every
/// role the app defines.
///
/// # Example
///
/// ```
/// use ssoguard::organization::{AccessControl, Permission, Statements};
///
/// // Better Auth's defaults, each role also allowed the app's own `task` statements.
/// let ac = AccessControl::default()
///     .grant("owner", Statements::new().allow("task", ["create", "read", "update", "delete"]))
///     .grant("member", Statements::new().allow("task", ["create", "read"]));
/// let roles = ["member".to_string()];
/// assert!(ac.statements_of(&roles).grants(&"task:create".parse::<Permission>()?));
/// assert!(!ac.statements_of(&roles).grants(&"task:delete".parse::<Permission>()?));
/// # Ok::<(), ssoguard::organization::InvalidPermission>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct AccessControl {
    roles: BTreeMap<String, Statements>,
}

impl Default for AccessControl {
    /// Better Auth's default roles `owner`, `admin` and `member` with their statements.
    fn default() -> Self {
        let manage = ["create", "update", "delete"];
        let ac = ["create", "read", "update", "delete"];
        let admin = Statements::new()
            .allow("organization", ["update"])
            .allow("member", manage)
            .allow("invitation", ["create", "cancel"])
            .allow("team", manage)
            .allow("ac", ac);
        let owner = admin.clone().allow("organization", ["delete"]);
        let member = Statements::new().allow("ac", ["read"]);
        AccessControl::empty()
            .role("owner", owner)
            .role("admin", admin)
            .role("member", member)
    }
}

impl AccessControl {
    /// No role at all: every member is refused every permission until roles are added.
    pub fn empty() -> Self {
        AccessControl {
            roles: BTreeMap::new(),
        }
    }

    /// Defines `role` as exactly `statements` (replacing what it had), as `ac.newRole` does.
    pub fn role(mut self, role: impl Into<String>, statements: Statements) -> Self {
        self.roles.insert(role.into(), statements);
        self
    }

    /// Adds `statements` to `role` (creating it if unknown).
    pub fn grant(mut self, role: impl Into<String>, statements: Statements) -> Self {
        self.roles
            .entry(role.into())
            .or_default()
            .unite(&statements);
        self
    }

    /// Roles from JSON `{"owner": {"task": ["create", …]}, …}`: exactly these roles (no
    /// defaults), as Better Auth's `roles` option.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidSetting`] (`organization_roles`) for anything else.
    pub fn from_json(value: &Value) -> Result<Self, ConfigError> {
        let invalid = |reason: String| ConfigError::InvalidSetting {
            setting: "organization_roles",
            reason,
        };
        let Value::Object(map) = value else {
            return Err(invalid(
                "a JSON object of role → {resource: [actions]}".into(),
            ));
        };
        let mut ac = AccessControl::empty();
        for (role, statements) in map {
            let statements =
                Statements::from_json(statements).map_err(|e| invalid(format!("{role}: {e}")))?;
            ac = ac.role(role.clone(), statements);
        }
        Ok(ac)
    }

    /// The statements of `role`, if it is defined.
    #[must_use]
    pub fn statements(&self, role: &str) -> Option<&Statements> {
        self.roles.get(role)
    }

    /// The union of the statements of `roles` (unknown roles add nothing).
    #[must_use]
    pub fn statements_of(&self, roles: &[String]) -> Statements {
        let mut all = Statements::new();
        for role in roles {
            if let Some(statements) = self.roles.get(role) {
                all.unite(statements);
            }
        }
        all
    }

    /// This map with `dynamic` roles (from `organizationRole`) added: each dynamic role's
    /// statements are united with the static role of the same name, as Better Auth merges them.
    pub(crate) fn with_dynamic(&self, dynamic: &[(String, Statements)]) -> AccessControl {
        let mut merged = self.clone();
        for (role, statements) in dynamic {
            merged
                .roles
                .entry(role.clone())
                .or_default()
                .unite(statements);
        }
        merged
    }
}

/// A member's roles from Better Auth's `member.role`: comma-separated, split as Better Auth
/// splits them (no trimming), empty parts dropped.
#[must_use]
pub fn split_roles(role: &str) -> Vec<String> {
    role.split(',')
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Permission {
        s.parse().expect("permission")
    }

    fn roles(list: &[&str]) -> Vec<String> {
        list.iter().map(|r| (*r).to_owned()).collect()
    }

    #[test]
    fn better_auths_default_roles_are_built_in() {
        let ac = AccessControl::default();
        let owner = ac.statements_of(&roles(&["owner"]));
        let admin = ac.statements_of(&roles(&["admin"]));
        let member = ac.statements_of(&roles(&["member"]));
        assert!(owner.grants(&p("organization:delete")));
        assert!(!admin.grants(&p("organization:delete")));
        assert!(admin.grants(&p("organization:update")));
        assert!(admin.grants(&p("member:delete")) && admin.grants(&p("invitation:cancel")));
        assert!(member.grants(&p("ac:read")));
        assert!(!member.grants(&p("member:create")));
        assert_eq!(member.permissions().collect::<Vec<_>>(), ["ac:read"]);
    }

    #[test]
    fn unknown_roles_grant_nothing_and_several_roles_are_united() {
        let ac = AccessControl::default()
            .grant("member", Statements::new().allow("task", ["read"]))
            .role("auditor", Statements::new().allow("task", ["export"]));
        assert!(
            !ac.statements_of(&roles(&["owner "]))
                .grants(&p("organization:update"))
        );
        assert!(
            ac.statements_of(&roles(&["ghost"]))
                .permissions()
                .next()
                .is_none()
        );
        let both = ac.statements_of(&split_roles("member,auditor"));
        assert!(both.grants(&p("task:read")) && both.grants(&p("task:export")));
        assert!(!both.grants(&p("task:delete")));
        // Better Auth does not trim: " auditor" is another (unknown) role.
        assert_eq!(split_roles("member, auditor"), ["member", " auditor"]);
        assert!(
            !ac.statements_of(&split_roles("member, auditor"))
                .grants(&p("task:export"))
        );
        assert_eq!(split_roles(",,admin,"), ["admin"]);
    }

    #[test]
    fn dynamic_roles_add_to_the_static_role_of_their_name() {
        let ac = AccessControl::default();
        let merged = ac.with_dynamic(&[
            ("member".into(), Statements::new().allow("task", ["delete"])),
            ("editor".into(), Statements::new().allow("task", ["update"])),
        ]);
        let member = merged.statements_of(&roles(&["member"]));
        assert!(member.grants(&p("task:delete")) && member.grants(&p("ac:read")));
        assert!(
            merged
                .statements_of(&roles(&["editor"]))
                .grants(&p("task:update"))
        );
        // The static map is untouched.
        assert!(
            !ac.statements_of(&roles(&["member"]))
                .grants(&p("task:delete"))
        );
    }

    #[test]
    fn roles_from_json_replace_the_defaults() {
        let ac = AccessControl::from_json(&json!({
            "owner": {"task": ["create", "delete"]},
            "member": {"task": ["create"]}
        }))
        .expect("roles");
        assert!(
            ac.statements_of(&roles(&["owner"]))
                .grants(&p("task:delete"))
        );
        assert!(
            !ac.statements_of(&roles(&["owner"]))
                .grants(&p("organization:delete"))
        );
        assert!(ac.statements("admin").is_none());
        for bad in [
            json!([]),
            json!({"owner": ["task"]}),
            json!({"owner": {"task": "create"}}),
            json!({"owner": {"task": [1]}}),
        ] {
            assert!(AccessControl::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn permissions_are_resource_colon_action() {
        assert_eq!(
            p("task:create"),
            Permission::new("task", "create").expect("ok")
        );
        for bad in ["", "task", ":create", "task:", "task:cre ate", "a:b:c"] {
            assert!(bad.parse::<Permission>().is_err(), "{bad}");
        }
    }
}
