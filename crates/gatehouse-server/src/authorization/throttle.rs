//! Throttling of secret guesses: failed sign-ins slow down, then lock, a username and
//! a client IP; failed client secrets lock a client id.
//!
//! # Reserve, then check
//!
//! An attempt is **reserved** before its secret is checked: under one lock, the
//! counters' verdict is read and, if the attempt may go ahead, a failure is recorded
//! at once. The reservation stays a failure unless the check succeeds (then it is
//! released). So N concurrent guesses cannot all be checked against a counter that
//! none of them has updated yet: the policy's limit holds for a burst exactly as for
//! a sequence. An attempt that may not go ahead is refused at once (429 with
//! `Retry-After`) and its secret is never checked; a refused attempt is not counted,
//! so hammering a lock does not lengthen it. A request abandoned mid-check keeps its
//! reservation as a failure, the safe side.
//!
//! # Login policy
//!
//! - Failures are counted in a **15-minute window** opened by the first failure; a
//!   failure after the window has passed starts a new count at one.
//! - After the **3rd** failure in a window, the next attempt must wait **1 s** after
//!   the last failure, then 2 s after the 4th, 4 s after the 5th and **8 s** (the
//!   cap) after every later one. This costs a person who mistyped nothing they
//!   notice, and caps guessing at under 8 tries a minute. Because reservations count,
//!   a burst gets at most 3 password checks, then waits like everyone else.
//! - The **10th** failure for a username, or the **50th** for an IP, **locks** it
//!   for **15 minutes**; then its count starts again from zero. The IP threshold is
//!   higher because many people can share one address (an office's NAT); it exists
//!   for password spraying, one guess at each of many usernames.
//!
//! A username lock can be triggered by anyone who knows the username: that is the
//! price of stopping online guessing against it, bounded at 15 minutes at a time.
//!
//! # Client secret policy
//!
//! The **20th** wrong secret for one client id within **5 minutes** locks that
//! client id's secret authentication for **5 minutes**, the right secret included
//! (answered 429 `invalid_client` with `Retry-After`). Secrets are 256-bit random, so
//! the lock does not protect them from guessing; it stops a flood of guesses from
//! costing anything, and a misconfigured client (an old secret after rotation) shows
//! up as a lock rather than as endless 401s. No delays: machines retry at once.
//!
//! Usernames are counted case-folded, by SHA-256, so that the table holds no
//! plaintext (people sometimes type their password into the username field); client
//! ids by SHA-256 too, so that the table's size does not depend on what is sent. IPv6
//! clients are counted by /64, the block one host usually gets, so an attacker cannot
//! escape the count by moving to another address in it.

use super::digest;
use gatehouse_core::UnixTime;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

/// How long login failures are counted: 15 minutes, in milliseconds.
pub const WINDOW_MS: i64 = 15 * 60 * 1000;

/// How long a login lock lasts: 15 minutes, in milliseconds.
pub const LOCK_MS: i64 = 15 * 60 * 1000;

/// Failures in a window after which attempts are delayed.
pub const DELAY_FROM: u32 = 3;

/// The first delay, in milliseconds; it doubles with each further failure.
pub const FIRST_DELAY_MS: i64 = 1000;

/// The longest delay, in milliseconds.
pub const MAX_DELAY_MS: i64 = 8000;

/// Failures in a window that lock a username.
pub const USERNAME_LOCK_AT: u32 = 10;

/// Failures in a window that lock an IP (or IPv6 /64).
pub const IP_LOCK_AT: u32 = 50;

/// Wrong secrets in a window that lock a client id.
pub const CLIENT_LOCK_AT: u32 = 20;

/// How long wrong client secrets are counted, and how long the lock lasts: 5 minutes.
pub const CLIENT_WINDOW_MS: i64 = 5 * 60 * 1000;

/// Counters held at most per table (usernames, IPs, client ids). Past it, stale ones
/// go, then the one with the oldest failure, preferring unlocked ones: an attacker
/// who floods the table evicts old counts rather than growing memory.
pub const CAPACITY: usize = 100_000;

/// Whether an attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the secret: the attempt is reserved (counted as a failure until it is
    /// released by a success).
    Allow,
    /// Too soon after recent failures: retry after this long (a 429 with
    /// `Retry-After`), without checking the secret.
    Delay(Duration),
    /// Too many failures: refused without checking the secret until `until`.
    Locked {
        /// When the lock ends.
        until: UnixTime,
    },
}

