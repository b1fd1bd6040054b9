//! Authorization: what an authenticated caller may do. Deny by default.
//!
//! Two rules. A caller may use an endpoint only if its scopes grant the endpoint's
//! scope ([`authorize`]). A caller may only create or change a credential whose scopes
//! it holds itself ([`may_mint`]), so no credential can grant itself, or anyone, more
//! than it has.

use crate::auth::Authenticated;
use crate::scope::{ADMIN, Scope, ScopeSet};

/// Proof that a caller was authorized for a scope.
#[derive(Debug, Clone)]
pub struct Authorized<'a> {
    who: &'a Authenticated,
}

impl<'a> Authorized<'a> {
    /// The authorized caller.
    pub fn who(&self) -> &'a Authenticated {
        self.who
    }
}

/// Refusal: the caller lacks the scope the action needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this action needs the scope {needed}")]
pub struct Forbidden {
    /// The scope that was needed.
    pub needed: String,
}

/// Authorizes `who` for an action that needs `scope`.
pub fn authorize<'a>(who: &'a Authenticated, scope: &str) -> Result<Authorized<'a>, Forbidden> {
    if who.scopes().grants(scope) {
        Ok(Authorized { who })
    } else {
        Err(Forbidden {
            needed: scope.to_owned(),
        })
    }
}

/// Refusal: the caller tried to hand out scopes it does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a credential cannot grant scopes it does not hold: {}", .missing.join(" "))]
pub struct Escalation {
    /// The scopes the caller lacks.
    pub missing: Vec<String>,
}

/// Whether `caller` may create or change a credential so that it holds `scopes`.
///
/// `gatehouse:admin` is the root authority and may mint any scope. Anyone else may
/// only mint scopes it holds literally.
pub fn may_mint(caller: &ScopeSet, scopes: &ScopeSet) -> Result<(), Escalation> {
    if caller.contains(ADMIN) {
        return Ok(());
    }
    let missing: Vec<String> = scopes
        .iter()
        .filter(|s| !caller.contains(s.as_str()))
        .map(|s| s.as_str().to_owned())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Escalation { missing })
    }
}

/// Whether `caller` may manage (update, rotate, revoke, delete) a credential holding
/// `target`: only when it could have minted it. A `gatehouse:keys` key therefore
/// cannot revoke the admin key.
pub fn may_manage(caller: &ScopeSet, target: &ScopeSet) -> Result<(), Escalation> {
    may_mint(caller, target)
}

/// Parses the scopes required by a caller-supplied list.
pub fn required_scopes<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Scope>, crate::scope::ScopeError> {
    names.into_iter().map(Scope::parse).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthMethod;
    use crate::scope::{AUDIT_READ, KEYS};

    fn caller(scopes: &[&str]) -> Authenticated {
        Authenticated::new(
            "ops".into(),
            "key_1".into(),
            AuthMethod::ApiKey,
            ScopeSet::parse(scopes.iter().copied()).unwrap(),
        )
    }

    #[test]
    fn keys_manager_cannot_read_the_audit_trail() {
        let who = caller(&[KEYS]);
        assert!(authorize(&who, KEYS).is_ok());
        assert_eq!(authorize(&who, AUDIT_READ).unwrap_err().needed, AUDIT_READ);
    }

    #[test]
    fn admin_is_authorized_for_every_gatehouse_scope() {
        let who = caller(&[ADMIN]);
        assert!(authorize(&who, AUDIT_READ).is_ok());
        assert!(authorize(&who, KEYS).is_ok());
    }

    #[test]
    fn cannot_mint_scopes_not_held() {
        let mine = ScopeSet::parse([KEYS, "orders:read"]).unwrap();
        assert!(may_mint(&mine, &ScopeSet::parse(["orders:read"]).unwrap()).is_ok());
        let err = may_mint(
            &mine,
            &ScopeSet::parse(["orders:read", ADMIN, "orders:write"]).unwrap(),
        )
        .unwrap_err();
        assert_eq!(
            err.missing,
            vec![ADMIN.to_owned(), "orders:write".to_owned()]
        );
    }

    #[test]
    fn admin_may_mint_anything() {
        let admin = ScopeSet::parse([ADMIN]).unwrap();
        assert!(may_mint(&admin, &ScopeSet::parse(["orders:write", KEYS]).unwrap()).is_ok());
    }

    #[test]
    fn keys_manager_cannot_manage_the_admin_key() {
        let mine = ScopeSet::parse([KEYS]).unwrap();
        assert!(may_manage(&mine, &ScopeSet::parse([ADMIN]).unwrap()).is_err());
    }
}
