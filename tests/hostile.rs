//! The hostile world (issue 13): every misbehaving server and DNS behaviour of the lab's kit
//! (worlds `hostile-smtp` and `hostile-dns`, and the MTA-STS sites of `transport-cases`), met by
//! the mxdoctor binary as a user runs it, attached to the lab with `--lab`.
//!
//! Each test asserts three things: the specific finding or error status named for the
//! behaviour (never a generic failure, never a pass), that the process ended within its
//! configured deadline plus one second, and that its peak resident memory stayed below
//! [`PEAK_RSS_BOUND_KB`]: the process's own high-water mark (`VmHWM`, counted from exec), which
//! it writes at exit to the file named by `MXDOCTOR_PEAK_RSS_FILE`.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{NOW, start};
use mxdoctor_lab::Lab;
use serde_json::Value;

/// Seconds per network step (`--timeout`).
const STEP_TIMEOUT: &str = "1";
/// Seconds for the whole run (`--deadline`): the bound each test holds the process to, plus one.
const DEADLINE_SECS: u64 = 8;
/// The peak RSS every run stays below, whatever the server sends (100 MiB replies, 1 MiB
/// certificates, endless lines, 1,000-host MX sets). Measured: a healthy run peaks near 20 MiB,
/// every misbehaviour here at 19-21 MiB but the 1,000-host MX set at 49-59 MiB.
const PEAK_RSS_BOUND_KB: i64 = 96 * 1024;

struct Run {
    report: Value,
    elapsed: Duration,
    peak_rss_kb: i64,
}

impl Run {
    fn ids(&self) -> Vec<String> {
        self.checks()
            .iter()
            .flat_map(|c| c["findings"].as_array().cloned().unwrap_or_default())
            .filter_map(|f| f["id"].as_str().map(str::to_string))
            .collect()
    }

    fn checks(&self) -> Vec<Value> {
        self.report["checks"].as_array().cloned().unwrap_or_default()
    }

    fn finding(&self, id: &str) -> Value {
        self.checks()
            .iter()
            .flat_map(|c| c["findings"].as_array().cloned().unwrap_or_default())
            .find(|f| f["id"] == id)
            .unwrap_or_else(|| panic!("no finding {id}; have {:?}\n{:#}", self.ids(), self.report))
    }

