//! `sendas`: Gmail's "Send mail as" through the user's own SMTP server, simulated.
//!
//! Probe: resolve the typed name, run the SMTP session Gmail runs (STARTTLS on 587/25, implicit
//! TLS on 465, EHLO again, AUTH), then the side probes that make the advice exact: TLS versions,
//! certificate without SNI, the covered names that reach the same server, the other port.
//! Verdict: pure functions from what was seen to findings ([`session_findings`]).
//! Explanation: the catalogue (crates/explain) keyed by the finding ids used here.

use std::net::{IpAddr, SocketAddr};

use futures_util::future::join_all;
use serde_json::json;

use mxdoctor_net::legacy::{LegacyResult, probe_version};
use mxdoctor_net::smtp::{Credentials, NotSmtp, Security, SessionPlan, SessionReport, SmtpError, run_session};
use mxdoctor_net::tls::{BOTH, ChainVerdict, DateVerdict, MAX_CHAIN_CERTS, ONLY_12, TlsFailure, TlsOutcome};
use mxdoctor_net::{ConnectError, DnsError};
use mxdoctor_proto::hostname::Hostname;
use mxdoctor_proto::names::{covered_names, name_covers, verify_name};
use mxdoctor_proto::tls_hello::TlsVersion;

use crate::aia::{IssuerEvidence, issuer_evidence};
use crate::context::Context;
use crate::model::*;

/// Days before expiry from which a warning is given.
const EXPIRES_SOON_DAYS: i64 = 14;
/// At most this many covered names are tried as candidates (a certificate may list hundreds).
const MAX_CANDIDATES: usize = 12;

#[derive(Debug, Clone)]
pub struct SendasRequest {
    pub host: Hostname,
    pub port: u16,
    pub security: Security,
    pub credentials: Option<Credentials>,
}

impl SendasRequest {
    pub fn new(host: Hostname, port: u16) -> Self {
        Self {
            host,
            port,
            security: Security::for_port(port),
            credentials: None,
        }
    }
}

