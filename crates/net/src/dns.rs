//! DNS through hickory-resolver, keeping every answer as evidence.
//!
//! The hosts file is never consulted (a lab or a diagnosis must see what the DNS says, not what
//! this machine's /etc/hosts says). Every question asked is logged with its rcode, records, TTLs
//! and time taken, so a report can show exactly what it saw.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as HDnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use serde::{Deserialize, Serialize};

use crate::dnslimits::DnsLimits;
use crate::timeline::{Step, StepKind, Timeline, dns_asks, spf_reveals};

/// Where DNS questions go.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// Empty: the system configuration (/etc/resolv.conf). Otherwise these servers, in order.
    pub servers: Vec<SocketAddr>,
    /// The bound on one question as a whole: every server and every attempt (and the TCP retry
    /// of a truncated answer) together. `--timeout` sets it.
    pub timeout: Duration,
    pub attempts: usize,
    /// The DNSSEC trust anchor of validated lookups.
    pub trust_anchor: crate::dnssec::TrustAnchor,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            timeout: Duration::from_secs(5),
            attempts: 2,
            trust_anchor: crate::dnssec::TrustAnchor::Iana,
        }
    }
}

/// One record of an answer: typed data for the checks ([`Rdata`], built once from hickory's
/// RData), and the presentation form for the evidence. No check parses `data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecord {
    pub name: String,
    pub ttl: u32,
    #[serde(rename = "type")]
    pub rtype: String,
    /// Presentation form, for people (evidence).
    pub data: String,
    /// The same data, typed.
    #[serde(skip)]
    pub rdata: Rdata,
    /// The owner as raw labels, lower case, without the final dot (compared with the name
    /// asked; `name` is for people).
    #[serde(skip)]
    pub owner: String,
}

/// Record data as types. Names are absolute, lower case, without the final dot, kept as their
/// raw labels (a name with bytes the presentation format escapes is asked for exactly as is).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Rdata {
    A(std::net::Ipv4Addr),
    Aaaa(std::net::Ipv6Addr),
    Mx {
        preference: u16,
        exchange: String,
    },
    /// TXT, and the removed SPF type (99) with the same wire format: the character-strings.
    Txt(Vec<Vec<u8>>),
    Ptr(String),
    Cname(String),
    Ns(String),
    Tlsa {
        usage: u8,
        selector: u8,
        matching: u8,
        data: Vec<u8>,
    },
    /// A type no check reads (its presentation form is in `data`).
    #[default]
    Other,
}

impl DnsRecord {
    /// A hickory record as evidence and typed data (the one place answers are converted).
    pub(crate) fn of(r: &hickory_resolver::proto::rr::Record) -> Self {
        DnsRecord {
            name: r.name.to_string(),
            ttl: r.ttl,
            rtype: type_name(r.record_type()),
            data: rdata_text(&r.data),
            rdata: typed(&r.data),
            owner: raw_key(&r.name),
        }
    }

    /// The address of an A or AAAA record.
    pub fn ip(&self) -> Option<IpAddr> {
        match &self.rdata {
            Rdata::A(v4) => Some(IpAddr::V4(*v4)),
            Rdata::Aaaa(v6) => Some(IpAddr::V6(*v6)),
            _ => None,
        }
    }

    /// A TXT (or SPF-type) record's character-strings joined, as a receiver reads them
    /// (RFC 7208 section 3.3, RFC 6376 section 3.6.2.2); lossy UTF-8.
    pub fn txt(&self) -> Option<String> {
        match &self.rdata {
            Rdata::Txt(strings) => Some(String::from_utf8_lossy(&strings.concat()).into_owned()),
            _ => None,
        }
    }

    /// An MX record's preference and exchange.
    pub fn mx(&self) -> Option<(u16, &str)> {
        match &self.rdata {
            Rdata::Mx { preference, exchange } => Some((*preference, exchange.as_str())),
            _ => None,
        }
    }

    /// The target of a PTR, CNAME or NS record.
    pub fn target(&self) -> Option<&str> {
        match &self.rdata {
            Rdata::Ptr(n) | Rdata::Cname(n) | Rdata::Ns(n) => Some(n.as_str()),
            _ => None,
        }
    }
}

