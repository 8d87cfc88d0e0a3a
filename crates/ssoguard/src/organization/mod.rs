//! Organizations: Better Auth's `organization()` plugin as members, roles and permissions.
//!
//! [`Organizations::member`] turns a verified credential (its [`TokenClaims`]) and the request
//! into the caller's [`Member`]ship of one organization, or a [`MembershipRefusal`]. Two
//! settings decide how, each by configuration, never by what a request happens to carry:
//!
//! **Which organization** ([`OrganizationSource`]):
//! - [`Claims`](OrganizationSource::Claims): the token's `org_id` claim (name overridable), as
//!   the jwt plugin's `definePayload` (`org_id: session.activeOrganizationId`) or the
//!   oauth-provider's `customAccessTokenClaims` put it there;
//! - [`ActiveOrganization`](OrganizationSource::ActiveOrganization): the session's
//!   `activeOrganizationId` (Better Auth's `organization.setActive`), for session cookies
//!   ([`crate::session`] carries it as the `active_organization_id` claim);
//! - [`PathSegment`](OrganizationSource::PathSegment): the organization the request names
//!   (`/api/orgs/{org_id}/…`). Such a name is the caller's choice, so it is **never** trusted
//!   without a membership check, and a non-member gets the same answer as for an organization
//!   that does not exist (404), so ids cannot be probed.
//!
//! **Whose membership and which roles** (the builder's
//! [`membership_from_claims`](OrganizationsBuilder::membership_from_claims) or
//! [`database`](OrganizationsBuilder::database)):
//! - claims: the token's `org_role` claim (comma-separated or a list) is the member's roles in
//!   the organization its `org_id` claim names, with no lookup: exactly as fresh as the token. A
//!   path naming another organization than the token's is not a membership;
//! - database (feature `organization-database`): the `member` row of (organization, user) in
//!   Better Auth's database, read-only, with the organization's dynamic roles
//!   (`organizationRole`) when dynamic access control is on.
//!
//! **Permissions**: the roles' statements in the [`AccessControl`] map (Better Auth's default
//! roles unless replaced), dynamic roles merged in; several roles united; an unknown role grants
//! nothing.
//!
//! Lookups are cached by (user, organization): a membership for
//! [`cache_ttl`](OrganizationsBuilder::cache_ttl) (30 s by default: a role change or a removal
//! takes effect within it), "not a member" for
//! [`negative_cache_ttl`](OrganizationsBuilder::negative_cache_ttl) (5 s); a lookup that fails
//! is never cached and answers 503, never a membership. Concurrent requests for the same pair
//! share one lookup. A back-channel logout of a user drops their cached memberships
//! ([`OrganizationsBuilder::revocations`]).
//!
//! # Example
//!
//! ```no_run
//! # async fn run(claims: std::sync::Arc<ssoguard::TokenClaims>) -> Result<(), Box<dyn std::error::Error>> {
//! use ssoguard::organization::{Organizations, OrganizationDatabase, OrganizationSource};
//!
//! let orgs = Organizations::builder()
//!     .source(OrganizationSource::PathSegment("org_id".into()))
//!     .database(OrganizationDatabase::new("postgres://auth_reader@db/auth").dynamic_roles(true))
//!     .build()?;
//! let member = orgs.member(&claims, Some("org_123")).await?;
//! if member.has_permission("member:create") {
//!     println!("{} may invite to {}", member.user_id, member.organization_id);
//! }
//! # Ok(()) }
//! ```

// Without a database every membership comes from claims: the lookup machinery is unused.
#![cfg_attr(not(feature = "organization-database"), allow(dead_code))]

mod access;
#[cfg(feature = "organization-database")]
mod database;

pub use access::{AccessControl, InvalidPermission, Permission, Statements, split_roles};
#[cfg(feature = "organization-database")]
pub use database::{OrganizationDatabase, OrganizationSchema};

use crate::claims::TokenClaims;
use crate::error::ConfigError;
use crate::revocation::{Revocation, Revocations};
#[cfg(feature = "organization-database")]
use crate::single_flight::Joined;
use crate::single_flight::SingleFlight;
use crate::ttl_map::TtlMap;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The claim a session cookie's active organization is carried in ([`crate::session`]).
pub const ACTIVE_ORGANIZATION_CLAIM: &str = "active_organization_id";
/// The claim a session cookie's active team is carried in ([`crate::session`]).
pub const ACTIVE_TEAM_CLAIM: &str = "active_team_id";

