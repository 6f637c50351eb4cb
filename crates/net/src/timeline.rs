//! What a run did on the network and when: every DNS question and every connection, with its
//! start and end, what it asked about and what its answer revealed.
//!
//! The record serves two readers: `--timeline` (people see what waited on what) and the
//! critical-path bound ([`critical_path`]): the time a run cannot beat, given the round trips
//! that depend on each other's answers. A run that takes much longer than that bound is waiting
//! where it need not.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// At most this many steps are kept per run (a `check` takes a few dozen).
const MAX_STEPS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    Dns,
    Connection,
}

/// One DNS question or one connection (from connect to close).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub kind: StepKind,
    /// For people: `TXT good.test`, `203.0.113.45:587`.
    pub label: String,
    /// NOERROR, NXDOMAIN, ... for a question; `closed`, `refused`, ... for a connection.
    pub outcome: String,
    /// The world address of a connection.
    pub peer: Option<SocketAddr>,
    /// What the step needed to know before it could start: the name asked (or, for a
    /// reverse or blocklist question, the address in it), the address connected to.
    pub asks: Vec<String>,
    /// What the answer made known: addresses, exchange and target names, the names and single
    /// addresses an SPF record points at.
    pub reveals: Vec<String>,
    pub start: Duration,
    pub end: Duration,
    /// Time spent waiting for a connection slot (politeness limits) before `start`.
    pub queued: Duration,
    /// An A or AAAA answer (what a connection to a named host waits for).
    pub is_address_answer: bool,
}

impl Step {
    pub fn duration(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }
}

#[derive(Debug, Default)]
struct Inner {
    steps: Vec<Step>,
    dropped: usize,
    finished: Option<Duration>,
}

/// The record of one run; clones share it.
#[derive(Clone)]
pub struct Timeline {
    origin: Instant,
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for Timeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeline").finish_non_exhaustive()
    }
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Timeline {
    /// A timeline whose time zero is now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            inner: Arc::new(Mutex::new(Inner::default())),
        }
    }

    /// Time since the run began.
    pub fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    pub fn push(&self, step: Step) {
        if let Ok(mut inner) = self.inner.lock() {
            if inner.steps.len() < MAX_STEPS {
                inner.steps.push(step);
            } else {
                inner.dropped += 1;
            }
        }
    }

    /// Marks the end of the run (the report is complete).
    pub fn finish(&self) {
        let now = self.now();
        if let Ok(mut inner) = self.inner.lock() {
            inner.finished.get_or_insert(now);
        }
    }

    /// The steps, in order of start.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps = self.inner.lock().map(|i| i.steps.clone()).unwrap_or_default();
        steps.sort_by_key(|s| (s.start, s.end));
        steps
    }

    /// Steps not kept because the run passed [`MAX_STEPS`].
    pub fn dropped(&self) -> usize {
        self.inner.lock().map(|i| i.dropped).unwrap_or(0)
    }

    /// From time zero to [`Timeline::finish`] (or to now, when not finished).
    pub fn wall(&self) -> Duration {
        self.inner
            .lock()
            .ok()
            .and_then(|i| i.finished)
            .unwrap_or_else(|| self.now())
    }
}

/// Records a connection on drop: it lasts from connect to close.
#[derive(Debug)]
pub struct ConnectionTrace {
    timeline: Timeline,
    step: Option<Step>,
}

impl ConnectionTrace {
    pub fn begin(timeline: &Timeline, peer: SocketAddr, queued: Duration) -> Self {
        let start = timeline.now();
        Self {
            timeline: timeline.clone(),
            step: Some(Step {
                kind: StepKind::Connection,
                label: peer.to_string(),
                outcome: "closed".into(),
                peer: Some(peer),
                asks: vec![peer.ip().to_string()],
                reveals: Vec::new(),
                start,
                end: start,
                queued,
                is_address_answer: false,
            }),
        }
    }

    /// Ends the step now with `outcome` (a connection that never opened).
    pub fn fail(mut self, outcome: &str) {
        if let Some(step) = self.step.as_mut() {
            step.outcome = outcome.to_string();
        }
    }
}

