//! `check DOMAIN`: the domain report. Sending IPs (given, or derived and labelled so), SPF,
//! DKIM, DMARC, the submission server (Send-mail-as), and the sender checklist of Gmail, Yahoo,
//! Microsoft and Apple mapped onto those findings, verdict first.

use std::collections::BTreeMap;
use std::net::IpAddr;

use futures_util::FutureExt;
use futures_util::future::join_all;
use serde_json::json;

use mxdoctor_net::RecordType;
use mxdoctor_proto::hostname::Hostname;
use mxdoctor_proto::spf::{Mechanism, parse_record};

use crate::context::Context;
use crate::ip::IpRequest;
use crate::model::*;
use crate::mx::mx_records;
use crate::sendas::SendasRequest;
use crate::spf::SpfRequest;
use crate::topics::{Topic, Topics};

/// A derived sending IP and where it came from (`SPF ip4:...`, `MX host`).
type Derived = (IpAddr, String);

/// The finding argument that marks a finding about a derived (probable) sending IP.
pub const ASSUMED_SENDER: &str = "assumed_sender";

/// At most this many derived sending IPs are checked (a domain may list whole networks).
const MAX_DERIVED_IPS: usize = 6;

#[derive(Debug, Clone)]
pub struct DomainRequest {
    pub domain: String,
    /// Sending IPs given by the user; empty = derive them.
    pub ips: Vec<IpAddr>,
    pub helo: Option<Hostname>,
    pub selectors: Vec<String>,
    /// Apply the bulk-sender rules (>= 5000 messages a day to Gmail).
    pub bulk: bool,
    /// The submission server (and port) to check as Gmail's Send mail as would; None = guess
    /// (port 587).
    pub submission: Option<(Hostname, u16)>,
    /// Whether to run the Send-mail-as check of the submission server at all.
    pub check_submission: bool,
    pub lists: Vec<mxdoctor_proto::dnsbl::Blocklist>,
    /// Domain blocklists (Spamhaus DBL) asked about the domain itself.
    pub domain_lists: Vec<mxdoctor_proto::dnsbl::Blocklist>,
    /// The topics to check (`--checks`); the others are reported as not selected.
    pub topics: Topics,
    /// Ask each MX whether it relays for outside addresses (`--relay-test`; off by default,
    /// as it is a question an operator may not want asked of their server).
    pub relay_test: bool,
}

/// Sending IPs a domain's own DNS points at: single-address ip4:/ip6: terms of its SPF record,
/// its `a` (one answer away), and its MX hosts' addresses (two answers away; small hosts usually
/// send from their MX). The two groups are found apart, so the checks of the first need not
/// wait for the second.
async fn derive_from_spf(ctx: &Context, domain: &str) -> Vec<Derived> {
    let mut out: Vec<Derived> = Vec::new();
    let Ok(txts) = ctx.dns.lookup(domain, RecordType::TXT).await else {
        return out;
    };
    for t in txts
        .iter()
        .filter_map(|r| r.txt())
        .filter(|t| mxdoctor_proto::spf::is_spf(t))
    {
        let Ok(rec) = parse_record(&t) else { continue };
        for d in &rec.directives {
            match &d.mechanism {
                Mechanism::Ip4 { addr, cidr: 32 } => push_new(&mut out, IpAddr::V4(*addr), format!("SPF {}", d.text)),
                Mechanism::Ip6 { addr, cidr: 128 } => push_new(&mut out, IpAddr::V6(*addr), format!("SPF {}", d.text)),
                Mechanism::A { domain: None, .. } => {
                    for ip in ctx.dns.lookup_ip(domain).await.unwrap_or_default() {
                        push_new(&mut out, ip, "SPF a".into());
                    }
                }
                _ => {}
            }
        }
    }
    out
}

async fn derive_from_mx(ctx: &Context, domain: &str) -> Vec<Derived> {
    let mut out: Vec<Derived> = Vec::new();
    let Ok(mx) = ctx.dns.lookup(domain, RecordType::MX).await else {
        return out;
    };
    let hosts: Vec<String> = mx_records(&mx)
        .into_iter()
        .filter(|r| !r.exchange.is_empty())
        .map(|r| r.exchange)
        .collect();
    let answers = join_all(hosts.iter().map(|h| ctx.dns.lookup_ip(h))).await;
    for (host, ips) in hosts.iter().zip(answers) {
        for ip in ips.unwrap_or_default() {
            push_new(&mut out, ip, format!("MX {host}"));
        }
    }
    out
}

