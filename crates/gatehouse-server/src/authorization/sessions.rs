//! Browser sessions: who is signed in to Gatehouse's own pages, so that a second
//! client asking for authorization does not ask for the password again.
//!
//! The cookie value is 43 random base62 characters (about 256 bits). The table keeps
//! only its SHA-256, so a memory dump or a debug print gives no usable cookie.

use super::{digest, random_token};
use gatehouse_core::{EntropyUnavailable, UnixTime};
use parking_lot::Mutex;
use std::collections::HashMap;

/// The session cookie's name.
pub const COOKIE: &str = "gatehouse_session";

/// A session ends this long after sign-in however active it is: 8 hours, in
/// milliseconds (a working day).
pub const ABSOLUTE_LIFETIME_MS: i64 = 8 * 60 * 60 * 1000;

/// A session ends after this long unused: 30 minutes, in milliseconds, so an
/// unattended browser soon stops granting codes.
pub const IDLE_LIFETIME_MS: i64 = 30 * 60 * 1000;

/// Sessions held at most. Past it, expired ones go, then the least recently used
/// live one: a session is cheap to recreate (sign in again), so a flood of sign-ins
/// costs other users a sign-in rather than costing the server its memory.
pub const CAPACITY: usize = 100_000;

/// Characters in a cookie value.
const COOKIE_LEN: usize = 43;

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The user's id.
    pub user_id: String,
    /// When the user signed in: the OpenID Connect `auth_time`.
    pub created_at: UnixTime,
    /// When the session was last used.
    pub last_seen: UnixTime,
}

impl Session {
    fn expired(&self, now: UnixTime) -> bool {
        now >= self.created_at.plus_millis(ABSOLUTE_LIFETIME_MS)
            || now >= self.last_seen.plus_millis(IDLE_LIFETIME_MS)
    }
}

/// The sessions, by SHA-256 of the cookie value.
#[derive(Debug, Default)]
pub struct Sessions {
    by_digest: Mutex<HashMap<[u8; 32], Session>>,
}

impl Sessions {
    /// Opens a session for `user_id`; returns the cookie value to send and the session.
    pub fn create(
        &self,
        user_id: &str,
        now: UnixTime,
    ) -> Result<(String, Session), EntropyUnavailable> {
        let cookie = random_token::<COOKIE_LEN>()?;
        let session = Session {
            user_id: user_id.to_owned(),
            created_at: now,
            last_seen: now,
        };
        let mut by_digest = self.by_digest.lock();
        if by_digest.len() >= CAPACITY {
            by_digest.retain(|_, s| !s.expired(now));
            if by_digest.len() >= CAPACITY {
                let idlest = by_digest
                    .iter()
                    .min_by_key(|(_, s)| s.last_seen)
                    .map(|(k, _)| *k);
                if let Some(key) = idlest {
                    by_digest.remove(&key);
                }
            }
        }
        by_digest.insert(digest(&cookie), session.clone());
        Ok((cookie, session))
    }

    /// The session a cookie names, unless it is unknown or expired; marks it used
    /// at `now`, which restarts its idle lifetime.
    pub fn get(&self, cookie: &str, now: UnixTime) -> Option<Session> {
        let key = digest(cookie);
        let mut by_digest = self.by_digest.lock();
        let session = by_digest.get_mut(&key)?;
        if session.expired(now) {
            by_digest.remove(&key);
            return None;
        }
        // Requests may be handled out of order; last_seen never moves back.
        session.last_seen = session.last_seen.max(now);
        Some(session.clone())
    }

    /// Ends the session a cookie names (sign-out).
    pub fn remove(&self, cookie: &str) {
        self.by_digest.lock().remove(&digest(cookie));
    }

    /// Ends every session of `user_id`: call it when the user is disabled or
    /// deleted, or their password changes.
    pub fn remove_user(&self, user_id: &str) {
        self.by_digest.lock().retain(|_, s| s.user_id != user_id);
    }

