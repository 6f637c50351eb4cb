//! DNS blocklists (RFC 5782): how to ask, and what an answer means.
//!
//! An IP list is asked `d.c.b.a.<zone>` A (IPv6: 32 reversed nibbles); a listing is an A record
//! in 127.0.0.0/8, whose last octets carry the list's meaning, with a TXT record for the reason.
//! Some answers are not listings at all: Spamhaus answers 127.255.255.252/254/255 when it refuses
//! the query (typo in the zone, query through a public resolver, over the free limit), and the
//! DBL answers 127.0.1.255 for the same. An answer outside 127/8 means a resolver rewrote
//! NXDOMAIN (ISP "search" pages): also not a listing.

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListKind {
    Ip,
    Domain,
}

/// One blocklist and what its return codes mean.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocklist {
    pub zone: String,
    pub name: String,
    pub kind: ListKind,
    /// (last octets "0.2" style suffix of 127.x.y.z, meaning) pairs; empty = any 127/8 is "listed".
    #[serde(skip)]
    pub codes: &'static [(Ipv4Addr, &'static str)],
    /// Answers that are errors, not listings.
    #[serde(skip)]
    pub error_codes: &'static [(Ipv4Addr, &'static str)],
    /// Where a listed sender asks for removal.
    pub delist: String,
}

const fn v4(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

static ZEN_CODES: &[(Ipv4Addr, &str)] = &[
    (
        v4(127, 0, 0, 2),
        "SBL: Spamhaus Block List (known spam source or operation)",
    ),
    (v4(127, 0, 0, 3), "CSS: snowshoe spam / low-reputation sending"),
    (v4(127, 0, 0, 4), "XBL: exploited host (malware, open proxy)"),
    (v4(127, 0, 0, 9), "DROP: hijacked or criminal network"),
    (
        v4(127, 0, 0, 10),
        "PBL: end-user address range that should not send mail directly (ISP-maintained)",
    ),
    (
        v4(127, 0, 0, 11),
        "PBL: end-user address range that should not send mail directly (Spamhaus-maintained)",
    ),
];

static SPAMHAUS_ERRORS: &[(Ipv4Addr, &str)] = &[
    (v4(127, 255, 255, 252), "typing error in the DNSBL name"),
    (
        v4(127, 255, 255, 254),
        "query via a public/open resolver (refused by Spamhaus)",
    ),
    (
        v4(127, 255, 255, 255),
        "excessive number of queries (over the free-use limit)",
    ),
];

static DBL_CODES: &[(Ipv4Addr, &str)] = &[
    (v4(127, 0, 1, 2), "spam domain"),
    (v4(127, 0, 1, 4), "phishing domain"),
    (v4(127, 0, 1, 5), "malware domain"),
    (v4(127, 0, 1, 6), "botnet C&C domain"),
    (v4(127, 0, 1, 102), "abused legit spam domain"),
    (v4(127, 0, 1, 103), "abused legit spammed redirector"),
    (v4(127, 0, 1, 104), "abused legit phishing domain"),
    (v4(127, 0, 1, 105), "abused legit malware domain"),
    (v4(127, 0, 1, 106), "abused legit botnet C&C domain"),
];

static DBL_ERRORS: &[(Ipv4Addr, &str)] = &[
    (v4(127, 0, 1, 255), "IP address queried against a domain list"),
    (v4(127, 255, 255, 252), "typing error in the DNSBL name"),
    (
        v4(127, 255, 255, 254),
        "query via a public/open resolver (refused by Spamhaus)",
    ),
    (
        v4(127, 255, 255, 255),
        "excessive number of queries (over the free-use limit)",
    ),
];

fn list(zone: &str, name: &str, kind: ListKind, delist: &str) -> Blocklist {
    Blocklist {
        zone: zone.into(),
        name: name.into(),
        kind,
        codes: &[],
        error_codes: &[],
        delist: delist.into(),
    }
}

/// The default IP lists (PRODUCT.md section 4). SORBS closed in 2024 and is not queried.
pub fn default_ip_lists() -> Vec<Blocklist> {
    vec![
        Blocklist {
            codes: ZEN_CODES,
            error_codes: SPAMHAUS_ERRORS,
            ..list(
                "zen.spamhaus.org",
                "Spamhaus ZEN",
                ListKind::Ip,
                "https://check.spamhaus.org/",
            )
        },
        list(
            "b.barracudacentral.org",
            "Barracuda",
            ListKind::Ip,
            "https://www.barracudacentral.org/rbl/removal-request",
        ),
        list(
            "bl.spamcop.net",
            "SpamCop",
            ListKind::Ip,
            "https://www.spamcop.net/bl.shtml",
        ),
        list(
            "dnsbl-1.uceprotect.net",
            "UCEPROTECT level 1",
            ListKind::Ip,
            "https://www.uceprotect.net/en/rblcheck.php",
        ),
        list("psbl.surriel.com", "PSBL", ListKind::Ip, "https://psbl.org/"),
        list(
            "bl.mailspike.net",
            "Mailspike",
            ListKind::Ip,
            "https://mailspike.org/anubis/lookup.html",
        ),
    ]
}

/// The default domain lists.
pub fn default_domain_lists() -> Vec<Blocklist> {
    vec![Blocklist {
        codes: DBL_CODES,
        error_codes: DBL_ERRORS,
        ..list(
            "dbl.spamhaus.org",
            "Spamhaus DBL",
            ListKind::Domain,
            "https://check.spamhaus.org/",
        )
    }]
}

/// A list given by the user (`--dnsbl ZONE`): any 127/8 answer is a listing.
pub fn custom_list(zone: &str) -> Blocklist {
    let zone = zone.trim().trim_end_matches('.').to_ascii_lowercase();
    list(&zone, &zone, ListKind::Ip, "")
}

/// The name to query for `ip` in `zone` (RFC 5782 section 2.1 and 2.4).
pub fn query_name(ip: IpAddr, zone: &str) -> String {
    match ip {
        IpAddr::V4(v) => {
            let o = v.octets();
            format!("{}.{}.{}.{}.{zone}", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v) => {
            let mut s = String::with_capacity(64 + zone.len());
            for b in v.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0x0f, b >> 4));
            }
            s.push_str(zone);
            s
        }
    }
}

