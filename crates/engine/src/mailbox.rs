//! `mailbox`: the IMAP or POP3 server as mail apps see it (and as Gmail's POP fetcher did).
//!
//! Probe: resolve the typed name; one session (TLS first on 993/995, STARTTLS/STLS on
//! 143/110), capabilities before and after TLS; then, when the certificate does not fit the
//! typed name, the covered names that reach the same address and present an acceptable one.
//! Verdict: the same certificate reasoning as `sendas` ([`crate::sendas::certificate_findings`],
//! the same finding ids), so one certificate problem gets one answer whichever server shows it.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use futures_util::future::join_all;
use serde_json::json;

use mxdoctor_net::mailbox::{MailboxPlan, MailboxReport, Protocol, run as run_session};
use mxdoctor_net::smtp::Security;
use mxdoctor_net::tls::BOTH;
use mxdoctor_proto::hostname::Hostname;
use mxdoctor_proto::names::covered_names;

use crate::aia::issuer_evidence;
use crate::context::Context;
use crate::model::*;
use crate::sendas::{acceptable, certificate_findings, resolve};

/// The finding arg that selects a catalogue wording (`mxdoctor_explain::CONTEXT_ARG`; the
/// engine does not depend on the catalogue, and crates/report/tests/catalog.rs keeps the two
/// names equal).
pub const CONTEXT_ARG: &str = "context";

/// At most this many covered names are tried as what to type instead.
const MAX_CANDIDATES: usize = 12;

#[derive(Debug, Clone)]
pub struct MailboxRequest {
    pub host: Hostname,
    pub port: u16,
    pub protocol: Protocol,
    pub security: Security,
}

impl MailboxRequest {
    /// The request for a well-known port (993, 995, 143, 110).
    pub fn for_port(host: Hostname, port: u16) -> Option<Self> {
        let (protocol, security) = Protocol::for_port(port)?;
        Some(Self {
            host,
            port,
            protocol,
            security,
        })
    }

    fn plan(&self, ip: IpAddr, name: &str) -> MailboxPlan {
        MailboxPlan {
            addr: SocketAddr::new(ip, self.port),
            server_name: name.to_string(),
            protocol: self.protocol,
            security: self.security,
            versions: BOTH,
        }
    }
}

pub async fn run(ctx: &Context, req: &MailboxRequest) -> Report {
    let host = req.host.as_str().to_string();
    let subject = format!("{host}:{}", req.port);
    let (dns_check, addrs) = resolve(ctx, &host, "mailbox.dns").await;
    let mut checks = vec![dns_check];
    let mut ordered = addrs;
    ordered.sort_by_key(|ip| if ip.is_ipv4() { 0 } else { 1 });
    let Some(&ip) = ordered.first() else {
        return finish(ctx, req, &subject, checks);
    };
    let session = run_session(&ctx.connector, &req.plan(ip, &host), &ctx.tls, ctx.timeout).await;
    let issuer = match &session.tls {
        Some(tls) => issuer_evidence(ctx, tls).await,
        None => None,
    };
    let mut c = CheckResult::ran("mailbox.session", subject.clone());
    c.findings = session_findings(&session, req, issuer.as_ref());
    c.evidence.push(Evidence::SmtpTranscript(json!(session.transcript)));
    if let Some(tls) = &session.tls {
        c.evidence.push(Evidence::Certificate(json!(tls.chain)));
    }
    if let Some(err) = &session.error
        && c.findings.iter().all(|f| f.severity <= Severity::Info)
    {
        c.status = CheckStatus::Error {
            cause: match &session.connect_failed {
                Some(e) => crate::sendas::cause_of(&mxdoctor_net::smtp::SmtpError::Connect(e.clone())),
                None => ErrorCause::Protocol,
            },
            detail: err.clone(),
        };
    }
    if let Some(status) = crate::sendas::handshake_timeout(session.tls_failure.as_ref()) {
        c.status = status;
    }
    checks.push(c);
    let mut advice = CheckResult::ran("mailbox.advice", subject.clone());
    let names = candidates(ctx, &session, ip, req).await;
    if !names.is_empty() {
        advice.findings.push(
            Finding::new("mailbox.candidates", Severity::Info, subject.clone())
                .arg("host", &host)
                .arg("candidates", names.join(", "))
                .arg("port", req.port),
        );
    }
    if req.protocol == Protocol::Pop3 {
        advice.findings.push(Finding::new(
            "mailbox.gmail-fetch-ended",
            Severity::Info,
            subject.clone(),
        ));
    }
    if !advice.findings.is_empty() {
        checks.push(advice);
    }
    finish(ctx, req, &subject, checks)
}

