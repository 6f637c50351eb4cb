//! `message FILE` for a received message: what Gmail's checks make of it.
//!
//! - DKIM: every signature verified by mail-auth through our resolver's servers.
//! - SPF: our own check_host() for the client of the entry hop (the topmost Received field
//!   with a public address) and the Return-Path, or the `--ip`/`--mail-from`/`--helo` given.
//! - DMARC: mail-auth's RFC 9989 evaluation, fed our SPF result and its DKIM results.
//! - ARC: mail-auth's chain validation.
//! - The Received path (hops, TLS, delays) and the header rules of Gmail and Yahoo.
//!
//! Probe (here) -> findings (`msg.*` ids) -> catalogue text, as everywhere else.

use std::net::IpAddr;

use mail_auth::dmarc::Policy;
use mail_auth::{AuthenticatedMessage, DkimResult, DmarcResult, MessageAuthenticator};
use serde_json::json;

use mxdoctor_proto::headers::{HeaderFacts, domain_of, header_facts};
use mxdoctor_proto::received::{entry_hop, entry_hop_index, is_internal};
use mxdoctor_proto::spf::{SpfInput, SpfResult, check_host};

use crate::context::Context;
use crate::model::*;
use crate::spfdns::NetSpfDns;

/// A hop slower than this is worth a notice (greylisting, a queue, a deferral).
const SLOW_HOP_SECS: i64 = 600;

/// What the user tells about the message's arrival, overriding what its header says.
#[derive(Debug, Clone, Default)]
pub struct ReceivedRequest {
    pub ip: Option<IpAddr>,
    pub mail_from: Option<String>,
    pub helo: Option<String>,
    /// Judge by the bulk-sender rules (>= 5000 messages a day to Gmail).
    pub bulk: bool,
    /// The message came to our own SMTP listener (the test address): what it saw.
    pub arrival: Option<Arrival>,
}

/// How a message reached mxdoctor's own SMTP listener (the web page's test address): facts seen
/// on the connection, not what Received fields claim. They override the header's story.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Arrival {
    /// The client's address (in the lab: the world address its XCLIENT named).
    pub ip: IpAddr,
    pub helo: String,
    /// The envelope sender; empty for a null reverse-path.
    pub mail_from: String,
    /// The TLS session, when the client used STARTTLS.
    pub tls: Option<ArrivalTls>,
    /// Our listener's host name.
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ArrivalTls {
    /// `TLSv1.3`, `TLSv1.2`.
    pub version: String,
    /// The IANA cipher suite name.
    pub cipher: String,
}

/// Everything the verdict needs, beside the findings.
struct Outcome {
    dkim_pass_domains: Vec<String>,
    spf: Option<SpfResult>,
    dmarc: Option<(bool, Policy)>,
}

/// A verification whose DNS lookups did not finish within its time.
fn dns_timed_out(what: &str) -> CheckStatus {
    CheckStatus::Error {
        cause: ErrorCause::DnsTimeout,
        detail: format!("{what} did not finish in time"),
    }
}

/// The checks of a received message, in report order.
/// RFC 5322 lines end in CRLF; files saved by mail programs often have bare LFs, which break
/// `simple` canonicalisation. Some(normalised bytes, count) when any bare LF was found.
fn crlf_normalised(raw: &[u8]) -> Option<(Vec<u8>, usize)> {
    // Each byte with the one before it (none before the first).
    let pairs = || std::iter::once(None).chain(raw.iter().map(Some)).zip(raw.iter());
    let is_bare = |(before, b): (Option<&u8>, &u8)| *b == b'\n' && before != Some(&b'\r');
    let bare = pairs().filter(|p| is_bare(*p)).count();
    if bare == 0 {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len() + bare);
    for (before, b) in pairs() {
        if is_bare((before, b)) {
            out.push(b'\r');
        }
        out.push(*b);
    }
    Some((out, bare))
}

/// Who handed the message over, as far as the header fields and the user's options say.
struct Envelope {
    ip: Option<IpAddr>,
    helo: Option<String>,
    mail_from: Option<String>,
    /// No MAIL FROM is known: the From address stands in, and the findings say so.
    mail_from_assumed: bool,
}

impl Envelope {
    fn of(facts: &HeaderFacts, req: &ReceivedRequest) -> Self {
        let entry = entry_hop(&facts.hops);
        // MAIL FROM: given, else the Return-Path the final MTA wrote. Without either (a
        // message saved from the sender's side), the From address is the usual envelope
        // sender: assumed, and the finding says so.
        if let Some(a) = &req.arrival {
            return Self {
                ip: Some(a.ip),
                helo: Some(a.helo.clone()),
                mail_from: Some(a.mail_from.clone()).filter(|m| !m.is_empty()),
                mail_from_assumed: false,
            };
        }
        let given = req.mail_from.clone().or_else(|| facts.return_path.clone());
        Self {
            ip: req.ip.or(entry.and_then(|h| h.ip)),
            helo: req.helo.clone().or_else(|| entry.and_then(|h| h.helo.clone())),
            mail_from_assumed: given.is_none() && !facts.from_addresses.is_empty(),
            mail_from: given.or_else(|| facts.from_addresses.first().cloned()),
        }
    }
}