fn push_new(out: &mut Vec<Derived>, ip: IpAddr, how: String) {
    if !out.iter().any(|(i, _)| *i == ip) {
        out.push((ip, how));
    }
}

/// The derived sending IPs as two groups, SPF's first, at most [`MAX_DERIVED_IPS`] in all.
fn cap_derived(from_spf: &[(IpAddr, String)], from_mx: &[(IpAddr, String)]) -> (Vec<Derived>, Vec<Derived>) {
    let first: Vec<Derived> = from_spf.iter().take(MAX_DERIVED_IPS).cloned().collect();
    let second: Vec<Derived> = from_mx
        .iter()
        .filter(|(ip, _)| !first.iter().any(|(i, _)| i == ip))
        .take(MAX_DERIVED_IPS - first.len())
        .cloned()
        .collect();
    (first, second)
}

/// The submission server to try: given, else mail./smtp. names or the first MX, whichever
/// resolves. The two usual names are asked at once, without waiting for the MX answer.
async fn guess_submission(ctx: &Context, domain: &str) -> Option<Hostname> {
    let usual = [format!("mail.{domain}"), format!("smtp.{domain}")];
    let answers = join_all(usual.iter().map(|n| ctx.dns.lookup_ip(n))).await;
    if let Some((name, _)) = usual.iter().zip(&answers).find(|(_, a)| a.is_ok()) {
        return Hostname::parse(name).ok();
    }
    let mx = ctx.dns.lookup(domain, RecordType::MX).await.ok()?;
    for r in mx_records(&mx).into_iter().filter(|r| !r.exchange.is_empty()) {
        if ctx.dns.lookup_ip(&r.exchange).await.is_ok() {
            return Hostname::parse(&r.exchange).ok();
        }
    }
    None
}

