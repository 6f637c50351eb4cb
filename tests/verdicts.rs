//! The verdict sentences no scenario reaches on its own: each verdict function is pure (checks
//! in, verdict out), so these tests give it the checks that lead to each remaining verdict.
//! Every other verdict id is asserted by the lab test of its command.

use mxdoctor_engine::model::{CheckResult, CheckStatus, ErrorCause, Finding, Severity};

fn error(check: &str) -> CheckResult {
    let mut c = CheckResult::ran(check, "x");
    c.status = CheckStatus::Error {
        cause: ErrorCause::DnsFailure,
        detail: "SERVFAIL".into(),
    };
    c
}

fn failing(check: &str, id: &str) -> CheckResult {
    let mut c = CheckResult::ran(check, "x");
    c.findings.push(Finding::new(id, Severity::Fail, "x"));
    c
}

#[test]
fn ip_without_a_ptr_answer_is_unknown() {
    let v = mxdoctor_engine::ip::verdict(&[error("ip.ptr")], "192.0.2.1".parse().unwrap());
    assert_eq!(v.id, "verdict.ip.unknown");
}

#[test]
fn spf_that_could_not_be_fetched_is_unknown() {
    let v = mxdoctor_engine::spf::verdict(&[error("spf")], "example.com");
    assert_eq!(v.id, "verdict.spf.unknown");
}

#[test]
fn domain_verdicts_spam_unknown_and_accept_with_problems() {
    let v = mxdoctor_engine::domain::verdict(&[failing("ip.dnsbl", "dnsbl.listed")], "example.com");
    assert_eq!(v.id, "verdict.domain.spam");
    assert_eq!(v.because, vec!["dnsbl.listed"]);
    let v = mxdoctor_engine::domain::verdict(&[failing("domain.dnsbl", "dnsbl.domain-listed")], "example.com");
    assert_eq!(v.id, "verdict.domain.spam");
    let v = mxdoctor_engine::domain::verdict(&[error("dmarc")], "example.com");
    assert_eq!(v.id, "verdict.domain.unknown");
    // A broken submission certificate fails the run but not the mail the domain sends.
    let v = mxdoctor_engine::domain::verdict(&[failing("sendas.session", "tls.cert.name-mismatch")], "example.com");
    assert_eq!(v.id, "verdict.domain.accept-with-problems");
}

fn passing(check: &str, id: &str) -> CheckResult {
    let mut c = CheckResult::ran(check, "x");
    c.findings.push(Finding::new(id, Severity::Pass, "x"));
    c
}

// A domain whose records are in order but whose sending IP is unknown: not "accept" outright,
// since reverse DNS and blocklists, which Gmail checks first, were not looked at.
#[test]
fn domain_without_any_sending_ip_is_accepted_only_as_far_as_dns_goes() {
    let mut checks = vec![
        passing("spf", "spf.valid"),
        passing("dkim", "dkim.key-found"),
        passing("dmarc", "dmarc.found"),
    ];
    checks.push(mxdoctor_engine::domain::checklist(&checks, false, "example.com", false));
    let v = mxdoctor_engine::domain::verdict(&checks, "example.com");
    assert_eq!(v.id, "verdict.domain.accept-unchecked-ips");
    assert_eq!(v.because, vec!["domain.no-ips"]);
}
