//! The interoperability suite (issue 8): mxdoctor against real servers, not our own. Debian's
//! Postfix (SNI map, SASL through Dovecot's auth socket, AUTH only after TLS, implicit TLS),
//! Dovecot (IMAPS, POP3S) and NSD (the zones) run as private instances on loopback ports with
//! certificates from a CA made at start. Zone data uses documentation addresses; the run's
//! address map sends them to the loopback ports, exactly as in the lab. The servers come from
//! `scripts/install-test-deps.sh`; a missing one fails the suite (it is never skipped).
//!
//! Run alone: `cargo test --test interop -- --nocapture` (as root: Postfix and Dovecot start
//! their private instances as root and drop to their own users).

mod servers;

use std::net::SocketAddr;
use std::time::Duration;

use mxdoctor::app::{LabEnv, lab_context};
use mxdoctor_engine::model::{CheckStatus, Finding, Report, Severity};
use mxdoctor_lab::ca::{AIA_ADDR, LabCa};
use mxdoctor_lab::world::CertSpec;
use mxdoctor_net::{AddressMap, clock};
use servers::{CertFiles, PostfixPort, Servers};
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-11-23 00:00:00 UTC);
/// Every name of the story lives at this one server address (the port decides the case).
const SERVER: &str = "192.0.2.90";
const USER: &str = "taro@interop-shop.example";
const PASSWORD: &str = "right-password";

/// World ports (what the user types into Gmail) for each Postfix or Dovecot listener.
const SUBMISSION: u16 = 587; // STARTTLS, shared-host certificate, SNI map, AUTH via Dovecot
const SMTPS: u16 = 465; // implicit TLS, shared-host certificate, AUTH
const SELF_SIGNED: u16 = 2587;
const EXPIRED_SMTPS: u16 = 2465;
const LEAF_ONLY: u16 = 3587;
const FULL_CHAIN: u16 = 4587;
/// World addresses of Postfix's MX without TLS and of an open-relay MX (port 25 each).
const PLAIN_MX: &str = "192.0.2.91";
const RELAY_MX: &str = "192.0.2.92";
const IMAPS: u16 = 993;
const POP3S: u16 = 995;

struct World {
    servers: Servers,
    env: LabEnv,
    /// Loopback ports of Postfix's two MX listeners (STARTTLS, plaintext).
    mx_tls: u16,
    mx_plain: u16,
}

fn spec(v: serde_json::Value) -> CertSpec {
    serde_json::from_value(v).expect("certificate spec")
}

fn issue(ca: &LabCa, s: &Servers, name: &str, v: serde_json::Value) -> CertFiles {
    let c = ca.issue(&spec(v), NOW).expect("issue");
    let key = match &c.key {
        rustls_pki_types::PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
        _ => panic!("pkcs8 key expected"),
    };
    let chain: Vec<Vec<u8>> = c.chain.iter().map(|d| d.to_vec()).collect();
    s.cert_files(name, &chain, &key)
}

fn zones() -> Vec<(&'static str, String)> {
    let soa = |o: &str| {
        format!(
            "$ORIGIN {o}.\n$TTL 300\n@ IN SOA ns1.{o}. hostmaster.{o}. ( 1 3600 900 604800 60 )\n@ IN NS ns1.{o}.\nns1 IN A 192.0.2.53\n"
        )
    };
    vec![
        (
            "interop-shop.example",
            soa("interop-shop.example") + &format!("mail IN A {SERVER}\n@ IN MX 10 mail\n"),
        ),
        (
            "interop-host.example",
            soa("interop-host.example")
                + &format!("sv1 IN A {SERVER}\ngood IN A 198.51.100.10\nbad IN A 198.51.100.99\n")
                // Domains whose MX is Postfix without TLS, and Postfix as an open relay.
                + &format!("plain-mx IN MX 10 mx2\nmx2 IN A {PLAIN_MX}\nrelay-mx IN MX 10 mx3\nmx3 IN A {RELAY_MX}\n"),
        ),
        (
            "sni-shop.example",
            soa("sni-shop.example") + &format!("mail IN A {SERVER}\n"),
        ),
        (
            "mxdoctor-lab.example",
            soa("mxdoctor-lab.example") + &format!("ca IN A {AIA_ADDR}\n"),
        ),
        (
            "100.51.198.in-addr.arpa",
            soa("100.51.198.in-addr.arpa")
                + "10 IN PTR good.interop-host.example.\n11 IN PTR bad.interop-host.example.\n",
        ),
    ]
}