/// Where the organization of a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OrganizationSource {
    /// The token's organization claim (`org_id` by default,
    /// [`OrganizationsBuilder::claim_names`]).
    Claims,
    /// The session's `activeOrganizationId` (session cookies).
    ActiveOrganization,
    /// The request's path parameter of this name (`org_id` for `/api/orgs/{org_id}/tasks`);
    /// the membership is always checked, and a non-member is told the organization does not
    /// exist.
    PathSegment(String),
}

/// Why a caller is not let in as a member (or a member without a permission).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MembershipRefusal {
    /// 403 `No active organization`: the credential names no (active) organization.
    NoOrganization,
    /// 403 `Not a member of this organization`; 404 `Organization not found` when `hidden`
    /// (the organization was named by the request: a non-member learns nothing of it).
    NotMember {
        /// Answer as if the organization did not exist (404).
        hidden: bool,
    },
    /// 403 `Permission 'task:delete' required in this organization`: a member whose roles do
    /// not grant it.
    MissingPermission(Permission),
    /// 503: the membership could not be looked up (never a membership).
    Unavailable,
}

impl std::fmt::Display for MembershipRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MembershipRefusal::NoOrganization => f.write_str("No active organization"),
            MembershipRefusal::NotMember { hidden: true } => f.write_str("Organization not found"),
            MembershipRefusal::NotMember { hidden: false } => {
                f.write_str("Not a member of this organization")
            }
            MembershipRefusal::MissingPermission(p) => {
                write!(f, "Permission '{p}' required in this organization")
            }
            MembershipRefusal::Unavailable => {
                f.write_str("Organization membership unavailable, retry later")
            }
        }
    }
}

impl std::error::Error for MembershipRefusal {}

impl MembershipRefusal {
    /// The HTTP status: 403, 404 (hidden non-member) or 503.
    #[must_use]
    pub fn status_code(&self) -> u16 {
        match self {
            MembershipRefusal::NotMember { hidden: true } => 404,
            MembershipRefusal::Unavailable => 503,
            _ => 403,
        }
    }
}

/// The caller as a member of one organization.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Member {
    /// The user (`sub`).
    pub user_id: String,
    /// The `member` row's id, when looked up in the database.
    pub member_id: Option<String>,
    /// The organization.
    pub organization_id: String,
    /// The member's roles in it (Better Auth's comma-separated `member.role`, split).
    pub roles: Vec<String>,
    /// The active team the SSO recorded for this organization (the session's `activeTeamId`,
    /// or the token's team claim), when the credential's active organization is this one. Not
    /// checked against `teamMember`.
    pub team_id: Option<String>,
    /// Every permission the roles grant (`task:create`), sorted.
    pub permissions: Vec<String>,
    #[serde(skip)]
    statements: Arc<Statements>,
    /// The verified claims of the credential.
    #[serde(skip)]
    pub claims: Arc<TokenClaims>,
}

impl Member {
    /// True when the member holds `role`.
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// True when one of the member's roles grants `permission` (`"task:create"`); an invalid
    /// permission is never granted.
    #[must_use]
    pub fn has_permission(&self, permission: &str) -> bool {
        permission
            .parse::<Permission>()
            .is_ok_and(|p| self.statements.grants(&p))
    }

    /// True when one of the member's roles grants `permission`.
    #[must_use]
    pub fn can(&self, permission: &Permission) -> bool {
        self.statements.grants(permission)
    }

    /// `Ok` when the member holds `permission`.
    ///
    /// # Errors
    ///
    /// [`MembershipRefusal::MissingPermission`] otherwise.
    pub fn require(&self, permission: &Permission) -> Result<(), MembershipRefusal> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(MembershipRefusal::MissingPermission(permission.clone()))
        }
    }
}

/// A membership, resolved and shared by the cache.
#[derive(Debug)]
struct Resolved {
    member_id: Option<String>,
    roles: Vec<String>,
    statements: Arc<Statements>,
}

/// A cached answer: a membership, or "not a member".
type Answer = Result<Arc<Resolved>, Outcome>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    NotMember,
    Down,
}

enum Membership {
    Claims,
    #[cfg(feature = "organization-database")]
    Database(database::DatabaseStore),
}

type Key = (Arc<str>, Arc<str>);

struct Inner {
    source: OrganizationSource,
    membership: Membership,
    access: AccessControl,
    org_claim: String,
    role_claim: String,
    team_claim: String,
    cache: TtlMap<Key, Answer>,
    flights: SingleFlight<Key, Answer>,
    ttl: Duration,
    negative_ttl: Duration,
    lookups: AtomicU64,
    cache_hits: AtomicU64,
}