pub async fn run(ctx: &Context, req: &DomainRequest) -> Report {
    let domain = req.domain.trim_end_matches('.').to_ascii_lowercase();
    // Everything that needs only the domain starts at once; SPF's evaluation, the sending IPs'
    // checks and the submission server wait only for what they need (the derived IPs, the
    // guessed host). The per-run DNS cache shares the TXT and MX answers between them, so no
    // question is asked twice and no check waits on an unrelated answer.
    let topics = req.topics;
    let ip_checks_of = |ips: Vec<IpAddr>| {
        join_all(ips.into_iter().map(|ip| {
            let r = IpRequest {
                ip,
                helo: req.helo.clone(),
                lists: if topics.has(Topic::Dnsbl) {
                    req.lists.clone()
                } else {
                    Vec::new()
                },
            };
            async move { crate::ip::checks_of(ctx, &r, topics.has(Topic::Ptr)).await }
        }))
    };
    let given = !req.ips.is_empty();
    let from_spf = async {
        if given {
            Vec::new()
        } else {
            derive_from_spf(ctx, &domain).await
        }
    }
    .shared();
    let from_mx = async {
        if given {
            Vec::new()
        } else {
            derive_from_mx(ctx, &domain).await
        }
    }
    .shared();
    let derived = async { cap_derived(&from_spf.clone().await, &from_mx.clone().await) }.shared();
    let ips = async {
        if given {
            return req.ips.clone();
        }
        let (first, second) = derived.clone().await;
        first.iter().chain(&second).map(|(ip, _)| *ip).collect()
    };
    // The IP checks of each group start as soon as that group is known.
    let ip_checks = async {
        if given {
            return ip_checks_of(req.ips.clone()).await;
        }
        let (mut first, second) = tokio::join!(
            async {
                let spf_ips: Vec<IpAddr> = from_spf
                    .clone()
                    .await
                    .iter()
                    .take(MAX_DERIVED_IPS)
                    .map(|(ip, _)| *ip)
                    .collect();
                ip_checks_of(spf_ips).await
            },
            async {
                let (_, second) = derived.clone().await;
                ip_checks_of(second.iter().map(|(ip, _)| *ip).collect()).await
            }
        );
        first.extend(second);
        first
    };
    let spf_req = SpfRequest {
        domain: domain.clone(),
        ips: Vec::new(),
        sender: None,
        helo: req.helo.as_ref().map(|h| h.to_string()),
    };
    let submission = async {
        let wanted = req.check_submission && topics.has(Topic::Submission);
        let target = match (&req.submission, wanted) {
            (_, false) => None,
            (Some(h), true) => Some(h.clone()),
            (None, true) => guess_submission(ctx, &domain).await.map(|h| (h, 587)),
        };
        match target {
            Some((h, port)) => Some(crate::sendas::run(ctx, &SendasRequest::new(h, port)).await),
            None => None,
        }
    };
    let senders = Box::pin(async {
        let spf = async {
            match topics.has(Topic::Spf) {
                true => crate::spf::check_when(ctx, &spf_req, ips).await,
                false => not_selected("spf", &domain, "spf"),
            }
        };
        let (spf, ip_checks, sendas, (first, second)) = tokio::join!(spf, ip_checks, submission, derived.clone());
        let derived: Vec<Derived> = first.into_iter().chain(second).collect();
        let ips: Vec<IpAddr> = if given {
            req.ips.clone()
        } else {
            derived.iter().map(|(ip, _)| *ip).collect()
        };
        (ips, derived, spf, ip_checks, sendas)
    });
    // How the world delivers to the domain: the MX set once, then the port-25 probes of its
    // addresses and the MTA-STS policy side by side; the policy is judged against the probes.
    let mx_wanted = [Topic::Mx, Topic::Inbound, Topic::Mtasts, Topic::Dane, Topic::Dkim]
        .iter()
        .any(|t| topics.has(*t));
    let mx_answer = async {
        match mx_wanted {
            true => Some(crate::mx::lookup_set(ctx, &domain).await),
            false => None,
        }
    }
    .shared();
    // Boxed: these futures are large, and the report's future would otherwise outgrow a
    // thread's stack.
    let receiving = Box::pin(async {
        let inbound = async {
            match (topics.has(Topic::Inbound), mx_answer.clone().await) {
                (true, Some(answer)) => crate::inbound::check(ctx, &domain, &answer, req.relay_test).await,
                _ => (vec![not_selected("mx.smtp", &domain, "inbound")], Vec::new()),
            }
        };
        let sts = async {
            match topics.has(Topic::Mtasts) {
                true => Some(crate::mtasts::probe(ctx, &domain).await),
                false => None,
            }
        };
        let dane_dns = async {
            match (topics.has(Topic::Dane), mx_answer.clone().await) {
                (true, Some(answer)) => Some(crate::dane::lookup(ctx, &domain, &answer).await),
                _ => None,
            }
        };
        let ((inbound, probes), sts, dane_dns, answer) = tokio::join!(inbound, sts, dane_dns, mx_answer.clone());
        let dane = match dane_dns {
            Some(dns) => crate::dane::checks(&domain, &dns, &probes),
            None => vec![not_selected("dnssec", &domain, "dane")],
        };
        let sts = match (sts, answer) {
            (Some(sts), Some(answer)) => crate::mtasts::findings(&domain, &sts, &answer, &probes),
            _ => not_selected("mta-sts", &domain, "mta-sts"),
        };
        (inbound, sts, dane)
    });
    let (
        mx,
        (dkim, provider),
        dmarc,
        (tlsrpt, bimi),
        domain_lists,
        (ips, derived, spf, ip_checks, sendas),
        (inbound, sts, dane),
    ) = tokio::join!(
        async {
            match (topics.has(Topic::Mx), mx_answer.clone().await) {
                (true, Some(answer)) => crate::mx::check_of(&domain, &answer),
                _ => not_selected("mx", &domain, "mx"),
            }
        },
        async {
            // The provider is known from the MX and SPF answers; its selectors go first.
            let detected = crate::provider::lookup(ctx, &domain, mx_answer.clone().await.as_ref()).await;
            let first = crate::provider::selectors_first(&detected);
            let dkim = match topics.has(Topic::Dkim) {
                true => crate::dkim::check_guessing(ctx, &domain, &req.selectors, &first).await,
                false => not_selected("dkim", &domain, "dkim"),
            };
            let missing = dkim.findings.iter().any(|f| f.id == "dkim.not-found");
            (dkim, crate::provider::check(&domain, &detected, missing))
        },
        async {
            match topics.has(Topic::Dmarc) {
                true => crate::dmarc::check(ctx, &domain).await,
                false => not_selected("dmarc", &domain, "dmarc"),
            }
        },
        async {
            let tlsrpt = match topics.has(Topic::Tlsrpt) {
                true => crate::tlsrpt::check(ctx, &domain).await,
                false => not_selected("tlsrpt", &domain, "tlsrpt"),
            };
            let bimi = match topics.has(Topic::Bimi) {
                true => crate::bimi::findings(&domain, &crate::bimi::probe(ctx, &domain).await),
                false => not_selected("bimi", &domain, "bimi"),
            };
            (tlsrpt, bimi)
        },
        async {
            match topics.has(Topic::Dbl) {
                true => {
                    join_all(
                        req.domain_lists
                            .iter()
                            .map(|l| crate::ip::domain_list_check(ctx, &domain, l)),
                    )
                    .await
                }
                false => vec![not_selected("domain.dnsbl", &domain, "dbl")],
            }
        },
        senders,
        receiving,
    );
    let mut checks = Vec::new();
    let mut sources = CheckResult::ran("domain.sending-ips", domain.clone());
    if !derived.is_empty() {
        sources.findings.push(
            Finding::new("domain.ips-derived", Severity::Info, domain.clone())
                .arg(
                    "ips",
                    derived
                        .iter()
                        .map(|(ip, how)| format!("{ip} ({how})"))
                        .collect::<Vec<_>>()
                        .join(", "),
                )
                .evidence(json!(
                    derived
                        .iter()
                        .map(|(ip, how)| json!({ "ip": ip, "from": how }))
                        .collect::<Vec<_>>()
                )),
        );
    } else if ips.is_empty() {
        sources
            .findings
            .push(Finding::new("domain.no-ips", Severity::Notice, domain.clone()).arg("domain", &domain));
    }
    if !sources.findings.is_empty() {
        checks.push(sources);
    }
    checks.push(mx);
    let mut spf = spf;
    let mut ip_checks = ip_checks;
    if !derived.is_empty() {
        // Derived IPs are probable senders, not known ones: what is found about them is said
        // as "if you send from X" and never fails the run on its own.
        for (ip, how) in &derived {
            let subject = ip.to_string();
            assume_sender(&mut spf.findings, &subject, how);
            for c in ip_checks.iter_mut().flatten() {
                assume_sender(&mut c.findings, &subject, how);
            }
        }
    }
    checks.push(spf);
    checks.push(dkim);
    if !provider.findings.is_empty() {
        checks.push(provider);
    }
    checks.push(dmarc);
    checks.push(tlsrpt);
    checks.push(sts);
    checks.push(bimi);
    checks.extend(inbound);
    checks.extend(dane);
    checks.extend(domain_lists);
    for c in ip_checks {
        checks.extend(c);
    }
    for (topic, check) in [(Topic::Ptr, "ip.ptr"), (Topic::Dnsbl, "ip.dnsbl")] {
        if !topics.has(topic) {
            checks.push(not_selected(check, &domain, topic.name()));
        }
    }
    if let Some(s) = &sendas {
        checks.extend(s.checks.iter().cloned());
    } else if req.check_submission && !topics.has(Topic::Submission) {
        checks.push(not_selected("sendas.session", &domain, "submission"));
    }
    let mut checklist = checklist(&checks, req.bulk, &domain, !derived.is_empty());
    // Every DNS question of the run, once each, with its answer and time: the evidence behind
    // every finding above (shown with --verbose, always in JSON).
    let mut queries = ctx.dns.queries();
    queries.sort_by(|a, b| (&a.name, &a.rtype).cmp(&(&b.name, &b.rtype)));
    checklist.evidence.push(Evidence::Dns(json!(queries)));
    checks.push(checklist);
    let verdict = verdict(&checks, &domain);
    Report::new(ctx, "check", domain.clone(), verdict, checks)
}