/// Runs the whole Send-mail-as diagnosis.
pub async fn run(ctx: &Context, req: &SendasRequest) -> Report {
    let host = req.host.as_str().to_string();
    let subject = format!("{host}:{}", req.port);
    let mut checks = Vec::new();

    // 1. The typed name must resolve.
    let (dns_check, addrs) = resolve(ctx, &host, "sendas.dns").await;
    checks.push(dns_check);

    // Gmail connects to one of the addresses; IPv4 first is what most senders do today.
    let mut ordered = addrs.clone();
    ordered.sort_by_key(|ip| if ip.is_ipv4() { 0 } else { 1 });
    let Some(&ip) = ordered.first() else {
        return finish(ctx, "sendas", &subject, req, checks);
    };
    let addr = SocketAddr::new(ip, req.port);

    // 2. The session Gmail runs.
    let plan = SessionPlan {
        addr,
        server_name: host.clone(),
        security: req.security,
        send_sni: true,
        ehlo_name: ctx.ehlo_name.clone(),
        credentials: req.credentials.clone(),
        versions: BOTH,
        stop_after_tls: false,
        relay_probe: None,
    };
    let session = run_session(&ctx.connector, &plan, &ctx.tls, ctx.timeout).await;
    let mut smtp_check = CheckResult::ran("sendas.session", subject.clone());
    let issuer = match &session.tls {
        Some(tls) => issuer_evidence(ctx, tls).await,
        None => None,
    };
    smtp_check.findings = session_findings(
        &session,
        &req.host,
        req.port,
        req.credentials.is_some(),
        issuer.as_ref(),
    );
    if let Some(err) = &session.error {
        // A session that stopped before TLS was judged is an error status, never a pass or fail
        // of the certificate.
        // A session cut short never passes: what was not seen (EHLO after TLS, AUTH) is
        // unknown. When the session stopped because it was not SMTP, the finding says so.
        let diagnosed = smtp_check.findings.iter().any(|f| DIAGNOSED.contains(&f.id.as_str()));
        if !diagnosed {
            smtp_check.status = CheckStatus::Error {
                cause: cause_of(err),
                detail: err.to_string(),
            };
        }
        smtp_check
            .evidence
            .push(Evidence::Note(format!("session ended early: {err}")));
    }
    if let Some(status) = handshake_timeout(session.tls_failure.as_ref()) {
        smtp_check.status = status;
    }
    smtp_check
        .evidence
        .push(Evidence::SmtpTranscript(json!(session.transcript)));
    if let Some(tls) = &session.tls {
        smtp_check.evidence.push(Evidence::Certificate(json!(tls.chain)));
        smtp_check.evidence.push(Evidence::Tls(json!({
            "version": tls.version, "cipher": tls.cipher, "sni": tls.sni,
            "chain": tls.chain_verdict, "dates": tls.dates,
            "checked_at": tls.checked_at, "trust_store": tls.trust_store,
        })));
    }

    // The other button of Gmail's dialog, when this one met the wrong kind of port.
    if let Some(right) = wrong_security(ctx, &session, addr, &host).await {
        smtp_check
            .findings
            .retain(|f| f.id != "tls.handshake.failed" && f.id != "smtp.no-greeting");
        smtp_check.findings.insert(
            0,
            Finding::new("sendas.wrong-security", Severity::Fail, subject.clone())
                .arg("server", &subject)
                .arg("port", req.port)
                .arg("chosen", req.security.gmail_label())
                .arg("right", right.gmail_label()),
        );
        // What went wrong is known: the session's error is explained, not a failure to run.
        smtp_check.status = CheckStatus::Ran;
    }

    // 3. Side probes, concurrently.
    let tls_failed_on_version = matches!(
        &session.tls_failure,
        Some(TlsFailure::Incompatible { .. }) | Some(TlsFailure::Alert { .. }) | Some(TlsFailure::Protocol { .. })
    );
    let reached_tls = session.tls.is_some() || session.tls_failure.is_some();
    let (legacy, modern, no_sni, candidates, other) = tokio::join!(
        async {
            if reached_tls {
                legacy_versions(ctx, addr, req.security, &host).await
            } else {
                Vec::new()
            }
        },
        async {
            if let Some(tls) = &session.tls {
                modern_versions(ctx, addr, req.security, &host, tls.version).await
            } else {
                Vec::new()
            }
        },
        async {
            match &session.tls {
                Some(_) => Some(tls_only(ctx, addr, req.security, &host, false).await),
                None => None,
            }
        },
        candidates(ctx, &session, ip, req),
        other_port(ctx, &session, ip, req),
    );

    let mut tls_check = CheckResult::ran("sendas.tls-versions", subject.clone());
    if let Some(tls) = &session.tls {
        let mut accepted: Vec<TlsVersion> = modern.clone();
        accepted.extend(legacy.iter().filter_map(|r| match r {
            LegacyResult::Accepted { version, .. } => Some(*version),
            _ => None,
        }));
        accepted.sort();
        accepted.dedup();
        accepted.reverse();
        tls_check.findings.push(
            Finding::new("tls.version.ok", Severity::Pass, subject.clone())
                .arg("version", tls.version)
                .arg("cipher", &tls.cipher)
                .evidence(json!({ "accepted": accepted.iter().map(|v| v.to_string()).collect::<Vec<_>>() })),
        );
        let old: Vec<String> = legacy
            .iter()
            .filter_map(|r| match r {
                LegacyResult::Accepted { version, .. } => Some(version.to_string()),
                _ => None,
            })
            .collect();
        if !old.is_empty() {
            tls_check.findings.push(
                Finding::new("tls.version.legacy-accepted", Severity::Notice, subject.clone())
                    .arg("versions", old.join(", ")),
            );
        }
    } else if tls_failed_on_version {
        let best = legacy.iter().find_map(|r| match r {
            LegacyResult::Accepted { version, .. } => Some(*version),
            _ => None,
        });
        if let Some(best) = best {
            // The handshake failed because the server is too old: say that, not "handshake failed".
            smtp_check.findings.retain(|f| f.id != "tls.handshake.failed");
            tls_check.findings.push(
                Finding::new("tls.version.too-old", Severity::Fail, subject.clone())
                    .arg("best", best)
                    .evidence(json!({ "probes": legacy })),
            );
        }
    }
    if !legacy.is_empty() {
        tls_check.evidence.push(Evidence::Tls(
            json!({ "legacy_probes": legacy, "modern_accepted": modern }),
        ));
    }
    if !tls_check.findings.is_empty() || !tls_check.evidence.is_empty() {
        checks.push(smtp_check);
        checks.push(tls_check);
    } else {
        checks.push(smtp_check);
    }

    let mut advice = CheckResult::ran("sendas.advice", subject.clone());
    if let (Some(main), Some(Ok(plain))) = (&session.tls, &no_sni)
        && main.chain_der.first() != plain.chain_der.first()
    {
        let names = plain
            .leaf()
            .map(|c| covered_names(&c.presented_ids()))
            .unwrap_or_default();
        advice.findings.push(
            Finding::new("tls.sni.selects-cert", Severity::Info, subject.clone())
                .arg("default_names", names.join(", "))
                .evidence(json!({ "without_sni": plain.leaf(), "with_sni": main.leaf() })),
        );
    }
    if !candidates.is_empty() {
        advice.findings.push(
            Finding::new("sendas.candidates", Severity::Info, subject.clone())
                .arg("host", &host)
                .arg("candidates", candidates.join(", "))
                .arg("port", req.port)
                .evidence(json!({ "verified": candidates, "address": ip })),
        );
    }
    if let Some((port, security)) = other {
        advice.findings.push(
            Finding::new("sendas.other-port", Severity::Info, format!("{host}:{port}"))
                .arg("port", port)
                .arg("security", security.gmail_label()),
        );
    }
    if !advice.findings.is_empty() {
        checks.push(advice);
    }
    finish(ctx, "sendas", &subject, req, checks)
}

