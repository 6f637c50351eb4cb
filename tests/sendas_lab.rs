//! Gmail "Send mail as" against the lab: one scenario per case, asserting finding ids and the
//! key evidence. Every scenario runs real DNS and real SMTP/TLS servers on loopback.

mod common;

use std::time::Duration;

use common::*;
use mxdoctor_engine::model::{Report, Severity};
use mxdoctor_lab::Lab;
use time::macros::datetime;

#[tokio::test]
async fn certificate_matches_and_gmail_accepts() {
    let r = demo("cert-ok").await;
    assert_eq!(r.verdict.id, "verdict.sendas.accept", "{}", mxdoctor_report::json(&r));
    for id in [
        "dns.host.resolves",
        "smtp.starttls.offered",
        "tls.version.ok",
        "tls.cert.name-match",
        "tls.cert.trusted",
        "tls.cert.in-date",
        "smtp.auth.after-tls",
    ] {
        assert_has(&r, id);
    }
    assert_eq!(finding(&r, "tls.cert.name-match").args["by"], "san");
    assert!(no_failures(&r), "{:?}", ids(&r));
    assert_eq!(r.exit_code(), 0);
    for id in [
        "tls.cert.name-mismatch",
        "sendas.candidates",
        "sendas.other-port",
        "smtp.auth.before-tls",
    ] {
        assert_lacks(&r, id);
    }
}

#[tokio::test]
async fn seed_name_mismatch_suggests_the_servers_own_name() {
    let r = demo("seed").await;
    assert_eq!(r.verdict.id, "verdict.sendas.refuse");
    assert_eq!(
        r.verdict.because.first().map(String::as_str),
        Some("tls.cert.name-mismatch")
    );
    let m = finding(&r, "tls.cert.name-mismatch");
    assert_eq!(m.args["host"], "mail.hanako-shop.example");
    assert!(m.args["names"].contains("*.star-hosting.example"), "{:?}", m.args);
    let c = finding(&r, "sendas.candidates");
    assert!(
        c.args["candidates"].contains("sv1234.star-hosting.example"),
        "{:?}",
        c.args
    );
    // The chain itself is fine: only the name is wrong.
    assert_has(&r, "tls.cert.trusted");
    assert_eq!(r.exit_code(), 1);
}

#[tokio::test]
async fn wildcard_covers_one_label() {
    let r = demo("wildcard-ok").await;
    assert_eq!(r.verdict.id, "verdict.sendas.accept", "{:?}", ids(&r));
    assert_eq!(finding(&r, "tls.cert.name-match").args["by"], "wildcard");
}

#[tokio::test]
async fn wildcard_must_not_cover_a_deeper_label() {
    let r = demo("wildcard-deep").await;
    let m = finding(&r, "tls.cert.name-mismatch");
    let evidence = m.evidence.to_string();
    assert!(evidence.contains("wildcard-covers-one-label-only"), "{evidence}");
    assert_eq!(r.verdict.id, "verdict.sendas.refuse");
}

#[tokio::test]
async fn cn_only_certificate_matches_by_cn_with_a_warning() {
    let r = demo("cn-only").await;
    assert_eq!(finding(&r, "tls.cert.name-match").args["by"], "cn");
    assert_has(&r, "tls.cert.cn-only");
}

#[tokio::test]
async fn self_signed_is_refused() {
    let r = demo("self-signed").await;
    assert_has(&r, "tls.cert.self-signed");
    assert_lacks(&r, "tls.cert.trusted");
    assert_eq!(r.verdict.id, "verdict.sendas.refuse");
}

#[tokio::test]
async fn unknown_issuer_is_refused() {
    let r = demo("unknown-issuer").await;
    assert_has(&r, "tls.cert.unknown-issuer");
    assert_lacks(&r, "tls.cert.self-signed");
}

#[tokio::test]
async fn missing_intermediate_is_an_incomplete_chain() {
    let r = demo("missing-intermediate").await;
    let f = finding(&r, "tls.cert.incomplete-chain");
    assert!(f.args["issuer"].contains("Intermediate"), "{:?}", f.args);
    // The evidence: the issuer fetched from the AIA caIssuers URI completes a trusted chain.
    let aia = &f.evidence["ca_issuers"];
    assert_eq!(aia["outcome"], "chains", "{aia}");
    assert_eq!(aia["url"], "http://ca.mxdoctor-lab.example/intermediate.der");
}

