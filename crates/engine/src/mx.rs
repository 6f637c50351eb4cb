//! The domain's MX set (RFC 5321 section 5.1, RFC 7505 Null MX, RFC 2181 section 10.3).
//!
//! Probe: the MX records, then each exchange's A/AAAA. Verdict: a pure function over what was
//! seen ([`findings`]). MX data is parsed once here, at the edge, into [`MxRecord`].

use std::net::IpAddr;

use futures_util::future::join_all;
use serde::Serialize;
use serde_json::json;

use mxdoctor_net::{DnsError, DnsRecord, RecordType};

use crate::context::Context;
use crate::model::*;

/// At most this many exchanges are looked up (a hostile zone may list hundreds).
const MAX_EXCHANGES: usize = 20;

/// One MX record: preference and exchange (absolute, lower case, no trailing dot; `""` is the
/// root, i.e. Null MX).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MxRecord {
    pub preference: u16,
    pub exchange: String,
}

/// The MX records among an answer's records, in preference order.
pub fn mx_records(records: &[DnsRecord]) -> Vec<MxRecord> {
    let mut out: Vec<MxRecord> = records
        .iter()
        .filter_map(|r| r.mx())
        .map(|(preference, exchange)| MxRecord {
            preference,
            exchange: exchange.to_string(),
        })
        .collect();
    out.sort_by(|a, b| (a.preference, &a.exchange).cmp(&(b.preference, &b.exchange)));
    out
}

/// What the address lookup of one exchange saw.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    pub mx: MxRecord,
    pub addresses: Vec<IpAddr>,
    /// The exchange name is an alias (CNAME), which RFC 2181 section 10.3 forbids.
    pub cname: Option<String>,
    /// NXDOMAIN or no A/AAAA.
    pub missing: bool,
    /// The lookup failed (SERVFAIL, timeout): nothing is known.
    pub error: Option<String>,
}

/// The exchange names an IP address rather than a host (`10 192.0.2.1.`).
fn is_ip_literal(exchange: &str) -> bool {
    exchange.trim_matches(['[', ']']).parse::<IpAddr>().is_ok()
        || (!exchange.is_empty()
            && exchange
                .split('.')
                .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit())))
}

/// What the MX lookup of a domain saw: the records and each exchange's addresses. Shared by
/// the MX check, the port-25 probes and MTA-STS, so the set is looked up once.
#[derive(Debug, Clone)]
pub enum MxAnswer {
    /// The domain itself does not exist (NXDOMAIN).
    DomainNotFound,
    /// The MX question failed: nothing is known.
    Failed(DnsError),
    Set {
        records: Vec<MxRecord>,
        exchanges: Vec<Exchange>,
    },
}

impl MxAnswer {
    /// The exchanges that have addresses, in preference order.
    pub fn reachable(&self) -> Vec<&Exchange> {
        match self {
            MxAnswer::Set { exchanges, .. } => exchanges.iter().filter(|x| !x.addresses.is_empty()).collect(),
            _ => Vec::new(),
        }
    }

