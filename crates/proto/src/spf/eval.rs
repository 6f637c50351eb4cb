//! `check_host()` (RFC 7208 sections 4 and 5) with the limits of section 4.6.4 and a trace of
//! every step, so a report can show the include tree, each lookup counted against its limit,
//! and which term decided.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use super::macros::{MacroContext, expand, truncate_domain};
use super::record::{Mechanism, Qualifier, is_spf_record, parse_record};
use super::{MAX_DNS_TERMS, MAX_MX_NAMES, MAX_PTR_NAMES, MAX_VOID_LOOKUPS};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpfResult {
    None,
    Neutral,
    Pass,
    Fail,
    SoftFail,
    TempError,
    PermError,
}

impl SpfResult {
    pub fn as_str(self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        }
    }

    fn from_qualifier(q: Qualifier) -> Self {
        match q {
            Qualifier::Pass => SpfResult::Pass,
            Qualifier::Fail => SpfResult::Fail,
            Qualifier::SoftFail => SpfResult::SoftFail,
            Qualifier::Neutral => SpfResult::Neutral,
        }
    }
}

/// Why a DNS question gave no data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpfDnsError {
    /// NXDOMAIN.
    NotFound,
    /// The name exists but has no record of that type.
    NoData,
    /// SERVFAIL, timeout, or any other failure: the answer is unknown.
    TempFail(String),
    /// The name cannot be asked (not a valid DNS name).
    BadName,
}

/// The DNS the evaluator asks; injected so the evaluator itself does no I/O.
/// Its futures are `Send`, so an evaluation can run on any thread of a server's runtime;
/// implementations may still be written with `async fn`.
pub trait SpfDns: Sync {
    fn txt(&self, name: &str) -> impl Future<Output = Result<Vec<String>, SpfDnsError>> + Send;
    fn a(&self, name: &str) -> impl Future<Output = Result<Vec<Ipv4Addr>, SpfDnsError>> + Send;
    fn aaaa(&self, name: &str) -> impl Future<Output = Result<Vec<Ipv6Addr>, SpfDnsError>> + Send;
    /// Exchanges, in preference order.
    fn mx(&self, name: &str) -> impl Future<Output = Result<Vec<String>, SpfDnsError>> + Send;
    fn ptr(&self, ip: IpAddr) -> impl Future<Output = Result<Vec<String>, SpfDnsError>> + Send;
}

#[derive(Debug, Clone)]
pub struct SpfInput {
    pub ip: IpAddr,
    /// MAIL FROM; empty for bounces (then postmaster@helo is checked).
    pub mail_from: String,
    pub helo: String,
    /// Receiving host, for %{r} in explanations.
    pub receiver: String,
    pub timestamp: u64,
}

/// One step of the evaluation, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum TraceEvent {
    Record {
        depth: usize,
        domain: String,
        record: String,
    },
    NoRecord {
        depth: usize,
        domain: String,
        reason: String,
    },
    Term {
        depth: usize,
        domain: String,
        term: String,
        matched: bool,
        dns_terms: usize,
        void_lookups: usize,
        note: String,
    },
    Redirect {
        depth: usize,
        from: String,
        to: String,
    },
    Result {
        depth: usize,
        domain: String,
        result: SpfResult,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpfOutcome {
    pub result: SpfResult,
    /// The domain checked (MAIL FROM's, or HELO's).
    pub domain: String,
    /// The term that decided, as written (`-all`, `ip4:192.0.2.0/24`).
    pub matched: Option<String>,
    /// Why the result is an error, or what decided.
    pub reason: String,
    /// The explanation (exp=) for a fail, expanded.
    pub explanation: Option<String>,
    pub dns_terms: usize,
    pub void_lookups: usize,
    pub trace: Vec<TraceEvent>,
}

/// The evaluation state of one check_host() run (limits are per run, across includes).
pub struct CheckHost<'a, D: SpfDns> {
    dns: &'a D,
    input: &'a SpfInput,
    sender: String,
    dns_terms: usize,
    void_lookups: usize,
    trace: Vec<TraceEvent>,
}

struct Step {
    result: SpfResult,
    matched: Option<String>,
    reason: String,
    explanation: Option<String>,
}

