//! Does a PTR name look generic (assigned by an ISP or a cloud to every address), rather than
//! naming a mail server? Generic names pass FCrDNS but hurt reputation (Yahoo asks for
//! "meaningful" PTRs; Gmail's guidelines warn about them). The heuristics say why they fired.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum GenericReason {
    /// The address's digits appear in the name (`192-0-2-25.example.net`, `ip-192-0-2-25`).
    ContainsAddress,
    /// A word ISPs use for end-user ranges (`dyn`, `dsl`, `dhcp`, `pool`, `ppp`, `cust`...).
    Keyword { word: String },
    /// A cloud provider's default name (`ec2-...compute.amazonaws.com`).
    CloudDefault { provider: String },
}

const KEYWORDS: &[&str] = &[
    "dyn",
    "dynamic",
    "dsl",
    "adsl",
    "vdsl",
    "xdsl",
    "dhcp",
    "pool",
    "ppp",
    "pppoe",
    "cust",
    "customer",
    "client",
    "broadband",
    "cable",
    "dialup",
    "dial-up",
    "home",
    "user",
    "unassigned",
    "flets",
    "ftth",
    "catv",
];

const CLOUDS: &[(&str, &str)] = &[
    ("compute.amazonaws.com", "Amazon EC2"),
    ("compute-1.amazonaws.com", "Amazon EC2"),
    ("googleusercontent.com", "Google Cloud"),
    ("cloudapp.azure.com", "Microsoft Azure"),
    ("cloudapp.net", "Microsoft Azure"),
    ("members.linode.com", "Linode"),
    ("ip.linodeusercontent.com", "Linode"),
    ("vultrusercontent.com", "Vultr"),
    ("your-server.de", "Hetzner"),
    ("contaboserver.net", "Contabo"),
    ("sakura.ne.jp", "Sakura Internet (default name)"),
    ("vs.sakura.ne.jp", "Sakura VPS (default name)"),
];

/// Why `name` looks generic for `ip`, if it does.
pub fn generic_reasons(name: &str, ip: IpAddr) -> Vec<GenericReason> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let mut out = Vec::new();
    if contains_address(&name, ip) {
        out.push(GenericReason::ContainsAddress);
    }
    for (suffix, provider) in CLOUDS {
        if name == *suffix || name.ends_with(&format!(".{suffix}")) {
            out.push(GenericReason::CloudDefault {
                provider: provider.to_string(),
            });
            break;
        }
    }
    // Keywords count only as whole tokens of the leftmost labels, not inside words
    // ("mail.customers-first.example" is fine; "cust-25.isp.example" is not).
    let labels: Vec<&str> = name.split('.').collect();
    let host_labels = labels.get(..labels.len().saturating_sub(2)).unwrap_or_default();
    'outer: for label in host_labels {
        for token in label.split(|c: char| c == '-' || c == '_' || c.is_ascii_digit()) {
            if let Some(k) = KEYWORDS.iter().find(|k| **k == token) {
                out.push(GenericReason::Keyword { word: k.to_string() });
                break 'outer;
            }
        }
    }
    out
}

fn contains_address(name: &str, ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            let o = v.octets();
            let fwd = [o[0], o[1], o[2], o[3]].map(|x| x.to_string());
            let rev = [o[3], o[2], o[1], o[0]].map(|x| x.to_string());
            let hex = format!("{:02x}{:02x}{:02x}{:02x}", o[0], o[1], o[2], o[3]);
            let digits: String = name.chars().map(|c| if c.is_ascii_digit() { c } else { ' ' }).collect();
            let nums: Vec<&str> = digits.split_whitespace().collect();
            let has_seq = |seq: &[String; 4]| nums.windows(4).any(|w| w.iter().zip(seq.iter()).all(|(a, b)| a == b));
            has_seq(&fwd) || has_seq(&rev) || name.contains(&hex) || nums.contains(&v.to_bits().to_string().as_str())
        }
        IpAddr::V6(v) => {
            let segs = v.segments();
            let tail = format!("{:x}", segs[7]);
            let compact: String = name.chars().filter(|c| c.is_ascii_hexdigit()).collect();
            let full: String = segs.iter().map(|s| format!("{s:04x}")).collect();
            compact.contains(&full) || (segs[7] != 0 && name.contains(&format!("{:x}-{tail}", segs[6])))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn address_digits_in_the_name() {
        let a = ip("192.0.2.25");
        assert!(!generic_reasons("192-0-2-25.dsl.isp.example", a).is_empty());
        assert!(generic_reasons("25.2.0.192.static.isp.example", a).contains(&GenericReason::ContainsAddress));
        assert!(generic_reasons("ip-192-0-2-25.ec2.internal.example", a).contains(&GenericReason::ContainsAddress));
        assert!(generic_reasons("c0000219.pool.isp.example", a).contains(&GenericReason::ContainsAddress));
        assert!(generic_reasons("sv1234.star-hosting.example", a).is_empty());
        assert!(generic_reasons("mail.hanako-shop.example", a).is_empty());
    }

    #[test]
    fn keywords_are_whole_tokens_only() {
        let a = ip("198.51.100.7");
        assert_eq!(
            generic_reasons("dyn-7.isp.example", a),
            vec![GenericReason::Keyword { word: "dyn".into() }]
        );
        assert!(
            generic_reasons("p7-pool.flets.isp.example", a)
                .iter()
                .any(|r| matches!(r, GenericReason::Keyword { .. }))
        );
        assert!(generic_reasons("mail.customers-first.example", a).is_empty());
        assert!(generic_reasons("dynamo.example", a).is_empty());
    }

    #[test]
    fn cloud_defaults() {
        let a = ip("203.0.113.9");
        let r = generic_reasons("ec2-203-0-113-9.ap-northeast-1.compute.amazonaws.com", a);
        assert!(r.contains(&GenericReason::CloudDefault {
            provider: "Amazon EC2".into()
        }));
        assert!(r.contains(&GenericReason::ContainsAddress));
    }
}
