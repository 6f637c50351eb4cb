//! The test address over real SMTP: the lab's MTA (mxdoctor_lab::mta) signs a message with the
//! world's DKIM key and delivers it to the test address's listener, with STARTTLS or without,
//! playing its world address with XCLIENT. The report rests on what the listener saw.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use mxdoctor_engine::model::{Report, Severity};
use mxdoctor_lab::mta::{self, Envelope, Mta};
use mxdoctor_web::limits::Limits;
use mxdoctor_web::testaddr::TestAddressConfig;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const DOMAIN: &str = "test.mxdoctor.example";

/// A CA and a certificate for the test domain, so the lab MTA can check the listener's
/// certificate as it checks the lab MX's.
fn test_domain_cert() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec![DOMAIN.to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca_cert.pem(), leaf.pem(), key.serialize_pem())
}

struct Server {
    _lab: mxdoctor_lab::Lab,
    router: axum::Router,
    smtp: std::net::SocketAddr,
    ca_pem: String,
    state: mxdoctor_web::AppState,
}

async fn server(max_size: usize) -> Server {
    let lab = start("messages").await;
    let (ca_pem, cert, key) = test_domain_cert();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let smtp = listener.local_addr().unwrap();
    let mut cfg = TestAddressConfig::new(smtp, DOMAIN.into());
    cfg.tls = Some((cert, key));
    cfg.trust_xclient = true;
    cfg.max_size = max_size;
    let state = web_state(&lab, Limits::default(), Some(cfg));
    mxdoctor_web::testaddr::spawn(listener, state.clone()).unwrap();
    Server {
        router: mxdoctor_web::router(state.clone()),
        _lab: lab,
        smtp,
        ca_pem,
        state,
    }
}

/// Asks the API for a test address.
async fn new_address(s: &Server) -> (String, String) {
    let req = axum::http::Request::post("/api/v1/test-addresses")
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, _, body) = call(&s.router, req).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    (
        v["token"].as_str().unwrap().into(),
        v["address"].as_str().unwrap().into(),
    )
}

fn message(from: &str) -> Vec<u8> {
    format!(
        "From: Info <{from}>\r\nTo: you@{DOMAIN}\r\nSubject: Test\r\nDate: Mon, 23 Nov 2026 00:00:00 +0000\r\n\
         Message-ID: <test-1@sender.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nHello.\r\n"
    )
    .into_bytes()
}

/// The lab MTA sends `raw` from sender.example's world address to `to`.
async fn deliver(s: &Server, to: &str, raw: &[u8], starttls: bool) -> mta::SendOutcome {
    let recipients = [to];
    let env = Envelope {
        client_addr: "198.51.100.25".parse().unwrap(),
        client_name: "mail.sender.example",
        helo: "mail.sender.example",
        mail_from: "bounce@sender.example",
        recipients: &recipients,
        starttls,
    };
    mta::send(s.smtp, DOMAIN, &s.ca_pem, &env, raw)
        .await
        .expect("an SMTP session")
}