fn step(result: SpfResult, reason: impl Into<String>) -> Step {
    Step {
        result,
        matched: None,
        reason: reason.into(),
        explanation: None,
    }
}

/// Section 4.3: a domain that is malformed or not multi-label gives "none".
fn domain_ok(d: &str) -> bool {
    let d = d.strip_suffix('.').unwrap_or(d);
    if d.is_empty() || d.len() > 253 || !d.contains('.') || d.starts_with('[') {
        return false;
    }
    d.split('.').all(|l| !l.is_empty() && l.len() <= 63)
}

fn in_net4(ip: Ipv4Addr, net: Ipv4Addr, cidr: u8) -> bool {
    if cidr == 0 {
        return true;
    }
    let mask = u32::MAX << (32 - cidr as u32);
    (u32::from(ip) & mask) == (u32::from(net) & mask)
}

fn in_net6(ip: Ipv6Addr, net: Ipv6Addr, cidr: u8) -> bool {
    if cidr == 0 {
        return true;
    }
    let mask = u128::MAX << (128 - cidr as u32);
    (u128::from(ip) & mask) == (u128::from(net) & mask)
}

/// IPv4-mapped IPv6 addresses are IPv4 senders (section 5: "::FFFF:192.0.2.3").
fn effective_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Runs check_host() for the input: MAIL FROM's domain, or HELO's when MAIL FROM is empty.
pub async fn check_host<D: SpfDns>(dns: &D, input: &SpfInput) -> SpfOutcome {
    let (sender, domain) = if input.mail_from.is_empty() {
        (format!("postmaster@{}", input.helo), input.helo.clone())
    } else {
        match input.mail_from.rsplit_once('@') {
            Some(("", d)) => (format!("postmaster@{d}"), d.to_string()),
            Some((_, d)) => (input.mail_from.clone(), d.to_string()),
            None => (format!("postmaster@{}", input.mail_from), input.mail_from.clone()),
        }
    };
    let mut ch = CheckHost {
        dns,
        input,
        sender,
        dns_terms: 0,
        void_lookups: 0,
        trace: Vec::new(),
    };
    let s = if domain_ok(&domain) {
        ch.run(domain.clone(), 0).await
    } else {
        step(
            SpfResult::None,
            format!("`{domain}` is not a valid multi-label domain (RFC 7208 section 4.3)"),
        )
    };
    SpfOutcome {
        result: s.result,
        domain,
        matched: s.matched,
        reason: s.reason,
        explanation: s.explanation,
        dns_terms: ch.dns_terms,
        void_lookups: ch.void_lookups,
        trace: ch.trace,
    }
}

type BoxStep<'f> = Pin<Box<dyn Future<Output = Step> + Send + 'f>>;

enum Lookup<T> {
    Found(T),
    Void,
    Temp(String),
}

impl<'a, D: SpfDns> CheckHost<'a, D> {
    fn ctx(&self, domain: &str, validated: Option<String>) -> MacroContext {
        MacroContext {
            sender: self.sender.clone(),
            domain: domain.to_string(),
            ip: effective_ip(self.input.ip),
            helo: self.input.helo.clone(),
            validated,
            receiver: if self.input.receiver.is_empty() {
                "unknown".into()
            } else {
                self.input.receiver.clone()
            },
            timestamp: self.input.timestamp,
        }
    }

    /// Expands a domain-spec; `%{p}` costs PTR lookups, done only when the spec uses it.
    async fn expand_domain(&mut self, spec: &str, domain: &str) -> Result<String, String> {
        let validated = if spec.contains("%{p") || spec.contains("%{P") {
            self.validated_name(domain).await
        } else {
            None
        };
        let ctx = self.ctx(domain, validated);
        expand(spec, &ctx, false).map(|d| truncate_domain(&d))
    }

    /// The validated PTR name for %{p} (section 7.3): one that resolves back, preferring the domain.
    async fn validated_name(&mut self, domain: &str) -> Option<String> {
        let names = self.dns.ptr(self.input.ip).await.ok()?;
        let mut first = None;
        for n in names.into_iter().take(MAX_PTR_NAMES) {
            if self.resolves_to_ip(&n).await {
                let n = n.trim_end_matches('.').to_string();
                if n.eq_ignore_ascii_case(domain)
                    || n.to_ascii_lowercase()
                        .ends_with(&format!(".{}", domain.to_ascii_lowercase()))
                {
                    return Some(n);
                }
                first.get_or_insert(n);
            }
        }
        Some(first.unwrap_or_else(|| "unknown".into()))
    }