/// Resolves members, roles and permissions; cheap to clone (shared state).
///
/// Built with [`Organizations::builder`]; see the [module documentation](self).
#[derive(Clone)]
pub struct Organizations {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Organizations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Organizations")
            .field("source", &self.inner.source)
            .field(
                "membership",
                &match self.inner.membership {
                    Membership::Claims => "claims",
                    #[cfg(feature = "organization-database")]
                    Membership::Database(_) => "database",
                },
            )
            .field("cache_ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

fn claim_str<'c>(claims: &'c TokenClaims, name: &str) -> Option<&'c str> {
    let value = match name {
        "organization_id" => return claims.organization_id.as_deref().filter(|s| !s.is_empty()),
        _ => claims.extra.get(name)?,
    };
    value.as_str().filter(|s| !s.is_empty())
}

/// A role claim: a comma-separated string or a list of strings.
fn claim_roles(claims: &TokenClaims, name: &str) -> Option<Vec<String>> {
    let roles = match claims.extra.get(name)? {
        Value::String(s) => split_roles(s),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => return None,
    };
    (!roles.is_empty()).then_some(roles)
}

impl Organizations {
    /// A builder with the defaults.
    pub fn builder() -> OrganizationsBuilder {
        OrganizationsBuilder {
            source: OrganizationSource::Claims,
            membership: MembershipChoice::Claims,
            access: AccessControl::default(),
            org_claim: "org_id".into(),
            role_claim: "org_role".into(),
            team_claim: "team_id".into(),
            cache_ttl: Duration::from_secs(30),
            negative_cache_ttl: Duration::from_secs(5),
            max_entries: 10_000,
            lookup_timeout: Duration::from_secs(5),
            revocations: None,
        }
    }

    /// Where the organization comes from.
    #[must_use]
    pub fn source(&self) -> &OrganizationSource {
        &self.inner.source
    }

    /// The access control in use (static roles).
    pub fn access_control(&self) -> &AccessControl {
        &self.inner.access
    }

    /// The caller's membership of the organization of this request. `requested` is the
    /// organization the request names (the path parameter of
    /// [`OrganizationSource::PathSegment`]); the other sources ignore it.
    ///
    /// # Errors
    ///
    /// [`MembershipRefusal::NoOrganization`] when the source names none,
    /// [`MembershipRefusal::NotMember`] for a non-member (hidden for a requested
    /// organization), [`MembershipRefusal::Unavailable`] when the lookup fails.
    pub async fn member(
        &self,
        claims: &Arc<TokenClaims>,
        requested: Option<&str>,
    ) -> Result<Member, MembershipRefusal> {
        let inner = &self.inner;
        let (organization_id, hidden) = match &inner.source {
            OrganizationSource::Claims => (claim_str(claims, &inner.org_claim), false),
            OrganizationSource::ActiveOrganization => {
                (claim_str(claims, ACTIVE_ORGANIZATION_CLAIM), false)
            }
            OrganizationSource::PathSegment(_) => (requested.filter(|s| !s.is_empty()), true),
        };
        let Some(organization_id) = organization_id else {
            return Err(MembershipRefusal::NoOrganization);
        };
        let resolved = match &inner.membership {
            Membership::Claims => {
                // The token states one membership: of the organization its claim names.
                if claim_str(claims, &inner.org_claim) != Some(organization_id) {
                    return Err(MembershipRefusal::NotMember { hidden });
                }
                let roles = claim_roles(claims, &inner.role_claim)
                    .ok_or(MembershipRefusal::NotMember { hidden })?;
                Arc::new(Resolved {
                    member_id: None,
                    statements: Arc::new(inner.access.statements_of(&roles)),
                    roles,
                })
            }
            #[cfg(feature = "organization-database")]
            Membership::Database(_) => match self.looked_up(organization_id, &claims.sub).await {
                Ok(resolved) => resolved,
                Err(Outcome::NotMember) => return Err(MembershipRefusal::NotMember { hidden }),
                Err(Outcome::Down) => return Err(MembershipRefusal::Unavailable),
            },
        };
        Ok(Member {
            user_id: claims.sub.clone(),
            member_id: resolved.member_id.clone(),
            organization_id: organization_id.to_owned(),
            roles: resolved.roles.clone(),
            team_id: self.active_team(claims, organization_id),
            permissions: resolved.statements.permissions().collect(),
            statements: resolved.statements.clone(),
            claims: claims.clone(),
        })
    }

    /// The active team the credential names, when its active organization is `organization_id`.
    fn active_team(&self, claims: &TokenClaims, organization_id: &str) -> Option<String> {
        let inner = &self.inner;
        let pairs = [
            (inner.org_claim.as_str(), inner.team_claim.as_str()),
            (ACTIVE_ORGANIZATION_CLAIM, ACTIVE_TEAM_CLAIM),
        ];
        pairs.iter().find_map(|(org, team)| {
            (claim_str(claims, org) == Some(organization_id))
                .then(|| claim_str(claims, team).map(str::to_owned))
                .flatten()
        })
    }

