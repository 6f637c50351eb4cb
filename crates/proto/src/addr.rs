//! Which addresses can be a sending IP that Gmail sees.
//!
//! A receiver on the Internet only ever sees a public address. Loopback, private (RFC 1918),
//! shared (RFC 6598 CGNAT), link-local, unique-local, unspecified and multicast addresses never
//! name an Internet sender: checking their PTR or blocklists would ask about the wrong machine
//! (and a resolver library answers 127.0.0.0/8 itself). Documentation ranges (RFC 5737,
//! RFC 3849) count as public: the lab and the RFCs use them as stand-ins for public addresses.

use std::net::IpAddr;

/// Why an address is not one the Internet sees, as a stable token for evidence and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonPublic {
    Loopback,
    Private,
    Shared,
    LinkLocal,
    UniqueLocal,
    Unspecified,
    Multicast,
}

impl NonPublic {
    pub fn as_str(self) -> &'static str {
        match self {
            NonPublic::Loopback => "loopback",
            NonPublic::Private => "private",
            NonPublic::Shared => "shared (CGNAT)",
            NonPublic::LinkLocal => "link-local",
            NonPublic::UniqueLocal => "unique-local",
            NonPublic::Unspecified => "unspecified",
            NonPublic::Multicast => "multicast",
        }
    }
}

/// `Some(why)` when `ip` never names an Internet sender.
pub fn non_public(ip: IpAddr) -> Option<NonPublic> {
    match ip {
        IpAddr::V4(v) => {
            let o = v.octets();
            if v.is_loopback() {
                Some(NonPublic::Loopback)
            } else if v.is_private() {
                Some(NonPublic::Private)
            } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
                Some(NonPublic::Shared)
            } else if v.is_link_local() {
                Some(NonPublic::LinkLocal)
            } else if v.is_unspecified() || o[0] == 0 {
                Some(NonPublic::Unspecified)
            } else if v.is_multicast() || v.is_broadcast() {
                Some(NonPublic::Multicast)
            } else {
                None
            }
        }
        IpAddr::V6(v) => {
            if let Some(v4) = v.to_ipv4_mapped() {
                return non_public(IpAddr::V4(v4));
            }
            let s = v.segments();
            if v.is_loopback() {
                Some(NonPublic::Loopback)
            } else if v.is_unspecified() {
                Some(NonPublic::Unspecified)
            } else if (s[0] & 0xfe00) == 0xfc00 {
                Some(NonPublic::UniqueLocal)
            } else if (s[0] & 0xffc0) == 0xfe80 {
                Some(NonPublic::LinkLocal)
            } else if v.is_multicast() {
                Some(NonPublic::Multicast)
            } else {
                None
            }
        }
    }
}

/// True for addresses that never name an Internet sender.
pub fn is_internal(ip: IpAddr) -> bool {
    non_public(ip).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn np(s: &str) -> Option<NonPublic> {
        non_public(s.parse().unwrap())
    }

    #[test]
    fn rfc6890_special_ranges_are_not_public() {
        assert_eq!(np("127.0.0.1"), Some(NonPublic::Loopback));
        assert_eq!(np("10.1.2.3"), Some(NonPublic::Private));
        assert_eq!(np("172.16.0.1"), Some(NonPublic::Private));
        assert_eq!(np("192.168.1.1"), Some(NonPublic::Private));
        assert_eq!(np("100.64.0.1"), Some(NonPublic::Shared));
        assert_eq!(np("169.254.0.1"), Some(NonPublic::LinkLocal));
        assert_eq!(np("0.0.0.0"), Some(NonPublic::Unspecified));
        assert_eq!(np("224.0.0.1"), Some(NonPublic::Multicast));
        assert_eq!(np("::1"), Some(NonPublic::Loopback));
        assert_eq!(np("fd00::1"), Some(NonPublic::UniqueLocal));
        assert_eq!(np("fe80::1"), Some(NonPublic::LinkLocal));
        assert_eq!(np("::ffff:10.0.0.1"), Some(NonPublic::Private));
    }

    #[test]
    fn documentation_and_public_ranges_are_public() {
        for ip in [
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.45",
            "2001:db8::25",
            "8.8.8.8",
            "100.128.0.1",
        ] {
            assert_eq!(np(ip), None, "{ip}");
        }
    }
}
