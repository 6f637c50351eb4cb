//! How the world delivers to a domain (issue 12), in the lab: TLS-RPT (RFC 8460 section 3).

mod common;

use std::time::Duration;

use common::*;
use mxdoctor_engine::model::{Report, Severity};

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
