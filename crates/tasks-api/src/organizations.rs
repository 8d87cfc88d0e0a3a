//! Better Auth organizations: the settings, read from the environment, and the
//! [`Organizations`] they build for the `/api/orgs/{org_id}/…` routes.
//!
//! The organization is always the one the path names; whether the caller is its member, and
//! with which roles, comes from:
//!
//! | variable | meaning |
//! |---|---|
//! | `BETTER_AUTH_ORGANIZATIONS` | `claims` (default: the token's `org_id` must be the path's, its `org_role` are the roles) or `database` (the `member` row in `BETTER_AUTH_DATABASE_URL`, read-only) |
//! | `BETTER_AUTH_ORGANIZATION_ROLES` | the roles as JSON, `{"owner": {"task": ["create", …]}, …}`, replacing the default (Better Auth's `owner`, `admin`, `member` with the `task` statements below) |
//! | `BETTER_AUTH_DYNAMIC_ROLES` | `1`: Better Auth's dynamic access control is on; the organization's `organizationRole` rows are merged in (`database` only) |
//! | `BETTER_AUTH_ORGANIZATION_CACHE_TTL` | longest a looked-up membership is reused (`30s`): the lag of a role change or a removal |
//!
//! The default roles are Better Auth's, each with the service's `task` statements: `owner` and
//! `admin` may `create`, `read`, `update` and `delete` any task; `member` may `create` and
//! `read`. Every member reads and creates; a member updates and deletes their own tasks, and
//! holders of `task:update` / `task:delete` any task of the organization.

use crate::config::{ConfigError, Secret, parse_duration, parse_switch};
use ssoguard::organization::{
    AccessControl, OrganizationDatabase, OrganizationSource, Organizations, Statements,
};
use ssoguard::revocation::Revocations;
use std::sync::Arc;
use std::time::Duration;

/// The path parameter naming the organization.
pub const PATH_PARAMETER: &str = "org_id";

/// Where memberships come from (`BETTER_AUTH_ORGANIZATIONS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipSource {
    /// The token's `org_id` / `org_role` claims (default).
    Claims,
    /// Better Auth's database, read-only (`BETTER_AUTH_DATABASE_URL`).
    Database(Secret),
}

/// The organization settings.
#[derive(Debug, Clone)]
pub struct OrganizationSettings {
    /// `BETTER_AUTH_ORGANIZATIONS` with its URL.
    pub membership: MembershipSource,
    /// `BETTER_AUTH_ORGANIZATION_ROLES`, or the default.
    pub roles: AccessControl,
    /// `BETTER_AUTH_DYNAMIC_ROLES`.
    pub dynamic_roles: bool,
    /// `BETTER_AUTH_ORGANIZATION_CACHE_TTL`. Default 30 s.
    pub cache_ttl: Duration,
}

/// Better Auth's default roles with the service's `task` statements.
pub fn default_roles() -> AccessControl {
    let all = Statements::new().allow("task", ["create", "read", "update", "delete"]);
    AccessControl::default()
        .grant("owner", all.clone())
        .grant("admin", all)
        .grant(
            "member",
            Statements::new().allow("task", ["create", "read"]),
        )
}