async fn world() -> World {
    servers::require_binaries();
    let mut s = Servers::new();
    let ca = LabCa::new(true, false, NOW).expect("CA");
    let shared = issue(
        &ca,
        &s,
        "shared",
        serde_json::json!({ "id": "shared", "names": ["*.interop-host.example", "sv1.interop-host.example"] }),
    );
    let sni = issue(
        &ca,
        &s,
        "sni",
        serde_json::json!({ "id": "sni", "names": ["mail.sni-shop.example"] }),
    );
    let selfsigned = issue(
        &ca,
        &s,
        "self",
        serde_json::json!({ "id": "self", "names": ["mail.interop-shop.example"], "issuer": "self" }),
    );
    let expired = issue(
        &ca,
        &s,
        "expired",
        serde_json::json!({ "id": "expired", "names": ["mail.interop-shop.example"], "not_before": "-400d", "not_after": "-35d" }),
    );
    let leaf_only = issue(
        &ca,
        &s,
        "leaf-only",
        serde_json::json!({ "id": "leaf", "names": ["mail.interop-shop.example"], "issuer": "intermediate", "send_chain": false }),
    );
    let full = issue(
        &ca,
        &s,
        "full",
        serde_json::json!({ "id": "full", "names": ["mail.interop-shop.example"], "issuer": "intermediate" }),
    );
    let mailbox = issue(
        &ca,
        &s,
        "mailbox",
        serde_json::json!({ "id": "mbx", "names": ["mail.interop-shop.example"] }),
    );

    let dns = s.start_nsd(&zones().iter().map(|(o, t)| (*o, t.clone())).collect::<Vec<_>>());
    let (imaps, pop3s, auth) = s.start_dovecot(&mailbox, USER, PASSWORD);
    let port = |world: u16, real: u16| (world, real);
    let mut map_ports = vec![port(IMAPS, imaps), port(POP3S, pop3s)];
    let pf = |world: u16, wrapper: bool, cert: &CertFiles, auth: bool, sni: Vec<(String, CertFiles)>| {
        let real = servers::free_port();
        (
            world,
            PostfixPort {
                port: real,
                wrapper,
                cert: cert.clone(),
                auth,
                sni,
                extra: Vec::new(),
            },
        )
    };
    let postfix: Vec<(u16, PostfixPort)> = vec![
        pf(
            SUBMISSION,
            false,
            &shared,
            true,
            vec![("mail.sni-shop.example".into(), sni.clone())],
        ),
        pf(SMTPS, true, &shared, true, vec![]),
        pf(SELF_SIGNED, false, &selfsigned, false, vec![]),
        pf(EXPIRED_SMTPS, true, &expired, false, vec![]),
        pf(LEAF_ONLY, false, &leaf_only, true, vec![]),
        pf(FULL_CHAIN, false, &full, true, vec![]),
    ];
    map_ports.extend(postfix.iter().map(|(w, p)| (*w, p.port)));
    let mut ports: Vec<PostfixPort> = postfix.into_iter().map(|(_, p)| p).collect();
    // Port 25 as an MX: one with STARTTLS, one without TLS at all (issue 9 items 16-19: mail
    // delivered through the real Postfix, which writes its own Received field).
    let (mx_tls, mx_plain, mx_relay) = (servers::free_port(), servers::free_port(), servers::free_port());
    for (port, extra) in [
        (mx_tls, vec![]),
        (mx_plain, vec!["smtpd_tls_security_level=none".to_string()]),
        // Relays for its "own network", which here is every client on loopback: the classic
        // open relay by a too-wide mynetworks (Postfix refuses a plain `permit` at start-up).
        // Nothing leaves: every transport is error:interop, and the probe never sends DATA.
        (
            mx_relay,
            vec![
                "mynetworks=127.0.0.0/8".to_string(),
                "smtpd_relay_restrictions=permit_mynetworks,reject_unauth_destination".to_string(),
                // The error transport would make smtpd refuse the outside recipient as unknown.
                "smtpd_reject_unlisted_recipient=no".to_string(),
            ],
        ),
    ] {
        ports.push(PostfixPort {
            port,
            wrapper: false,
            cert: shared.clone(),
            auth: false,
            sni: vec![],
            extra,
        });
    }
    s.start_postfix("sv1.interop-host.example", &ports, &auth);

    // The AIA publication point of the CA, for the leaf-only certificate's caIssuers URI.
    let aia = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("aia listener");
    let aia_local = aia.local_addr().expect("addr");
    std::mem::forget(mxdoctor_lab::aia::spawn(aia, ca.published()));

    let mut map = AddressMap::new();
    for (world, real) in map_ports {
        let w: SocketAddr = format!("{SERVER}:{world}").parse().expect("addr");
        map.insert(w, format!("127.0.0.1:{real}").parse().expect("addr"))
            .expect("map");
    }
    map.insert(format!("{AIA_ADDR}:80").parse().expect("addr"), aia_local)
        .expect("map");
    for (world, real) in [(SERVER, mx_tls), (PLAIN_MX, mx_plain), (RELAY_MX, mx_relay)] {
        map.insert(
            format!("{world}:25").parse().expect("addr"),
            format!("127.0.0.1:{real}").parse().expect("addr"),
        )
        .expect("map");
    }
    World {
        servers: s,
        mx_tls,
        mx_plain,
        env: LabEnv {
            resolver: dns,
            map,
            ca_pem: ca.root_pem(),
            dnssec_anchor: None,
        },
    }
}