impl Drop for ConnectionTrace {
    fn drop(&mut self) {
        if let Some(mut step) = self.step.take() {
            step.end = self.timeline.now();
            self.timeline.push(step);
        }
    }
}

/// What a DNS question needs to have been known: the name, or the address a reverse
/// (`in-addr.arpa`, `ip6.arpa`) or blocklist (`4.3.2.1.zone`) name is built from.
pub fn dns_asks(name: &str) -> Vec<String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').collect();
    let mut out = vec![name.clone()];
    // Nibble form first: its first four labels are digits too.
    let nibbles = labels.get(..32).filter(|_| labels.len() > 32);
    let octets = labels.get(..4).filter(|_| labels.len() > 4);
    if let Some(nibbles) = nibbles.filter(|n| {
        n.iter()
            .all(|l| l.len() == 1 && l.bytes().all(|b| b.is_ascii_hexdigit()))
    }) {
        let hex: String = nibbles.iter().rev().copied().collect();
        if let Ok(v) = u128::from_str_radix(&hex, 16) {
            out.push(IpAddr::V6(v.into()).to_string());
        }
    } else if let Some([a, b, c, d]) = octets.filter(|o| o.iter().all(|l| !l.is_empty() && l.parse::<u8>().is_ok())) {
        out.push(format!("{d}.{c}.{b}.{a}"));
    }
    out
}

/// The names and single addresses an SPF record's terms point at (for the dependency of the
/// questions that follow it); not a validation, which the SPF parser does.
pub fn spf_reveals(txt: &str) -> Vec<String> {
    if !txt.to_ascii_lowercase().starts_with("v=spf1") {
        return Vec::new();
    }
    let mut out = Vec::new();
    for term in txt.split_ascii_whitespace().skip(1) {
        let term = term.trim_start_matches(['+', '-', '~', '?']);
        let lower = term.to_ascii_lowercase();
        let value = ["include:", "a:", "mx:", "ptr:", "exists:", "redirect=", "ip4:", "ip6:"]
            .iter()
            .find_map(|p| lower.strip_prefix(p));
        if let Some(v) = value {
            let v = v.split('/').next().unwrap_or(v).trim_end_matches('.');
            match v.parse::<IpAddr>() {
                Ok(ip) => out.push(ip.to_string()),
                Err(_) => out.push(v.to_string()),
            }
        }
    }
    out
}

/// The bound a run cannot beat, and the chain of steps that sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriticalPath {
    pub bound: Duration,
    /// Indexes into the steps, first to last, of the longest dependent chain (empty when the
    /// bound is set by a server's connection limit instead).
    pub chain: Vec<usize>,
    /// Set when the per-address connection limit, not a chain, sets the bound.
    pub limited_by: Option<IpAddr>,
}

/// The critical-path bound of a run's steps (sorted by start).
///
/// Each step's parent is what it needed:
/// - a DNS question, the earliest-ending earlier step whose answer revealed the name or address
///   it asks about (none: it was known from the input);
/// - a connection, the first session with the same address and port when it followed that one
///   (a server's other variants are probed once its first session showed what it speaks),
///   else the question that revealed its address.
///
/// The chain bound is the longest sum of durations along parents. With at most `per_ip`
/// connections to one address at once, an address's connections after its first cannot end
/// before the first's chain plus their total time shared among `per_ip` slots; the bound is the
/// larger of the two. Durations are the steps' own, so the bound holds for this network, and
/// wall time / bound measures only the waiting a better schedule would not have.
#[allow(
    clippy::indexing_slicing,
    reason = "indices of `steps`, `parents` and `finish`, vectors of one length built from the steps of this run (our own record, not outside data); a parent is always another step"
)]
pub fn critical_path(steps: &[Step], per_ip: usize) -> CriticalPath {
    let parents = parents(steps);
    let mut finish: Vec<Duration> = vec![Duration::ZERO; steps.len()];
    for i in 0..steps.len() {
        let before = parents[i].map(|p| finish[p]).unwrap_or(Duration::ZERO);
        finish[i] = before + steps[i].duration();
    }
    let last = (0..steps.len()).max_by_key(|&i| finish[i]);
    let mut chain = Vec::new();
    let mut at = last;
    while let Some(i) = at {
        chain.push(i);
        at = parents[i];
    }
    chain.reverse();
    let mut best = CriticalPath {
        bound: last.map(|i| finish[i]).unwrap_or(Duration::ZERO),
        chain,
        limited_by: None,
    };
    for (ip, bound) in connection_limit_bounds(steps, &parents, &finish, per_ip) {
        if bound > best.bound {
            best = CriticalPath {
                bound,
                chain: Vec::new(),
                limited_by: Some(ip),
            };
        }
    }
    best
}