/// The findings one session supports. Pure.
pub fn session_findings(
    s: &MailboxReport,
    req: &MailboxRequest,
    issuer: Option<&crate::aia::IssuerEvidence>,
) -> Vec<Finding> {
    let server = format!("{}:{}", req.host.as_str(), req.port);
    let protocol = req.protocol.name();
    let mut out = Vec::new();
    if let Some(other) = &s.other_protocol {
        out.push(
            Finding::new("mailbox.not-mailbox", Severity::Fail, server.clone())
                .arg("server", &server)
                .arg("expected", protocol)
                .arg("what", other)
                .arg("line", s.greeting.clone().unwrap_or_default()),
        );
        return out;
    }
    if let Some(secs) = s.silent_secs {
        out.push(
            Finding::new("mailbox.no-greeting", Severity::Fail, server.clone())
                .arg("server", &server)
                .arg("secs", secs),
        );
        return out;
    }
    if let (false, Some(greeting)) = (s.greeting_ok, &s.greeting) {
        out.push(
            Finding::new("mailbox.refused", Severity::Fail, server.clone())
                .arg("server", &server)
                .arg("reply", greeting),
        );
        return out;
    }
    if s.greeting_ok {
        out.push(
            Finding::new("mailbox.greets", Severity::Pass, server.clone())
                .arg("server", &server)
                .arg("protocol", protocol)
                .arg("greeting", s.greeting.clone().unwrap_or_default()),
        );
    }
    if req.security == Security::Starttls && s.caps_before_tls.is_some() {
        let word = match req.protocol {
            Protocol::Imap => "STARTTLS",
            Protocol::Pop3 => "STLS",
        };
        if s.starttls_offered() != Some(true) {
            out.push(
                Finding::new("mailbox.starttls.missing", Severity::Fail, server.clone())
                    .arg("server", &server)
                    .arg("command", word),
            );
        } else if s.tls.is_none() && s.tls_failure.is_none() {
            out.push(
                Finding::new("mailbox.starttls.rejected", Severity::Fail, server.clone())
                    .arg("server", &server)
                    .arg("reply", s.starttls_reply.clone().unwrap_or_default()),
            );
        }
        if s.login_in_clear() {
            out.push(
                Finding::new("mailbox.login-before-tls", Severity::Warning, server.clone())
                    .arg("server", &server)
                    .arg("protocol", protocol),
            );
        }
    }
    if let Some(f) = &s.tls_failure {
        out.extend(crate::sendas::tls_failure_finding(f, &server));
    }
    if let Some(tls) = &s.tls {
        out.extend(crate::sendas::chain_length_finding(tls, &server));
        out.extend(certificate_findings(tls, &req.host, &server, issuer));
    }
    // The same ids as `sendas`, worded for a mail app (catalogue entries `ID@mailbox`).
    for f in out.iter_mut().filter(|f| f.id.starts_with("tls.")) {
        f.args.insert(CONTEXT_ARG.into(), "mailbox".into());
    }
    out
}

/// Covered names that resolve to the same address and present an acceptable certificate in a
/// whole session there: what to type into the mail app instead.
async fn candidates(ctx: &Context, session: &MailboxReport, ip: IpAddr, req: &MailboxRequest) -> Vec<String> {
    let Some(tls) = &session.tls else { return Vec::new() };
    if acceptable(tls, &req.host) {
        return Vec::new();
    }
    let Some(leaf) = tls.leaf() else { return Vec::new() };
    let mut names: Vec<String> = covered_names(&leaf.presented_ids())
        .into_iter()
        .filter(|n| !n.starts_with("*.") && n != req.host.as_str())
        .collect();
    names.truncate(MAX_CANDIDATES);
    let tries = names.into_iter().map(|n| async move {
        let h = Hostname::parse(&n).ok()?;
        if !ctx.dns.lookup_ip(h.as_str()).await.ok()?.contains(&ip) {
            return None;
        }
        let s = run_session(&ctx.connector, &req.plan(ip, h.as_str()), &ctx.tls, ctx.timeout).await;
        (s.complete() && s.tls.as_ref().is_some_and(|t| acceptable(t, &h))).then(|| h.as_str().to_string())
    });
    let mut out: Vec<String> = join_all(tries).await.into_iter().flatten().collect();
    out.sort();
    out
}

fn finish(ctx: &Context, req: &MailboxRequest, subject: &str, checks: Vec<CheckResult>) -> Report {
    let v = verdict(&checks, req);
    Report::new(
        ctx,
        "mailbox",
        format!("{subject} ({} {})", req.protocol.name(), req.security.gmail_label()),
        v,
        checks,
    )
}

/// What a mail app will do: accept, refuse (a definite failure), or could not be reached.
pub fn verdict(checks: &[CheckResult], req: &MailboxRequest) -> Verdict {
    let mut args = BTreeMap::new();
    args.insert("host".to_string(), req.host.as_str().to_string());
    args.insert("port".to_string(), req.port.to_string());
    args.insert("protocol".to_string(), req.protocol.name().to_string());
    let make = |id: &str, severity, because: Vec<String>| Verdict {
        id: id.into(),
        severity,
        args: args.clone(),
        because,
    };
    let fails: Vec<String> = checks
        .iter()
        .flat_map(|c| &c.findings)
        .filter(|f| f.severity == Severity::Fail)
        .map(|f| f.id.clone())
        .collect();
    if fails.iter().any(|f| f == "dns.host.not-found") {
        return make("verdict.mailbox.unreachable", Severity::Fail, fails);
    }
    if !fails.is_empty() {
        return make("verdict.mailbox.refuse", Severity::Fail, fails);
    }
    // As for `sendas`: a DNS failure leaves the answer unknown; a server that could not be
    // reached (refused, silent, not in the lab's map) is unreachable.
    let causes: Vec<ErrorCause> = checks
        .iter()
        .filter_map(|c| match &c.status {
            CheckStatus::Error { cause, .. } => Some(*cause),
            _ => None,
        })
        .collect();
    if let Some(cause) = causes.first() {
        let because = vec![cause.catalog_id()];
        return match cause {
            ErrorCause::DnsFailure | ErrorCause::DnsTimeout => {
                make("verdict.mailbox.unknown", Severity::Warning, because)
            }
            _ => make("verdict.mailbox.unreachable", Severity::Fail, because),
        };
    }
    if !checks
        .iter()
        .flat_map(|c| &c.findings)
        .any(|f| f.id == "mailbox.greets")
    {
        return make("verdict.mailbox.unknown", Severity::Warning, Vec::new());
    }
    make("verdict.mailbox.accept", Severity::Pass, Vec::new())
}