fn ctx(w: &World) -> mxdoctor_engine::Context {
    // Generous: real servers on a loaded 2-core machine; a slow answer must not read as silence.
    lab_context(&w.env, clock::fixed(NOW), Duration::from_secs(8)).expect("context")
}

async fn sendas(
    w: &World,
    host: &str,
    port: u16,
    security: Option<mxdoctor::cli::SecurityArg>,
    auth: Option<&str>,
) -> Report {
    // SAFETY of the env var: tests in this binary run one at a time (one #[tokio::test]).
    let req = match auth {
        Some(pw) => {
            // The password is read from an environment variable, as the CLI does.
            unsafe { std::env::set_var("MXDOCTOR_INTEROP_PASSWORD", pw) };
            mxdoctor::app::sendas_request(host, port, security, Some(USER), Some("MXDOCTOR_INTEROP_PASSWORD"))
        }
        None => mxdoctor::app::sendas_request(host, port, security, None, None),
    }
    .expect("request");
    Box::pin(mxdoctor_engine::sendas::run(&ctx(w), &req)).await
}

async fn ip(w: &World, addr: &str) -> Report {
    let req = mxdoctor::app::ip_request(addr, None, &[], true).expect("request");
    Box::pin(mxdoctor_engine::ip::run(&ctx(w), &req)).await
}

fn find<'a>(r: &'a Report, id: &str) -> Option<&'a Finding> {
    r.findings().find(|f| f.id == id)
}

/// One case: a name, and what must hold. Failures are collected so one run lists them all.
struct Cases {
    failures: Vec<String>,
    count: usize,
}

