//! An error never passes (issue 8 item 3): each DNS question a verdict rests on is forced, one
//! at a time, into SERVFAIL, REFUSED and a timeout, in a world where every check otherwise
//! passes. The verdict must then be neither "accept" nor a confident rejection: a check that
//! could not run says so, and the verdict says "could not find out" (or what the receiver does
//! on a temporary error). The baseline row proves each command accepts the healthy world, so
//! every other row fails if the error were ignored.

mod common;

use std::time::Duration;

use common::*;
use mxdoctor_engine::model::Report;
use mxdoctor_engine::received::ReceivedRequest;
use mxdoctor_lab::Lab;
use mxdoctor_lab::dns::Fault;
use mxdoctor_lab::mta::{self, Handover, Mta};

/// Each question gets one second: a timeout row costs about that.
const TIMEOUT: Duration = Duration::from_secs(1);

fn ctx(lab: &Lab) -> mxdoctor_engine::Context {
    mxdoctor::app::lab_context(&env(lab), mxdoctor_net::clock::fixed(NOW), TIMEOUT).unwrap()
}

#[derive(Debug, Clone, Copy)]
enum Cmd {
    Check,
    Sendas,
    Ip,
    Spf,
    /// A DKIM-signed message from sender.example's SPF-listed server.
    Message,
    /// The same without a signature: SPF is its only authentication.
    MessageUnsigned,
    /// Signed, from a relay SPF does not list: DKIM is its only authentication.
    MessageDkimOnly,
}

async fn run(lab: &Lab, cmd: Cmd) -> Report {
    let c = ctx(lab);
    match cmd {
        Cmd::Check => {
            let cli = <mxdoctor::cli::Cli as clap::Parser>::try_parse_from([
                "mxdoctor",
                "check",
                "good-mail.example",
                "--ip",
                "198.51.100.80",
            ])
            .unwrap();
            let mxdoctor::cli::Command::Check(a) = cli.command else {
                unreachable!()
            };
            mxdoctor_engine::domain::run(&c, &mxdoctor::app::domain_request(&a).unwrap()).await
        }
        Cmd::Sendas => {
            let req = mxdoctor::app::sendas_request("mail.good-mail.example", 587, None, None, None).unwrap();
            mxdoctor_engine::sendas::run(&c, &req).await
        }
        Cmd::Ip => {
            let req = mxdoctor::app::ip_request("198.51.100.80", None, &[], false).unwrap();
            mxdoctor_engine::ip::run(&c, &req).await
        }
        Cmd::Spf => {
            let req = mxdoctor::app::spf_request("good-mail.example", &["198.51.100.80".into()], None, None).unwrap();
            mxdoctor_engine::spf::run(&c, &req).await
        }
        Cmd::Message | Cmd::MessageUnsigned | Cmd::MessageDkimOnly => {
            let (signed, ip) = match cmd {
                Cmd::MessageUnsigned => (false, "198.51.100.25"),
                Cmd::MessageDkimOnly => (true, "198.51.100.26"),
                _ => (true, "198.51.100.25"),
            };
            let raw = received_message(lab, signed, ip);
            let a = mxdoctor_proto::mail::analyze(&raw).unwrap();
            mxdoctor_engine::message::run(&c, &raw, &a, "lab.eml", &ReceivedRequest::default(), false).await
        }
    }
}

/// A message from sender.example (signed or not) handed over from its SPF-listed server over TLS.
fn received_message(lab: &Lab, signed: bool, ip: &str) -> Vec<u8> {
    let m = "From: Shop <info@sender.example>\r\nTo: taro@gmail.example\r\nSubject: Order\r\nDate: Mon, 23 Nov 2026 09:00:00 +0000\r\nMessage-ID: <o-1@sender.example>\r\n\r\nThank you.\r\n";
    let m = if signed {
        Mta::new(lab.world()).sign("sender.example", m.as_bytes()).unwrap()
    } else {
        m.as_bytes().to_vec()
    };
    mta::relay(
        &m,
        &Handover {
            helo: "mail.sender.example",
            rdns: Some("mail.sender.example"),
            ip: ip.parse().unwrap(),
            by: "mx.receiver.example",
            tls: true,
            date: "Mon, 23 Nov 2026 09:00:02 +0000",
        },
        Some("bounce@sender.example"),
    )
}

