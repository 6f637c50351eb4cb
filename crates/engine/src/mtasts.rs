//! MTA-STS (RFC 8461): whether senders that support it (Gmail, Microsoft, Yahoo) must use
//! verified TLS to deliver to the domain, and whether its MX hosts would pass.
//!
//! Probe ([`probe`]): the `_mta-sts` TXT record, then, with one valid record, the policy at
//! `https://mta-sts.DOMAIN/.well-known/mta-sts.txt` (section 3.3): the certificate must be
//! valid for that host, no redirect is followed, the body is bounded, the media type must be
//! text/plain. Verdict ([`findings`]): pure, over that and what the port-25 probes of the MX
//! hosts saw ([`crate::inbound`]): in `enforce` mode an MX whose certificate would not verify
//! is a failure, since every MTA-STS sender stops delivering to it.

use serde::Serialize;
use serde_json::json;

use mxdoctor_net::RecordType;
use mxdoctor_net::https::{self, HttpsError, Response};
use mxdoctor_proto::hostname::Hostname;
use mxdoctor_proto::mtasts::{MAX_POLICY_BYTES, Mode, Policy, covers, is_sts, parse_policy, parse_record};
use mxdoctor_proto::names::verify_name;

use crate::context::Context;
use crate::inbound::{self, Probe};
use crate::model::*;
use crate::mx::MxAnswer;

/// A policy that asks senders to remember it for less than a day gives little protection
/// (section 3.2 suggests weeks).
const SHORT_MAX_AGE: u64 = 86_400;

