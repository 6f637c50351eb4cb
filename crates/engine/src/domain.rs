//! `check DOMAIN`: the domain report. Sending IPs (given, or derived and labelled so), SPF,
//! DKIM, DMARC, the submission server (Send-mail-as), and the sender checklist of Gmail, Yahoo,
//! Microsoft and Apple mapped onto those findings, verdict first.

use std::collections::BTreeMap;
use std::net::IpAddr;

use futures_util::future::join_all;
use serde_json::json;

use mxdoctor_net::RecordType;
use mxdoctor_proto::hostname::Hostname;
use mxdoctor_proto::spf::{Mechanism, parse_record};

use crate::context::Context;
use crate::ip::IpRequest;
use crate::model::*;
use crate::sendas::SendasRequest;
use crate::spf::SpfRequest;

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
    /// The submission server to check as Gmail's Send mail as would; None = guess.
    pub submission: Option<Hostname>,
    /// Whether to run the Send-mail-as check of the submission server at all.
    pub check_submission: bool,
    pub lists: Vec<mxdoctor_proto::dnsbl::Blocklist>,
    /// Domain blocklists (Spamhaus DBL) asked about the domain itself.
    pub domain_lists: Vec<mxdoctor_proto::dnsbl::Blocklist>,
}

/// Sending IPs a domain's own DNS points at: single-address ip4:/ip6: terms of its SPF record,
/// its `a`, and its MX hosts' addresses (small hosts usually send from their MX).
async fn derive_ips(ctx: &Context, domain: &str) -> Vec<(IpAddr, String)> {
    let mut out: Vec<(IpAddr, String)> = Vec::new();
    let push = |ip: IpAddr, how: String, out: &mut Vec<(IpAddr, String)>| {
        if !out.iter().any(|(i, _)| *i == ip) {
            out.push((ip, how));
        }
    };
    if let Ok(txts) = ctx.dns.lookup(domain, RecordType::TXT).await {
        for t in txts
            .iter()
            .filter(|r| r.rtype == "TXT" && mxdoctor_proto::spf::is_spf(&r.data))
        {
            if let Ok(rec) = parse_record(&t.data) {
                for d in &rec.directives {
                    match &d.mechanism {
                        Mechanism::Ip4 { addr, cidr: 32 } => {
                            push(IpAddr::V4(*addr), format!("SPF {}", d.text), &mut out)
                        }
                        Mechanism::Ip6 { addr, cidr: 128 } => {
                            push(IpAddr::V6(*addr), format!("SPF {}", d.text), &mut out)
                        }
                        Mechanism::A { domain: None, .. } => {
                            for ip in ctx.dns.lookup_ip(domain).await.unwrap_or_default() {
                                push(ip, "SPF a".into(), &mut out);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    if let Ok(mx) = ctx.dns.lookup(domain, RecordType::MX).await {
        for r in mx.iter().filter(|r| r.rtype == "MX") {
            if let Some((_, host)) = r.data.split_once(' ') {
                let host = host.trim_end_matches('.');
                for ip in ctx.dns.lookup_ip(host).await.unwrap_or_default() {
                    push(ip, format!("MX {host}"), &mut out);
                }
            }
        }
    }
    out.truncate(MAX_DERIVED_IPS);
    out
}

/// The submission server to try: given, else mail./smtp. names or the first MX, whichever resolves.
async fn guess_submission(ctx: &Context, domain: &str) -> Option<Hostname> {
    let mut candidates = vec![format!("mail.{domain}"), format!("smtp.{domain}")];
    if let Ok(mx) = ctx.dns.lookup(domain, RecordType::MX).await {
        candidates.extend(
            mx.iter()
                .filter(|r| r.rtype == "MX")
                .filter_map(|r| r.data.split_once(' ').map(|(_, h)| h.trim_end_matches('.').to_string())),
        );
    }
    for c in candidates {
        if ctx.dns.lookup_ip(&c).await.is_ok() {
            return Hostname::parse(&c).ok();
        }
    }
    None
}

pub async fn run(ctx: &Context, req: &DomainRequest) -> Report {
    let domain = req.domain.trim_end_matches('.').to_ascii_lowercase();
    let (ips, derived): (Vec<IpAddr>, Vec<(IpAddr, String)>) = if req.ips.is_empty() {
        let d = derive_ips(ctx, &domain).await;
        (d.iter().map(|(ip, _)| *ip).collect(), d)
    } else {
        (req.ips.clone(), Vec::new())
    };
    let submission = match (&req.submission, req.check_submission) {
        (_, false) => None,
        (Some(h), true) => Some(h.clone()),
        (None, true) => guess_submission(ctx, &domain).await,
    };
    let spf_req = SpfRequest {
        domain: domain.clone(),
        ips: ips.clone(),
        sender: None,
        helo: req.helo.as_ref().map(|h| h.to_string()),
    };
    let (spf, dkim, dmarc, domain_lists, ip_checks, sendas) = tokio::join!(
        crate::spf::check(ctx, &spf_req),
        crate::dkim::check(ctx, &domain, &req.selectors),
        crate::dmarc::check(ctx, &domain),
        join_all(
            req.domain_lists
                .iter()
                .map(|l| crate::ip::domain_list_check(ctx, &domain, l))
        ),
        join_all(ips.iter().map(|ip| {
            let r = IpRequest {
                ip: *ip,
                helo: req.helo.clone(),
                lists: req.lists.clone(),
            };
            async move { crate::ip::checks(ctx, &r).await }
        })),
        async {
            match &submission {
                Some(h) => Some(crate::sendas::run(ctx, &SendasRequest::new(h.clone(), 587)).await),
                None => None,
            }
        },
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
    checks.push(spf);
    checks.push(dkim);
    checks.push(dmarc);
    checks.extend(domain_lists);
    for c in ip_checks {
        checks.extend(c);
    }
    if let Some(s) = &sendas {
        checks.extend(s.checks.iter().cloned());
    }
    let mut checklist = checklist(&checks, req.bulk, &domain);
    // Every DNS question of the run, once each, with its answer and time: the evidence behind
    // every finding above (shown with --verbose, always in JSON).
    let mut queries = ctx.dns.queries();
    queries.sort_by(|a, b| (&a.name, &a.rtype).cmp(&(&b.name, &b.rtype)));
    checklist.evidence.push(Evidence::Dns(json!(queries)));
    checks.push(checklist);
    let verdict = verdict(&checks, &domain);
    Report::new(ctx, "check", domain, verdict, checks)
}

fn ids_of(checks: &[CheckResult]) -> Vec<&str> {
    checks
        .iter()
        .flat_map(|c| c.findings.iter().map(|f| f.id.as_str()))
        .collect()
}

/// One requirement's state.
enum Req {
    Met(Vec<&'static str>),
    Broken(Vec<&'static str>),
    Unknown,
    NotCheckable,
}

/// The sender requirements (PRODUCT.md section 4), each mapped to the findings that satisfy or
/// break it. Bulk-sender rules are failures with --bulk and notices without.
pub fn checklist(checks: &[CheckResult], bulk: bool, domain: &str) -> CheckResult {
    let ids = ids_of(checks);
    let has = |id: &str| ids.contains(&id);
    let any = |l: &[&'static str]| -> Vec<&'static str> { l.iter().copied().filter(|i| has(i)).collect() };
    let spf_pass = has("spf.ip-authorized") && !has("spf.ip-not-authorized");
    let spf_broken = any(&[
        "spf.missing",
        "spf.ip-not-authorized",
        "spf.permerror",
        "spf.multiple-records",
        "spf.syntax-error",
        "spf.lookup-limit",
    ]);
    let dkim_ok = has("dkim.key-found");
    let dkim_broken = any(&[
        "dkim.not-found",
        "dkim.key-too-short",
        "dkim.syntax-error",
        "dkim.revoked",
        "dkim.selector-missing",
    ]);
    let dmarc_ok = has("dmarc.found");
    let dmarc_broken = any(&[
        "dmarc.missing",
        "dmarc.no-policy",
        "dmarc.multiple-records",
        "dmarc.syntax-error",
    ]);
    let ptr_broken = any(&["ptr.missing", "ptr.not-forward-confirmed"]);
    let ptr_ok = has("ptr.forward-confirmed");
    let auth = if spf_pass || dkim_ok {
        Req::Met(if spf_pass {
            vec!["spf.ip-authorized"]
        } else {
            vec!["dkim.key-found"]
        })
    } else if !spf_broken.is_empty() || !dkim_broken.is_empty() {
        Req::Broken([spf_broken.clone(), dkim_broken.clone()].concat())
    } else {
        Req::Unknown
    };
    let ptr = if !ptr_broken.is_empty() {
        Req::Broken(ptr_broken.clone())
    } else if ptr_ok {
        Req::Met(vec!["ptr.forward-confirmed"])
    } else {
        Req::Unknown
    };
    let both = if spf_pass && dkim_ok {
        Req::Met(vec!["spf.ip-authorized", "dkim.key-found"])
    } else if !spf_broken.is_empty() || !dkim_broken.is_empty() {
        Req::Broken([spf_broken.clone(), dkim_broken.clone()].concat())
    } else {
        Req::Unknown
    };
    let dmarc = if dmarc_ok {
        Req::Met(vec!["dmarc.found"])
    } else if !dmarc_broken.is_empty() {
        Req::Broken(dmarc_broken.clone())
    } else {
        Req::Unknown
    };
    // Alignment the DNS can give: SPF at the From domain (MAIL FROM = From), or a DKIM key there.
    let align = if spf_pass || dkim_ok {
        Req::Met(if dkim_ok {
            vec!["dkim.key-found"]
        } else {
            vec!["spf.ip-authorized"]
        })
    } else {
        Req::Broken([spf_broken.clone(), dkim_broken.clone()].concat())
    };
    let key_len = if has("dkim.key-too-short") {
        Req::Broken(vec!["dkim.key-too-short"])
    } else if dkim_ok {
        Req::Met(vec!["dkim.key-found"])
    } else {
        Req::Unknown
    };
    let ptr_meaningful = if has("ptr.generic") {
        Req::Broken(vec!["ptr.generic"])
    } else if ptr_ok {
        Req::Met(vec!["ptr.forward-confirmed"])
    } else {
        Req::Unknown
    };
    let microsoft = if spf_pass && dkim_ok && dmarc_ok {
        Req::Met(vec!["spf.ip-authorized", "dkim.key-found", "dmarc.found"])
    } else if !spf_broken.is_empty() || !dkim_broken.is_empty() || !dmarc_broken.is_empty() {
        Req::Broken([spf_broken.clone(), dkim_broken.clone(), dmarc_broken.clone()].concat())
    } else {
        Req::Unknown
    };
    let apple = if spf_pass && dkim_ok && dmarc_ok && ptr_ok && ptr_broken.is_empty() {
        Req::Met(vec![
            "spf.ip-authorized",
            "dkim.key-found",
            "dmarc.found",
            "ptr.forward-confirmed",
        ])
    } else if !spf_broken.is_empty() || !dkim_broken.is_empty() || !dmarc_broken.is_empty() || !ptr_broken.is_empty() {
        Req::Broken([spf_broken, dkim_broken, dmarc_broken, ptr_broken].concat())
    } else {
        Req::Unknown
    };

    // (id, state, applies to every sender, Gmail's reply when broken)
    let rows: Vec<(&str, Req, bool, &str)> = vec![
        ("req.gmail.authenticated", auth, true, "550 5.7.26"),
        ("req.gmail.ptr", ptr, true, "550 5.7.25"),
        ("req.gmail.dkim-key-length", key_len, true, "550 5.7.26"),
        ("req.gmail.tls", Req::NotCheckable, true, "421 4.7.29"),
        ("req.gmail.spam-rate", Req::NotCheckable, true, "421 4.7.28"),
        ("req.gmail.bulk.spf-and-dkim", both, false, "550 5.7.27 / 5.7.30"),
        ("req.gmail.bulk.dmarc", dmarc, false, "550 5.7.40"),
        ("req.gmail.bulk.alignment", align, false, "421 4.7.32"),
        ("req.gmail.bulk.unsubscribe", Req::NotCheckable, false, ""),
        ("req.yahoo.ptr-meaningful", ptr_meaningful, true, ""),
        ("req.microsoft.bulk", microsoft, false, "550 5.7.515"),
        ("req.apple.authenticated", apple, false, ""),
    ];
    let mut c = CheckResult::ran("checklist", domain.to_string());
    for (id, state, all, code) in rows {
        let (severity, because, state_s) = match state {
            Req::Met(b) => (Severity::Pass, b, "met"),
            Req::Broken(b) if all || bulk => (Severity::Fail, b, "broken"),
            Req::Broken(b) => (Severity::Notice, b, "broken"),
            Req::Unknown => (Severity::Info, vec![], "unknown"),
            Req::NotCheckable => (Severity::Info, vec![], "not-checkable"),
        };
        // The generic "not yet known" rows only add noise next to the met and broken ones.
        if state_s == "unknown" {
            continue;
        }
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

/// What Gmail will do with mail from the domain.
pub fn verdict(checks: &[CheckResult], domain: &str) -> Verdict {
    let mut args = BTreeMap::new();
    args.insert("domain".to_string(), domain.to_string());
    let fails: Vec<&Finding> = checks
        .iter()
        .flat_map(|c| &c.findings)
        .filter(|f| f.severity == Severity::Fail)
        .collect();
    let is = |id: &str| fails.iter().any(|f| f.id == id);
    let mut because: Vec<String> = Vec::new();
    for id in [
        "ptr.missing",
        "ptr.not-forward-confirmed",
        "dnsbl.pbl",
        "spf.missing",
        "spf.ip-not-authorized",
        "dkim.key-too-short",
    ] {
        if is(id) {
            because.push(id.to_string());
        }
    }
    if is("req.gmail.authenticated") || is("req.gmail.ptr") || is("dnsbl.pbl") {
        return Verdict {
            id: "verdict.domain.reject".into(),
            severity: Severity::Fail,
            args,
            because,
        };
    }
    let spam: Vec<String> = fails
        .iter()
        .filter(|f| {
            f.id.starts_with("req.")
                || f.id == "dnsbl.listed"
                || f.id == "dnsbl.domain-listed"
                || f.id.starts_with("spf.")
                || f.id.starts_with("dmarc.")
        })
        .map(|f| f.id.clone())
        .collect();
    if !spam.is_empty() {
        because.extend(spam);
        because.dedup();
        return Verdict {
            id: "verdict.domain.spam".into(),
            severity: Severity::Fail,
            args,
            because,
        };
    }
    if checks
        .iter()
        .filter(|c| c.check == "spf" || c.check == "dmarc")
        .any(|c| matches!(c.status, CheckStatus::Error { .. }))
    {
        return Verdict {
            id: "verdict.domain.unknown".into(),
            severity: Severity::Warning,
            args,
            because,
        };
    }
    let other: Vec<String> = fails.iter().map(|f| f.id.clone()).collect();
    if !other.is_empty() {
        // Failures outside sending (e.g. the submission server's certificate) do not change how
        // Gmail treats mail from the domain, but they still fail the run.
        return Verdict {
            id: "verdict.domain.accept-with-problems".into(),
            severity: Severity::Fail,
            args,
            because: other,
        };
    }
    Verdict {
        id: "verdict.domain.accept".into(),
        severity: Severity::Pass,
        args,
        because,
    }
}
