//! Prometheus metrics, kept in the server state rather than a global registry so
//! several servers in one process (tests) never mix their numbers.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Verification codes, in the order their counters are kept.
pub const CODES: [&str; 8] = [
    "VALID",
    "NOT_FOUND",
    "EXPIRED",
    "REVOKED",
    "DISABLED",
    "INSUFFICIENT_SCOPE",
    "RATE_LIMITED",
    "USAGE_EXCEEDED",
];

/// Counters and gauges.
#[derive(Debug, Default)]
pub struct Metrics {
    verifications: [AtomicU64; 8],
    responses: [AtomicU64; 6],
    /// Audit events committed to the store.
    pub audit_events_written: AtomicU64,
    /// Failed attempts to write audit events (each retried).
    pub audit_write_failures: AtomicU64,
    /// Keys in the in-memory index.
    pub keys_loaded: AtomicU64,
    /// Connections closed at accept: over the overall or per-address cap.
    pub connections_refused: AtomicU64,
    /// Signs of tampering with the audit trail found by the check at start (0: none).
    pub audit_tamper_detected: AtomicU64,
    /// 1 once the background walk of the links before the last checkpoint, which
    /// follows a start, has finished (its findings are in `audit_tamper_detected`).
    pub audit_trail_checked: AtomicU64,
}

impl Metrics {
    /// Counts a verification with `code`.
    pub fn verification(&self, code: &str) {
        if let Some(i) = CODES.iter().position(|c| *c == code) {
            self.verifications[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a response by status class (1xx … 5xx).
    pub fn response(&self, status: u16) {
        let class = usize::from(status / 100).min(5);
        self.responses[class].fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        out.push_str(
            "# HELP gatehouse_key_verifications_total API key verifications by result code.\n",
        );
        out.push_str("# TYPE gatehouse_key_verifications_total counter\n");
        for (code, n) in CODES.iter().zip(&self.verifications) {
            let _ = writeln!(
                out,
                "gatehouse_key_verifications_total{{code=\"{code}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP gatehouse_http_responses_total HTTP responses by status class.\n");
        out.push_str("# TYPE gatehouse_http_responses_total counter\n");
        for (class, n) in self.responses.iter().enumerate().skip(1) {
            let _ = writeln!(
                out,
                "gatehouse_http_responses_total{{class=\"{class}xx\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        let gauges = [
            (
                "gatehouse_audit_events_written_total",
                "counter",
                "Audit events committed.",
                &self.audit_events_written,
            ),
            (
                "gatehouse_audit_write_failures_total",
                "counter",
                "Failed audit writes (retried).",
                &self.audit_write_failures,
            ),
            (
                "gatehouse_connections_refused_total",
                "counter",
                "Connections closed at accept, over a connection cap.",
                &self.connections_refused,
            ),
            (
                "gatehouse_audit_tamper_detected",
                "gauge",
                "Signs of audit trail tampering found at start; anything but 0 needs investigating.",
                &self.audit_tamper_detected,
            ),
            (
                "gatehouse_audit_trail_checked",
                "gauge",
                "1 once the whole audit trail has been checked since the start.",
                &self.audit_trail_checked,
            ),
            (
                "gatehouse_keys_loaded",
                "gauge",
                "API keys in the in-memory index.",
                &self.keys_loaded,
            ),
        ];
        for (name, kind, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        out
    }
}