/// The typed name's addresses, as a check: resolves, does not exist, or could not be found out.
pub(crate) async fn resolve(ctx: &Context, host: &str, check: &str) -> (CheckResult, Vec<IpAddr>) {
    let host = host.to_string();
    let mut dns_check = CheckResult::ran(check, host.clone());
    let addrs = match ctx.dns.lookup_ip(&host).await {
        Ok(addrs) => {
            let list = join(addrs.iter());
            dns_check.findings.push(
                Finding::new("dns.host.resolves", Severity::Pass, host.clone())
                    .arg("host", &host)
                    .arg("addresses", &list)
                    .evidence(json!({ "addresses": addrs })),
            );
            addrs
        }
        Err(e) if e.is_negative() => {
            let rcode = if matches!(e, DnsError::NxDomain { .. }) {
                "NXDOMAIN"
            } else {
                "NODATA"
            };
            dns_check.findings.push(
                Finding::new("dns.host.not-found", Severity::Fail, host.clone())
                    .arg("host", &host)
                    .arg("rcode", rcode),
            );
            Vec::new()
        }
        Err(e) => {
            // Could not find out (SERVFAIL, no answer): not the same as "does not exist".
            dns_check.status = CheckStatus::dns(&e);
            Vec::new()
        }
    };
    // Sorted: A and AAAA are asked at the same time, and the evidence must not depend on which
    // answer came first.
    let mut queries = ctx.dns.queries();
    queries.sort_by(|a, b| (&a.name, &a.rtype).cmp(&(&b.name, &b.rtype)));
    dns_check.evidence.push(Evidence::Dns(json!(queries)));

    (dns_check, addrs)
}

/// The findings one session supports. Pure: no I/O, so every branch is unit-testable.
pub fn session_findings(
    s: &SessionReport,
    host: &Hostname,
    port: u16,
    tried_auth: bool,
    issuer: Option<&IssuerEvidence>,
) -> Vec<Finding> {
    let server = format!("{}:{port}", host.as_str());
    let mut out = Vec::new();
    out.extend(protocol_findings(s, &server));
    if let Some(caps) = &s.ehlo_before_tls {
        if !caps.auth.is_empty() {
            out.push(
                Finding::new("smtp.auth.before-tls", Severity::Warning, server.clone())
                    .arg("mechanisms", caps.auth.join(" ")),
            );
        }
        if !caps.starttls {
            out.push(
                Finding::new("smtp.starttls.missing", Severity::Fail, server.clone())
                    .arg("server", &server)
                    .arg("port", port),
            );
        } else {
            match s.starttls_accepted {
                Some(true) => out
                    .push(Finding::new("smtp.starttls.offered", Severity::Pass, server.clone()).arg("server", &server)),
                Some(false) => out.push(
                    Finding::new("smtp.starttls.rejected", Severity::Fail, server.clone())
                        .arg("server", &server)
                        .arg("reply", s.starttls_reply.clone().unwrap_or_default()),
                ),
                None => {}
            }
        }
    }
    if let Some(f) = &s.tls_failure {
        out.extend(tls_failure_finding(f, &server));
    }
    if let Some(tls) = &s.tls {
        out.extend(chain_length_finding(tls, &server));
        out.extend(certificate_findings(tls, host, &server, issuer));
        if let Some(caps) = &s.ehlo_after_tls {
            if caps.auth.is_empty() {
                out.push(
                    Finding::new("smtp.auth.missing-after-tls", Severity::Fail, server.clone()).arg("server", &server),
                );
            } else {
                out.push(
                    Finding::new("smtp.auth.after-tls", Severity::Pass, server.clone())
                        .arg("mechanisms", caps.auth.join(" ")),
                );
                match &s.auth {
                    Some(a) if a.accepted => out.push(
                        Finding::new("smtp.auth.accepted", Severity::Pass, server.clone())
                            .arg("user", &a.user)
                            .arg("mechanism", &a.mechanism),
                    ),
                    Some(a) => out.push(
                        Finding::new("smtp.auth.rejected", Severity::Fail, server.clone())
                            .arg("user", &a.user)
                            .arg("reply", &a.reply)
                            .evidence(json!({ "mechanism": a.mechanism, "reply": a.reply })),
                    ),
                    None if !tried_auth => out.push(Finding::new("smtp.auth.untested", Severity::Info, server.clone())),
                    None => {}
                }
            }
        }
    }
    out
}

