//! DKIM, DMARC and the whole domain report against the lab: every finding fires in its case,
//! the correct domain passes without warnings, and the seed domain fails for the mission's
//! reasons.

mod common;

use std::time::Duration;

use common::*;
use mxdoctor_engine::model::{Report, Severity};

fn ctx(lab: &mxdoctor_lab::Lab) -> mxdoctor_engine::Context {
    mxdoctor::app::lab_context(&env(lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(3)).unwrap()
}

fn wrap(c: mxdoctor_engine::model::CheckResult) -> Report {
    Report {
        schema_version: 1,
        tool: "t".into(),
        tool_version: "0".into(),
        generated_at: String::new(),
        command: "t".into(),
        target: String::new(),
        verdict: mxdoctor_engine::model::Verdict {
            id: "x".into(),
            severity: Severity::Info,
            args: Default::default(),
            because: vec![],
        },
        checks: vec![c],
    }
}

/// The request `mxdoctor check DOMAIN EXTRA...` makes.
fn request(domain: &str, extra: &[&str]) -> mxdoctor_engine::domain::DomainRequest {
    let mut args = vec!["mxdoctor", "check", domain];
    args.extend_from_slice(extra);
    let cli = <mxdoctor::cli::Cli as clap::Parser>::try_parse_from(args).unwrap();
    let mxdoctor::cli::Command::Check(a) = cli.command else {
        unreachable!()
    };
    mxdoctor::app::domain_request(&a).unwrap()
}

async fn check(lab: &mxdoctor_lab::Lab, domain: &str, extra: &[&str]) -> Report {
    mxdoctor_engine::domain::run(&ctx(lab), &request(domain, extra)).await
}

#[tokio::test]
async fn dkim_cases() {
    let lab = start("auth-cases").await;
    let c = ctx(&lab);
    let dk = |d: &'static str, sel: &'static [&'static str]| {
        let c = c.clone();
        async move {
            wrap(mxdoctor_engine::dkim::check(&c, d, &sel.iter().map(|s| s.to_string()).collect::<Vec<_>>()).await)
        }
    };
    let r = dk("k768.auth.example", &[]).await;
    assert_eq!(finding(&r, "dkim.key-too-short").args["bits"], "768");
    let r = dk("k1024.auth.example", &[]).await;
    assert_eq!(finding(&r, "dkim.key-found").args["bits"], "1024");
    assert_has(&r, "dkim.key-short");
    assert_has(&r, "dkim.testing");
    assert_has(&dk("revoked.auth.example", &[]).await, "dkim.revoked");
    assert_has(&dk("badkey.auth.example", &[]).await, "dkim.syntax-error");
    assert_has(&dk("restricted.auth.example", &[]).await, "dkim.restricted");
    let r = dk("cname.auth.example", &[]).await;
    assert!(finding(&r, "dkim.cname").args["target"].starts_with("selector2-cname-auth-example._domainkey.provider"));
    assert_eq!(finding(&r, "dkim.key-found").args["bits"], "2048");
    let r = dk("nothing.auth.example", &[]).await;
    assert_eq!(finding(&r, "dkim.not-found").args["count"], "20");
    let r = dk("k1024.auth.example", &["nosuch"]).await;
    assert_has(&r, "dkim.selector-missing");
    assert_lacks(&r, "dkim.not-found");
}

#[tokio::test]
async fn dmarc_cases() {
    let lab = start("auth-cases").await;
    let c = ctx(&lab);
    let dm = |d: &'static str| {
        let c = c.clone();
        async move { wrap(mxdoctor_engine::dmarc::check(&c, d).await) }
    };
    assert_has(&dm("k768.auth.example").await, "dmarc.missing");
    assert_has(&dm("dmarc2.auth.example").await, "dmarc.multiple-records");
    assert!(finding(&dm("dmarcbad.auth.example").await, "dmarc.syntax-error").args["error"].contains("p=block"));
    assert_has(&dm("nopolicy.auth.example").await, "dmarc.no-policy");
    let r = dm("loose.auth.example").await;
    assert_eq!(finding(&r, "dmarc.found").args["policy"], "none");
    assert_has(&r, "dmarc.policy-none");
    assert_has(&r, "dmarc.testing");
    assert_eq!(finding(&r, "dmarc.removed-tags").args["tags"], "pct=50");
    let unauth: Vec<_> = r
        .findings()
        .filter(|f| f.id == "dmarc.report-unauthorized")
        .map(|f| f.args["destination"].clone())
        .collect();
    assert_eq!(
        unauth,
        vec!["reports.example"],
        "partner.example authorised itself; reports.example did not"
    );
    assert_has(&r, "dmarc.report-uri-invalid");
    assert!(!r.findings().any(|f| f.id == "dmarc.no-rua"), "loose has rua=");
    let r = dm("sub.parent.auth.example").await;
    assert_eq!(finding(&r, "dmarc.no-rua").args["domain"], "parent.auth.example");
    assert_eq!(finding(&r, "dmarc.inherited").args["from"], "parent.auth.example");
    // Below the record's owner, sp= applies.
    assert_eq!(finding(&r, "dmarc.found").args["policy"], "reject");
}

