//! `ip`: what Gmail checks about a sending IP before it reads a single header.
//!
//! Probe: PTR of the address, the A/AAAA of each PTR name (FCrDNS, RFC 8601 "iprev"), the HELO
//! name when given, and every configured DNS blocklist with its RFC 5782 test point, all at once.
//! Verdict: pure functions over what was seen. Explanation: the catalogue, keyed by the ids here.

use std::net::{IpAddr, Ipv4Addr};

use futures_util::future::join_all;
use serde_json::json;

use mxdoctor_net::{DnsError, RecordType};
use mxdoctor_proto::addr::{NonPublic, non_public};
use mxdoctor_proto::dnsbl::{self, Blocklist, Interpretation};
use mxdoctor_proto::hostname::Hostname;
use mxdoctor_proto::ptr::generic_reasons;

use crate::context::Context;
use crate::model::*;

/// At most this many PTR names are followed (a hostile zone could return hundreds).
const MAX_PTR_NAMES: usize = 10;

#[derive(Debug, Clone)]
pub struct IpRequest {
    pub ip: IpAddr,
    pub helo: Option<Hostname>,
    pub lists: Vec<Blocklist>,
}

impl IpRequest {
    pub fn new(ip: IpAddr) -> Self {
        Self {
            ip,
            helo: None,
            lists: dnsbl::default_ip_lists(),
        }
    }
}

pub async fn run(ctx: &Context, req: &IpRequest) -> Report {
    let checks = checks(ctx, req).await;
    let verdict = verdict(&checks, req.ip);
    Report::new(ctx, "ip", req.ip.to_string(), verdict, checks)
}

/// The checks for one sending IP (also used by the domain report).
pub async fn checks(ctx: &Context, req: &IpRequest) -> Vec<CheckResult> {
    checks_of(ctx, req, true).await
}

/// The address's checks; its PTR and HELO only when `ptr` (`--checks` may leave them out).
pub async fn checks_of(ctx: &Context, req: &IpRequest, ptr: bool) -> Vec<CheckResult> {
    if let Some(scope) = non_public(req.ip) {
        // Gmail never sees this address: its PTR and listings say nothing about the mail.
        return vec![scope_check(req.ip, scope)];
    }
    let (ptr, helo, lists) = tokio::join!(
        async {
            match ptr {
                true => Some(ptr_check(ctx, req.ip).await),
                false => None,
            }
        },
        async {
            match (&req.helo, ptr) {
                (Some(h), true) => Some(helo_check(ctx, req.ip, h).await),
                _ => None,
            }
        },
        join_all(req.lists.iter().map(|l| list_check(ctx, req.ip, l))),
    );
    let mut out: Vec<CheckResult> = ptr.into_iter().collect();
    out.extend(helo);
    let clean: Vec<String> = lists
        .iter()
        .filter(|c| c.status == CheckStatus::Ran && c.findings.is_empty())
        .map(|c| c.subject.clone())
        .collect();
    let mut lists = lists;
    if !clean.is_empty() {
        // One pass line for all lists that do not list the address, not one per list.
        if let Some(c) = lists
            .iter_mut()
            .find(|c| c.status == CheckStatus::Ran && c.findings.is_empty())
        {
            c.findings.push(
                Finding::new("dnsbl.not-listed", Severity::Pass, req.ip.to_string())
                    .arg("ip", req.ip)
                    .arg("count", clean.len())
                    .arg("lists", clean.join(", ")),
            );
        }
    }
    out.extend(lists);
    out
}

/// A loopback, private or otherwise non-public address as the sending IP: its own finding,
/// never a PTR failure (and never asked: resolver libraries answer 127.0.0.0/8 themselves).
fn scope_check(ip: IpAddr, scope: NonPublic) -> CheckResult {
    let mut check = CheckResult::ran("ip.scope", ip.to_string());
    check.findings.push(
        Finding::new("ip.not-public", Severity::Warning, ip.to_string())
            .arg("ip", ip)
            .arg("scope", scope.as_str())
            .evidence(json!({ "scope": scope.as_str() })),
    );
    check
}