pub async fn checks(ctx: &Context, raw: &[u8], req: &ReceivedRequest, subject: &str) -> Vec<CheckResult> {
    let normalised = crlf_normalised(raw);
    let raw: &[u8] = normalised.as_ref().map(|(n, _)| n.as_slice()).unwrap_or(raw);
    let facts = header_facts(raw).unwrap_or_default();
    let auth = MessageAuthenticator(ctx.dns.resolver().clone());
    // Not strict: a signature with l= is valid (RFC 6376 section 3.5); what l= leaves unsigned
    // is shown in its evidence (`body_length`).
    let parsed = AuthenticatedMessage::parse_with_opts(raw, None, false);
    let env = Envelope::of(&facts, req);
    // Independent verifications at the same time: the run takes as long as its slowest
    // question, not their sum (a dead name server must not cost one timeout per step).
    let ((mut dkim, dkim_pass_domains, dkim_outputs), (spf, spf_result), ip_checks, arc) = tokio::join!(
        dkim_step(ctx, &auth, parsed.as_ref(), &facts, subject),
        spf_step(ctx, &env, req, subject),
        ip_step(ctx, env.ip),
        arc_step(ctx, &auth, parsed.as_ref(), &facts, subject),
    );
    if let Some((_, bare)) = &normalised {
        dkim.evidence.push(Evidence::Note(format!(
            "the file had {bare} bare LF line endings (as many mail programs save .eml files); \
             they were read as CRLF, as the message had them on the wire"
        )));
    }
    let mut outcome = Outcome {
        dkim_pass_domains,
        spf: spf_result,
        dmarc: None,
    };
    let mut out = vec![dkim, spf];
    out.extend(ip_checks);
    let dmarc = dmarc_step(
        ctx,
        &auth,
        parsed.as_ref(),
        &dkim_outputs,
        &facts,
        &env,
        &mut outcome,
        subject,
    )
    .await;
    // A failing signature or SPF result beside an aligned pass (DMARC pass) breaks no rule: the
    // message is authenticated. It stays visible as a warning, and the verdict agrees.
    if matches!(outcome.dmarc, Some((true, _))) {
        for f in out.iter_mut().flat_map(|c| c.findings.iter_mut()) {
            let side = f.id.starts_with("msg.dkim.") || f.id == "msg.spf.fail";
            if side && f.severity == Severity::Fail {
                f.severity = Severity::Warning;
            }
        }
    }
    out.push(dmarc);
    out.extend(arc);
    if let Some(a) = &req.arrival {
        out.push(arrival_check(a));
    }
    out.push(path_check(&facts, subject));
    out.push(header_check(&facts, req, &outcome, subject));
    if let Some(c) = receiver_results(&facts, &outcome, subject) {
        out.push(c);
    }
    out
}

/// DKIM: one finding per DKIM-Signature field (engine/dkimsig.rs); the passing domains and
/// the signatures DMARC may use.
async fn dkim_step<'x>(
    ctx: &Context,
    auth: &MessageAuthenticator,
    parsed: Option<&'x AuthenticatedMessage<'x>>,
    facts: &HeaderFacts,
    subject: &str,
) -> (CheckResult, Vec<String>, Vec<mail_auth::DkimOutput<'x>>) {
    let mut dkim = CheckResult::ran("message.dkim", subject);
    let Some(m) = parsed else {
        dkim.status = CheckStatus::Skipped {
            reason: "skip.message.unparsable".into(),
        };
        return (dkim, Vec::new(), Vec::new());
    };
    if facts.dkim_signatures.is_empty() {
        dkim.findings.push(
            Finding::new("msg.dkim.none", Severity::Warning, subject)
                .arg("from", facts.from_domain().unwrap_or_else(|| "-".into())),
        );
        return (dkim, Vec::new(), Vec::new());
    }
    let Ok(outputs) = tokio::time::timeout(ctx.timeout, auth.verify_dkim(m)).await else {
        dkim.status = dns_timed_out("DKIM key lookups");
        return (dkim, Vec::new(), Vec::new());
    };
    let outputs = body_length_reverified(ctx, auth, m, outputs).await;
    let (found, usable) = crate::dkimsig::findings(ctx, &facts.dkim_signatures, outputs).await;
    let passing = found
        .iter()
        .filter(|f| f.id == "msg.dkim.pass")
        .map(|f| f.subject.to_ascii_lowercase())
        .collect();
    dkim.findings = found;
    (dkim, passing, usable)
}

