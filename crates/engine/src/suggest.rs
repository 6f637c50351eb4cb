//! Records mxdoctor suggests are proven before they are shown.
//!
//! An SPF suggestion is parsed by our own parser, then `check_host()` runs with the suggestion
//! in place of the published record for every IP it is meant to authorise: each must pass, and
//! within the RFC 7208 limits (10 DNS-querying terms, 2 void lookups). A DMARC suggestion must
//! parse and carry a policy. A suggestion that fails its proof is never shown; the finding then
//! carries a template to fill in, and says why in its evidence.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use mxdoctor_proto::spf::{self, SpfDns, SpfDnsError, SpfInput, SpfResult, check_host, parse_record};

use crate::context::Context;
use crate::spfdns::NetSpfDns;

/// What was suggested, and the proof (or why there is none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// The record to publish, or a template with `<...>` to fill in when nothing could be proven.
    pub record: String,
    pub verified: bool,
    /// The IPs check_host() passed for (verified), or why no candidate was proven.
    pub note: String,
}

/// The template shown when no record can be proven (no sending IP is known).
pub const SPF_TEMPLATE: &str = "v=spf1 ip4:<your mail server's IPv4 address> ~all";

/// The SPF DNS with one domain's TXT answered by a candidate record instead of the published one.
struct WithRecord<'a, D> {
    inner: &'a D,
    domain: &'a str,
    record: &'a str,
}

impl<D: SpfDns> SpfDns for WithRecord<'_, D> {
    async fn txt(&self, name: &str) -> Result<Vec<String>, SpfDnsError> {
        if name.trim_end_matches('.').eq_ignore_ascii_case(self.domain) {
            return Ok(vec![self.record.to_string()]);
        }
        self.inner.txt(name).await
    }
    async fn a(&self, name: &str) -> Result<Vec<Ipv4Addr>, SpfDnsError> {
        self.inner.a(name).await
    }
    async fn aaaa(&self, name: &str) -> Result<Vec<Ipv6Addr>, SpfDnsError> {
        self.inner.aaaa(name).await
    }
    async fn mx(&self, name: &str) -> Result<Vec<String>, SpfDnsError> {
        self.inner.mx(name).await
    }
    async fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, SpfDnsError> {
        self.inner.ptr(ip).await
    }
}

/// Proves `record` as `domain`'s SPF record for every IP of `ips`: Ok, or why not.
pub async fn prove_spf<D: SpfDns>(
    dns: &D,
    domain: &str,
    record: &str,
    ips: &[IpAddr],
    timestamp: u64,
) -> Result<(), String> {
    parse_record(record).map_err(|e| format!("does not parse: {} at `{}`", e.message, e.term))?;
    if ips.is_empty() {
        return Err("there is no IP address it is meant to authorise".into());
    }
    let dns = WithRecord {
        inner: dns,
        domain,
        record,
    };
    for ip in ips {
        let input = SpfInput {
            ip: *ip,
            mail_from: format!("postmaster@{domain}"),
            helo: domain.to_string(),
            receiver: "mx.google.com".into(),
            timestamp,
        };
        let out = check_host(&dns, &input).await;
        if out.result != SpfResult::Pass {
            return Err(format!(
                "check_host() gives {} for {ip}: {}",
                out.result.as_str(),
                out.reason
            ));
        }
        if out.dns_terms > spf::MAX_DNS_TERMS || out.void_lookups > spf::MAX_VOID_LOOKUPS {
            return Err(format!("over the RFC 7208 limits for {ip}"));
        }
    }
    Ok(())
}

/// The first candidate that proves for `ips`, else the template with the reasons.
pub async fn first_proven(ctx: &Context, domain: &str, candidates: &[String], ips: &[IpAddr]) -> Suggestion {
    let dns = NetSpfDns(&ctx.dns);
    let now = ctx.clock.now().unix_timestamp().max(0) as u64;
    let mut why = Vec::new();
    for c in candidates {
        match prove_spf(&dns, domain, c, ips, now).await {
            Ok(()) => {
                return Suggestion {
                    record: c.clone(),
                    verified: true,
                    note: format!(
                        "check_host() passes for {}",
                        ips.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
                    ),
                };
            }
            Err(e) => why.push(format!("{c}: {e}")),
        }
    }
    if why.is_empty() {
        why.push("no sending IP is known".into());
    }
    Suggestion {
        record: SPF_TEMPLATE.into(),
        verified: false,
        note: why.join("; "),
    }
}

