//! `spf`: the domain's SPF record, its include tree with lookups counted against the limits of
//! RFC 7208 section 4.6.4, and check_host() for each sending IP with the term that decided.
//!
//! Probe: TXT lookups of the domain and every include/redirect target (macro-free ones), then
//! check_host() through the same resolver. Verdict: findings below. Explanation: the catalogue.

use std::collections::BTreeSet;
use std::net::IpAddr;

use futures_util::future::join_all;
use serde::Serialize;
use serde_json::json;

use mxdoctor_proto::spf::{self, Mechanism, Qualifier, SpfInput, SpfRecord, SpfResult, check_host, parse_record};

use crate::context::Context;
use crate::model::*;
use crate::spfdns::NetSpfDns;
use crate::suggest::{Suggestion, first_proven, ip_term};

/// Deepest include/redirect chain followed by the static walk (a loop is reported, not followed).
const MAX_DEPTH: usize = 12;
/// Most records the static walk fetches: a record with hundreds of includes is already far over
/// the lookup limit, and the walk must stay bounded.
const MAX_NODES: usize = 40;

/// One node of the include tree.
#[derive(Debug, Clone, Serialize)]
pub struct SpfNode {
    pub domain: String,
    pub via: String,
    pub record: Option<String>,
    /// DNS-querying terms in this record itself.
    pub lookups: usize,
    pub problem: Option<String>,
    pub children: Vec<SpfNode>,
}

/// What the static walk found.
#[derive(Debug, Default)]
struct Walk {
    nodes: usize,
    total_lookups: usize,
    void_targets: Vec<String>,
    without_spf: Vec<String>,
    loops: Vec<String>,
    temp_errors: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SpfRequest {
    pub domain: String,
    pub ips: Vec<IpAddr>,
    /// MAIL FROM for check_host (default postmaster@domain).
    pub sender: Option<String>,
    pub helo: Option<String>,
}

pub async fn run(ctx: &Context, req: &SpfRequest) -> Report {
    let check = check(ctx, req).await;
    let checks = vec![check];
    let verdict = verdict(&checks, &req.domain);
    Report::new(ctx, "spf", req.domain.clone(), verdict, checks)
}

/// Fetches the SPF records at `domain`: Ok(list of v=spf1 texts, all TXT texts) or a DNS error.
async fn spf_records(ctx: &Context, domain: &str) -> Result<(Vec<String>, usize), mxdoctor_net::DnsError> {
    match ctx.dns.lookup(domain, mxdoctor_net::RecordType::TXT).await {
        Ok(r) => {
            let txts: Vec<String> = r.iter().filter_map(|r| r.txt()).collect();
            let n = txts.len();
            Ok((txts.into_iter().filter(|t| spf::is_spf(t)).collect(), n))
        }
        Err(e) if e.is_negative() => Ok((Vec::new(), 0)),
        Err(e) => Err(e),
    }
}

/// The lookups a record and everything it includes cost.
fn subtree_lookups(n: &SpfNode) -> usize {
    n.lookups + n.children.iter().map(subtree_lookups).sum::<usize>()
}

fn has_macro(s: &str) -> bool {
    s.contains('%')
}

impl Walk {
    /// Adds what a subtree found, after what this node found (the order of the record).
    fn absorb(&mut self, other: Walk) {
        self.nodes += other.nodes;
        self.total_lookups += other.total_lookups;
        self.void_targets.extend(other.void_targets);
        self.without_spf.extend(other.without_spf);
        self.loops.extend(other.loops);
        self.temp_errors.extend(other.temp_errors);
    }
}

type WalkFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = (SpfNode, Walk)> + Send + 'a>>;

/// Walks includes and redirects without an IP, counting every DNS-querying term (the count
/// a receiver may reach in the worst case). A record's void checks and its includes are asked
/// all at once (each is one round trip, not one after another); what they find is reported in
/// the order of the record. `budget` counts the records visited in the whole tree.
fn walk<'a>(
    ctx: &'a Context,
    domain: String,
    via: String,
    depth: usize,
    seen: BTreeSet<String>,
    budget: &'a std::sync::atomic::AtomicUsize,
) -> WalkFuture<'a> {
    Box::pin(async move {
        let mut w = Walk::default();
        let mut node = SpfNode {
            domain: domain.clone(),
            via,
            record: None,
            lookups: 0,
            problem: None,
            children: vec![],
        };
        w.nodes += 1;
        if budget.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= MAX_NODES {
            node.problem = Some(format!("not followed: more than {MAX_NODES} records in the tree"));
            return (node, w);
        }
        let records = match spf_records(ctx, &domain).await {
            Ok((r, _)) => r,
            Err(e) => {
                w.temp_errors.push(domain.clone());
                node.problem = Some(e.to_string());
                return (node, w);
            }
        };
        let Some(first) = records.first() else {
            w.without_spf.push(domain.clone());
            node.problem = Some("no SPF record".into());
            return (node, w);
        };
        node.record = Some(first.clone());
        let Ok(rec) = parse_record(first) else {
            node.problem = Some("syntax error".into());
            return (node, w);
        };
        node.lookups =
            rec.directives.iter().filter(|d| d.mechanism.queries_dns()).count() + rec.redirect.iter().count();
        w.total_lookups += node.lookups;
        if depth >= MAX_DEPTH {
            node.problem = Some("too deep".into());
            return (node, w);
        }
        let mut targets: Vec<(String, String)> = Vec::new();
        let mut void_checks = Vec::new();
        for d in &rec.directives {
            match &d.mechanism {
                Mechanism::Include { domain: t } if !has_macro(t) => {
                    targets.push((t.trim_end_matches('.').to_ascii_lowercase(), d.text.clone()))
                }
                Mechanism::A { domain: Some(t), .. } | Mechanism::Exists { domain: t } if !has_macro(t) => {
                    void_checks.push(void_check(ctx, t.clone(), None));
                }
                Mechanism::Mx { domain, .. } => {
                    let t = domain.clone().unwrap_or_else(|| node.domain.clone());
                    if !has_macro(&t) {
                        void_checks.push(void_check(ctx, t, Some(mxdoctor_net::RecordType::MX)));
                    }
                }
                _ => {}
            }
        }
        if let Some(r) = &rec.redirect
            && !has_macro(r)
        {
            targets.push((r.trim_end_matches('.').to_ascii_lowercase(), format!("redirect={r}")));
        }
        let children = targets.into_iter().map(|(t, via)| {
            let seen = &seen;
            async move {
                if seen.contains(&t) {
                    let mut w = Walk::default();
                    w.loops.push(t.clone());
                    let node = SpfNode {
                        domain: t,
                        via,
                        record: None,
                        lookups: 0,
                        problem: Some("loop".into()),
                        children: vec![],
                    };
                    return (node, w);
                }
                let mut seen2 = seen.clone();
                seen2.insert(t.clone());
                walk(ctx, t, via, depth + 1, seen2, budget).await
            }
        });
        let (voids, children) = tokio::join!(join_all(void_checks), join_all(children));
        w.void_targets.extend(voids.into_iter().flatten());
        for (child, cw) in children {
            node.children.push(child);
            w.absorb(cw);
        }
        (node, w)
    })
}