/// A handshake that failed, named by how: not TLS at all, a message larger than TLS allows, or
/// the failure rustls reported. A handshake that timed out is no finding: the session's error
/// status says it could not be completed (see [`session_error_status`]).
pub(crate) fn tls_failure_finding(f: &TlsFailure, server: &str) -> Option<Finding> {
    let finding = match f {
        TlsFailure::Timeout { .. } => return None,
        TlsFailure::NotTls { .. } => {
            Finding::new("tls.handshake.not-tls", Severity::Fail, server.to_string()).arg("server", server)
        }
        TlsFailure::TooLarge { limit } => Finding::new("tls.handshake.too-large", Severity::Fail, server.to_string())
            .arg("server", server)
            .arg("limit", limit),
        _ => Finding::new("tls.handshake.failed", Severity::Fail, server.to_string()).arg("reason", f),
    };
    Some(finding.evidence(json!(f)))
}

/// A handshake that never finished: whether a client could use the server is unknown, so the
/// check could not run (never a failure of the server).
pub(crate) fn handshake_timeout(f: Option<&TlsFailure>) -> Option<CheckStatus> {
    match f? {
        TlsFailure::Timeout { secs } => Some(CheckStatus::Error {
            cause: ErrorCause::Timeout,
            detail: format!("the TLS handshake did not finish within {secs} s"),
        }),
        _ => None,
    }
}

/// More certificates than any chain needs: clients stop reading (mxdoctor judges the first
/// [`MAX_CHAIN_CERTS`]), and every handshake carries the extra bytes.
pub(crate) fn chain_length_finding(tls: &TlsOutcome, server: &str) -> Option<Finding> {
    (tls.presented > MAX_CHAIN_CERTS).then(|| {
        Finding::new("tls.chain.too-long", Severity::Warning, server.to_string())
            .arg("server", server)
            .arg("count", tls.presented)
            .arg("limit", MAX_CHAIN_CERTS)
    })
}

/// A session the server broke in a way of its own (beyond "not SMTP" and silence): a reply
/// line without end, a reply of endless lines, a reply that trickles in, replies injected
/// after the 220 to STARTTLS. Each is a finding: what is wrong is known.
pub(crate) fn broken_session_finding(s: &SessionReport, server: &str) -> Option<Finding> {
    let finding = match s.error.as_ref()? {
        SmtpError::LineTooLong { stage, limit } if s.not_smtp.is_none() => {
            Finding::new("smtp.reply.line-too-long", Severity::Fail, server.to_string())
                .arg("stage", stage)
                .arg("limit", limit)
        }
        SmtpError::TooManyLines { stage, limit } => {
            Finding::new("smtp.reply.too-many-lines", Severity::Fail, server.to_string())
                .arg("stage", stage)
                .arg("limit", limit)
        }
        SmtpError::SlowReply { stage, secs, received } => {
            Finding::new("smtp.reply.too-slow", Severity::Fail, server.to_string())
                .arg("stage", stage)
                .arg("secs", secs)
                .arg("received", received)
        }
        SmtpError::StarttlsInjection => Finding::new("smtp.starttls.injection", Severity::Fail, server.to_string()),
        _ => return None,
    };
    Some(finding.arg("server", server))
}

/// Was it SMTP at all? A 220 greeting and a 250 EHLO reply are required; anything else names
/// what answered (the IMAPS or POP3S port given as SMTP is the usual case).
fn protocol_findings(s: &SessionReport, server: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let expected = match s.security {
        Security::Starttls => "587 (TLS)",
        Security::Implicit => "465 (SSL)",
    };
    out.extend(broken_session_finding(s, server));
    match &s.not_smtp {
        Some(NotSmtp::Other { peer, head }) => out.push(
            Finding::new("smtp.not-smtp", Severity::Fail, server.to_string())
                .arg("server", server)
                .arg("what", peer.name())
                .arg("line", head)
                .arg("expected", expected)
                .evidence(json!({ "peer": peer, "first_bytes": head, "tls": s.tls.is_some() })),
        ),
        Some(NotSmtp::Silence { secs }) => out.push(
            Finding::new("smtp.no-greeting", Severity::Fail, server.to_string())
                .arg("server", server)
                .arg("secs", secs)
                .arg("expected", expected),
        ),
        Some(NotSmtp::Closed) | None => {}
    }
    if let Some(code) = s.banner_code.filter(|c| *c != 220) {
        out.push(
            Finding::new("smtp.refused", Severity::Fail, server.to_string())
                .arg("server", server)
                .arg("reply", format!("{code} {}", s.banner.clone().unwrap_or_default()))
                .arg("stage", "greeting"),
        );
    }
    if let Some(reply) = &s.ehlo_refused {
        out.push(
            Finding::new("smtp.refused", Severity::Fail, server.to_string())
                .arg("server", server)
                .arg("reply", reply)
                .arg("stage", "EHLO"),
        );
    }
    out
}

