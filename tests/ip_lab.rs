//! `ip` against the lab: reverse DNS (FCrDNS), generic names, HELO and DNS blocklists, with
//! every default list served in the lab so each answers its RFC 5782 test point.

mod common;

use std::time::Duration;

use common::*;
use mxdoctor_engine::model::{CheckStatus, Report};

async fn ip(lab: &mxdoctor_lab::Lab, addr: &str, helo: Option<&str>) -> Report {
    let ctx = mxdoctor::app::lab_context(&env(lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(3)).unwrap();
    let req = mxdoctor::app::ip_request(addr, helo, &[], false).unwrap();
    mxdoctor_engine::ip::run(&ctx, &req).await
}

#[tokio::test]
async fn clean_ip_passes_fcrdns_and_every_list() {
    let lab = start("ip-lists").await;
    let r = ip(&lab, "198.51.100.20", Some("mail.fine.example")).await;
    assert_eq!(r.verdict.id, "verdict.ip.accept", "{}", mxdoctor_report::json(&r));
    assert_eq!(finding(&r, "ptr.forward-confirmed").args["name"], "mail.fine.example");
    assert_eq!(finding(&r, "dnsbl.not-listed").args["count"], "6");
    assert_has(&r, "helo.matches");
    assert!(no_failures(&r));
    assert_eq!(r.exit_code(), 0);
}

#[tokio::test]
async fn pbl_listing_and_generic_ptr() {
    let lab = start("ip-lists").await;
    let r = ip(&lab, "198.51.100.21", None).await;
    let pbl = finding(&r, "dnsbl.pbl");
    assert_eq!(pbl.args["list"], "Spamhaus ZEN");
    assert!(pbl.args["reason"].contains("check.spamhaus.org"), "{:?}", pbl.args);
    assert_eq!(finding(&r, "ptr.generic").args["name"], "198-51-100-21.dsl.isp.example");
    assert_has(&r, "ptr.forward-confirmed");
    assert_eq!(r.verdict.id, "verdict.ip.reject");
    assert_eq!(r.verdict.because, vec!["dnsbl.pbl"]);
}

#[tokio::test]
async fn spamhaus_error_codes_are_error_statuses_not_listings() {
    let lab = start("ip-lists").await;
    let r = ip(&lab, "198.51.100.22", None).await;
    assert_lacks(&r, "dnsbl.listed");
    assert_lacks(&r, "dnsbl.pbl");
    let zen = r.checks.iter().find(|c| c.subject == "zen.spamhaus.org").unwrap();
    match &zen.status {
        CheckStatus::Error { cause, detail } => {
            assert_eq!(cause.as_str(), "list-refused");
            assert!(
                detail.contains("127.255.255.254") && detail.contains("public"),
                "{detail}"
            );
        }
        other => panic!("expected an error status, got {other:?}"),
    }
    // Not a listing, and not a pass either: could not find out (exit 2).
    assert_eq!(r.verdict.id, "verdict.ip.unknown");
    assert!(r.verdict.because.contains(&"error.list-refused".to_string()));
    assert_eq!(mxdoctor::app::exit_code(&r), 2);
}

#[tokio::test]
async fn missing_ptr_fails_with_gmails_5_7_25() {
    let lab = start("ip-lists").await;
    let r = ip(&lab, "198.51.100.23", None).await;
    assert_has(&r, "ptr.missing");
    assert_eq!(r.verdict.id, "verdict.ip.reject");
    let text = plain_text(&r, mxdoctor_explain::Lang::En);
    assert!(text.contains("550-5.7.25"), "{text}");
}

#[tokio::test]
async fn several_ptrs_are_a_notice_and_one_confirming_is_enough() {
    let lab = start("ip-lists").await;
    let r = ip(&lab, "198.51.100.24", None).await;
    assert_has(&r, "ptr.multiple");
    assert_eq!(finding(&r, "ptr.forward-confirmed").args["name"], "mx1.fine.example");
}

#[tokio::test]
async fn ipv6_fcrdns_uses_ip6_arpa_and_nibble_lists() {
    let lab = start("ip-lists").await;
    let r = ip(&lab, "2001:db8::25", Some("mail.fine.example")).await;
    assert_eq!(finding(&r, "ptr.forward-confirmed").args["name"], "v6mail.fine.example");
    assert_has(&r, "helo.other-address");
}

#[tokio::test]
async fn seed_sending_ip_is_not_forward_confirmed_and_listed_on_spamcop() {
    let lab = start("seed").await;
    let r = ip(&lab, "203.0.113.45", Some("no-such-helo.hanako-shop.example")).await;
    let f = finding(&r, "ptr.not-forward-confirmed");
    assert_eq!(f.args["names"], "vps45.cloud-host.example");
    assert!(f.evidence.to_string().contains("203.0.113.46"));
    let l = finding(&r, "dnsbl.listed");
    assert_eq!(l.args["list"], "SpamCop");
    assert!(l.args["reason"].contains("spamcop.net/bl.shtml"));
    assert_has(&r, "helo.not-found");
    // The other five default lists answer their test points and do not list it.
    assert_eq!(finding(&r, "dnsbl.not-listed").args["count"], "5");
    assert_eq!(r.verdict.because, vec!["ptr.not-forward-confirmed", "dnsbl.listed"]);
}

#[tokio::test]
async fn a_list_that_does_not_answer_its_test_point_is_an_error_not_clean() {
    // The sni world serves no blocklist zones: every list is unavailable through its resolver.
    let lab = start("sni").await;
    let r = ip(&lab, "192.0.2.30", None).await;
    let unavailable = r
        .checks
        .iter()
        .filter(|c| matches!(&c.status, CheckStatus::Error { cause, .. } if cause.as_str() == "list-unavailable"))
        .count();
    assert_eq!(unavailable, 6);
    assert_lacks(&r, "dnsbl.not-listed");
    assert_lacks(&r, "dnsbl.listed");
}

#[test]
fn bad_ip_arguments_are_clear_errors() {
    assert!(
        mxdoctor::app::ip_request("999.1.1.1", None, &[], false)
            .unwrap_err()
            .0
            .contains("not an IPv4 or IPv6")
    );
    assert!(mxdoctor::app::ip_request("192.0.2.1", Some("bad name!"), &[], false).is_err());
    assert!(mxdoctor::app::ip_request("192.0.2.1", None, &["bad zone!".into()], false).is_err());
    let r = mxdoctor::app::ip_request("[2001:db8::1]", None, &["bl.example".into()], true).unwrap();
    assert_eq!(r.lists.len(), 1);
}

async fn dbl(lab: &mxdoctor_lab::Lab, domain: &str) -> Report {
    let ctx = mxdoctor::app::lab_context(&env(lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(3)).unwrap();
    let mut checks = Vec::new();
    for l in mxdoctor_proto::dnsbl::default_domain_lists() {
        checks.push(mxdoctor_engine::ip::domain_list_check(&ctx, domain, &l).await);
    }
    let verdict = mxdoctor_engine::domain::verdict(&checks, domain);
    Report::new(&ctx, "check", domain, verdict, checks)
}

#[tokio::test]
async fn domain_on_the_spamhaus_dbl_is_a_listing_with_its_reason() {
    let lab = start("ip-lists").await;
    let r = dbl(&lab, "isp.example").await;
    let f = finding(&r, "dnsbl.domain-listed");
    assert_eq!(f.args["list"], "Spamhaus DBL");
    assert_eq!(f.args["meaning"], "spam domain");
    assert!(f.args["reason"].contains("query=isp.example"), "{:?}", f.args);
    assert_eq!(r.exit_code(), 1);
    // A domain the list does not name, while the list answers its test point: a pass.
    let r = dbl(&lab, "fine.example").await;
    assert_has(&r, "dnsbl.domain-not-listed");
    assert_lacks(&r, "dnsbl.domain-listed");
}

#[tokio::test]
async fn dbl_error_code_127_0_1_255_is_an_error_status_not_a_listing() {
    let lab = start("ip-lists").await;
    let r = dbl(&lab, "refused.example").await;
    assert_lacks(&r, "dnsbl.domain-listed");
    match &r.checks[0].status {
        CheckStatus::Error { cause, detail } => {
            assert_eq!(cause.as_str(), "list-refused");
            assert!(detail.contains("127.0.1.255"), "{detail}");
        }
        other => panic!("expected an error status, got {other:?}"),
    }
}

// Issue 8 item 4: loopback and private addresses are their own finding, never a PTR failure,
// and the resolver's invented answers for 127.0.0.0/8 never become evidence.
#[tokio::test]
async fn non_public_sending_ips_are_not_checked_as_senders() {
    let lab = start("ip-lists").await;
    for addr in ["127.0.0.1", "10.1.2.3", "192.168.1.10", "::1", "fd00::25"] {
        let r = ip(&lab, addr, None).await;
        assert_has(&r, "ip.not-public");
        assert_lacks(&r, "ptr.missing");
        assert_lacks(&r, "ptr.not-forward-confirmed");
        assert_eq!(r.verdict.id, "verdict.ip.unknown", "{addr}");
        assert_eq!(mxdoctor::app::exit_code(&r), 2);
    }
    // Never asked: special-use names get no answer from anywhere.
    let ctx = mxdoctor::app::lab_context(&env(&lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(3)).unwrap();
    for name in ["1.0.0.127.in-addr.arpa", "localhost", "mail.localhost", "x.invalid"] {
        let e = ctx.dns.lookup(name, mxdoctor_net::RecordType::PTR).await.unwrap_err();
        assert!(matches!(e, mxdoctor_net::DnsError::SpecialUse { .. }), "{name}: {e}");
    }
    assert_eq!(ctx.dns.query_count(), 0, "{:?}", ctx.dns.queries());
}

// RFC 5782 section 5: a list that answers only its IPv4 test point is not answering for IPv6.
#[tokio::test]
async fn an_ipv4_only_list_is_not_answering_for_ipv6() {
    let lab = start("ip-lists").await;
    let ctx = mxdoctor::app::lab_context(&env(&lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(3)).unwrap();
    let req = mxdoctor::app::ip_request("2001:db8::25", None, &["v4only.lab-dnsbl.example".into()], false).unwrap();
    let list = |r: &Report| {
        r.checks
            .iter()
            .find(|c| c.subject == "v4only.lab-dnsbl.example")
            .unwrap()
            .status
            .clone()
    };
    let r = mxdoctor_engine::ip::run(&ctx, &req).await;
    assert!(
        matches!(list(&r), CheckStatus::Error { cause, .. } if cause.as_str() == "list-unavailable"),
        "{:?}",
        list(&r)
    );
    assert!(!finding(&r, "dnsbl.not-listed").args["lists"].contains("v4only"));
    assert_eq!(r.verdict.id, "verdict.ip.unknown");
    // The same list answers for IPv4.
    let req = mxdoctor::app::ip_request("198.51.100.20", None, &["v4only.lab-dnsbl.example".into()], false).unwrap();
    let r = mxdoctor_engine::ip::run(&ctx, &req).await;
    assert_eq!(list(&r), CheckStatus::Ran);
    assert!(finding(&r, "dnsbl.not-listed").args["lists"].contains("v4only"));
}

/// `--dnsbl-budget`: a blocklist question past the budget is not sent, and the listing it would
/// have answered is "not checked" (error.budget), never "not listed".
#[tokio::test]
async fn a_spent_blocklist_budget_is_not_a_pass() {
    let lab = start("ip-lists").await;
    let run = |budget: &'static str| {
        let lab_env = env(&lab);
        async move {
            let cli = <mxdoctor::cli::Cli as clap::Parser>::try_parse_from([
                "mxdoctor",
                "ip",
                "198.51.100.20",
                "--dnsbl-budget",
                budget,
                "--now",
                "2026-11-23T00:00:00Z",
            ])
            .unwrap();
            let mxdoctor::cli::Command::Ip(a) = cli.command else {
                unreachable!()
            };
            let ctx = mxdoctor::app::build_context(&a.common, Some(lab_env)).unwrap();
            let req = mxdoctor::app::ip_request(&a.ip, None, &[], false).unwrap();
            mxdoctor_engine::ip::run(&ctx, &req).await
        }
    };
    // Each list costs two questions (the address and the RFC 5782 test point).
    let enough = run("2").await;
    assert_eq!(
        enough.verdict.id,
        "verdict.ip.accept",
        "{}",
        mxdoctor_report::json(&enough)
    );
    assert_eq!(finding(&enough, "dnsbl.not-listed").args["count"], "6");

    let spent = run("1").await;
    assert!(
        !spent.findings().any(|f| f.id == "dnsbl.not-listed"),
        "{}",
        mxdoctor_report::json(&spent)
    );
    let budget_errors = spent
        .checks
        .iter()
        .filter(|c| matches!(&c.status, CheckStatus::Error { cause, .. } if cause.as_str() == "budget"))
        .count();
    assert_eq!(budget_errors, 6);
    assert_eq!(spent.verdict.id, "verdict.ip.unknown");
    assert_eq!(spent.exit_status(), 2);
}
