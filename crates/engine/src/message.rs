//! `message FILE`: what a bounce says, in the reason vocabulary of the sisimai taxonomy, with
//! the cause, the fix, and the mxdoctor command that checks the thing it names; a received
//! (ordinary) message goes to [`crate::received`] for DKIM, SPF, DMARC, ARC and header checks.

use std::collections::BTreeMap;

use serde_json::json;

use mxdoctor_proto::bounce::Reason;
use mxdoctor_proto::mail::{FailedRecipient, MessageAnalysis, MessageKind};

use crate::context::Context;
use crate::model::*;

/// The first IPv4 address in a text (`[203.0.113.45]`, `from 203.0.113.45`).
fn ipv4_in(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find(|w| w.parse::<std::net::Ipv4Addr>().is_ok() && w.split('.').count() == 4)
        .map(str::to_string)
}

/// A host name in a text that looks like an SMTP server (`smtp.example.com`, `mail.example.jp`).
fn host_in(text: &str) -> Option<String> {
    text.split(|c: char| {
        c.is_whitespace() || c == '<' || c == '>' || c == '(' || c == ')' || c == '[' || c == ']' || c == ','
    })
    .map(|w| w.trim_end_matches(['.', ':', ';']))
    .find(|w| w.contains('.') && !w.contains('@') && (w.starts_with("smtp") || w.starts_with("mail")) && w.len() < 120)
    .map(str::to_string)
}

fn domain_of(addr: Option<&str>) -> Option<String> {
    addr.and_then(|a| a.rsplit_once('@'))
        .map(|(_, d)| d.to_ascii_lowercase())
}

/// The mxdoctor check that examines what a failure names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// `mxdoctor ip IP`: the sending IP (PTR, blocklists).
    Ip(String),
    /// `mxdoctor check DOMAIN`: the sender's or the recipient's domain.
    Check(String),
    /// `mxdoctor sendas HOST`: the SMTP server Gmail's Send mail as uses.
    Sendas(String),
    None,
}

impl std::fmt::Display for NextStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NextStep::Ip(x) => write!(f, "mxdoctor ip {x}"),
            NextStep::Check(x) => write!(f, "mxdoctor check {x}"),
            NextStep::Sendas(x) => write!(f, "mxdoctor sendas {x}"),
            NextStep::None => f.write_str("-"),
        }
    }
}

/// The check that examines what this failure names. Placeholders in capitals when the bounce
/// does not say (the step is then shown, never run).
pub fn next_step(r: &FailedRecipient, a: &MessageAnalysis) -> NextStep {
    let diag = r.diagnostic.clone().unwrap_or_default();
    let sender_domain = domain_of(a.to.as_deref()).unwrap_or_else(|| "YOUR-DOMAIN".into());
    let recipient_domain = domain_of(r.recipient.as_deref()).unwrap_or_else(|| "THEIR-DOMAIN".into());
    match r.reason {
        Reason::RequirePtr | Reason::Blocked | Reason::BadReputation => {
            NextStep::Ip(ipv4_in(&diag).unwrap_or_else(|| "SENDING-IP".into()))
        }
        Reason::AuthFailure | Reason::Rejected | Reason::SpamDetected => NextStep::Check(sender_domain),
        Reason::HostUnknown | Reason::Expired | Reason::NetworkError => NextStep::Check(recipient_domain),
        // A complaint names the source IP and the reported domain (RFC 5965); the IP's
        // reputation is what a complaint rate damages first.
        Reason::Feedback => match a.feedback.as_ref() {
            Some(fb)
                if fb
                    .source_ip
                    .as_deref()
                    .is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok()) =>
            {
                NextStep::Ip(fb.source_ip.clone().unwrap_or_default())
            }
            Some(fb) if fb.reported_domain.is_some() => NextStep::Check(fb.reported_domain.clone().unwrap_or_default()),
            _ => NextStep::None,
        },
        Reason::SecurityError => NextStep::Sendas(
            host_in(&diag)
                .or_else(|| r.remote_mta.clone())
                .unwrap_or_else(|| "YOUR-SMTP-SERVER".into()),
        ),
        _ => NextStep::None,
    }
}

/// At most this many checks are run for one bounce with `--online`.
const MAX_ONLINE_STEPS: usize = 3;