/// Marks the findings about one derived IP (subject `ip`) as findings about a probable sender:
/// the text printer says "If you send from {ip} ({from}):", and a failure becomes a warning.
fn assume_sender(findings: &mut [Finding], ip: &str, from: &str) {
    for f in findings.iter_mut().filter(|f| f.subject == ip) {
        f.args.insert(ASSUMED_SENDER.into(), ip.to_string());
        f.args.insert("assumed_from".into(), from.to_string());
        if f.severity == Severity::Fail {
            f.severity = Severity::Warning;
        }
    }
}

/// One requirement's state, with the ids (findings, or `error.*` causes) that decided it.
#[derive(Debug, Clone, PartialEq)]
enum Req {
    Met(Vec<String>),
    Broken(Vec<String>),
    /// Broken only by what was found about derived (probable) sending IPs.
    Probable(Vec<String>),
    /// A check it rests on could not run, or had nothing to look at.
    Unknown(Vec<String>),
    NotCheckable,
}

impl Req {
    /// At least one of `parts` must hold (SPF or DKIM): met if one is met, broken only when
    /// every part is definitely broken, unknown otherwise.
    fn any(parts: &[Req]) -> Req {
        if let Some(m) = parts.iter().find(|p| matches!(p, Req::Met(_))) {
            return m.clone();
        }
        Self::combine(parts)
    }