/// One question and what came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsQuery {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    /// NOERROR, NXDOMAIN, SERVFAIL, REFUSED..., or TIMEOUT / ERROR when no response arrived.
    pub rcode: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<DnsRecord>,
    pub elapsed_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For a validated question: secure, insecure, bogus or indeterminate (RFC 4035 section 4.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnssec: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DnsError {
    #[error("{name} does not exist (NXDOMAIN)")]
    NxDomain { name: String },
    #[error("{name} has no {rtype} record")]
    NoRecords { name: String, rtype: String },
    #[error("the DNS server answered {rcode} for {name} {rtype}")]
    Rcode { name: String, rtype: String, rcode: String },
    #[error("no DNS answer for {name} {rtype} in time")]
    Timeout { name: String, rtype: String },
    #[error("{name} is not a valid DNS name: {message}")]
    BadName { name: String, message: String },
    #[error("DNS lookup of {name} {rtype} failed: {message}")]
    Other {
        name: String,
        rtype: String,
        message: String,
    },
    #[error("could not set up the resolver: {0}")]
    Setup(String),
    /// The answer's records were all owned by names the question did not lead to (a broken
    /// or forging server): none is used.
    #[error("the answer for {name} {rtype} held records only for another name ({owner}); none was used")]
    Stray { name: String, rtype: String, owner: String },
    /// Following CNAMEs from the name asked went round in a loop or past the limit.
    #[error("the CNAME chain from {name} is longer than {limit} links or loops")]
    CnameChain { name: String, limit: usize },
    /// Not sent: the query budget of `zone` (`--dnsbl-budget`) is spent.
    #[error("{name} was not asked: the query budget for {zone} is spent")]
    Budget { name: String, zone: String },
    /// A special-use name (RFC 6761: `localhost`, `127.in-addr.arpa`, `::1`'s reverse name,
    /// `invalid`, `onion`) that a resolver library answers itself. It is never asked, so no
    /// invented answer can become evidence.
    #[error("{name} is a special-use name (RFC 6761) that the DNS is not asked about")]
    SpecialUse { name: String },
}

impl DnsError {
    /// True when the answer says the data does not exist (as opposed to: could not find out).
    pub fn is_negative(&self) -> bool {
        matches!(self, DnsError::NxDomain { .. } | DnsError::NoRecords { .. })
    }

    /// True when no server answered in time (as opposed to an answer with an error rcode).
    pub fn is_timeout(&self) -> bool {
        matches!(self, DnsError::Timeout { .. })
    }
}

/// RFC 6761 special-use names that hickory-resolver answers without asking any server
/// (`localhost` and `127.in-addr.arpa` with loopback data, `invalid` and `onion` with NXDOMAIN).
/// Its behaviour cannot be switched off, so these names are never handed to it.
pub fn is_special_use(fqdn: &str) -> bool {
    let n = fqdn.trim_end_matches('.').to_ascii_lowercase();
    let under = |zone: &str| n == zone || n.ends_with(&format!(".{zone}"));
    under("localhost")
        || under("127.in-addr.arpa")
        || n == "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa"
        || under("invalid")
        || under("onion")
}

type Answer = Result<Vec<DnsRecord>, DnsError>;
type Cell = Arc<tokio::sync::OnceCell<Answer>>;

/// A DNS client for one run: each question is asked once per run, concurrent askers share the
/// answer in flight, and every question really sent is logged as evidence.
#[derive(Clone)]
pub struct Dns {
    resolver: TokioResolver,
    /// The same servers through hickory's DNSSEC validation (crate::dnssec): asked only by
    /// the checks that need a validated answer (DNSSEC status, DANE).
    pub(crate) validator: TokioResolver,
    /// False when there is no trust anchor (a lab world that is not signed): every answer is
    /// then insecure, as RFC 4035 section 4.3 defines it.
    pub(crate) validating: bool,
    /// The bound on one question as a whole (see [`DnsConfig::timeout`]).
    budget: Duration,
    log: Arc<Mutex<Vec<DnsQuery>>>,
    cache: Arc<Mutex<std::collections::HashMap<(String, RecordType), Cell>>>,
    /// When the run is traced (`--timeline`), every question sent.
    timeline: Option<Timeline>,
    /// Rates and budgets, shared by every run of the process.
    limits: Arc<DnsLimits>,
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dns").finish_non_exhaustive()
    }
}

