//! `Received:` header fields (RFC 5321 section 4.4, Time-stamp-line) as hops: who handed the
//! message to whom, when, over what protocol, with or without TLS.
//!
//! The grammar is `from Extended-Domain by Domain [via] [with Protocol] [id] [for] ; date-time`,
//! but every MTA words the `from` part its own way, so the parser reads what the common ones
//! write and keeps what it could not read as `None`:
//!
//! - Postfix, Sendmail, Gmail: `from HELO (RDNS [IP])` (`unknown` when there was no PTR)
//! - Exim: `from RDNS ([IP] helo=HELO)`
//! - Microsoft: `from HELO (IP) by ...`
//!
//! TLS is read from the protocol (RFC 3848: `ESMTPS`, `ESMTPSA`, `UTF8SMTPS`, `LMTPS`...) and
//! from comments (`using TLSv1.3`, `version=TLS1_3`).

use std::net::IpAddr;

pub use crate::addr::is_internal;

use serde::{Deserialize, Serialize};

/// Longest header value looked at; a Received field is a line or two.
const MAX_FIELD: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Hop {
    /// The name the client gave in HELO/EHLO.
    pub helo: Option<String>,
    /// The client's reverse-DNS name as the receiving host saw it.
    pub rdns: Option<String>,
    /// The client's IP address.
    pub ip: Option<IpAddr>,
    /// The host that wrote this field.
    pub by: Option<String>,
    /// The protocol (`ESMTPS`, `SMTP`, `HTTP`...).
    pub with: Option<String>,
    /// Whether the hop was protected by TLS, when the field says (None = it does not say).
    pub tls: Option<bool>,
    /// The TLS version named in a comment (`TLSv1.3`, `TLS1_2`).
    pub tls_version: Option<String>,
    /// Seconds since the Unix epoch of the date-time after `;`.
    pub timestamp: Option<i64>,
    /// The field as written, unfolded.
    pub raw: String,
}

/// Splits `text` into top-level words and the comments (parenthesised text) that follow each.
fn words(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut depth = 0usize;
    let mut word = String::new();
    let mut comment = String::new();
    for c in text.chars() {
        match c {
            '(' => {
                if depth == 0 {
                    if !word.is_empty() {
                        out.push((std::mem::take(&mut word), Vec::new()));
                    }
                } else {
                    comment.push(c);
                }
                depth += 1;
            }
            ')' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    let com = std::mem::take(&mut comment);
                    match out.last_mut() {
                        Some(last) => last.1.push(com),
                        None => out.push((String::new(), vec![com])),
                    }
                } else {
                    comment.push(c);
                }
            }
            c if depth > 0 => comment.push(c),
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    out.push((std::mem::take(&mut word), Vec::new()));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push((word, Vec::new()));
    }
    out
}

/// An address literal or bare address: `[192.0.2.1]`, `[IPv6:2001:db8::1]`, `192.0.2.1`.
fn ip_in(s: &str) -> Option<IpAddr> {
    let t = s.trim().trim_start_matches('[').trim_end_matches([']', ',', ';']);
    let t = t.strip_prefix("IPv6:").or_else(|| t.strip_prefix("ipv6:")).unwrap_or(t);
    t.parse().ok()
}

fn first_ip(comment: &str) -> Option<IpAddr> {
    comment
        .split(|c: char| c.is_whitespace() || c == '=')
        .find_map(|w| if w.starts_with('[') { ip_in(w) } else { None })
        .or_else(|| comment.split_whitespace().find_map(ip_in))
}

fn tls_in_comment(comment: &str) -> Option<String> {
    let lower = comment.to_ascii_lowercase();
    if let Some(i) = lower.find("using tls") {
        return comment[i + 6..].split_whitespace().next().map(str::to_string);
    }
    if let Some(i) = lower.find("version=tls") {
        return comment[i + 8..]
            .split(|c: char| c.is_whitespace() || c == ';' || c == ')')
            .next()
            .map(str::to_string);
    }
    None
}

/// RFC 3848 protocol names end in `S` (TLS) or `SA` (TLS and AUTH).
fn protocol_says_tls(with: &str) -> Option<bool> {
    let w = with.to_ascii_uppercase();
    if !(w.contains("SMTP") || w.contains("LMTP")) {
        return None;
    }
    Some(w.ends_with('S') || w.ends_with("SA"))
}

