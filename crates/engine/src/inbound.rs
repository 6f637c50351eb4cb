//! How the world delivers to the domain: each MX address on port 25, as a sending MTA sees it.
//!
//! Probe ([`probe`]): one SMTP session per address (greeting, EHLO, STARTTLS, the handshake
//! with the exchange name as SNI, EHLO again; with `--relay-test` the relay question), then,
//! side by side, one handshake without SNI that also settles TLS 1.2 or 1.3, and the TLS 1.1
//! and 1.0 hellos. So one address never has more than two of our connections open, with or
//! without the politeness gate, and an address shared by several exchanges is probed once.
//! Verdict ([`findings`]): pure. A certificate problem is information here, since senders
//! deliver with opportunistic TLS whatever the certificate; MTA-STS ([`crate::mtasts`]) and
//! DANE are what make it a failure, and the findings say what each would require.

use std::net::{IpAddr, SocketAddr};

use futures_util::future::join_all;
use serde::Serialize;
use serde_json::json;

use mxdoctor_net::legacy::LegacyResult;
use mxdoctor_net::smtp::{NotSmtp, RelayProbe, Security, SessionPlan, SessionReport, run_session};
use mxdoctor_net::tls::{BOTH, ChainVerdict, DateVerdict, ONLY_12, TlsOutcome};
use mxdoctor_proto::hostname::Hostname;
use mxdoctor_proto::names::{covered_names, verify_name};
use mxdoctor_proto::tls_hello::TlsVersion;

use crate::context::Context;
use crate::model::*;
use crate::mx::MxAnswer;
use crate::sendas::{cause_of, legacy_versions, tls_only_versions};

/// The SMTP port, where every sending MTA delivers.
pub const SMTP_PORT: u16 = 25;
/// At most this many MX addresses are probed (a domain may list hundreds of hosts).
pub const MAX_TARGETS: usize = 10;

/// The envelope of the relay probe: reserved domains (RFC 2606) that no server is the
/// destination of, so an accepted RCPT means "relays for anyone".
pub const RELAY_FROM: &str = "mxdoctor-relay-test@example.org";
pub const RELAY_TO: &str = "mxdoctor-relay-test@example.net";

/// One MX address to probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The exchange name: SNI, and the name the certificate is checked for.
    pub exchange: String,
    pub ip: IpAddr,
    /// Other exchanges with the same address (probed once, under the first name).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
}

impl Target {
    pub fn subject(&self) -> String {
        format!("{} ({})", self.exchange, self.ip)
    }
}

/// The addresses to probe, in MX preference order, each once; and how many were left out.
pub fn targets(answer: &MxAnswer) -> (Vec<Target>, usize) {
    let mut out: Vec<Target> = Vec::new();
    for x in answer.reachable() {
        for ip in &x.addresses {
            match out.iter_mut().find(|t| t.ip == *ip) {
                Some(t) if t.exchange != x.mx.exchange && !t.also.contains(&x.mx.exchange) => {
                    t.also.push(x.mx.exchange.clone())
                }
                Some(_) => {}
                None => out.push(Target {
                    exchange: x.mx.exchange.clone(),
                    ip: *ip,
                    also: Vec::new(),
                }),
            }
        }
    }
    let left_out = out.len().saturating_sub(MAX_TARGETS);
    out.truncate(MAX_TARGETS);
    (out, left_out)
}

/// What the probes of one address saw.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    pub target: Target,
    pub session: SessionReport,
    /// TLS 1.3 and 1.2, as accepted (from the session and the hello without SNI).
    pub modern: Vec<TlsVersion>,
    pub legacy: Vec<LegacyResult>,
    /// The handshake without SNI: the certificate senders that send no SNI see.
    pub without_sni: Option<Result<TlsOutcome, String>>,
    /// The address's PTR names (for the banner comparison); None when the lookup failed.
    pub ptr: Option<Vec<String>>,
    pub relay_tested: bool,
}

/// Probes every target; addresses run side by side (the gate spaces them per address and
/// network).
pub async fn probe_all(ctx: &Context, targets: &[Target], relay_test: bool) -> Vec<Probe> {
    join_all(targets.iter().map(|t| probe(ctx, t.clone(), relay_test))).await
}

