//! `spf` against the lab: every SPF finding fires for its domain of the spf-cases world, and the
//! seed world's sending IP gets a suggested record.

mod common;

use std::time::Duration;

use common::*;
use mxdoctor_engine::model::Report;

async fn spf(lab: &mxdoctor_lab::Lab, domain: &str, ips: &[&str]) -> Report {
    let ctx = mxdoctor::app::lab_context(&env(lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(3)).unwrap();
    let ips: Vec<String> = ips.iter().map(|s| s.to_string()).collect();
    let req = mxdoctor::app::spf_request(domain, &ips, None, None).unwrap();
    mxdoctor_engine::spf::run(&ctx, &req).await
}

#[tokio::test]
async fn valid_record_with_include_passes_and_counts_lookups() {
    let lab = start("spf-cases").await;
    let r = spf(&lab, "good.spf.example", &["198.51.100.7", "192.0.2.9"]).await;
    assert_eq!(r.verdict.id, "verdict.spf.ok", "{}", mxdoctor_report::json(&r));
    assert_eq!(finding(&r, "spf.valid").args["count"], "1");
    let authorised: Vec<_> = r
        .findings()
        .filter(|f| f.id == "spf.ip-authorized")
        .map(|f| f.args["term"].clone())
        .collect();
    assert_eq!(
        authorised,
        vec!["include:_spf.provider.spf.example", "ip4:192.0.2.0/24"]
    );
}

#[tokio::test]
async fn each_spf_problem_fires_for_its_domain() {
    let lab = start("spf-cases").await;
    let cases = [
        ("none.spf.example", "spf.missing"),
        ("two.spf.example", "spf.multiple-records"),
        ("syntax.spf.example", "spf.syntax-error"),
        ("passall.spf.example", "spf.pass-all"),
        ("neutralall.spf.example", "spf.neutral-all"),
        ("noall.spf.example", "spf.no-all"),
        ("ptr.spf.example", "spf.ptr-used"),
        ("many.spf.example", "spf.lookup-limit"),
        ("void.spf.example", "spf.void-limit"),
        ("noinc.spf.example", "spf.include-without-spf"),
        ("loop.spf.example", "spf.loop"),
        ("long.spf.example", "spf.record-long"),
        ("oldtype.spf.example", "spf.deprecated-rr"),
    ];
    for (domain, id) in cases {
        let r = spf(&lab, domain, &[]).await;
        assert!(has(&r, id), "{domain}: expected {id}, got {:?}", ids(&r));
        // Notices leave the record valid; warnings and failures do not.
        let sev = mxdoctor_engine::registry::finding(id).unwrap().severity;
        assert_eq!(
            has(&r, "spf.valid"),
            sev < mxdoctor_engine::model::Severity::Warning,
            "{domain}: {:?}",
            ids(&r)
        );
    }
    // And they stay silent on the good domain.
    let good = spf(&lab, "good.spf.example", &[]).await;
    for (_, id) in cases {
        assert_lacks(&good, id);
    }
}

#[tokio::test]
async fn lookup_limit_counts_the_whole_tree_and_evaluation_agrees() {
    let lab = start("spf-cases").await;
    let r = spf(&lab, "many.spf.example", &["192.0.2.77"]).await;
    assert_eq!(finding(&r, "spf.lookup-limit").args["count"], "16");
    // check_host() itself stops at the 11th term with permerror.
    assert!(finding(&r, "spf.permerror").args["reason"].contains("more than 10"));
    let r = spf(&lab, "syntax.spf.example", &[]).await;
    let f = finding(&r, "spf.syntax-error");
    assert_eq!(f.args["term"], "ip4:192.0.2.300");
    assert_eq!(f.args["position"], "7");
}

#[tokio::test]
async fn seed_sending_ip_is_not_authorised_and_a_record_is_suggested() {
    let lab = start("seed").await;
    let r = spf(&lab, "hanako-shop.example", &["203.0.113.45", "192.0.2.25"]).await;
    let f = finding(&r, "spf.ip-not-authorized");
    assert_eq!(f.args["ip"], "203.0.113.45");
    assert_eq!(f.args["result"], "softfail");
    assert_eq!(
        f.args["suggested"],
        "v=spf1 include:_spf.star-hosting.example ip4:203.0.113.45 ~all"
    );
    assert_eq!(finding(&r, "spf.ip-authorized").args["ip"], "192.0.2.25");
    assert_eq!(r.verdict.id, "verdict.spf.broken");
}

#[tokio::test]
async fn servfail_in_an_include_is_a_temperror_and_big_records_come_over_tcp() {
    let lab = start("spf-cases").await;
    let r = spf(&lab, "tempfail.spf.example", &["192.0.2.1"]).await;
    assert!(finding(&r, "spf.temperror").args["reason"].contains("broken.spf.example"));
    // 4 KiB: too big for a UDP answer, so the resolver must retry over TCP to read it.
    let r = spf(&lab, "huge.spf.example", &["203.0.113.200"]).await;
    let f = finding(&r, "spf.record-long");
    assert!(f.args["length"].parse::<usize>().unwrap() > 3000, "{:?}", f.args);
    assert_eq!(f.args["limit"], "512");
    assert_eq!(finding(&r, "spf.ip-authorized").args["term"], "ip4:203.0.113.200");
}

#[tokio::test]
async fn two_hundred_includes_stay_bounded() {
    let lab = start("spf-cases").await;
    let ctx = mxdoctor::app::lab_context(&env(&lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(3)).unwrap();
    let req = mxdoctor::app::spf_request("wide.spf.example", &["192.0.2.1".into()], None, None).unwrap();
    let r = mxdoctor_engine::spf::run(&ctx, &req).await;
    let count: usize = finding(&r, "spf.lookup-limit").args["count"].parse().unwrap();
    assert!((40..=200).contains(&count), "{count}");
    assert!(finding(&r, "spf.permerror").args["reason"].contains("more than 10"));
    // The static walk stops at 40 records, check_host at the 11th term: far fewer than 200 queries.
    assert!(ctx.dns.query_count() < 80, "{} DNS questions", ctx.dns.query_count());
}

#[test]
fn bad_spf_arguments() {
    assert!(mxdoctor::app::spf_request("not a domain", &[], None, None).is_err());
    assert!(mxdoctor::app::spf_request("example.com", &["1.2.3".into()], None, None).is_err());
    assert!(mxdoctor::app::spf_request("example.com", &[], Some("no-at-sign"), None).is_err());
}

#[tokio::test]
async fn a_58_kib_record_is_read_over_tcp_evaluated_and_reported_not_a_panic() {
    let lab = start("spf-cases").await;
    let r = spf(&lab, "giant.spf.example", &["192.0.2.77", "198.51.100.1"]).await;
    let f = finding(&r, "spf.record-long");
    assert!(f.args["length"].parse::<usize>().unwrap() > 50_000, "{:?}", f.args);
    // The last term before -all still counts: the whole record was read and parsed.
    assert_eq!(finding(&r, "spf.ip-authorized").args["term"], "ip4:192.0.2.77");
    assert_eq!(finding(&r, "spf.ip-not-authorized").args["ip"], "198.51.100.1");
}