/// `ip4:` / `ip6:` term for one address.
pub fn ip_term(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(v) => format!("ip4:{v}"),
        IpAddr::V6(v) => format!("ip6:{v}"),
    }
}

/// The DMARC record to start with: monitoring, reports to the domain's own address. Proven by
/// our parser (it must carry a policy) before it is shown.
pub fn dmarc(domain: &str) -> Suggestion {
    let record = format!("v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}");
    match mxdoctor_proto::dmarc::parse_record(&record) {
        Ok(r) if r.p.is_some() => Suggestion {
            record,
            verified: true,
            note: "parses as RFC 9989 DMARC with p=none".into(),
        },
        Ok(_) => Suggestion {
            record: "v=DMARC1; p=none".into(),
            verified: false,
            note: "the suggestion had no policy".into(),
        },
        Err(e) => Suggestion {
            record: "v=DMARC1; p=none".into(),
            verified: false,
            note: format!("the suggestion does not parse: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// An in-memory SPF DNS for the proof's pure logic.
    #[derive(Default)]
    struct Zone {
        txt: HashMap<String, Vec<String>>,
        a: HashMap<String, Vec<Ipv4Addr>>,
        mx: HashMap<String, Vec<String>>,
    }

    impl SpfDns for Zone {
        async fn txt(&self, n: &str) -> Result<Vec<String>, SpfDnsError> {
            self.txt.get(n).cloned().ok_or(SpfDnsError::NotFound)
        }
        async fn a(&self, n: &str) -> Result<Vec<Ipv4Addr>, SpfDnsError> {
            self.a.get(n).cloned().ok_or(SpfDnsError::NotFound)
        }
        async fn aaaa(&self, _: &str) -> Result<Vec<Ipv6Addr>, SpfDnsError> {
            Err(SpfDnsError::NotFound)
        }
        async fn mx(&self, n: &str) -> Result<Vec<String>, SpfDnsError> {
            self.mx.get(n).cloned().ok_or(SpfDnsError::NotFound)
        }
        async fn ptr(&self, _: IpAddr) -> Result<Vec<String>, SpfDnsError> {
            Err(SpfDnsError::NotFound)
        }
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    const IP: &str = "198.51.100.7";

    #[test]
    fn mx_record_for_a_domain_without_mx_authorises_nothing() {
        let z = Zone::default();
        let r = run(prove_spf(
            &z,
            "shop.example",
            "v=spf1 mx ~all",
            &[IP.parse().unwrap()],
            0,
        ));
        assert!(r.unwrap_err().contains("softfail"));
    }

    #[test]
    fn ip_term_record_passes_for_its_ip() {
        let z = Zone::default();
        let rec = format!("v=spf1 ip4:{IP} ~all");
        assert!(run(prove_spf(&z, "shop.example", &rec, &[IP.parse().unwrap()], 0)).is_ok());
    }

    #[test]
    fn mx_record_passes_when_the_mx_host_is_the_sender() {
        let mut z = Zone::default();
        z.mx.insert("shop.example".into(), vec!["mx.shop.example".into()]);
        z.a.insert("mx.shop.example".into(), vec![IP.parse().unwrap()]);
        assert!(
            run(prove_spf(
                &z,
                "shop.example",
                "v=spf1 mx ~all",
                &[IP.parse().unwrap()],
                0
            ))
            .is_ok()
        );
    }

    #[test]
    fn unparsable_or_ipless_suggestions_are_refused() {
        let z = Zone::default();
        assert!(
            run(prove_spf(
                &z,
                "d.example",
                "v=spf1 ip4:<x> ~all",
                &[IP.parse().unwrap()],
                0
            ))
            .is_err()
        );
        assert!(run(prove_spf(&z, "d.example", "v=spf1 ~all", &[], 0)).is_err());
    }

    #[test]
    fn a_record_over_the_lookup_limit_is_refused() {
        let mut z = Zone::default();
        let includes: Vec<String> = (0..11).map(|i| format!("include:i{i}.example")).collect();
        for i in 0..11 {
            z.txt.insert(format!("i{i}.example"), vec!["v=spf1 -all".into()]);
        }
        let rec = format!("v=spf1 {} ip4:{IP} ~all", includes.join(" "));
        assert!(run(prove_spf(&z, "d.example", &rec, &[IP.parse().unwrap()], 0)).is_err());
    }

    #[test]
    fn the_dmarc_suggestion_parses_with_a_policy() {
        let s = dmarc("shop.example");
        assert!(s.verified, "{s:?}");
        assert!(s.record.contains("p=none"));
    }
}