impl Cases {
    fn check(&mut self, case: &str, ok: bool, r: &Report) {
        self.count += 1;
        if ok {
            println!("ok    {case}: {}", r.verdict.id);
        } else {
            let ids: Vec<&str> = r.findings().map(|f| f.id.as_str()).collect();
            println!("FAIL  {case}: {} {ids:?}", r.verdict.id);
            self.failures
                .push(format!("{case}: verdict {} findings {ids:?}", r.verdict.id));
        }
    }
}

#[tokio::test]
async fn real_postfix_dovecot_and_nsd() {
    use mxdoctor::cli::SecurityArg::{Ssl, Starttls};
    let w = world().await;
    let mut c = Cases {
        failures: vec![],
        count: 0,
    };

    // Name mismatch on a shared host: the name to type is the host's own, proven by SMTP.
    let r = sendas(&w, "mail.interop-shop.example", SUBMISSION, None, None).await;
    let cand = find(&r, "sendas.candidates").map(|f| f.args["candidates"].clone());
    c.check(
        "name mismatch -> type sv1.interop-host.example",
        find(&r, "tls.cert.name-mismatch").is_some()
            && cand.as_deref() == Some("sv1.interop-host.example")
            && r.verdict.id == "verdict.sendas.refuse",
        &r,
    );
    // Postfix's SNI map serves the shop's own certificate for its name.
    let r = sendas(&w, "mail.sni-shop.example", SUBMISSION, None, None).await;
    c.check(
        "SNI map -> accept, certificate chosen by SNI",
        r.verdict.id == "verdict.sendas.accept" && find(&r, "tls.sni.selects-cert").is_some(),
        &r,
    );
    // AUTH through Dovecot, after TLS only.
    let r = sendas(&w, "sv1.interop-host.example", SUBMISSION, None, Some(PASSWORD)).await;
    c.check(
        "AUTH right password -> accepted",
        find(&r, "smtp.auth.accepted").is_some() && r.verdict.id == "verdict.sendas.accept",
        &r,
    );
    let r = sendas(&w, "sv1.interop-host.example", SUBMISSION, None, Some("wrong-password")).await;
    c.check(
        "AUTH wrong password -> rejected",
        find(&r, "smtp.auth.rejected").is_some() && r.verdict.id == "verdict.sendas.refuse",
        &r,
    );
    let r = sendas(&w, "sv1.interop-host.example", SMTPS, None, None).await;
    c.check(
        "implicit TLS 465 -> accept",
        r.verdict.id == "verdict.sendas.accept",
        &r,
    );
    // Self-signed; expired on implicit TLS.
    let r = sendas(&w, "mail.interop-shop.example", SELF_SIGNED, None, None).await;
    c.check("self-signed", find(&r, "tls.cert.self-signed").is_some(), &r);
    let r = sendas(&w, "mail.interop-shop.example", EXPIRED_SMTPS, Some(Ssl), None).await;
    c.check("expired on implicit TLS", find(&r, "tls.cert.expired").is_some(), &r);
    // Each wrong security mode.
    let r = sendas(&w, "sv1.interop-host.example", SUBMISSION, Some(Ssl), None).await;
    c.check(
        "SSL chosen for Postfix's STARTTLS port",
        find(&r, "sendas.wrong-security").is_some_and(|f| f.args["right"] == "TLS"),
        &r,
    );
    let r = sendas(&w, "sv1.interop-host.example", SMTPS, Some(Starttls), None).await;
    c.check(
        "TLS chosen for Postfix's implicit-TLS port",
        find(&r, "sendas.wrong-security").is_some_and(|f| f.args["right"] == "SSL"),
        &r,
    );
    // Dovecot's IMAPS and POP3S given as SMTP.
    for (port, what) in [(IMAPS, "IMAP"), (POP3S, "POP3")] {
        let r = sendas(&w, "mail.interop-shop.example", port, Some(Ssl), None).await;
        c.check(
            &format!("Dovecot {what}S given to sendas"),
            find(&r, "smtp.not-smtp").is_some_and(|f| f.args["what"] == what)
                && r.verdict.id == "verdict.sendas.refuse",
            &r,
        );
    }
    // Missing intermediate (proven by the AIA-fetched issuer) vs the full chain.
    let r = sendas(&w, "mail.interop-shop.example", LEAF_ONLY, None, None).await;
    c.check(
        "leaf only -> missing intermediate",
        find(&r, "tls.cert.incomplete-chain").is_some(),
        &r,
    );
    let r = sendas(&w, "mail.interop-shop.example", FULL_CHAIN, None, None).await;
    c.check("full chain -> accept", r.verdict.id == "verdict.sendas.accept", &r);
    // PTR served by NSD: resolves back, does not, none, and a reverse zone NSD refuses.
    let r = ip(&w, "198.51.100.10").await;
    c.check(
        "PTR that resolves back",
        find(&r, "ptr.forward-confirmed").is_some() && r.verdict.id == "verdict.ip.accept",
        &r,
    );
    let r = ip(&w, "198.51.100.11").await;
    c.check(
        "PTR that does not resolve back",
        find(&r, "ptr.not-forward-confirmed").is_some_and(|f| f.severity == Severity::Fail),
        &r,
    );
    let r = ip(&w, "198.51.100.12").await;
    c.check("no PTR", find(&r, "ptr.missing").is_some(), &r);
    let r = ip(&w, "203.0.113.5").await;
    let refused = r
        .checks
        .iter()
        .any(|ch| ch.check == "ip.ptr" && matches!(&ch.status, CheckStatus::Error { .. }));
    c.check(
        "reverse zone REFUSED by NSD -> could not find out",
        refused && r.verdict.id == "verdict.ip.unknown" && find(&r, "ptr.missing").is_none(),
        &r,
    );

    delivered_through_postfix(&w, &mut c).await;
    receiving_side(&w, &mut c).await;

    println!("interop: {} of {} cases agree", c.count - c.failures.len(), c.count);
    assert!(
        c.failures.is_empty(),
        "interop disagreements:\n{}",
        c.failures.join("\n")
    );
}

