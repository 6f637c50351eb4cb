//! Which addresses a public deployment may dial. A web page that lets anyone type a host name is
//! a way into the network it runs in (SSRF) unless every address it dials is a public one:
//! never loopback, RFC 1918, CGNAT, link-local (the cloud metadata service lives there),
//! unique-local, multicast, documentation or reserved space. The check is made on the address
//! actually dialled ([`crate::Connector::connect`]), after DNS, so a name that resolves (or
//! re-resolves: DNS rebinding) to an inside address gets nowhere.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The special-purpose range `ip` falls in (IANA's special-purpose registries, RFC 6890), by
/// name, or `None` for a globally routable address.
pub fn non_public_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_range(v4),
        IpAddr::V6(v6) => v6_range(v6),
    }
}

fn v4_range(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    let range = match (o[0], o[1], o[2]) {
        (0, _, _) => "this network (0.0.0.0/8)",
        (10, _, _) => "private (10.0.0.0/8, RFC 1918)",
        (100, b, _) if (64..128).contains(&b) => "shared address space (100.64.0.0/10, CGNAT)",
        (127, _, _) => "loopback (127.0.0.0/8)",
        (169, 254, _) => "link-local (169.254.0.0/16, cloud metadata)",
        (172, b, _) if (16..32).contains(&b) => "private (172.16.0.0/12, RFC 1918)",
        (192, 0, 0) => "IETF protocol assignments (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation (RFC 5737)",
        (192, 88, 99) => "6to4 relay anycast (192.88.99.0/24)",
        (192, 168, _) => "private (192.168.0.0/16, RFC 1918)",
        (198, b, _) if b == 18 || b == 19 => "benchmarking (198.18.0.0/15)",
        (a, _, _) if (224..240).contains(&a) => "multicast (224.0.0.0/4)",
        (a, _, _) if a >= 240 => "reserved (240.0.0.0/4, broadcast)",
        _ => return None,
    };
    Some(range)
}

fn v6_range(ip: Ipv6Addr) -> Option<&'static str> {
    // An IPv4 address carried inside IPv6 goes where the IPv4 address goes.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_range(v4);
    }
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64 (RFC 6052): the last 32 bits are the IPv4 destination.
        return v4_range(embedded_v4(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        // 6to4 (RFC 3056): the IPv4 address follows the prefix.
        return v4_range(embedded_v4(s[1], s[2]));
    }
    let range = if ip.is_unspecified() {
        "unspecified (::)"
    } else if ip.is_loopback() {
        "loopback (::1)"
    } else if s[0] & 0xfe00 == 0xfc00 {
        "unique local (fc00::/7)"
    } else if s[0] & 0xffc0 == 0xfe80 {
        "link-local (fe80::/10)"
    } else if s[0] & 0xffc0 == 0xfec0 {
        "site-local (fec0::/10, deprecated)"
    } else if s[0] & 0xff00 == 0xff00 {
        "multicast (ff00::/8)"
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        "documentation (2001:db8::/32)"
    } else if s[..4] == [0x100, 0, 0, 0] {
        "discard-only (100::/64)"
    } else if s[..6] == [0; 6] {
        // IPv4-compatible (deprecated) and the rest of ::/96.
        "IPv4-compatible (::/96, deprecated)"
    } else if s[0] & 0xe000 != 0x2000 {
        // Only 2000::/3 is global unicast today.
        "not global unicast (outside 2000::/3)"
    } else {
        return None;
    };
    Some(range)
}

/// True for the documentation ranges, which the lab plays as its public Internet.
pub fn is_documentation(ip: IpAddr) -> bool {
    non_public_range(ip).is_some_and(|r| r.starts_with("documentation"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(s: &str) -> Option<&'static str> {
        non_public_range(s.parse().unwrap())
    }

    #[test]
    fn rfc_6890_special_purpose_ranges_are_not_public() {
        for ip in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.0.9",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::25",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
            "2002:7f00:1::",
            "100::1",
            "::127.0.0.1",
        ] {
            assert!(range(ip).is_some(), "{ip} was taken for a public address");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.3.1",
            "198.17.255.255",
            "198.20.0.0",
            "209.85.220.41",
            "2a00:1450:4001:81c::201b",
            "2607:f8b0::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(range(ip), None, "{ip} was refused");
        }
    }

    #[test]
    fn the_metadata_service_is_named() {
        assert!(range("169.254.169.254").unwrap().contains("metadata"));
        assert!(range("fd00:ec2::254").unwrap().contains("unique local"));
    }
}