    /// The (cause, detail) of every check that could not run.
    fn errors(&self) -> Vec<(String, String)> {
        self.checks()
            .iter()
            .filter(|c| c["status"]["state"] == "error")
            .map(|c| {
                let s = &c["status"];
                (
                    s["cause"].as_str().unwrap_or_default().to_string(),
                    s["detail"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    fn assert_error(&self, cause: &str, detail_has: &str) {
        assert!(
            self.errors().iter().any(|(c, d)| c == cause && d.contains(detail_has)),
            "no error status {cause} mentioning {detail_has:?}; have {:?}",
            self.errors()
        );
        assert!(
            !self.report["verdict"]["id"]
                .as_str()
                .unwrap_or_default()
                .ends_with(".accept"),
            "an error never passes"
        );
    }

    /// Bounded in time and memory, and not cut off by the deadline: the behaviour itself was
    /// recognised.
    fn assert_bounded(&self) {
        assert!(
            self.elapsed <= Duration::from_secs(DEADLINE_SECS + 1),
            "took {:?}, deadline {DEADLINE_SECS} s",
            self.elapsed
        );
        assert!(
            self.peak_rss_kb < PEAK_RSS_BOUND_KB,
            "peak RSS {} KiB, bound {PEAK_RSS_BOUND_KB} KiB",
            self.peak_rss_kb
        );
        assert_ne!(
            self.report["verdict"]["id"], "verdict.run.unknown",
            "cut off by the deadline"
        );
        eprintln!("elapsed {:?}, peak RSS {} KiB", self.elapsed, self.peak_rss_kb);
    }
}

/// Runs `mxdoctor ARGS --lab STATE --format json` against a running lab; waits for it with
/// `wait4` to read its peak RSS.
async fn mxdoctor(lab: &Lab, args: &[&str], env: &[(&str, &str)]) -> Run {
    mxdoctor_within(lab, args, env, STEP_TIMEOUT, &DEADLINE_SECS.to_string()).await
}

async fn mxdoctor_within(lab: &Lab, args: &[&str], env: &[(&str, &str)], timeout: &str, deadline: &str) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("lab.json");
    lab.state().write(&state).expect("state file");
    let out_path = dir.path().join("report.json");
    let now = NOW.format(&time::format_description::well_known::Rfc3339).expect("now");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mxdoctor"));
    cmd.args(args)
        .args(["--lab", path(&state), "--format", "json", "--timeout", timeout])
        .args(["--deadline", deadline, "--now", &now])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("report file"))
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let rss_path = dir.path().join("peak-rss");
    cmd.env("MXDOCTOR_PEAK_RSS_FILE", &rss_path);
    let started = Instant::now();
    let mut child = cmd.spawn().expect("run mxdoctor");
    // The lab serves on this runtime; the wait blocks another thread.
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("wait")
        .expect("exit status");
    let elapsed = started.elapsed();
    let text = std::fs::read_to_string(&out_path).expect("report");
    let report: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not a JSON report ({status}): {e}\n{text}"));
    let peak_rss_kb = std::fs::read_to_string(&rss_path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("mxdoctor wrote no peak RSS ({status})"));
    Run {
        report,
        elapsed,
        peak_rss_kb,
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

async fn sendas(host: &str) -> Run {
    let lab = start("hostile-smtp").await;
    let r = mxdoctor(&lab, &["sendas", host, "--port", "587"], &[]).await;
    r.assert_bounded();
    r
}

async fn dns(args: &[&str]) -> Run {
    let lab = start("hostile-dns").await;
    let r = mxdoctor(&lab, args, &[]).await;
    r.assert_bounded();
    r
}

// --- SMTP: the greeting ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn no_banner_is_no_greeting() {
    let r = sendas("silent.hostile.example").await;
    r.finding("smtp.no-greeting");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_banner_at_one_byte_a_second_is_too_slow() {
    let r = sendas("slow.hostile.example").await;
    let f = r.finding("smtp.reply.too-slow");
    assert_eq!(f["args"]["stage"], "banner");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endless_line_stops_at_the_line_limit() {
    let r = sendas("endless.hostile.example").await;
    let f = r.finding("smtp.reply.line-too-long");
    assert_eq!(f["args"]["limit"], mxdoctor_proto::smtp::MAX_REPLY_LINE.to_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_100_mib_multi_line_reply_stops_at_the_line_count() {
    let r = sendas("huge.hostile.example").await;
    let f = r.finding("smtp.reply.too-many-lines");
    assert_eq!(f["args"]["stage"], "banner");
}

#[tokio::test(flavor = "multi_thread")]
async fn non_smtp_bytes_name_what_answered() {
    let r = sendas("garbage.hostile.example").await;
    assert_eq!(r.finding("smtp.not-smtp")["args"]["what"], "HTTP");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_line_without_a_reply_code_is_not_smtp() {
    let r = sendas("longline.hostile.example").await;
    r.finding("smtp.not-smtp");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_port_is_refused() {
    let r = sendas("closed.hostile.example").await;
    r.assert_error("refused", "");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_554_greeting_is_a_refusal() {
    let r = sendas("refuse.hostile.example").await;
    assert_eq!(r.finding("smtp.refused")["args"]["stage"], "greeting");
}

#[tokio::test(flavor = "multi_thread")]
async fn ehlo_with_10000_extensions_stops_at_the_line_count() {
    let r = sendas("ehlo.hostile.example").await;
    assert_eq!(r.finding("smtp.reply.too-many-lines")["args"]["stage"], "EHLO reply");
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_that_never_answers_is_a_timeout_at_auth() {
    let lab = start("hostile-smtp").await;
    let r = mxdoctor(
        &lab,
        &[
            "sendas",
            "authsilent.hostile.example",
            "--port",
            "587",
            "--user",
            "taro@hostile.example",
            "--password-env",
            "HOSTILE_PW",
        ],
        &[("HOSTILE_PW", "lab-password")],
    )
    .await;
    r.assert_bounded();
    r.assert_error("timeout", "AUTH");
}

// --- STARTTLS and TLS -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn starttls_454_is_a_rejection() {
    let r = sendas("starttls454.hostile.example").await;
    r.finding("smtp.starttls.rejected");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_220_to_starttls_then_plain_text_is_not_tls() {
    let r = sendas("plaintext.hostile.example").await;
    r.finding("tls.handshake.not-tls");
}

#[tokio::test(flavor = "multi_thread")]
async fn replies_injected_after_starttls_are_reported_and_never_acted_on() {
    let r = sendas("inject.hostile.example").await;
    r.finding("smtp.starttls.injection");
    // The injected "250 AUTH PLAIN LOGIN" was not taken for the server's capabilities, and no
    // TLS session was started over the tainted stream.
    assert!(
        !r.ids()
            .iter()
            .any(|id| id.starts_with("smtp.auth.") || id == "tls.version.ok"),
        "{:?}",
        r.ids()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tls_alert_mid_handshake_is_named() {
    let r = sendas("alert.hostile.example").await;
    let f = r.finding("tls.handshake.failed");
    assert!(
        f["args"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("HandshakeFailure"),
        "{f}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_after_the_client_hello_is_a_handshake_failure() {
    let r = sendas("reset.hostile.example").await;
    r.finding("tls.handshake.failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handshake_that_never_finishes_is_a_timeout() {
    let r = sendas("stall.hostile.example").await;
    r.assert_error("timeout", "TLS handshake");
    assert!(!r.ids().iter().any(|id| id == "tls.handshake.failed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_of_50_certificates_is_too_long() {
    let r = sendas("chain.hostile.example").await;
    let f = r.finding("tls.chain.too-long");
    assert_eq!(f["args"]["count"], "50");
    // The real part of the chain is still judged.
    r.finding("tls.cert.name-match");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_1_mib_certificate_is_too_large_for_tls_clients() {
    let r = sendas("bigcert.hostile.example").await;
    r.finding("tls.handshake.too-large");
}

// --- The same servers as a domain's MX (port 25) ----------------------------------------------

async fn inbound(domain: &str) -> Run {
    let lab = start("hostile-smtp").await;
    let r = mxdoctor(&lab, &["check", domain, "--checks", "inbound"], &[]).await;
    r.assert_bounded();
    r
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mx_that_trickles_its_greeting_is_too_slow() {
    let r = inbound("mx-slow.hostile.example").await;
    assert_eq!(r.finding("smtp.reply.too-slow")["args"]["ip"], "203.0.113.2");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mx_with_a_100_mib_greeting_stops_at_the_line_count() {
    let r = inbound("mx-huge.hostile.example").await;
    r.finding("smtp.reply.too-many-lines");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mx_that_injects_replies_after_starttls_is_reported() {
    let r = inbound("mx-inject.hostile.example").await;
    r.finding("smtp.starttls.injection");
}

// --- IMAP and POP3 --------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_imaps_handshake_that_never_finishes_is_a_timeout() {
    let lab = start("hostile-smtp").await;
    let r = mxdoctor(&lab, &["mailbox", "imap.hostile.example", "--port", "993"], &[]).await;
    r.assert_bounded();
    r.assert_error("timeout", "");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pop3_server_that_never_greets_is_named() {
    let lab = start("hostile-smtp").await;
    let r = mxdoctor(&lab, &["mailbox", "pop.hostile.example", "--port", "110"], &[]).await;
    r.assert_bounded();
    r.finding("mailbox.no-greeting");
}

// --- HTTPS ----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_10_mib_policy_is_read_to_its_limit_only() {
    let lab = start("transport-cases").await;
    let r = mxdoctor(
        &lab,
        &["check", "sts-big.transport.example", "--checks", "mta-sts"],
        &[],
    )
    .await;
    r.assert_bounded();
    r.finding("mtasts.policy-too-large");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_server_that_answers_late_ends_at_the_timeout() {
    let lab = start("transport-cases").await;
    let r = mxdoctor(
        &lab,
        &["check", "sts-slow.transport.example", "--checks", "mta-sts"],
        &[],
    )
    .await;
    r.assert_bounded();
    r.finding("mtasts.policy-unavailable");
}

// --- DNS ------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn servfail_is_a_dns_failure() {
    let r = dns(&["spf", "servfail.hostile-dns.example"]).await;
    r.assert_error("dns-failure", "SERVER FAILURE");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_is_a_dns_failure() {
    let r = dns(&["spf", "refused.hostile-dns.example"]).await;
    r.assert_error("dns-failure", "REFUSED");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_never_answers_is_a_dns_timeout() {
    let r = dns(&["spf", "timeout.hostile-dns.example"]).await;
    r.assert_error("dns-timeout", "");
}

#[tokio::test(flavor = "multi_thread")]
async fn rfc_1035_4_1_1_a_truncated_answer_is_asked_again_over_tcp() {
    let r = dns(&["spf", "truncated.hostile-dns.example"]).await;
    r.finding("spf.valid");
}

#[tokio::test(flavor = "multi_thread")]
async fn rfc_5452_an_answer_with_another_transaction_id_is_dropped() {
    let r = dns(&["spf", "wrongid.hostile-dns.example"]).await;
    r.assert_error("dns-timeout", "");
    assert!(!r.ids().iter().any(|id| id == "spf.missing"));
}

#[tokio::test(flavor = "multi_thread")]
async fn rfc_5452_an_answer_about_another_name_is_dropped() {
    let r = dns(&["spf", "wrongname.hostile-dns.example"]).await;
    r.assert_error("dns-timeout", "");
    // The forged answer said "v=spf1 +all" for another name: never used.
    assert!(!r.ids().iter().any(|id| id == "spf.pass-all" || id == "spf.missing"));
}

#[tokio::test(flavor = "multi_thread")]
async fn rfc_1034_3_6_2_a_cname_loop_is_not_a_missing_record() {
    let r = dns(&["spf", "loop1.hostile-dns.example"]).await;
    r.assert_error("dns-failure", "CNAME chain");
    assert!(!r.ids().iter().any(|id| id == "spf.missing"));
}

#[tokio::test(flavor = "multi_thread")]
async fn rfc_1034_3_6_2_a_chain_of_20_cnames_is_cut_at_the_limit() {
    let r = dns(&["spf", "chain1.hostile-dns.example"]).await;
    r.assert_error("dns-failure", "CNAME chain");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mx_set_of_1000_hosts_is_too_many() {
    let r = dns(&["check", "mx.test", "--checks", "mx"]).await;
    r.finding("mx.too-many");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_truncated_even_over_tcp_is_a_dns_failure() {
    // 1,000 MX records under long names: over 64 KiB even over TCP, so the server sets TC there
    // too. What was received is not the whole answer: never "no MX", never a partial set.
    let r = dns(&["check", "mx1000.hostile-dns.example", "--checks", "mx"]).await;
    r.assert_error("dns-failure", "truncated");
    assert!(!r.ids().iter().any(|id| id.starts_with("mx.")), "{:?}", r.ids());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_64_kib_txt_record_is_read_over_tcp_and_reported_as_too_long() {
    let r = dns(&["spf", "bigtxt.hostile-dns.example"]).await;
    assert_eq!(r.finding("spf.record-long")["args"]["limit"], "512");
}

#[tokio::test(flavor = "multi_thread")]
async fn rfc_7208_4_6_4_spf_with_100_nested_includes_stops_at_ten_lookups() {
    let r = dns(&["spf", "spf100.hostile-dns.example"]).await;
    r.finding("spf.lookup-limit");
}

// --- The run as a whole ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_run_past_its_deadline_says_so_and_concludes_nothing() {
    // A step timeout longer than the deadline: only the deadline can end this run.
    let lab = start("hostile-smtp").await;
    let started = Instant::now();
    let r = mxdoctor_within(
        &lab,
        &["sendas", "silent.hostile.example", "--port", "587"],
        &[],
        "30",
        "2",
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3 + 1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.report["verdict"]["id"], "verdict.run.unknown");
    r.assert_error("deadline", "2 s");
}