    /// Every part must hold (SPF and DKIM): broken if one is broken, met only when all are met.
    fn all(parts: &[Req]) -> Req {
        if parts.iter().all(|p| matches!(p, Req::Met(_))) {
            return Req::Met(parts.iter().flat_map(|p| p.ids()).collect());
        }
        let broken: Vec<String> = parts
            .iter()
            .filter(|p| matches!(p, Req::Broken(_)))
            .flat_map(|p| p.ids())
            .collect();
        if !broken.is_empty() {
            return Req::Broken(broken);
        }
        Self::combine(
            &parts
                .iter()
                .filter(|p| !matches!(p, Req::Met(_)))
                .cloned()
                .collect::<Vec<_>>(),
        )
    }

    /// Among parts none of which is met (for `any`) or none broken (for `all`): unknown beats
    /// probable beats broken, since a part that could not be learnt might still hold.
    fn combine(parts: &[Req]) -> Req {
        let of = |want: fn(&Req) -> bool| -> Vec<String> {
            parts.iter().filter(|p| want(p)).flat_map(|p| p.ids()).collect()
        };
        let unknown = of(|p| matches!(p, Req::Unknown(_)));
        if parts.iter().any(|p| matches!(p, Req::Unknown(_))) {
            return Req::Unknown(unknown);
        }
        if parts.iter().any(|p| matches!(p, Req::Probable(_))) {
            return Req::Probable(of(|p| matches!(p, Req::Probable(_) | Req::Broken(_))));
        }
        Req::Broken(of(|p| matches!(p, Req::Broken(_))))
    }

    fn ids(&self) -> Vec<String> {
        match self {
            Req::Met(v) | Req::Broken(v) | Req::Probable(v) | Req::Unknown(v) => v.clone(),
            Req::NotCheckable => Vec::new(),
        }
    }
}

/// Whom a checklist row binds: every sender, bulk senders (a failure with --bulk, a notice
/// without), or nobody (advice about mail to the domain: a notice when broken).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binds {
    Every,
    Bulk,
    Advice,
}

/// What the checks say about the facts the requirements are made of.
struct Facts<'a> {
    checks: &'a [CheckResult],
    derived: bool,
}

/// Findings that are facts about the sending IPs (as opposed to the domain's own records).
const IP_FACTS: &[&str] = &[
    "spf.ip-authorized",
    "spf.ip-not-authorized",
    "spf.permerror",
    "spf.temperror",
    "ptr.missing",
    "ptr.not-forward-confirmed",
    "ptr.forward-confirmed",
    "ptr.generic",
    "dnsbl.listed",
    "dnsbl.pbl",
];