/// A void lookup (RFC 7208 section 4.6.4): Some(name) when `name` has no address (or, for
/// `mx`, no MX record).
async fn void_check(ctx: &Context, name: String, rtype: Option<mxdoctor_net::RecordType>) -> Option<String> {
    let result = match rtype {
        Some(t) => ctx.dns.lookup(&name, t).await.map(|_| ()),
        None => ctx.dns.lookup_ip(&name).await.map(|_| ()),
    };
    match result {
        Err(e) if e.is_negative() => Some(name),
        _ => None,
    }
}

/// The record with an ip4:/ip6: term for each unauthorised IP, placed before the final `all`.
pub fn suggest(record: &SpfRecord, text: &str, ips: &[IpAddr]) -> String {
    let adds: Vec<String> = ips
        .iter()
        .map(|ip| {
            if ip.is_ipv4() {
                format!("ip4:{ip}")
            } else {
                format!("ip6:{ip}")
            }
        })
        .collect();
    let terms: Vec<&str> = text.split(' ').filter(|t| !t.is_empty()).collect();
    let all_pos = terms.iter().position(|t| {
        let t = t.trim_start_matches(['+', '-', '~', '?']);
        t.eq_ignore_ascii_case("all") || t.to_ascii_lowercase().starts_with("redirect=")
    });
    let mut out: Vec<String> = terms.iter().map(|s| s.to_string()).collect();
    let at = all_pos.unwrap_or(out.len());
    for (i, a) in adds.into_iter().enumerate() {
        out.insert(at + i, a);
    }
    if all_pos.is_none() && record.redirect.is_none() {
        out.push("~all".into());
    }
    out.join(" ")
}

