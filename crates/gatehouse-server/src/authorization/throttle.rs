//! Login throttling: failed sign-ins slow down, then lock, a username and a client IP.
//!
//! # Policy
//!
//! - Failures are counted in a **15-minute window** opened by the first failure; a
//!   failure after the window has passed starts a new count at one.
//! - After the **3rd** failure in a window, the next attempt must wait **1 s** after
//!   the last failure, then 2 s after the 4th, 4 s after the 5th and **8 s** (the
//!   cap) after every later one. This costs a person who mistyped nothing they
//!   notice, and caps guessing at under 8 tries a minute.
//! - The **10th** failure for a username, or the **50th** for an IP, **locks** it
//!   for **15 minutes**; then its count starts again from zero. The IP threshold is
//!   higher because many people can share one address (an office's NAT); it exists
//!   for password spraying, one guess at each of many usernames.
//!
//! A username lock can be triggered by anyone who knows the username: that is the
//! price of stopping online guessing against it, bounded at 15 minutes at a time.
//! Checking happens before the password is hashed, so a locked or delayed attempt
//! costs no Argon2 time.
//!
//! Usernames are counted case-folded, by SHA-256, so that the table holds no
//! plaintext (people sometimes type their password into the username field). IPv6
//! clients are counted by /64, the block one host usually gets, so an attacker cannot
//! escape the count by moving to another address in it.

use super::digest;
use gatehouse_core::UnixTime;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

/// How long failures are counted: 15 minutes, in milliseconds.
pub const WINDOW_MS: i64 = 15 * 60 * 1000;

/// How long a lock lasts: 15 minutes, in milliseconds.
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

/// Counters held at most per table (usernames, IPs). Past it, stale ones go, then
/// the one with the oldest failure, preferring unlocked ones: an attacker who floods
/// the table evicts old counts rather than growing memory.
pub const CAPACITY: usize = 100_000;

/// Whether a sign-in attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the password.
    Allow,
    /// Too soon after recent failures: retry after this long (a 429 with
    /// `Retry-After`), without checking the password.
    Delay(Duration),
    /// Too many failures: refused without checking the password until `until`.
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
}

/// Failures of one username or one IP.
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
    fn stale(&self, now: UnixTime) -> bool {
        self.locked_at(now).is_none()
            && (self.locked_until.is_some() || now >= self.window_start.plus_millis(WINDOW_MS))
    }

    fn verdict(&self, now: UnixTime) -> Verdict {
        if let Some(until) = self.locked_at(now) {
            return Verdict::Locked { until };
        }
        if self.stale(now) {
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

    fn record_failure(&mut self, now: UnixTime, lock_at: u32) {
        if self.locked_at(now).is_some() {
            return;
        }
        if self.stale(now) {
            *self = Self::first(now);
        }
        self.failures = self.failures.saturating_add(1);
        self.last_failure = now;
        if self.failures >= lock_at {
            self.locked_until = Some(now.plus_millis(LOCK_MS));
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

/// One table of counters.
#[derive(Debug)]
struct Counters<K> {
    map: Mutex<HashMap<K, Counter>>,
    lock_at: u32,
}

impl<K: Eq + Hash + Copy> Counters<K> {
    fn new(lock_at: u32) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            lock_at,
        }
    }

    fn verdict(&self, key: &K, now: UnixTime) -> Verdict {
        self.map
            .lock()
            .get(key)
            .map_or(Verdict::Allow, |c| c.verdict(now))
    }

    fn record_failure(&self, key: K, now: UnixTime) {
        let mut map = self.map.lock();
        if !map.contains_key(&key) && map.len() >= CAPACITY {
            map.retain(|_, c| !c.stale(now));
            if map.len() >= CAPACITY {
                let evict = map
                    .iter()
                    .min_by_key(|(_, c)| (c.locked_at(now).is_some(), c.last_failure))
                    .map(|(k, _)| *k);
                if let Some(k) = evict {
                    map.remove(&k);
                }
            }
        }
        map.entry(key)
            .or_insert_with(|| Counter::first(now))
            .record_failure(now, self.lock_at);
    }

    fn prune(&self, now: UnixTime) {
        self.map.lock().retain(|_, c| !c.stale(now));
    }
}

/// Failed-login counters by username and by client IP.
#[derive(Debug)]
pub struct LoginThrottle {
    usernames: Counters<[u8; 32]>,
    ips: Counters<IpAddr>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            usernames: Counters::new(USERNAME_LOCK_AT),
            ips: Counters::new(IP_LOCK_AT),
        }
    }
}

impl LoginThrottle {
    /// Whether `username` may try to sign in from `ip` now: the stricter of the two
    /// counters' verdicts. Ask before checking the password.
    pub fn check(&self, username: &str, ip: IpAddr, now: UnixTime) -> Verdict {
        let by_user = self.usernames.verdict(&username_key(username), now);
        let by_ip = self.ips.verdict(&ip_key(ip), now);
        by_user.stricter(by_ip)
    }

    /// Counts a failed sign-in (wrong password, or unknown username) against both.
    pub fn record_failure(&self, username: &str, ip: IpAddr, now: UnixTime) {
        self.usernames.record_failure(username_key(username), now);
        self.ips.record_failure(ip_key(ip), now);
    }

    /// Clears the username's count after a successful sign-in. The IP's count stays:
    /// an attacker spraying guesses must not reset it with their own account.
    pub fn record_success(&self, username: &str, _ip: IpAddr) {
        self.usernames.map.lock().remove(&username_key(username));
    }