/// Certificate verdicts: name (our RFC 6125 matcher), chain (webpki), dates (the clock).
pub fn certificate_findings(
    tls: &TlsOutcome,
    host: &Hostname,
    server: &str,
    issuer: Option<&IssuerEvidence>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(leaf) = tls.leaf() else { return out };
    let ids = leaf.presented_ids();
    let verdict = verify_name(host, &ids);
    let names = covered_names(&ids);
    match &verdict.matched {
        Some(m) => {
            let by = if verdict.cn_fallback_used {
                "cn"
            } else if matches!(m.outcome, Ok(mxdoctor_proto::names::MatchedBy::Wildcard)) {
                "wildcard"
            } else {
                "san"
            };
            out.push(
                Finding::new("tls.cert.name-match", Severity::Pass, server.to_string())
                    .arg("host", host.as_str())
                    .arg("matched", &m.presented)
                    .arg("by", by),
            );
            if verdict.cn_fallback_used {
                out.push(
                    Finding::new("tls.cert.cn-only", Severity::Warning, server.to_string()).arg("cn", &m.presented),
                );
            }
        }
        None => out.push(
            Finding::new("tls.cert.name-mismatch", Severity::Fail, server.to_string())
                .arg("host", host.as_str())
                .arg("names", names.join(", "))
                .evidence(json!({ "covered": names, "checks": verdict.checks })),
        ),
    }
    if !leaf.has_san && verdict.matched.is_none() && !leaf.common_names.is_empty() {
        out.push(
            Finding::new("tls.cert.cn-only", Severity::Warning, server.to_string())
                .arg("cn", leaf.common_names.join(", ")),
        );
    }
    match &tls.chain_verdict {
        ChainVerdict::Trusted => out.push(
            Finding::new("tls.cert.trusted", Severity::Pass, server.to_string())
                .arg("issuer", &leaf.issuer)
                .evidence(json!({ "trust_store": tls.trust_store })),
        ),
        ChainVerdict::SelfSigned => out.push(
            Finding::new("tls.cert.self-signed", Severity::Fail, server.to_string()).arg("subject", &leaf.subject),
        ),
        ChainVerdict::IncompleteChain { issuer: name } => out.push(leaf_only_finding(tls, name, server, issuer)),
        ChainVerdict::UnknownIssuer { issuer } => out.push(
            Finding::new("tls.cert.unknown-issuer", Severity::Fail, server.to_string())
                .arg("issuer", issuer)
                .evidence(json!({ "presented": tls.chain.len(), "trust_store": tls.trust_store })),
        ),
        ChainVerdict::Invalid { reason } => out.push(
            Finding::new("tls.cert.unknown-issuer", Severity::Fail, server.to_string())
                .arg("issuer", &leaf.issuer)
                .evidence(json!({ "webpki": reason })),
        ),
        ChainVerdict::Empty => {}
    }
    match &tls.dates {
        DateVerdict::InDate { days_left } => {
            if *days_left < EXPIRES_SOON_DAYS {
                out.push(
                    Finding::new("tls.cert.expires-soon", Severity::Warning, server.to_string())
                        .arg("not_after", &leaf.not_after)
                        .arg("days_left", days_left),
                );
            } else {
                out.push(
                    Finding::new("tls.cert.in-date", Severity::Pass, server.to_string())
                        .arg("not_after", &leaf.not_after)
                        .arg("days_left", days_left),
                );
            }
        }
        DateVerdict::Expired { days_ago } => out.push(
            Finding::new("tls.cert.expired", Severity::Fail, server.to_string())
                .arg("not_after", &leaf.not_after)
                .arg("days", days_ago)
                .evidence(
                    json!({ "not_before": leaf.not_before, "not_after": leaf.not_after, "checked_at": tls.checked_at }),
                ),
        ),
        DateVerdict::NotYetValid { .. } => out.push(
            Finding::new("tls.cert.not-yet-valid", Severity::Fail, server.to_string())
                .arg("not_before", &leaf.not_before)
                .evidence(
                    json!({ "not_before": leaf.not_before, "not_after": leaf.not_after, "checked_at": tls.checked_at }),
                ),
        ),
        DateVerdict::Unknown => {}
    }
    out
}

/// Only the leaf was sent and its issuer is not an anchor: a missing intermediate only with the
/// evidence of the fetched issuer; a private CA when that issuer leads nowhere; else both.
fn leaf_only_finding(tls: &TlsOutcome, name: &str, server: &str, issuer: Option<&IssuerEvidence>) -> Finding {
    let ev = json!({ "presented": tls.chain.len(), "trust_store": tls.trust_store, "ca_issuers": issuer });
    let id = match issuer {
        Some(IssuerEvidence::Chains { .. }) => "tls.cert.incomplete-chain",
        Some(IssuerEvidence::NotTrusted { .. }) => "tls.cert.unknown-issuer",
        Some(IssuerEvidence::Unavailable { .. }) | None => "tls.cert.issuer-not-sent",
    };
    Finding::new(id, Severity::Fail, server.to_string())
        .arg("issuer", name)
        .evidence(ev)
}

/// True when Gmail would accept this TLS outcome for `name`.
pub(crate) fn acceptable(tls: &TlsOutcome, name: &Hostname) -> bool {
    let Some(leaf) = tls.leaf() else { return false };
    verify_name(name, &leaf.presented_ids()).matched.is_some()
        && tls.chain_verdict == ChainVerdict::Trusted
        && matches!(tls.dates, DateVerdict::InDate { .. })
}