#[allow(
    clippy::indexing_slicing,
    reason = "indices of `steps`, `parents` and `finish`, vectors of one length built from the steps of this run (our own record, not outside data); a parent is always another step"
)]
fn parents(steps: &[Step]) -> Vec<Option<usize>> {
    // A step ending within this much of another's start counts as before it (clock reads).
    const SLACK: Duration = Duration::from_millis(1);
    let mut first_session: HashMap<SocketAddr, usize> = HashMap::new();
    let mut out = Vec::with_capacity(steps.len());
    for (i, s) in steps.iter().enumerate() {
        let followed_first = s.peer.and_then(|peer| match first_session.get(&peer) {
            Some(&f) if steps[f].end <= s.start + SLACK => Some(f),
            Some(_) => None,
            None => {
                first_session.insert(peer, i);
                None
            }
        });
        // A connection goes to the address a name resolved to: an address answer, not an
        // SPF term that happens to list the same address, is what it needed.
        let may_reveal = |p: &Step| s.kind == StepKind::Dns || p.is_address_answer;
        let revealed_by = || {
            steps
                .iter()
                .enumerate()
                .filter(|(j, p)| *j != i && p.end <= s.start + SLACK && may_reveal(p))
                .filter(|(_, p)| p.reveals.iter().any(|r| s.asks.contains(r)))
                .min_by_key(|(_, p)| p.end)
                .map(|(j, _)| j)
        };
        out.push(followed_first.or_else(revealed_by));
    }
    out
}

