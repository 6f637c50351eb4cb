//! DKIM keys in DNS: the selectors given, or a list of common ones tried at once.
//! Without a message no selector can be known for sure, so "none found" is said as exactly
//! that ("not found among N common selectors"), never "no DKIM".

use futures_util::future::join_all;
use serde_json::json;

use mxdoctor_net::RecordType;
use mxdoctor_proto::dkim::{COMMON_SELECTORS, parse_key_record};

use crate::context::Context;
use crate::model::*;

/// Gmail refuses keys shorter than this; shorter than the second is a notice.
const MIN_BITS: usize = 1024;
const GOOD_BITS: usize = 2048;

pub async fn check(ctx: &Context, domain: &str, selectors: &[String]) -> CheckResult {
    check_guessing(ctx, domain, selectors, &[]).await
}

/// Like [`check`]; when guessing, the selectors in `first` (the domain's provider's) come
/// before the common ones.
pub async fn check_guessing(ctx: &Context, domain: &str, selectors: &[String], first: &[String]) -> CheckResult {
    let mut c = CheckResult::ran("dkim", domain.to_string());
    let guessed = selectors.is_empty();
    let list: Vec<String> = if guessed {
        let mut list: Vec<String> = first.to_vec();
        for s in COMMON_SELECTORS.iter().map(|s| s.to_string()) {
            if !list.contains(&s) {
                list.push(s);
            }
        }
        list
    } else {
        selectors.to_vec()
    };
    // RFC 8020: NXDOMAIN for `_domainkey.DOMAIN` means nothing exists below it, so no common
    // selector can hold a key; one question instead of one per selector. Any other answer (an
    // empty non-terminal answers NOERROR) or a failure: every selector is asked.
    let nothing_below = guessed && nothing_below(ctx, domain).await;
    let asked: &[String] = if nothing_below { &[] } else { &list };
    let answers = join_all(asked.iter().map(|sel| async move {
        let name = format!("{sel}._domainkey.{domain}");
        (sel.clone(), name.clone(), ctx.dns.lookup(&name, RecordType::TXT).await)
    }))
    .await;
    let mut found = 0;
    let mut errors = Vec::new();
    let mut error_cause = None;
    for (sel, name, answer) in answers {
        let records = match answer {
            Ok(r) => r,
            Err(e) if e.is_negative() => {
                if !guessed {
                    c.findings.push(
                        Finding::new("dkim.selector-missing", Severity::Fail, name.clone())
                            .arg("selector", &sel)
                            .arg("domain", domain),
                    );
                }
                continue;
            }
            Err(e) => {
                error_cause.get_or_insert(ErrorCause::of_dns(&e));
                errors.push(format!("{name}: {e}"));
                continue;
            }
        };
        let cname = records
            .iter()
            .find(|r| matches!(r.rdata, mxdoctor_net::Rdata::Cname(_)))
            .and_then(|r| r.target().map(str::to_string));
        let txts: Vec<String> = records.iter().filter_map(|r| r.txt()).collect();
        let Some(text) = txts.first() else { continue };
        found += 1;
        let subject = name.clone();
        if let Some(target) = &cname {
            c.findings.push(
                Finding::new("dkim.cname", Severity::Info, subject.clone())
                    .arg("selector", &sel)
                    .arg("target", target),
            );
        }
        match parse_key_record(text) {
            Err(e) => c.findings.push(
                Finding::new("dkim.syntax-error", Severity::Fail, subject)
                    .arg("selector", &sel)
                    .arg("error", e)
                    .evidence(json!({ "record": text })),
            ),
            Ok(key) if key.revoked => c
                .findings
                .push(Finding::new("dkim.revoked", Severity::Warning, subject).arg("selector", &sel)),
            Ok(key) => {
                let bits = key.bits.unwrap_or(0);
                let ev = json!({ "record": text, "key": key });
                if key.key_type == "rsa" && bits < MIN_BITS {
                    c.findings.push(
                        Finding::new("dkim.key-too-short", Severity::Fail, subject.clone())
                            .arg("selector", &sel)
                            .arg("bits", bits)
                            .evidence(ev),
                    );
                } else {
                    c.findings.push(
                        Finding::new("dkim.key-found", Severity::Pass, subject.clone())
                            .arg("selector", &sel)
                            .arg("type", &key.key_type)
                            .arg("bits", bits)
                            .evidence(ev),
                    );
                    if key.key_type == "rsa" && bits < GOOD_BITS {
                        c.findings.push(
                            Finding::new("dkim.key-short", Severity::Notice, subject.clone())
                                .arg("selector", &sel)
                                .arg("bits", bits),
                        );
                    }
                }
                if key.testing {
                    c.findings
                        .push(Finding::new("dkim.testing", Severity::Notice, subject.clone()).arg("selector", &sel));
                }
                let sha256_ok = key.hashes.as_ref().is_none_or(|h| h.iter().any(|x| x == "sha256"));
                let email_ok = key
                    .services
                    .as_ref()
                    .is_none_or(|s| s.iter().any(|x| x == "*" || x == "email"));
                if !sha256_ok || !email_ok {
                    c.findings.push(
                        Finding::new("dkim.restricted", Severity::Warning, subject)
                            .arg("selector", &sel)
                            .arg("hashes", key.hashes.clone().unwrap_or_default().join(":"))
                            .arg("services", key.services.clone().unwrap_or_default().join(":")),
                    );
                }
            }
        }
    }
    if found == 0 {
        // A selector whose lookup failed may hold the key: "no key" would be a guess.
        if let Some(cause) = error_cause {
            c.status = CheckStatus::Error {
                cause,
                detail: errors.join("; "),
            };
        } else if guessed {
            c.findings.push(
                Finding::new("dkim.not-found", Severity::Warning, domain.to_string())
                    .arg("domain", domain)
                    .arg("count", list.len())
                    .evidence(if nothing_below {
                        json!({ "selectors": list, "rfc8020": format!("_domainkey.{domain} does not exist (NXDOMAIN), so no selector below it exists") })
                    } else {
                        json!({ "selectors": list })
                    }),
            );
        }
    }
    c
}

/// Whether `_domainkey.DOMAIN` is NXDOMAIN (RFC 8020: then nothing below it exists).
async fn nothing_below(ctx: &Context, domain: &str) -> bool {
    matches!(
        ctx.dns.lookup(&format!("_domainkey.{domain}"), RecordType::TXT).await,
        Err(mxdoctor_net::DnsError::NxDomain { .. })
    )
}
