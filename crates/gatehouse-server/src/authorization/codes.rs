//! Authorization codes (RFC 6749 §4.1.2): issued after consent, redeemed once at the
//! token endpoint.
//!
//! A code is 43 random base62 characters (about 256 bits) and the table keeps only
//! its SHA-256. A redeemed code is not forgotten at once: it stays "spent" for
//! [`REPLAY_WINDOW_MS`] past its lifetime, remembering the ids of the tokens it
//! bought, so that a second redemption — the code leaked and someone raced the client,
//! or the client retried after the attacker — revokes them (RFC 6749 §4.1.2,
//! RFC 9700 §4.5).

use super::{AuthorizationError, digest, random_token};
use gatehouse_core::UnixTime;
use gatehouse_core::oauth::CodeChallenge;
use gatehouse_core::scope::ScopeSet;
use parking_lot::Mutex;
use std::collections::HashMap;

/// How long a code may be redeemed: 60 seconds, in milliseconds. The client redeems
/// it right after the redirect; RFC 6749 §4.1.2 allows up to 10 minutes, but each
/// second more is a second for a code leaked through history or logs.
pub const LIFETIME_MS: i64 = 60 * 1000;

/// How long past its lifetime a spent code is remembered to catch replays:
/// 10 minutes, in milliseconds.
pub const REPLAY_WINDOW_MS: i64 = 10 * 60 * 1000;

/// Codes held at most, unused and spent together. Past it, expired ones go, then new
/// codes are refused until some expire: forgetting a spent code early would let its
/// replay go unnoticed.
pub const CAPACITY: usize = 100_000;

/// Characters in a code.
const CODE_LEN: usize = 43;

/// What a code was issued for: everything the token request is checked against and
/// the tokens are made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeGrant {
    /// The client it was issued to; only that client may redeem it.
    pub client_id: String,
    /// The redirect URI of the authorization request, which the token request must
    /// repeat exactly (RFC 6749 §4.1.3).
    pub redirect_uri: String,
    /// The user who approved.
    pub user_id: String,
    /// The scopes granted.
    pub scopes: ScopeSet,
    /// The PKCE challenge the token request's verifier must answer.
    pub challenge: CodeChallenge,
    /// OpenID Connect nonce, for the ID token.
    pub nonce: Option<String>,
    /// When the user signed in, for the ID token's `auth_time`.
    pub auth_time: UnixTime,
}

/// A token a code's redemption issued, remembered so a replay can revoke it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuedToken {
    /// An access token, by `jti`.
    Access(String),
    /// A refresh token family, by family id.
    RefreshFamily(String),
}

/// The outcome of presenting a code at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// The first redemption of a live code. The caller checks client, redirect URI
    /// and PKCE against the grant, issues tokens, then calls [`Codes::record_issued`]
    /// for each. The code is spent even if those checks fail.
    Fresh(CodeGrant),
    /// The code was redeemed before: an `invalid_grant`, and the caller must revoke
    /// every token in `issued`, which the earlier redemption issued.
    Replayed {
        /// The tokens the first redemption issued.
        issued: Vec<IssuedToken>,
    },
    /// Never issued, expired, or spent so long ago that it has been forgotten: an
    /// `invalid_grant`.
    Unknown,
}

#[derive(Debug)]
enum State {
    Unused(CodeGrant),
    Spent {
        issued: Vec<IssuedToken>,
        /// Set by the first replay; tokens recorded afterwards must be revoked by
        /// their issuer, since the replay's revocation has already run.
        replayed: bool,
    },
}

#[derive(Debug)]
struct Entry {
    issued_at: UnixTime,
    state: State,
}

impl Entry {
    fn expired(&self, now: UnixTime) -> bool {
        let life = match self.state {
            State::Unused(_) => LIFETIME_MS,
            State::Spent { .. } => LIFETIME_MS + REPLAY_WINDOW_MS,
        };
        now >= self.issued_at.plus_millis(life)
    }
}

/// Issued codes, by SHA-256.
#[derive(Debug, Default)]
pub struct Codes {
    by_digest: Mutex<HashMap<[u8; 32], Entry>>,
}