/// Per address, the bound its connection limit sets: all its connections share `per_ip` slots
/// from the earliest any could start, and those that follow a first session share them from the
/// earliest such session's end.
#[allow(
    clippy::indexing_slicing,
    reason = "indices of `steps`, `parents` and `finish`, vectors of one length built from the steps of this run (our own record, not outside data); a parent is always another step"
)]
fn connection_limit_bounds(
    steps: &[Step],
    parents: &[Option<usize>],
    finish: &[Duration],
    per_ip: usize,
) -> HashMap<IpAddr, Duration> {
    #[derive(Default)]
    struct PerIp {
        earliest_start: Option<Duration>,
        total: Duration,
        earliest_first_end: Option<Duration>,
        followers: Duration,
    }
    let mut per: HashMap<IpAddr, PerIp> = HashMap::new();
    for (i, s) in steps.iter().enumerate() {
        let Some(peer) = s.peer else { continue };
        let e = per.entry(peer.ip()).or_default();
        let could_start = finish[i].saturating_sub(s.duration());
        e.earliest_start = Some(e.earliest_start.map_or(could_start, |v| v.min(could_start)));
        e.total += s.duration();
        let follows_session = parents[i].is_some_and(|p| steps[p].peer == s.peer);
        if follows_session {
            e.followers += s.duration();
        } else {
            e.earliest_first_end = Some(e.earliest_first_end.map_or(finish[i], |v| v.min(finish[i])));
        }
    }
    let slots = per_ip.max(1) as u32;
    per.into_iter()
        .map(|(ip, p)| {
            let all = p.earliest_start.unwrap_or_default() + p.total / slots;
            let after_first = p.earliest_first_end.unwrap_or_default() + p.followers / slots;
            (ip, all.max(after_first))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn dns(label: &str, asks: &str, reveals: &[&str], start: u64, end: u64) -> Step {
        Step {
            kind: StepKind::Dns,
            label: label.into(),
            outcome: "NOERROR".into(),
            peer: None,
            asks: dns_asks(asks),
            reveals: reveals.iter().map(|s| s.to_string()).collect(),
            start: ms(start),
            end: ms(end),
            queued: Duration::ZERO,
            is_address_answer: label.starts_with("A "),
        }
    }

    fn conn(peer: &str, start: u64, end: u64) -> Step {
        let peer: SocketAddr = peer.parse().unwrap();
        Step {
            kind: StepKind::Connection,
            label: peer.to_string(),
            outcome: "closed".into(),
            peer: Some(peer),
            asks: vec![peer.ip().to_string()],
            reveals: Vec::new(),
            start: ms(start),
            end: ms(end),
            queued: Duration::ZERO,
            is_address_answer: false,
        }
    }

    #[test]
    fn reverse_and_blocklist_names_ask_for_the_address() {
        assert!(dns_asks("45.113.0.203.in-addr.arpa.").contains(&"203.0.113.45".to_string()));
        assert!(dns_asks("45.113.0.203.zen.example").contains(&"203.0.113.45".to_string()));
        let v6 = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";
        assert!(dns_asks(v6).contains(&"2001:db8::1".to_string()));
        assert_eq!(dns_asks("_dmarc.Good.Test."), vec!["_dmarc.good.test".to_string()]);
    }

    #[test]
    fn spf_terms_reveal_names_and_single_addresses() {
        let r = spf_reveals("v=spf1 ip4:203.0.113.45 ip4:198.51.100.0/24 include:_spf.Provider.test ~all");
        assert_eq!(r, vec!["203.0.113.45", "198.51.100.0", "_spf.provider.test"]);
        assert!(spf_reveals("google-site-verification=x").is_empty());
    }

    #[test]
    fn parallel_roots_cost_one_round_trip_and_a_revealed_name_adds_one() {
        let steps = vec![
            dns("TXT d", "d.test", &["_spf.p.test"], 0, 50),
            dns("MX d", "d.test", &["mx.d.test"], 0, 50),
            dns("TXT _spf.p.test", "_spf.p.test", &[], 60, 110),
            dns("A mx.d.test", "mx.d.test", &["192.0.2.1"], 55, 105),
        ];
        let cp = critical_path(&steps, 2);
        assert_eq!(cp.bound, ms(100));
        assert_eq!(cp.chain.len(), 2);
    }

    #[test]
    fn a_question_asked_before_its_name_was_revealed_has_no_parent() {
        // mail.d.test asked as a guess at once, though the MX answer names it later.
        let steps = vec![
            dns("MX d", "d.test", &["mail.d.test"], 0, 50),
            dns("A mail.d.test", "mail.d.test", &["192.0.2.1"], 0, 50),
        ];
        assert_eq!(critical_path(&steps, 2).bound, ms(50));
    }

    #[test]
    fn later_sessions_follow_the_first_and_share_two_slots() {
        let steps = vec![
            dns("A mail", "mail.d.test", &["192.0.2.1"], 0, 50),
            conn("192.0.2.1:587", 50, 300),
            conn("192.0.2.1:587", 300, 500),
            conn("192.0.2.1:587", 300, 500),
            conn("192.0.2.1:587", 500, 700),
            conn("192.0.2.1:587", 500, 700),
        ];
        let cp = critical_path(&steps, 2);
        // First session ends at 300; 800 ms of further sessions over 2 slots: 700.
        assert_eq!(cp.bound, ms(700));
        assert_eq!(cp.limited_by, Some("192.0.2.1".parse().unwrap()));
        // With unlimited slots only the chain counts: 300 + 200.
        assert_eq!(critical_path(&steps, 100).bound, ms(500));
    }

    #[test]
    fn a_session_parallel_to_the_first_depends_only_on_the_address() {
        let steps = vec![
            dns("A mail", "mail.d.test", &["192.0.2.1"], 0, 50),
            conn("192.0.2.1:25", 50, 300),
            conn("192.0.2.1:25", 60, 250),
        ];
        let cp = critical_path(&steps, 4);
        assert_eq!(cp.bound, ms(300));
    }

    #[test]
    fn steps_beyond_the_cap_are_counted_not_kept() {
        let t = Timeline::new();
        for _ in 0..MAX_STEPS + 3 {
            t.push(dns("A x", "x.test", &[], 0, 1));
        }
        assert_eq!(t.steps().len(), MAX_STEPS);
        assert_eq!(t.dropped(), 3);
    }
}
