//! Safe to expose: a public deployment never dials a non-public address, checked on the
//! address actually dialled. Each refused range; names in the lab DNS that resolve inside;
//! a name whose answer changes between two lookups (DNS rebinding), from a misbehaving DNS
//! server. A "victim" listener stands behind each inside address in the address map, so a
//! connection that got through would be seen.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use hickory_proto::op::Message;
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use mxdoctor_engine::model::{CheckStatus, ErrorCause};
use mxdoctor_engine::sendas::{self, SendasRequest};
use mxdoctor_net::{AddressMap, ConnectError, Connector};
use mxdoctor_proto::hostname::Hostname;

/// A listener that counts the connections it gets.
async fn victim() -> (SocketAddr, Arc<AtomicUsize>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    (addr, hits)
}

#[tokio::test]
async fn every_non_public_range_is_refused_before_a_socket_exists() {
    let (target, hits) = victim().await;
    let inside: Vec<SocketAddr> = [
        "127.0.0.1:587",
        "10.0.0.25:587",
        "172.16.5.4:587",
        "192.168.1.1:587",
        "100.64.0.1:587",
        "169.254.169.254:80",
        "0.0.0.0:587",
        "224.0.0.1:587",
        "240.0.0.1:587",
        "[::1]:587",
        "[fd00::25]:587",
        "[fe80::1]:587",
        "[ff02::1]:587",
        "[::ffff:10.0.0.1]:587",
        "[::ffff:127.0.0.1]:587",
        "[64:ff9b::a9fe:a9fe]:80",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    let mut map = AddressMap::new();
    for a in &inside {
        map.insert(*a, target).unwrap();
    }
    for connector in [Connector::direct().public_only(), Connector::lab(map).public_only()] {
        for a in &inside {
            let err = connector.connect(*a, Duration::from_secs(2)).await.unwrap_err();
            assert!(matches!(err, ConnectError::NotPublic { .. }), "{a}: {err:?}");
        }
        // The documentation ranges are refused on the Internet; under a lab they are its
        // Internet.
        let doc: SocketAddr = "192.0.2.25:587".parse().unwrap();
        let err = connector.connect(doc, Duration::from_millis(300)).await.unwrap_err();
        if connector.is_lab() {
            assert!(matches!(err, ConnectError::Unmapped { .. }), "{err:?}");
        } else {
            assert!(matches!(err, ConnectError::NotPublic { .. }), "{err:?}");
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 0, "an inside address was dialled");
}

fn a_record(owner: &str, ip: IpAddr) -> Record {
    let name = Name::from_ascii(owner).unwrap();
    match ip {
        IpAddr::V4(v4) => Record::from_rdata(name, 300, RData::A(A::from(v4))),
        IpAddr::V6(v6) => Record::from_rdata(name, 300, RData::AAAA(AAAA::from(v6))),
    }
}

fn context(dns: SocketAddr, map: AddressMap) -> mxdoctor_engine::Context {
    let mut ctx = dns_only_context(dns);
    ctx.connector = Connector::lab(map).public_only();
    ctx
}

async fn sendas_to(ctx: &mxdoctor_engine::Context, host: &str) -> mxdoctor_engine::model::Report {
    sendas::run(ctx, &SendasRequest::new(Hostname::parse(host).unwrap(), 587)).await
}

fn session_error(r: &mxdoctor_engine::model::Report) -> Option<ErrorCause> {
    r.checks.iter().find_map(|c| match &c.status {
        CheckStatus::Error { cause, .. } => Some(*cause),
        _ => None,
    })
}

#[tokio::test]
async fn names_that_resolve_inside_are_refused_and_the_report_says_why() {
    let (target, hits) = victim().await;
    let cases = [
        ("loopback.ssrf.example.", "127.0.0.1"),
        ("private.ssrf.example.", "10.1.2.3"),
        ("metadata.ssrf.example.", "169.254.169.254"),
        ("cgnat.ssrf.example.", "100.100.100.100"),
        ("ula.ssrf.example.", "fd12::25"),
        ("mapped.ssrf.example.", "::ffff:192.168.0.1"),
    ];
    let mut map = AddressMap::new();
    let mut records = Vec::new();
    for (name, ip) in cases {
        let ip: IpAddr = ip.parse().unwrap();
        records.push(a_record(name, ip));
        map.insert(SocketAddr::new(ip, 587), target).unwrap();
    }
    let dns = mxdoctor_lab::serve_records(records, vec![]).await.unwrap();
    let ctx = context(dns.addr(), map);
    for (name, ip) in cases {
        let r = sendas_to(&ctx, name.trim_end_matches('.')).await;
        assert_eq!(
            session_error(&r),
            Some(ErrorCause::NotPublic),
            "{name} ({ip}): {:#?}",
            r.checks
        );
        assert!(
            r.verdict.because.iter().any(|b| b == "error.not-public"),
            "{name}: {:?}",
            r.verdict
        );
        assert_ne!(
            r.verdict.severity,
            mxdoctor_engine::model::Severity::Pass,
            "an error never passes"
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "an inside address was dialled");
}

/// A DNS server that answers the first A question for any name with `first` and every later one
/// with `later`, TTL 0: the rebinding attacker's name server.
async fn rebinding_dns(first: std::net::Ipv4Addr, later: std::net::Ipv4Addr) -> SocketAddr {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let asked = AtomicUsize::new(0);
        let mut buf = [0u8; 1500];
        while let Ok((n, peer)) = sock.recv_from(&mut buf).await {
            let Ok(req) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
            resp.metadata.recursion_desired = req.metadata.recursion_desired;
            resp.metadata.recursion_available = true;
            resp.metadata.authoritative = true;
            resp.add_queries(req.queries.clone());
            for q in &req.queries {
                if q.query_type() == RecordType::A {
                    let ip = if asked.fetch_add(1, Ordering::SeqCst) == 0 {
                        first
                    } else {
                        later
                    };
                    resp.add_answer(Record::from_rdata(q.name().clone(), 0, RData::A(A::from(ip))));
                }
            }
            if let Ok(bytes) = resp.to_vec() {
                let _ = sock.send_to(&bytes, peer).await;
            }
        }
    });
    addr
}

#[tokio::test]
async fn dns_rebinding_gets_nowhere_because_the_address_dialled_is_checked() {
    let (outside, outside_hits) = victim().await;
    let (inside, inside_hits) = victim().await;
    let mut map = AddressMap::new();
    map.insert("192.0.2.25:587".parse().unwrap(), outside).unwrap();
    map.insert("127.0.0.1:587".parse().unwrap(), inside).unwrap();
    let dns = rebinding_dns("192.0.2.25".parse().unwrap(), "127.0.0.1".parse().unwrap()).await;
    // First run: the name is "public" (the lab's Internet) and is dialled.
    let first = sendas_to(&context(dns, map.clone()), "rebind.attacker.example").await;
    assert_ne!(
        session_error(&first),
        Some(ErrorCause::NotPublic),
        "{:#?}",
        first.checks
    );
    assert!(
        outside_hits.load(Ordering::SeqCst) > 0,
        "the public answer was not dialled"
    );
    // Second run: the same name now answers 127.0.0.1; the dial is refused.
    let second = sendas_to(&context(dns, map), "rebind.attacker.example").await;
    assert_eq!(
        session_error(&second),
        Some(ErrorCause::NotPublic),
        "{:#?}",
        second.checks
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        inside_hits.load(Ordering::SeqCst),
        0,
        "the rebound name reached loopback"
    );
}
