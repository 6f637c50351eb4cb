//! `/metrics` in the Prometheus text exposition format (0.0.4): requests by route and status,
//! checks by command and verdict, durations as histograms, errors by cause, test messages by
//! transport. Labels come from bounded sets (route labels, commands, verdict ids, error causes),
//! never from user input, so the number of series stays bounded.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use mxdoctor_engine::model::{CheckStatus, Report};

/// Histogram bucket bounds in seconds: DNS answers in milliseconds, SMTP and TLS in seconds,
/// a dead server at the time limit.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS.len()];
        }
        for (count, bound) in self.counts.iter_mut().zip(BUCKETS.iter()) {
            if secs <= *bound {
                *count += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, bound) in BUCKETS.iter().enumerate() {
            let n = self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(&'static str, u16), u64>,
    request_seconds: BTreeMap<&'static str, Histogram>,
    checks: BTreeMap<(String, String), u64>,
    check_seconds: BTreeMap<String, Histogram>,
    errors: BTreeMap<String, u64>,
    test_messages: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn with(&self, f: impl FnOnce(&mut Inner)) {
        if let Ok(mut i) = self.inner.lock() {
            f(&mut i);
        }
    }

    pub fn request(&self, route: &'static str, status: u16, took: Duration) {
        self.with(|i| {
            *i.requests.entry((route, status)).or_default() += 1;
            i.request_seconds.entry(route).or_default().observe(took.as_secs_f64());
        });
    }

    /// A finished check: its command, verdict, duration and the causes of checks that could
    /// not run.
    pub fn check(&self, report: &Report, took: Duration) {
        self.with(|i| {
            *i.checks
                .entry((report.command.clone(), report.verdict.id.clone()))
                .or_default() += 1;
            i.check_seconds
                .entry(report.command.clone())
                .or_default()
                .observe(took.as_secs_f64());
            for c in &report.checks {
                if let CheckStatus::Error { cause, .. } = &c.status {
                    *i.errors.entry(cause.as_str().to_string()).or_default() += 1;
                }
            }
        });
    }

    /// An error outside the engine: `rate-limited`, `busy`, `bad-input`, `check-timeout`,
    /// `store`, `smtp-session`.
    pub fn error(&self, cause: &'static str) {
        self.with(|i| *i.errors.entry(cause.to_string()).or_default() += 1);
    }

    pub fn test_message(&self, tls: bool) {
        self.with(|i| *i.test_messages.entry(if tls { "tls" } else { "plain" }).or_default() += 1);
    }

    /// The exposition, with the gauges read now.
    pub fn render(&self, in_flight: usize, live_tokens: usize) -> String {
        let Ok(i) = self.inner.lock() else {
            return String::new();
        };
        let mut out = String::new();
        out.push_str("# HELP mxdoctor_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE mxdoctor_http_requests_total counter\n");
        for ((route, status), n) in &i.requests {
            let _ = writeln!(
                out,
                "mxdoctor_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP mxdoctor_http_request_duration_seconds Time to answer, by route.\n");
        out.push_str("# TYPE mxdoctor_http_request_duration_seconds histogram\n");
        for (route, h) in &i.request_seconds {
            h.write(
                &mut out,
                "mxdoctor_http_request_duration_seconds",
                &format!("route=\"{route}\""),
            );
        }
        out.push_str("# HELP mxdoctor_checks_total Checks finished, by command and verdict id.\n");
        out.push_str("# TYPE mxdoctor_checks_total counter\n");
        for ((command, verdict), n) in &i.checks {
            let _ = writeln!(
                out,
                "mxdoctor_checks_total{{command=\"{}\",verdict=\"{}\"}} {n}",
                escape(command),
                escape(verdict)
            );
        }
        out.push_str("# HELP mxdoctor_check_duration_seconds Time a check took, by command.\n");
        out.push_str("# TYPE mxdoctor_check_duration_seconds histogram\n");
        for (command, h) in &i.check_seconds {
            h.write(
                &mut out,
                "mxdoctor_check_duration_seconds",
                &format!("command=\"{}\"", escape(command)),
            );
        }
        out.push_str("# HELP mxdoctor_errors_total Errors by cause: checks that could not run, refused requests.\n");
        out.push_str("# TYPE mxdoctor_errors_total counter\n");
        for (cause, n) in &i.errors {
            let _ = writeln!(out, "mxdoctor_errors_total{{cause=\"{}\"}} {n}", escape(cause));
        }
        out.push_str("# HELP mxdoctor_test_messages_total Messages received at test addresses, by transport.\n");
        out.push_str("# TYPE mxdoctor_test_messages_total counter\n");
        for (tls, n) in &i.test_messages {
            let _ = writeln!(out, "mxdoctor_test_messages_total{{transport=\"{tls}\"}} {n}");
        }
        out.push_str("# HELP mxdoctor_checks_in_flight Checks running now.\n");
        out.push_str("# TYPE mxdoctor_checks_in_flight gauge\n");
        let _ = writeln!(out, "mxdoctor_checks_in_flight {in_flight}");
        out.push_str("# HELP mxdoctor_test_addresses_live Test addresses waiting for a message.\n");
        out.push_str("# TYPE mxdoctor_test_addresses_live gauge\n");
        let _ = writeln!(out, "mxdoctor_test_addresses_live {live_tokens}");
        out
    }
}

/// A label value as the text format requires (backslash, quote, newline escaped).
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = Histogram::default();
        h.observe(0.003);
        h.observe(0.7);
        h.observe(500.0);
        let mut out = String::new();
        h.write(&mut out, "x", "a=\"b\"");
        assert!(out.contains("x_bucket{a=\"b\",le=\"0.005\"} 1\n"));
        assert!(out.contains("x_bucket{a=\"b\",le=\"1\"} 2\n"));
        assert!(out.contains("x_bucket{a=\"b\",le=\"+Inf\"} 3\n"));
        assert!(out.contains("x_count{a=\"b\"} 3\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
