//! BIMI: whether mailbox providers (Gmail, Yahoo, Apple) can show the domain's logo.
//!
//! Probe ([`probe`]): the `default._bimi` record, the DMARC record that applies (BIMI needs an
//! enforcing policy), and the logo over HTTPS (bounded, no redirects, the certificate judged
//! for the logo's host). Verdict ([`findings`]): pure.

use serde_json::json;

use mxdoctor_net::RecordType;
use mxdoctor_net::https::{self, HttpsError, Response};
use mxdoctor_proto::bimi::{MAX_LOGO_BYTES, is_bimi, parse, svg_problems};
use mxdoctor_proto::dmarc::{Policy, is_dmarc, parse_record, walk_names};
use mxdoctor_proto::hostname::Hostname;
use mxdoctor_proto::names::verify_name;

use crate::context::Context;
use crate::model::*;

/// Read at most this much of a logo (twice the guidance, to say by how much it is over).
const FETCH_LIMIT: usize = 2 * MAX_LOGO_BYTES;

/// The DMARC policy that applies to the domain, as BIMI reads it.
#[derive(Debug, Clone)]
pub struct DmarcSeen {
    pub policy: Option<Policy>,
    /// The removed `pct=` tag's value, when present.
    pub pct: Option<String>,
}

#[derive(Debug, Clone)]
pub enum BimiProbe {
    DnsError(mxdoctor_net::DnsError),
    Seen {
        records: Vec<String>,
        dmarc: Option<DmarcSeen>,
        logo: Option<Box<(String, Result<Response, HttpsError>)>>,
    },
}

pub async fn probe(ctx: &Context, domain: &str) -> BimiProbe {
    let name = format!("default._bimi.{domain}");
    let records: Vec<String> = match ctx.dns.lookup(&name, RecordType::TXT).await {
        Ok(r) => r.iter().filter_map(|r| r.txt()).filter(|t| is_bimi(t)).collect(),
        Err(e) if e.is_negative() => Vec::new(),
        Err(e) => return BimiProbe::DnsError(e),
    };
    if records.is_empty() {
        return BimiProbe::Seen {
            records,
            dmarc: None,
            logo: None,
        };
    }
    let url = match records.as_slice() {
        [one] => parse(one).ok().and_then(|r| r.logo),
        _ => None,
    };
    let (dmarc, logo) = tokio::join!(dmarc_of(ctx, domain), async {
        match url {
            Some(u) => {
                let r = https::get(&ctx.dns, &ctx.connector, &ctx.tls, &u, ctx.timeout, FETCH_LIMIT).await;
                Some(Box::new((u, r)))
            }
            None => None,
        }
    });
    BimiProbe::Seen { records, dmarc, logo }
}

/// The DMARC record that applies (the domain's, else the nearest parent's): the run's cached
/// answers, as the DMARC check found them.
async fn dmarc_of(ctx: &Context, domain: &str) -> Option<DmarcSeen> {
    for name in walk_names(domain) {
        let Ok(records) = ctx.dns.lookup(&name, RecordType::TXT).await else {
            continue;
        };
        let texts: Vec<String> = records.iter().filter_map(|r| r.txt()).filter(|t| is_dmarc(t)).collect();
        if let [one] = texts.as_slice() {
            let rec = parse_record(one).ok()?;
            let pct = one
                .split(';')
                .filter_map(|t| t.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("pct"))
                .map(|(_, v)| v.trim().to_string());
            return Some(DmarcSeen { policy: rec.p, pct });
        }
        if !texts.is_empty() {
            return None;
        }
    }
    None
}

