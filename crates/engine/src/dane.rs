//! DNSSEC and DANE for mail to the domain (RFC 7672).
//!
//! Probe: validated lookups (crate `net`, `Dns::validated`) of the domain's MX records, and
//! of each MX host's address and TLSA records at `_25._tcp.HOST`. Verdict ([`domain_finding`],
//! [`host_findings`]): pure, over those answers and the certificate chains the port-25 probes
//! ([`crate::inbound`]) were presented. A TLSA record counts only in a secure zone; a usable
//! one makes TLS mandatory for DANE senders (Postfix, Exim, Microsoft 365), so a record that
//! matches nothing the server presents (stale after a certificate change) stops delivery.

use serde_json::json;

use mxdoctor_net::RecordType;
use mxdoctor_net::dnssec::{Security, Validated};
use mxdoctor_net::tls::TlsOutcome;
use mxdoctor_proto::hostname::Hostname;
use mxdoctor_proto::names::verify_name;
use mxdoctor_proto::tlsa::{Tlsa, owner};

use crate::context::Context;
use crate::inbound::{MAX_TARGETS, Probe};
use crate::model::*;
use crate::mx::MxAnswer;

/// What the validated lookups of one MX host saw.
#[derive(Debug, Clone)]
pub struct HostDns {
    pub host: String,
    pub address: Validated,
    pub tlsa: Validated,
}

/// The validated answers DANE rests on: the domain's MX, and each MX host's address and TLSA.
#[derive(Debug, Clone)]
pub struct DaneDns {
    pub domain: Validated,
    pub hosts: Vec<HostDns>,
}

/// Asks the validated questions (side by side with the port-25 probes, which they do not need).
pub async fn lookup(ctx: &Context, domain: &str, mx: &MxAnswer) -> DaneDns {
    let hosts: Vec<String> = mx.hosts().into_iter().take(MAX_TARGETS).map(str::to_string).collect();
    let (own, per_host) = tokio::join!(
        ctx.dns.validated(domain, RecordType::MX),
        futures_util::future::join_all(hosts.iter().map(|h| async move {
            let tlsa_name = owner(h);
            let (address, tlsa) = tokio::join!(
                ctx.dns.validated(h, RecordType::A),
                ctx.dns.validated(&tlsa_name, RecordType::TLSA)
            );
            HostDns {
                host: h.clone(),
                address,
                tlsa,
            }
        }))
    );
    DaneDns {
        domain: own,
        hosts: per_host,
    }
}

/// The DNSSEC and DANE checks of a domain: one for the domain, one per MX host. Pure.
pub fn checks(domain: &str, dns: &DaneDns, probes: &[Probe]) -> Vec<CheckResult> {
    let mut out = vec![domain_check(domain, &dns.domain)];
    out.extend(dns.hosts.iter().map(|h| host_check(h, probes)));
    out
}

/// The domain's own DNSSEC status.
pub fn domain_check(domain: &str, answer: &Validated) -> CheckResult {
    let mut c = CheckResult::ran("dnssec", domain.to_string());
    match status_finding(domain, domain, answer.security) {
        Some(f) => c.findings.push(f),
        None => c.status = unknown(answer),
    }
    c
}

fn unknown(answer: &Validated) -> CheckStatus {
    match &answer.result {
        Err(e) if !e.is_negative() => CheckStatus::dns(e),
        _ => CheckStatus::Error {
            cause: ErrorCause::DnsFailure,
            detail: "the DNSSEC status could not be established".into(),
        },
    }
}

fn status_finding(subject: &str, name: &str, security: Security) -> Option<Finding> {
    let (id, severity) = match security {
        Security::Secure => ("dnssec.secure", Severity::Pass),
        Security::Insecure => ("dnssec.insecure", Severity::Info),
        Security::Bogus => ("dnssec.bogus", Severity::Fail),
        Security::Indeterminate => return None,
    };
    Some(Finding::new(id, severity, subject.to_string()).arg("name", name))
}

