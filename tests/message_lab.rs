//! `message` on received messages, end to end through the lab: the lab MTA signs with the
//! `messages` world's DKIM key (published in its zones), the lab MX writes the Received field,
//! and verification asks the lab DNS for keys, SPF and DMARC.

mod common;

use std::time::Duration;

use common::*;
use mxdoctor_engine::model::{CheckStatus, Report};
use mxdoctor_engine::received::ReceivedRequest;
use mxdoctor_lab::mta::{self, Handover, Mta};

const DATE: &str = "Mon, 23 Nov 2026 09:00:00 +0000";

fn message(from: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Shop <{from}>\r\nTo: taro@gmail.example\r\nSubject: Your order\r\nDate: {DATE}\r\nMessage-ID: <order-1@lab.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n{extra}\r\n{body}"
    )
    .into_bytes()
}

fn handover(ip: &str, helo: &'static str, tls: bool) -> Handover<'static> {
    Handover {
        helo,
        rdns: Some(helo),
        ip: ip.parse().unwrap(),
        by: "mx.receiver.example",
        tls,
        date: "Mon, 23 Nov 2026 09:00:02 +0000",
    }
}

/// Signed by sender.example, sent from its SPF-listed server over TLS.
fn good(lab: &mxdoctor_lab::Lab, body: &str) -> Vec<u8> {
    let m = message("info@sender.example", "", body);
    let signed = Mta::new(lab.world()).sign("sender.example", &m).unwrap();
    mta::relay(
        &signed,
        &handover("198.51.100.25", "mail.sender.example", true),
        Some("bounce@sender.example"),
    )
}

async fn verify(lab: &mxdoctor_lab::Lab, raw: &[u8], req: ReceivedRequest) -> Report {
    let ctx = mxdoctor::app::lab_context(&env(lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(3)).unwrap();
    let a = mxdoctor_proto::mail::analyze(raw).unwrap();
    mxdoctor_engine::message::run(&ctx, raw, &a, "lab.eml", &req, false).await
}

#[tokio::test]
async fn a_dkim_signed_lab_message_passes_everything() {
    let lab = start("messages").await;
    let r = verify(
        &lab,
        &good(&lab, "Thank you for your order.\r\n"),
        ReceivedRequest::default(),
    )
    .await;
    let dkim = finding(&r, "msg.dkim.pass");
    assert_eq!(
        (dkim.args["domain"].as_str(), dkim.args["selector"].as_str()),
        ("sender.example", "lab2026")
    );
    let spf = finding(&r, "msg.spf.pass");
    assert_eq!(spf.args["ip"], "198.51.100.25", "the client of the Received field");
    assert_eq!(spf.args["domain"], "sender.example", "the Return-Path domain");
    assert_eq!(finding(&r, "msg.dmarc.pass").args["policy"], "reject");
    assert_has(&r, "msg.hdr.ok");
    assert!(finding(&r, "msg.path.hops").args["path"].contains("mx.receiver.example (TLS ✔)"));
    assert_eq!(
        r.verdict.id,
        "verdict.message.received-inbox",
        "{}",
        mxdoctor_report::json(&r)
    );
    assert!(no_failures(&r));
    assert_eq!(r.exit_code(), 0);
}

#[tokio::test]
async fn a_tampered_body_fails_with_the_body_hash_cause() {
    let lab = start("messages").await;
    let raw = good(&lab, "Thank you for your order.\r\n");
    let tampered = String::from_utf8(raw).unwrap().replace("Thank you", "Pay now");
    let r = verify(&lab, tampered.as_bytes(), ReceivedRequest::default()).await;
    let f = finding(&r, "msg.dkim.body-hash");
    assert_eq!(f.args["domain"], "sender.example");
    assert_lacks(&r, "msg.dkim.pass");
    // SPF still passes aligned, so DMARC passes (issue 9 item 18): the broken signature is
    // information, not a broken rule; the verdict and the exit code agree with that.
    assert_has(&r, "msg.dmarc.pass");
    // Issue 9 item 19: each method's result beside its alignment, labelled.
    let d = finding(&r, "msg.dmarc.pass");
    assert_eq!(d.args["dkim"], "dkim=fail aligned=no");
    assert_eq!(d.args["spf"], "spf=pass aligned=yes");
    assert_eq!(f.severity, mxdoctor_engine::model::Severity::Warning);
    assert_eq!(r.verdict.id, "verdict.message.received-inbox");
    assert_eq!(r.exit_code(), 0);
}

#[tokio::test]
async fn a_changed_signed_header_breaks_the_signature() {
    let lab = start("messages").await;
    let raw = String::from_utf8(good(&lab, "Hello\r\n")).unwrap();
    let r = verify(
        &lab,
        raw.replace("Subject: Your order", "Subject: Your 0rder").as_bytes(),
        Default::default(),
    )
    .await;
    assert_has(&r, "msg.dkim.bad-signature");
}

#[tokio::test]
async fn unpublished_servfailing_expired_and_unsupported_signatures() {
    let lab = start("messages").await;
    let raw = String::from_utf8(good(&lab, "Hello\r\n")).unwrap();
    let cases = [
        (raw.replace("s=lab2026", "s=old2025"), "msg.dkim.no-key"),
        (raw.replace("s=lab2026", "s=down"), "msg.dkim.temperror"),
        (raw.replace("s=lab2026;", "s=lab2026; x=1000;"), "msg.dkim.expired"),
        (raw.replace("a=rsa-sha256", "a=rsa-sha512"), "msg.dkim.permerror"),
    ];
    for (m, id) in cases {
        let r = verify(&lab, m.as_bytes(), Default::default()).await;
        assert!(has(&r, id), "expected {id}, got {:?}", ids(&r));
        assert_lacks(&r, "msg.dkim.pass");
    }
}

#[tokio::test]
async fn unsigned_mail_from_an_unlisted_server_is_rejected_as_gmail_would() {
    let lab = start("messages").await;
    let m = message(
        "info@unsigned.example",
        "Authentication-Results: mx.receiver.example; dkim=pass header.d=unsigned.example; spf=pass smtp.mailfrom=unsigned.example\r\n",
        "Hi\r\n",
    );
    let raw = mta::relay(
        &m,
        &handover("203.0.113.9", "shop-pc.example", false),
        Some("info@unsigned.example"),
    );
    let r = verify(&lab, &raw, Default::default()).await;
    assert_has(&r, "msg.dkim.none");
    assert_eq!(finding(&r, "msg.spf.fail").args["result"], "fail");
    assert_eq!(finding(&r, "msg.dmarc.fail").args["policy"], "reject");
    // The SPF result is "fail", not the alignment state "none" (issue 9 item 19).
    assert_eq!(finding(&r, "msg.dmarc.fail").args["spf"], "spf=fail aligned=no");
    assert_has(&r, "msg.unauthenticated");
    assert_eq!(finding(&r, "msg.path.no-tls").args["ip"], "203.0.113.9");
    // The receiver's own header said pass; ours says otherwise, and we say so.
    assert_eq!(finding(&r, "msg.ar.shown").args["host"], "mx.receiver.example");
    let d: Vec<_> = r
        .findings()
        .filter(|f| f.id == "msg.ar.disagree")
        .map(|f| f.args["method"].clone())
        .collect();
    assert_eq!(d, vec!["dkim", "spf"]);
    assert_eq!(r.verdict.id, "verdict.message.received-reject");
    // Issue 9 item 16: the entry hop has no PTR (Gmail's 5.7.25, checked at connection time,
    // before authentication), then 5.7.26.
    assert_eq!(r.verdict.because[..2], ["ptr.missing", "msg.unauthenticated"]);
    assert_eq!(finding(&r, "ptr.missing").args["ip"], "203.0.113.9");
    assert_eq!(r.exit_code(), 1);
}

#[tokio::test]
async fn spf_none_and_error_and_the_ip_given_by_hand() {
    let lab = start("messages").await;
    // No Received field: SPF cannot run, and says why instead of guessing.
    let m = message("info@unsigned.example", "", "Hi\r\n");
    let r = verify(&lab, &m, Default::default()).await;
    let spf = r.checks.iter().find(|c| c.check == "message.spf").unwrap();
    assert!(matches!(&spf.status, CheckStatus::Skipped { reason } if reason == "skip.message.no-client-ip"));
    assert_lacks(&r, "msg.unauthenticated");
    // --ip and --mail-from at a domain without SPF: none.
    let req = ReceivedRequest {
        ip: Some("198.51.100.25".parse().unwrap()),
        mail_from: Some("x@nospf.example".into()),
        ..Default::default()
    };
    let r = verify(&lab, &m, req).await;
    let f = finding(&r, "msg.spf.none");
    assert_eq!(
        (f.args["result"].as_str(), f.args["source"].as_str()),
        ("none", "IP ← --ip, MAIL FROM ← --mail-from")
    );
    // A record that does not parse: permerror.
    let req = ReceivedRequest {
        ip: Some("198.51.100.25".parse().unwrap()),
        mail_from: Some("x@permerr.unsigned.example".into()),
        ..Default::default()
    };
    let r = verify(&lab, &m, req).await;
    assert_eq!(finding(&r, "msg.spf.error").args["result"], "permerror");
}

#[tokio::test]
async fn bulk_mail_needs_one_click_unsubscribe() {
    let lab = start("messages").await;
    let plain = message("news@newsletter.example", "", "Sale!\r\n");
    let one_click = message(
        "news@newsletter.example",
        "List-Unsubscribe: <https://newsletter.example/u/1>, <mailto:u@newsletter.example>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
        "Sale!\r\n",
    );
    let send = |m: &[u8]| {
        let signed = Mta::new(lab.world()).sign("newsletter.example", m).unwrap();
        mta::relay(
            &signed,
            &handover("198.51.100.25", "mail.sender.example", true),
            Some("b@newsletter.example"),
        )
    };
    let bulk = ReceivedRequest {
        bulk: true,
        ..Default::default()
    };
    let r = verify(&lab, &send(&plain), bulk.clone()).await;
    let f = finding(&r, "msg.hdr.one-click-missing");
    assert_eq!(f.severity, mxdoctor_engine::model::Severity::Fail);
    assert_eq!(r.verdict.id, "verdict.message.received-spam");
    let r = verify(&lab, &send(&one_click), bulk.clone()).await;
    assert_eq!(
        finding(&r, "msg.hdr.one-click").args["uris"],
        "https://newsletter.example/u/1, mailto:u@newsletter.example"
    );
    assert_eq!(finding(&r, "msg.dmarc.pass").args["policy"], "none");
    assert_eq!(r.verdict.id, "verdict.message.received-inbox");
    // A From domain that publishes no DMARC record at all.
    let m = message("news@nodmarc.example", "", "x\r\n");
    let raw = mta::relay(
        &m,
        &handover("198.51.100.25", "mail.sender.example", true),
        Some("b@nodmarc.example"),
    );
    let r = verify(&lab, &raw, bulk).await;
    assert_eq!(finding(&r, "msg.dmarc.none").args["domain"], "nodmarc.example");
}

#[tokio::test]
async fn header_rules_of_gmail() {
    let lab = start("messages").await;
    let req = ReceivedRequest {
        ip: Some("198.51.100.25".parse().unwrap()),
        ..Default::default()
    };
    let two_from =
        b"From: a@sender.example\r\nFrom: b@sender.example\r\nReturn-Path: <a@sender.example>\r\nSubject: x\r\n\r\nx\r\n";
    let r = verify(&lab, two_from, req.clone()).await;
    assert_eq!(finding(&r, "msg.hdr.from-count").args["count"], "2");
    assert_has(&r, "msg.hdr.no-message-id");
    assert_has(&r, "msg.hdr.no-date");
    assert_eq!(r.verdict.id, "verdict.message.received-reject");
    let list = b"From: a@sender.example\r\nReturn-Path: <a@sender.example>\r\nDate: Mon, 23 Nov 2026 09:00:00 +0000\r\nMessage-ID: <1@sender.example>\r\nPrecedence: list\r\nSubject: x\r\n\r\nx\r\n";
    let r = verify(&lab, list, req.clone()).await;
    assert_has(&r, "msg.hdr.no-list-id");
    let forged = b"From: someone@gmail.com\r\nReturn-Path: <a@sender.example>\r\nDate: Mon, 23 Nov 2026 09:00:00 +0000\r\nMessage-ID: <1@sender.example>\r\nSubject: x\r\n\r\nx\r\n";
    let r = verify(&lab, forged, req).await;
    assert_eq!(finding(&r, "msg.hdr.forged-gmail").args["from"], "someone@gmail.com");
    assert_eq!(r.verdict.id, "verdict.message.received-reject");
}

#[tokio::test]
async fn the_received_path_shows_hops_tls_and_delays() {
    let lab = start("messages").await;
    let m = message("info@sender.example", "", "x\r\n");
    let first = mta::relay(
        &m,
        &Handover {
            helo: "pc.sender.example",
            rdns: None,
            ip: "192.168.1.20".parse().unwrap(),
            by: "mail.sender.example",
            tls: true,
            date: "Mon, 23 Nov 2026 09:00:00 +0000",
        },
        None,
    );
    let second = mta::relay(
        &first,
        &Handover {
            date: "Mon, 23 Nov 2026 09:25:00 +0000",
            ..handover("198.51.100.25", "mail.sender.example", false)
        },
        Some("info@sender.example"),
    );
    let r = verify(&lab, &second, Default::default()).await;
    let hops = finding(&r, "msg.path.hops");
    assert_eq!(hops.args["count"], "2");
    assert_eq!(
        hops.args["path"],
        "mail.sender.example (TLS ✔) → mx.receiver.example (TLS ✘)"
    );
    assert_eq!(finding(&r, "msg.path.delay").args["seconds"], "1500");
    // Only the Internet hop without TLS counts, not the private one.
    let no_tls: Vec<_> = r.findings().filter(|f| f.id == "msg.path.no-tls").collect();
    assert_eq!(no_tls.len(), 1);
    // SPF is evaluated for the entry hop's public client, not the private first hop.
    assert_eq!(finding(&r, "msg.spf.pass").args["ip"], "198.51.100.25");
}

#[tokio::test]
async fn a_lab_bounce_is_explained_with_the_next_step() {
    let lab = start("messages").await;
    let original = good(&lab, "Hi\r\n");
    let dsn = mta::bounce(
        &original,
        "mail.sender.example",
        "info@sender.example",
        DATE,
        &mta::Failure {
            recipient: "taro@gmail.example",
            status: "5.7.26",
            diagnostic: "550-5.7.26 This mail has been blocked because the sender is unauthenticated.",
            remote_mta: "gmail-smtp-in.l.google.com",
        },
    );
    let r = verify(&lab, &dsn, Default::default()).await;
    let f = finding(&r, "bounce.authfailure");
    assert_eq!(f.args["status"], "5.7.26");
    assert_eq!(f.args["next"], "mxdoctor check sender.example");
    assert_eq!(r.verdict.id, "verdict.message.bounce");
    assert_lacks(&r, "spf.valid");
    // --online runs that check and adds its findings, labelled with the command.
    let ctx = mxdoctor::app::lab_context(&env(&lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(3)).unwrap();
    let a = mxdoctor_proto::mail::analyze(&dsn).unwrap();
    let r = mxdoctor_engine::message::run(&ctx, &dsn, &a, "lab.eml", &Default::default(), true).await;
    assert_eq!(finding(&r, "spf.valid").subject, "sender.example");
    assert_eq!(finding(&r, "dmarc.found").args["policy"], "reject");
    assert!(
        r.checks
            .iter()
            .any(|c| c.subject == "sender.example (mxdoctor check sender.example)"),
        "{:?}",
        r.checks.iter().map(|c| &c.subject).collect::<Vec<_>>()
    );
    assert_eq!(r.verdict.id, "verdict.message.bounce");
}

#[tokio::test]
async fn hostile_messages_end_cleanly() {
    let lab = start("messages").await;
    let many_received = {
        let mut s = String::new();
        for i in 0..500 {
            s.push_str(&format!(
                "Received: from a{i} (a [198.51.100.{}]) by b with SMTP; {DATE}\r\n",
                i % 250
            ));
        }
        s.push_str("From: a@sender.example\r\n\r\nx\r\n");
        s
    };
    let broken_dkim = "DKIM-Signature: v=1; a=rsa-sha256; d=; s=; b=!!!; bh=???\r\nFrom: a@sender.example\r\n\r\nx\r\n";
    let huge_header = format!(
        "From: a@sender.example\r\nSubject: {}\r\n\r\nx\r\n",
        "x".repeat(1024 * 1024)
    );
    let ten_thousand_parts = {
        let mut s = String::from(
            "From: a@sender.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n",
        );
        for i in 0..10_000 {
            s.push_str(&format!("--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n"));
        }
        s + "--b--\r\n"
    };
    let nested_rfc822 = {
        let mut m = String::from("From: a@sender.example\r\n\r\nend\r\n");
        for i in 0..3000 {
            m = format!("From: a@sender.example\r\nSubject: n{i}\r\nContent-Type: message/rfc822\r\n\r\n{m}");
        }
        m
    };
    let broken_mime = "From: a@sender.example\r\nSubject: =?x-unknown?B?!!!?=\r\nContent-Type: multipart/mixed; boundary=\r\nContent-Transfer-Encoding: base64\r\n\r\n--\r\n\u{fffd}garbage=?utf-8?q?\r\n";
    for m in [
        many_received.as_str(),
        broken_dkim,
        huge_header.as_str(),
        ten_thousand_parts.as_str(),
        nested_rfc822.as_str(),
        broken_mime,
    ] {
        let r = verify(&lab, m.as_bytes(), Default::default()).await;
        assert!(r.verdict.id.starts_with("verdict.message."), "{}", r.verdict.id);
        // A message without Message-ID is never judged deliverable.
        assert_has(&r, "msg.hdr.no-message-id");
    }
}

#[tokio::test]
async fn received_message_text_snapshots_en_ja() {
    let lab = start("messages").await;
    let unsigned = mta::relay(
        &message("info@unsigned.example", "", "Hi\r\n"),
        &handover("203.0.113.9", "shop-pc.example", false),
        Some("info@unsigned.example"),
    );
    for (name, raw) in [("signed", good(&lab, "Hello\r\n")), ("unsigned", unsigned)] {
        let r = verify(&lab, &raw, Default::default()).await;
        for lang in [mxdoctor_explain::Lang::En, mxdoctor_explain::Lang::Ja] {
            let out = plain_text(&r, lang);
            insta::assert_snapshot!(format!("received_{name}_{}", lang.as_str()), out);
        }
    }
}

/// Bounces the lab MTA produces for the replies Gmail, Outlook and common MTAs really give: each
/// is classified into its reason and points at the check that examines it.
#[tokio::test]
async fn lab_bounces_for_each_common_reply_get_their_reason() {
    let lab = start("messages").await;
    let original = good(&lab, "Hi\r\n");
    let cases = [
        (
            "5.1.1",
            "550-5.1.1 The email account that you tried to reach does not exist.",
            "userunknown",
            "-",
        ),
        (
            "5.2.2",
            "552-5.2.2 The recipient's inbox is out of storage space.",
            "mailboxfull",
            "-",
        ),
        (
            "5.7.25",
            "550-5.7.25 [198.51.100.25] The IP address sending this message does not have a PTR record setup",
            "requireptr",
            "mxdoctor ip 198.51.100.25",
        ),
        (
            "5.7.26",
            "550-5.7.26 Unauthenticated email from sender.example is not accepted due to domain's DMARC policy.",
            "authfailure",
            "mxdoctor check sender.example",
        ),
        (
            "5.7.515",
            "550 5.7.515 Access denied, sending domain sender.example does not meet the required authentication level.",
            "authfailure",
            "mxdoctor check sender.example",
        ),
        (
            "5.7.1",
            "550-5.7.1 Our system has detected that this message is likely unsolicited mail.",
            "spamdetected",
            "mxdoctor check sender.example",
        ),
        (
            "4.7.28",
            "421-4.7.28 Our system has detected an unusual rate of unsolicited mail originating from your IP address.",
            "spamdetected",
            "mxdoctor check sender.example",
        ),
        (
            "5.3.4",
            "552-5.3.4 Your message exceeded Google's message size limits.",
            "mesgtoobig",
            "-",
        ),
    ];
    for (status, diagnostic, reason, next) in cases {
        let dsn = mta::bounce(
            &original,
            "mail.sender.example",
            "info@sender.example",
            DATE,
            &mta::Failure {
                recipient: "taro@gmail.example",
                status,
                diagnostic,
                remote_mta: "gmail-smtp-in.l.google.com",
            },
        );
        let r = verify(&lab, &dsn, Default::default()).await;
        let f = r
            .findings()
            .find(|f| f.id.starts_with("bounce."))
            .unwrap_or_else(|| panic!("{status}: no bounce finding"));
        assert_eq!(f.id, format!("bounce.{reason}"), "{status} {diagnostic}");
        assert_eq!(f.args["status"], status);
        assert_eq!(f.args["next"], next, "{status}");
    }
}

#[tokio::test]
async fn without_return_path_the_from_address_is_the_assumed_envelope_sender() {
    let lab = start("messages").await;
    let signed = Mta::new(lab.world())
        .sign("sender.example", &message("info@sender.example", "", "x\r\n"))
        .unwrap();
    let req = ReceivedRequest {
        ip: Some("198.51.100.25".parse().unwrap()),
        ..Default::default()
    };
    let r = verify(&lab, &signed, req).await;
    let f = finding(&r, "msg.spf.pass");
    assert_eq!(f.args["domain"], "sender.example");
    assert_eq!(f.args["source"], "IP ← --ip, MAIL FROM ≈ From");
    // Nothing at all to evaluate SPF for: skipped with the reason, never a guess.
    let bare = b"Subject: x\r\nMessage-ID: <1@x.example>\r\n\r\nx\r\n";
    let r = verify(
        &lab,
        bare,
        ReceivedRequest {
            ip: Some("198.51.100.25".parse().unwrap()),
            ..Default::default()
        },
    )
    .await;
    let spf = r.checks.iter().find(|c| c.check == "message.spf").unwrap();
    assert!(matches!(&spf.status, CheckStatus::Skipped { reason } if reason == "skip.message.no-identity"));
}

/// The whole path over real SMTP: the lab MTA signs, delivers with STARTTLS to the lab MX, which
/// writes Return-Path and Received (with the XCLIENT world address and the TLS version); the
/// message out of the lab mailbox verifies through the lab DNS. An unknown recipient is refused
/// by the MX, and the bounce made from its reply is explained.
#[tokio::test]
async fn over_real_smtp_through_the_lab_mx() {
    let lab = start("messages").await;
    let socket = lab
        .address_map()
        .get(&"192.0.2.99:25".parse().unwrap())
        .expect("the MX is mapped");
    let signed = Mta::new(lab.world())
        .sign(
            "sender.example",
            &message("info@sender.example", "", "Thank you.\r\n.leading dot\r\n"),
        )
        .unwrap();
    let env = mta::Envelope {
        client_addr: "198.51.100.25".parse().unwrap(),
        client_name: "mail.sender.example",
        helo: "mail.sender.example",
        mail_from: "bounce@sender.example",
        recipients: &["taro@gmail.example", "nobody@gmail.example"],
        starttls: true,
    };
    let out = mta::send(socket, "mx.receiver.example", lab.ca_pem(), &env, &signed)
        .await
        .unwrap();
    assert!(out.accepted, "{:#?}", out.transcript);
    assert_eq!(out.refused.len(), 1);
    assert!(out.refused[0].1.starts_with("550 5.1.1"), "{:?}", out.refused);
    let delivered = lab.mailbox();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].recipients, vec!["taro@gmail.example"]);
    let raw = &delivered[0].message;
    assert!(
        String::from_utf8_lossy(raw).contains("\r\n.leading dot\r\n"),
        "dot-stuffing undone"
    );
    let r = verify(&lab, raw, Default::default()).await;
    assert_has(&r, "msg.dkim.pass");
    let spf = finding(&r, "msg.spf.pass");
    assert_eq!(spf.args["ip"], "198.51.100.25");
    assert_eq!(spf.args["domain"], "sender.example");
    assert_has(&r, "msg.dmarc.pass");
    let hops = finding(&r, "msg.path.hops");
    assert_eq!(hops.args["path"], "mx.receiver.example (TLS ✔)");
    assert_eq!(r.verdict.id, "verdict.message.received-inbox");
    // The refused recipient, as the sending MTA reports it.
    let (rcpt, reply) = &out.refused[0];
    let status = reply.split_whitespace().nth(1).unwrap();
    let dsn = mta::bounce(
        &signed,
        "mail.sender.example",
        "bounce@sender.example",
        DATE,
        &mta::Failure {
            recipient: rcpt,
            status,
            diagnostic: reply,
            remote_mta: "mx.receiver.example",
        },
    );
    let r = verify(&lab, &dsn, Default::default()).await;
    assert_eq!(
        finding(&r, "bounce.userunknown").args["recipient"],
        "nobody@gmail.example"
    );
}

#[tokio::test]
async fn every_skip_reason_fires_and_reads_in_both_languages() {
    let lab = start("messages").await;
    let mut seen = std::collections::BTreeSet::new();
    let ip = ReceivedRequest {
        ip: Some("198.51.100.25".parse().unwrap()),
        ..Default::default()
    };
    let cases: [(&[u8], ReceivedRequest); 3] = [
        // No Received, no IP: SPF and the path are skipped.
        (b"From: a@sender.example\r\n\r\nx\r\n", ReceivedRequest::default()),
        // An IP but no identity at all; two From fields: DMARC skipped.
        (b"Subject: x\r\n\r\nx\r\n", ip.clone()),
        (b"From: a@sender.example\r\nFrom: b@sender.example\r\n\r\nx\r\n", ip),
    ];
    for (raw, req) in cases {
        let r = verify(&lab, raw, req).await;
        for c in &r.checks {
            if let CheckStatus::Skipped { reason } = &c.status {
                seen.insert(reason.clone());
                for lang in [mxdoctor_explain::Lang::En, mxdoctor_explain::Lang::Ja] {
                    let t = mxdoctor_explain::text(lang, reason, &Default::default());
                    assert!(t.is_some(), "{reason} has no {} text", lang.as_str());
                }
            }
        }
    }
    // The one left, a header mail-auth cannot read, is driven by the checks directly.
    let ctx = mxdoctor::app::lab_context(&env(&lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(3)).unwrap();
    let checks = mxdoctor_engine::received::checks(&ctx, b"\x00\x01", &Default::default(), "junk").await;
    for c in &checks {
        if let CheckStatus::Skipped { reason } = &c.status {
            seen.insert(reason.clone());
        }
    }
    // The message's own reasons; `skip.not-selected` (`--checks`) fires in
    // tests/domain_lab.rs, checks_left_out_are_skipped_never_passed.
    let all: std::collections::BTreeSet<String> = mxdoctor_engine::registry::SKIP_REASONS
        .iter()
        .filter(|s| s.starts_with("skip.message."))
        .map(|s| s.to_string())
        .collect();
    assert_eq!(seen, all);
}

// Issue 9 item 11: a file saved with LF line endings verifies like the CRLF original.
#[tokio::test]
async fn lf_line_endings_are_read_as_crlf() {
    let lab = start("messages").await;
    let crlf = good(&lab, "Thank you for your order.\r\n");
    let lf = String::from_utf8(crlf).unwrap().replace("\r\n", "\n");
    let r = verify(&lab, lf.as_bytes(), ReceivedRequest::default()).await;
    assert_has(&r, "msg.dkim.pass");
    assert_eq!(
        r.verdict.id,
        "verdict.message.received-inbox",
        "{}",
        mxdoctor_report::json(&r)
    );
    let dkim = r.checks.iter().find(|c| c.check == "message.dkim").unwrap();
    let said = dkim
        .evidence
        .iter()
        .any(|e| matches!(e, mxdoctor_engine::model::Evidence::Note(n) if n.contains("bare LF")));
    assert!(said, "the evidence says the file had bare LFs");
}

// Issue 9 item 17: received without TLS is Gmail's 421 4.7.29 for every sender: a deferral,
// however well the message is authenticated.
#[tokio::test]
async fn no_tls_into_the_receiver_is_a_deferral() {
    let lab = start("messages").await;
    let m = message("info@sender.example", "", "Thank you.\r\n");
    let signed = Mta::new(lab.world()).sign("sender.example", &m).unwrap();
    let raw = mta::relay(
        &signed,
        &handover("198.51.100.25", "mail.sender.example", false),
        Some("bounce@sender.example"),
    );
    let r = verify(&lab, &raw, ReceivedRequest::default()).await;
    assert_has(&r, "msg.dkim.pass");
    let f = finding(&r, "msg.path.no-tls");
    assert_eq!(f.severity, mxdoctor_engine::model::Severity::Fail);
    assert_eq!(r.verdict.id, "verdict.message.received-defer");
    assert_eq!(r.verdict.because, ["msg.path.no-tls"]);
}

// Issue 9 items 12 and 13: each DKIM-Signature field yields exactly one finding, of the kind
// RFC 6376 section 6.1 and RFC 8301 give it, naming its d= and s=.
#[tokio::test]
async fn each_signature_gets_one_finding_of_the_right_kind() {
    let lab = start("messages").await;
    let raw = String::from_utf8(good(&lab, "Hello\r\n")).unwrap();
    let cases = [
        // A malformed key record is a permanent error, not "could not be fetched right now".
        (raw.replace("s=lab2026", "s=colon"), "msg.dkim.permerror"),
        // The key record's s= or h= exclude email or the signature's hash: unusable.
        (raw.replace("s=lab2026", "s=web"), "msg.dkim.permerror"),
        (raw.replace("s=lab2026", "s=sha1only"), "msg.dkim.permerror"),
        // RFC 8301: a 768-bit key is too short (said so, not "changed header fields").
        (raw.replace("s=lab2026", "s=short"), "msg.dkim.key-too-short"),
        // RFC 8301: rsa-sha1 is never a pass.
        (raw.replace("a=rsa-sha256", "a=rsa-sha1"), "msg.dkim.sha1"),
        // v= is required (RFC 6376 section 3.5).
        (raw.replacen("v=1; ", "", 1), "msg.dkim.permerror"),
    ];
    for (m, id) in cases {
        let r = verify(&lab, m.as_bytes(), Default::default()).await;
        let dkim: Vec<_> = r.findings().filter(|f| f.id.starts_with("msg.dkim.")).collect();
        assert_eq!(dkim.len(), 1, "one field, one finding: {:?}", ids(&r));
        assert_eq!(dkim[0].id, id, "{:?}", dkim[0]);
        assert_eq!(dkim[0].args["domain"], "sender.example");
        assert_ne!(dkim[0].args["selector"], "-");
        assert_lacks(&r, "msg.dkim.pass");
    }
    let r = verify(&lab, raw.replace("s=lab2026", "s=short").as_bytes(), Default::default()).await;
    assert_eq!(finding(&r, "msg.dkim.key-too-short").args["bits"], "768");
    // A second field that is pure garbage is a finding of its own: 2 fields, 2 findings.
    let two = raw.replacen(
        "DKIM-Signature:",
        "DKIM-Signature: this is not a signature\r\nDKIM-Signature:",
        1,
    );
    let r = verify(&lab, two.as_bytes(), Default::default()).await;
    let dkim: Vec<_> = r
        .findings()
        .filter(|f| f.id.starts_with("msg.dkim."))
        .map(|f| f.id.as_str())
        .collect();
    assert_eq!(dkim, ["msg.dkim.permerror", "msg.dkim.pass"], "{:?}", ids(&r));
}

/// Issue 9 item 19 (RFC 9989 section 4.10): the From domain publishes its own policy, and a
/// name server refuses the question for a parent `_dmarc` name during the tree walk. The
/// failed question can only change the organisational domain, which matters for relaxed
/// alignment of a different subdomain; identifiers equal to the From domain align whatever it
/// is, so DMARC passes and the failed question is shown, not turned into an error.
#[tokio::test]
async fn a_refused_parent_dmarc_query_changes_only_the_organisational_domain() {
    let lab = start("messages").await;
    let raw = good(&lab, "Thank you for your order.\r\n");
    lab.set_dns_fault("_dmarc.example", Some(mxdoctor_lab::dns::Fault::Refused))
        .unwrap();
    let r = verify(&lab, &raw, ReceivedRequest::default()).await;
    lab.set_dns_fault("_dmarc.example", None).unwrap();
    assert_has(&r, "msg.dkim.pass");
    assert_has(&r, "msg.dmarc.pass");
    assert_eq!(r.verdict.id, "verdict.message.received-inbox", "{:?}", ids(&r));
}