impl Verdict {
    /// The stricter of two verdicts: a lock over a delay over allowing; the later
    /// lock, the longer delay.
    fn stricter(self, other: Self) -> Self {
        match (self, other) {
            (Self::Locked { until: a }, Self::Locked { until: b }) => {
                Self::Locked { until: a.max(b) }
            }
            (locked @ Self::Locked { .. }, _) | (_, locked @ Self::Locked { .. }) => locked,
            (Self::Delay(a), Self::Delay(b)) => Self::Delay(a.max(b)),
            (delay @ Self::Delay(_), Self::Allow) | (Self::Allow, delay @ Self::Delay(_)) => delay,
            (Self::Allow, Self::Allow) => Self::Allow,
        }
    }

    /// How long to wait before trying again (zero for `Allow`), at `now`.
    pub fn retry_after(self, now: UnixTime) -> Duration {
        match self {
            Self::Allow => Duration::ZERO,
            Self::Delay(wait) => wait,
            Self::Locked { until } => {
                let wait = until.as_millis().saturating_sub(now.as_millis()).max(0);
                Duration::from_millis(u64::try_from(wait).unwrap_or(0))
            }
        }
    }
}

/// The limits of one table.
#[derive(Debug, Clone, Copy)]
struct Policy {
    window_ms: i64,
    lock_ms: i64,
    lock_at: u32,
    /// Whether failures from [`DELAY_FROM`] on delay the next attempt.
    delays: bool,
}

const USERNAMES: Policy = Policy {
    window_ms: WINDOW_MS,
    lock_ms: LOCK_MS,
    lock_at: USERNAME_LOCK_AT,
    delays: true,
};

const IPS: Policy = Policy {
    window_ms: WINDOW_MS,
    lock_ms: LOCK_MS,
    lock_at: IP_LOCK_AT,
    delays: true,
};

const CLIENTS: Policy = Policy {
    window_ms: CLIENT_WINDOW_MS,
    lock_ms: CLIENT_WINDOW_MS,
    lock_at: CLIENT_LOCK_AT,
    delays: false,
};

/// Failures of one username, IP or client id.
#[derive(Debug, Clone, Copy)]
struct Counter {
    failures: u32,
    window_start: UnixTime,
    last_failure: UnixTime,
    locked_until: Option<UnixTime>,
}

impl Counter {
    fn locked_at(&self, now: UnixTime) -> Option<UnixTime> {
        self.locked_until.filter(|&until| now < until)
    }

    /// Whether the counter no longer affects anything: not locked, window over.
    fn stale(&self, now: UnixTime, policy: Policy) -> bool {
        self.locked_at(now).is_none()
            && (self.locked_until.is_some()
                || now >= self.window_start.plus_millis(policy.window_ms))
    }

    fn verdict(&self, now: UnixTime, policy: Policy) -> Verdict {
        if let Some(until) = self.locked_at(now) {
            return Verdict::Locked { until };
        }
        if self.stale(now, policy) || !policy.delays {
            return Verdict::Allow;
        }
        let ready = self.last_failure.plus_millis(delay_ms(self.failures));
        if now < ready {
            let wait = ready.as_millis() - now.as_millis();
            Verdict::Delay(Duration::from_millis(u64::try_from(wait).unwrap_or(0)))
        } else {
            Verdict::Allow
        }
    }

    fn record_failure(&mut self, now: UnixTime, policy: Policy) {
        if self.locked_at(now).is_some() {
            return;
        }
        if self.stale(now, policy) {
            *self = Self::first(now);
        }
        self.failures = self.failures.saturating_add(1);
        self.last_failure = now;
        if self.failures >= policy.lock_at {
            self.locked_until = Some(now.plus_millis(policy.lock_ms));
        }
    }

    /// Takes back one reserved failure. A lock that only this reservation completed
    /// goes with it: failures stop counting while a lock holds, so a count below the
    /// threshold under a lock means the lock was this reservation's.
    fn release(&mut self, policy: Policy) {
        self.failures = self.failures.saturating_sub(1);
        if self.failures < policy.lock_at {
            self.locked_until = None;
        }
    }

    fn first(now: UnixTime) -> Self {
        Self {
            failures: 0,
            window_start: now,
            last_failure: now,
            locked_until: None,
        }
    }
}

/// How long to wait after the last of `failures` failures, in milliseconds.
fn delay_ms(failures: u32) -> i64 {
    match failures.checked_sub(DELAY_FROM) {
        None => 0,
        // 1 s doubling; past 8 s the shift is capped so it cannot overflow.
        Some(extra) => (FIRST_DELAY_MS << extra.min(8)).min(MAX_DELAY_MS),
    }
}

/// One table of counters (its lock is held by the caller).
#[derive(Debug)]
struct Counters<K> {
    map: HashMap<K, Counter>,
    policy: Policy,
}