    async fn resolves_to_ip(&self, name: &str) -> bool {
        match effective_ip(self.input.ip) {
            IpAddr::V4(v4) => self.dns.a(name).await.map(|a| a.contains(&v4)).unwrap_or(false),
            IpAddr::V6(v6) => self.dns.aaaa(name).await.map(|a| a.contains(&v6)).unwrap_or(false),
        }
    }

    fn count_term(&mut self) -> Result<(), String> {
        self.dns_terms += 1;
        if self.dns_terms > MAX_DNS_TERMS {
            return Err(format!(
                "more than {MAX_DNS_TERMS} DNS-querying terms (RFC 7208 section 4.6.4)"
            ));
        }
        Ok(())
    }

    fn count_void(&mut self) -> Result<(), String> {
        self.void_lookups += 1;
        if self.void_lookups > MAX_VOID_LOOKUPS {
            return Err(format!(
                "more than {MAX_VOID_LOOKUPS} void lookups (RFC 7208 section 4.6.4)"
            ));
        }
        Ok(())
    }

    fn classify<T>(r: Result<Vec<T>, SpfDnsError>) -> Lookup<Vec<T>> {
        match r {
            Ok(v) if v.is_empty() => Lookup::Void,
            Ok(v) => Lookup::Found(v),
            Err(SpfDnsError::NotFound) | Err(SpfDnsError::NoData) | Err(SpfDnsError::BadName) => Lookup::Void,
            Err(SpfDnsError::TempFail(e)) => Lookup::Temp(e),
        }
    }