/// mail-auth 0.13 cuts the raw body at `l=` bytes before canonicalising it; RFC 6376 section
/// 3.4.5 counts `l=` in canonicalised octets. Under relaxed canonicalisation a body whose white
/// space shrinks is then hashed short and a valid signature fails on its body hash. For such a
/// signature the message is verified once more with its body replaced by the canonical body
/// cut at `l=`: canonicalisation is idempotent, so mail-auth's cut then falls where the RFC's
/// does. The header fields and the signature are the message's own; only a pass replaces the
/// first answer.
async fn body_length_reverified<'x>(
    ctx: &Context,
    auth: &MessageAuthenticator,
    m: &'x AuthenticatedMessage<'x>,
    mut outputs: Vec<mail_auth::DkimOutput<'x>>,
) -> Vec<mail_auth::DkimOutput<'x>> {
    use mail_auth::common::headers::Writable;
    use mail_auth::dkim::DkimError;
    for output in outputs.iter_mut() {
        let body_hash_failed = matches!(
            output.result(),
            mail_auth::DkimResult::Fail(e) | mail_auth::DkimResult::Neutral(e) | mail_auth::DkimResult::PermError(e)
                if *e == mail_auth::Error::Dkim(DkimError::FailedBodyHashMatch)
        );
        let Some(b) = output
            .signature()
            .filter(|s| s.l > 0 && body_hash_failed)
            .map(|s| s.b.clone())
        else {
            continue;
        };
        // The same signature, borrowed from the message itself (so it lives as long as it).
        let Some(sig) = m.dkim_headers.iter().map(|h| &h.header).find(|s| s.b == b) else {
            continue;
        };
        let body_at = (m.body_offset as usize).min(m.raw_message.len());
        let (head, body) = m.raw_message.split_at(body_at);
        let mut canonical: Vec<u8> = Vec::new();
        sig.cb.canonical_body(body, 0).write(&mut canonical);
        canonical.truncate(usize::try_from(sig.l).unwrap_or(usize::MAX));
        let mut rebuilt = head.to_vec();
        rebuilt.extend_from_slice(&canonical);
        let Some(again) = AuthenticatedMessage::parse_with_opts(&rebuilt, None, false) else {
            continue;
        };
        let Ok(results) = tokio::time::timeout(ctx.timeout, auth.verify_dkim(&again)).await else {
            continue;
        };
        let passed = results
            .iter()
            .any(|o| o.result() == &mail_auth::DkimResult::Pass && o.signature().is_some_and(|s| s.b == b));
        if passed {
            *output = mail_auth::DkimOutput::pass().with_signature(sig);
        }
    }
    outputs
}

/// SPF for the client that handed the message to the receiving system.
async fn spf_step(
    ctx: &Context,
    env: &Envelope,
    req: &ReceivedRequest,
    subject: &str,
) -> (CheckResult, Option<SpfResult>) {
    let mut spf = CheckResult::ran("message.spf", subject);
    let mut outcome = None;
    let (ip, helo, mail_from, mail_from_assumed) = (env.ip, &env.helo, &env.mail_from, env.mail_from_assumed);
    let identity_known = mail_from.as_deref().is_some_and(|m| domain_of(m).is_some()) || helo.is_some();
    match ip {
        None => {
            spf.status = CheckStatus::Skipped {
                reason: "skip.message.no-client-ip".into(),
            }
        }
        Some(_) if !identity_known => {
            spf.status = CheckStatus::Skipped {
                reason: "skip.message.no-identity".into(),
            }
        }
        Some(ip) => {
            let helo_s = helo.clone().unwrap_or_default();
            let mf = mail_from.clone().unwrap_or_default();
            let input = SpfInput {
                ip,
                mail_from: mf.clone(),
                helo: helo_s.clone(),
                receiver: "mx.google.com".into(),
                timestamp: ctx.clock.now().unix_timestamp().max(0) as u64,
            };
            let result = check_host(&NetSpfDns(&ctx.dns), &input).await;
            let domain = domain_of(&mf).unwrap_or_else(|| helo_s.to_ascii_lowercase());
            spf.evidence
                .push(Evidence::Spf(json!({ "ip": ip, "trace": result.trace })));
            // Where each input came from, in tokens that read the same in every language:
            // `IP ← Received, MAIL FROM ← Return-Path`; `≈ From` marks an assumption.
            let ip_src = if req.ip.is_some() { "--ip" } else { "Received" };
            let mf_src = if req.mail_from.is_some() {
                "← --mail-from"
            } else if mail_from_assumed {
                "≈ From"
            } else {
                "← Return-Path"
            };
            let how = format!("IP ← {ip_src}, MAIL FROM {mf_src}");
            let f = |id: &str, sev: Severity| {
                Finding::new(id, sev, ip.to_string())
                    .arg("ip", ip)
                    .arg("domain", &domain)
                    .arg("result", result.result.as_str())
                    .arg("source", &how)
                    .arg("reason", if result.reason.is_empty() { "-" } else { &result.reason })
                    .evidence(json!({ "mail_from": mf, "helo": helo_s, "matched": result.matched }))
            };
            spf.findings.push(match result.result {
                SpfResult::Pass => f("msg.spf.pass", Severity::Pass),
                SpfResult::Fail | SpfResult::SoftFail => f("msg.spf.fail", Severity::Fail),
                SpfResult::Neutral | SpfResult::None => f("msg.spf.none", Severity::Warning),
                SpfResult::TempError | SpfResult::PermError => f("msg.spf.error", Severity::Warning),
            });
            outcome = Some(result.result);
        }
    }
    (spf, outcome)
}