async fn ptr_check(ctx: &Context, ip: IpAddr) -> CheckResult {
    let subject = ip.to_string();
    let mut check = CheckResult::ran("ip.ptr", subject.clone());
    let names = match ctx.dns.reverse(ip).await {
        Ok(n) if !n.is_empty() => n,
        Ok(_) | Err(DnsError::NxDomain { .. }) | Err(DnsError::NoRecords { .. }) => {
            check
                .findings
                .push(Finding::new("ptr.missing", Severity::Fail, subject.clone()).arg("ip", ip));
            return check;
        }
        Err(e) => {
            check.status = CheckStatus::dns(&e);
            return check;
        }
    };
    if names.len() > 1 {
        check.findings.push(
            Finding::new("ptr.multiple", Severity::Notice, subject.clone())
                .arg("ip", ip)
                .arg("names", names.join(", ")),
        );
    }
    let followed: Vec<String> = names.iter().take(MAX_PTR_NAMES).cloned().collect();
    let forward = join_all(
        followed
            .iter()
            .map(|n| async move { (n.clone(), ctx.dns.lookup_ip(n).await) }),
    )
    .await;
    let mut evidence = Vec::new();
    let mut confirmed = None;
    let mut failed_lookups = 0;
    for (name, result) in &forward {
        match result {
            Ok(addrs) => {
                evidence.push(json!({ "name": name, "addresses": addrs }));
                if confirmed.is_none() && addrs.contains(&ip) {
                    confirmed = Some(name.clone());
                }
            }
            Err(e) => {
                if !e.is_negative() {
                    failed_lookups += 1;
                }
                evidence.push(json!({ "name": name, "error": e.to_string() }));
            }
        }
    }
    match &confirmed {
        Some(name) => check.findings.push(
            Finding::new("ptr.forward-confirmed", Severity::Pass, subject.clone())
                .arg("ip", ip)
                .arg("name", name)
                .evidence(json!({ "forward": evidence })),
        ),
        None if failed_lookups == forward.len() => {
            check.status = CheckStatus::Error {
                cause: ErrorCause::DnsFailure,
                detail: format!("the addresses of {} could not be looked up", followed.join(", ")),
            };
            return check;
        }
        None => check.findings.push(
            Finding::new("ptr.not-forward-confirmed", Severity::Fail, subject.clone())
                .arg("ip", ip)
                .arg("names", followed.join(", "))
                .evidence(json!({ "forward": evidence })),
        ),
    }
    let judged = confirmed
        .clone()
        .or_else(|| followed.first().cloned())
        .unwrap_or_default();
    let reasons = generic_reasons(&judged, ip);
    if !reasons.is_empty() {
        check.findings.push(
            Finding::new("ptr.generic", Severity::Notice, subject.clone())
                .arg("ip", ip)
                .arg("name", &judged)
                .evidence(json!({ "reasons": reasons })),
        );
    }
    check
}

async fn helo_check(ctx: &Context, ip: IpAddr, helo: &Hostname) -> CheckResult {
    let mut check = CheckResult::ran("ip.helo", helo.as_str().to_string());
    let subject = helo.as_str().to_string();
    match ctx.dns.lookup_ip(helo.as_str()).await {
        Ok(addrs) if addrs.contains(&ip) => check.findings.push(
            Finding::new("helo.matches", Severity::Pass, subject)
                .arg("helo", helo)
                .arg("ip", ip),
        ),
        Ok(addrs) => check.findings.push(
            Finding::new("helo.other-address", Severity::Warning, subject)
                .arg("helo", helo)
                .arg("ip", ip)
                .arg(
                    "addresses",
                    addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", "),
                ),
        ),
        Err(e) if e.is_negative() => check.findings.push(
            Finding::new("helo.not-found", Severity::Warning, subject)
                .arg("helo", helo)
                .arg("ip", ip),
        ),
        Err(e) => check.status = CheckStatus::dns(&e),
    }
    check
}

fn a_records(r: &Result<Vec<mxdoctor_net::DnsRecord>, DnsError>) -> Result<Vec<Ipv4Addr>, DnsError> {
    match r {
        Ok(records) => Ok(records
            .iter()
            .filter_map(|r| match r.rdata {
                mxdoctor_net::Rdata::A(v4) => Some(v4),
                _ => None,
            })
            .collect()),
        Err(e) if e.is_negative() => Ok(Vec::new()),
        Err(e) => Err(e.clone()),
    }
}

async fn list_check(ctx: &Context, ip: IpAddr, list: &Blocklist) -> CheckResult {
    let listed = |codes: &[String]| {
        Finding::new(
            if dnsbl::is_pbl(codes) {
                "dnsbl.pbl"
            } else {
                "dnsbl.listed"
            },
            Severity::Fail,
            ip.to_string(),
        )
        .arg("ip", ip)
    };
    let q = ListQuery {
        check: "ip.dnsbl",
        name: dnsbl::query_name(ip, &list.zone),
        test_point: dnsbl::query_name(dnsbl::test_point_listed_for(ip), &list.zone),
    };
    query_list(ctx, list, q, listed).await
}

/// The domain lists (Spamhaus DBL) for a domain: `<domain>.<zone>`, test point `test.<zone>`
/// (RFC 5782 section 5: a domain list must list TEST).
pub async fn domain_list_check(ctx: &Context, domain: &str, list: &Blocklist) -> CheckResult {
    let listed = |_: &[String]| Finding::new("dnsbl.domain-listed", Severity::Fail, domain).arg("domain", domain);
    let q = ListQuery {
        check: "domain.dnsbl",
        name: dnsbl::domain_query_name(domain, &list.zone),
        test_point: dnsbl::domain_query_name(dnsbl::DOMAIN_TEST_POINT, &list.zone),
    };
    let mut c = query_list(ctx, list, q, listed).await;
    if c.status == CheckStatus::Ran && c.findings.is_empty() {
        c.findings.push(
            Finding::new("dnsbl.domain-not-listed", Severity::Pass, domain)
                .arg("domain", domain)
                .arg("lists", &list.name),
        );
    }
    c
}