/// What the record question and the policy fetch saw.
#[derive(Debug, Clone)]
pub enum StsProbe {
    /// The TXT question failed: nothing is known.
    DnsError(mxdoctor_net::DnsError),
    Seen {
        /// The `v=STSv1` strings at `_mta-sts.DOMAIN`, and the others there.
        records: Vec<String>,
        others: Vec<String>,
        /// The policy fetch, made only when there is exactly one valid record.
        fetch: Option<Box<Fetch>>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Fetch {
    pub url: String,
    pub result: Result<Response, HttpsError>,
}

pub fn policy_host(domain: &str) -> String {
    format!("mta-sts.{domain}")
}

pub async fn probe(ctx: &Context, domain: &str) -> StsProbe {
    let name = format!("_mta-sts.{domain}");
    let txts: Vec<String> = match ctx.dns.lookup(&name, RecordType::TXT).await {
        Ok(records) => records.iter().filter_map(|r| r.txt()).collect(),
        Err(e) if e.is_negative() => Vec::new(),
        Err(e) => return StsProbe::DnsError(e),
    };
    let (records, others): (Vec<String>, Vec<String>) = txts.into_iter().partition(|t| is_sts(t));
    let fetch = match records.as_slice() {
        [one] if parse_record(one).is_ok() => {
            let url = format!("https://{}/.well-known/mta-sts.txt", policy_host(domain));
            let result = https::get(&ctx.dns, &ctx.connector, &ctx.tls, &url, ctx.timeout, MAX_POLICY_BYTES).await;
            Some(Box::new(Fetch { url, result }))
        }
        _ => None,
    };
    StsProbe::Seen { records, others, fetch }
}

/// The MTA-STS check: the record, the policy, and the MX hosts against it. Pure.
pub fn findings(domain: &str, probe: &StsProbe, mx: &MxAnswer, probes: &[Probe]) -> CheckResult {
    let name = format!("_mta-sts.{domain}");
    let mut c = CheckResult::ran("mta-sts", name.clone());
    let (records, others, fetch) = match probe {
        StsProbe::DnsError(e) => {
            c.status = CheckStatus::dns(e);
            return c;
        }
        StsProbe::Seen { records, others, fetch } => (records, others, fetch),
    };
    let finding = |id: &str, severity| Finding::new(id, severity, name.clone()).arg("domain", domain);
    match records.as_slice() {
        [] => {
            let f = finding("mtasts.missing", Severity::Info);
            c.findings.push(if others.is_empty() {
                f
            } else {
                f.evidence(json!({ "discarded": others }))
            });
            return c;
        }
        [one] => {
            if let Err(e) = parse_record(one) {
                c.findings.push(
                    finding("mtasts.record-invalid", Severity::Warning)
                        .arg("error", e)
                        .evidence(json!({ "record": one })),
                );
                return c;
            }
        }
        several => {
            // Section 3.1: several records mean no policy for senders.
            c.findings.push(
                finding("mtasts.multiple", Severity::Warning)
                    .arg("count", several.len())
                    .evidence(json!({ "records": several })),
            );
            return c;
        }
    }
    let Some(fetch) = fetch else { return c };
    let policy = match policy_of(domain, fetch) {
        Ok(p) => p,
        Err(f) => {
            c.findings.push(*f);
            return c;
        }
    };
    c.findings.extend(policy_findings(domain, &name, &policy, fetch));
    c.findings.extend(mx_findings(domain, &name, &policy, mx, probes));
    c
}

/// The policy, or the one finding that says why senders have none.
fn policy_of(domain: &str, fetch: &Fetch) -> Result<Policy, Box<Finding>> {
    let host = policy_host(domain);
    let finding = |id: &str| Finding::new(id, Severity::Fail, fetch.url.clone()).arg("url", &fetch.url);
    let r = match &fetch.result {
        Err(HttpsError::TooLarge { limit }) => {
            return Err(Box::new(finding("mtasts.policy-too-large").arg("limit", limit)));
        }
        Err(e) => {
            return Err(Box::new(
                finding("mtasts.policy-unavailable").arg("reason", e).evidence(json!(e)),
            ));
        }
        Ok(r) => r,
    };
    if let Some(problem) = certificate_problem(r, &host) {
        return Err(Box::new(
            finding("mtasts.policy-cert-invalid")
                .arg("host", &host)
                .arg("problem", problem)
                .evidence(json!({ "chain": r.tls.chain, "verdict": r.tls.chain_verdict, "dates": r.tls.dates })),
        ));
    }
    if (300..400).contains(&r.status) {
        return Err(Box::new(
            finding("mtasts.policy-redirect")
                .arg("status", r.status)
                .arg("location", r.location.clone().unwrap_or_default()),
        ));
    }
    if r.status != 200 {
        return Err(Box::new(
            finding("mtasts.policy-unavailable").arg("reason", format!("HTTP {}", r.status)),
        ));
    }
    let media = r.content_type.clone().unwrap_or_default();
    if !media
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/plain"))
    {
        return Err(Box::new(
            finding("mtasts.policy-content-type").arg("content_type", if media.is_empty() { "-" } else { &media }),
        ));
    }
    let body = String::from_utf8_lossy(&r.body);
    parse_policy(&body).map_err(|e| {
        Box::new(
            finding("mtasts.policy-invalid")
                .arg("error", e)
                .evidence(json!({ "policy": body.chars().take(2000).collect::<String>() })),
        )
    })
}

/// Section 3.3: the policy host's certificate must be valid for it (chain, name, dates); the
/// word that goes into the finding, or None when it is valid.
fn certificate_problem(r: &Response, host: &str) -> Option<&'static str> {
    let leaf = r.tls.leaf()?;
    let name_ok = Hostname::parse(host).is_ok_and(|h| verify_name(&h, &leaf.presented_ids()).matched.is_some());
    if !name_ok {
        return Some("name");
    }
    if r.tls.chain_verdict != mxdoctor_net::tls::ChainVerdict::Trusted {
        return Some("chain");
    }
    if !matches!(r.tls.dates, mxdoctor_net::tls::DateVerdict::InDate { .. }) {
        return Some("dates");
    }
    None
}

fn policy_findings(domain: &str, name: &str, policy: &Policy, fetch: &Fetch) -> Vec<Finding> {
    let mut out = vec![
        Finding::new("mtasts.valid", Severity::Pass, name.to_string())
            .arg("domain", domain)
            .arg("mode", policy.mode.as_str())
            .arg("max_age", policy.max_age)
            .arg("mx", policy.mx.join(", "))
            .evidence(
                json!({ "url": fetch.url, "mode": policy.mode.as_str(), "max_age": policy.max_age, "mx": policy.mx }),
            ),
    ];
    match policy.mode {
        Mode::Testing => {
            out.push(Finding::new("mtasts.mode-testing", Severity::Notice, name.to_string()).arg("domain", domain))
        }
        Mode::None => {
            out.push(Finding::new("mtasts.mode-none", Severity::Notice, name.to_string()).arg("domain", domain))
        }
        Mode::Enforce => {}
    }
    if policy.max_age < SHORT_MAX_AGE && policy.mode != Mode::None {
        out.push(
            Finding::new("mtasts.max-age-short", Severity::Notice, name.to_string()).arg("max_age", policy.max_age),
        );
    }
    out
}

/// Section 4.1 and 4.2: every MX must match an `mx:` pattern and present a certificate valid
/// for its name. Failures in `enforce` mode stop delivery; in `testing` they are only reported.
fn mx_findings(domain: &str, name: &str, policy: &Policy, mx: &MxAnswer, probes: &[Probe]) -> Vec<Finding> {
    let severity = match policy.mode {
        Mode::Enforce => Severity::Fail,
        Mode::Testing => Severity::Warning,
        Mode::None => return Vec::new(),
    };
    let mut out = Vec::new();
    let uncovered: Vec<&str> = mx
        .hosts()
        .into_iter()
        .filter(|h| !policy.mx.iter().any(|p| covers(p, h)))
        .collect();
    if !uncovered.is_empty() {
        out.push(
            Finding::new("mtasts.mx-not-covered", severity, name.to_string())
                .arg("domain", domain)
                .arg("mode", policy.mode.as_str())
                .arg("hosts", uncovered.join(", "))
                .arg("patterns", policy.mx.join(", ")),
        );
    }
    let failing: Vec<String> = probes
        .iter()
        .filter(|p| inbound::verified_tls(p) == Some(false))
        .map(|p| p.target.subject())
        .collect();
    if !failing.is_empty() {
        out.push(
            Finding::new("mtasts.mx-tls-fails", severity, name.to_string())
                .arg("domain", domain)
                .arg("mode", policy.mode.as_str())
                .arg("hosts", failing.join(", ")),
        );
    }
    out
}
