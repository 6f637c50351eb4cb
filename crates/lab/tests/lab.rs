//! The lab itself: every built-in world loads and starts, its DNS answers over UDP and TCP with
//! authoritative NXDOMAIN outside its zones, and bad worlds are refused with clear errors.

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RecordType;
use mxdoctor_lab::{LabOptions, World, builtin_names, start};

fn resolver(addr: SocketAddr, tcp_only: bool) -> TokioResolver {
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let conns = if tcp_only { vec![tcp] } else { vec![udp] };
    let cfg = ResolverConfig::from_name_servers(vec![NameServerConfig::new(addr.ip(), true, conns)]);
    let mut b = TokioResolver::builder_with_config(cfg, TokioRuntimeProvider::default());
    b.options_mut().use_hosts_file = ResolveHosts::Never;
    b.build().unwrap()
}

#[tokio::test]
async fn every_builtin_world_loads_and_starts() {
    let names = builtin_names();
    assert!(names.len() >= 20, "{names:?}");
    for name in names {
        let world = World::builtin(name).unwrap_or_else(|| panic!("{name} does not load"));
        assert!(!world.description().is_empty(), "{name} has no description");
        let lab = start(&world, LabOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(lab.dns_addr().ip().is_loopback());
        for (w, t) in lab.address_map().iter() {
            assert!(
                mxdoctor_lab::world::is_documentation(w.ip()),
                "{name}: {w} is not a documentation address"
            );
            assert!(t.ip().is_loopback());
        }
    }
}

#[tokio::test]
async fn dns_answers_over_udp_and_tcp_and_nxdomain_outside_the_zones() {
    let lab = start(&World::builtin("seed").unwrap(), LabOptions::default())
        .await
        .unwrap();
    for tcp in [false, true] {
        let r = resolver(lab.dns_addr(), tcp);
        let a = r.lookup("mail.hanako-shop.example.", RecordType::A).await.unwrap();
        assert_eq!(a.answers()[0].data.to_string(), "192.0.2.25");
        let ptr = r.lookup("25.2.0.192.in-addr.arpa.", RecordType::PTR).await.unwrap();
        assert_eq!(ptr.answers()[0].data.to_string(), "sv1234.star-hosting.example.");
        let txt = r.lookup("hanako-shop.example.", RecordType::TXT).await.unwrap();
        assert!(txt.answers()[0].data.to_string().contains("v=spf1"));
        let nx = r.lookup("nothing.invalid-tld.", RecordType::A).await.unwrap_err();
        assert!(
            nx.to_string().contains("NXDomain") || nx.to_string().contains("no records"),
            "{nx}"
        );
    }
}

#[tokio::test]
async fn smtp_banner_and_starttls_are_real() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let lab = start(&World::builtin("seed").unwrap(), LabOptions::default())
        .await
        .unwrap();
    let target = lab.address_map().get(&"192.0.2.25:587".parse().unwrap()).unwrap();
    let mut s = tokio::net::TcpStream::connect(target).await.unwrap();
    let mut buf = vec![0u8; 512];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("220 sv1234.star-hosting.example"));
    s.write_all(b"EHLO test.example\r\n").await.unwrap();
    let mut got = String::new();
    while !got.contains("250 ") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0);
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(got.contains("STARTTLS"), "{got}");
    assert!(!got.contains("AUTH"), "AUTH must not be offered before TLS here: {got}");
}

#[test]
fn bad_worlds_are_refused_with_clear_errors() {
    let base = |extra: &str| format!("[world]\nname = \"t\"\n{extra}");
    let cases = [
        (
            base("[[server]]\nid = \"x\"\nhostname = \"a.example\"\naddresses = [\"10.0.0.1\"]\n"),
            "not a documentation address",
        ),
        (
            base("[[server]]\nid = \"x\"\nhostname = \"a.example\"\naddresses = [\"8.8.8.8\"]\n"),
            "not a documentation address",
        ),
        (
            base(
                "[[server]]\nid = \"x\"\nhostname = \"a.example\"\naddresses = [\"192.0.2.1\"]\n[[server.listener]]\nport = 587\ncert = \"nope\"\n",
            ),
            "unknown certificate",
        ),
        (
            base("[[cert]]\nid = \"c\"\nnames = [\"a.example\"]\nnot_after = \"tomorrow\"\n"),
            "relative time",
        ),
        (base("[[cert]]\nid = \"c\"\n"), "names nothing"),
        (base("bogus = 1\n"), "unknown field"),
        ("not toml at all [".to_string(), "world.toml"),
    ];
    for (toml_text, needle) in cases {
        let err = World::from_parts(&toml_text, vec![]).unwrap_err().to_string();
        assert!(err.contains(needle), "expected `{needle}` in: {err}");
    }
}

#[tokio::test]
async fn a_broken_zone_file_is_a_clear_error() {
    let world = World::from_parts(
        "[world]\nname = \"z\"\n",
        vec![("bad.zone".into(), "$ORIGIN bad.example.\n@ IN SOA\n".into())],
    )
    .unwrap();
    let err = start(&world, LabOptions::default()).await.unwrap_err().to_string();
    assert!(err.contains("bad.zone"), "{err}");
}

#[test]
fn documentation_ranges() {
    use mxdoctor_lab::world::is_documentation;
    for ok in ["192.0.2.1", "198.51.100.255", "203.0.113.7", "2001:db8::25"] {
        assert!(is_documentation(ok.parse::<IpAddr>().unwrap()), "{ok}");
    }
    for bad in ["127.0.0.1", "10.1.2.3", "192.0.3.1", "2001:db9::1", "8.8.8.8"] {
        assert!(!is_documentation(bad.parse::<IpAddr>().unwrap()), "{bad}");
    }
}