/// The TLSA records of an answer.
fn tlsa_of(answer: &Validated) -> Vec<Tlsa> {
    let Ok(records) = &answer.result else { return Vec::new() };
    records
        .iter()
        .filter_map(|r| match &r.rdata {
            mxdoctor_net::Rdata::Tlsa {
                usage,
                selector,
                matching,
                data,
            } => Some(Tlsa {
                usage: *usage,
                selector: *selector,
                matching: *matching,
                data: data.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// One MX host: its zone's status, its TLSA records, and those against what was presented.
pub fn host_check(h: &HostDns, probes: &[Probe]) -> CheckResult {
    let subject = owner(&h.host);
    let mut c = CheckResult::ran("dane", h.host.clone());
    let host = h.host.as_str();
    // Bogus anywhere on the way: validating senders cannot even find the host.
    if h.address.security == Security::Bogus || h.tlsa.security == Security::Bogus {
        c.findings
            .push(Finding::new("dnssec.bogus", Severity::Fail, host).arg("name", host));
        return c;
    }
    let records = tlsa_of(&h.tlsa);
    if records.is_empty() {
        match (&h.tlsa.result, h.tlsa.security) {
            (Err(e), _) if !e.is_negative() => c.status = CheckStatus::dns(e),
            (_, Security::Indeterminate) => c.status = unknown(&h.tlsa),
            (_, security) => c.findings.push(
                Finding::new("dane.missing", Severity::Info, subject.clone())
                    .arg("host", host)
                    .arg("dnssec", security.as_str()),
            ),
        }
        return c;
    }
    let listed = records.iter().map(|t| t.to_string()).collect::<Vec<_>>().join("; ");
    if h.tlsa.security != Security::Secure {
        c.findings.push(
            Finding::new("dane.tlsa-insecure", Severity::Warning, subject.clone())
                .arg("host", host)
                .arg("records", &listed),
        );
        return c;
    }
    let malformed: Vec<String> = records
        .iter()
        .filter(|t| t.is_malformed())
        .map(|t| format!("{t} ({})", t.usable().err().map(|e| e.to_string()).unwrap_or_default()))
        .collect();
    if !malformed.is_empty() {
        c.findings.push(
            Finding::new("dane.tlsa-malformed", Severity::Warning, subject.clone())
                .arg("host", host)
                .arg("records", malformed.join("; ")),
        );
    }
    let usable: Vec<&Tlsa> = records.iter().filter(|t| t.usable().is_ok()).collect();
    if usable.is_empty() {
        c.findings.push(
            Finding::new("dane.tlsa-unusable", Severity::Warning, subject.clone())
                .arg("host", host)
                .arg("records", &listed)
                .evidence(json!({ "records": records })),
        );
        return c;
    }
    c.findings.extend(against_probes(host, &subject, &usable, probes));
    c
}

/// The usable records against each address's presented chain (RFC 7672 section 3.1).
fn against_probes(host: &str, subject: &str, usable: &[&Tlsa], probes: &[Probe]) -> Vec<Finding> {
    let mine: Vec<&Probe> = probes.iter().filter(|p| p.target.exchange == host).collect();
    let listed = usable.iter().map(|t| t.to_string()).collect::<Vec<_>>().join("; ");
    let no_tls: Vec<String> = mine
        .iter()
        .filter(|p| {
            p.session.tls.is_none()
                && (p.session.ehlo_before_tls.as_ref().is_some_and(|c| !c.starttls)
                    || p.session.starttls_accepted == Some(false)
                    || p.session.tls_failure.is_some())
        })
        .map(|p| p.target.ip.to_string())
        .collect();
    if !no_tls.is_empty() {
        return vec![
            Finding::new("dane.no-tls", Severity::Fail, subject.to_string())
                .arg("host", host)
                .arg("addresses", no_tls.join(", ")),
        ];
    }
    let seen: Vec<(&Probe, &TlsOutcome)> = mine
        .iter()
        .filter_map(|p| p.session.tls.as_ref().map(|t| (*p, t)))
        .collect();
    let Some(&(_, first_tls)) = seen.first() else {
        return vec![
            Finding::new("dane.not-compared", Severity::Info, subject.to_string())
                .arg("host", host)
                .arg("records", &listed),
        ];
    };
    let failing: Vec<String> = seen
        .iter()
        .filter(|(_, tls)| !usable.iter().any(|t| matches(t, tls, host)))
        .map(|(p, _)| p.target.ip.to_string())
        .collect();
    if failing.is_empty() {
        let first = usable
            .iter()
            .find(|t| matches(t, first_tls, host))
            .map(|t| t.to_string());
        vec![
            Finding::new("dane.valid", Severity::Pass, subject.to_string())
                .arg("host", host)
                .arg("record", first.unwrap_or_default()),
        ]
    } else {
        let presented = first_tls
            .chain_der
            .first()
            .and_then(|der| mxdoctor_net::dane::association(der, 1, 1).ok())
            .map(|d| format!("3 1 1 {}", d.iter().map(|b| format!("{b:02x}")).collect::<String>()))
            .unwrap_or_default();
        vec![
            Finding::new("dane.mismatch", Severity::Fail, subject.to_string())
                .arg("host", host)
                .arg("addresses", failing.join(", "))
                .arg("records", &listed)
                .arg("presented", presented),
        ]
    }
}

/// RFC 7672 section 3.1: DANE-EE matches the leaf, and nothing else is checked; DANE-TA
/// matches a certificate the server sent above the leaf, and the leaf must then be valid for
/// the MX host name (section 3.2.2).
fn matches(t: &Tlsa, tls: &TlsOutcome, host: &str) -> bool {
    let hit = |der: &Vec<u8>| mxdoctor_net::dane::association(der, t.selector, t.matching).is_ok_and(|d| d == t.data);
    match t.usage {
        3 => tls.chain_der.first().is_some_and(hit),
        2 => {
            tls.chain_der.iter().skip(1).any(hit)
                && tls.leaf().is_some_and(|leaf| {
                    Hostname::parse(host).is_ok_and(|h| verify_name(&h, &leaf.presented_ids()).matched.is_some())
                })
        }
        _ => false,
    }
}