impl Dns {
    pub fn new(config: &DnsConfig) -> Result<Self, DnsError> {
        let resolver = build_resolver(config, None)?;
        let validator = match crate::dnssec::trust_anchors(&config.trust_anchor)? {
            Some(anchors) => build_resolver(config, Some(anchors))?,
            None => resolver.clone(),
        };
        Ok(Self {
            resolver,
            validator,
            validating: config.trust_anchor != crate::dnssec::TrustAnchor::None,
            budget: config.timeout,
            log: Arc::new(Mutex::new(Vec::new())),
            cache: Arc::new(Mutex::new(Default::default())),
            timeline: None,
            limits: Arc::new(DnsLimits::none()),
        })
    }

    /// The same client (and every later run of it) under `limits`.
    pub fn with_limits(mut self, limits: DnsLimits) -> Dns {
        self.limits = Arc::new(limits);
        self
    }

    /// A client for the next run on the same resolver: a fresh log and per-run answers, but
    /// hickory's TTL-honouring cache shared with every other run (a scan's shared work).
    pub fn next_run(&self) -> Dns {
        Dns {
            resolver: self.resolver.clone(),
            validator: self.validator.clone(),
            validating: self.validating,
            budget: self.budget,
            log: Arc::new(Mutex::new(Vec::new())),
            cache: Arc::new(Mutex::new(Default::default())),
            timeline: None,
            limits: self.limits.clone(),
        }
    }

    /// The same client recording every question it sends on `timeline`.
    pub fn traced(mut self, timeline: Timeline) -> Dns {
        self.timeline = Some(timeline);
        self
    }

    /// The underlying resolver, for libraries that resolve for themselves (mail-auth's DKIM,
    /// DMARC and ARC verification): same servers, same options, same hickory cache. Their
    /// questions are not in [`Dns::queries`].
    pub fn resolver(&self) -> &TokioResolver {
        &self.resolver
    }

    /// Records one question in the run's log (and on the timeline when traced).
    pub(crate) fn record(&self, entry: DnsQuery, step_start: Option<Duration>) {
        if let (Some(t), Some(start)) = (&self.timeline, step_start) {
            t.push(step_of(&entry, start, t.now()));
        }
        if let Ok(mut log) = self.log.lock() {
            log.push(entry);
        }
    }

    pub(crate) fn timeline_now(&self) -> Option<Duration> {
        self.timeline.as_ref().map(Timeline::now)
    }

    pub(crate) fn budget(&self) -> Duration {
        self.budget
    }