impl Facts<'_> {
    fn has(&self, id: &str) -> bool {
        self.checks.iter().flat_map(|c| &c.findings).any(|f| f.id == id)
    }

    fn present(&self, ids: &[&str]) -> Vec<String> {
        ids.iter().filter(|i| self.has(i)).map(|i| i.to_string()).collect()
    }

    /// Error causes of the named checks, or `why_empty` when none of them ran at all.
    fn unknown(&self, checks: &[&str], why_empty: &str) -> Vec<String> {
        let u = unknowns(self.checks, checks);
        if !u.is_empty() {
            return u;
        }
        if !self.checks.iter().any(|c| checks.contains(&c.check.as_str())) {
            return vec![why_empty.to_string()];
        }
        Vec::new()
    }

    /// A broken state, which is only probable when every id is a fact about derived IPs.
    fn broken(&self, ids: Vec<String>) -> Req {
        if self.derived && ids.iter().all(|i| IP_FACTS.contains(&i.as_str())) {
            Req::Probable(ids)
        } else {
            Req::Broken(ids)
        }
    }

    /// State of one fact: broken by any of `bad`, met by `good`, else unknown.
    fn state(&self, bad: &[&str], good: &[&str], checks: &[&str], why_empty: &str) -> Req {
        let bad = self.present(bad);
        if !bad.is_empty() {
            return self.broken(bad);
        }
        let unknown = self.unknown(checks, why_empty);
        let good = self.present(good);
        if !good.is_empty() && unknown.is_empty() {
            return Req::Met(good);
        }
        if unknown.is_empty() {
            Req::Unknown(vec![why_empty.to_string()])
        } else {
            Req::Unknown(unknown)
        }
    }
}

/// The sender requirements (PRODUCT.md section 4), each mapped to the findings that satisfy or
/// break it. Bulk-sender rules are failures with --bulk and notices without. A requirement
/// whose checks could not run is "unknown" and shown as such, never dropped and never met.
pub fn checklist(checks: &[CheckResult], bulk: bool, domain: &str, derived: bool) -> CheckResult {
    let facts = Facts { checks, derived };
    let spf = facts.state(
        &[
            "spf.missing",
            "spf.ip-not-authorized",
            "spf.permerror",
            "spf.multiple-records",
            "spf.syntax-error",
            "spf.lookup-limit",
        ],
        &["spf.ip-authorized"],
        &["spf"],
        "domain.no-ips",
    );
    let spf = match spf {
        // A temporary SPF error for an IP: the result is not known.
        Req::Met(_) if facts.has("spf.temperror") => Req::Unknown(vec!["spf.temperror".into()]),
        Req::Unknown(_) if facts.has("spf.temperror") => Req::Unknown(vec!["spf.temperror".into()]),
        other => other,
    };
    let dkim = facts.state(
        &[
            "dkim.not-found",
            "dkim.key-too-short",
            "dkim.syntax-error",
            "dkim.revoked",
            "dkim.selector-missing",
        ],
        &["dkim.key-found"],
        &["dkim"],
        "dkim.not-found",
    );
    let dmarc = facts.state(
        &[
            "dmarc.missing",
            "dmarc.no-policy",
            "dmarc.multiple-records",
            "dmarc.syntax-error",
        ],
        &["dmarc.found"],
        &["dmarc"],
        "dmarc.missing",
    );
    let ptr = facts.state(
        &["ptr.missing", "ptr.not-forward-confirmed"],
        &["ptr.forward-confirmed"],
        &["ip.ptr"],
        "domain.no-ips",
    );
    // Only a key that is too short breaks this rule; no key at all is the authentication
    // rule's business.
    let key_len = if facts.has("dkim.key-too-short") {
        Req::Broken(vec!["dkim.key-too-short".into()])
    } else if let Req::Met(ids) = &dkim {
        Req::Met(ids.clone())
    } else {
        Req::Unknown(dkim.ids())
    };
    let ptr_meaningful = match &ptr {
        Req::Met(_) if facts.has("ptr.generic") => facts.broken(vec!["ptr.generic".into()]),
        other => other.clone(),
    };
    let auth = Req::any(&[spf.clone(), dkim.clone()]);
    let (receive_tls, receive_protected) = receiving_rows(&facts);
    // (id, state, whom it binds, Gmail's reply when broken)
    let rows: Vec<(&str, Req, Binds, &str)> = vec![
        ("req.gmail.authenticated", auth.clone(), Binds::Every, "550 5.7.26"),
        ("req.gmail.ptr", ptr.clone(), Binds::Every, "550 5.7.25"),
        ("req.gmail.dkim-key-length", key_len, Binds::Every, "550 5.7.26"),
        ("req.gmail.tls", Req::NotCheckable, Binds::Every, "421 4.7.29"),
        ("req.gmail.spam-rate", Req::NotCheckable, Binds::Every, "421 4.7.28"),
        (
            "req.gmail.bulk.spf-and-dkim",
            Req::all(&[spf.clone(), dkim.clone()]),
            Binds::Bulk,
            "550 5.7.27 / 5.7.30",
        ),
        ("req.gmail.bulk.dmarc", dmarc.clone(), Binds::Bulk, "550 5.7.40"),
        // Alignment the DNS can give: SPF at the From domain (MAIL FROM = From), or a DKIM key there.
        ("req.gmail.bulk.alignment", auth, Binds::Bulk, "421 4.7.32"),
        ("req.gmail.bulk.unsubscribe", Req::NotCheckable, Binds::Bulk, ""),
        ("req.yahoo.ptr-meaningful", ptr_meaningful, Binds::Every, ""),
        (
            "req.microsoft.bulk",
            Req::all(&[spf.clone(), dkim.clone(), dmarc.clone()]),
            Binds::Bulk,
            "550 5.7.515",
        ),
        (
            "req.apple.authenticated",
            Req::all(&[spf, dkim, dmarc, ptr]),
            Binds::Bulk,
            "",
        ),
        // How mail reaches the domain: every sender's TLS rows for mail *to* it.
        ("req.receive.starttls", receive_tls, Binds::Advice, ""),
        ("req.receive.protected", receive_protected, Binds::Advice, ""),
    ];
    let mut c = CheckResult::ran("checklist", domain.to_string());
    for (id, state, binds, code) in rows {
        let because = state.ids();
        let (severity, state_s) = match state {
            Req::Met(_) => (Severity::Pass, "met"),
            Req::Broken(_) if binds == Binds::Every || (binds == Binds::Bulk && bulk) => (Severity::Fail, "broken"),
            Req::Broken(_) => (Severity::Notice, "broken"),
            Req::Probable(_) => (Severity::Warning, "broken-if-derived-ips-send"),
            Req::Unknown(_) => (Severity::Info, "unknown"),
            Req::NotCheckable => (Severity::Info, "not-checkable"),
        };
        c.findings.push(
            Finding::new(id, severity, domain.to_string())
                .arg("state", state_s)
                .arg(
                    "because",
                    if because.is_empty() {
                        "-".to_string()
                    } else {
                        because.join(", ")
                    },
                )
                .arg("code", if code.is_empty() { "-" } else { code })
                .evidence(json!({ "state": state_s, "findings": because, "reply_if_broken": code })),
        );
    }
    c
}

