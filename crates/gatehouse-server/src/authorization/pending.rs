//! Authorization requests between `GET /oauth/authorize` and the consent decision.
//!
//! The id names the request in the login and consent forms; the CSRF token proves a
//! form post came from the page Gatehouse rendered for it. Both are random (32 base62
//! characters, about 190 bits), so one request's id cannot be guessed from another's.

use super::{AuthorizationError, random_token};
use gatehouse_core::UnixTime;
use gatehouse_core::oauth::authorize::Authorization;
use parking_lot::Mutex;
use std::collections::HashMap;

/// How long a request waits for login and consent: 10 minutes, in milliseconds.
pub const LIFETIME_MS: i64 = 10 * 60 * 1000;

/// Requests held at most. Past it, expired ones go, then new requests are refused
/// until some expire: each is a few hundred bytes, so this caps the table near
/// 50 MB, and refusing beats forgetting a request someone is filling in.
pub const CAPACITY: usize = 100_000;

/// Characters in a request id and in a CSRF token.
const TOKEN_LEN: usize = 32;

/// An authorization request waiting for login and consent.
#[derive(Debug, Clone)]
pub struct PendingRequest {
    /// Random id, carried by the forms as the hidden field `request`.
    pub id: String,
    /// Random token the forms must echo as the hidden field `csrf`.
    pub csrf: String,
    /// What the client asked for, as checked by core.
    pub authorization: Authorization,
    /// When the request arrived; it expires [`LIFETIME_MS`] later.
    pub created_at: UnixTime,
    /// Who signed in for it, once someone has.
    pub user_id: Option<String>,
}

impl PendingRequest {
    /// Whether `presented` is this request's CSRF token, compared in constant time
    /// so response timing does not reveal how much of a guess was right.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        let (a, b) = (self.csrf.as_bytes(), presented.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    fn expired(&self, now: UnixTime) -> bool {
        now >= self.created_at.plus_millis(LIFETIME_MS)
    }
}

/// The pending requests, by id.
#[derive(Debug, Default)]
pub struct PendingRequests {
    by_id: Mutex<HashMap<String, PendingRequest>>,
}

impl PendingRequests {
    /// Stores a checked authorization request and returns it with its new id and
    /// CSRF token.
    pub fn create(
        &self,
        authorization: Authorization,
        now: UnixTime,
    ) -> Result<PendingRequest, AuthorizationError> {
        // Randomness first, outside the lock: it is a system call.
        let request = PendingRequest {
            id: random_token::<TOKEN_LEN>()?,
            csrf: random_token::<TOKEN_LEN>()?,
            authorization,
            created_at: now,
            user_id: None,
        };
        let mut by_id = self.by_id.lock();
        if by_id.len() >= CAPACITY {
            by_id.retain(|_, r| !r.expired(now));
            if by_id.len() >= CAPACITY {
                return Err(AuthorizationError::Full);
            }
        }
        by_id.insert(request.id.clone(), request.clone());
        Ok(request)
    }

    /// The request `id`, unless it is unknown or expired.
    pub fn get(&self, id: &str, now: UnixTime) -> Option<PendingRequest> {
        let mut by_id = self.by_id.lock();
        let request = by_id.get(id)?;
        if request.expired(now) {
            by_id.remove(id);
            return None;
        }
        Some(request.clone())
    }

    /// Records that `user_id` signed in for request `id`; false if the request is
    /// unknown or expired. A later sign-in (say, as another account) replaces it.
    pub fn set_user(&self, id: &str, user_id: &str, now: UnixTime) -> bool {
        let mut by_id = self.by_id.lock();
        match by_id.get_mut(id) {
            Some(request) if !request.expired(now) => {
                request.user_id = Some(user_id.to_owned());
                true
            }
            Some(_) => {
                by_id.remove(id);
                false
            }
            None => false,
        }
    }

    /// Removes and returns request `id`, unless it is unknown or expired. Called once
    /// the user decides, so a request yields at most one code or one denial.
    pub fn take(&self, id: &str, now: UnixTime) -> Option<PendingRequest> {
        self.by_id.lock().remove(id).filter(|r| !r.expired(now))
    }