    /// The exchange names (Null MX left out).
    pub fn hosts(&self) -> Vec<&str> {
        match self {
            MxAnswer::Set { records, .. } => records
                .iter()
                .filter(|r| !r.exchange.is_empty())
                .map(|r| r.exchange.as_str())
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Looks up the MX records, then at most [`MAX_EXCHANGES`] exchanges' addresses at once.
pub async fn lookup_set(ctx: &Context, domain: &str) -> MxAnswer {
    let records = match ctx.dns.lookup(domain, RecordType::MX).await {
        Ok(r) => mx_records(&r),
        Err(DnsError::NxDomain { .. }) => return MxAnswer::DomainNotFound,
        Err(e) if e.is_negative() => Vec::new(),
        Err(e) => return MxAnswer::Failed(e),
    };
    let exchanges = join_all(records.iter().take(MAX_EXCHANGES).map(|mx| lookup(ctx, mx.clone()))).await;
    MxAnswer::Set { records, exchanges }
}

pub async fn check(ctx: &Context, domain: &str) -> CheckResult {
    check_of(domain, &lookup_set(ctx, domain).await)
}

/// The MX check of an MX answer. Pure.
pub fn check_of(domain: &str, answer: &MxAnswer) -> CheckResult {
    let mut c = CheckResult::ran("mx", domain.to_string());
    let (records, exchanges) = match answer {
        MxAnswer::DomainNotFound => {
            // Not "no MX": the name itself does not exist, which explains every other absence.
            c.findings
                .push(Finding::new("mx.domain-not-found", Severity::Fail, domain).arg("domain", domain));
            return c;
        }
        MxAnswer::Failed(e) => {
            c.status = CheckStatus::dns(e);
            return c;
        }
        MxAnswer::Set { records, exchanges } => (records, exchanges),
    };
    c.findings = findings(domain, records, exchanges);
    if !exchanges.is_empty() && exchanges.iter().all(|x| x.error.is_some()) {
        c.status = CheckStatus::Error {
            cause: ErrorCause::DnsFailure,
            detail: exchanges
                .iter()
                .filter_map(|x| x.error.clone())
                .collect::<Vec<_>>()
                .join("; "),
        };
    }
    c
}

async fn lookup(ctx: &Context, mx: MxRecord) -> Exchange {
    let mut x = Exchange {
        mx,
        addresses: Vec::new(),
        cname: None,
        missing: false,
        error: None,
    };
    if x.mx.exchange.is_empty() || is_ip_literal(&x.mx.exchange) {
        return x;
    }
    let (a, aaaa) = tokio::join!(
        ctx.dns.lookup(&x.mx.exchange, RecordType::A),
        ctx.dns.lookup(&x.mx.exchange, RecordType::AAAA)
    );
    for r in [&a, &aaaa].into_iter().flatten().flatten() {
        if let mxdoctor_net::Rdata::Cname(target) = &r.rdata
            && x.cname.is_none()
        {
            x.cname = Some(target.clone());
        }
        if let Some(ip) = r.ip()
            && !x.addresses.contains(&ip)
        {
            x.addresses.push(ip);
        }
    }
    if x.addresses.is_empty() {
        let failed = |r: &Result<Vec<DnsRecord>, DnsError>| matches!(r, Err(e) if !e.is_negative());
        if failed(&a) || failed(&aaaa) {
            x.error = a.err().or(aaaa.err()).map(|e| e.to_string());
        } else {
            x.missing = true;
        }
    }
    x
}

/// The findings an MX set supports. Pure.
pub fn findings(domain: &str, records: &[MxRecord], exchanges: &[Exchange]) -> Vec<Finding> {
    let mut out = Vec::new();
    if records.is_empty() {
        out.push(Finding::new("mx.missing", Severity::Warning, domain).arg("domain", domain));
        return out;
    }
    // RFC 7505: a single MX with preference 0 and the root as exchange.
    if records.iter().any(|r| r.exchange.is_empty()) {
        let lone = records.len() == 1 && records.first().is_some_and(|r| r.preference == 0);
        out.push(
            Finding::new(
                if lone { "mx.null" } else { "mx.null-mixed" },
                if lone { Severity::Warning } else { Severity::Fail },
                domain,
            )
            .arg("domain", domain)
            .evidence(json!({ "records": records })),
        );
        if lone {
            return out;
        }
    }
    if records.len() > MAX_EXCHANGES {
        out.push(
            Finding::new("mx.too-many", Severity::Notice, domain)
                .arg("domain", domain)
                .arg("count", records.len())
                .arg("limit", MAX_EXCHANGES),
        );
    }
    let mut seen: Vec<&str> = Vec::new();
    for r in records.iter().filter(|r| !r.exchange.is_empty()) {
        if seen.contains(&r.exchange.as_str()) {
            out.push(
                Finding::new("mx.duplicate", Severity::Notice, r.exchange.clone())
                    .arg("domain", domain)
                    .arg("exchange", &r.exchange),
            );
        } else {
            seen.push(&r.exchange);
        }
    }
    for x in exchanges.iter().filter(|x| !x.mx.exchange.is_empty()) {
        let host = &x.mx.exchange;
        if is_ip_literal(host) {
            out.push(
                Finding::new("mx.ip-literal", Severity::Fail, host.clone())
                    .arg("domain", domain)
                    .arg("exchange", host),
            );
        } else if let Some(target) = &x.cname {
            out.push(
                Finding::new("mx.cname", Severity::Warning, host.clone())
                    .arg("exchange", host)
                    .arg("target", target),
            );
        }
        if x.missing {
            out.push(
                Finding::new("mx.no-address", Severity::Fail, host.clone())
                    .arg("domain", domain)
                    .arg("exchange", host),
            );
        }
    }
    let reachable: Vec<&Exchange> = exchanges.iter().filter(|x| !x.addresses.is_empty()).collect();
    if !reachable.is_empty() {
        let list = reachable
            .iter()
            .map(|x| {
                let ips: Vec<String> = x.addresses.iter().map(|i| i.to_string()).collect();
                format!("{} {} ({})", x.mx.preference, x.mx.exchange, ips.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ");
        out.push(
            Finding::new("mx.found", Severity::Pass, domain)
                .arg("domain", domain)
                .arg("hosts", list)
                .evidence(json!({ "exchanges": exchanges })),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(p: u16, x: &str) -> MxRecord {
        MxRecord {
            preference: p,
            exchange: x.into(),
        }
    }

    fn ids(f: &[Finding]) -> Vec<&str> {
        f.iter().map(|f| f.id.as_str()).collect()
    }

    #[test]
    fn rfc7505_null_mx_alone_and_mixed() {
        assert_eq!(ids(&findings("d.example", &[rec(0, "")], &[])), ["mx.null"]);
        let mixed = [rec(0, ""), rec(10, "mx.d.example")];
        assert!(ids(&findings("d.example", &mixed, &[])).contains(&"mx.null-mixed"));
    }

    #[test]
    fn ip_literal_exchanges() {
        assert!(is_ip_literal("192.0.2.1"));
        assert!(!is_ip_literal("mx1.example"));
    }
}
