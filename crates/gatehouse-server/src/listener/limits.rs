//! How many connections may be open at once, overall and from one client address:
//! beyond either cap a new connection is closed as soon as it is accepted, before any
//! TLS handshake or byte of HTTP, so a client holding many idle or trickling
//! connections cannot use up the process's file descriptors and memory. One set of
//! caps covers both listeners.

use crate::metrics::Metrics;
use hashbrown::HashMap;
use parking_lot::Mutex;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The caps and the connections open now.
#[derive(Debug)]
pub struct ConnectionLimits {
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<Open>,
    metrics: Arc<Metrics>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    /// Only addresses with a connection open: an entry leaves with its last one.
    per_ip: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it (when the connection ends) frees its place.
#[derive(Debug)]
pub struct Permit {
    limits: Arc<ConnectionLimits>,
    ip: IpAddr,
}

impl ConnectionLimits {
    /// At most `max_total` connections, `max_per_ip` of them from one address;
    /// refusals are counted in `metrics`.
    pub fn new(max_total: usize, max_per_ip: usize, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            max_per_ip,
            open: Mutex::new(Open::default()),
            metrics,
        })
    }

    /// A place for a connection from `ip`, or `None` (counted) when a cap is reached.
    /// An IPv4 client on a dual-stack listener counts as its IPv4 address.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Permit> {
        let ip = ip.to_canonical();
        let mut open = self.open.lock();
        let from_ip = open.per_ip.get(&ip).copied().unwrap_or(0);
        if open.total >= self.max_total || from_ip >= self.max_per_ip {
            drop(open);
            self.metrics
                .connections_refused
                .fetch_add(1, Ordering::Relaxed);
            return None;
        }
        open.total += 1;
        open.per_ip.insert(ip, from_ip + 1);
        drop(open);
        Some(Permit {
            limits: Arc::clone(self),
            ip,
        })
    }

    /// Where refusals are counted.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.lock().total
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.per_ip.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_address_gets_its_cap_and_others_still_get_in() {
        let limits = ConnectionLimits::new(10, 2, Arc::new(Metrics::default()));
        let first = limits.admit(ip("10.0.0.1")).unwrap();
        let _second = limits.admit(ip("::ffff:10.0.0.1")).unwrap();
        assert!(
            limits.admit(ip("10.0.0.1")).is_none(),
            "third from one address"
        );
        assert!(limits.admit(ip("10.0.0.2")).is_some(), "another address");
        drop(first);
        assert!(limits.admit(ip("10.0.0.1")).is_some(), "a place was freed");
        assert_eq!(
            limits.metrics.connections_refused.load(Ordering::Relaxed),
            1
        );
    }

    #[test]
    fn the_total_cap_holds_across_addresses_and_places_come_back() {
        let limits = ConnectionLimits::new(2, 2, Arc::new(Metrics::default()));
        let a = limits.admit(ip("10.0.0.1")).unwrap();
        let b = limits.admit(ip("10.0.0.2")).unwrap();
        assert!(limits.admit(ip("10.0.0.3")).is_none());
        drop((a, b));
        assert_eq!(limits.open(), 0);
        assert!(
            limits.open.lock().per_ip.is_empty(),
            "no entry outlives its connections"
        );
        assert!(limits.admit(ip("10.0.0.3")).is_some());
    }
}