    /// Forgets counters that no longer affect anything at `now`.
    pub fn prune(&self, now: UnixTime) {
        self.usernames.prune(now);
        self.ips.prune(now);
    }

    /// Counters held, both tables together.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.usernames.map.lock().len() + self.ips.map.lock().len()
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

    #[test]
    fn two_failures_cost_nothing_and_the_third_brings_a_one_second_delay() {
        let t = LoginThrottle::default();
        let a = ip("192.0.2.1");
        t.record_failure("alice", a, T0);
        t.record_failure("alice", a, T0);
        assert_eq!(t.check("alice", a, T0), Verdict::Allow);
        t.record_failure("alice", a, T0);
        assert_eq!(t.check("alice", a, T0), Verdict::Delay(secs(1)));
        assert_eq!(
            t.check("alice", a, T0.plus_millis(400)),
            Verdict::Delay(Duration::from_millis(600))
        );
        assert_eq!(t.check("alice", a, T0.plus_millis(1000)), Verdict::Allow);
    }

    #[test]
    fn the_delay_doubles_up_to_eight_seconds() {
        let t = LoginThrottle::default();
        let a = ip("192.0.2.1");
        let mut delays = Vec::new();
        for _ in 0..9 {
            t.record_failure("alice", a, T0);
            delays.push(match t.check("alice", a, T0) {
                Verdict::Allow => 0,
                Verdict::Delay(d) => d.as_secs(),
                Verdict::Locked { .. } => 99,
            });
        }
        assert_eq!(delays, [0, 0, 1, 2, 4, 8, 8, 8, 8]);
    }

    #[test]
    fn the_tenth_failure_locks_the_username_for_fifteen_minutes() {
        let t = LoginThrottle::default();
        let a = ip("192.0.2.1");
        for _ in 0..10 {
            t.record_failure("alice", a, T0);
        }
        let until = T0.plus_millis(15 * MINUTE);
        assert_eq!(t.check("alice", a, T0), Verdict::Locked { until });
        // From any address, and whatever the case.
        assert_eq!(
            t.check("ALICE", ip("198.51.100.7"), T0),
            Verdict::Locked { until }
        );
        assert_eq!(t.check("bob", ip("198.51.100.7"), T0), Verdict::Allow);
        // Failures while locked do not extend the lock.
        t.record_failure("alice", a, T0.plus_millis(MINUTE));
        assert_eq!(
            t.check("alice", a, until.plus_millis(-1)),
            Verdict::Locked { until }
        );
        // Afterwards the count starts again.
        assert_eq!(t.check("alice", a, until), Verdict::Allow);
        t.record_failure("alice", a, until);
        assert_eq!(t.check("alice", a, until), Verdict::Allow);
    }

    #[test]
    fn the_fiftieth_failure_from_an_address_locks_it_for_every_username() {
        let t = LoginThrottle::default();
        let a = ip("203.0.113.9");
        for i in 0..49 {
            t.record_failure(&format!("user{i}"), a, T0);
        }
        assert_eq!(t.check("newcomer", a, T0.plus_millis(8000)), Verdict::Allow);
        t.record_failure("user49", a, T0);
        let until = T0.plus_millis(15 * MINUTE);
        assert_eq!(t.check("newcomer", a, T0), Verdict::Locked { until });
        assert_eq!(t.check("newcomer", ip("203.0.113.10"), T0), Verdict::Allow);
        assert_eq!(t.check("newcomer", a, until), Verdict::Allow);
    }

    #[test]
    fn an_ipv6_slash_64_counts_as_one_address() {
        let t = LoginThrottle::default();
        for i in 0..50 {
            t.record_failure("x", ip(&format!("2001:db8:1:2::{i:x}")), T0);
        }
        assert!(matches!(
            t.check("y", ip("2001:db8:1:2:ffff::1"), T0),
            Verdict::Locked { .. }
        ));
        // Another /64 is not locked (the username "y" never failed).
        assert_eq!(t.check("y", ip("2001:db8:1:3::1"), T0), Verdict::Allow);
    }

    #[test]
    fn failures_older_than_the_window_are_not_counted() {
        let t = LoginThrottle::default();
        let a = ip("192.0.2.1");
        for _ in 0..9 {
            t.record_failure("alice", a, T0);
        }
        let next_window = T0.plus_millis(15 * MINUTE);
        t.record_failure("alice", a, next_window);
        assert_eq!(t.check("alice", a, next_window), Verdict::Allow);
    }

    #[test]
    fn success_clears_the_username_count_but_not_the_address_count() {
        let t = LoginThrottle::default();
        let a = ip("192.0.2.1");
        for _ in 0..5 {
            t.record_failure("alice", a, T0);
        }
        t.record_success("alice", a);
        // The address still carries five failures: a 4 s delay for anyone.
        assert_eq!(t.check("alice", ip("192.0.2.2"), T0), Verdict::Allow);
        assert_eq!(t.check("alice", a, T0), Verdict::Delay(secs(4)));
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
            let mut map = t.usernames.map.lock();
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
        t.record_failure("newcomer", ip("192.0.2.1"), now);
        {
            let map = t.usernames.map.lock();
            assert_eq!(map.len(), CAPACITY);
            assert!(map.contains_key(&key(0)), "the locked count stayed");
            assert!(!map.contains_key(&key(1)), "the oldest unlocked count went");
            assert!(map.contains_key(&username_key("newcomer")));
        }
        t.prune(now.plus_millis(WINDOW_MS));
        assert_eq!(t.len(), 0);
    }
}