/// The receiving side (issue 12): Postfix on port 25 probed as an MX, with the relay question;
/// Dovecot's IMAPS and POP3S through `mailbox`. The same ids the lab's own servers give.
async fn receiving_side(w: &World, c: &mut Cases) {
    use mxdoctor_engine::topics::{Topic, Topics};
    let check = |domain: &'static str| async move {
        let req = mxdoctor_engine::domain::DomainRequest {
            domain: domain.into(),
            ips: Vec::new(),
            helo: None,
            selectors: Vec::new(),
            bulk: false,
            submission: None,
            check_submission: false,
            lists: Vec::new(),
            domain_lists: Vec::new(),
            topics: Topics::of(&[Topic::Mx, Topic::Inbound]),
            relay_test: true,
        };
        Box::pin(mxdoctor_engine::domain::run(&ctx(w), &req)).await
    };
    let r = check("interop-shop.example").await;
    c.check(
        "Postfix MX: greets, STARTTLS, shared certificate is information, relay refused",
        find(&r, "mx.smtp.greets").is_some_and(|f| f.args["banner"].contains("ESMTP Postfix"))
            && find(&r, "mx.starttls.offered").is_some()
            && find(&r, "mx.cert.name-mismatch").is_some_and(|f| f.severity == Severity::Info)
            && find(&r, "mx.relay-refused").is_some_and(|f| f.args["reply"].starts_with("554 5.7.1"))
            && find(&r, "mx.open-relay").is_none(),
        &r,
    );
    // The TLS versions below 1.2 Postfix accepts on port 25, by our raw hellos and by
    // openssl s_client (the reference), which must agree.
    let ours: Vec<String> = find(&r, "mx.tls.legacy-accepted")
        .map(|f| f.args["versions"].split(", ").map(String::from).collect())
        .unwrap_or_default();
    let theirs: Vec<String> = [("TLS 1.1", "-tls1_1"), ("TLS 1.0", "-tls1")]
        .into_iter()
        .filter(|(_, flag)| openssl_accepts(w.mx_tls, flag))
        .map(|(v, _)| v.to_string())
        .collect();
    println!("legacy TLS on Postfix's port 25: mxdoctor {ours:?}, openssl {theirs:?}");
    c.check("legacy TLS versions agree with openssl s_client", ours == theirs, &r);
    let r = check("plain-mx.interop-host.example").await;
    c.check(
        "Postfix MX without TLS -> mx.starttls.missing",
        find(&r, "mx.starttls.missing").is_some(),
        &r,
    );
    let r = check("relay-mx.interop-host.example").await;
    c.check(
        "Postfix whose mynetworks covers every client -> open relay",
        find(&r, "mx.open-relay").is_some_and(|f| f.severity == Severity::Fail),
        &r,
    );
    for port in [IMAPS, POP3S] {
        let mailbox = |host: &str| {
            let req = mxdoctor_engine::mailbox::MailboxRequest::for_port(
                mxdoctor_proto::hostname::Hostname::parse(host).expect("host"),
                port,
            )
            .expect("port");
            async move { Box::pin(mxdoctor_engine::mailbox::run(&ctx(w), &req)).await }
        };
        let r = mailbox("mail.interop-shop.example").await;
        c.check(
            &format!("Dovecot {port} -> mailbox accept"),
            r.verdict.id == "verdict.mailbox.accept" && find(&r, "mailbox.greets").is_some(),
            &r,
        );
        let r = mailbox("sv1.interop-host.example").await;
        c.check(
            &format!("Dovecot {port}, a name its certificate lacks -> the same mismatch as sendas"),
            r.verdict.id == "verdict.mailbox.refuse" && find(&r, "tls.cert.name-mismatch").is_some(),
            &r,
        );
    }
}