impl<K: Eq + Hash + Copy> Counters<K> {
    fn new(policy: Policy) -> Self {
        Self {
            map: HashMap::new(),
            policy,
        }
    }

    fn verdict(&self, key: &K, now: UnixTime) -> Verdict {
        self.map
            .get(key)
            .map_or(Verdict::Allow, |c| c.verdict(now, self.policy))
    }

    fn record_failure(&mut self, key: K, now: UnixTime) {
        let policy = self.policy;
        if !self.map.contains_key(&key) && self.map.len() >= CAPACITY {
            self.map.retain(|_, c| !c.stale(now, policy));
            if self.map.len() >= CAPACITY {
                let evict = self
                    .map
                    .iter()
                    .min_by_key(|(_, c)| (c.locked_at(now).is_some(), c.last_failure))
                    .map(|(k, _)| *k);
                if let Some(k) = evict {
                    self.map.remove(&k);
                }
            }
        }
        self.map
            .entry(key)
            .or_insert_with(|| Counter::first(now))
            .record_failure(now, policy);
    }

    fn release(&mut self, key: &K) {
        if let Some(counter) = self.map.get_mut(key) {
            counter.release(self.policy);
        }
    }

    fn prune(&mut self, now: UnixTime) {
        let policy = self.policy;
        self.map.retain(|_, c| !c.stale(now, policy));
    }
}

/// Failed-login counters by username and by client IP, behind one lock so that an
/// attempt is judged and reserved against both at once.
#[derive(Debug)]
pub struct LoginThrottle {
    tables: Mutex<LoginTables>,
}

#[derive(Debug)]
struct LoginTables {
    usernames: Counters<[u8; 32]>,
    ips: Counters<IpAddr>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            tables: Mutex::new(LoginTables {
                usernames: Counters::new(USERNAMES),
                ips: Counters::new(IPS),
            }),
        }
    }
}

impl LoginThrottle {
    /// Whether `username` may try a password from `ip` now: the stricter of the two
    /// counters' verdicts. `Allow` reserves the attempt, counted as a failure of both
    /// until [`Self::record_success`] releases it. Ask before hashing the password,
    /// and check it only on `Allow`.
    pub fn attempt(&self, username: &str, ip: IpAddr, now: UnixTime) -> Verdict {
        let user = username_key(username);
        let ip = ip_key(ip);
        let mut tables = self.tables.lock();
        let verdict = tables
            .usernames
            .verdict(&user, now)
            .stricter(tables.ips.verdict(&ip, now));
        if verdict == Verdict::Allow {
            tables.usernames.record_failure(user, now);
            tables.ips.record_failure(ip, now);
        }
        verdict
    }

    /// After a reserved attempt succeeded: clears the username's count, and takes
    /// back the reservation from the IP's. The IP's earlier failures stay: an
    /// attacker spraying guesses must not reset them with their own account.
    pub fn record_success(&self, username: &str, ip: IpAddr) {
        let mut tables = self.tables.lock();
        tables.usernames.map.remove(&username_key(username));
        tables.ips.release(&ip_key(ip));
    }

    /// Forgets counters that no longer affect anything at `now`.
    pub fn prune(&self, now: UnixTime) {
        let mut tables = self.tables.lock();
        tables.usernames.prune(now);
        tables.ips.prune(now);
    }

    /// Counters held, both tables together.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        let tables = self.tables.lock();
        tables.usernames.map.len() + tables.ips.map.len()
    }
}

/// Wrong-secret counters by client id.
#[derive(Debug)]
pub struct ClientSecretThrottle {
    clients: Mutex<Counters<[u8; 32]>>,
}

impl Default for ClientSecretThrottle {
    fn default() -> Self {
        Self {
            clients: Mutex::new(Counters::new(CLIENTS)),
        }
    }
}

impl ClientSecretThrottle {
    /// Whether a secret for `client_id` may be checked now. `Allow` reserves the
    /// attempt, counted as a failure until [`Self::record_success`] releases it.
    pub fn attempt(&self, client_id: &str, now: UnixTime) -> Verdict {
        let key = digest(client_id);
        let mut clients = self.clients.lock();
        let verdict = clients.verdict(&key, now);
        if verdict == Verdict::Allow {
            clients.record_failure(key, now);
        }
        verdict
    }

    /// After a reserved attempt succeeded: takes the reservation back. Earlier
    /// failures stay, so the real client's traffic does not hide a flood of guesses.
    pub fn record_success(&self, client_id: &str) {
        self.clients.lock().release(&digest(client_id));
    }