    /// Drops every cached membership of `user_id` (a back-channel logout does it through
    /// [`OrganizationsBuilder::revocations`]).
    pub fn evict_user(&self, user_id: &str) {
        self.inner.cache.retain(|(user, _), _| &**user != user_id);
    }

    /// Membership lookups made so far (cache misses that reached the store).
    #[must_use]
    pub fn lookups(&self) -> u64 {
        self.inner.lookups.load(Ordering::Relaxed)
    }

    /// Answers served from the cache so far.
    #[must_use]
    pub fn cache_hits(&self) -> u64 {
        self.inner.cache_hits.load(Ordering::Relaxed)
    }

    #[cfg(feature = "organization-database")]
    async fn looked_up(&self, organization_id: &str, user_id: &str) -> Answer {
        let key: Key = (Arc::from(user_id), Arc::from(organization_id));
        let inner = &self.inner;
        if let Some(answer) = inner.cache.get(&key) {
            inner.cache_hits.fetch_add(1, Ordering::Relaxed);
            return answer;
        }
        let check = || inner.cache.get(&key);
        let body = || {
            let this = self.clone();
            let key = key.clone();
            async move { this.look_up(key).await }
        };
        match inner.flights.join_or_start(key.clone(), check, body) {
            Joined::Ready(answer) => {
                inner.cache_hits.fetch_add(1, Ordering::Relaxed);
                answer
            }
            Joined::Flight(flight) => flight.wait().await.unwrap_or(Err(Outcome::Down)),
        }
    }

    #[cfg(feature = "organization-database")]
    async fn look_up(&self, key: Key) -> Answer {
        let inner = &self.inner;
        let Membership::Database(store) = &inner.membership else {
            return Err(Outcome::Down);
        };
        inner.lookups.fetch_add(1, Ordering::Relaxed);
        let answer = match store.find(&key.1, &key.0).await {
            Err(database::StoreDown) => return Err(Outcome::Down),
            Ok(None) => Err(Outcome::NotMember),
            Ok(Some(found)) => {
                let roles = split_roles(&found.role);
                let statements = if found.dynamic.is_empty() {
                    inner.access.statements_of(&roles)
                } else {
                    inner
                        .access
                        .with_dynamic(&found.dynamic)
                        .statements_of(&roles)
                };
                Ok(Arc::new(Resolved {
                    member_id: Some(found.member_id),
                    roles,
                    statements: Arc::new(statements),
                }))
            }
        };
        let ttl = if answer.is_ok() {
            inner.ttl
        } else {
            inner.negative_ttl
        };
        inner.cache.insert(key, answer.clone(), ttl);
        answer
    }
}

enum MembershipChoice {
    Claims,
    #[cfg(feature = "organization-database")]
    Database(OrganizationDatabase),
}

/// Builder of [`Organizations`]; every setting has the default its method names.
#[must_use]
pub struct OrganizationsBuilder {
    source: OrganizationSource,
    membership: MembershipChoice,
    access: AccessControl,
    org_claim: String,
    role_claim: String,
    team_claim: String,
    cache_ttl: Duration,
    negative_cache_ttl: Duration,
    max_entries: usize,
    lookup_timeout: Duration,
    revocations: Option<Arc<dyn Revocations>>,
}

impl std::fmt::Debug for OrganizationsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrganizationsBuilder")
            .field("source", &self.source)
            .field("cache_ttl", &self.cache_ttl)
            .finish_non_exhaustive()
    }
}

impl OrganizationsBuilder {
    /// Where the organization comes from. Default: [`OrganizationSource::Claims`].
    pub fn source(mut self, source: OrganizationSource) -> Self {
        self.source = source;
        self
    }

    /// Memberships and roles from the token's claims, with no lookup. Default.
    ///
    /// A token is as fresh as its issue: a removal or role change takes effect when the
    /// token is replaced. Session cookies carry no role claim, so they are never members
    /// this way; use [`database`](Self::database) for them.
    pub fn membership_from_claims(mut self) -> Self {
        self.membership = MembershipChoice::Claims;
        self
    }

    /// Memberships and roles looked up in Better Auth's database, read-only (feature
    /// `organization-database`).
    #[cfg(feature = "organization-database")]
    pub fn database(mut self, database: OrganizationDatabase) -> Self {
        self.membership = MembershipChoice::Database(database);
        self
    }