// Issue 8 item 7: "missing intermediate" only with evidence.
#[tokio::test]
async fn without_aia_evidence_both_causes_and_fixes_are_given() {
    let lab = start("missing-intermediate").await;
    let r = sendas(&lab, "plain.nochain.example", 587).await;
    assert_lacks(&r, "tls.cert.incomplete-chain");
    let f = finding(&r, "tls.cert.issuer-not-sent");
    assert_eq!(f.evidence["ca_issuers"]["outcome"], "unavailable");
    assert_eq!(r.verdict.id, "verdict.sendas.refuse");
}

// Issue 8 item 7: a leaf from a private CA, run without --ca-file, is not a missing
// intermediate: the issuer fetched from its AIA URI leads to no trusted root.
#[tokio::test]
async fn a_private_ca_without_ca_file_is_an_unknown_issuer() {
    let lab = start("cert-ok").await;
    let (host, port) = mxdoctor::labcmd::demo_target(lab.world()).unwrap();
    let mut ctx =
        mxdoctor::app::lab_context(&env(&lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(3)).unwrap();
    // Only the public roots, as Gmail has: the lab root is a private CA.
    ctx.tls = mxdoctor_net::tls::TlsSettings::webpki_roots(mxdoctor_net::clock::fixed(NOW), Duration::from_secs(3));
    let req = mxdoctor::app::sendas_request(&host, port, None, None, None).unwrap();
    let r = mxdoctor_engine::sendas::run(&ctx, &req).await;
    assert_lacks(&r, "tls.cert.incomplete-chain");
    let f = finding(&r, "tls.cert.unknown-issuer");
    assert_eq!(f.evidence["ca_issuers"]["outcome"], "not-trusted", "{}", f.evidence);
}

#[tokio::test]
async fn expired_certificate_with_a_fixed_clock() {
    let lab = start("expired").await;
    let (host, port) = mxdoctor::labcmd::demo_target(lab.world()).unwrap();
    let r = sendas_at(
        &lab,
        &host,
        port,
        datetime!(2026-06-01 00:00:00 UTC),
        Duration::from_secs(5),
    )
    .await;
    let f = finding(&r, "tls.cert.expired");
    assert!(f.args["not_after"].starts_with("2026-01-01"), "{:?}", f.args);
    // The chain is still judged on its own: trusted, only out of date.
    assert_has(&r, "tls.cert.trusted");
    // The same server judged at a time inside the window is in date: the clock decides.
    let r = sendas_at(
        &lab,
        &host,
        port,
        datetime!(2025-06-01 00:00:00 UTC),
        Duration::from_secs(5),
    )
    .await;
    assert_has(&r, "tls.cert.in-date");
    assert_lacks(&r, "tls.cert.expired");
}

#[tokio::test]
async fn not_yet_valid_certificate() {
    let r = demo("not-yet-valid").await;
    assert!(finding(&r, "tls.cert.not-yet-valid").args["not_before"].starts_with("2030-01-01"));
}

#[tokio::test]
async fn server_choosing_certificates_by_sni() {
    let lab = start("sni").await;
    let right = sendas(&lab, "mail.beta.example", 587).await;
    assert_eq!(right.verdict.id, "verdict.sendas.accept", "{:?}", ids(&right));
    let sni = finding(&right, "tls.sni.selects-cert");
    assert!(
        sni.args["default_names"].contains("mail.alpha.example"),
        "{:?}",
        sni.args
    );
    let wrong = sendas(&lab, "mail.gamma.example", 587).await;
    assert_has(&wrong, "tls.cert.name-mismatch");
    assert_eq!(wrong.verdict.id, "verdict.sendas.refuse");
}

#[tokio::test]
async fn starttls_not_offered() {
    let r = demo("no-starttls").await;
    assert_has(&r, "smtp.starttls.missing");
    assert_lacks(&r, "tls.version.ok");
    assert_eq!(r.verdict.id, "verdict.sendas.refuse");
}

#[tokio::test]
async fn auth_only_before_tls() {
    let r = demo("auth-before-tls").await;
    assert_has(&r, "smtp.auth.before-tls");
    assert_has(&r, "smtp.auth.missing-after-tls");
    assert_eq!(r.verdict.id, "verdict.sendas.refuse");
}

#[tokio::test]
async fn implicit_tls_on_465_and_the_other_port_advice() {
    let lab = start("implicit-tls").await;
    let (host, _) = mxdoctor::labcmd::demo_target(lab.world()).unwrap();
    let ssl = sendas(&lab, &host, 465).await;
    assert_eq!(ssl.verdict.id, "verdict.sendas.accept", "{:?}", ids(&ssl));
    assert!(ssl.target.contains("SSL"));
    let tls = sendas(&lab, &host, 587).await;
    assert_eq!(tls.verdict.id, "verdict.sendas.unreachable");
    assert_eq!(error_cause(&tls).as_deref(), Some("refused"));
    assert_eq!(finding(&tls, "sendas.other-port").args["port"], "465");
}

#[tokio::test]
async fn tls_1_0_only_server_is_too_old() {
    let r = demo("tls10-only").await;
    assert_eq!(finding(&r, "tls.version.too-old").args["best"], "TLS 1.0");
    assert_lacks(&r, "tls.handshake.failed");
    assert_eq!(
        r.verdict.because.first().map(String::as_str),
        Some("tls.version.too-old")
    );
}

#[tokio::test]
async fn name_that_does_not_resolve() {
    let lab = start("seed").await;
    let r = sendas(&lab, "smtp.hanako-shop.example", 587).await;
    assert_eq!(finding(&r, "dns.host.not-found").args["rcode"], "NXDOMAIN");
    assert_eq!(r.verdict.id, "verdict.sendas.unreachable");
    let r = sendas(&lab, "mail.no-such-domain.example", 587).await;
    assert_has(&r, "dns.host.not-found");
}

#[tokio::test]
async fn closed_port_is_an_error_status_not_a_finding() {
    let r = demo("port-closed").await;
    assert_eq!(error_cause(&r).as_deref(), Some("refused"));
    assert_eq!(r.verdict.id, "verdict.sendas.unreachable");
    assert_lacks(&r, "tls.cert.name-mismatch");
    assert_eq!(r.exit_code(), 1);
}

#[tokio::test]
async fn silent_server_ends_at_the_timeout() {
    let lab = start("silent").await;
    let (host, port) = mxdoctor::labcmd::demo_target(lab.world()).unwrap();
    let r = sendas_at(&lab, &host, port, NOW, Duration::from_millis(700)).await;
    // Connected and never greeted: named as such, and no TLS server answered either.
    assert_has(&r, "smtp.no-greeting");
    assert_lacks(&r, "sendas.wrong-security");
    assert_eq!(
        error_cause(&r).as_deref(),
        Some("timeout"),
        "{}",
        mxdoctor_report::json(&r)
    );
    assert_eq!(r.verdict.id, "verdict.sendas.unreachable");
}

#[tokio::test]
async fn garbage_and_over_long_lines_are_not_smtp() {
    // Bytes that are not an SMTP greeting name what answered, and Gmail refuses the server.
    for scenario in ["garbage", "long-line"] {
        let r = demo(scenario).await;
        let f = finding(&r, "smtp.not-smtp");
        assert_eq!(f.severity, Severity::Fail);
        assert_eq!(r.verdict.id, "verdict.sendas.refuse", "{scenario}");
        assert_eq!(r.verdict.because.first().map(String::as_str), Some("smtp.not-smtp"));
    }
}

#[tokio::test]
async fn reset_mid_handshake_is_a_handshake_failure() {
    let r = demo("tls-reset").await;
    assert_has(&r, "tls.handshake.failed");
    assert_eq!(r.verdict.id, "verdict.sendas.refuse");
}

async fn with_auth(scenario: &str, user: &str, password: &str) -> mxdoctor_engine::model::Report {
    let lab = start(scenario).await;
    let (host, port) = mxdoctor::labcmd::demo_target(lab.world()).unwrap();
    let ctx = mxdoctor::app::lab_context(&env(&lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(5)).unwrap();
    let var = format!("MXDOCTOR_TEST_PW_{}", std::process::id());
    // SAFETY: set_var is unsafe in edition 2024 because other threads may read the environment;
    // this test reads it back immediately and no other code of this test binary reads this name.
    unsafe { std::env::set_var(&var, password) };
    let req = mxdoctor::app::sendas_request(&host, port, None, Some(user), Some(&var)).unwrap();
    mxdoctor_engine::sendas::run(&ctx, &req).await
}

#[tokio::test]
async fn auth_like_gmail_accepted_and_rejected_without_leaking_the_password() {
    let ok = with_auth("cert-ok", "taro@good.example", "lab-password").await;
    assert_eq!(finding(&ok, "smtp.auth.accepted").args["mechanism"], "PLAIN");
    assert_eq!(ok.verdict.id, "verdict.sendas.accept");
    let bad = with_auth("cert-ok", "taro@good.example", "wrong-secret-123").await;
    assert!(finding(&bad, "smtp.auth.rejected").args["reply"].starts_with("535"));
    assert_eq!(bad.verdict.id, "verdict.sendas.refuse");
    let json = mxdoctor_report::json(&bad);
    assert!(
        !json.contains("wrong-secret-123"),
        "the password leaked into the report"
    );
    let text = mxdoctor_report::text(
        &bad,
        &mxdoctor_report::TextOptions {
            lang: mxdoctor_explain::Lang::En,
            color: false,
            verbose: true,
        },
    );
    assert!(
        !text.contains("wrong-secret-123"),
        "the password leaked into the text output"
    );
}

#[tokio::test]
async fn starttls_advertised_but_refused() {
    let r = demo("starttls-broken").await;
    assert!(finding(&r, "smtp.starttls.rejected").args["reply"].starts_with("454"));
    assert_lacks(&r, "smtp.starttls.offered");
    assert_eq!(r.verdict.id, "verdict.sendas.refuse");
}

#[tokio::test]
async fn tls_alert_is_a_handshake_failure_with_the_alert_named() {
    let r = demo("tls-alert").await;
    let f = finding(&r, "tls.handshake.failed");
    assert!(f.args["reason"].contains("HandshakeFailure"), "{:?}", f.args);
}

#[tokio::test]
async fn legacy_versions_still_accepted_are_a_notice() {
    let r = demo("legacy-and-modern").await;
    assert_eq!(r.verdict.id, "verdict.sendas.accept", "{:?}", ids(&r));
    assert_eq!(
        finding(&r, "tls.version.legacy-accepted").args["versions"],
        "TLS 1.1, TLS 1.0"
    );
    let accepted = finding(&r, "tls.version.ok").evidence["accepted"].clone();
    assert_eq!(
        accepted,
        serde_json::json!(["TLS 1.3", "TLS 1.2", "TLS 1.1", "TLS 1.0"])
    );
    // A modern-only server is not flagged.
    assert_lacks(&demo("cert-ok").await, "tls.version.legacy-accepted");
}

#[tokio::test]
async fn certificate_expiring_within_14_days_is_a_warning() {
    let lab = start("expired").await;
    let (host, port) = mxdoctor::labcmd::demo_target(lab.world()).unwrap();
    let r = sendas_at(
        &lab,
        &host,
        port,
        datetime!(2025-12-25 00:00:00 UTC),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(finding(&r, "tls.cert.expires-soon").args["days_left"], "7");
    assert_lacks(&r, "tls.cert.in-date");
    // A warning does not make Gmail refuse.
    assert_eq!(r.verdict.id, "verdict.sendas.accept");
}

#[tokio::test]
async fn dns_that_does_not_answer_is_an_error_status_and_no_verdict() {
    // A UDP socket that never answers and a TCP port that is closed: DNS is unusable.
    let sink = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let lab = start("seed").await;
    let mut env = env(&lab);
    env.resolver = sink.local_addr().unwrap();
    let ctx = mxdoctor::app::lab_context(&env, mxdoctor_net::clock::fixed(NOW), Duration::from_millis(400)).unwrap();
    let req = mxdoctor::app::sendas_request("mail.hanako-shop.example", 587, None, None, None).unwrap();
    let r = mxdoctor_engine::sendas::run(&ctx, &req).await;
    // Nothing answered: a DNS timeout (DNS advice), never a connection timeout.
    assert_eq!(
        error_cause(&r).as_deref(),
        Some("dns-timeout"),
        "{}",
        mxdoctor_report::json(&r)
    );
    assert_eq!(r.verdict.id, "verdict.sendas.unknown");
    assert_lacks(&r, "dns.host.not-found");
    assert_eq!(mxdoctor::app::exit_code(&r), 2);
}

#[tokio::test]
async fn the_seed_reports_that_login_was_not_tried() {
    assert_has(&demo("seed").await, "smtp.auth.untested");
}

/// `sendas` with Gmail's security button given explicitly.
async fn sendas_mode(lab: &Lab, host: &str, port: u16, security: mxdoctor::cli::SecurityArg) -> Report {
    let ctx = mxdoctor::app::lab_context(&env(lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(2)).unwrap();
    let req = mxdoctor::app::sendas_request(host, port, Some(security), None, None).unwrap();
    mxdoctor_engine::sendas::run(&ctx, &req).await
}

// Issue 8 item 1: a mailbox server given as SMTP is not SMTP, whatever its certificate says.
#[tokio::test]
async fn imaps_and_pop3s_ports_are_not_smtp() {
    let lab = start("security-modes").await;
    for (port, what) in [(993, "IMAP"), (995, "POP3")] {
        let r = sendas_mode(&lab, "mail.modes.example", port, mxdoctor::cli::SecurityArg::Ssl).await;
        let f = finding(&r, "smtp.not-smtp");
        assert_eq!(f.args["what"], what, "{port}");
        assert_eq!(f.args["expected"], "465 (SSL)");
        assert_eq!(
            r.verdict.id,
            "verdict.sendas.refuse",
            "{port}: {}",
            mxdoctor_report::json(&r)
        );
        assert_eq!(r.verdict.because[0], "smtp.not-smtp");
        assert_eq!(r.exit_code(), 1);
        // The certificate is fine: TLS alone never makes an SMTP server.
        assert_has(&r, "tls.cert.name-match");
        assert_lacks(&r, "sendas.candidates");
    }
}

// Issue 8 item 2: SSL chosen for a STARTTLS port, and TLS chosen for an implicit-TLS port.
#[tokio::test]
async fn the_wrong_gmail_security_button_is_named() {
    use mxdoctor::cli::SecurityArg;
    let lab = start("security-modes").await;
    let r = sendas_mode(&lab, "mail.modes.example", 587, SecurityArg::Ssl).await;
    let f = finding(&r, "sendas.wrong-security");
    assert_eq!((f.args["chosen"].as_str(), f.args["right"].as_str()), ("SSL", "TLS"));
    assert_lacks(&r, "tls.handshake.failed");
    assert_lacks(&r, "tls.cert.name-mismatch");
    assert_eq!(r.verdict.id, "verdict.sendas.refuse");
    assert_eq!(r.verdict.because[0], "sendas.wrong-security");

    let r = sendas_mode(&lab, "mail.modes.example", 465, SecurityArg::Starttls).await;
    let f = finding(&r, "sendas.wrong-security");
    assert_eq!((f.args["chosen"].as_str(), f.args["right"].as_str()), ("TLS", "SSL"));
    assert_lacks(&r, "smtp.no-greeting");
    assert_eq!(
        error_cause(&r),
        None,
        "known cause, not a timeout: {}",
        mxdoctor_report::json(&r)
    );
    assert_eq!(r.verdict.id, "verdict.sendas.refuse");

    // The right buttons work.
    for (port, sec) in [(587, SecurityArg::Starttls), (465, SecurityArg::Ssl)] {
        let r = sendas_mode(&lab, "mail.modes.example", port, sec).await;
        assert_eq!(
            r.verdict.id,
            "verdict.sendas.accept",
            "{port}: {}",
            mxdoctor_report::json(&r)
        );
    }
}