/// A record for a domain without one: the sending IPs given, else the MX hosts when they are
/// the senders' best guess; proven by check_host() before it is shown.
async fn suggest_missing(ctx: &Context, domain: &str, ips: &[IpAddr]) -> Suggestion {
    if !ips.is_empty() {
        let terms: Vec<String> = ips.iter().map(ip_term).collect();
        let record = format!("v=spf1 {} ~all", terms.join(" "));
        return first_proven(ctx, domain, &[record], ips).await;
    }
    // No IP given: `mx` is worth suggesting only if the domain's MX hosts have addresses (for
    // a domain without MX it authorises nothing).
    let mut mx_ips = Vec::new();
    if let Ok(mx) = ctx.dns.lookup(domain, mxdoctor_net::RecordType::MX).await {
        for (_, host) in mx.iter().filter_map(|r| r.mx()) {
            mx_ips.extend(ctx.dns.lookup_ip(host).await.unwrap_or_default());
        }
    }
    first_proven(ctx, domain, &["v=spf1 mx ~all".to_string()], &mx_ips).await
}

/// The published record with a term for `ip`: before the final `all` (or redirect), else first;
/// the first placement that check_host() proves is shown.
async fn suggest_added(ctx: &Context, domain: &str, record: &SpfRecord, text: &str, ip: IpAddr) -> Suggestion {
    let before_all = suggest(record, text, &[ip]);
    let mut terms: Vec<&str> = text.split(' ').filter(|t| !t.is_empty()).collect();
    let term = ip_term(&ip);
    terms.insert(1.min(terms.len()), &term);
    let first = terms.join(" ");
    first_proven(ctx, domain, &[before_all, first], &[ip]).await
}

pub async fn check(ctx: &Context, req: &SpfRequest) -> CheckResult {
    check_when(ctx, req, std::future::ready(req.ips.clone())).await
}

/// The SPF check with the sending IPs still being found: the record, its syntax and its
/// include tree need only the domain and start at once; `check_host` for each IP runs as soon
/// as `ips` yields them (the `ips` of `req` are ignored).
pub async fn check_when(
    ctx: &Context,
    req: &SpfRequest,
    ips: impl std::future::Future<Output = Vec<IpAddr>>,
) -> CheckResult {
    let domain = req.domain.trim_end_matches('.').to_ascii_lowercase();
    let (record, ips) = tokio::join!(record_checks(ctx, &domain), ips);
    match record {
        RecordChecks::Final(c) => c,
        RecordChecks::Missing(mut c) => {
            let suggestion = suggest_missing(ctx, &domain, &ips).await;
            c.findings.push(
                Finding::new("spf.missing", Severity::Fail, domain.clone())
                    .arg("domain", &domain)
                    .arg("suggested", &suggestion.record)
                    .evidence(json!({ "suggestion": suggestion })),
            );
            c
        }
        RecordChecks::Tree(tree) => evaluate(ctx, req, &domain, tree, &ips).await,
    }
}

/// What the record alone shows.
enum RecordChecks {
    /// Nothing more to find out (a lookup failed, several records, a syntax error).
    Final(CheckResult),
    /// No SPF record: the suggestion needs the sending IPs.
    Missing(CheckResult),
    Tree(Box<RecordTree>),
}

struct RecordTree {
    c: CheckResult,
    text: String,
    record: SpfRecord,
    tree: SpfNode,
    walk: Walk,
}