pub async fn probe(ctx: &Context, target: Target, relay_test: bool) -> Probe {
    let addr = SocketAddr::new(target.ip, SMTP_PORT);
    let plan = SessionPlan {
        addr,
        server_name: target.exchange.clone(),
        security: Security::Starttls,
        send_sni: true,
        ehlo_name: ctx.ehlo_name.clone(),
        credentials: None,
        versions: BOTH,
        stop_after_tls: false,
        relay_probe: relay_test.then(|| RelayProbe {
            mail_from: RELAY_FROM.into(),
            rcpt_to: RELAY_TO.into(),
        }),
    };
    let (session, ptr) = tokio::join!(run_session(&ctx.connector, &plan, &ctx.tls, ctx.timeout), async {
        ctx.dns.reverse(target.ip).await.ok()
    });
    let reached_tls = session.tls.is_some() || session.tls_failure.is_some();
    let negotiated = session.tls.as_ref().map(|t| t.version);
    let (without_sni, legacy) = tokio::join!(
        async {
            let versions = match negotiated {
                // 1.3 chosen: offering 1.2 alone also tells whether 1.2 is spoken.
                Some(TlsVersion::Tls13) => ONLY_12,
                Some(_) => BOTH,
                None => return None,
            };
            Some(tls_only_versions(ctx, addr, Security::Starttls, &target.exchange, false, versions).await)
        },
        async {
            if reached_tls {
                legacy_versions(ctx, addr, Security::Starttls, &target.exchange).await
            } else {
                Vec::new()
            }
        }
    );
    let mut modern: Vec<TlsVersion> = negotiated.into_iter().collect();
    if let (Some(TlsVersion::Tls13), Some(Ok(t))) = (negotiated, &without_sni)
        && t.version == TlsVersion::Tls12
    {
        modern.push(TlsVersion::Tls12);
    }
    Probe {
        target,
        session,
        modern,
        legacy,
        without_sni,
        ptr,
        relay_tested: relay_test,
    }
}

/// Would a sender that checks certificates (MTA-STS `enforce`, RFC 8461 section 4.2) accept
/// this address? Some(false) also for no STARTTLS or a failed handshake; None when the probe
/// did not get that far for reasons of its own (no connection, silence).
pub fn verified_tls(p: &Probe) -> Option<bool> {
    let s = &p.session;
    if let Some(tls) = &s.tls {
        return Some(cert_problems(tls, &p.target.exchange).is_empty());
    }
    if s.tls_failure.is_some() || s.starttls_accepted == Some(false) {
        return Some(false);
    }
    match &s.ehlo_before_tls {
        Some(caps) if !caps.starttls => Some(false),
        _ => None,
    }
}

/// What is wrong with the certificate for `exchange`, as finding ids (empty: valid).
pub fn cert_problems(tls: &TlsOutcome, exchange: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    let Some(leaf) = tls.leaf() else {
        return vec!["mx.cert.untrusted"];
    };
    let name_ok = Hostname::parse(exchange).is_ok_and(|h| verify_name(&h, &leaf.presented_ids()).matched.is_some());
    if !name_ok {
        out.push("mx.cert.name-mismatch");
    }
    if tls.chain_verdict != ChainVerdict::Trusted {
        out.push("mx.cert.untrusted");
    }
    if !matches!(tls.dates, DateVerdict::InDate { .. }) {
        out.push("mx.cert.expired");
    }
    out
}

/// The findings one address supports. Pure.
pub fn findings(p: &Probe) -> CheckResult {
    let subject = p.target.subject();
    let mut c = CheckResult::ran("mx.smtp", subject.clone());
    c.evidence.push(Evidence::SmtpTranscript(json!(p.session.transcript)));
    let s = &p.session;
    if let Some(tls) = &s.tls {
        c.evidence.push(Evidence::Certificate(json!(tls.chain)));
    }
    // A server broken in a way of its own (a trickle, an endless line or reply, replies
    // injected after STARTTLS) is a diagnosis, as in `sendas`.
    let broken = crate::sendas::broken_session_finding(s, &p.target.exchange);
    if let Some(err) = &s.error
        && !greeted(s)
        && broken.is_none()
        && !matches!(s.not_smtp, Some(NotSmtp::Other { .. }) | Some(NotSmtp::Silence { .. }))
    {
        // No connection (or closed at once): nothing about this server is known from here.
        // Many networks block outgoing port 25, so this is "could not test", never a failure.
        c.status = CheckStatus::Error {
            cause: cause_of(err),
            detail: err.to_string(),
        };
        return c;
    }
    c.findings.extend(broken);
    c.findings.extend(greeting_findings(p, &subject));
    if s.ehlo_before_tls.is_some() {
        c.findings.extend(tls_findings(p, &subject));
    }
    c.findings.extend(relay_findings(p, &subject));
    // Every finding names the address too: one exchange may have several, and they may differ.
    for f in &mut c.findings {
        f.args.insert("ip".into(), p.target.ip.to_string());
    }
    if let Some(err) = &s.error
        && c.findings.iter().all(|f| f.severity <= Severity::Info)
    {
        // Cut short with nothing definite found: what was not seen is unknown.
        c.status = CheckStatus::Error {
            cause: cause_of(err),
            detail: err.to_string(),
        };
    }
    c
}

