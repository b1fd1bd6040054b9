//! Remembered consent: the scopes a user has approved for a client, so the consent
//! page is shown again only when a client asks for more. The user (or an admin on
//! their behalf) can withdraw it, which also ends the client's refresh tokens.

use crate::scope::ScopeSet;
use crate::time::UnixTime;

/// What a user approved for one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// The user.
    pub user_id: String,
    /// The client.
    pub client_id: String,
    /// Every scope approved so far for this client.
    pub scopes: ScopeSet,
    /// First approval.
    pub granted_at: UnixTime,
    /// Last approval that changed or confirmed it.
    pub updated_at: UnixTime,
}

impl Consent {
    /// Whether every scope in `asked` was approved before, so the user need not be
    /// asked again.
    pub fn covers(&self, asked: &ScopeSet) -> bool {
        asked.iter().all(|s| self.scopes.contains(s.as_str()))
    }

    /// The consent of `user_id` for `client_id` after they approve `approved` at
    /// `now`, given what they had approved before: the union (approving a narrower
    /// request withdraws nothing; withdrawal is explicit).
    pub fn approve(
        user_id: &str,
        client_id: &str,
        previous: Option<&Self>,
        approved: &ScopeSet,
        now: UnixTime,
    ) -> Self {
        let before = previous.filter(|p| p.user_id == user_id && p.client_id == client_id);
        let scopes = before.map_or_else(
            || approved.clone(),
            |p| ScopeSet::new(p.scopes.iter().chain(approved.iter()).cloned()),
        );
        Self {
            user_id: user_id.to_owned(),
            client_id: client_id.to_owned(),
            scopes,
            granted_at: before.map_or(now, |p| p.granted_at),
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: UnixTime = UnixTime::from_millis(1_700_000_000_000);

    fn scopes(s: &[&str]) -> ScopeSet {
        ScopeSet::parse(s.iter().copied()).unwrap()
    }

    #[test]
    fn approvals_accumulate_and_cover_what_was_approved() {
        let first = Consent::approve("usr_1", "app", None, &scopes(&["openid", "a"]), T0);
        assert!(first.covers(&scopes(&["a"])));
        assert!(first.covers(&scopes(&[])));
        assert!(!first.covers(&scopes(&["a", "b"])));

        let later = T0.plus_millis(5000);
        let second = Consent::approve("usr_1", "app", Some(&first), &scopes(&["b"]), later);
        assert_eq!(second.scopes, scopes(&["openid", "a", "b"]));
        assert_eq!(second.granted_at, T0);
        assert_eq!(second.updated_at, later);
    }

    #[test]
    fn a_previous_consent_of_someone_else_is_ignored() {
        let other = Consent::approve("usr_2", "app", None, &scopes(&["admin"]), T0);
        let mine = Consent::approve("usr_1", "app", Some(&other), &scopes(&["a"]), T0);
        assert_eq!(mine.scopes, scopes(&["a"]));
        assert_eq!(mine.user_id, "usr_1");
    }
}