async fn record_checks(ctx: &Context, domain: &str) -> RecordChecks {
    let domain = domain.to_string();
    let mut c = CheckResult::ran("spf", domain.clone());
    let (records, _) = match spf_records(ctx, &domain).await {
        Ok(r) => r,
        Err(e) => {
            c.status = CheckStatus::dns(&e);
            return RecordChecks::Final(c);
        }
    };
    let subject = domain.clone();
    if records.is_empty() {
        return RecordChecks::Missing(c);
    }
    if records.len() > 1 {
        c.findings.push(
            Finding::new("spf.multiple-records", Severity::Fail, subject.clone())
                .arg("domain", &domain)
                .arg("count", records.len())
                .evidence(json!({ "records": records })),
        );
        return RecordChecks::Final(c);
    }
    let Some(text) = records.first().cloned() else {
        return RecordChecks::Missing(c);
    };
    let record = match parse_record(&text) {
        Ok(r) => r,
        Err(e) => {
            c.findings.push(
                Finding::new("spf.syntax-error", Severity::Fail, subject.clone())
                    .arg("domain", &domain)
                    .arg("error", &e.message)
                    .arg("term", &e.term)
                    .arg("position", e.position)
                    .evidence(json!({ "record": text })),
            );
            return RecordChecks::Final(c);
        }
    };
    // The include tree and the old SPF type's question go out together: neither needs the
    // other's answer.
    let mut seen = BTreeSet::new();
    seen.insert(domain.clone());
    let budget = std::sync::atomic::AtomicUsize::new(0);
    let (old_type, (tree, w)) = tokio::join!(
        ctx.dns.lookup(&domain, mxdoctor_net::RecordType::Unknown(99)),
        walk(ctx, domain.clone(), "record".into(), 0, seen, &budget)
    );
    // RFC 7208 section 14.1 removed the SPF RR type (99); receivers ask only for TXT.
    if let Ok(r) = old_type {
        let old: Vec<String> = r.iter().filter_map(|r| r.txt()).collect();
        if !old.is_empty() {
            c.findings.push(
                Finding::new("spf.deprecated-rr", Severity::Notice, subject.clone())
                    .arg("domain", &domain)
                    .evidence(json!({ "spf_type_records": old })),
            );
        }
    }
    if text.len() > 450 {
        c.findings.push(
            Finding::new("spf.record-long", Severity::Notice, subject.clone())
                .arg("domain", &domain)
                .arg("length", text.len())
                .arg("limit", if text.len() > 512 { 512 } else { 450 }),
        );
    }
    // The final `all`, or its absence.
    let last_all = record.directives.iter().rev().find(|d| d.mechanism == Mechanism::All);
    match last_all.map(|d| d.qualifier) {
        Some(Qualifier::Pass) => c
            .findings
            .push(Finding::new("spf.pass-all", Severity::Fail, subject.clone()).arg("domain", &domain)),
        Some(Qualifier::Neutral) => c
            .findings
            .push(Finding::new("spf.neutral-all", Severity::Warning, subject.clone()).arg("domain", &domain)),
        None if record.redirect.is_none() => c
            .findings
            .push(Finding::new("spf.no-all", Severity::Notice, subject.clone()).arg("domain", &domain)),
        _ => {}
    }
    if record
        .directives
        .iter()
        .any(|d| matches!(d.mechanism, Mechanism::Ptr { .. }))
    {
        c.findings
            .push(Finding::new("spf.ptr-used", Severity::Notice, subject.clone()).arg("domain", &domain));
    }
    c.evidence
        .push(Evidence::Note(format!("SPF record of {domain}: {text}")));
    let tree_json = json!(tree);
    // The include/redirect tree with the lookups each record costs: always kept, so `spf`
    // can draw it and JSON readers see where the lookups go.
    c.evidence.push(Evidence::Spf(json!({
        "tree": tree_json,
        "dns_terms": w.total_lookups,
        "dns_terms_limit": spf::MAX_DNS_TERMS,
        "void_lookups": w.void_targets.len(),
        "void_limit": spf::MAX_VOID_LOOKUPS,
    })));
    if w.total_lookups > spf::MAX_DNS_TERMS {
        c.findings.push(
            Finding::new("spf.lookup-limit", Severity::Fail, subject.clone())
                .arg("domain", &domain)
                .arg("count", w.total_lookups)
                .evidence(json!({ "by_term": tree.children.iter().map(|n| json!({
                    "term": n.via, "lookups": 1 + subtree_lookups(n),
                })).collect::<Vec<_>>() })),
        );
    }
    if w.void_targets.len() > spf::MAX_VOID_LOOKUPS {
        c.findings.push(
            Finding::new("spf.void-limit", Severity::Fail, subject.clone())
                .arg("domain", &domain)
                .arg("count", w.void_targets.len())
                .arg("names", w.void_targets.join(", ")),
        );
    }
    for t in &w.without_spf {
        if *t != domain {
            c.findings.push(
                Finding::new("spf.include-without-spf", Severity::Fail, subject.clone())
                    .arg("domain", &domain)
                    .arg("target", t),
            );
        }
    }
    for t in &w.loops {
        c.findings.push(
            Finding::new("spf.loop", Severity::Fail, subject.clone())
                .arg("domain", &domain)
                .arg("target", t),
        );
    }
    RecordChecks::Tree(Box::new(RecordTree {
        c,
        text,
        record,
        tree,
        walk: w,
    }))
}