/// Whether `openssl s_client` completes a handshake offering only one old version (`-tls1`,
/// `-tls1_1`) after STARTTLS on a loopback port. Security level 0 on our side, so that only the
/// server decides.
fn openssl_accepts(port: u16, flag: &str) -> bool {
    let out = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-starttls",
            "smtp",
            flag,
            "-cipher",
            "DEFAULT@SECLEVEL=0",
            "-brief",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl runs");
    out.status.success()
}

/// Sends `message` to Postfix's MX on `port` as the sender `client` (XCLIENT presents its world
/// address and name, so Postfix writes a realistic Received field), and returns what Postfix
/// delivered, with its Return-Path and Received fields.
async fn through_postfix(w: &World, port: u16, client: (&str, &str), message: &[u8]) -> Vec<u8> {
    let before = w.servers.delivered().len();
    let env = mxdoctor_lab::mta::Envelope {
        client_addr: client.0.parse().expect("ip"),
        client_name: client.1,
        helo: client.1,
        mail_from: "bounce@sender.example",
        recipients: &["taro@receiver.example"],
        starttls: true,
    };
    let sent = mxdoctor_lab::mta::send(
        format!("127.0.0.1:{port}").parse().expect("addr"),
        "sv1.interop-host.example",
        &w.env.ca_pem,
        &env,
        message,
    )
    .await
    .expect("Postfix accepts the message");
    assert!(sent.accepted, "{:?}", sent.transcript);
    for _ in 0..100 {
        let all = w.servers.delivered();
        if all.len() > before {
            return all.last().cloned().unwrap_or_default();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("Postfix did not deliver the message; transcript {:?}", sent.transcript);
}

/// `message` on mail the real Postfix received (issue 9 items 16 to 19), verified with the
/// `messages` lab world's DNS (its DKIM keys, SPF, DMARC and PTRs).
async fn delivered_through_postfix(w: &World, c: &mut Cases) {
    let lab = mxdoctor_lab::start(
        &mxdoctor_lab::World::builtin("messages").expect("messages world"),
        mxdoctor_lab::LabOptions {
            now: Some(NOW),
            ..Default::default()
        },
    )
    .await
    .expect("lab");
    let lab_env = LabEnv {
        resolver: lab.dns_addr(),
        map: lab.address_map().clone(),
        ca_pem: lab.ca_pem().to_string(),
        dnssec_anchor: None,
    };
    let verify = |raw: Vec<u8>| {
        let lab_env = &lab_env;
        async move {
            let ctx = lab_context(lab_env, clock::fixed(NOW), Duration::from_secs(5)).expect("context");
            let a = mxdoctor_proto::mail::analyze(&raw).expect("a message");
            Box::pin(mxdoctor_engine::message::run(
                &ctx,
                &raw,
                &a,
                "postfix.eml",
                &Default::default(),
                false,
            ))
            .await
        }
    };
    let body = "From: Shop <info@sender.example>\r\nTo: taro@receiver.example\r\nSubject: Order\r\nDate: Mon, 23 Nov 2026 09:00:00 +0000\r\nMessage-ID: <p-1@sender.example>\r\n\r\nThank you for your order.\r\n";
    let signed = mxdoctor_lab::mta::Mta::new(lab.world())
        .sign("sender.example", body.as_bytes())
        .expect("sign");
    let good = ("198.51.100.25", "mail.sender.example");

    let r = verify(through_postfix(w, w.mx_tls, good, &signed).await).await;
    c.check(
        "Postfix over TLS, signed, SPF-listed sender: inbox, entry hop PTR confirmed",
        r.verdict.id == "verdict.message.received-inbox" && find(&r, "ptr.forward-confirmed").is_some(),
        &r,
    );
    // Item 17: received in clear text is Gmail's 421 4.7.29.
    let r = verify(through_postfix(w, w.mx_plain, good, &signed).await).await;
    c.check(
        "Postfix without TLS: no-tls failure, deferred",
        find(&r, "msg.path.no-tls").is_some_and(|f| f.severity == Severity::Fail)
            && r.verdict.id == "verdict.message.received-defer",
        &r,
    );
    // Item 16: a sender whose IP has no PTR (Postfix writes "unknown").
    let r = verify(through_postfix(w, w.mx_tls, ("203.0.113.9", "mail.sender.example"), &signed).await).await;
    c.check(
        "Postfix, sender IP without PTR: 5.7.25 first",
        find(&r, "ptr.missing").is_some() && r.verdict.because.first().map(String::as_str) == Some("ptr.missing"),
        &r,
    );
    // Items 18 and 19: the body changed after signing, SPF passes aligned: DMARC passes.
    let tampered = String::from_utf8_lossy(&signed).replace("Thank you", "Pay now");
    let r = verify(through_postfix(w, w.mx_tls, good, tampered.as_bytes()).await).await;
    c.check(
        "Postfix, body altered after signing: DMARC passes by SPF, inbox, labelled results",
        find(&r, "msg.dkim.body-hash").is_some()
            && r.verdict.id == "verdict.message.received-inbox"
            && find(&r, "msg.dmarc.pass").is_some_and(|f| f.args["spf"] == "spf=pass aligned=yes"),
        &r,
    );
    // Item 19: a parent `_dmarc` question of the RFC 9989 tree walk is REFUSED; the From
    // domain's own policy was found and its own identifiers passed: DMARC passes.
    lab.set_dns_fault("_dmarc.example", Some(mxdoctor_lab::dns::Fault::Refused))
        .expect("fault");
    let r = verify(through_postfix(w, w.mx_tls, good, &signed).await).await;
    lab.set_dns_fault("_dmarc.example", None).expect("fault cleared");
    c.check(
        "Postfix, a parent _dmarc question REFUSED: DMARC passes on the From domain's own policy",
        find(&r, "msg.dmarc.pass").is_some() && r.verdict.id == "verdict.message.received-inbox",
        &r,
    );
}