/// Gmail's first rule for every sender (550 5.7.25): the IP that handed the message over has a
/// PTR that resolves back to it. The receiver's own "unknown [IP]" is not enough.
async fn ip_step(ctx: &Context, ip: Option<IpAddr>) -> Vec<CheckResult> {
    match ip.filter(|ip| !is_internal(*ip)) {
        Some(ip) => crate::ip::checks(ctx, &crate::ip::IpRequest::new(ip)).await,
        None => Vec::new(),
    }
}

/// RFC 9989 section 4.10: when a question of the DMARC tree walk fails, the organisational
/// domain is unknown. That decides only relaxed alignment between different names of one
/// organisation; an authenticated identifier equal to the From domain aligns in every mode. So
/// when the From domain publishes its own policy and such an identifier passed, DMARC passes
/// under that policy: Some((policy, dkim label, spf label)). Otherwise None: the result is
/// really unknown.
async fn own_policy_pass(
    ctx: &Context,
    from: &str,
    outcome: &Outcome,
    mf_domain: &str,
) -> Option<(Policy, String, String)> {
    let dkim_same = outcome.dkim_pass_domains.iter().any(|d| d.eq_ignore_ascii_case(from));
    let spf_same = outcome.spf == Some(SpfResult::Pass) && mf_domain.eq_ignore_ascii_case(from);
    if !dkim_same && !spf_same {
        return None;
    }
    let records = ctx
        .dns
        .lookup(&format!("_dmarc.{from}"), mxdoctor_net::RecordType::TXT)
        .await
        .ok()?;
    let mut own = records
        .iter()
        .filter_map(|r| r.txt())
        .filter(|t| mxdoctor_proto::dmarc::is_dmarc(t));
    let (record, None) = (own.next()?, own.next()) else {
        return None;
    };
    let policy = match mxdoctor_proto::dmarc::parse_record(&record).ok()?.p? {
        mxdoctor_proto::dmarc::Policy::None => Policy::None,
        mxdoctor_proto::dmarc::Policy::Quarantine => Policy::Quarantine,
        mxdoctor_proto::dmarc::Policy::Reject => Policy::Reject,
    };
    let dkim_result = if outcome.dkim_pass_domains.is_empty() {
        "fail"
    } else {
        "pass"
    };
    let spf_result = outcome.spf.map(|r| r.as_str()).unwrap_or("none");
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    Some((
        policy,
        format!("dkim={dkim_result} aligned={}", yes_no(dkim_same)),
        format!("spf={spf_result} aligned={}", yes_no(spf_same)),
    ))
}