/// `check_host` for each sending IP, at once, reported in the order given.
async fn evaluate(ctx: &Context, req: &SpfRequest, domain: &str, t: Box<RecordTree>, ips: &[IpAddr]) -> CheckResult {
    let RecordTree {
        mut c,
        text,
        record,
        tree,
        walk: w,
    } = *t;
    let domain = domain.to_string();
    let subject = domain.clone();
    let dns = NetSpfDns(&ctx.dns);
    let outcomes = futures_util::future::join_all(ips.iter().map(|ip| {
        let input = SpfInput {
            ip: *ip,
            mail_from: req.sender.clone().unwrap_or_else(|| format!("postmaster@{domain}")),
            helo: req.helo.clone().unwrap_or_else(|| domain.clone()),
            receiver: "mx.google.com".into(),
            timestamp: ctx.clock.now().unix_timestamp().max(0) as u64,
        };
        let dns = &dns;
        async move { check_host(dns, &input).await }
    }))
    .await;
    let mut unauthorised = Vec::new();
    for (ip, out) in ips.iter().zip(outcomes) {
        let ev = json!({ "result": out.result, "matched": out.matched, "reason": out.reason, "dns_terms": out.dns_terms, "void_lookups": out.void_lookups });
        // The step-by-step trace is check-level evidence (shown with --verbose and in JSON).
        c.evidence.push(Evidence::Spf(json!({ "ip": ip, "trace": out.trace })));
        match out.result {
            SpfResult::Pass => c.findings.push(
                Finding::new("spf.ip-authorized", Severity::Pass, ip.to_string())
                    .arg("ip", ip)
                    .arg("domain", &domain)
                    .arg("term", out.matched.clone().unwrap_or_default())
                    .evidence(ev),
            ),
            SpfResult::TempError => c.findings.push(
                Finding::new("spf.temperror", Severity::Warning, ip.to_string())
                    .arg("ip", ip)
                    .arg("domain", &domain)
                    .arg("reason", &out.reason)
                    .evidence(ev),
            ),
            SpfResult::PermError => c.findings.push(
                Finding::new("spf.permerror", Severity::Fail, ip.to_string())
                    .arg("ip", ip)
                    .arg("domain", &domain)
                    .arg("reason", &out.reason)
                    .evidence(ev),
            ),
            other => {
                unauthorised.push(*ip);
                let suggestion = suggest_added(ctx, &domain, &record, &text, *ip).await;
                let mut ev = ev;
                if let Some(fields) = ev.as_object_mut() {
                    fields.insert("suggestion".into(), json!(suggestion));
                }
                c.findings.push(
                    Finding::new("spf.ip-not-authorized", Severity::Fail, ip.to_string())
                        .arg("ip", ip)
                        .arg("domain", &domain)
                        .arg("result", other.as_str())
                        .arg("suggested", &suggestion.record)
                        .evidence(ev),
                );
            }
        }
    }
    let problems = c
        .findings
        .iter()
        .any(|f| f.severity >= Severity::Warning && !f.id.starts_with("spf.ip-"));
    if !problems {
        c.findings.insert(
            0,
            Finding::new("spf.valid", Severity::Pass, subject)
                .arg("domain", &domain)
                .arg("record", &text)
                .arg("count", w.total_lookups)
                .evidence(json!({ "by_term": tree.children.iter().map(|n| json!({
                    "term": n.via, "lookups": 1 + subtree_lookups(n),
                })).collect::<Vec<_>>() })),
        );
    }
    c
}

pub fn verdict(checks: &[CheckResult], domain: &str) -> Verdict {
    let mut args = std::collections::BTreeMap::new();
    args.insert("domain".to_string(), domain.to_string());
    let fails: Vec<String> = checks
        .iter()
        .flat_map(|c| &c.findings)
        .filter(|f| f.severity == Severity::Fail)
        .map(|f| f.id.clone())
        .collect();
    if checks.iter().any(|c| matches!(c.status, CheckStatus::Error { .. })) {
        return Verdict {
            id: "verdict.spf.unknown".into(),
            severity: Severity::Warning,
            args,
            because: vec![],
        };
    }
    if fails.is_empty() {
        Verdict {
            id: "verdict.spf.ok".into(),
            severity: Severity::Pass,
            args,
            because: vec![],
        }
    } else {
        Verdict {
            id: "verdict.spf.broken".into(),
            severity: Severity::Fail,
            args,
            because: fails,
        }
    }
}