/// Parses one Received field value (unfolded or not).
pub fn parse_received(value: &str) -> Hop {
    let value: String = value.chars().take(MAX_FIELD).collect();
    let unfolded = value.split_whitespace().collect::<Vec<_>>().join(" ");
    let (clauses, date) = match unfolded.rfind(';') {
        Some(i) => (&unfolded[..i], Some(unfolded[i + 1..].trim())),
        None => (unfolded.as_str(), None),
    };
    let mut hop = Hop {
        raw: unfolded.clone(),
        timestamp: date
            .and_then(mail_parser::DateTime::parse_rfc822)
            .map(|d| d.to_timestamp()),
        ..Hop::default()
    };
    let ws = words(clauses);
    let mut i = 0;
    while let Some((word, word_comments)) = ws.get(i) {
        let key = word.to_ascii_lowercase();
        let next = ws.get(i + 1);
        match key.as_str() {
            "from" => {
                if let Some((name, comments)) = next {
                    let comment = comments.join(" ");
                    let exim_helo = comment
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("helo="))
                        .map(|h| h.trim_end_matches(')').to_string());
                    if let Some(h) = exim_helo {
                        hop.helo = Some(h);
                        hop.rdns = Some(name.clone()).filter(|n| ip_in(n).is_none());
                    } else {
                        hop.helo = Some(name.clone());
                        hop.rdns = comment
                            .split_whitespace()
                            .next()
                            .filter(|w| !w.starts_with('[') && ip_in(w).is_none())
                            .map(|w| w.trim_end_matches('.').to_string());
                    }
                    hop.ip = first_ip(&comment).or_else(|| ip_in(name));
                    if let Some(v) = tls_in_comment(&comment) {
                        hop.tls_version = Some(v);
                    }
                    i += 1;
                }
            }
            "by" => {
                if let Some((name, comments)) = next {
                    hop.by = Some(name.clone());
                    if let Some(v) = comments.iter().find_map(|c| tls_in_comment(c)) {
                        hop.tls_version = Some(v);
                    }
                    i += 1;
                }
            }
            "with" => {
                if let Some((name, comments)) = next {
                    hop.with = Some(name.clone());
                    if let Some(v) = comments.iter().find_map(|c| tls_in_comment(c)) {
                        hop.tls_version = Some(v);
                    }
                    i += 1;
                }
            }
            _ => {
                if let Some(v) = word_comments.iter().find_map(|c| tls_in_comment(c)) {
                    hop.tls_version = Some(v);
                }
            }
        }
        i += 1;
    }
    hop.tls = match (&hop.tls_version, hop.with.as_deref().and_then(protocol_says_tls)) {
        (Some(_), _) => Some(true),
        (None, said) => said,
    };
    hop
}

/// The hop at which the message entered the receiving system: the most recent (topmost)
/// field that names a public client address. SPF is evaluated for that client.
pub fn entry_hop(hops: &[Hop]) -> Option<&Hop> {
    entry_hop_index(hops).and_then(|i| hops.get(i))
}

/// The position of [`entry_hop`] among `hops`.
pub fn entry_hop_index(hops: &[Hop]) -> Option<usize> {
    hops.iter().position(|h| h.ip.is_some_and(|ip| !is_internal(ip)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postfix_with_tls() {
        let h = parse_received(
            "from mail.example.com (mail.example.com [192.0.2.25])\r\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n\tby mx.example.net (Postfix) with ESMTPS id 4ABC; Mon, 23 Nov 2026 10:00:00 +0000",
        );
        assert_eq!(h.helo.as_deref(), Some("mail.example.com"));
        assert_eq!(h.rdns.as_deref(), Some("mail.example.com"));
        assert_eq!(h.ip, Some("192.0.2.25".parse().unwrap()));
        assert_eq!(h.by.as_deref(), Some("mx.example.net"));
        assert_eq!(h.with.as_deref(), Some("ESMTPS"));
        assert_eq!(h.tls, Some(true));
        assert_eq!(h.tls_version.as_deref(), Some("TLSv1.3"));
        assert_eq!(h.timestamp, Some(1_795_428_000));
    }

    #[test]
    fn postfix_unknown_rdns_without_tls() {
        let h = parse_received(
            "from shop-pc (unknown [203.0.113.45]) by mx.example.net (Postfix) with ESMTP id 1; Mon, 23 Nov 2026 10:00:00 +0000",
        );
        assert_eq!(h.helo.as_deref(), Some("shop-pc"));
        assert_eq!(h.rdns.as_deref(), Some("unknown"));
        assert_eq!(h.ip, Some("203.0.113.45".parse().unwrap()));
        assert_eq!(h.tls, Some(false));
    }

    #[test]
    fn exim_and_ipv6_literal() {
        let h = parse_received(
            "from host.example.org ([IPv6:2001:db8::7] helo=relay.example.org) by mx.example.net with esmtpsa (TLS1.2) tls TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (Exim 4.96) id 1; Tue, 24 Nov 2026 01:02:03 +0900",
        );
        assert_eq!(h.helo.as_deref(), Some("relay.example.org"));
        assert_eq!(h.rdns.as_deref(), Some("host.example.org"));
        assert_eq!(h.ip, Some("2001:db8::7".parse().unwrap()));
        assert_eq!(h.tls, Some(true));
    }

    #[test]
    fn gmail_internal_hops_have_no_client_address() {
        let h = parse_received("by 2002:a05:6a20:1234 with SMTP id abc; Mon, 23 Nov 2026 10:00:01 -0800 (PST)");
        assert_eq!(h.ip, None);
        assert_eq!(h.by.as_deref(), Some("2002:a05:6a20:1234"));
        assert!(h.timestamp.is_some());
    }

    #[test]
    fn junk_never_panics() {
        for s in [
            "",
            "(((",
            ")))",
            "from",
            "from (",
            "; ;",
            "from x ([999.1.1.1]) by",
            "\u{0}\u{ffff}(",
        ] {
            let _ = parse_received(s);
        }
        let long = "(".repeat(100_000);
        let _ = parse_received(&long);
    }

    #[test]
    fn entry_hop_skips_internal_addresses() {
        let hops = vec![
            parse_received("from mx1 (mx1 [10.0.0.5]) by store with LMTP; Mon, 23 Nov 2026 10:00:02 +0000"),
            parse_received(
                "from out.example.com (out.example.com [198.51.100.9]) by mx1 with ESMTPS; Mon, 23 Nov 2026 10:00:01 +0000",
            ),
            parse_received(
                "from pc (pc [192.168.1.20]) by out.example.com with ESMTPSA; Mon, 23 Nov 2026 10:00:00 +0000",
            ),
        ];
        assert_eq!(entry_hop(&hops).unwrap().ip, Some("198.51.100.9".parse().unwrap()));
    }
}