/// The rows about mail *to* the domain: every MX offers working STARTTLS; and that TLS is
/// protected from downgrade by MTA-STS in enforce mode or by DANE, with every MX passing it.
fn receiving_rows(facts: &Facts) -> (Req, Req) {
    let starttls = facts.state(
        &[
            "mx.starttls.missing",
            "mx.starttls.rejected",
            "mx.tls.failed",
            "mx.tls.too-old",
        ],
        &["mx.starttls.offered"],
        &["mx.smtp"],
        "mx.missing",
    );
    let broken = facts.present(&[
        "mtasts.mx-tls-fails",
        "mtasts.mx-not-covered",
        "dane.mismatch",
        "dane.no-tls",
        "dnssec.bogus",
    ]);
    let enforced = facts
        .checks
        .iter()
        .flat_map(|c| &c.findings)
        .any(|f| f.id == "mtasts.valid" && f.args.get("mode").is_some_and(|m| m == "enforce"));
    let protected = if !broken.is_empty() {
        Req::Broken(broken)
    } else if enforced || facts.has("dane.valid") {
        Req::Met(facts.present(&["mtasts.valid", "dane.valid"]))
    } else {
        let unknown = facts.unknown(&["mta-sts", "dane"], "mtasts.missing");
        if unknown
            .iter()
            .any(|u| u.starts_with("error.") || u.starts_with("skip."))
        {
            Req::Unknown(unknown)
        } else {
            Req::Broken(facts.present(&[
                "mtasts.missing",
                "mtasts.mode-testing",
                "mtasts.mode-none",
                "dane.missing",
            ]))
        }
    };
    (starttls, protected)
}

/// The checks the domain verdict rests on: an error in any keeps it from "accept".
const VERDICT_CHECKS: &[&str] = &["mx", "spf", "dkim", "dmarc", "ip.ptr", "ip.dnsbl", "domain.dnsbl"];

