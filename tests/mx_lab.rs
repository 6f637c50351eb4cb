//! MX findings (issue 8 item 8) and the proof of suggested records (item 6), in the lab.

mod common;

use std::time::Duration;

use common::*;
use mxdoctor_engine::model::Report;

fn ctx(lab: &mxdoctor_lab::Lab) -> mxdoctor_engine::Context {
    mxdoctor::app::lab_context(&env(lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(3)).unwrap()
}

async fn mx(lab: &mxdoctor_lab::Lab, domain: &str) -> Report {
    let c = ctx(lab);
    let check = mxdoctor_engine::mx::check(&c, domain).await;
    let v = mxdoctor_engine::domain::verdict(&[], domain);
    Report::new(&c, "t", domain, v, vec![check])
}

#[tokio::test]
async fn each_mx_case_has_its_finding() {
    let lab = start("mx-cases").await;
    let r = mx(&lab, "good.mx.example").await;
    assert_eq!(
        finding(&r, "mx.found").args["hosts"],
        "10 mail.good.mx.example (192.0.2.70)"
    );
    let cases = [
        ("none.mx.example", "mx.missing"),
        ("nowhere.mx.example", "mx.domain-not-found"),
        ("null.mx.example", "mx.null"),
        ("mixed.mx.example", "mx.null-mixed"),
        ("literal.mx.example", "mx.ip-literal"),
        ("alias.mx.example", "mx.cname"),
        ("noaddr.mx.example", "mx.no-address"),
    ];
    for (domain, id) in cases {
        let r = mx(&lab, domain).await;
        assert_has(&r, id);
        if id != "mx.cname" {
            assert_lacks(&r, "mx.cname");
        }
    }
    let r = mx(&lab, "alias.mx.example").await;
    assert_eq!(finding(&r, "mx.cname").args["target"], "mail.good.mx.example");
    assert_lacks(&mx(&lab, "good.mx.example").await, "mx.missing");
}

async fn spf_missing_suggestion(lab: &mxdoctor_lab::Lab, domain: &str, ips: &[&str]) -> serde_json::Value {
    let ips: Vec<String> = ips.iter().map(|s| s.to_string()).collect();
    let req = mxdoctor::app::spf_request(domain, &ips, None, None).unwrap();
    let r = mxdoctor_engine::spf::run(&ctx(lab), &req).await;
    finding(&r, "spf.missing").evidence["suggestion"].clone()
}

// Item 6: `v=spf1 mx ~all` for a domain without MX authorised nothing. Every path proven.
#[tokio::test]
async fn suggested_spf_records_are_proven_or_not_shown() {
    let lab = start("mx-cases").await;
    // No MX, no IP: nothing can be proven, a template is shown and says why.
    let s = spf_missing_suggestion(&lab, "nospf.mx.example", &[]).await;
    assert_eq!(s["verified"], false, "{s}");
    assert_eq!(s["record"], mxdoctor_engine::suggest::SPF_TEMPLATE);
    // An MX host with an address: `mx` proven for that address.
    let s = spf_missing_suggestion(&lab, "good.mx.example", &[]).await;
    assert_eq!(s["verified"], true, "{s}");
    assert_eq!(s["record"], "v=spf1 mx ~all");
    // The IPs given: one term each.
    let s = spf_missing_suggestion(&lab, "nospf.mx.example", &["192.0.2.73", "2001:db8::73"]).await;
    assert_eq!(s["verified"], true, "{s}");
    assert_eq!(s["record"], "v=spf1 ip4:192.0.2.73 ip6:2001:db8::73 ~all");
}

// Item 5: with no --ip, the MX host's address is a probable sender, not a known one.
#[tokio::test]
async fn derived_ips_never_make_a_confident_reject() {
    let lab = start("mx-cases").await;
    let cli =
        <mxdoctor::cli::Cli as clap::Parser>::try_parse_from(["mxdoctor", "check", "derived.mx.example"]).unwrap();
    let mxdoctor::cli::Command::Check(a) = cli.command else {
        unreachable!()
    };
    let r = mxdoctor_engine::domain::run(&ctx(&lab), &mxdoctor::app::domain_request(&a).unwrap()).await;
    assert_has(&r, "domain.ips-derived");
    assert_ne!(r.verdict.id, "verdict.domain.reject", "{}", mxdoctor_report::json(&r));
    // The MX host has no PTR and SPF does not list it: said as what happens if the mail leaves
    // from there.
    assert_eq!(
        r.verdict.id,
        "verdict.domain.reject-if-derived",
        "{}",
        mxdoctor_report::json(&r)
    );
    assert_eq!(r.verdict.args["ips"], "192.0.2.70");
    // Findings about the derived IPs say whose they are and do not fail the run on their own.
    let about_ip: Vec<_> = r.findings().filter(|f| f.args.contains_key("assumed_sender")).collect();
    assert!(!about_ip.is_empty());
    assert!(
        about_ip
            .iter()
            .all(|f| f.severity < mxdoctor_engine::model::Severity::Fail)
    );
    let text = plain_text(&r, mxdoctor_explain::Lang::En);
    assert!(text.contains("If you send from "), "{text}");
}

fn check_args(args: &[&str]) -> mxdoctor::cli::CheckArgs {
    let mut v = vec!["mxdoctor", "check"];
    v.extend_from_slice(args);
    let cli = <mxdoctor::cli::Cli as clap::Parser>::try_parse_from(v).unwrap();
    let mxdoctor::cli::Command::Check(a) = cli.command else {
        unreachable!()
    };
    a
}

// Item 8: `--submission HOST[:PORT]`, the server as typed into Gmail, on its port.
#[tokio::test]
async fn submission_server_on_the_port_given() {
    let lab = start("good-domain").await;
    let a = check_args(&["good-mail.example", "--submission", "mail.good-mail.example:465"]);
    let req = mxdoctor::app::domain_request(&a).unwrap();
    assert_eq!(
        req.submission.as_ref().map(|(h, p)| (h.as_str(), *p)),
        Some(("mail.good-mail.example", 465))
    );
    let r = mxdoctor_engine::domain::run(&ctx(&lab), &req).await;
    let tls = finding(&r, "tls.cert.name-match");
    assert_eq!(tls.subject, "mail.good-mail.example:465");
    for bad in [
        "mail.good-mail.example:0",
        "mail.good-mail.example:smtp",
        "bad_host!:587",
    ] {
        assert!(
            mxdoctor::app::domain_request(&check_args(&["good-mail.example", "--submission", bad])).is_err(),
            "{bad}"
        );
    }
}