    /// Forgets every session expired at `now`.
    pub fn prune(&self, now: UnixTime) {
        self.by_digest.lock().retain(|_, s| !s.expired(now));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_digest.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::base62;

    const T0: UnixTime = UnixTime::from_millis(1_700_000_000_000);
    const MINUTE: i64 = 60 * 1000;

    #[test]
    fn a_new_session_is_found_by_its_cookie() {
        let sessions = Sessions::default();
        let (cookie, session) = sessions.create("u1", T0).unwrap();
        assert_eq!(cookie.len(), 43);
        assert!(cookie.bytes().all(base62::is_digit));
        assert_eq!(session.created_at, T0);
        let found = sessions.get(&cookie, T0.plus_millis(MINUTE)).unwrap();
        assert_eq!(found.user_id, "u1");
        assert_eq!(found.last_seen, T0.plus_millis(MINUTE));
        assert!(sessions.get("not a cookie", T0).is_none());
    }

    #[test]
    fn the_table_never_holds_the_cookie_itself() {
        let sessions = Sessions::default();
        let (cookie, _) = sessions.create("u1", T0).unwrap();
        let dump = format!("{:?}", sessions.by_digest.lock());
        assert!(!dump.contains(&cookie));
    }

    #[test]
    fn a_session_unused_for_thirty_minutes_expires() {
        let sessions = Sessions::default();
        let (cookie, _) = sessions.create("u1", T0).unwrap();
        assert!(
            sessions
                .get(&cookie, T0.plus_millis(30 * MINUTE - 1))
                .is_some()
        );
        let idle_from = T0.plus_millis(30 * MINUTE - 1);
        assert!(
            sessions
                .get(&cookie, idle_from.plus_millis(30 * MINUTE))
                .is_none()
        );
    }

    #[test]
    fn use_keeps_a_session_alive_but_not_past_eight_hours() {
        let sessions = Sessions::default();
        let (cookie, _) = sessions.create("u1", T0).unwrap();
        let mut at = T0;
        // Used every 20 minutes, it survives the idle limit all day…
        while at < T0.plus_millis(ABSOLUTE_LIFETIME_MS - 20 * MINUTE) {
            at = at.plus_millis(20 * MINUTE);
            assert!(sessions.get(&cookie, at).is_some(), "alive at {at:?}");
        }
        // …and ends at eight hours regardless.
        assert!(
            sessions
                .get(&cookie, T0.plus_millis(ABSOLUTE_LIFETIME_MS))
                .is_none()
        );
    }

    #[test]
    fn remove_ends_one_session() {
        let sessions = Sessions::default();
        let (a, _) = sessions.create("u1", T0).unwrap();
        let (b, _) = sessions.create("u1", T0).unwrap();
        sessions.remove(&a);
        assert!(sessions.get(&a, T0).is_none());
        assert!(sessions.get(&b, T0).is_some());
    }

    #[test]
    fn remove_user_ends_every_session_of_that_user_only() {
        let sessions = Sessions::default();
        let (a, _) = sessions.create("u1", T0).unwrap();
        let (b, _) = sessions.create("u1", T0).unwrap();
        let (c, _) = sessions.create("u2", T0).unwrap();
        sessions.remove_user("u1");
        assert!(sessions.get(&a, T0).is_none());
        assert!(sessions.get(&b, T0).is_none());
        assert!(sessions.get(&c, T0).is_some());
    }

    #[test]
    fn a_full_table_drops_expired_sessions_then_the_least_recently_used() {
        let sessions = Sessions::default();
        {
            let mut by_digest = sessions.by_digest.lock();
            for i in 0..CAPACITY {
                let mut key = [0u8; 32];
                key[..8].copy_from_slice(&(i as u64).to_le_bytes());
                let at = T0.plus_millis(i64::try_from(i).unwrap());
                let session = Session {
                    user_id: format!("u{i}"),
                    created_at: at,
                    last_seen: at,
                };
                by_digest.insert(key, session);
            }
        }
        let later = T0.plus_millis(200_000);
        let (cookie, _) = sessions.create("new", later).unwrap();
        assert_eq!(sessions.len(), CAPACITY);
        assert!(sessions.get(&cookie, later).is_some());
        let users: Vec<String> = {
            let by_digest = sessions.by_digest.lock();
            by_digest.values().map(|s| s.user_id.clone()).collect()
        };
        assert!(!users.contains(&"u0".to_owned()), "the idlest one went");
        assert!(users.contains(&"u1".to_owned()));

        // Once they have all expired, one pass makes room for many.
        let (_, _) = sessions
            .create("newer", later.plus_millis(IDLE_LIFETIME_MS - 1))
            .unwrap();
        assert_eq!(sessions.len(), 2);
    }
}