    /// Forgets every request expired at `now`.
    pub fn prune(&self, now: UnixTime) {
        self.by_id.lock().retain(|_, r| !r.expired(now));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_id.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::oauth::authorize::Prompt;
    use gatehouse_core::oauth::{ClientKind, CodeChallenge, RedirectUri, verify_redirect};
    use gatehouse_core::scope::ScopeSet;

    const T0: UnixTime = UnixTime::from_millis(1_700_000_000_000);

    fn authorization() -> Authorization {
        let registered = [RedirectUri::parse("https://app.example/cb").unwrap()];
        Authorization {
            client_id: "app".to_owned(),
            redirect_uri: verify_redirect(
                &registered,
                "https://app.example/cb",
                ClientKind::Confidential,
            )
            .unwrap(),
            scopes: ScopeSet::parse(["openid"]).unwrap(),
            state: Some("xyz".to_owned()),
            challenge: CodeChallenge::parse(
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                Some("S256"),
            )
            .unwrap(),
            nonce: None,
            prompt: Prompt::default(),
        }
    }

    #[test]
    fn a_created_request_has_random_id_and_csrf_and_can_be_read_back() {
        let pending = PendingRequests::default();
        let a = pending.create(authorization(), T0).unwrap();
        let b = pending.create(authorization(), T0).unwrap();
        assert_eq!((a.id.len(), a.csrf.len()), (32, 32));
        assert_ne!(a.id, b.id);
        assert_ne!(a.id, a.csrf);
        let read = pending.get(&a.id, T0.plus_millis(1000)).unwrap();
        assert_eq!(read.csrf, a.csrf);
        assert_eq!(read.authorization.client_id, "app");
        assert!(read.user_id.is_none());
    }

    #[test]
    fn a_request_expires_after_ten_minutes() {
        let pending = PendingRequests::default();
        let r = pending.create(authorization(), T0).unwrap();
        assert!(
            pending
                .get(&r.id, T0.plus_millis(LIFETIME_MS - 1))
                .is_some()
        );
        assert!(pending.get(&r.id, T0.plus_millis(LIFETIME_MS)).is_none());
        // Expired on read means gone, even if asked about at an earlier time.
        assert!(pending.get(&r.id, T0).is_none());
    }

    #[test]
    fn take_yields_a_request_only_once() {
        let pending = PendingRequests::default();
        let r = pending.create(authorization(), T0).unwrap();
        assert!(pending.take(&r.id, T0).is_some());
        assert!(pending.take(&r.id, T0).is_none());
        assert!(pending.get(&r.id, T0).is_none());
    }

    #[test]
    fn an_expired_request_cannot_be_taken() {
        let pending = PendingRequests::default();
        let r = pending.create(authorization(), T0).unwrap();
        assert!(pending.take(&r.id, T0.plus_millis(LIFETIME_MS)).is_none());
    }

    #[test]
    fn set_user_records_who_signed_in_until_the_request_expires() {
        let pending = PendingRequests::default();
        let r = pending.create(authorization(), T0).unwrap();
        assert!(pending.set_user(&r.id, "u1", T0));
        assert_eq!(
            pending.get(&r.id, T0).unwrap().user_id.as_deref(),
            Some("u1")
        );
        assert!(!pending.set_user("unknown", "u1", T0));
        assert!(!pending.set_user(&r.id, "u2", T0.plus_millis(LIFETIME_MS)));
    }

    #[test]
    fn csrf_matches_only_the_exact_token() {
        let pending = PendingRequests::default();
        let r = pending.create(authorization(), T0).unwrap();
        assert!(r.csrf_matches(&r.csrf.clone()));
        assert!(!r.csrf_matches(""));
        assert!(!r.csrf_matches(&r.csrf[..31]));
        // The last character changed: to 'x', unless it is one already (base62: 1 run in 62).
        let other = if r.csrf.ends_with('x') { 'y' } else { 'x' };
        assert!(!r.csrf_matches(&format!("{}{other}", &r.csrf[..31])));
    }

    #[test]
    fn a_full_table_drops_expired_requests_then_refuses_new_ones() {
        let pending = PendingRequests::default();
        {
            let template = pending.create(authorization(), T0).unwrap();
            let mut by_id = pending.by_id.lock();
            by_id.clear();
            for i in 0..CAPACITY {
                let mut r = template.clone();
                r.id = format!("id{i}");
                // Half expire a minute after T0, half stay live.
                if i % 2 == 0 {
                    r.created_at = T0.plus_millis(60_000 - LIFETIME_MS);
                }
                by_id.insert(r.id.clone(), r);
            }
        }
        assert_eq!(
            pending.create(authorization(), T0).unwrap_err(),
            AuthorizationError::Full
        );
        let later = T0.plus_millis(60_000);
        assert!(pending.create(authorization(), later).is_ok());
        assert_eq!(pending.len(), CAPACITY / 2 + 1);
    }
}