#[tokio::test]
async fn correct_domain_has_no_warnings_and_exits_0() {
    let lab = start("good-domain").await;
    let r = check(&lab, "good-mail.example", &["--bulk"]).await;
    let bad: Vec<_> = r
        .findings()
        .filter(|f| f.severity >= Severity::Warning)
        .map(|f| f.id.clone())
        .collect();
    assert!(bad.is_empty(), "{bad:?}\n{}", mxdoctor_report::json(&r));
    assert_eq!(r.verdict.id, "verdict.domain.accept");
    assert_eq!(r.exit_code(), 0);
    assert!(
        r.checks
            .iter()
            .all(|c| c.status == mxdoctor_engine::model::CheckStatus::Ran),
        "every check ran"
    );
    for id in [
        "spf.valid",
        "spf.ip-authorized",
        "dkim.key-found",
        "dmarc.found",
        "ptr.forward-confirmed",
        "dnsbl.not-listed",
        "tls.cert.name-match",
        "domain.ips-derived",
    ] {
        assert_has(&r, id);
    }
    for id in [
        "req.gmail.authenticated",
        "req.gmail.ptr",
        "req.gmail.bulk.dmarc",
        "req.gmail.bulk.spf-and-dkim",
        "req.gmail.bulk.alignment",
        "req.microsoft.bulk",
        "req.apple.authenticated",
        "req.yahoo.ptr-meaningful",
        "req.gmail.dkim-key-length",
    ] {
        assert_eq!(finding(&r, id).severity, Severity::Pass, "{id}");
    }
    for id in ["req.gmail.tls", "req.gmail.spam-rate", "req.gmail.bulk.unsubscribe"] {
        assert_eq!(finding(&r, id).args["state"], "not-checkable");
    }
}

#[tokio::test]
async fn seed_domain_is_rejected_for_the_missions_reasons() {
    let lab = start("seed").await;
    let r = check(
        &lab,
        "hanako-shop.example",
        &["--ip", "203.0.113.45", "--submission", "mail.hanako-shop.example"],
    )
    .await;
    assert_eq!(r.verdict.id, "verdict.domain.reject");
    for id in [
        "ptr.not-forward-confirmed",
        "spf.ip-not-authorized",
        "dkim.not-found",
        "dmarc.missing",
        "dnsbl.listed",
        "tls.cert.name-mismatch",
    ] {
        assert_has(&r, id);
    }
    assert_eq!(finding(&r, "req.gmail.authenticated").severity, Severity::Fail);
    assert_eq!(finding(&r, "req.gmail.ptr").severity, Severity::Fail);
    // Bulk rules are notices unless --bulk.
    assert_eq!(finding(&r, "req.gmail.bulk.dmarc").severity, Severity::Notice);
    let bulk = check(&lab, "hanako-shop.example", &["--ip", "203.0.113.45", "--bulk"]).await;
    assert_eq!(finding(&bulk, "req.gmail.bulk.dmarc").severity, Severity::Fail);
    assert_eq!(r.exit_code(), 1);
}

