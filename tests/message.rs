//! `message`: every bounce reason id fires (on the sisimai corpus, or on a crafted DSN where the
//! corpus has no example), Gmail's Send-mail-as notice is recognised in English and Japanese with
//! the sendas next step, text output is snapshot-tested, and bad input is a clear exit 2.

use std::collections::BTreeSet;
use std::process::Command;

use mxdoctor_proto::bounce::Reason;

const CORPUS: &str = "../shared/corpora/bounces/sisimai";

fn ctx() -> mxdoctor_engine::Context {
    // `message` uses no network; the context carries the clock. DNS points at a loopback port
    // nothing is asked of, and the connector dials nothing.
    let clock = mxdoctor_net::clock::fixed(time::macros::datetime!(2026-11-23 00:00 UTC));
    let timeout = std::time::Duration::from_secs(1);
    mxdoctor_engine::Context {
        dns: mxdoctor_net::Dns::new(&mxdoctor_net::DnsConfig {
            servers: vec!["127.0.0.1:9".parse().unwrap()],
            timeout,
            attempts: 1,
            trust_anchor: Default::default(),
        })
        .unwrap(),
        connector: mxdoctor_net::Connector::lab(Default::default()),
        tls: mxdoctor_net::tls::TlsSettings::webpki_roots(clock.clone(), timeout),
        clock,
        timeout,
        deadline: mxdoctor_engine::deadline::DEFAULT_DEADLINE,
        ehlo_name: "mxdoctor.invalid".into(),
    }
}

fn dsn(status: &str, diagnostic: &str) -> Vec<u8> {
    format!(
        "From: MAILER-DAEMON@mx.example.net\r\nTo: taro@hanako-shop.example\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; hanako@example.org\r\nAction: failed\r\nStatus: {status}\r\nDiagnostic-Code: smtp; {diagnostic}\r\n\r\n--b--\r\n"
    )
    .into_bytes()
}

#[test]
fn every_bounce_reason_fires() {
    let ctx = ctx();
    let mut fired = BTreeSet::new();
    let mut files: Vec<_> = std::fs::read_dir(CORPUS)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    for f in files {
        let a = mxdoctor_proto::mail::analyze(&std::fs::read(&f).unwrap()).unwrap();
        for x in mxdoctor_engine::message::report(&ctx, &a, "f").findings() {
            fired.insert(x.id.clone());
        }
    }
    // Reasons the corpus has no example of: crafted delivery-status notifications.
    let crafted = [
        (
            "5.7.1",
            "550 5.7.1 Service unavailable; client [203.0.113.45] blocked using low reputation",
        ),
        ("5.5.3", "452 4.5.3 Too many recipients"),
        ("4.7.0", "421 4.7.0 Too many connections from your host"),
        ("5.3.1", "552 5.3.1 Insufficient system storage, disk full"),
        ("5.7.1", "554 5.7.1 Message rejected: relay access denied"),
        ("4.0.0", "451 4.0.0 Please come back"),
        ("5.9.9", "no idea"),
        ("5.3.0", "550 5.3.0 internal error"),
        ("5.7.1", "550 5.7.1 filtered by content filter"),
        ("5.1.10", "556 5.1.10 Recipient address has null MX"),
        ("5.5.2", "500 5.5.2 Syntax error, command unrecognized"),
        ("4.7.0", "450 4.7.0 Sending rate limit exceeded, slow down"),
        ("5.0.0", "550 5.0.0 Message is not RFC 5322 compliant"),
    ];
    for (status, diag) in crafted {
        let a = mxdoctor_proto::mail::analyze(&dsn(status, diag)).unwrap();
        for x in mxdoctor_engine::message::report(&ctx, &a, "crafted").findings() {
            fired.insert(x.id.clone());
        }
    }
    let a = mxdoctor_proto::mail::analyze(b"From: nobody@example.org\r\nSubject: test\r\nAuto-Submitted: auto-generated\r\n\r\nsomething odd happened\r\n").unwrap();
    assert!(a.recipients.is_empty(), "not a bounce: no recipients");
    let missing: Vec<String> = Reason::ALL
        .iter()
        .map(|r| format!("bounce.{}", r.as_str()))
        .filter(|id| !fired.contains(id))
        .collect();
    assert!(missing.is_empty(), "never fired: {missing:?}");
}

#[test]
fn next_steps_name_the_right_command() {
    let ctx = ctx();
    let a = mxdoctor_proto::mail::analyze(&dsn(
        "5.7.25",
        "550-5.7.25 [203.0.113.45] The IP address sending this message does not have a PTR record setup",
    ))
    .unwrap();
    let r = mxdoctor_engine::message::report(&ctx, &a, "x");
    let f = r.findings().next().unwrap();
    assert_eq!(f.id, "bounce.requireptr");
    assert_eq!(f.args["next"], "mxdoctor ip 203.0.113.45");
    let a = mxdoctor_proto::mail::analyze(&dsn("5.7.26", "550-5.7.26 This mail is unauthenticated")).unwrap();
    let r = mxdoctor_engine::message::report(&ctx, &a, "x");
    assert_eq!(
        r.findings().next().unwrap().args["next"],
        "mxdoctor check hanako-shop.example"
    );
}

