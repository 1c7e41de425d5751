//! Who calls the catalog: a [`Principal`] with a tenant, an actor and [`Scope`]s.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::{ActorId, TenantId};

/// A permission the catalog checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// `integrations.read`: get, list, health, audit.
    #[serde(rename = "integrations.read")]
    IntegrationsRead,
    /// `integrations.admin`: every change, test, activation, pause and resume. Implies read.
    #[serde(rename = "integrations.admin")]
    IntegrationsAdmin,
    /// `integrations.system`: record check results obtained outside the catalog
    /// ([`Catalog::record_health`](super::Catalog::record_health),
    /// [`Catalog::record_skipped`](super::Catalog::record_skipped)). Evidence is what
    /// activates an integration, so this is for PathOps components and trusted services, never
    /// tenant admins; admin does not imply it.
    #[serde(rename = "integrations.system")]
    IntegrationsSystem,
}

impl Scope {
    /// The scope's name as it appears in tokens and errors.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::IntegrationsRead => "integrations.read",
            Self::IntegrationsAdmin => "integrations.admin",
            Self::IntegrationsSystem => "integrations.system",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// An authenticated caller. The catalog derives the tenant of every operation from the
/// principal: no argument can reach another tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The only tenant this principal can reach.
    pub tenant: TenantId,
    /// Who is acting (recorded in the audit trail).
    pub actor: ActorId,
    /// Granted scopes.
    pub scopes: BTreeSet<Scope>,
}

impl Principal {
    /// A principal with the given scopes.
    pub fn new(tenant: TenantId, actor: ActorId, scopes: impl IntoIterator<Item = Scope>) -> Self {
        Self {
            tenant,
            actor,
            scopes: scopes.into_iter().collect(),
        }
    }

    /// A principal with `integrations.read` only.
    pub fn reader(tenant: TenantId, actor: ActorId) -> Self {
        Self::new(tenant, actor, [Scope::IntegrationsRead])
    }

    /// A principal with `integrations.admin` (and so read).
    pub fn admin(tenant: TenantId, actor: ActorId) -> Self {
        Self::new(tenant, actor, [Scope::IntegrationsAdmin])
    }

    /// A principal with `integrations.admin` and `integrations.system`: a trusted component
    /// that records evidence it obtained itself.
    pub fn system(tenant: TenantId, actor: ActorId) -> Self {
        Self::new(
            tenant,
            actor,
            [Scope::IntegrationsAdmin, Scope::IntegrationsSystem],
        )
    }

    /// Whether the principal holds `scope` (admin implies read).
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
            || (scope == Scope::IntegrationsRead && self.scopes.contains(&Scope::IntegrationsAdmin))
    }

    /// `Ok` when the principal holds `scope`, else [`Error::PermissionDenied`] naming it.
    pub fn require(&self, scope: Scope) -> Result<()> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(Error::PermissionDenied {
                scope: scope.as_str().to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_implies_read_and_denials_name_the_scope() {
        let t: TenantId = "acme".parse().unwrap();
        let a: ActorId = "alice".parse().unwrap();
        let admin = Principal::admin(t.clone(), a.clone());
        assert!(admin.has(Scope::IntegrationsRead) && admin.has(Scope::IntegrationsAdmin));
        let reader = Principal::reader(t.clone(), a.clone());
        let err = reader.require(Scope::IntegrationsAdmin).unwrap_err();
        assert_eq!(
            err.to_string(),
            "permission denied: missing scope integrations.admin"
        );
        let nobody = Principal::new(t, a, []);
        assert!(nobody.require(Scope::IntegrationsRead).is_err());
        assert!(
            !admin.has(Scope::IntegrationsSystem),
            "admin never implies system"
        );
        let system = Principal::system("acme".parse().unwrap(), "monitor".parse().unwrap());
        assert!(system.has(Scope::IntegrationsSystem) && system.has(Scope::IntegrationsAdmin));
        assert_eq!(
            serde_json::to_string(&Scope::IntegrationsAdmin).unwrap(),
            "\"integrations.admin\""
        );
    }
}