/// DMARC for the From domain, with our SPF result and the DKIM signatures that passed; and
/// Gmail's rule for every sender: SPF or DKIM must pass (else 5.7.26 "unauthenticated").
#[allow(clippy::too_many_arguments)]
async fn dmarc_step(
    ctx: &Context,
    auth: &MessageAuthenticator,
    parsed: Option<&AuthenticatedMessage<'_>>,
    dkim_outputs: &[mail_auth::DkimOutput<'_>],
    facts: &HeaderFacts,
    env: &Envelope,
    outcome: &mut Outcome,
    subject: &str,
) -> CheckResult {
    let mut dmarc = CheckResult::ran("message.dmarc", subject);
    let from_domain = facts.from_domain();
    match (parsed, &from_domain) {
        (Some(m), Some(from)) if facts.from_fields == 1 => {
            let mf_domain = env
                .mail_from
                .as_deref()
                .and_then(domain_of)
                .or_else(|| env.helo.clone())
                .unwrap_or_default();
            let spf_out = mail_auth::SpfOutput::new(mf_domain.clone()).with_result(match outcome.spf {
                Some(SpfResult::Pass) => mail_auth::SpfResult::Pass,
                Some(SpfResult::Fail) => mail_auth::SpfResult::Fail,
                Some(SpfResult::SoftFail) => mail_auth::SpfResult::SoftFail,
                Some(SpfResult::Neutral) => mail_auth::SpfResult::Neutral,
                Some(SpfResult::TempError) => mail_auth::SpfResult::TempError,
                Some(SpfResult::PermError) => mail_auth::SpfResult::PermError,
                Some(SpfResult::None) | None => mail_auth::SpfResult::None,
            });
            let params = mail_auth::dmarc::verify::DmarcParameters::new(m, dkim_outputs, &mf_domain, &spf_out);
            match tokio::time::timeout(ctx.timeout, auth.verify_dmarc(params)).await {
                Err(_) => dmarc.status = dns_timed_out("DMARC record lookups"),
                Ok(o) => {
                    let policy = o.policy();
                    let policy_s = format!("{policy:?}").to_ascii_lowercase();
                    let ev = json!({
                        "domain": o.domain(), "policy": policy_s,
                        "dkim_alignment": o.dkim_result().to_string(), "spf_alignment": o.spf_result().to_string(),
                    });
                    // Each method's own result beside its alignment, labelled: "spf=fail
                    // aligned=no", never the alignment state alone as if it were the result.
                    let dkim_result = if outcome.dkim_pass_domains.is_empty() {
                        "fail"
                    } else {
                        "pass"
                    };
                    let spf_result = outcome.spf.map(|r| r.as_str()).unwrap_or("none");
                    let aligned = |r: &DmarcResult| if *r == DmarcResult::Pass { "yes" } else { "no" };
                    let dkim_label = format!("dkim={dkim_result} aligned={}", aligned(o.dkim_result()));
                    let spf_label = format!("spf={spf_result} aligned={}", aligned(o.spf_result()));
                    let base = |id: &str, sev: Severity| {
                        Finding::new(id, sev, from.clone())
                            .arg("domain", from)
                            .arg("policy", &policy_s)
                            .arg("dkim", &dkim_label)
                            .arg("spf", &spf_label)
                            .evidence(ev.clone())
                    };
                    match o.result() {
                        DmarcResult::Pass => {
                            dmarc.findings.push(base("msg.dmarc.pass", Severity::Pass));
                            outcome.dmarc = Some((true, policy));
                        }
                        DmarcResult::None => dmarc.findings.push(
                            base("msg.dmarc.none", Severity::Warning)
                                .arg("suggested", crate::suggest::dmarc(from).record),
                        ),
                        DmarcResult::TempError(e) => match own_policy_pass(ctx, from, outcome, &mf_domain).await {
                            Some((policy, dkim_label, spf_label)) => {
                                let policy_s = format!("{policy:?}").to_ascii_lowercase();
                                dmarc.findings.push(
                                    Finding::new("msg.dmarc.pass", Severity::Pass, from.clone())
                                        .arg("domain", from)
                                        .arg("policy", &policy_s)
                                        .arg("dkim", dkim_label)
                                        .arg("spf", spf_label)
                                        .evidence(json!({
                                            "domain": from, "policy": policy_s,
                                            "organizational_domain": format!("unknown: {e}"),
                                            "why": "RFC 9989 section 4.10: a failed tree-walk question leaves the \
                                                    organisational domain unknown, which decides only relaxed \
                                                    alignment of other names; an identifier equal to the From \
                                                    domain aligns in every mode",
                                        })),
                                );
                                outcome.dmarc = Some((true, policy));
                            }
                            None => {
                                dmarc.status = CheckStatus::Error {
                                    cause: ErrorCause::DnsFailure,
                                    detail: format!(
                                        "the DMARC policy or the organisational domain could not be determined: {e}"
                                    ),
                                }
                            }
                        },
                        DmarcResult::Fail(_) | DmarcResult::PermError(_) => {
                            let sev = if policy == Policy::None {
                                Severity::Warning
                            } else {
                                Severity::Fail
                            };
                            dmarc.findings.push(base("msg.dmarc.fail", sev));
                            outcome.dmarc = Some((false, policy));
                        }
                    }
                }
            }
        }
        _ => {
            dmarc.status = CheckStatus::Skipped {
                reason: "skip.message.from-count".into(),
            }
        }
    }
    // A temporary error is not a failure: unauthenticated only when SPF definitely did not pass.
    if outcome.dkim_pass_domains.is_empty()
        && outcome.spf.is_some()
        && !matches!(outcome.spf, Some(SpfResult::Pass) | Some(SpfResult::TempError))
    {
        dmarc.findings.push(
            Finding::new("msg.unauthenticated", Severity::Fail, subject)
                .arg("from", from_domain.clone().unwrap_or_else(|| "-".into())),
        );
    }
    dmarc
}

/// ARC: only when a forwarder or list sealed the message.
async fn arc_step(
    ctx: &Context,
    auth: &MessageAuthenticator,
    parsed: Option<&AuthenticatedMessage<'_>>,
    facts: &HeaderFacts,
    subject: &str,
) -> Option<CheckResult> {
    let m = parsed?;
    if m.as_headers.is_empty() && m.ams_headers.is_empty() && m.aar_headers.is_empty() {
        return None;
    }
    let mut arc = CheckResult::ran("message.arc", subject);
    match tokio::time::timeout(ctx.timeout, auth.verify_arc(m)).await {
        Err(_) => arc.status = dns_timed_out("ARC key lookups"),
        Ok(o) => {
            let sealers: Vec<String> = o.sets().iter().map(|s| s.seal.header.d.clone()).collect();
            let f = |id: &str, sev: Severity, detail: String| {
                Finding::new(id, sev, subject)
                    .arg("count", m.as_headers.len())
                    .arg(
                        "sealers",
                        if sealers.is_empty() {
                            "-".into()
                        } else {
                            sealers.join(", ")
                        },
                    )
                    .arg("detail", detail)
            };
            // Header fields RFC 8617 makes invalid fail the chain, whatever the crypto says.
            let problems =
                mxdoctor_proto::arc::chain_problems(facts.arc_fields.iter().map(|(n, v)| (n.as_str(), v.clone())));
            arc.findings.push(match o.result() {
                _ if !problems.is_empty() => f("msg.arc.fail", Severity::Warning, problems.join("; ")),
                DkimResult::Pass => f("msg.arc.pass", Severity::Pass, "-".into()),
                DkimResult::TempError(e) => f("msg.arc.fail", Severity::Warning, e.to_string()),
                other => f("msg.arc.fail", Severity::Warning, other.to_string()),
            });
        }
    }
    Some(arc)
}

/// The Received path as hops, most recent first; TLS and delays per hop.
fn path_check(facts: &HeaderFacts, subject: &str) -> CheckResult {
    let mut c = CheckResult::ran("message.path", subject);
    if facts.hops.is_empty() {
        c.status = CheckStatus::Skipped {
            reason: "skip.message.no-received".into(),
        };
        return c;
    }
    let hops: Vec<serde_json::Value> = facts
        .hops
        .iter()
        .enumerate()
        .map(|(i, h)| {
            // The delay of a hop: its time minus the time of the hop before it (below it).
            let delay = match (h.timestamp, facts.hops.get(i + 1).and_then(|p| p.timestamp)) {
                (Some(t), Some(p)) => Some(t - p),
                _ => None,
            };
            json!({ "from": h.helo, "rdns": h.rdns, "ip": h.ip, "by": h.by, "with": h.with,
                    "tls": h.tls, "tls_version": h.tls_version, "delay_s": delay })
        })
        .collect();
    let summary: Vec<String> = facts
        .hops
        .iter()
        .rev()
        .map(|h| {
            let tls = match h.tls {
                // Symbols, not words: the path reads the same in every language.
                Some(true) => "TLS ✔",
                Some(false) => "TLS ✘",
                None => "TLS ?",
            };
            format!("{} ({tls})", h.by.as_deref().unwrap_or("?"))
        })
        .collect();
    c.findings.push(
        Finding::new("msg.path.hops", Severity::Info, subject)
            .arg("count", facts.hops.len())
            .arg("path", summary.join(" → "))
            .evidence(json!(hops)),
    );
    let entry = entry_hop_index(&facts.hops);
    for (i, h) in facts.hops.iter().enumerate() {
        // Only hops across the Internet matter: a client with a public address. Into the
        // receiver it is Gmail's rule for all senders (421 4.7.29): a failure.
        let public = h.ip.is_some_and(|ip| !is_internal(ip));
        let is_entry = entry == Some(i);
        if public && h.tls == Some(false) {
            let sev = if is_entry { Severity::Fail } else { Severity::Notice };
            c.findings.push(
                Finding::new("msg.path.no-tls", sev, h.by.clone().unwrap_or_default())
                    .arg("from", h.rdns.clone().or(h.helo.clone()).unwrap_or_else(|| "?".into()))
                    .arg("ip", h.ip.map(|i| i.to_string()).unwrap_or_default())
                    .arg("by", h.by.clone().unwrap_or_else(|| "?".into())),
            );
        }
        if let (Some(t), Some(p)) = (h.timestamp, facts.hops.get(i + 1).and_then(|p| p.timestamp))
            && t - p > SLOW_HOP_SECS
        {
            c.findings.push(
                Finding::new("msg.path.delay", Severity::Notice, h.by.clone().unwrap_or_default())
                    .arg("by", h.by.clone().unwrap_or_else(|| "?".into()))
                    .arg("seconds", t - p),
            );
        }
    }
    if facts.hops_truncated {
        c.evidence.push(Evidence::Note(format!(
            "more than {} Received fields; the rest were not read",
            mxdoctor_proto::headers::MAX_HOPS
        )));
    }
    c
}

/// Gmail's transport rule for every sender, judged on the connection itself: a message that
/// does not arrive over TLS gets `421 4.7.29` (the sender retries). `check` cannot see this (it
/// never watches the sender send); the test address does.
fn arrival_check(a: &Arrival) -> CheckResult {
    let mut c = CheckResult::ran("message.arrival", a.ip.to_string());
    let finding = match &a.tls {
        Some(t) => Finding::new("msg.arrival.tls", Severity::Pass, a.ip.to_string())
            .arg("version", &t.version)
            .arg("cipher", &t.cipher),
        None => Finding::new("msg.arrival.no-tls", Severity::Fail, a.ip.to_string()),
    };
    c.findings.push(
        finding
            .arg("ip", a.ip)
            .arg("helo", &a.helo)
            .arg("by", &a.by)
            .evidence(json!({ "ip": a.ip, "helo": a.helo, "mail_from": a.mail_from, "tls": a.tls })),
    );
    c
}

/// Gmail's and Yahoo's header rules.
fn header_check(facts: &HeaderFacts, req: &ReceivedRequest, o: &Outcome, subject: &str) -> CheckResult {
    let mut c = CheckResult::ran("message.headers", subject);
    if facts.from_fields != 1 {
        c.findings
            .push(Finding::new("msg.hdr.from-count", Severity::Fail, subject).arg("count", facts.from_fields));
    }
    match &facts.message_id {
        None => c
            .findings
            .push(Finding::new("msg.hdr.no-message-id", Severity::Fail, subject)),
        Some(id) if facts.message_id_malformed => c
            .findings
            .push(Finding::new("msg.hdr.no-message-id", Severity::Fail, subject).arg("value", id)),
        Some(_) => {}
    }
    if !facts.date_present {
        c.findings
            .push(Finding::new("msg.hdr.no-date", Severity::Warning, subject));
    }
    // Marketing or list mail: it says so, or the user says the sender is a bulk sender.
    let looks_bulk = !facts.unsubscribe.is_empty()
        || facts.list_id.is_some()
        || facts.precedence.as_deref().is_some_and(|p| p == "bulk" || p == "list");
    if req.bulk || looks_bulk {
        if facts.has_https_unsubscribe() && facts.has_one_click() {
            c.findings.push(
                Finding::new("msg.hdr.one-click", Severity::Pass, subject).arg("uris", facts.unsubscribe.join(", ")),
            );
        } else {
            let missing = match (facts.has_https_unsubscribe(), facts.has_one_click()) {
                (false, false) => {
                    // Header names only: the same in every language.
                    "List-Unsubscribe: <https://…>, List-Unsubscribe-Post: List-Unsubscribe=One-Click"
                }
                (false, true) => "List-Unsubscribe: <https://…>",
                _ => "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            };
            c.findings.push(
                Finding::new(
                    "msg.hdr.one-click-missing",
                    if req.bulk { Severity::Fail } else { Severity::Warning },
                    subject,
                )
                .arg("missing", missing)
                .arg(
                    "uris",
                    if facts.unsubscribe.is_empty() {
                        "-".into()
                    } else {
                        facts.unsubscribe.join(", ")
                    },
                ),
            );
        }
    }
    if facts.precedence.as_deref() == Some("list") && facts.list_id.is_none() {
        c.findings
            .push(Finding::new("msg.hdr.no-list-id", Severity::Notice, subject));
    }
    if let Some(d) = facts.from_domain()
        && let Some(from) = facts.from_addresses.first()
        && (d == "gmail.com" || d == "googlemail.com")
        && !o
            .dkim_pass_domains
            .iter()
            .any(|x| x == "gmail.com" || x == "googlemail.com")
    {
        c.findings
            .push(Finding::new("msg.hdr.forged-gmail", Severity::Fail, subject).arg("from", from));
    }
    if c.findings.is_empty() {
        c.findings.push(Finding::new("msg.hdr.ok", Severity::Pass, subject));
    }
    c
}

/// What the receivers said (Authentication-Results), beside what we found.
fn receiver_results(facts: &HeaderFacts, o: &Outcome, subject: &str) -> Option<CheckResult> {
    let first = facts.authentication_results.first()?;
    let mut c = CheckResult::ran("message.receiver-results", subject);
    let host = first.split(';').next().unwrap_or("?").trim().to_string();
    c.findings.push(
        Finding::new("msg.ar.shown", Severity::Info, host.clone())
            .arg("host", &host)
            .arg("text", first.chars().take(400).collect::<String>())
            .evidence(json!(facts.authentication_results)),
    );
    // The receiver's word for each method against ours.
    let said = |method: &str| -> Option<String> {
        first.split(';').skip(1).find_map(|part| {
            let p = part.trim();
            p.strip_prefix(&format!("{method}="))
                .map(|rest| rest.split_whitespace().next().unwrap_or("").to_ascii_lowercase())
        })
    };
    let ours_dkim = if o.dkim_pass_domains.is_empty() {
        "not pass"
    } else {
        "pass"
    };
    let ours_spf = o.spf.map(|s| s.as_str()).unwrap_or("-");
    for (method, ours) in [("dkim", ours_dkim), ("spf", ours_spf)] {
        if let Some(theirs) = said(method) {
            let agree = (theirs == "pass") == (ours == "pass");
            if !agree && ours != "-" {
                c.findings.push(
                    Finding::new("msg.ar.disagree", Severity::Notice, host.clone())
                        .arg("method", method)
                        .arg("theirs", &theirs)
                        .arg("ours", ours)
                        .arg("host", &host),
                );
            }
        }
    }
    Some(c)
}

/// The authentication checks of a received message: an error in them is a temporary failure.
const AUTH_CHECKS: &[&str] = &["message.dkim", "message.spf", "message.dmarc"];

/// What Gmail would most likely do with the message. Header rules decide alone; a verdict
/// that rests on authentication is only confident when no authentication lookup failed:
/// otherwise Gmail answers 4xx and retries (it defers on SPF and DMARC temporary errors), and
/// so does this verdict.
pub fn verdict(checks: &[CheckResult]) -> Verdict {
    let findings: Vec<&Finding> = checks.iter().flat_map(|c| &c.findings).collect();
    let has = |id: &str| findings.iter().any(|f| f.id == id);
    let fail = |id: &str| findings.iter().any(|f| f.id == id && f.severity == Severity::Fail);
    let make = |id: &str, severity: Severity, because: Vec<String>| Verdict {
        id: id.into(),
        severity,
        args: Default::default(),
        because,
    };
    // 1. Format rules: no DNS involved.
    let format: Vec<String> = ["msg.hdr.forged-gmail", "msg.hdr.from-count", "msg.hdr.no-message-id"]
        .iter()
        .filter(|id| fail(id))
        .map(|s| s.to_string())
        .collect();
    if !format.is_empty() {
        return make("verdict.message.received-reject", Severity::Fail, format);
    }
    // 2. Temporary errors of authentication.
    let mut temporary = unknowns(checks, AUTH_CHECKS);
    if has("msg.dkim.temperror") {
        temporary.push("msg.dkim.temperror".into());
    }
    if findings
        .iter()
        .any(|f| f.id == "msg.spf.error" && f.args.get("result").is_some_and(|r| r == "temperror"))
    {
        temporary.push("msg.spf.error".into());
    }
    let dmarc_error = checks
        .iter()
        .any(|c| c.check == "message.dmarc" && matches!(c.status, CheckStatus::Error { .. }));
    // The entry hop's PTR is checked at connection time, whatever authentication says: a
    // lookup that failed is Gmail's temporary 421 4.7.0 / 451 4.7.23.
    let ptr_error = unknowns(checks, &["ip.ptr"]);
    // 3. Authentication failures (5.7.26) and the entry hop's PTR (5.7.25), confident only
    // without temporary errors.
    let auth_fail: Vec<String> = [
        "ptr.missing",
        "ptr.not-forward-confirmed",
        "msg.unauthenticated",
        "msg.dmarc.fail",
    ]
    .iter()
    .filter(|id| fail(id))
    .map(|s| s.to_string())
    .collect();
    if !auth_fail.is_empty() && temporary.is_empty() && ptr_error.is_empty() {
        return make("verdict.message.received-reject", Severity::Fail, auth_fail);
    }
    if !ptr_error.is_empty() {
        let mut because = ptr_error;
        for t in temporary {
            if !because.contains(&t) {
                because.push(t);
            }
        }
        return make("verdict.message.received-defer", Severity::Warning, because);
    }
    // Gmail answers 451 4.7.26 when the DMARC lookup fails, whatever else passed; otherwise a
    // temporary error matters only while nothing aligned has passed.
    if dmarc_error || (!temporary.is_empty() && !has("msg.dmarc.pass")) {
        temporary.extend(auth_fail);
        return make("verdict.message.received-defer", Severity::Warning, temporary);
    }
    // Received without TLS: Gmail answers 421 4.7.29 and the sender retries (over TLS, or not).
    // Seen on our own connection (the test address) or told by the entry hop's Received field.
    for id in ["msg.arrival.no-tls", "msg.path.no-tls"] {
        if fail(id) {
            return make("verdict.message.received-defer", Severity::Warning, vec![id.into()]);
        }
    }
    // 4. What sends mail to spam. A failing signature or SPF result next to an aligned pass
    // (DMARC pass) is information, not a broken rule: the message is authenticated.
    let aligned = has("msg.dmarc.pass");
    let mut because = Vec::new();
    for id in [
        "msg.hdr.one-click-missing",
        "dnsbl.listed",
        "dnsbl.pbl",
        "msg.dmarc.fail",
        "msg.dmarc.none",
        "msg.dkim.none",
        "msg.spf.fail",
        "msg.dkim.body-hash",
        "msg.dkim.bad-signature",
        "msg.dkim.no-key",
        "msg.spf.none",
    ] {
        let side_result = matches!(
            id,
            "msg.dkim.none"
                | "msg.spf.fail"
                | "msg.spf.none"
                | "msg.dkim.body-hash"
                | "msg.dkim.bad-signature"
                | "msg.dkim.no-key"
        );
        let excused = side_result && aligned && (id != "msg.dkim.none" || !fail(id));
        if has(id) && !excused {
            because.push(id.to_string());
        }
    }
    if because.is_empty() {
        make("verdict.message.received-inbox", Severity::Pass, because)
    } else {
        make("verdict.message.received-spam", Severity::Warning, because)
    }
}