struct ListQuery {
    check: &'static str,
    name: String,
    test_point: String,
}

/// One blocklist question and its RFC 5782 test point, asked together; `listed` makes the
/// finding for a listing (the list, meaning, reason and delisting hint are added here).
async fn query_list(
    ctx: &Context,
    list: &Blocklist,
    q: ListQuery,
    listed: impl Fn(&[String]) -> Finding,
) -> CheckResult {
    let mut check = CheckResult::ran(q.check, list.zone.clone());
    let (answer, test_point) = tokio::join!(
        ctx.dns.lookup(&q.name, RecordType::A),
        ctx.dns.lookup(&q.test_point, RecordType::A)
    );
    let answer = match a_records(&answer) {
        Ok(a) => a,
        Err(e) => {
            check.status = CheckStatus::dns(&e);
            return check;
        }
    };
    match dnsbl::interpret(list, &answer) {
        Interpretation::NotListed => {
            // RFC 5782 section 5: a list that does not list its own test point is not answering
            // (through this resolver), so "not listed" would be a guess.
            if let Err(e @ mxdoctor_net::DnsError::Budget { .. }) = &test_point {
                // The test point was not asked: whether the list answers is unknown.
                check.status = CheckStatus::dns(e);
                return check;
            }
            let tp = a_records(&test_point).unwrap_or_default();
            if tp.is_empty() {
                check.status = CheckStatus::Error {
                    cause: ErrorCause::ListUnavailable,
                    detail: format!("{} does not answer its test point {}", list.name, q.test_point),
                };
            }
        }
        Interpretation::Listed { codes, meanings } => {
            let txt = ctx
                .dns
                .lookup(&q.name, RecordType::TXT)
                .await
                .map(|r| r.iter().filter_map(|r| r.txt()).collect::<Vec<_>>().join(" "))
                .unwrap_or_default();
            check.findings.push(
                listed(&codes)
                    .arg("list", &list.name)
                    .arg("zone", &list.zone)
                    .arg("meaning", meanings.join("; "))
                    .arg("reason", if txt.is_empty() { "-".to_string() } else { txt.clone() })
                    .arg("delist", if list.delist.is_empty() { "-" } else { &list.delist })
                    .evidence(json!({ "query": q.name, "codes": codes, "meaning": meanings, "txt": txt })),
            );
        }
        Interpretation::ErrorCode { code, meaning } => {
            check.status = CheckStatus::Error {
                cause: ErrorCause::ListRefused,
                detail: format!("{} answered {code}: {meaning} — this is not a listing", list.name),
            };
        }
        Interpretation::Bogus { answers } => {
            check.status = CheckStatus::Error {
                cause: ErrorCause::ListRefused,
                detail: format!(
                    "{} gave answers outside 127.0.0.0/8 ({}): the resolver rewrites answers; use another resolver",
                    list.name,
                    answers.join(", ")
                ),
            };
        }
    }
    check
}

/// The checks the IP verdict rests on: an error in any of them means "could not find out".
const VERDICT_CHECKS: &[&str] = &["ip.ptr", "ip.dnsbl"];

/// What Gmail will do with mail from this IP. A definite failure (no PTR, a listing) is a
/// rejection whatever else could not be learnt; otherwise an error in a check the verdict rests
/// on, or an address Gmail never sees, is "could not find out" and never "will accept".
pub fn verdict(checks: &[CheckResult], ip: IpAddr) -> Verdict {
    let mut args = std::collections::BTreeMap::new();
    args.insert("ip".to_string(), ip.to_string());
    let fails: Vec<String> = checks
        .iter()
        .flat_map(|c| &c.findings)
        .filter(|f| f.severity == Severity::Fail)
        .map(|f| f.id.clone())
        .collect();
    let order = ["ptr.missing", "ptr.not-forward-confirmed", "dnsbl.pbl", "dnsbl.listed"];
    let mut because: Vec<String> = order
        .iter()
        .filter(|id| fails.iter().any(|f| f == *id))
        .map(|s| s.to_string())
        .collect();
    for f in fails {
        if !because.contains(&f) {
            because.push(f);
        }
    }
    if !because.is_empty() {
        return Verdict {
            id: "verdict.ip.reject".into(),
            severity: Severity::Fail,
            args,
            because,
        };
    }
    let unknown = unknowns(checks, VERDICT_CHECKS);
    let not_public = checks.iter().flat_map(|c| &c.findings).any(|f| f.id == "ip.not-public");
    if not_public || !unknown.is_empty() {
        let mut because = unknown;
        if not_public {
            because.insert(0, "ip.not-public".into());
        }
        return Verdict {
            id: "verdict.ip.unknown".into(),
            severity: Severity::Warning,
            args,
            because,
        };
    }
    Verdict {
        id: "verdict.ip.accept".into(),
        severity: Severity::Pass,
        args,
        because,
    }
}