fn greeted(s: &SessionReport) -> bool {
    s.banner_code.is_some()
}

fn greeting_findings(p: &Probe, subject: &str) -> Vec<Finding> {
    let s = &p.session;
    let host = &p.target.exchange;
    let mut out = Vec::new();
    match &s.not_smtp {
        Some(NotSmtp::Other { peer, head }) => {
            out.push(
                Finding::new("mx.smtp.not-smtp", Severity::Fail, subject)
                    .arg("host", host)
                    .arg("what", peer.name())
                    .arg("line", head),
            );
            return out;
        }
        Some(NotSmtp::Silence { secs }) => {
            out.push(
                Finding::new("mx.smtp.no-greeting", Severity::Warning, subject)
                    .arg("host", host)
                    .arg("secs", secs),
            );
            return out;
        }
        _ => {}
    }
    let Some(code) = s.banner_code else { return out };
    let banner = s.banner.clone().unwrap_or_default();
    if code != 220 {
        out.push(
            Finding::new("mx.smtp.refused", Severity::Warning, subject)
                .arg("host", host)
                .arg("reply", format!("{code} {banner}"))
                .arg("stage", "greeting"),
        );
        return out;
    }
    if let Some(reply) = &s.ehlo_refused {
        out.push(
            Finding::new("mx.smtp.refused", Severity::Warning, subject)
                .arg("host", host)
                .arg("reply", reply)
                .arg("stage", "EHLO"),
        );
        return out;
    }
    out.push(
        Finding::new("mx.smtp.greets", Severity::Pass, subject)
            .arg("host", host)
            .arg("banner", &banner),
    );
    // RFC 5321 section 4.3.1: the greeting names the server. Where it names another host than
    // the address's PTR, log readers and some spam filters see two identities.
    let named = banner
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if let Some(ptrs) = &p.ptr
        && !ptrs.is_empty()
        && Hostname::parse(&named).is_ok()
        && !ptrs.iter().any(|n| n.eq_ignore_ascii_case(&named))
    {
        out.push(
            Finding::new("mx.banner.ptr-mismatch", Severity::Info, subject)
                .arg("banner_name", &named)
                .arg("ptr", ptrs.join(", ")),
        );
    }
    out
}

fn tls_findings(p: &Probe, subject: &str) -> Vec<Finding> {
    let s = &p.session;
    let host = &p.target.exchange;
    let mut out = Vec::new();
    if s.ehlo_before_tls.as_ref().is_some_and(|c| !c.starttls) {
        out.push(Finding::new("mx.starttls.missing", Severity::Warning, subject).arg("host", host));
        return out;
    }
    if s.starttls_accepted == Some(false) {
        out.push(
            Finding::new("mx.starttls.rejected", Severity::Warning, subject)
                .arg("host", host)
                .arg("reply", s.starttls_reply.clone().unwrap_or_default()),
        );
        return out;
    }
    if let Some(f) = &s.tls_failure {
        let old: Vec<String> = accepted_legacy(&p.legacy);
        if old.is_empty() {
            out.push(
                Finding::new("mx.tls.failed", Severity::Warning, subject)
                    .arg("host", host)
                    .arg("reason", f)
                    .evidence(json!(f)),
            );
        } else {
            out.push(
                Finding::new("mx.tls.too-old", Severity::Warning, subject)
                    .arg("host", host)
                    .arg("versions", old.join(", ")),
            );
        }
        return out;
    }
    let Some(tls) = &s.tls else { return out };
    out.push(
        Finding::new("mx.starttls.offered", Severity::Pass, subject)
            .arg("host", host)
            .arg("version", tls.version)
            .arg("cipher", &tls.cipher)
            .evidence(
                json!({ "accepted": p.modern.iter().map(|v| v.to_string()).collect::<Vec<_>>(), "legacy": p.legacy }),
            ),
    );
    out.extend(certificate_findings(tls, host, subject));
    let old = accepted_legacy(&p.legacy);
    if !old.is_empty() {
        out.push(
            Finding::new("mx.tls.legacy-accepted", Severity::Notice, subject)
                .arg("host", host)
                .arg("versions", old.join(", ")),
        );
    }
    if let Some(Ok(plain)) = &p.without_sni
        && plain.chain_der.first() != tls.chain_der.first()
    {
        let names = plain
            .leaf()
            .map(|c| covered_names(&c.presented_ids()))
            .unwrap_or_default();
        out.push(
            Finding::new("mx.sni.selects-cert", Severity::Info, subject)
                .arg("host", host)
                .arg("default_names", names.join(", "))
                .evidence(json!({ "without_sni": plain.leaf(), "with_sni": tls.leaf() })),
        );
    }
    out
}