impl OrganizationSettings {
    /// Reads the settings through `get` (empty values count as unset).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the variable: an unknown membership source, `database`
    /// without `BETTER_AUTH_DATABASE_URL`, roles that are not the JSON shape, dynamic roles
    /// without the database, a TTL that is not a duration.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let invalid = |name: &'static str, reason: &str| ConfigError::Invalid {
            name,
            reason: reason.into(),
        };
        let membership = match get("BETTER_AUTH_ORGANIZATIONS")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("claims") => MembershipSource::Claims,
            Some("database") => MembershipSource::Database(Secret::new(
                get("BETTER_AUTH_DATABASE_URL").ok_or_else(|| {
                    invalid(
                        "BETTER_AUTH_DATABASE_URL",
                        "required with BETTER_AUTH_ORGANIZATIONS=database (Better Auth's postgres:// or sqlite:// database)",
                    )
                })?,
            )),
            Some(_) => {
                return Err(invalid(
                    "BETTER_AUTH_ORGANIZATIONS",
                    "use claims or database",
                ));
            }
        };
        let roles = match get("BETTER_AUTH_ORGANIZATION_ROLES") {
            None => default_roles(),
            Some(json) => serde_json::from_str(&json)
                .ok()
                .and_then(|v| AccessControl::from_json(&v).ok())
                .ok_or_else(|| {
                    invalid(
                        "BETTER_AUTH_ORGANIZATION_ROLES",
                        "use a JSON object of role → {resource: [actions]}",
                    )
                })?,
        };
        let dynamic_roles = parse_switch(
            "BETTER_AUTH_DYNAMIC_ROLES",
            get("BETTER_AUTH_DYNAMIC_ROLES").as_deref(),
        )?;
        if dynamic_roles && membership == MembershipSource::Claims {
            return Err(invalid(
                "BETTER_AUTH_DYNAMIC_ROLES",
                "dynamic roles are read from the database: set BETTER_AUTH_ORGANIZATIONS=database",
            ));
        }
        let cache_ttl = match get("BETTER_AUTH_ORGANIZATION_CACHE_TTL") {
            None => Duration::from_secs(30),
            Some(v) => parse_duration(&v).filter(|d| !d.is_zero()).ok_or_else(|| {
                invalid(
                    "BETTER_AUTH_ORGANIZATION_CACHE_TTL",
                    "use a positive duration like 30s or 2m",
                )
            })?,
        };
        Ok(OrganizationSettings {
            membership,
            roles,
            dynamic_roles,
            cache_ttl,
        })
    }

    /// The organizations of `/api/orgs/{org_id}/…`. A back-channel logout in `revocations`
    /// drops the user's cached memberships.
    ///
    /// # Errors
    ///
    /// The library's [`ssoguard::ConfigError`] (an unusable database URL).
    pub fn build(
        &self,
        revocations: Arc<dyn Revocations>,
    ) -> Result<Organizations, ssoguard::ConfigError> {
        let builder = Organizations::builder()
            .source(OrganizationSource::PathSegment(PATH_PARAMETER.into()))
            .access_control(self.roles.clone())
            .cache_ttl(self.cache_ttl)
            .revocations(revocations);
        match &self.membership {
            MembershipSource::Claims => builder.membership_from_claims(),
            MembershipSource::Database(url) => builder.database(
                OrganizationDatabase::new(url.expose()).dynamic_roles(self.dynamic_roles),
            ),
        }
        .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<OrganizationSettings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        OrganizationSettings::from_lookup(|k| map.get(k).cloned())
    }

    fn refused(vars: &[(&str, &str)]) -> &'static str {
        match settings(vars) {
            Err(ConfigError::Invalid { name, .. }) => name,
            other => panic!("{vars:?} accepted: {other:?}"),
        }
    }

    #[test]
    fn claims_by_default_and_the_database_on_request() {
        let s = settings(&[]).expect("defaults");
        assert_eq!(s.membership, MembershipSource::Claims);
        assert_eq!(s.cache_ttl, Duration::from_secs(30));
        assert_eq!(s.roles, default_roles());
        let s = settings(&[
            ("BETTER_AUTH_ORGANIZATIONS", "database"),
            ("BETTER_AUTH_DATABASE_URL", "postgres://u:pw@db/auth"),
            ("BETTER_AUTH_DYNAMIC_ROLES", "1"),
            ("BETTER_AUTH_ORGANIZATION_CACHE_TTL", "2s"),
            (
                "BETTER_AUTH_ORGANIZATION_ROLES",
                r#"{"owner": {"task": ["delete"]}}"#,
            ),
        ])
        .expect("database");
        assert!(s.dynamic_roles && s.cache_ttl == Duration::from_secs(2));
        assert!(s.roles.statements("member").is_none());
        assert!(!format!("{s:?}").contains("pw@"));
    }

    #[test]
    fn bad_settings_are_named() {
        assert_eq!(
            refused(&[("BETTER_AUTH_ORGANIZATIONS", "ldap")]),
            "BETTER_AUTH_ORGANIZATIONS"
        );
        assert_eq!(
            refused(&[("BETTER_AUTH_ORGANIZATIONS", "database")]),
            "BETTER_AUTH_DATABASE_URL"
        );
        assert_eq!(
            refused(&[("BETTER_AUTH_DYNAMIC_ROLES", "1")]),
            "BETTER_AUTH_DYNAMIC_ROLES"
        );
        assert_eq!(
            refused(&[("BETTER_AUTH_ORGANIZATION_ROLES", "[]")]),
            "BETTER_AUTH_ORGANIZATION_ROLES"
        );
        assert_eq!(
            refused(&[("BETTER_AUTH_ORGANIZATION_CACHE_TTL", "0s")]),
            "BETTER_AUTH_ORGANIZATION_CACHE_TTL"
        );
    }
}