    /// Every question asked so far, in order.
    pub fn queries(&self) -> Vec<DnsQuery> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Looks up `name` (absolute) for `rtype`. Records of other types in the answer (CNAME
    /// chain) are kept in the evidence and in the returned list. Asked once per run.
    pub async fn lookup(&self, name: &str, rtype: RecordType) -> Result<Vec<DnsRecord>, DnsError> {
        let key = (absolute(name).to_ascii_lowercase(), rtype);
        // The guard is dropped before any await (the future stays Send).
        let cell = self.cache.lock().ok().map(|mut c| c.entry(key).or_default().clone());
        let Some(cell) = cell else {
            return self.lookup_uncached(name, rtype).await;
        };
        cell.get_or_init(|| self.lookup_uncached(name, rtype)).await.clone()
    }

    /// How many distinct questions were sent (for tests and benchmarks).
    pub fn query_count(&self) -> usize {
        self.log.lock().map(|l| l.len()).unwrap_or(0)
    }

    async fn lookup_uncached(&self, name: &str, rtype: RecordType) -> Result<Vec<DnsRecord>, DnsError> {
        let fqdn = absolute(name);
        let parsed = parse_name(&fqdn).map_err(|message| DnsError::BadName {
            name: name.to_string(),
            message,
        })?;
        let rtype_s = type_name(rtype);
        if is_special_use(&fqdn) {
            return Err(DnsError::SpecialUse { name: fqdn });
        }
        if let Err(zone) = self.limits.admit(&fqdn).await {
            return Err(DnsError::Budget { name: fqdn, zone });
        }
        let started = Instant::now();
        let step_start = self.timeline.as_ref().map(Timeline::now);
        // hickory bounds each attempt; this bounds the question as a whole, so `--timeout 2`
        // means two seconds whatever the number of servers and attempts.
        let result = match tokio::time::timeout(self.budget, self.resolver.lookup(parsed.clone(), rtype)).await {
            Ok(r) => r,
            Err(_) => Err(NetError::Timeout),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let (entry, out) = match result {
            Ok(lookup) => {
                let received: Vec<DnsRecord> = lookup.answers().iter().map(DnsRecord::of).collect();
                let used = about_question(&fqdn, &rtype_s, &received);
                let q = DnsQuery {
                    name: fqdn.clone(),
                    rtype: rtype_s.clone(),
                    rcode: "NOERROR".into(),
                    records: received.into_iter().take(MAX_RECORDS_USED).collect(),
                    elapsed_ms,
                    error: used.as_ref().err().map(ToString::to_string),
                    dnssec: None,
                };
                let out = match used {
                    Err(e) => Err(e),
                    Ok(records) if records.iter().any(|r| r.rtype == rtype_s) => Ok(records),
                    Ok(_) => Err(DnsError::NoRecords {
                        name: fqdn.clone(),
                        rtype: rtype_s.clone(),
                    }),
                };
                (q, out)
            }
            Err(e) => {
                let mut err = classify(&fqdn, &rtype_s, &e);
                if rtype != RecordType::CNAME && lacks_soa(&e) {
                    err = self.loop_or(err, &parsed, &fqdn).await;
                }
                let rcode = match &err {
                    DnsError::NxDomain { .. } => "NXDOMAIN".to_string(),
                    DnsError::NoRecords { .. } => "NOERROR".to_string(),
                    DnsError::Rcode { rcode, .. } => rcode.clone(),
                    DnsError::Timeout { .. } => "TIMEOUT".to_string(),
                    _ => "ERROR".to_string(),
                };
                let q = DnsQuery {
                    name: fqdn.clone(),
                    rtype: rtype_s.clone(),
                    rcode,
                    records: Vec::new(),
                    elapsed_ms,
                    error: if err.is_negative() { None } else { Some(e.to_string()) },
                    dnssec: None,
                };
                (q, Err(err))
            }
        };
        if let (Some(t), Some(start)) = (&self.timeline, step_start) {
            t.push(step_of(&entry, start, t.now()));
        }
        if let Ok(mut log) = self.log.lock() {
            log.push(entry);
        }
        out
    }

    /// An empty answer without the SOA that RFC 2308 section 2.2 puts in every real "no such
    /// data" answer is what a CNAME loop leaves once hickory has followed it round: ask for the
    /// name's CNAME chain and report a loop as such, never as "no record".
    async fn loop_or(&self, err: DnsError, name: &Name, fqdn: &str) -> DnsError {
        let key = |n: &str| n.trim_end_matches('.').to_ascii_lowercase();
        let mut chain = vec![raw_key(name)];
        let mut next = name.clone();
        while chain.len() <= MAX_CNAME_CHAIN {
            let asked = tokio::time::timeout(self.budget, self.resolver.lookup(next.clone(), RecordType::CNAME)).await;
            let Ok(Ok(answer)) = asked else { return err };
            let Some(target) = answer.answers().iter().map(DnsRecord::of).find_map(|r| match r.rdata {
                Rdata::Cname(t) if r.owner == chain.last().cloned().unwrap_or_default() => Some(t),
                _ => None,
            }) else {
                return err;
            };
            if chain.contains(&key(&target)) {
                break;
            }
            chain.push(key(&target));
            let Ok(n) = parse_name(&absolute(&target)) else {
                return err;
            };
            next = n;
        }
        DnsError::CnameChain {
            name: fqdn.to_string(),
            limit: MAX_CNAME_CHAIN,
        }
    }

    /// A and AAAA at the same time. Ok with the union when either has addresses; the error of
    /// the A lookup otherwise (NXDOMAIN wins over "no records", a failure over both).
    pub async fn lookup_ip(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        let (a, aaaa) = tokio::join!(self.lookup(host, RecordType::A), self.lookup(host, RecordType::AAAA));
        let mut ips: Vec<IpAddr> = Vec::new();
        for ip in a.iter().chain(aaaa.iter()).flatten().filter_map(DnsRecord::ip) {
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        if !ips.is_empty() {
            return Ok(ips);
        }
        match (a, aaaa) {
            (Err(e @ DnsError::NxDomain { .. }), _) | (_, Err(e @ DnsError::NxDomain { .. })) => Err(e),
            (Err(e), Err(e6)) => {
                if e.is_negative() && !e6.is_negative() {
                    Err(e6)
                } else {
                    Err(e)
                }
            }
            _ => Err(DnsError::NoRecords {
                name: absolute(host),
                rtype: "A/AAAA".into(),
            }),
        }
    }

    /// PTR names of an address (absolute names without the trailing dot).
    pub async fn reverse(&self, ip: IpAddr) -> Result<Vec<String>, DnsError> {
        let name = Name::from(ip).to_string();
        let records = self.lookup(&name, RecordType::PTR).await?;
        Ok(records
            .iter()
            .filter(|r| matches!(r.rdata, Rdata::Ptr(_)))
            .filter_map(|r| r.target().map(str::to_string))
            .collect())
    }
}

/// Links of a CNAME chain followed from the name asked (RFC 1034 section 3.6.2); hickory's
/// resolver and server stop at 8 too. A longer chain is a loop or a misconfiguration.
pub const MAX_CNAME_CHAIN: usize = 8;

/// Records used from one answer: a 64 KiB DNS message holds a few thousand at most; no check
/// reads more than a thousand (an MX set of a thousand hosts is already a finding).
pub const MAX_RECORDS_USED: usize = 1000;

/// The records of an answer that are about the question: owned by the name asked, or by a
/// name its CNAME chain leads to (RFC 1034 section 3.6.2). Records for other names are what a
/// broken or forging server adds; they are never used (RFC 5452 section 6).
fn about_question(fqdn: &str, rtype: &str, received: &[DnsRecord]) -> Result<Vec<DnsRecord>, DnsError> {
    let key = |n: &str| n.trim_end_matches('.').to_ascii_lowercase();
    let owner = |r: &DnsRecord| r.owner.clone();
    let asked = parse_name(fqdn).map_or_else(|_| key(fqdn), |n| raw_key(&n));
    let mut chain = vec![asked];
    while let Some(last) = chain.last() {
        let next = received.iter().find_map(|r| match &r.rdata {
            Rdata::Cname(target) if owner(r) == *last => Some(key(target)),
            _ => None,
        });
        match next {
            None => break,
            Some(t) if chain.contains(&t) || chain.len() > MAX_CNAME_CHAIN => {
                return Err(DnsError::CnameChain {
                    name: fqdn.to_string(),
                    limit: MAX_CNAME_CHAIN,
                });
            }
            Some(t) => chain.push(t),
        }
    }
    let used: Vec<DnsRecord> = received
        .iter()
        .filter(|r| chain.contains(&owner(r)))
        .take(MAX_RECORDS_USED)
        .cloned()
        .collect();
    match received.first() {
        Some(stray) if used.is_empty() => Err(DnsError::Stray {
            name: fqdn.to_string(),
            rtype: rtype.to_string(),
            owner: owner(stray),
        }),
        _ => Ok(used),
    }
}

/// A resolver for `config`; validating against `anchors` when given.
fn build_resolver(
    config: &DnsConfig,
    anchors: Option<Arc<hickory_resolver::proto::dnssec::TrustAnchors>>,
) -> Result<TokioResolver, DnsError> {
    let provider = TokioRuntimeProvider::default();
    let mut builder = if config.servers.is_empty() {
        TokioResolver::builder(provider).map_err(|e| DnsError::Setup(e.to_string()))?
    } else {
        let servers = config
            .servers
            .iter()
            .map(|s| {
                let mut udp = ConnectionConfig::udp();
                udp.port = s.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = s.port();
                NameServerConfig::new(s.ip(), true, vec![udp, tcp])
            })
            .collect();
        TokioResolver::builder_with_config(ResolverConfig::from_name_servers(servers), provider)
    };
    // Unless given one, hickory builds a DNS-over-TLS client configuration for every
    // resolver, loading the platform's whole root store (40% of the CPU of a `check`).
    // mxdoctor asks only over UDP and TCP, so it gets one with no roots.
    builder = builder.with_tls_config(unused_tls_config()?);
    if let Some(anchors) = anchors {
        builder = builder.with_trust_anchor(anchors);
    }
    let opts: &mut ResolverOpts = builder.options_mut();
    opts.use_hosts_file = ResolveHosts::Never;
    // Each attempt gets its share of the question's budget, so a lost UDP packet can still
    // be retried within `--timeout`.
    let attempts = config.attempts.max(1);
    opts.timeout = (config.timeout / attempts as u32).max(Duration::from_millis(200));
    opts.attempts = attempts;
    // Names are always fully qualified by us; never append search domains.
    opts.ndots = 0;
    opts.try_tcp_on_error = true;
    // Our own per-run log is the evidence; hickory's cache is fine to keep for speed.
    opts.preserve_intermediates = true;
    // One resolver may serve a whole scan (`Dns::next_run`): the same `include:` or MX host
    // is asked once for all domains while its TTL lasts; bounded in entries.
    opts.cache_size = 20_000;
    builder.build().map_err(|e| DnsError::Setup(e.to_string()))
}

/// A question as a timeline step: what it asked about and what its answer made known.
fn step_of(q: &DnsQuery, start: Duration, end: Duration) -> Step {
    let mut reveals = Vec::new();
    for r in &q.records {
        match &r.rdata {
            Rdata::A(_) | Rdata::Aaaa(_) => reveals.extend(r.ip().map(|ip| ip.to_string())),
            Rdata::Mx { exchange, .. } => reveals.push(exchange.clone()),
            Rdata::Ptr(n) | Rdata::Cname(n) | Rdata::Ns(n) => reveals.push(n.clone()),
            Rdata::Txt(_) => reveals.extend(r.txt().map(|t| spf_reveals(&t)).unwrap_or_default()),
            _ => {}
        }
    }
    Step {
        kind: StepKind::Dns,
        label: format!("{} {}", q.rtype, q.name.trim_end_matches('.')),
        outcome: q.rcode.clone(),
        peer: None,
        asks: dns_asks(&q.name),
        reveals,
        start,
        end,
        queued: Duration::ZERO,
        is_address_answer: matches!(q.rtype.as_str(), "A" | "AAAA"),
    }
}

/// A DNS name from text. Names built by macro expansion may hold bytes the presentation
/// format does not allow (spaces, `%`); DNS itself allows any octet in a label, so fall back to
/// raw labels rather than refusing to ask.
pub(crate) fn parse_name(fqdn: &str) -> Result<Name, String> {
    match Name::from_ascii(fqdn) {
        Ok(n) => Ok(n),
        Err(e) => {
            let labels: Vec<&[u8]> = fqdn.trim_end_matches('.').split('.').map(str::as_bytes).collect();
            if labels.iter().any(|l| l.is_empty() || l.len() > 63) || fqdn.len() > 254 {
                return Err(e.to_string());
            }
            let mut n = Name::from_labels(labels).map_err(|e2| format!("{e}; {e2}"))?;
            n.set_fqdn(true);
            Ok(n)
        }
    }
}

pub(crate) fn absolute(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

/// A TLS configuration that is never used (no DNS-over-TLS server is configured).
fn unused_tls_config() -> Result<rustls::ClientConfig, DnsError> {
    Ok(
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| DnsError::Setup(e.to_string()))?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
    )
}

/// A name as the checks use it: raw labels, lower case, no final dot.
fn name_of(n: &Name) -> String {
    raw_name(n).trim_end_matches('.').to_ascii_lowercase()
}

/// The typed form of hickory's record data.
pub(crate) fn typed(data: &RData) -> Rdata {
    match data {
        RData::A(a) => Rdata::A(a.0),
        RData::AAAA(a) => Rdata::Aaaa(a.0),
        RData::MX(mx) => Rdata::Mx {
            preference: mx.preference,
            exchange: name_of(&mx.exchange),
        },
        RData::TXT(txt) => Rdata::Txt(txt.txt_data.iter().map(|s| s.to_vec()).collect()),
        RData::Unknown { code, rdata } if u16::from(*code) == 99 => {
            Rdata::Txt(character_strings(&rdata.anything).map(<[u8]>::to_vec).collect())
        }
        RData::PTR(p) => Rdata::Ptr(name_of(&p.0)),
        RData::CNAME(c) => Rdata::Cname(name_of(&c.0)),
        RData::NS(n) => Rdata::Ns(name_of(&n.0)),
        RData::TLSA(t) => Rdata::Tlsa {
            usage: t.cert_usage.into(),
            selector: t.selector.into(),
            matching: t.matching.into(),
            data: t.cert_data.clone(),
        },
        _ => Rdata::Other,
    }
}

/// The character-strings of TXT wire data (RFC 1035 section 3.3: a length octet, then that
/// many bytes); a last string cut short is taken as far as it goes.
fn character_strings(mut rest: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let (&len, tail) = rest.split_first()?;
        let (string, next) = tail.split_at(usize::from(len).min(tail.len()));
        rest = next;
        Some(string)
    })
}

pub(crate) fn rdata_text(data: &RData) -> String {
    match data {
        // TXT: join the character-strings as a receiver would (RFC 7208 3.3), quoted form is in Display.
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect::<Vec<_>>()
            .join(""),
        // Names as their raw labels: an exchange or PTR target with bytes presentation format
        // escapes (`\:`) must be asked for exactly as it is.
        // The deprecated SPF type (99) has TXT's wire format: character-strings, joined.
        RData::Unknown { code, rdata } if u16::from(*code) == 99 => {
            String::from_utf8_lossy(&character_strings(&rdata.anything).collect::<Vec<_>>().concat()).into_owned()
        }
        RData::MX(mx) => format!("{} {}", mx.preference, raw_name(&mx.exchange)),
        RData::PTR(p) => raw_name(&p.0),
        RData::CNAME(c) => raw_name(&c.0),
        other => other.to_string(),
    }
}

/// RFC 3597 names for types without a mnemonic (`TYPE99`), and `SPF` for the removed SPF type.
pub(crate) fn type_name(t: RecordType) -> String {
    match t {
        RecordType::Unknown(99) => "SPF".into(),
        RecordType::Unknown(n) => format!("TYPE{n}"),
        other => other.to_string(),
    }
}

fn raw_name(n: &Name) -> String {
    let mut s: String = n
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect::<Vec<_>>()
        .join(".");
    s.push('.');
    s
}

/// A name as raw labels, lower case, without the final dot: how names are compared.
fn raw_key(n: &Name) -> String {
    raw_name(n).trim_end_matches('.').to_ascii_lowercase()
}

/// A NOERROR answer with no records and no SOA (see [`Dns::loop_or`]).
fn lacks_soa(e: &NetError) -> bool {
    matches!(e, NetError::Dns(HDnsError::NoRecordsFound(nr)) if nr.response_code == ResponseCode::NoError && nr.soa.is_none())
}

pub(crate) fn classify(name: &str, rtype: &str, e: &NetError) -> DnsError {
    let name = name.to_string();
    let rtype = rtype.to_string();
    match e {
        NetError::Dns(HDnsError::NoRecordsFound(nr)) => {
            if nr.response_code == ResponseCode::NXDomain {
                DnsError::NxDomain { name }
            } else {
                DnsError::NoRecords { name, rtype }
            }
        }
        NetError::Dns(HDnsError::ResponseCode(code)) => DnsError::Rcode {
            name,
            rtype,
            rcode: code.to_string().to_ascii_uppercase(),
        },
        NetError::Timeout => DnsError::Timeout { name, rtype },
        other => {
            let message = other.to_string();
            if message.contains("timed out") {
                DnsError::Timeout { name, rtype }
            } else {
                DnsError::Other { name, rtype, message }
            }
        }
    }
}

#[cfg(test)]
mod typed_tests {
    use super::*;
    use hickory_resolver::proto::rr::rdata::{MX, TXT};