fn certificate_findings(tls: &TlsOutcome, host: &str, subject: &str) -> Vec<Finding> {
    let problems = cert_problems(tls, host);
    let Some(leaf) = tls.leaf() else {
        return Vec::new();
    };
    if problems.is_empty() {
        return vec![
            Finding::new("mx.cert.valid", Severity::Pass, subject)
                .arg("host", host)
                .arg("issuer", &leaf.issuer)
                .arg("not_after", &leaf.not_after),
        ];
    }
    let names = covered_names(&leaf.presented_ids());
    problems
        .into_iter()
        .map(|id| {
            let f = Finding::new(id, Severity::Info, subject).arg("host", host);
            match id {
                "mx.cert.name-mismatch" => f.arg("names", names.join(", ")).evidence(json!({ "covered": names })),
                "mx.cert.untrusted" => f
                    .arg("issuer", &leaf.issuer)
                    .evidence(json!({ "chain": tls.chain_verdict, "trust_store": tls.trust_store })),
                _ => f
                    .arg("not_before", &leaf.not_before)
                    .arg("not_after", &leaf.not_after)
                    .evidence(json!({ "dates": tls.dates, "checked_at": tls.checked_at })),
            }
        })
        .collect()
}

fn accepted_legacy(legacy: &[LegacyResult]) -> Vec<String> {
    legacy
        .iter()
        .filter_map(|r| match r {
            LegacyResult::Accepted { version, .. } => Some(version.to_string()),
            _ => None,
        })
        .collect()
}

fn relay_findings(p: &Probe, subject: &str) -> Vec<Finding> {
    let host = &p.target.exchange;
    match &p.session.relay {
        Some(r) if r.accepted => vec![
            Finding::new("mx.open-relay", Severity::Fail, subject)
                .arg("host", host)
                .arg("rcpt", &r.rcpt_to)
                .arg("reply", r.rcpt_reply.clone().unwrap_or_default())
                .evidence(json!(r)),
        ],
        Some(r) => vec![
            Finding::new("mx.relay-refused", Severity::Pass, subject)
                .arg("host", host)
                .arg("reply", r.rcpt_reply.clone().unwrap_or_else(|| r.mail_reply.clone()))
                .evidence(json!(r)),
        ],
        None => Vec::new(),
    }
}

/// The finding for addresses left out by [`MAX_TARGETS`].
pub fn left_out_finding(domain: &str, left_out: usize) -> Option<Finding> {
    (left_out > 0).then(|| {
        Finding::new("mx.smtp.not-all-probed", Severity::Info, domain)
            .arg("probed", MAX_TARGETS)
            .arg("left_out", left_out)
    })
}

/// The port-25 checks of a domain: one per probed address.
pub async fn check(ctx: &Context, domain: &str, answer: &MxAnswer, relay_test: bool) -> (Vec<CheckResult>, Vec<Probe>) {
    let (targets, left_out) = targets(answer);
    let probes = probe_all(ctx, &targets, relay_test).await;
    let mut checks: Vec<CheckResult> = probes.iter().map(findings).collect();
    if let Some(f) = left_out_finding(domain, left_out) {
        let mut c = CheckResult::ran("mx.smtp", domain.to_string());
        c.findings.push(f);
        checks.push(c);
    }
    (checks, probes)
}