/// Findings that explain why a session stopped: with one of them, the session's end is a
/// diagnosis, not a check that could not run.
const DIAGNOSED: &[&str] = &[
    "smtp.not-smtp",
    "smtp.reply.line-too-long",
    "smtp.reply.too-many-lines",
    "smtp.reply.too-slow",
    "smtp.starttls.injection",
];

pub(crate) fn cause_of(e: &SmtpError) -> ErrorCause {
    match e {
        SmtpError::Connect(ConnectError::Refused { .. }) => ErrorCause::Refused,
        SmtpError::Connect(ConnectError::Timeout { .. }) => ErrorCause::Timeout,
        SmtpError::Connect(ConnectError::Unmapped { .. }) => ErrorCause::Unmapped,
        SmtpError::Connect(ConnectError::NotPublic { .. }) => ErrorCause::NotPublic,
        SmtpError::Connect(_) => ErrorCause::Io,
        SmtpError::Timeout { .. } => ErrorCause::Timeout,
        SmtpError::Io { .. } => ErrorCause::Io,
        SmtpError::Closed { .. }
        | SmtpError::LineTooLong { .. }
        | SmtpError::TooManyLines { .. }
        | SmtpError::NotSmtp { .. }
        | SmtpError::StarttlsInjection
        | SmtpError::SlowReply { .. }
        | SmtpError::SessionTooLarge { .. } => ErrorCause::Protocol,
    }
}

/// A session that stops right after the handshake (for SNI, version and candidate probes).
async fn tls_only(
    ctx: &Context,
    addr: SocketAddr,
    security: Security,
    name: &str,
    send_sni: bool,
) -> Result<TlsOutcome, String> {
    tls_only_versions(ctx, addr, security, name, send_sni, BOTH).await
}

pub(crate) async fn tls_only_versions(
    ctx: &Context,
    addr: SocketAddr,
    security: Security,
    name: &str,
    send_sni: bool,
    versions: mxdoctor_net::tls::VersionSet,
) -> Result<TlsOutcome, String> {
    let plan = SessionPlan {
        addr,
        server_name: name.to_string(),
        security,
        send_sni,
        ehlo_name: ctx.ehlo_name.clone(),
        credentials: None,
        versions,
        stop_after_tls: true,
        relay_probe: None,
    };
    let s = run_session(&ctx.connector, &plan, &ctx.tls, ctx.timeout).await;
    match (s.tls, s.tls_failure, s.error) {
        (Some(t), _, _) => Ok(t),
        (None, Some(f), _) => Err(f.to_string()),
        (None, None, Some(e)) => Err(e.to_string()),
        (None, None, None) => Err("TLS was not reached".into()),
    }
}

/// A whole SMTP session as Gmail runs it up to AUTH (greeting, EHLO, STARTTLS where used, EHLO
/// again): the TLS outcome when every step answered as SMTP, else None. What mxdoctor offers
/// as "type this instead" or "use the other port" is proven this way, never by TLS alone.
async fn full_session(ctx: &Context, addr: SocketAddr, security: Security, name: &str) -> Option<TlsOutcome> {
    let plan = SessionPlan {
        addr,
        server_name: name.to_string(),
        security,
        send_sni: true,
        ehlo_name: ctx.ehlo_name.clone(),
        credentials: None,
        versions: BOTH,
        stop_after_tls: false,
        relay_probe: None,
    };
    let s = run_session(&ctx.connector, &plan, &ctx.tls, ctx.timeout).await;
    if s.full_smtp() { s.tls } else { None }
}

/// Gmail's dialog has "TLS" (STARTTLS) and "SSL" (implicit TLS) buttons, and the wrong one is
/// often chosen. SSL chosen on a STARTTLS port: the handshake meets a plaintext `220`. TLS chosen
/// on an implicit-TLS port: silence, since the server waits for a ClientHello. Probe the other
/// mode on the same port; Some(the mode that works) when it answers.
async fn wrong_security(ctx: &Context, session: &SessionReport, addr: SocketAddr, host: &str) -> Option<Security> {
    match session.security {
        Security::Implicit if session.tls.is_none() && session.tls_failure.is_some() => {
            let s = run_session(
                &ctx.connector,
                &SessionPlan {
                    addr,
                    server_name: host.to_string(),
                    security: Security::Starttls,
                    send_sni: true,
                    ehlo_name: ctx.ehlo_name.clone(),
                    credentials: None,
                    versions: BOTH,
                    stop_after_tls: true,
                    relay_probe: None,
                },
                &ctx.tls,
                ctx.timeout,
            )
            .await;
            (s.banner_code == Some(220)).then_some(Security::Starttls)
        }
        Security::Starttls if matches!(session.not_smtp, Some(NotSmtp::Silence { .. })) => {
            // A handshake that completes (the recording verifier accepts any certificate, and
            // judges it apart) means a ServerHello came back: this port speaks TLS first.
            let t = tls_only(ctx, addr, Security::Implicit, host, true).await;
            t.is_ok().then_some(Security::Implicit)
        }
        _ => None,
    }
}