    /// The claims naming the organization, the member's roles and the active team. Default:
    /// `org_id`, `org_role`, `team_id`. Put them in tokens with the jwt plugin's
    /// `definePayload` or the oauth-provider's `customAccessTokenClaims` /
    /// `customIdTokenClaims`.
    pub fn claim_names(
        mut self,
        organization: impl Into<String>,
        role: impl Into<String>,
        team: impl Into<String>,
    ) -> Self {
        self.org_claim = organization.into();
        self.role_claim = role.into();
        self.team_claim = team.into();
        self
    }

    /// The static roles. Default: [`AccessControl::default`] (Better Auth's `owner`, `admin`,
    /// `member`). Give the same roles as the app's `organization({ ac, roles })`: a role it
    /// does not know grants nothing here.
    pub fn access_control(mut self, access: AccessControl) -> Self {
        self.access = access;
        self
    }

    /// Longest a looked-up membership is reused. Default: 30 s. This is the lag of a role
    /// change or a removal.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How long "not a member" is reused. Default: 5 s (never more than
    /// [`cache_ttl`](Self::cache_ttl)): a new member waits at most this.
    pub fn negative_cache_ttl(mut self, ttl: Duration) -> Self {
        self.negative_cache_ttl = ttl;
        self
    }

    /// Most cached answers. Default: 10,000.
    pub fn max_entries(mut self, entries: usize) -> Self {
        self.max_entries = entries;
        self
    }

    /// Longest one lookup may take before the request is answered 503. Default: 5 s.
    pub fn lookup_timeout(mut self, timeout: Duration) -> Self {
        self.lookup_timeout = timeout;
        self
    }

    /// The revocations (back-channel logouts) whose users' cached memberships are dropped:
    /// share the verifier's ([`Verifier::revocations`](crate::Verifier::revocations)). A
    /// logout naming only a session (`sid`, no `sub`) drops nothing. Default: none.
    pub fn revocations(mut self, store: Arc<dyn Revocations>) -> Self {
        self.revocations = Some(store);
        self
    }

    /// Builds it (no I/O: connections open on first use).
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidSetting`] for a zero TTL or timeout, an empty claim or path
    /// parameter name, memberships from claims with the session's active organization (a
    /// session has no role claim), or the database's own settings.
    pub fn build(self) -> Result<Organizations, ConfigError> {
        let invalid = |setting: &'static str, reason: &str| ConfigError::InvalidSetting {
            setting,
            reason: reason.into(),
        };
        if self.cache_ttl.is_zero() || self.lookup_timeout.is_zero() {
            return Err(invalid(
                "organization_cache_ttl",
                "the cache TTL and lookup timeout must not be zero",
            ));
        }
        if [&self.org_claim, &self.role_claim, &self.team_claim]
            .iter()
            .any(|c| c.is_empty())
        {
            return Err(invalid(
                "organization_claims",
                "claim names must not be empty",
            ));
        }
        if matches!(&self.source, OrganizationSource::PathSegment(p) if p.is_empty()) {
            return Err(invalid(
                "organization_path_segment",
                "name the path parameter holding the organization id",
            ));
        }
        let membership = match self.membership {
            MembershipChoice::Claims => {
                if self.source == OrganizationSource::ActiveOrganization {
                    return Err(invalid(
                        "organization_membership",
                        "a session's active organization has no role claim: look memberships up in the database",
                    ));
                }
                Membership::Claims
            }
            #[cfg(feature = "organization-database")]
            MembershipChoice::Database(db) => {
                Membership::Database(db.connect(self.lookup_timeout)?)
            }
        };
        let organizations = Organizations {
            inner: Arc::new(Inner {
                source: self.source,
                membership,
                access: self.access,
                org_claim: self.org_claim,
                role_claim: self.role_claim,
                team_claim: self.team_claim,
                cache: TtlMap::new(self.max_entries),
                flights: SingleFlight::new(self.lookup_timeout + Duration::from_secs(1)),
                ttl: self.cache_ttl,
                negative_ttl: self.negative_cache_ttl.min(self.cache_ttl),
                lookups: AtomicU64::new(0),
                cache_hits: AtomicU64::new(0),
            }),
        };
        if let Some(store) = self.revocations {
            let weak: Weak<Inner> = Arc::downgrade(&organizations.inner);
            store.on_revoke(Arc::new(move |revocation: &Revocation| {
                if let (Some(inner), Some(sub)) = (weak.upgrade(), &revocation.sub) {
                    Organizations { inner }.evict_user(sub);
                }
            }));
        }
        Ok(organizations)
    }
}

#[cfg(test)]
mod tests;