/// Runs the checks a bounce names (`--online`): their checks join the bounce report, each
/// subject labelled with the command that would run it alone.
async fn run_steps(ctx: &Context, steps: Vec<NextStep>) -> Vec<CheckResult> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for step in steps {
        if seen.contains(&step) || seen.len() >= MAX_ONLINE_STEPS {
            continue;
        }
        seen.push(step.clone());
        let checks = match &step {
            NextStep::Ip(ip) => match ip.parse() {
                Ok(ip) => crate::ip::run(ctx, &crate::ip::IpRequest::new(ip)).await.checks,
                Err(_) => continue,
            },
            NextStep::Check(d) => match mxdoctor_proto::hostname::Hostname::parse_dns_name(d) {
                Ok(h) => {
                    let req = crate::domain::DomainRequest {
                        domain: h.as_str().to_string(),
                        ips: Vec::new(),
                        helo: None,
                        selectors: Vec::new(),
                        bulk: false,
                        submission: None,
                        check_submission: false,
                        lists: mxdoctor_proto::dnsbl::default_ip_lists(),
                        domain_lists: mxdoctor_proto::dnsbl::default_domain_lists(),
                        topics: crate::topics::Topics::default(),
                        relay_test: false,
                    };
                    crate::domain::run(ctx, &req).await.checks
                }
                Err(_) => continue,
            },
            NextStep::Sendas(host) => match mxdoctor_proto::hostname::Hostname::parse(host) {
                Ok(h) => {
                    crate::sendas::run(ctx, &crate::sendas::SendasRequest::new(h, 587))
                        .await
                        .checks
                }
                Err(_) => continue,
            },
            NextStep::None => continue,
        };
        let label = step.to_string();
        out.extend(checks.into_iter().map(|mut c| {
            c.subject = format!("{} ({label})", c.subject);
            c
        }));
    }
    out
}

/// The whole `message` command: a bounce report, or the verification of a received message.
pub async fn run(
    ctx: &Context,
    raw: &[u8],
    a: &MessageAnalysis,
    file: &str,
    req: &crate::received::ReceivedRequest,
    online: bool,
) -> Report {
    if a.kind != MessageKind::Ordinary {
        let mut r = report(ctx, a, file);
        if online {
            let steps = a.recipients.iter().map(|r| next_step(r, a)).collect();
            r.checks.extend(run_steps(ctx, steps).await);
        }
        return r;
    }
    let subject = a.from.clone().unwrap_or_else(|| file.to_string());
    let checks = crate::received::checks(ctx, raw, req, &subject).await;
    let verdict = crate::received::verdict(&checks);
    Report::new(ctx, "message", file, verdict, checks)
}

/// The report on a bounce (or feedback report, auto-reply, Gmail Send-mail-as notice).
pub fn report(ctx: &Context, a: &MessageAnalysis, file: &str) -> Report {
    let mut c = CheckResult::ran("message.bounce", file.to_string());
    for r in &a.recipients {
        let severity = match r.reason {
            Reason::Delivered => Severity::Pass,
            Reason::Vacation | Reason::Feedback | Reason::OnHold => Severity::Info,
            _ => Severity::Fail,
        };
        let subject = r.recipient.clone().unwrap_or_else(|| "-".into());
        c.findings.push(
            Finding::new(&format!("bounce.{}", r.reason.as_str()), severity, subject.clone())
                .arg("recipient", &subject)
                .arg("status", shown_status(r))
                .arg("implied_status", r.implied_status.clone().unwrap_or_else(|| "-".into()))
                .arg("next", next_step(r, a).to_string())
                .evidence(if r.reason == Reason::Feedback {
                    json!({ "reporter": r.remote_mta, "feedback": a.feedback })
                } else {
                    json!({
                        "action": r.action, "status": r.status, "reply_status": r.reply_status, "reply_code": r.reply_code,
                        "remote_mta": r.remote_mta, "diagnostic": r.diagnostic,
                    })
                }),
        );
    }
    c.evidence.push(Evidence::Note(format!(
        "kind: {:?}; from: {}; subject: {}; reporting MTA: {}; original subject: {}",
        a.kind,
        a.from.as_deref().unwrap_or("-"),
        a.subject.as_deref().unwrap_or("-"),
        a.reporting_mta.as_deref().unwrap_or("-"),
        a.original_subject.as_deref().unwrap_or("-"),
    )));
    let failed = c.findings.iter().filter(|f| f.severity == Severity::Fail).count();
    let mut args = BTreeMap::new();
    args.insert("count".to_string(), failed.to_string());
    let (id, severity) = match a.kind {
        MessageKind::GmailSendAs => ("verdict.message.gmail-sendas", Severity::Fail),
        MessageKind::Feedback => ("verdict.message.feedback", Severity::Warning),
        MessageKind::AutoReply => ("verdict.message.autoreply", Severity::Info),
        MessageKind::Ordinary => ("verdict.message.ordinary", Severity::Info),
        _ if failed == 0 && c.findings.iter().any(|f| f.id == "bounce.delivered") => {
            ("verdict.message.delivered", Severity::Pass)
        }
        _ => ("verdict.message.bounce", Severity::Fail),
    };
    let because = c
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Fail)
        .map(|f| f.id.clone())
        .collect();
    let verdict = Verdict {
        id: id.into(),
        severity,
        args,
        because,
    };
    Report::new(ctx, "message", file, verdict, vec![c])
}

/// The status as written; beside it the code of the remote server's reply where that is the
/// better evidence (`4.4.7, reply 4.7.1`), and where none or only a generic one is known, the
/// status the reason implies (`5.0.0, implied 5.0.911`), never passed off as written.
fn shown_status(r: &mxdoctor_proto::mail::FailedRecipient) -> String {
    let mut parts: Vec<String> = r.status.iter().cloned().collect();
    if let Some(s) = &r.reply_status {
        parts.push(format!("reply {s}"));
    }
    if let Some(s) = &r.implied_status {
        parts.push(format!("implied {s}"));
    }
    if parts.is_empty() { "-".into() } else { parts.join(", ") }
}