/// TLS 1.3 and 1.2 support. The main session offered both, so its answer settles one of them
/// without another connection: a server that chose 1.2 does not speak 1.3; one that chose 1.3
/// is asked once more, offering 1.2 alone.
async fn modern_versions(
    ctx: &Context,
    addr: SocketAddr,
    security: Security,
    host: &str,
    negotiated: TlsVersion,
) -> Vec<TlsVersion> {
    if negotiated != TlsVersion::Tls13 {
        return vec![negotiated];
    }
    let v12 = tls_only_versions(ctx, addr, security, host, true, ONLY_12).await;
    let mut out = vec![TlsVersion::Tls13];
    if v12.is_ok() {
        out.push(TlsVersion::Tls12);
    }
    out
}

/// TLS 1.1 and 1.0, in as few connections as the answers allow. A hello offering up to 1.1 is
/// answered with 1.1, with 1.0 (the server's best), or refused; only when it is not refused is
/// 1.0 offered on its own. A modern server that refuses both costs one connection, not two.
pub(crate) async fn legacy_versions(
    ctx: &Context,
    addr: SocketAddr,
    security: Security,
    host: &str,
) -> Vec<LegacyResult> {
    let probe = |version| {
        probe_version(
            &ctx.connector,
            addr,
            security,
            Some(host),
            &ctx.ehlo_name,
            version,
            ctx.timeout,
        )
    };
    let v11 = probe(TlsVersion::Tls11).await;
    let settles_v10 = match &v11 {
        LegacyResult::Refused { .. } | LegacyResult::Closed => true,
        LegacyResult::OtherVersion { answered, .. } => *answered > TlsVersion::Tls11,
        LegacyResult::Accepted { .. } | LegacyResult::NotTested { .. } | LegacyResult::Covered { .. } => false,
    };
    let v10 = if settles_v10 {
        LegacyResult::Covered { by: TlsVersion::Tls11 }
    } else {
        probe(TlsVersion::Tls10).await
    };
    vec![v11, v10]
}

/// Names the certificate covers (and PTR names of the server it covers) that resolve to the
/// same address and present an acceptable certificate there: what the user can type instead.
async fn candidates(ctx: &Context, session: &SessionReport, ip: IpAddr, req: &SendasRequest) -> Vec<String> {
    let Some(tls) = &session.tls else {
        return Vec::new();
    };
    if acceptable(tls, &req.host) {
        return Vec::new();
    }
    let Some(leaf) = tls.leaf() else {
        return Vec::new();
    };
    let ids = leaf.presented_ids();
    let mut names: Vec<String> = covered_names(&ids)
        .into_iter()
        .filter(|n| !n.starts_with("*."))
        .collect();
    // A wildcard certificate often covers the server's own PTR name.
    if let Ok(ptrs) = ctx.dns.reverse(ip).await {
        for p in ptrs {
            if let Ok(h) = Hostname::parse(&p)
                && ids
                    .dns_sans
                    .iter()
                    .chain(ids.common_names.iter())
                    .any(|n| name_covers(n, &h).is_ok())
                && !names.contains(&h.as_str().to_string())
            {
                names.push(h.as_str().to_string());
            }
        }
    }
    names.retain(|n| n != req.host.as_str());
    names.truncate(MAX_CANDIDATES);
    let checks = names.into_iter().map(|n| async move {
        let h = Hostname::parse(&n).ok()?;
        let addrs = ctx.dns.lookup_ip(h.as_str()).await.ok()?;
        if !addrs.contains(&ip) {
            return None;
        }
        let t = full_session(ctx, SocketAddr::new(ip, req.port), req.security, h.as_str()).await?;
        acceptable(&t, &h).then(|| h.as_str().to_string())
    });
    let mut out: Vec<String> = join_all(checks).await.into_iter().flatten().collect();
    out.sort();
    out
}

/// Would the other Gmail setting (465 SSL vs 587 TLS) work where this one does not?
async fn other_port(
    ctx: &Context,
    session: &SessionReport,
    ip: IpAddr,
    req: &SendasRequest,
) -> Option<(u16, Security)> {
    let port_related_failure = session.error.is_some()
        || session.tls_failure.is_some()
        || session.ehlo_before_tls.as_ref().is_some_and(|c| !c.starttls)
        || session.starttls_accepted == Some(false);
    if !port_related_failure {
        return None;
    }
    let (port, security) = match req.security {
        Security::Starttls => (465, Security::Implicit),
        Security::Implicit => (587, Security::Starttls),
    };
    if port == req.port {
        return None;
    }
    let t = full_session(ctx, SocketAddr::new(ip, port), security, req.host.as_str()).await?;
    acceptable(&t, &req.host).then_some((port, security))
}