impl Codes {
    /// Issues a code for `grant`; returns the code to put in the redirect.
    pub fn issue(&self, grant: CodeGrant, now: UnixTime) -> Result<String, AuthorizationError> {
        let code = random_token::<CODE_LEN>()?;
        let mut by_digest = self.by_digest.lock();
        if by_digest.len() >= CAPACITY {
            by_digest.retain(|_, e| !e.expired(now));
            if by_digest.len() >= CAPACITY {
                return Err(AuthorizationError::Full);
            }
        }
        let entry = Entry {
            issued_at: now,
            state: State::Unused(grant),
        };
        by_digest.insert(digest(&code), entry);
        Ok(code)
    }

    /// Redeems `code`. Lookup and marking it spent happen under one lock, so of any
    /// number of concurrent redemptions exactly one is [`Redemption::Fresh`].
    pub fn redeem(&self, code: &str, now: UnixTime) -> Redemption {
        let key = digest(code);
        let mut by_digest = self.by_digest.lock();
        let Some(entry) = by_digest.get_mut(&key) else {
            return Redemption::Unknown;
        };
        if entry.expired(now) {
            by_digest.remove(&key);
            return Redemption::Unknown;
        }
        let spent = State::Spent {
            issued: Vec::new(),
            replayed: false,
        };
        match std::mem::replace(&mut entry.state, spent) {
            State::Unused(grant) => Redemption::Fresh(grant),
            State::Spent { issued, .. } => {
                entry.state = State::Spent {
                    issued: issued.clone(),
                    replayed: true,
                };
                Redemption::Replayed { issued }
            }
        }
    }

    /// Attaches a token that a [`Redemption::Fresh`] of `code` issued, so a replay can
    /// revoke it. Returns false if the code was replayed in the meantime
    /// (or is unknown): the replay could not revoke this token, so the caller must.
    pub fn record_issued(&self, code: &str, token: IssuedToken) -> bool {
        let mut by_digest = self.by_digest.lock();
        match by_digest.get_mut(&digest(code)).map(|e| &mut e.state) {
            Some(State::Spent {
                issued,
                replayed: false,
            }) => {
                issued.push(token);
                true
            }
            Some(State::Spent { replayed: true, .. } | State::Unused(_)) | None => false,
        }
    }