/// The report for a token, once it has arrived (bounded wait).
async fn report_for(s: &Server, token: &str) -> Report {
    for _ in 0..400 {
        let (status, _, body) = call(&s.router, get(&format!("/api/v1/test-addresses/{token}"))).await;
        assert_eq!(status, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if v["state"] == "received" {
            let url = v["report_url"].as_str().unwrap();
            for _ in 0..400 {
                let (status, _, body) = call(&s.router, get(url)).await;
                if status == StatusCode::OK {
                    return serde_json::from_slice(&body).unwrap();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no report for {token}");
}

#[tokio::test]
async fn signed_over_starttls_is_inbox_with_the_tls_rule_met() {
    let s = server(10 * 1024 * 1024).await;
    let (token, address) = new_address(&s).await;
    // The page shows the address and waits (refreshing itself).
    let (status, _, page) = call(&s.router, get(&format!("/t/{token}"))).await;
    assert_eq!(status, StatusCode::OK);
    let page = String::from_utf8(page).unwrap();
    assert!(
        page.contains(&address) && page.contains("http-equiv=\"refresh\""),
        "{page}"
    );
    let signed = Mta::new(s._lab.world())
        .sign("sender.example", &message("info@sender.example"))
        .unwrap();
    let out = deliver(&s, &address, &signed, true).await;
    assert!(out.accepted, "{:#?}", out.transcript);
    assert!(out.transcript.iter().any(|l| l == "C: STARTTLS"));
    let r = report_for(&s, &token).await;
    // Once the message is in, the page goes to the report.
    let (status, headers, _) = call(&s.router, get(&format!("/t/{token}"))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers["location"].to_str().unwrap().starts_with("/r/"));
    let tls = finding(&r, "msg.arrival.tls");
    assert_eq!(tls.args["version"], "TLSv1.3");
    assert_eq!(tls.args["ip"], "198.51.100.25", "the listener's fact, from XCLIENT");
    assert_has(&r, "msg.dkim.pass");
    assert_has(&r, "msg.spf.pass");
    assert_has(&r, "msg.dmarc.pass");
    assert_eq!(r.verdict.id, "verdict.message.received-inbox", "{:#?}", r.verdict);
    // One message per address: the token is used up.
    let again = deliver(&s, &address, &signed, true).await;
    assert!(!again.accepted);
    assert!(again.refused[0].1.starts_with("550 5.1.1"), "{:?}", again.refused);
}

#[tokio::test]
async fn the_same_without_tls_gets_gmails_4_7_29() {
    let s = server(10 * 1024 * 1024).await;
    let (token, address) = new_address(&s).await;
    let signed = Mta::new(s._lab.world())
        .sign("sender.example", &message("info@sender.example"))
        .unwrap();
    let out = deliver(&s, &address, &signed, false).await;
    assert!(out.accepted, "{:#?}", out.transcript);
    assert!(!out.transcript.iter().any(|l| l == "C: STARTTLS"));
    let r = report_for(&s, &token).await;
    let f = finding(&r, "msg.arrival.no-tls");
    assert_eq!(f.severity, Severity::Fail);
    assert_lacks(&r, "msg.arrival.tls");
    assert_eq!(r.verdict.id, "verdict.message.received-defer");
    assert_eq!(r.verdict.because, vec!["msg.arrival.no-tls".to_string()]);
    let gmail = mxdoctor_explain::text(mxdoctor_explain::Lang::En, "msg.arrival.no-tls", &f.args)
        .unwrap()
        .gmail
        .unwrap();
    assert!(gmail.contains("4.7.29"));
}

#[tokio::test]
async fn unsigned_mail_is_judged_on_spf_for_the_real_ip() {
    let s = server(10 * 1024 * 1024).await;
    let (token, address) = new_address(&s).await;
    let out = deliver(&s, &address, &message("info@sender.example"), true).await;
    assert!(out.accepted);
    let r = report_for(&s, &token).await;
    assert_has(&r, "msg.arrival.tls");
    let spf = finding(&r, "msg.spf.pass");
    assert_eq!(spf.args["domain"], "sender.example");
    assert_has(&r, "msg.dkim.none");
}

#[tokio::test]
async fn an_unknown_or_expired_token_is_refused_at_rcpt() {
    let s = server(10 * 1024 * 1024).await;
    let expired = s.state.tokens.issue(Duration::ZERO).unwrap();
    let out = deliver(
        &s,
        &format!("{expired}@{DOMAIN}"),
        &message("info@sender.example"),
        true,
    )
    .await;
    assert!(!out.accepted);
    assert!(out.refused[0].1.starts_with("550 5.1.1"), "{:?}", out.refused);
    let out = deliver(
        &s,
        &format!("t-00000000000000000000@{DOMAIN}"),
        &message("a@sender.example"),
        true,
    )
    .await;
    assert!(out.refused[0].1.starts_with("550 5.1.1"));
    // Another domain: not a relay.
    let out = deliver(&s, "someone@gmail.example", &message("a@sender.example"), true).await;
    assert!(out.refused[0].1.starts_with("550 5.7.1"), "{:?}", out.refused);
    // The page says the address is gone.
    let (status, _, _) = call(&s.router, get(&format!("/t/{expired}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A raw SMTP session: sends each line, returns the replies' first lines.
async fn raw_session(addr: std::net::SocketAddr, steps: &[&[u8]]) -> Vec<String> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut replies = Vec::new();
    let read_reply = async |r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>| {
        let mut first = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                return if first.is_empty() { "closed".to_string() } else { first };
            }
            if first.is_empty() {
                first = line.trim_end().to_string();
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return first;
            }
        }
    };
    replies.push(read_reply(&mut r).await);
    for step in steps {
        w.write_all(step).await.unwrap();
        replies.push(read_reply(&mut r).await);
    }
    replies
}

#[tokio::test]
async fn a_30_mib_message_is_refused_at_the_size_limit() {
    let s = server(10 * 1024 * 1024).await;
    let (_, address) = new_address(&s).await;
    // Declared with SIZE (RFC 1870): refused before any data.
    let replies = raw_session(
        s.smtp,
        &[
            b"EHLO mail.sender.example\r\n",
            b"MAIL FROM:<a@sender.example> SIZE=31457280\r\n",
            b"QUIT\r\n",
        ],
    )
    .await;
    assert!(replies[2].starts_with("552 5.3.4"), "{replies:?}");
    // Not declared: 30 MiB of DATA, refused after the final dot, and the session goes on.
    let line = format!("{}\r\n", "x".repeat(998));
    let mut data = Vec::with_capacity(31 * 1024 * 1024);
    data.extend_from_slice(b"Subject: big\r\n\r\n");
    while data.len() < 30 * 1024 * 1024 {
        data.extend_from_slice(line.as_bytes());
    }
    data.extend_from_slice(b".\r\n");
    let rcpt = format!("RCPT TO:<{address}>\r\n");
    let replies = raw_session(
        s.smtp,
        &[
            b"EHLO mail.sender.example\r\n",
            b"MAIL FROM:<a@sender.example>\r\n",
            rcpt.as_bytes(),
            b"DATA\r\n",
            &data,
            b"NOOP\r\n",
        ],
    )
    .await;
    assert!(replies[3].starts_with("250"), "{replies:?}");
    assert!(replies[4].starts_with("354"), "{replies:?}");
    assert!(replies[5].starts_with("552 5.3.4"), "{replies:?}");
    assert!(replies[6].starts_with("250"), "the session did not go on: {replies:?}");
}

#[tokio::test]
async fn smtp_protocol_abuse_is_refused_without_a_crash() {
    let s = server(1024 * 1024).await;
    let long = format!("EHLO {}\r\n", "a".repeat(5000));
    let replies = raw_session(
        s.smtp,
        &[
            b"MAIL FROM:<a@b.example>\r\n",
            b"EHLO x.example\r\n",
            b"RCPT TO:<t-00000000000000000000@test.mxdoctor.example>\r\n",
            b"DATA\r\n",
            b"BDAT 10\r\n",
            long.as_bytes(),
        ],
    )
    .await;
    assert!(replies[1].starts_with("503"), "{replies:?}");
    assert!(replies[2].starts_with("250"));
    assert!(replies[3].starts_with("503"), "RCPT before MAIL: {replies:?}");
    assert!(replies[4].starts_with("503"), "DATA before RCPT: {replies:?}");
    assert!(replies[5].starts_with("502"));
    assert!(replies[6].starts_with("500 5.5.6"), "{replies:?}");
    // STARTTLS with a command pipelined behind it (CVE-2011-0411) is refused.
    let replies = raw_session(s.smtp, &[b"EHLO x.example\r\n", b"STARTTLS\r\nRSET\r\n", b""]).await;
    assert!(replies[2].starts_with("220"), "{replies:?}");
    assert!(replies[3].starts_with("554 5.5.1"), "{replies:?}");
}
