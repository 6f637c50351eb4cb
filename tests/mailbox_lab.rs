//! `mailbox` (issue 12): the IMAP and POP3 server as mail apps see it, in the lab. The same
//! certificate gets the same verdict here as in `sendas`.

mod common;

use std::time::Duration;

use common::*;
use mxdoctor_engine::mailbox::MailboxRequest;
use mxdoctor_engine::model::{Report, Severity};
use mxdoctor_proto::hostname::Hostname;

async fn mailbox(lab: &mxdoctor_lab::Lab, host: &str, port: u16) -> Report {
    let c = mxdoctor::app::lab_context(&env(lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(2)).unwrap();
    let req = MailboxRequest::for_port(Hostname::parse(host).unwrap(), port).unwrap();
    mxdoctor_engine::mailbox::run(&c, &req).await
}

/// The certificate findings of a report, as (id, severity), sorted.
fn cert_findings(r: &Report) -> Vec<(String, Severity)> {
    let mut v: Vec<(String, Severity)> = r
        .findings()
        .filter(|f| f.id.starts_with("tls.cert."))
        .map(|f| (f.id.clone(), f.severity))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn the_same_certificate_gets_the_same_verdict_as_sendas() {
    let lab = start("mailbox-cases").await;
    let cases = [
        ("mail.good.mbox.example", "accept", "tls.cert.trusted"),
        ("mail.shop.mbox.example", "refuse", "tls.cert.name-mismatch"),
        ("mail.self.mbox.example", "refuse", "tls.cert.self-signed"),
        ("mail.old.mbox.example", "refuse", "tls.cert.expired"),
    ];
    for (host, outcome, id) in cases {
        let smtp = sendas(&lab, host, 587).await;
        assert_eq!(smtp.verdict.id, format!("verdict.sendas.{outcome}"), "{host}");
        for port in [993, 995, 143, 110] {
            let r = mailbox(&lab, host, port).await;
            assert_eq!(
                r.verdict.id,
                format!("verdict.mailbox.{outcome}"),
                "{host}:{port} {:?}",
                ids(&r)
            );
            assert_eq!(cert_findings(&r), cert_findings(&smtp), "{host}:{port}");
            assert_has(&r, id);
            assert_has(&r, "mailbox.greets");
        }
    }
}

#[tokio::test]
async fn the_name_to_type_instead_is_proven_by_a_session() {
    let lab = start("mailbox-cases").await;
    for port in [993, 110] {
        let r = mailbox(&lab, "mail.shop.mbox.example", port).await;
        let f = finding(&r, "mailbox.candidates");
        assert_eq!(f.args["candidates"], "sv1.host.mbox.example");
        let ok = mailbox(&lab, "sv1.host.mbox.example", port).await;
        assert_eq!(ok.verdict.id, "verdict.mailbox.accept");
    }
}

#[tokio::test]
async fn pop3_reports_say_gmail_fetching_ended_in_2026() {
    let lab = start("mailbox-cases").await;
    let r = mailbox(&lab, "mail.good.mbox.example", 995).await;
    assert_has(&r, "mailbox.gmail-fetch-ended");
    assert!(plain_text(&r, mxdoctor_explain::Lang::En).contains("January 2026"));
    assert!(plain_text(&r, mxdoctor_explain::Lang::Ja).contains("2026年1月"));
    assert_lacks(
        &mailbox(&lab, "mail.good.mbox.example", 993).await,
        "mailbox.gmail-fetch-ended",
    );
}

#[tokio::test]
async fn no_starttls_silence_and_other_protocols() {
    let lab = start("mailbox-cases").await;
    for port in [143, 110] {
        let r = mailbox(&lab, "mail.plain.mbox.example", port).await;
        assert_eq!(
            finding(&r, "mailbox.starttls.missing").severity,
            Severity::Fail,
            "{port}"
        );
        assert_eq!(
            finding(&r, "mailbox.login-before-tls").severity,
            Severity::Warning,
            "{port}"
        );
        assert_eq!(r.verdict.id, "verdict.mailbox.refuse");
    }
    for port in [993, 995] {
        let r = mailbox(&lab, "mail.busy.mbox.example", port).await;
        assert!(
            finding(&r, "mailbox.refused").args["reply"].contains("Too many connections"),
            "{port}"
        );
    }
    for port in [143, 110] {
        let r = mailbox(&lab, "mail.broken.mbox.example", port).await;
        assert_eq!(
            finding(&r, "mailbox.starttls.rejected").severity,
            Severity::Fail,
            "{port}"
        );
        assert_lacks(&r, "mailbox.starttls.missing");
    }
    // A POP3 server that never greets: a finding within the timeout, not a hang.
    let r = mailbox(&lab, "mail.silent.mbox.example", 110).await;
    assert_eq!(finding(&r, "mailbox.no-greeting").args["secs"], "2");
    // The SMTP submission port given as a mailbox port.
    let modes = start("security-modes").await;
    let c = mxdoctor::app::lab_context(&env(&modes), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(2)).unwrap();
    let req = MailboxRequest {
        host: Hostname::parse("mail.modes.example").unwrap(),
        port: 587,
        protocol: mxdoctor_net::mailbox::Protocol::Imap,
        security: mxdoctor_net::smtp::Security::Starttls,
    };
    let r = mxdoctor_engine::mailbox::run(&c, &req).await;
    assert_eq!(finding(&r, "mailbox.not-mailbox").args["what"], "SMTP");
    // Nothing plays that port: never dialled, unreachable, never a pass.
    let r = mailbox(&lab, "mail.plain.mbox.example", 993).await;
    assert_eq!(r.verdict.id, "verdict.mailbox.unreachable");
    assert_eq!(r.verdict.because, ["error.unmapped"]);
    assert_eq!(r.exit_status(), 1);
    // A DNS failure: not known.
    lab.set_dns_fault("mail.good.mbox.example", Some(mxdoctor_lab::dns::Fault::ServFail))
        .unwrap();
    let r = mailbox(&lab, "mail.good.mbox.example", 993).await;
    assert_eq!(r.verdict.id, "verdict.mailbox.unknown");
    assert_eq!(r.exit_status(), 2);
}

#[tokio::test]
async fn mailbox_report_text_en_and_ja() {
    let lab = start("mailbox-cases").await;
    // The shared host's certificate on POP3S: the mismatch, the name to type, Gmail's ended
    // fetcher.
    let r = mailbox(&lab, "mail.shop.mbox.example", 995).await;
    for (lang, name) in [
        (mxdoctor_explain::Lang::En, "mailbox_shop_995_en"),
        (mxdoctor_explain::Lang::Ja, "mailbox_shop_995_ja"),
    ] {
        let text = plain_text(&r, lang);
        assert!(text.contains("sv1.host.mbox.example"), "{text}");
        // Worded for a mail app: not Gmail's "Send mail as" dialog or its error.
        assert!(
            !text.contains("TLS Negotiation failed") && !text.contains("SMTP"),
            "{text}"
        );
        insta::assert_snapshot!(name, text);
    }
}