/// Importance order of failing ids for the verdict: what to fix first.
const FAIL_ORDER: &[&str] = &[
    "dns.host.not-found",
    "sendas.wrong-security",
    "smtp.not-smtp",
    "smtp.no-greeting",
    "smtp.refused",
    "tls.version.too-old",
    "smtp.starttls.missing",
    "smtp.starttls.rejected",
    "tls.handshake.failed",
    "tls.cert.name-mismatch",
    "tls.cert.self-signed",
    "tls.cert.unknown-issuer",
    "tls.cert.incomplete-chain",
    "tls.cert.issuer-not-sent",
    "tls.cert.expired",
    "tls.cert.not-yet-valid",
    "smtp.auth.missing-after-tls",
    "smtp.auth.rejected",
];

fn finish(ctx: &Context, command: &str, subject: &str, req: &SendasRequest, checks: Vec<CheckResult>) -> Report {
    let verdict = verdict(&checks, req);
    Report::new(
        ctx,
        command,
        format!("{subject} ({})", req.security.gmail_label()),
        verdict,
        checks,
    )
}

/// The verdict: what Gmail's dialog will do, and which findings decided it. A definite failure
/// decides; otherwise a step that could not be completed (no answer, a DNS failure, a session
/// cut short) keeps the verdict from "accept".
pub fn verdict(checks: &[CheckResult], req: &SendasRequest) -> Verdict {
    let mut args = std::collections::BTreeMap::new();
    args.insert("host".to_string(), req.host.as_str().to_string());
    args.insert("port".to_string(), req.port.to_string());
    args.insert("security".to_string(), req.security.gmail_label().to_string());
    let make = |id: &str, severity: Severity, because: Vec<String>| Verdict {
        id: id.into(),
        severity,
        args: args.clone(),
        because,
    };
    let fails: Vec<&Finding> = checks
        .iter()
        .flat_map(|c| &c.findings)
        .filter(|f| f.severity == Severity::Fail)
        .collect();
    let mut because: Vec<String> = Vec::new();
    for id in FAIL_ORDER {
        if fails.iter().any(|f| f.id == *id) {
            because.push(id.to_string());
        }
    }
    for f in &fails {
        if !because.contains(&f.id) {
            because.push(f.id.clone());
        }
    }
    let errors: Vec<ErrorCause> = checks
        .iter()
        .filter_map(|c| match &c.status {
            CheckStatus::Error { cause, .. } => Some(*cause),
            _ => None,
        })
        .collect();
    if because.first().map(String::as_str) == Some("dns.host.not-found") {
        return make("verdict.sendas.unreachable", Severity::Fail, because);
    }
    // Silence is what a dead or filtered server looks like too: it is an unreachable server,
    // not a refusal, unless something else definitely fails.
    let decisive = because.iter().any(|id| id != "smtp.no-greeting");
    if decisive {
        return make("verdict.sendas.refuse", Severity::Fail, because);
    }
    if let Some(cause) = errors.first() {
        let (id, severity) = match cause {
            ErrorCause::DnsFailure | ErrorCause::DnsTimeout => ("verdict.sendas.unknown", Severity::Warning),
            _ => ("verdict.sendas.unreachable", Severity::Fail),
        };
        let mut b = vec![cause.catalog_id()];
        b.extend(because);
        return make(id, severity, b);
    }
    if !because.is_empty() {
        return make("verdict.sendas.refuse", Severity::Fail, because);
    }
    make("verdict.sendas.accept", Severity::Pass, because)
}

fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session as the client recorded it, from its JSON form.
    fn session(extra: serde_json::Value) -> SessionReport {
        let mut v = json!({
            "addr": "192.0.2.25:587", "server_name": "mail.example", "security": "starttls",
            "transcript": [],
        });
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    fn ids(s: &SessionReport) -> Vec<String> {
        let host = Hostname::parse("mail.example").unwrap();
        session_findings(s, &host, 587, false, None)
            .into_iter()
            .map(|f| f.id)
            .collect()
    }

    #[test]
    fn rfc5321_greeting_other_than_220_and_ehlo_other_than_250_are_refusals() {
        let s = session(json!({ "banner": "sorry, no", "banner_code": 554 }));
        assert_eq!(ids(&s), ["smtp.refused"]);
        let s = session(json!({ "banner": "hi", "banner_code": 220, "ehlo_refused": "502 5.5.2 no EHLO" }));
        assert_eq!(ids(&s), ["smtp.refused"]);
    }

    #[test]
    fn other_protocols_and_silence_are_named() {
        let s = session(json!({ "not_smtp": { "kind": "other", "peer": "pop3", "head": "+OK ready" } }));
        assert_eq!(ids(&s), ["smtp.not-smtp"]);
        let s = session(json!({ "not_smtp": { "kind": "silence", "secs": 5 } }));
        assert_eq!(ids(&s), ["smtp.no-greeting"]);
    }
}