/// What each command says when all is well.
fn accepted(cmd: Cmd) -> &'static str {
    match cmd {
        Cmd::Check => "verdict.domain.accept",
        Cmd::Sendas => "verdict.sendas.accept",
        Cmd::Ip => "verdict.ip.accept",
        Cmd::Spf => "verdict.spf.ok",
        Cmd::Message | Cmd::MessageUnsigned | Cmd::MessageDkimOnly => "verdict.message.received-inbox",
    }
}

/// Verdicts that state a definite refusal or breakage.
const CONFIDENT_NO: &[&str] = &[
    "verdict.domain.reject",
    "verdict.domain.spam",
    "verdict.sendas.refuse",
    "verdict.ip.reject",
    "verdict.spf.broken",
    "verdict.message.received-reject",
    "verdict.message.received-spam",
];

/// (command, world, the name whose questions fail, what the check that asks it is)
const TABLE: &[(Cmd, &str, &str)] = &[
    (Cmd::Check, "good-domain", "good-mail.example"),
    (Cmd::Check, "good-domain", "_dmarc.good-mail.example"),
    (Cmd::Check, "good-domain", "80.100.51.198.in-addr.arpa"),
    (Cmd::Check, "good-domain", "mail.good-mail.example"),
    (Cmd::Check, "good-domain", "80.100.51.198.zen.spamhaus.org"),
    (Cmd::Check, "good-domain", "google._domainkey.good-mail.example"),
    (Cmd::Sendas, "good-domain", "mail.good-mail.example"),
    (Cmd::Ip, "good-domain", "80.100.51.198.in-addr.arpa"),
    (Cmd::Ip, "good-domain", "mail.good-mail.example"),
    (Cmd::Ip, "good-domain", "80.100.51.198.b.barracudacentral.org"),
    (Cmd::Ip, "good-domain", "2.0.0.127.bl.spamcop.net"),
    (Cmd::Spf, "good-domain", "good-mail.example"),
    (Cmd::Message, "messages", "_dmarc.sender.example"),
    (Cmd::MessageUnsigned, "messages", "sender.example"),
    (Cmd::MessageUnsigned, "messages", "_dmarc.sender.example"),
    // Issue 9 item 14: the DKIM key and the DMARC record of a message DKIM alone authenticates,
    // and the entry hop's PTR.
    (Cmd::MessageDkimOnly, "messages", "lab2026._domainkey.sender.example"),
    (Cmd::MessageDkimOnly, "messages", "_dmarc.sender.example"),
    (Cmd::MessageDkimOnly, "messages", "26.100.51.198.in-addr.arpa"),
];

#[tokio::test]
async fn errors_never_pass_and_never_confidently_fail() {
    let mut failures = Vec::new();
    for world in ["good-domain", "messages"] {
        let lab = start(world).await;
        let cmds: Vec<Cmd> = {
            let mut v: Vec<Cmd> = TABLE.iter().filter(|r| r.1 == world).map(|r| r.0).collect();
            v.dedup_by_key(|c| format!("{c:?}"));
            v
        };
        // Baseline: the healthy world is accepted by every command of the table.
        for cmd in &cmds {
            let r = run(&lab, *cmd).await;
            assert_eq!(
                r.verdict.id,
                accepted(*cmd),
                "{cmd:?} baseline in {world}: {}",
                mxdoctor_report::json(&r)
            );
        }
        for (cmd, _, name) in TABLE.iter().filter(|r| r.1 == world) {
            for fault in [Fault::ServFail, Fault::Refused, Fault::Timeout] {
                lab.set_dns_fault(name, Some(fault)).unwrap();
                let r = run(&lab, *cmd).await;
                lab.set_dns_fault(name, None).unwrap();
                let v = r.verdict.id.as_str();
                if v == accepted(*cmd) || CONFIDENT_NO.contains(&v) {
                    failures.push(format!(
                        "{cmd:?} with {fault:?} for {name}: {v} because {:?}",
                        r.verdict.because
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "verdicts that ignored an error:\n{}",
        failures.join("\n")
    );
}