#[tokio::test]
async fn sending_ips_are_derived_and_labelled_when_none_are_given() {
    let lab = start("seed").await;
    let r = check(&lab, "hanako-shop.example", &[]).await;
    let f = finding(&r, "domain.ips-derived");
    assert!(
        f.args["ips"].contains("192.0.2.25 (MX mail.hanako-shop.example)"),
        "{:?}",
        f.args
    );
    // The guessed submission server is the seed's mail.hanako-shop.example.
    assert_has(&r, "tls.cert.name-mismatch");
}

#[tokio::test]
async fn one_run_asks_each_dns_question_once() {
    let lab = start("good-domain").await;
    let c = ctx(&lab);
    let cli = <mxdoctor::cli::Cli as clap::Parser>::try_parse_from(["mxdoctor", "check", "good-mail.example"]).unwrap();
    let mxdoctor::cli::Command::Check(a) = cli.command else {
        unreachable!()
    };
    let _ = mxdoctor_engine::domain::run(&c, &mxdoctor::app::domain_request(&a).unwrap()).await;
    let q = c.dns.queries();
    let mut seen = std::collections::BTreeSet::new();
    for x in &q {
        assert!(
            // A validated question (DNSSEC status, DANE) goes through the validating resolver:
            // another question, asked once too.
            seen.insert((x.name.to_ascii_lowercase(), x.rtype.clone(), x.dnssec.is_some())),
            "asked twice: {} {}",
            x.name,
            x.rtype
        );
    }
    assert!(q.len() > 20, "{}", q.len());
}

#[tokio::test]
async fn a_domain_without_derivable_ips_says_so() {
    let lab = start("spf-cases").await;
    let r = check(&lab, "none.spf.example", &["--no-dnsbl"]).await;
    assert_has(&r, "domain.no-ips");
    assert_has(&r, "spf.missing");
    assert_eq!(
        r.verdict.id, "verdict.domain.reject",
        "SPF missing and no DKIM: unauthenticated"
    );
}

/// `--checks`: a topic left out is reported as skipped (`skip.not-selected`), asks nothing, and
/// the verdict that rests on it is "could not find out", never a pass.
#[tokio::test]
async fn checks_left_out_are_skipped_never_passed() {
    use mxdoctor_engine::model::CheckStatus;
    let lab = start("good-domain").await;
    let full = check(&lab, "good-mail.example", &[]).await;
    assert_eq!(full.verdict.id, "verdict.domain.accept", "{:?}", full.verdict);

    let c = ctx(&lab);
    let r = mxdoctor_engine::domain::run(&c, &request("good-mail.example", &["--checks", "spf,dkim"])).await;
    assert_eq!(r.verdict.id, "verdict.domain.unknown");
    assert!(r.verdict.because.contains(&"skip.not-selected".to_string()));
    assert_eq!(r.exit_status(), 2);
    for check in ["mx", "dmarc", "domain.dnsbl", "ip.ptr", "ip.dnsbl", "sendas.session"] {
        let skipped = r
            .checks
            .iter()
            .find(|x| x.check == check)
            .unwrap_or_else(|| panic!("{check} missing"));
        assert_eq!(
            skipped.status,
            CheckStatus::Skipped {
                reason: "skip.not-selected".into()
            },
            "{check}"
        );
        assert!(skipped.findings.is_empty());
    }
    assert_has(&r, "spf.valid");
    assert_has(&r, "dkim.key-found");
    // Nothing of what was left out was asked: no DMARC, PTR or blocklist question.
    let asked: Vec<String> = c.dns.queries().iter().map(|q| q.name.clone()).collect();
    assert!(
        !asked
            .iter()
            .any(|n| n.starts_with("_dmarc.") || n.contains("in-addr.arpa") || n.contains("spamhaus")),
        "{asked:?}"
    );

    // `dns`: every topic but the submission server; no connection at all, a full verdict.
    let c = ctx(&lab);
    let (c, timeline) = c.traced();
    let r = mxdoctor_engine::domain::run(&c, &request("good-mail.example", &["--checks", "dns"])).await;
    assert_eq!(r.verdict.id, "verdict.domain.accept");
    assert!(
        timeline.steps().iter().all(|s| s.peer.is_none()),
        "a DNS-only check connected somewhere"
    );
    assert!(!timeline.steps().is_empty());
}
