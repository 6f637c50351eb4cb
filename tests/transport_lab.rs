//! How the world delivers to a domain (issue 12), in the lab: TLS-RPT (RFC 8460 section 3),
//! each MX on port 25 (crates/engine/src/inbound.rs), MTA-STS (RFC 8461).

mod common;

use std::time::Duration;

use common::*;
use mxdoctor_engine::model::{CheckStatus, Report, Severity};

async fn tlsrpt(lab: &mxdoctor_lab::Lab, domain: &str) -> Report {
    let c = mxdoctor::app::lab_context(&env(lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(3)).unwrap();
    let check = mxdoctor_engine::tlsrpt::check(&c, domain).await;
    let v = mxdoctor_engine::domain::verdict(&[], domain);
    Report::new(&c, "t", domain, v, vec![check])
}

#[tokio::test]
async fn rfc8460_section_3_each_tlsrpt_case_has_its_finding() {
    let lab = start("transport-cases").await;
    let r = tlsrpt(&lab, "good.transport.example").await;
    assert_eq!(
        finding(&r, "tlsrpt.found").args["rua"],
        "mailto:tls@good.transport.example, https://reports.transport.example/tlsrpt"
    );
    // Two character-strings are one record.
    assert_has(&tlsrpt(&lab, "split.transport.example").await, "tlsrpt.found");
    let cases = [
        ("none.transport.example", "tlsrpt.missing", Severity::Info),
        // A TXT with another version is discarded: no record, not an invalid one.
        ("other.transport.example", "tlsrpt.missing", Severity::Info),
        ("two.transport.example", "tlsrpt.multiple", Severity::Warning),
        ("bad.transport.example", "tlsrpt.syntax-error", Severity::Warning),
    ];
    for (domain, id, severity) in cases {
        let r = tlsrpt(&lab, domain).await;
        assert_eq!(finding(&r, id).severity, severity, "{domain}");
        assert_lacks(&r, "tlsrpt.found");
    }
    let r = tlsrpt(&lab, "bad.transport.example").await;
    assert!(finding(&r, "tlsrpt.syntax-error").args["error"].contains("http://"));
    assert_eq!(
        finding(&tlsrpt(&lab, "two.transport.example").await, "tlsrpt.multiple").args["count"],
        "2"
    );
}

#[tokio::test]
async fn a_failed_tlsrpt_lookup_is_not_a_missing_record() {
    let lab = start("transport-cases").await;
    lab.set_dns_fault(
        "_smtp._tls.good.transport.example",
        Some(mxdoctor_lab::dns::Fault::ServFail),
    )
    .unwrap();
    let r = tlsrpt(&lab, "good.transport.example").await;
    assert!(r.checks[0].findings.is_empty());
    assert!(matches!(
        r.checks[0].status,
        mxdoctor_engine::model::CheckStatus::Error { .. }
    ));
}

/// The receiving side of `check` alone: the MX set, its port-25 probes and MTA-STS.
async fn receiving(lab: &mxdoctor_lab::Lab, domain: &str, relay_test: bool) -> Report {
    let c = mxdoctor::app::lab_context(&env(lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(2)).unwrap();
    receiving_with(&c, domain, relay_test).await
}

async fn receiving_with(c: &mxdoctor_engine::Context, domain: &str, relay_test: bool) -> Report {
    use mxdoctor_engine::topics::Topic;
    let topics = [Topic::Mx, Topic::Inbound, Topic::Mtasts, Topic::Dane];
    mxdoctor_engine::domain::run(c, &request(domain, &topics, relay_test)).await
}

/// A domain request for `topics` alone, nothing given (IPs, selectors, submission).
fn request(
    domain: &str,
    topics: &[mxdoctor_engine::topics::Topic],
    relay_test: bool,
) -> mxdoctor_engine::domain::DomainRequest {
    mxdoctor_engine::domain::DomainRequest {
        domain: domain.into(),
        ips: Vec::new(),
        helo: None,
        selectors: Vec::new(),
        bulk: false,
        submission: None,
        check_submission: false,
        lists: Vec::new(),
        domain_lists: Vec::new(),
        topics: mxdoctor_engine::topics::Topics::of(topics),
        relay_test,
    }
}

fn severity_of(r: &Report, id: &str) -> Severity {
    finding(r, id).severity
}

#[tokio::test]
async fn each_mx_on_port_25_has_its_finding() {
    let lab = start("transport-cases").await;
    let good = receiving(&lab, "sts-good.transport.example", true).await;
    // Both addresses of the MX (IPv4 and IPv6) are probed, each once.
    let smtp: Vec<_> = good.checks.iter().filter(|c| c.check == "mx.smtp").collect();
    assert_eq!(smtp.len(), 2, "{smtp:?}");
    for c in &smtp {
        let ids: Vec<&str> = c.findings.iter().map(|f| f.id.as_str()).collect();
        for id in [
            "mx.smtp.greets",
            "mx.starttls.offered",
            "mx.cert.valid",
            "mx.relay-refused",
        ] {
            assert!(ids.contains(&id), "{}: {ids:?}", c.subject);
        }
    }
    assert!(finding(&good, "mx.relay-refused").args["reply"].starts_with("554 5.7.1"));
    assert_lacks(&good, "mx.banner.ptr-mismatch");
    let cases = [
        ("plain.transport.example", "mx.starttls.missing", Severity::Warning),
        ("plain.transport.example", "mx.banner.ptr-mismatch", Severity::Info),
        ("tls10.transport.example", "mx.tls.too-old", Severity::Warning),
        ("legacy.transport.example", "mx.tls.legacy-accepted", Severity::Notice),
        ("legacy.transport.example", "mx.cert.untrusted", Severity::Info),
        ("broken.transport.example", "mx.starttls.rejected", Severity::Warning),
        ("silent.transport.example", "mx.smtp.no-greeting", Severity::Warning),
        ("http.transport.example", "mx.smtp.not-smtp", Severity::Fail),
        ("sni.transport.example", "mx.sni.selects-cert", Severity::Info),
        ("mismatch.transport.example", "mx.cert.name-mismatch", Severity::Info),
        ("twice.transport.example", "mx.duplicate", Severity::Notice),
        ("refusing.transport.example", "mx.smtp.refused", Severity::Warning),
        ("alert.transport.example", "mx.tls.failed", Severity::Warning),
        ("expired.transport.example", "mx.cert.expired", Severity::Info),
    ];
    for (domain, id, severity) in cases {
        let r = receiving(&lab, domain, false).await;
        assert_eq!(severity_of(&r, id), severity, "{domain}: {:?}", ids(&r));
    }
    // With SNI the MX name's own certificate; the mismatch is only what no-SNI senders see.
    assert_has(&receiving(&lab, "sni.transport.example", false).await, "mx.cert.valid");
    let r = receiving(&lab, "relay.transport.example", true).await;
    assert_eq!(severity_of(&r, "mx.open-relay"), Severity::Fail);
    assert!(finding(&r, "mx.open-relay").args["rcpt"].ends_with("@example.net"));
    // The relay question is asked only when asked for, and never with DATA.
    assert_lacks(
        &receiving(&lab, "relay.transport.example", false).await,
        "mx.open-relay",
    );
    assert!(lab.mailbox().is_empty());
}

#[tokio::test]
async fn five_hundred_mx_hosts_are_bounded_and_said_so() {
    let lab = start("transport-cases").await;
    let r = receiving(&lab, "many.transport.example", false).await;
    assert_eq!(finding(&r, "mx.too-many").args["count"], "500");
    assert_eq!(finding(&r, "mx.smtp.not-all-probed").args["left_out"], "10");
    // The addresses have no server in the lab: not dialled, so "could not test", never a pass.
    let probed: Vec<_> = r
        .checks
        .iter()
        .filter(|c| c.check == "mx.smtp" && c.subject.contains('('))
        .collect();
    assert_eq!(probed.len(), 10);
    assert!(
        probed
            .iter()
            .all(|c| c.findings.is_empty() && matches!(c.status, CheckStatus::Error { .. }))
    );
}

#[tokio::test]
async fn rfc8461_each_mta_sts_case_has_its_finding() {
    let lab = start("transport-cases").await;
    let good = receiving(&lab, "sts-good.transport.example", false).await;
    let valid = finding(&good, "mtasts.valid");
    assert_eq!(
        (valid.args["mode"].as_str(), valid.args["mx"].as_str()),
        ("enforce", "mx.sts-good.transport.example")
    );
    assert_lacks(&good, "mtasts.mx-tls-fails");
    assert_lacks(&good, "mtasts.mx-not-covered");
    let cases = [
        ("good.transport.example", "mtasts.missing", Severity::Info),
        ("sts-two.transport.example", "mtasts.multiple", Severity::Warning),
        (
            "sts-badrecord.transport.example",
            "mtasts.record-invalid",
            Severity::Warning,
        ),
        ("sts-testing.transport.example", "mtasts.mode-testing", Severity::Notice),
        (
            "sts-testing.transport.example",
            "mtasts.max-age-short",
            Severity::Notice,
        ),
        // Testing mode: an uncovered MX is reported, not enforced.
        (
            "sts-testing.transport.example",
            "mtasts.mx-not-covered",
            Severity::Warning,
        ),
        ("sts-none.transport.example", "mtasts.mode-none", Severity::Notice),
        (
            "sts-redirect.transport.example",
            "mtasts.policy-redirect",
            Severity::Fail,
        ),
        ("sts-big.transport.example", "mtasts.policy-too-large", Severity::Fail),
        (
            "sts-slow.transport.example",
            "mtasts.policy-unavailable",
            Severity::Fail,
        ),
        (
            "sts-gone.transport.example",
            "mtasts.policy-unavailable",
            Severity::Fail,
        ),
        (
            "sts-type.transport.example",
            "mtasts.policy-content-type",
            Severity::Fail,
        ),
        ("sts-invalid.transport.example", "mtasts.policy-invalid", Severity::Fail),
        (
            "sts-wrongcert.transport.example",
            "mtasts.policy-cert-invalid",
            Severity::Fail,
        ),
    ];
    for (domain, id, severity) in cases {
        let r = receiving(&lab, domain, false).await;
        assert_eq!(severity_of(&r, id), severity, "{domain}: {:?}", ids(&r));
    }
    let redirect = receiving(&lab, "sts-redirect.transport.example", false).await;
    assert_eq!(finding(&redirect, "mtasts.policy-redirect").args["status"], "301");
    let slow = receiving(&lab, "sts-slow.transport.example", false).await;
    assert!(finding(&slow, "mtasts.policy-unavailable").args["reason"].contains("within 2 s"));
}

#[tokio::test]
async fn rfc8461_section_4_2_enforce_with_a_bad_mx_certificate_fails() {
    let lab = start("transport-cases").await;
    let r = receiving(&lab, "sts-badcert.transport.example", false).await;
    assert_has(&r, "mtasts.valid");
    let f = finding(&r, "mtasts.mx-tls-fails");
    assert_eq!(f.severity, Severity::Fail);
    assert!(f.args["hosts"].contains("mx.sts-badcert.transport.example"));
    // The MX finding itself stays information: opportunistic senders still deliver.
    assert_eq!(severity_of(&r, "mx.cert.name-mismatch"), Severity::Info);
    // Without a policy the same certificate fails nothing.
    let plain = receiving(&lab, "mismatch.transport.example", false).await;
    assert!(
        plain
            .checks
            .iter()
            .flat_map(|c| &c.findings)
            .all(|f| f.severity != Severity::Fail)
    );
}

/// The most connections open at the same moment, per server address.
fn max_open(steps: &[mxdoctor_net::timeline::Step]) -> std::collections::HashMap<std::net::IpAddr, usize> {
    use mxdoctor_net::timeline::StepKind;
    let mut events: Vec<(Duration, i32, std::net::IpAddr)> = Vec::new();
    for s in steps.iter().filter(|s| s.kind == StepKind::Connection) {
        let ip = s.peer.unwrap().ip();
        events.push((s.start, 1, ip));
        events.push((s.end, -1, ip));
    }
    events.sort_by_key(|(t, delta, _)| (*t, *delta));
    let mut open = std::collections::HashMap::new();
    let mut most = std::collections::HashMap::new();
    for (_, delta, ip) in events {
        let n: &mut i32 = open.entry(ip).or_default();
        *n += delta;
        let m: &mut usize = most.entry(ip).or_default();
        *m = (*m).max(*n as usize);
    }
    most
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_two_connections_to_one_mx_address_even_without_the_gate() {
    let lab = start("transport-cases").await;
    let mut ctx =
        mxdoctor::app::lab_context(&env(&lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(2)).unwrap();
    // No politeness gate: the probe's own order must keep to two.
    ctx.connector = ctx.connector.clone().with_gate(None);
    let (traced, timeline) = ctx.traced();
    // The legacy MX costs the most connections: session, no-SNI and 1.2, TLS 1.1, TLS 1.0.
    let r = receiving_with(&traced, "legacy.transport.example", true).await;
    assert_has(&r, "mx.tls.legacy-accepted");
    let steps = timeline.steps();
    let mx: std::net::IpAddr = "192.0.2.105".parse().unwrap();
    let opened = steps
        .iter()
        .filter(|s| s.kind == mxdoctor_net::timeline::StepKind::Connection && s.peer.unwrap().ip() == mx)
        .count();
    assert_eq!(opened, 4, "{steps:#?}");
    assert!(max_open(&steps)[&mx] <= 2);
}

async fn six_domains_with_one_mx(ctx: &mxdoctor_engine::Context) -> usize {
    let domains = ["sts-good", "sts-testing", "sts-none", "sts-type", "sts-two", "twice"];
    let mut runs = tokio::task::JoinSet::new();
    for d in domains {
        let ctx = ctx.clone();
        runs.spawn(async move { receiving_with(&ctx, &format!("{d}.transport.example"), false).await });
    }
    let mut offered = 0;
    while let Some(r) = runs.join_next().await {
        offered += ids(&r.unwrap()).iter().filter(|i| *i == "mx.starttls.offered").count();
    }
    offered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_two_connections_to_one_mx_address_across_domains() {
    let lab = start("transport-cases").await;
    let ctx = mxdoctor::app::lab_context(&env(&lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(5)).unwrap();
    let mx: std::net::IpAddr = "192.0.2.101".parse().unwrap();
    let (limited, timeline) = ctx.clone().traced();
    // Six domains, one MX (two addresses): every probe of every domain completes.
    assert_eq!(six_domains_with_one_mx(&limited).await, 12);
    assert!(max_open(&timeline.steps())[&mx] <= 2);
    // Without the gate the same work opens more at once: the count above can fail.
    let mut unlimited = ctx.clone();
    unlimited.connector = unlimited.connector.clone().with_gate(None);
    let (unlimited, timeline) = unlimited.traced();
    six_domains_with_one_mx(&unlimited).await;
    assert!(max_open(&timeline.steps())[&mx] > 2);
}

/// The DANE check of one MX host.
fn dane_of<'a>(r: &'a Report, host: &str) -> &'a mxdoctor_engine::model::CheckResult {
    r.checks
        .iter()
        .find(|c| c.check == "dane" && c.subject == host)
        .unwrap_or_else(|| panic!("no dane check for {host}: {:?}", ids(r)))
}

#[tokio::test]
async fn rfc7672_tlsa_against_the_presented_chain() {
    let lab = start("dane-cases").await;
    let good = receiving(&lab, "good.dane.example", false).await;
    assert_eq!(severity_of(&good, "dnssec.secure"), Severity::Pass);
    let f = finding(&good, "dane.valid");
    assert!(f.args["record"].starts_with("3 1 1 "), "{f:?}");
    // DANE-TA: the intermediate the server sends, and the name of the MX in the leaf.
    let ta = receiving(&lab, "ta.dane.example", false).await;
    assert!(finding(&ta, "dane.valid").args["record"].starts_with("2 0 1 "));
    // The record of the certificate the server used before: stale, a failure.
    let stale = receiving(&lab, "stale.dane.example", false).await;
    let f = finding(&stale, "dane.mismatch");
    assert_eq!(f.severity, Severity::Fail);
    assert!(f.args["presented"].starts_with("3 1 1 ") && f.args["presented"] != f.args["records"]);
    assert_lacks(&stale, "dane.valid");
    let cases = [
        (
            "bad.dane.example",
            "mx.bad.dane.example",
            "dane.tlsa-malformed",
            Severity::Warning,
        ),
        (
            "bad.dane.example",
            "mx.bad.dane.example",
            "dane.tlsa-unusable",
            Severity::Warning,
        ),
        (
            "pkix.dane.example",
            "mx.pkix.dane.example",
            "dane.tlsa-unusable",
            Severity::Warning,
        ),
        (
            "notls.dane.example",
            "mx.notls.dane.example",
            "dane.no-tls",
            Severity::Fail,
        ),
        (
            "nodane.dane.example",
            "mx.nodane.dane.example",
            "dane.missing",
            Severity::Info,
        ),
        (
            "plain-dns.example",
            "mx.plain-dns.example",
            "dane.tlsa-insecure",
            Severity::Warning,
        ),
        // Nothing answers at the MX: the records cannot be compared, which is not a pass.
        (
            "unreach.dane.example",
            "mx.unreach.dane.example",
            "dane.not-compared",
            Severity::Info,
        ),
    ];
    for (domain, host, id, severity) in cases {
        let r = receiving(&lab, domain, false).await;
        let c = dane_of(&r, host);
        let f = c
            .findings
            .iter()
            .find(|f| f.id == id)
            .unwrap_or_else(|| panic!("{domain}: {c:?}"));
        assert_eq!(f.severity, severity, "{domain}");
    }
    assert_has(&receiving(&lab, "pkix.dane.example", false).await, "dnssec.secure");
    let plain = receiving(&lab, "plain-dns.example", false).await;
    assert_eq!(severity_of(&plain, "dnssec.insecure"), Severity::Info);
}

#[tokio::test]
async fn rfc4035_bogus_dnssec_is_bogus_not_missing() {
    let lab = start("dane-cases").await;
    let r = receiving(&lab, "bogus.example", false).await;
    assert_eq!(severity_of(&r, "dnssec.bogus"), Severity::Fail);
    assert_eq!(dane_of(&r, "mx.bogus.example").findings[0].id, "dnssec.bogus");
    for absent in ["dnssec.insecure", "dane.missing", "dane.tlsa-insecure", "dane.valid"] {
        assert_lacks(&r, absent);
    }
}

#[tokio::test]
async fn the_provider_is_recognised_and_its_selectors_come_first() {
    use mxdoctor_engine::topics::Topic;
    let lab = start("transport-cases").await;
    let c = mxdoctor::app::lab_context(&env(&lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(2)).unwrap();
    let run = |domain: &'static str| {
        let c = c.clone();
        async move {
            let req = request(domain, &[Topic::Mx, Topic::Spf, Topic::Dkim], false);
            mxdoctor_engine::domain::run(&c, &req).await
        }
    };
    let google = run("workspace.transport.example").await;
    let f = finding(&google, "provider.detected");
    assert_eq!(f.args["provider"], "Google Workspace");
    assert!(f.args["via"].contains("MX aspmx.l.google.com") && f.args["via"].contains("SPF include:_spf.google.com"));
    // No key: where Google's console turns DKIM on, in both languages.
    let setup = finding(&google, "provider.dkim-setup");
    assert_eq!(setup.severity, Severity::Notice);
    assert!(setup.args["how"].contains("Authenticate email") && setup.args["how_ja"].contains("メールの認証"));
    assert!(plain_text(&google, mxdoctor_explain::Lang::Ja).contains("メールの認証"));
    // Fastmail's fm1 is not a common selector: found only because the provider is known.
    let fastmail = run("fastmail.transport.example").await;
    assert_eq!(finding(&fastmail, "dkim.key-found").args["selector"], "fm1");
    assert_lacks(&fastmail, "provider.dkim-setup");
    assert!(!mxdoctor_proto::dkim::COMMON_SELECTORS.contains(&"fm1"));
    // No provider, no provider check.
    assert_lacks(&run("plain.transport.example").await, "provider.detected");
}

#[tokio::test]
async fn bimi_record_dmarc_and_logo_cases() {
    use mxdoctor_engine::topics::Topic;
    let lab = start("transport-cases").await;
    let c = mxdoctor::app::lab_context(&env(&lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(2)).unwrap();
    let run = |domain: String| {
        let c = c.clone();
        async move { mxdoctor_engine::domain::run(&c, &request(&domain, &[Topic::Bimi], false)).await }
    };
    let cases = [
        ("bimi-good", "bimi.logo-ok", Severity::Pass),
        ("bimi-good", "bimi.certificate-present", Severity::Info),
        ("bimi-weak", "bimi.dmarc-not-enforcing", Severity::Fail),
        ("bimi-weak", "bimi.no-certificate", Severity::Info),
        ("bimi-pct", "bimi.dmarc-pct", Severity::Warning),
        ("bimi-bad", "bimi.logo-invalid", Severity::Fail),
        ("bimi-big", "bimi.logo-too-large", Severity::Fail),
        ("bimi-gone", "bimi.logo-unavailable", Severity::Fail),
        ("bimi-declined", "bimi.declined", Severity::Info),
        ("bimi-two", "bimi.multiple", Severity::Warning),
        ("bimi-syntax", "bimi.syntax-error", Severity::Warning),
        ("good", "bimi.missing", Severity::Info),
    ];
    for (label, id, severity) in cases {
        let r = run(format!("{label}.transport.example")).await;
        assert_eq!(severity_of(&r, id), severity, "{label}: {:?}", ids(&r));
    }
    let good = run("bimi-good.transport.example".into()).await;
    assert_lacks(&good, "bimi.dmarc-not-enforcing");
    let bad = run("bimi-bad.transport.example".into()).await;
    assert_eq!(
        finding(&bad, "bimi.logo-invalid").args["problems"],
        "profile, script, external, no-title"
    );
    let gone = run("bimi-gone.transport.example".into()).await;
    assert_eq!(finding(&gone, "bimi.logo-unavailable").args["reason"], "HTTP 404");
}

#[tokio::test]
async fn the_checklist_has_the_receiving_tls_rows() {
    let lab = start("transport-cases").await;
    let state = |r: &Report, id: &str| finding(r, id).args["state"].clone();
    let good = receiving(&lab, "sts-good.transport.example", false).await;
    assert_eq!(state(&good, "req.receive.starttls"), "met");
    assert_eq!(state(&good, "req.receive.protected"), "met");
    assert_eq!(severity_of(&good, "req.receive.protected"), Severity::Pass);
    let plain = receiving(&lab, "plain.transport.example", false).await;
    assert_eq!(state(&plain, "req.receive.starttls"), "broken");
    assert_eq!(severity_of(&plain, "req.receive.starttls"), Severity::Notice);
    let bad = receiving(&lab, "sts-badcert.transport.example", false).await;
    assert!(finding(&bad, "req.receive.protected").args["because"].contains("mtasts.mx-tls-fails"));
    let dane = start("dane-cases").await;
    let r = receiving(&dane, "good.dane.example", false).await;
    assert_eq!(state(&r, "req.receive.protected"), "met");
    // A probe that could not run: not known, never met.
    let silent = receiving(&lab, "many.transport.example", false).await;
    assert_eq!(state(&silent, "req.receive.starttls"), "unknown");
}