    #[test]
    fn record_data_is_typed_once() {
        let mx = typed(&RData::MX(MX::new(10, Name::from_ascii("MX.Example.").unwrap())));
        assert_eq!(
            mx,
            Rdata::Mx {
                preference: 10,
                exchange: "mx.example".into()
            }
        );
        // RFC 7505 null MX: the root name is the empty exchange.
        assert_eq!(
            typed(&RData::MX(MX::new(0, Name::root()))),
            Rdata::Mx {
                preference: 0,
                exchange: String::new()
            }
        );
        let txt = DnsRecord {
            name: "x.".into(),
            ttl: 1,
            rtype: "TXT".into(),
            data: String::new(),
            rdata: typed(&RData::TXT(TXT::new(vec!["v=spf1 ".into(), "-all".into()]))),
            owner: "x".into(),
        };
        assert_eq!(
            txt.txt().as_deref(),
            Some("v=spf1 -all"),
            "character-strings joined without a space"
        );
        assert_eq!(txt.ip(), None);
    }

    fn record(owner: &str, data: RData) -> DnsRecord {
        let name = Name::from_ascii(owner).unwrap();
        DnsRecord::of(&hickory_resolver::proto::rr::Record::from_rdata(name, 60, data))
    }

    fn a(owner: &str) -> DnsRecord {
        record(owner, RData::A(std::net::Ipv4Addr::new(192, 0, 2, 1).into()))
    }