/// The BIMI check. Pure.
pub fn findings(domain: &str, probe: &BimiProbe) -> CheckResult {
    let name = format!("default._bimi.{domain}");
    let mut c = CheckResult::ran("bimi", name.clone());
    let (records, dmarc, logo) = match probe {
        BimiProbe::DnsError(e) => {
            c.status = CheckStatus::dns(e);
            return c;
        }
        BimiProbe::Seen { records, dmarc, logo } => (records, dmarc, logo),
    };
    let f = |id: &str, severity| Finding::new(id, severity, name.clone()).arg("domain", domain);
    let record = match records.as_slice() {
        [] => {
            c.findings.push(f("bimi.missing", Severity::Info));
            return c;
        }
        [one] => match parse(one) {
            Ok(r) => r,
            Err(e) => {
                c.findings
                    .push(f("bimi.syntax-error", Severity::Warning).arg("error", e));
                return c;
            }
        },
        several => {
            c.findings
                .push(f("bimi.multiple", Severity::Warning).arg("count", several.len()));
            return c;
        }
    };
    let Some(url) = &record.logo else {
        c.findings.push(f("bimi.declined", Severity::Info));
        return c;
    };
    c.findings.extend(dmarc_findings(domain, &name, dmarc.as_ref()));
    if let Some(fetched) = logo {
        c.findings.extend(logo_findings(&name, url, &fetched.1));
    }
    c.findings.push(match &record.evidence {
        Some(a) => Finding::new("bimi.certificate-present", Severity::Info, name.clone()).arg("url", a),
        None => f("bimi.no-certificate", Severity::Info),
    });
    c
}

/// BIMI is shown only for mail under an enforcing DMARC policy applied to all of it.
fn dmarc_findings(domain: &str, name: &str, dmarc: Option<&DmarcSeen>) -> Vec<Finding> {
    let policy = dmarc.and_then(|d| d.policy);
    let mut out = Vec::new();
    match policy {
        Some(Policy::Quarantine | Policy::Reject) => {}
        other => out.push(
            Finding::new("bimi.dmarc-not-enforcing", Severity::Fail, name.to_string())
                .arg("domain", domain)
                .arg("policy", other.map(Policy::as_str).unwrap_or("-")),
        ),
    }
    if let Some(pct) = dmarc.and_then(|d| d.pct.clone()).filter(|p| p != "100") {
        out.push(
            Finding::new("bimi.dmarc-pct", Severity::Warning, name.to_string())
                .arg("domain", domain)
                .arg("pct", pct),
        );
    }
    out
}

fn logo_findings(name: &str, url: &str, result: &Result<Response, HttpsError>) -> Vec<Finding> {
    let unavailable = |reason: String| {
        vec![
            Finding::new("bimi.logo-unavailable", Severity::Fail, name.to_string())
                .arg("url", url)
                .arg("reason", reason),
        ]
    };
    let r = match result {
        Err(HttpsError::TooLarge { .. }) => {
            return vec![
                Finding::new("bimi.logo-too-large", Severity::Fail, name.to_string())
                    .arg("url", url)
                    .arg("limit", MAX_LOGO_BYTES),
            ];
        }
        Err(e) => return unavailable(e.to_string()),
        Ok(r) if r.status != 200 => return unavailable(format!("HTTP {}", r.status)),
        Ok(r) => r,
    };
    let host = url
        .trim_start_matches("https://")
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    let cert_ok = r.tls.leaf().is_some_and(|leaf| {
        Hostname::parse(host).is_ok_and(|h| verify_name(&h, &leaf.presented_ids()).matched.is_some())
    }) && r.tls.chain_verdict == mxdoctor_net::tls::ChainVerdict::Trusted
        && matches!(r.tls.dates, mxdoctor_net::tls::DateVerdict::InDate { .. });
    if !cert_ok {
        return unavailable(format!("the certificate of {host} is not valid for it"));
    }
    if r.body.len() > MAX_LOGO_BYTES {
        return vec![
            Finding::new("bimi.logo-too-large", Severity::Fail, name.to_string())
                .arg("url", url)
                .arg("limit", MAX_LOGO_BYTES),
        ];
    }
    let problems = svg_problems(&String::from_utf8_lossy(&r.body));
    if problems.is_empty() {
        vec![
            Finding::new("bimi.logo-ok", Severity::Pass, name.to_string())
                .arg("url", url)
                .arg("bytes", r.body.len()),
        ]
    } else {
        vec![
            Finding::new("bimi.logo-invalid", Severity::Fail, name.to_string())
                .arg("url", url)
                .arg("problems", problems.join(", "))
                .evidence(json!({ "content_type": r.content_type, "bytes": r.body.len() })),
        ]
    }
}