    fn run<'f>(&'f mut self, domain: String, depth: usize) -> BoxStep<'f>
    where
        'a: 'f,
    {
        Box::pin(async move {
            let s = self.run_inner(&domain, depth).await;
            self.trace.push(TraceEvent::Result {
                depth,
                domain: domain.clone(),
                result: s.result,
                reason: s.reason.clone(),
            });
            s
        })
    }

    async fn run_inner(&mut self, domain: &str, depth: usize) -> Step {
        if !domain_ok(domain) {
            self.trace.push(TraceEvent::NoRecord {
                depth,
                domain: domain.into(),
                reason: "invalid domain".into(),
            });
            return step(SpfResult::None, format!("`{domain}` is not a valid domain"));
        }
        // Section 4.4: record lookup.
        let txts = match self.dns.txt(domain).await {
            Ok(t) => t,
            Err(SpfDnsError::TempFail(e)) => {
                return step(SpfResult::TempError, format!("DNS error looking up TXT {domain}: {e}"));
            }
            Err(_) => Vec::new(),
        };
        let records: Vec<&String> = txts.iter().filter(|t| is_spf_record(t)).collect();
        let text = match records.as_slice() {
            [] => {
                self.trace.push(TraceEvent::NoRecord {
                    depth,
                    domain: domain.into(),
                    reason: "no v=spf1 record".into(),
                });
                return step(SpfResult::None, format!("{domain} has no SPF record"));
            }
            [only] => (*only).clone(),
            many => {
                let n = many.len();
                return step(
                    SpfResult::PermError,
                    format!("{domain} has {n} SPF records (RFC 7208 section 4.5)"),
                );
            }
        };
        self.trace.push(TraceEvent::Record {
            depth,
            domain: domain.into(),
            record: text.clone(),
        });
        let rec = match parse_record(&text) {
            Ok(r) => r,
            Err(e) => {
                return step(
                    SpfResult::PermError,
                    format!("syntax error in the SPF record of {domain} {e}"),
                );
            }
        };
        let ip = effective_ip(self.input.ip);
        for d in &rec.directives {
            if d.mechanism.queries_dns()
                && let Err(e) = self.count_term()
            {
                return step(SpfResult::PermError, e);
            }
            let outcome = self.mechanism(&d.mechanism, domain, ip, depth).await;
            let (matched, note) = match outcome {
                Ok(m) => m,
                Err(s) => {
                    self.trace.push(TraceEvent::Term {
                        depth,
                        domain: domain.into(),
                        term: d.text.clone(),
                        matched: false,
                        dns_terms: self.dns_terms,
                        void_lookups: self.void_lookups,
                        note: s.reason.clone(),
                    });
                    return s;
                }
            };
            self.trace.push(TraceEvent::Term {
                depth,
                domain: domain.into(),
                term: d.text.clone(),
                matched,
                dns_terms: self.dns_terms,
                void_lookups: self.void_lookups,
                note,
            });
            if matched {
                let result = SpfResult::from_qualifier(d.qualifier);
                let explanation = if result == SpfResult::Fail {
                    match &rec.exp {
                        Some(exp) => self.explanation(exp, domain).await,
                        None => None,
                    }
                } else {
                    None
                };
                return Step {
                    result,
                    matched: Some(d.text.clone()),
                    reason: format!("{domain}: `{}` matched", d.text),
                    explanation,
                };
            }
        }
        if let Some(target) = &rec.redirect {
            if let Err(e) = self.count_term() {
                return step(SpfResult::PermError, e);
            }
            let target = match self.expand_domain(target, domain).await {
                Ok(t) => t,
                Err(e) => return step(SpfResult::PermError, format!("redirect={target}: {e}")),
            };
            self.trace.push(TraceEvent::Redirect {
                depth,
                from: domain.into(),
                to: target.clone(),
            });
            let s = self.run(target.clone(), depth + 1).await;
            if s.result == SpfResult::None {
                return step(
                    SpfResult::PermError,
                    format!("redirect target {target} has no SPF record (RFC 7208 section 6.1)"),
                );
            }
            return s;
        }
        step(
            SpfResult::Neutral,
            format!("{domain}: no term matched and there is no redirect (default neutral)"),
        )
    }

    /// Ok((matched, note)) or a final Step (temperror/permerror) that ends the evaluation.
    async fn mechanism(
        &mut self,
        m: &Mechanism,
        domain: &str,
        ip: IpAddr,
        depth: usize,
    ) -> Result<(bool, String), Step> {
        let perm = |e: String| step(SpfResult::PermError, e);
        match m {
            Mechanism::All => Ok((true, String::new())),
            Mechanism::Ip4 { addr, cidr } => {
                Ok((matches!(ip, IpAddr::V4(v) if in_net4(v, *addr, *cidr)), String::new()))
            }
            Mechanism::Ip6 { addr, cidr } => {
                Ok((matches!(ip, IpAddr::V6(v) if in_net6(v, *addr, *cidr)), String::new()))
            }
            Mechanism::Include { domain: spec } => {
                let target = self.expand_domain(spec, domain).await.map_err(perm)?;
                let s = self.run(target.clone(), depth + 1).await;
                match s.result {
                    SpfResult::Pass => Ok((true, format!("include:{target} gave pass"))),
                    SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => {
                        Ok((false, format!("include:{target} gave {}", s.result.as_str())))
                    }
                    SpfResult::TempError => Err(s),
                    SpfResult::PermError => Err(s),
                    SpfResult::None => Err(step(
                        SpfResult::PermError,
                        format!("include:{target} has no SPF record (RFC 7208 section 5.2)"),
                    )),
                }
            }
            Mechanism::A {
                domain: spec,
                cidr4,
                cidr6,
            } => {
                let target = match spec {
                    Some(s) => self.expand_domain(s, domain).await.map_err(perm)?,
                    None => domain.to_string(),
                };
                self.address_match(&target, ip, *cidr4, *cidr6, true).await
            }
            Mechanism::Mx {
                domain: spec,
                cidr4,
                cidr6,
            } => {
                let target = match spec {
                    Some(s) => self.expand_domain(s, domain).await.map_err(perm)?,
                    None => domain.to_string(),
                };
                let exchanges = match Self::classify(self.dns.mx(&target).await) {
                    Lookup::Found(x) => x,
                    Lookup::Void => {
                        self.count_void().map_err(perm)?;
                        return Ok((false, format!("{target} has no MX")));
                    }
                    Lookup::Temp(e) => {
                        return Err(step(
                            SpfResult::TempError,
                            format!("DNS error looking up MX {target}: {e}"),
                        ));
                    }
                };
                if exchanges.len() > MAX_MX_NAMES {
                    return Err(perm(format!(
                        "{target} has {} MX names; at most {MAX_MX_NAMES} may be looked up",
                        exchanges.len()
                    )));
                }
                for x in &exchanges {
                    if let (true, _) = self.address_match(x, ip, *cidr4, *cidr6, false).await? {
                        return Ok((true, format!("MX {x}")));
                    }
                }
                Ok((false, String::new()))
            }
            Mechanism::Ptr { domain: spec } => {
                let target = match spec {
                    Some(s) => self.expand_domain(s, domain).await.map_err(perm)?,
                    None => domain.to_string(),
                };
                let names = match Self::classify(self.dns.ptr(ip).await) {
                    Lookup::Found(n) => n,
                    Lookup::Void => {
                        self.count_void().map_err(perm)?;
                        return Ok((false, "no PTR".into()));
                    }
                    // Section 5.5: a DNS error on the PTR lookup makes the mechanism not match.
                    Lookup::Temp(_) => return Ok((false, "PTR lookup failed".into())),
                };
                let t = target.trim_end_matches('.').to_ascii_lowercase();
                for n in names.into_iter().take(MAX_PTR_NAMES) {
                    let name = n.trim_end_matches('.').to_ascii_lowercase();
                    if (name == t || name.ends_with(&format!(".{t}"))) && self.resolves_to_ip(&name).await {
                        return Ok((true, format!("validated {name}")));
                    }
                }
                Ok((false, String::new()))
            }
            Mechanism::Exists { domain: spec } => {
                let target = self.expand_domain(spec, domain).await.map_err(perm)?;
                match Self::classify(self.dns.a(&target).await) {
                    Lookup::Found(_) => Ok((true, String::new())),
                    Lookup::Void => {
                        self.count_void().map_err(perm)?;
                        Ok((false, format!("{target} has no A record")))
                    }
                    Lookup::Temp(e) => Err(step(
                        SpfResult::TempError,
                        format!("DNS error looking up A {target}: {e}"),
                    )),
                }
            }
        }
    }

    async fn address_match(
        &mut self,
        name: &str,
        ip: IpAddr,
        cidr4: u8,
        cidr6: u8,
        count_void: bool,
    ) -> Result<(bool, String), Step> {
        let perm = |e: String| step(SpfResult::PermError, e);
        match ip {
            IpAddr::V4(v4) => match Self::classify(self.dns.a(name).await) {
                Lookup::Found(addrs) => Ok((addrs.iter().any(|a| in_net4(v4, *a, cidr4)), String::new())),
                Lookup::Void => {
                    if count_void {
                        self.count_void().map_err(perm)?;
                    }
                    Ok((false, format!("{name} has no A record")))
                }
                Lookup::Temp(e) => Err(step(
                    SpfResult::TempError,
                    format!("DNS error looking up A {name}: {e}"),
                )),
            },
            IpAddr::V6(v6) => match Self::classify(self.dns.aaaa(name).await) {
                Lookup::Found(addrs) => Ok((addrs.iter().any(|a| in_net6(v6, *a, cidr6)), String::new())),
                Lookup::Void => {
                    if count_void {
                        self.count_void().map_err(perm)?;
                    }
                    Ok((false, format!("{name} has no AAAA record")))
                }
                Lookup::Temp(e) => Err(step(
                    SpfResult::TempError,
                    format!("DNS error looking up AAAA {name}: {e}"),
                )),
            },
        }
    }

    /// Section 6.2: errors of any kind mean "no explanation", never a different result.
    async fn explanation(&mut self, spec: &str, domain: &str) -> Option<String> {
        let target = self.expand_domain(spec, domain).await.ok()?;
        let txts = self.dns.txt(&target).await.ok()?;
        let [text] = txts.as_slice() else {
            return None;
        };
        if !text.is_ascii() {
            return None;
        }
        let validated = if text.contains("%{p") || text.contains("%{P") {
            self.validated_name(domain).await
        } else {
            None
        };
        let ctx = self.ctx(domain, validated);
        expand(text, &ctx, true).ok()
    }
}