    /// Forgets every code expired at `now`, and every spent code past its replay
    /// window.
    pub fn prune(&self, now: UnixTime) {
        self.by_digest.lock().retain(|_, e| !e.expired(now));
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
    use std::sync::{Arc, Barrier};

    const T0: UnixTime = UnixTime::from_millis(1_700_000_000_000);

    fn grant() -> CodeGrant {
        CodeGrant {
            client_id: "app".to_owned(),
            redirect_uri: "https://app.example/cb".to_owned(),
            user_id: "u1".to_owned(),
            scopes: ScopeSet::parse(["openid", "profile"]).unwrap(),
            challenge: CodeChallenge::parse(
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                Some("S256"),
            )
            .unwrap(),
            nonce: Some("n-0S6_WzA2Mj".to_owned()),
            auth_time: T0,
        }
    }

    #[test]
    fn a_code_is_redeemed_once_for_its_grant() {
        let codes = Codes::default();
        let code = codes.issue(grant(), T0).unwrap();
        assert_eq!(code.len(), 43);
        assert!(code.bytes().all(base62::is_digit));
        assert_eq!(
            codes.redeem(&code, T0.plus_millis(500)),
            Redemption::Fresh(grant())
        );
        assert!(matches!(
            codes.redeem(&code, T0.plus_millis(600)),
            Redemption::Replayed { .. }
        ));
    }

    #[test]
    fn an_unknown_code_is_unknown() {
        let codes = Codes::default();
        codes.issue(grant(), T0).unwrap();
        assert_eq!(codes.redeem("nonsense", T0), Redemption::Unknown);
    }

    #[test]
    fn a_code_expires_after_sixty_seconds() {
        let codes = Codes::default();
        let late = codes.issue(grant(), T0).unwrap();
        let in_time = codes.issue(grant(), T0).unwrap();
        assert!(matches!(
            codes.redeem(&in_time, T0.plus_millis(LIFETIME_MS - 1)),
            Redemption::Fresh(_)
        ));
        assert_eq!(
            codes.redeem(&late, T0.plus_millis(LIFETIME_MS)),
            Redemption::Unknown
        );
    }

    #[test]
    fn a_replay_returns_the_tokens_the_first_redemption_issued() {
        let codes = Codes::default();
        let code = codes.issue(grant(), T0).unwrap();
        assert!(matches!(codes.redeem(&code, T0), Redemption::Fresh(_)));
        let access = IssuedToken::Access("jti-access".to_owned());
        let family = IssuedToken::RefreshFamily("rt_family".to_owned());
        assert!(codes.record_issued(&code, access.clone()));
        assert!(codes.record_issued(&code, family.clone()));
        let replay_at = T0.plus_millis(LIFETIME_MS + REPLAY_WINDOW_MS - 1);
        assert_eq!(
            codes.redeem(&code, replay_at),
            Redemption::Replayed {
                issued: vec![access, family]
            }
        );
    }

    #[test]
    fn a_spent_code_is_forgotten_after_the_replay_window() {
        let codes = Codes::default();
        let code = codes.issue(grant(), T0).unwrap();
        assert!(matches!(codes.redeem(&code, T0), Redemption::Fresh(_)));
        let after = T0.plus_millis(LIFETIME_MS + REPLAY_WINDOW_MS);
        codes.prune(after.plus_millis(-1));
        assert_eq!(codes.len(), 1);
        codes.prune(after);
        assert_eq!(codes.len(), 0);
        assert_eq!(codes.redeem(&code, after), Redemption::Unknown);
    }

    #[test]
    fn tokens_recorded_after_a_replay_are_left_to_the_caller_to_revoke() {
        let codes = Codes::default();
        let code = codes.issue(grant(), T0).unwrap();
        assert!(matches!(codes.redeem(&code, T0), Redemption::Fresh(_)));
        assert_eq!(
            codes.redeem(&code, T0),
            Redemption::Replayed { issued: Vec::new() }
        );
        assert!(!codes.record_issued(&code, IssuedToken::Access("jti-late".to_owned())));
    }

    #[test]
    fn an_unredeemed_code_records_nothing() {
        let codes = Codes::default();
        let code = codes.issue(grant(), T0).unwrap();
        let jti = IssuedToken::Access("jti".to_owned());
        assert!(!codes.record_issued(&code, jti.clone()));
        assert!(!codes.record_issued("unknown", jti));
        assert_eq!(codes.redeem(&code, T0), Redemption::Fresh(grant()));
    }

    #[test]
    fn of_eight_concurrent_redemptions_exactly_one_is_fresh() {
        let codes = Arc::new(Codes::default());
        let code = codes.issue(grant(), T0).unwrap();
        let start = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (codes, code, start) = (codes.clone(), code.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    codes.redeem(&code, T0)
                })
            })
            .collect();
        let outcomes: Vec<Redemption> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let fresh = outcomes
            .iter()
            .filter(|r| matches!(r, Redemption::Fresh(_)))
            .count();
        let replayed = outcomes
            .iter()
            .filter(|r| matches!(r, Redemption::Replayed { .. }))
            .count();
        assert_eq!((fresh, replayed), (1, 7));
    }

    #[test]
    fn a_full_table_drops_expired_codes_then_refuses_new_ones() {
        let codes = Codes::default();
        {
            let mut by_digest = codes.by_digest.lock();
            for i in 0..CAPACITY {
                let mut key = [0u8; 32];
                key[..8].copy_from_slice(&(i as u64).to_le_bytes());
                // Unused codes issued at T0 expire at T0 + 60 s; spent ones live on.
                let state = if i % 2 == 0 {
                    State::Unused(grant())
                } else {
                    State::Spent {
                        issued: Vec::new(),
                        replayed: false,
                    }
                };
                by_digest.insert(
                    key,
                    Entry {
                        issued_at: T0,
                        state,
                    },
                );
            }
        }
        let in_lifetime = T0.plus_millis(LIFETIME_MS - 1);
        assert_eq!(
            codes.issue(grant(), in_lifetime),
            Err(AuthorizationError::Full)
        );
        assert!(codes.issue(grant(), T0.plus_millis(LIFETIME_MS)).is_ok());
        assert_eq!(codes.len(), CAPACITY / 2 + 1);
    }
}
