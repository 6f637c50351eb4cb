//! DMARC with RFC 9989 semantics: the tree walk finds the record that applies, its policy
//! tags are judged, removed tags reported, and external report destinations checked for the
//! authorisation record they must publish.

use serde_json::json;

use mxdoctor_net::RecordType;
use mxdoctor_proto::dmarc::{Policy, external_authorization_name, is_dmarc, parse_record, same_or_sub, walk_names};

use crate::context::Context;
use crate::model::*;

pub async fn check(ctx: &Context, domain: &str) -> CheckResult {
    let mut c = CheckResult::ran("dmarc", domain.to_string());
    let mut applied: Option<(String, Vec<String>)> = None;
    for name in walk_names(domain) {
        match ctx.dns.lookup(&name, RecordType::TXT).await {
            Ok(r) => {
                let recs: Vec<String> = r.iter().filter_map(|r| r.txt()).filter(|t| is_dmarc(t)).collect();
                if !recs.is_empty() {
                    applied = Some((name, recs));
                    break;
                }
            }
            Err(e) if e.is_negative() => {}
            Err(e) => {
                // RFC 9989: a temporary error during discovery means no policy can be applied now;
                // Gmail answers 451 4.7.26 in that case.
                c.status = CheckStatus::Error {
                    cause: ErrorCause::of_dns(&e),
                    detail: format!("{name}: {e}"),
                };
                return c;
            }
        }
    }
    let Some((name, recs)) = applied else {
        let suggestion = crate::suggest::dmarc(domain);
        c.findings.push(
            Finding::new("dmarc.missing", Severity::Warning, domain.to_string())
                .arg("domain", domain)
                .arg("suggested", &suggestion.record)
                .evidence(json!({ "suggestion": suggestion })),
        );
        return c;
    };
    let owner = name.trim_start_matches("_dmarc.").to_string();
    if recs.len() > 1 {
        c.findings.push(
            Finding::new("dmarc.multiple-records", Severity::Fail, name.clone())
                .arg("domain", &owner)
                .arg("count", recs.len())
                .evidence(json!({ "records": recs })),
        );
        return c;
    }
    let Some(text) = recs.first() else { return c };
    let rec = match parse_record(text) {
        Ok(r) => r,
        Err(e) => {
            c.findings.push(
                Finding::new("dmarc.syntax-error", Severity::Fail, name.clone())
                    .arg("domain", &owner)
                    .arg("error", e)
                    .evidence(json!({ "record": text })),
            );
            return c;
        }
    };
    if owner != domain {
        c.findings.push(
            Finding::new("dmarc.inherited", Severity::Info, domain.to_string())
                .arg("domain", domain)
                .arg("from", &owner),
        );
    }
    // The policy for this domain: p for the domain itself, sp (then p) below the record's owner.
    let policy = if owner == domain { rec.p } else { rec.sp.or(rec.p) };
    match policy {
        None => c
            .findings
            .push(Finding::new("dmarc.no-policy", Severity::Fail, name.clone()).arg("domain", &owner)),
        Some(p) => {
            c.findings.push(
                Finding::new("dmarc.found", Severity::Pass, name.clone())
                    .arg("domain", &owner)
                    .arg("policy", p.as_str())
                    .evidence(json!({ "record": text, "parsed": rec })),
            );
            if p == Policy::None {
                c.findings
                    .push(Finding::new("dmarc.policy-none", Severity::Info, name.clone()).arg("domain", &owner));
            }
        }
    }
    if rec.testing {
        c.findings
            .push(Finding::new("dmarc.testing", Severity::Notice, name.clone()).arg("domain", &owner));
    }
    // Without rua= no receiver sends aggregate reports: the owner cannot see who sends as the
    // domain, or whether its own mail passes, before tightening the policy.
    if rec.rua.is_empty() {
        c.findings
            .push(Finding::new("dmarc.no-rua", Severity::Notice, name.clone()).arg("domain", &owner));
    }
    if !rec.removed_tags.is_empty() {
        c.findings.push(
            Finding::new("dmarc.removed-tags", Severity::Notice, name.clone())
                .arg("domain", &owner)
                .arg("tags", rec.removed_tags.join(", ")),
        );
    }
    for uri in rec.rua.iter().chain(rec.ruf.iter()) {
        match external_authorization_name(&owner, uri) {
            None => c
                .findings
                .push(Finding::new("dmarc.report-uri-invalid", Severity::Warning, name.clone()).arg("uri", uri)),
            Some((host, auth)) if !same_or_sub(&host, &owner) => {
                let ok = ctx
                    .dns
                    .lookup(&auth, RecordType::TXT)
                    .await
                    .map(|r| r.iter().filter_map(|r| r.txt()).any(|t| is_dmarc(&t)))
                    .unwrap_or(false);
                if !ok {
                    c.findings.push(
                        Finding::new("dmarc.report-unauthorized", Severity::Warning, name.clone())
                            .arg("uri", uri)
                            .arg("destination", &host)
                            .arg("record", &auth),
                    );
                }
            }
            Some(_) => {}
        }
    }
    c
}