/// The name to query for a domain in a domain list (RFC 5782 section 2.3): the domain itself,
/// without a trailing dot, under the zone.
pub fn domain_query_name(domain: &str, zone: &str) -> String {
    format!("{}.{zone}", domain.trim_end_matches('.').to_ascii_lowercase())
}

/// RFC 5782 section 5: every domain list must list `TEST` and must not list `INVALID`.
pub const DOMAIN_TEST_POINT: &str = "test";

/// RFC 5782 section 5: every IPv4 list must list 127.0.0.2 and must not list 127.0.0.1.
pub fn test_point_listed() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))
}

/// RFC 5782 section 5: an IPv6 list must list `::FFFF:7F00:2`. The test point of the family
/// asked about: a list that answers only its IPv4 test point is not answering for IPv6.
pub fn test_point_listed_for(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => test_point_listed(),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x7f00, 2)),
    }
}
pub fn test_point_unlisted() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1))
}

/// What one list said about one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Interpretation {
    NotListed,
    Listed {
        codes: Vec<String>,
        meanings: Vec<String>,
    },
    /// The list refused the query (Spamhaus 127.255.255.x, DBL 127.0.1.255).
    ErrorCode {
        code: String,
        meaning: String,
    },
    /// An answer outside 127/8: a resolver rewrote the answer; nothing can be concluded.
    Bogus {
        answers: Vec<String>,
    },
}

/// Interprets the A records a list returned (`answers` empty = NXDOMAIN/NODATA).
pub fn interpret(list: &Blocklist, answers: &[Ipv4Addr]) -> Interpretation {
    if answers.is_empty() {
        return Interpretation::NotListed;
    }
    for a in answers {
        if let Some((_, m)) = list.error_codes.iter().find(|(c, _)| c == a) {
            return Interpretation::ErrorCode {
                code: a.to_string(),
                meaning: m.to_string(),
            };
        }
    }
    let outside: Vec<String> = answers
        .iter()
        .filter(|a| a.octets()[0] != 127)
        .map(|a| a.to_string())
        .collect();
    if !outside.is_empty() {
        return Interpretation::Bogus { answers: outside };
    }
    let mut codes = Vec::new();
    let mut meanings = Vec::new();
    for a in answers {
        codes.push(a.to_string());
        let meaning = list
            .codes
            .iter()
            .find(|(c, _)| c == a)
            .map(|(_, m)| m.to_string())
            .unwrap_or_else(|| "listed".to_string());
        if !meanings.contains(&meaning) {
            meanings.push(meaning);
        }
    }
    Interpretation::Listed { codes, meanings }
}

/// True when a Spamhaus PBL code is among the answers: Gmail's "not authorized to send email
/// directly" case (an end-user range that should relay through its provider).
pub fn is_pbl(codes: &[String]) -> bool {
    codes.iter().any(|c| c == "127.0.0.10" || c == "127.0.0.11")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5782_2_1_ipv4_query_name() {
        assert_eq!(
            query_name("192.0.2.25".parse().unwrap(), "zen.spamhaus.org"),
            "25.2.0.192.zen.spamhaus.org"
        );
    }

    #[test]
    fn rfc5782_2_4_ipv6_query_name_is_32_nibbles() {
        let q = query_name("2001:db8::1".parse().unwrap(), "bl.example");
        assert_eq!(
            q,
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example"
        );
    }

    #[test]
    fn spamhaus_error_codes_are_never_listings() {
        let zen = &default_ip_lists()[0];
        for c in ["127.255.255.252", "127.255.255.254", "127.255.255.255"] {
            let r = interpret(zen, &[c.parse().unwrap()]);
            assert!(matches!(r, Interpretation::ErrorCode { .. }), "{c}: {r:?}");
        }
        let dbl = &default_domain_lists()[0];
        assert!(matches!(
            interpret(dbl, &["127.0.1.255".parse().unwrap()]),
            Interpretation::ErrorCode { .. }
        ));
    }

    #[test]
    fn zen_codes_have_meanings_and_pbl_is_recognised() {
        let zen = &default_ip_lists()[0];
        let r = interpret(zen, &["127.0.0.4".parse().unwrap(), "127.0.0.10".parse().unwrap()]);
        let Interpretation::Listed { codes, meanings } = r else {
            panic!()
        };
        assert!(meanings[0].starts_with("XBL"));
        assert!(is_pbl(&codes));
    }

    #[test]
    fn answers_outside_127_8_are_bogus() {
        let r = interpret(&custom_list("bl.example"), &["198.51.100.1".parse().unwrap()]);
        assert!(matches!(r, Interpretation::Bogus { .. }));
        assert_eq!(interpret(&custom_list("bl.example"), &[]), Interpretation::NotListed);
    }

    #[test]
    fn sorbs_is_not_queried() {
        assert!(default_ip_lists().iter().all(|l| !l.zone.contains("sorbs")));
    }
}
