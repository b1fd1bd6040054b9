//! The server-side state of the authorization code flow (RFC 6749 §4.1 with PKCE,
//! RFC 7636): everything that lives between a browser's `GET /oauth/authorize` and
//! the client's token request.
//!
//! # The flow
//!
//! 1. `GET /oauth/authorize` is checked by core (`oauth::authorize::check`). A good
//!    request becomes a [`PendingRequest`] with a random id and CSRF token, which the
//!    login and consent forms carry as hidden fields.
//! 2. The user signs in (unless a [`Session`] cookie already names them). Attempts
//!    are reserved in the [`LoginThrottle`] before the password is hashed; a success
//!    opens a session and [`PendingRequests::set_user`] records who signed in.
//! 3. The user approves or denies on the consent page. Either way the pending request
//!    is taken (used once); approval issues a code bound to the client, redirect URI,
//!    user, scopes and PKCE challenge ([`CodeGrant`]).
//! 4. The token endpoint redeems the code once ([`Codes::redeem`]). A second
//!    redemption is a stolen or replayed code: it returns the token ids the first one
//!    issued, so they can be revoked (RFC 6749 §4.1.2).
//!
//! # Why these lifetimes
//!
//! - **Pending request, 10 minutes**: long enough to type a password, look up a
//!   forgotten one and read the consent page; short enough that an abandoned tab's
//!   hidden fields soon stop working.
//! - **Session, 8 hours absolute and 30 minutes idle**: a working day without
//!   signing in again, while a browser left unattended stops granting codes after
//!   half an hour, and no cookie lives past the day however busy it is.
//! - **Code, 60 seconds**: the client redeems it immediately after the redirect;
//!   RFC 6749 §4.1.2 recommends at most 10 minutes, and every second more is a
//!   second for a leaked code (referrer, history, logs) to be used.
//! - **Spent code, 10 more minutes**: a replay is detected, and the first
//!   redemption's tokens revoked, if it comes soon after; later, the code is
//!   merely unknown (and its access token has mostly expired anyway).
//! - **Throttle window and lock, 15 minutes**: see [`throttle`].
//!
//! Everything is in memory and bounded: a restart ends every flow in progress and
//! every browser session, which costs the users one more sign-in. Nothing here reads
//! a clock; every method takes `now`.

pub mod codes;
pub mod pending;
pub mod sessions;
pub mod throttle;

pub use codes::{CodeGrant, Codes, IssuedToken, Redemption};
pub use pending::{PendingRequest, PendingRequests};
pub use sessions::{COOKIE, Session, Sessions};
pub use throttle::{ClientSecretThrottle, LoginThrottle, Verdict};

use crate::entropy::OsEntropy;
use gatehouse_core::{EntropyUnavailable, UnixTime, base62};
use sha2::{Digest, Sha256};

/// Why a pending request or a code could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationError {
    /// The system random number generator failed; nothing secret can be made.
    #[error("the system random number generator is unavailable")]
    EntropyUnavailable,
    /// The table is full of live entries. New flows are refused rather than letting
    /// memory grow without bound or forgetting a flow someone is in the middle of.
    #[error("too many authorization requests are in progress")]
    Full,
}

impl From<EntropyUnavailable> for AuthorizationError {
    fn from(_: EntropyUnavailable) -> Self {
        Self::EntropyUnavailable
    }
}

/// All authorization-flow state, shared by the `/oauth/authorize` handlers and the
/// token endpoint.
#[derive(Debug, Default)]
pub struct Authorizations {
    /// Authorization requests waiting for login and consent.
    pub pending: PendingRequests,
    /// Browser sessions of signed-in users.
    pub sessions: Sessions,
    /// Issued authorization codes, and recently spent ones.
    pub codes: Codes,
    /// Failed-login counters.
    pub throttle: LoginThrottle,
    /// Wrong-client-secret counters (the token, introspection and revocation
    /// endpoints share them).
    pub client_secrets: ClientSecretThrottle,
}

impl Authorizations {
    /// Forgets everything expired at `now`. Each table also prunes itself when it
    /// fills; calling this periodically keeps memory low between bursts.
    pub fn prune(&self, now: UnixTime) {
        self.pending.prune(now);
        self.sessions.prune(now);
        self.codes.prune(now);
        self.throttle.prune(now);
        self.client_secrets.prune(now);
    }
}

/// `N` random base62 characters from the operating system.
fn random_token<const N: usize>() -> Result<String, EntropyUnavailable> {
    let mut buf = [0u8; N];
    base62::fill_random(&mut buf, &mut OsEntropy)?;
    Ok(buf.iter().map(|&b| char::from(b)).collect())
}

/// The SHA-256 of a bearer secret (cookie value, code). Tables are keyed by it so
/// that a memory dump or a debug print of a table yields nothing usable: the secret
/// itself is never stored. Looking a digest up in a hash map leaks no more than the
/// digest, which does not help guess the secret.
fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_are_base62_of_the_asked_length_and_differ() {
        let a = random_token::<43>().unwrap();
        let b = random_token::<43>().unwrap();
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(base62::is_digit));
        assert_ne!(a, b);
    }

    #[test]
    fn prune_empties_every_table_once_everything_has_expired() {
        let all = Authorizations::default();
        let t0 = UnixTime::from_millis(1_700_000_000_000);
        let (cookie, _) = all.sessions.create("u1", t0).unwrap();
        let verdict = all
            .throttle
            .attempt("alice", "192.0.2.1".parse().unwrap(), t0);
        assert_eq!(verdict, Verdict::Allow);
        all.prune(t0.plus_millis(24 * 60 * 60 * 1000));
        assert!(all.sessions.get(&cookie, t0).is_none());
        assert_eq!(all.throttle.len(), 0);
    }
}