    fn cname(owner: &str, target: &str) -> DnsRecord {
        let target = Name::from_ascii(target).unwrap();
        record(owner, RData::CNAME(hickory_resolver::proto::rr::rdata::CNAME(target)))
    }

    /// RFC 5452 section 6: records for names the question does not lead to are not used.
    #[test]
    fn rfc_5452_6_records_for_other_names_are_not_used() {
        let got = about_question("www.example.", "A", &[a("www.example."), a("evil.example.")]).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].owner, "www.example");
        let err = about_question("www.example.", "A", &[a("evil.example.")]).unwrap_err();
        assert!(
            matches!(err, DnsError::Stray { ref owner, .. } if owner == "evil.example"),
            "{err}"
        );
    }

    /// RFC 1034 section 3.6.2: the CNAME chain's records are the answer; a loop or a chain
    /// past the limit is an error.
    #[test]
    fn rfc_1034_3_6_2_cname_chains_are_followed_and_bounded() {
        let chain = [cname("www.example.", "host.example."), a("host.example.")];
        assert_eq!(about_question("WWW.example.", "A", &chain).unwrap().len(), 2);
        let looped = [cname("a.example.", "b.example."), cname("b.example.", "a.example.")];
        assert!(matches!(
            about_question("a.example.", "A", &looped),
            Err(DnsError::CnameChain { .. })
        ));
        let long: Vec<DnsRecord> = (0..=MAX_CNAME_CHAIN + 1)
            .map(|i| cname(&format!("c{i}.example."), &format!("c{}.example.", i + 1)))
            .collect();
        assert!(matches!(
            about_question("c0.example.", "A", &long),
            Err(DnsError::CnameChain { .. })
        ));
        let short: Vec<DnsRecord> = (0..MAX_CNAME_CHAIN)
            .map(|i| cname(&format!("c{i}.example."), &format!("c{}.example.", i + 1)))
            .collect();
        assert!(about_question("c0.example.", "A", &short).is_ok());
    }
}