fn mxdoctor(args: &[&str], stdin: Option<&[u8]>) -> (Option<i32>, String, String) {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mxdoctor"));
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env("LANG", "C")
        .env_remove("LC_ALL");
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(b) = stdin {
        let _ = input.write_all(b);
    }
    drop(input);
    let o = child.wait_with_output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const SENDAS_EN: &str = "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\nTo: taro@gmail.com\r\nSubject: Delivery Status Notification (Failure)\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nWe couldn't send your message from taro@hanako-shop.example through mail.hanako-shop.example.\r\nTLS Negotiation failed, the certificate doesn't match the host.\r\n";
const SENDAS_JA: &str = "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\nTo: taro@gmail.com\r\nSubject: =?UTF-8?B?44Oh44O844Or44Gu6YWN5L+h44Ko44Op44O8?=\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nmail.hanako-shop.example 経由でメールを送信できませんでした。\r\nTLS ネゴシエーションに失敗しました。証明書がホストと一致しません。\r\n";

#[test]
fn gmail_send_as_bounce_in_english_and_japanese() {
    for (mail, lang) in [(SENDAS_EN, "en"), (SENDAS_JA, "ja")] {
        let (code, out, err) = mxdoctor(
            &["message", "-", "--lang", lang, "--now", "2026-11-23T00:00:00Z"],
            Some(mail.as_bytes()),
        );
        assert_eq!(code, Some(1), "{err}");
        assert!(out.contains("mxdoctor sendas mail.hanako-shop.example"), "{out}");
        insta::assert_snapshot!(format!("sendas_bounce_{lang}"), out);
    }
}

#[test]
fn corpus_bounce_text_snapshots() {
    for lang in ["en", "ja"] {
        let path = format!("{CORPUS}/rfc3464-01.eml");
        let (code, out, _) = mxdoctor(
            &["message", &path, "--lang", lang, "--now", "2026-11-23T00:00:00Z"],
            None,
        );
        assert_eq!(code, Some(1));
        insta::with_settings!({ filters => vec![(r"mxdoctor message \S+", "mxdoctor message [file]")] }, {
            insta::assert_snapshot!(format!("rfc3464_01_{lang}"), out);
        });
    }
}

#[test]
fn bad_input_is_a_clear_exit_2() {
    let (code, _, err) = mxdoctor(&["message", "-"], Some(b"\x00\x01\x02\x03 not mail at all"));
    assert_eq!(code, Some(2));
    assert!(err.contains("not an email"), "{err}");
    let (code, _, err) = mxdoctor(&["message", "/nonexistent/bounce.eml"], None);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot read"), "{err}");
    let big = vec![b'x'; 26 * 1024 * 1024];
    let (code, _, err) = mxdoctor(&["message", "-"], Some(&big));
    assert_eq!(code, Some(2));
    assert!(err.contains("limit"), "{err}");
    // Received messages are verified against the lab: tests/message_lab.rs. Their options are
    // checked before anything is read from the network.
    let ok = b"From: a@example.com\r\n\r\nx\r\n";
    for (args, want) in [
        (&["message", "-", "--ip", "1.2.3"][..], "--ip 1.2.3"),
        (&["message", "-", "--mail-from", "no-at-sign"][..], "--mail-from"),
        (&["message", "-", "--helo", "bad name!"][..], "--helo"),
    ] {
        let (code, _, err) = mxdoctor(args, Some(ok));
        assert_eq!(code, Some(2), "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn arf_feedback_report_fields_and_next_step() {
    let raw = std::fs::read(format!("{CORPUS}/arf-01.eml")).unwrap();
    let a = mxdoctor_proto::mail::analyze(&raw).unwrap();
    let fb = a.feedback.clone().expect("RFC 5965 fields");
    assert_eq!(fb.feedback_type.as_deref(), Some("abuse"));
    assert_eq!(fb.source_ip.as_deref(), Some("192.0.2.89"));
    assert_eq!(fb.reported_domain.as_deref(), Some("example.ed.jp"));
    let r = mxdoctor_engine::message::report(&ctx(), &a, "arf-01.eml");
    let f = r.findings().find(|f| f.id == "bounce.feedback").unwrap();
    assert_eq!(f.args["next"], "mxdoctor ip 192.0.2.89");
    assert_eq!(r.verdict.id, "verdict.message.feedback");
}

#[test]
fn message_kinds_get_their_verdicts() {
    let ctx = ctx();
    let verdict = |raw: &[u8]| {
        let a = mxdoctor_proto::mail::analyze(raw).unwrap();
        mxdoctor_engine::message::report(&ctx, &a, "x").verdict.id
    };
    assert_eq!(verdict(&dsn("2.0.0", "250 2.0.0 OK")), "verdict.message.delivered");
    assert_eq!(verdict(SENDAS_EN.as_bytes()), "verdict.message.gmail-sendas");
    assert_eq!(verdict(SENDAS_JA.as_bytes()), "verdict.message.gmail-sendas");
    assert_eq!(
        verdict(b"From: hanako@example.org\r\nTo: taro@hanako-shop.example\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\nI am away.\r\n"),
        "verdict.message.autoreply"
    );
    // The bounce report of a file that is no bounce says so (`message` itself verifies it).
    assert_eq!(
        verdict(b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n"),
        "verdict.message.ordinary"
    );
}