    /// Forgets counters that no longer affect anything at `now`.
    pub fn prune(&self, now: UnixTime) {
        self.clients.lock().prune(now);
    }
}

/// Usernames fold ASCII case (as `gatehouse_core::user::Username` does), so `Alice`
/// and `alice` share one count.
fn username_key(username: &str) -> [u8; 32] {
    digest(&username.to_ascii_lowercase())
}

/// IPv4 as is (IPv4-mapped IPv6 too); IPv6 by its /64.
fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: UnixTime = UnixTime::from_millis(1_700_000_000_000);
    const MINUTE: i64 = 60 * 1000;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// `n` attempts that are allowed (and so reserved, and then fail).
    fn fail(t: &LoginThrottle, username: &str, ip: IpAddr, now: UnixTime, n: usize) {
        for _ in 0..n {
            assert_eq!(t.attempt(username, ip, now), Verdict::Allow);
        }
    }

    #[test]
    fn three_attempts_at_once_are_checked_and_the_fourth_waits_a_second() {
        let t = LoginThrottle::default();
        let a = ip("192.0.2.1");
        fail(&t, "alice", a, T0, 3);
        assert_eq!(t.attempt("alice", a, T0), Verdict::Delay(secs(1)));
        assert_eq!(
            t.attempt("alice", a, T0.plus_millis(400)),
            Verdict::Delay(Duration::from_millis(600))
        );
        assert_eq!(t.attempt("alice", a, T0.plus_millis(1000)), Verdict::Allow);
    }

    #[test]
    fn a_burst_of_forty_gets_three_checks_whatever_comes_later_in_it() {
        let t = LoginThrottle::default();
        let a = ip("192.0.2.1");
        let allowed = (0..40)
            .filter(|_| t.attempt("alice", a, T0) == Verdict::Allow)
            .count();
        assert_eq!(allowed, 3);
    }

    #[test]
    fn the_delay_doubles_up_to_eight_seconds() {
        let t = LoginThrottle::default();
        let a = ip("192.0.2.1");
        let mut now = T0;
        let mut delays = Vec::new();
        for _ in 0..9 {
            assert_eq!(t.attempt("alice", a, now), Verdict::Allow);
            let delay = match t.attempt("alice", a, now) {
                Verdict::Allow => {
                    // Not a failure: take back the probe's reservation.
                    t.tables.lock().usernames.release(&username_key("alice"));
                    t.tables.lock().ips.release(&ip_key(a));
                    0
                }
                Verdict::Delay(d) => d.as_secs(),
                Verdict::Locked { .. } => 99,
            };
            delays.push(delay);
            now = now.plus_millis(i64::try_from(delay).unwrap() * 1000);
        }
        assert_eq!(delays, [0, 0, 1, 2, 4, 8, 8, 8, 8]);
    }

    #[test]
    fn the_tenth_failure_locks_the_username_for_fifteen_minutes() {
        let t = LoginThrottle::default();
        let until = T0.plus_millis(15 * MINUTE);
        // Ten failures from ten addresses, each past the last delay.
        for i in 0..10 {
            let at = T0.plus_millis(i * 8000);
            assert_eq!(
                t.attempt("alice", ip(&format!("192.0.2.{i}")), at),
                Verdict::Allow
            );
        }
        let last = T0.plus_millis(9 * 8000);
        let until = until.plus_millis(9 * 8000);
        // From any address, and whatever the case.
        assert_eq!(
            t.attempt("ALICE", ip("198.51.100.7"), last),
            Verdict::Locked { until }
        );
        assert_eq!(t.attempt("bob", ip("198.51.100.7"), last), Verdict::Allow);
        // Refused attempts do not extend the lock.
        assert_eq!(
            t.attempt("alice", ip("198.51.100.7"), until.plus_millis(-1)),
            Verdict::Locked { until }
        );
        // Afterwards the count starts again.
        assert_eq!(
            t.attempt("alice", ip("198.51.100.8"), until),
            Verdict::Allow
        );
        assert_eq!(
            t.attempt("alice", ip("198.51.100.8"), until),
            Verdict::Allow
        );
    }

    #[test]
    fn the_fiftieth_failure_from_an_address_locks_it_for_every_username() {
        let t = LoginThrottle::default();
        let a = ip("203.0.113.9");
        // One guess each for fifty usernames, spaced past the address's delay.
        let mut now = T0;
        for i in 0..49 {
            assert_eq!(t.attempt(&format!("user{i}"), a, now), Verdict::Allow);
            now = now.plus_millis(8000);
        }
        assert_eq!(t.attempt("user49", a, now), Verdict::Allow);
        let until = now.plus_millis(15 * MINUTE);
        assert_eq!(t.attempt("newcomer", a, now), Verdict::Locked { until });
        assert_eq!(
            t.attempt("newcomer", ip("203.0.113.10"), now),
            Verdict::Allow
        );
        assert_eq!(t.attempt("other", a, until), Verdict::Allow);
    }

    #[test]
    fn an_ipv6_slash_64_counts_as_one_address() {
        let t = LoginThrottle::default();
        let a = ip("2001:db8:1:2::1");
        fail(&t, "x", a, T0, 3);
        assert_eq!(
            t.attempt("y", ip("2001:db8:1:2:ffff::1"), T0),
            Verdict::Delay(secs(1))
        );
        // Another /64 is not delayed (the username "y" never failed).
        assert_eq!(t.attempt("y", ip("2001:db8:1:3::1"), T0), Verdict::Allow);
    }

    #[test]
    fn failures_older_than_the_window_are_not_counted() {
        let t = LoginThrottle::default();
        let a = ip("192.0.2.1");
        fail(&t, "alice", a, T0, 3);
        let next_window = T0.plus_millis(15 * MINUTE);
        fail(&t, "alice", a, next_window, 3);
    }

    #[test]
    fn success_clears_the_username_count_and_releases_only_its_own_reservation() {
        let t = LoginThrottle::default();
        let a = ip("192.0.2.1");
        fail(&t, "alice", a, T0, 2);
        let later = T0.plus_millis(1000);
        assert_eq!(t.attempt("alice", a, later), Verdict::Allow);
        t.record_success("alice", a);
        // The address still carries two failures; its third would delay anyone.
        assert_eq!(t.attempt("bob", ip("192.0.2.2"), later), Verdict::Allow);
        assert_eq!(t.attempt("carol", a, later), Verdict::Allow);
        assert_eq!(t.attempt("dave", a, later), Verdict::Delay(secs(1)));
    }

    #[test]
    fn client_secrets_lock_after_twenty_wrong_ones_even_in_a_burst() {
        let t = ClientSecretThrottle::default();
        let allowed = (0..150)
            .filter(|_| t.attempt("cl_a", T0) == Verdict::Allow)
            .count();
        assert_eq!(allowed, usize::try_from(CLIENT_LOCK_AT).unwrap());
        let until = T0.plus_millis(CLIENT_WINDOW_MS);
        assert_eq!(t.attempt("cl_a", T0), Verdict::Locked { until });
        assert_eq!(t.attempt("cl_b", T0), Verdict::Allow);
        assert_eq!(t.attempt("cl_a", until), Verdict::Allow);
    }

    #[test]
    fn a_right_client_secret_takes_back_its_reservation_only() {
        let t = ClientSecretThrottle::default();
        for _ in 0..(CLIENT_LOCK_AT - 1) {
            assert_eq!(t.attempt("cl_a", T0), Verdict::Allow);
        }
        // Reserved as the twentieth failure, which locks; success undoes just that.
        assert_eq!(t.attempt("cl_a", T0), Verdict::Allow);
        t.record_success("cl_a");
        assert_eq!(t.attempt("cl_a", T0), Verdict::Allow);
        assert!(matches!(t.attempt("cl_a", T0), Verdict::Locked { .. }));
    }

    #[test]
    fn a_full_table_evicts_the_oldest_unlocked_count_and_prune_forgets_stale_ones() {
        let t = LoginThrottle::default();
        let key = |i: u64| {
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&i.to_le_bytes());
            key
        };
        {
            let map = &mut t.tables.lock().usernames.map;
            for i in 0..CAPACITY {
                let at = T0.plus_millis(i64::try_from(i).unwrap());
                let mut counter = Counter::first(at);
                counter.failures = 1;
                // The oldest count is locked, so it is kept over the next oldest.
                if i == 0 {
                    counter.failures = USERNAME_LOCK_AT;
                    counter.locked_until = Some(T0.plus_millis(LOCK_MS));
                }
                map.insert(key(u64::try_from(i).unwrap()), counter);
            }
        }
        let now = T0.plus_millis(200_000);
        assert_eq!(t.attempt("newcomer", ip("192.0.2.1"), now), Verdict::Allow);
        {
            let map = &t.tables.lock().usernames.map;
            assert_eq!(map.len(), CAPACITY);
            assert!(map.contains_key(&key(0)), "the locked count stayed");
            assert!(!map.contains_key(&key(1)), "the oldest unlocked count went");
            assert!(map.contains_key(&username_key("newcomer")));
        }
        t.prune(now.plus_millis(WINDOW_MS));
        assert_eq!(t.len(), 0);
    }
}