/// What Gmail will do with mail from the domain. Confident answers rest only on what was
/// definitely found; a check that could not run makes the answer "could not find out" unless a
/// definite failure already decides it; findings about derived IPs give "if you send from".
pub fn verdict(checks: &[CheckResult], domain: &str) -> Verdict {
    let mut args = BTreeMap::new();
    args.insert("domain".to_string(), domain.to_string());
    let make = |id: &str, severity: Severity, args: BTreeMap<String, String>, because: Vec<String>| Verdict {
        id: id.into(),
        severity,
        args,
        because,
    };
    let findings: Vec<&Finding> = checks.iter().flat_map(|c| &c.findings).collect();
    let failing = |id: &str| findings.iter().any(|f| f.id == id && f.severity == Severity::Fail);
    let probable = |id: &str| findings.iter().any(|f| f.id == id && f.severity == Severity::Warning);
    let row_because = |id: &str| -> Vec<String> {
        findings
            .iter()
            .filter(|f| f.id == id)
            .flat_map(|f| {
                f.args
                    .get("because")
                    .map(|b| b.split(", ").map(String::from).collect::<Vec<_>>())
            })
            .flatten()
            .filter(|b| b != "-")
            .collect()
    };
    // 1. Definite rejection. PTR first: Gmail checks it at connection time, before any header.
    let mut because: Vec<String> = Vec::new();
    for row in ["req.gmail.ptr", "req.gmail.authenticated"] {
        if failing(row) {
            because.extend(row_because(row));
        }
    }
    if failing("dnsbl.pbl") {
        because.push("dnsbl.pbl".into());
    }
    if !because.is_empty() {
        because.dedup();
        return make("verdict.domain.reject", Severity::Fail, args, because);
    }
    // 2. Definite spam-folder risk: a failed rule or a listing.
    let mut spam: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == Severity::Fail)
        .filter(|f| {
            f.id.starts_with("req.")
                || f.id == "dnsbl.listed"
                || f.id == "dnsbl.domain-listed"
                || f.id.starts_with("spf.")
                || f.id.starts_with("dmarc.")
        })
        .map(|f| f.id.clone())
        .collect();
    spam.dedup();
    if !spam.is_empty() {
        return make("verdict.domain.spam", Severity::Fail, args, spam);
    }
    // 3. Broken only for the derived IPs: if the user sends from them.
    let mut if_derived: Vec<String> = Vec::new();
    for row in ["req.gmail.authenticated", "req.gmail.ptr"] {
        if probable(row) {
            if_derived.extend(row_because(row));
        }
    }
    for id in ["dnsbl.pbl", "dnsbl.listed"] {
        if probable(id) {
            if_derived.push(id.into());
        }
    }
    if !if_derived.is_empty() {
        if_derived.dedup();
        let ips: Vec<String> = findings
            .iter()
            .filter_map(|f| f.args.get(ASSUMED_SENDER).cloned())
            .fold(Vec::new(), |mut v, ip| {
                if !v.contains(&ip) {
                    v.push(ip);
                }
                v
            });
        args.insert("ips".into(), ips.join(", "));
        return make("verdict.domain.reject-if-derived", Severity::Warning, args, if_derived);
    }
    // 4. Could not find out.
    let mut unknown = unknowns(checks, VERDICT_CHECKS);
    for row in ["req.gmail.authenticated", "req.gmail.ptr"] {
        if findings
            .iter()
            .any(|f| f.id == row && f.args.get("state").is_some_and(|s| s == "unknown"))
        {
            for b in row_because(row) {
                if !unknown.contains(&b) {
                    unknown.push(b);
                }
            }
        }
    }
    let ptr_unknown_for_lack_of_ips = unknown.iter().all(|u| u == "domain.no-ips");
    if !unknown.is_empty() && !ptr_unknown_for_lack_of_ips {
        return make("verdict.domain.unknown", Severity::Warning, args, unknown);
    }
    // 5. Accepted, perhaps with problems elsewhere (e.g. the submission server's certificate).
    let other: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == Severity::Fail)
        .map(|f| f.id.clone())
        .collect();
    if !other.is_empty() {
        return make("verdict.domain.accept-with-problems", Severity::Fail, args, other);
    }
    if !unknown.is_empty() {
        // Nothing failed, but with no sending IP the reverse DNS and blocklists were not checked.
        return make("verdict.domain.accept-unchecked-ips", Severity::Warning, args, unknown);
    }
    make("verdict.domain.accept", Severity::Pass, args, Vec::new())
}
