//! DKIM signatures of a received message: exactly one finding per DKIM-Signature field, with
//! the outcome RFC 6376 section 6.1 defines (pass, fail, permerror, temperror) and the rules
//! of RFC 8301 (no rsa-sha1, no RSA key under 1024 bits).
//!
//! mail-auth does the cryptography. Around it, our own reading of each field (required tags,
//! section 3.5) and of each key record (section 3.6.1: `s=` services, `h=` hashes, revocation,
//! size) decides what mail-auth leaves open or gets wrong: a field it drops, a malformed key it
//! calls a temporary error, an rsa-sha1 or short-key signature it passes. A signature judged
//! here as not passing is withheld from DMARC, so alignment never rests on it.

use mail_auth::dkim::DkimError as D;
use mail_auth::{DkimOutput, DkimResult, Error as E};
use serde_json::json;

use mxdoctor_net::RecordType;
use mxdoctor_proto::dkim::{DkimKey, SignatureTags, parse_key_record, parse_signature};

use crate::context::Context;
use crate::model::*;

/// RFC 8301 section 3.2: RSA keys shorter than this are refused.
const MIN_RSA_BITS: usize = 1024;

/// The outcome for one field: a finding, and whether it may count for DMARC.
struct Judged {
    finding: Finding,
    passes: bool,
}

fn finding(id: &str, severity: Severity, domain: &str, selector: &str, detail: &str) -> Finding {
    let domain = if domain.is_empty() { "-" } else { domain };
    let selector = if selector.is_empty() { "-" } else { selector };
    Finding::new(id, severity, domain.to_string())
        .arg("domain", domain)
        .arg("selector", selector)
        .arg("detail", if detail.is_empty() { "-" } else { detail })
}

/// What the published key says about a signature, before any cryptography: None when the key
/// is usable for it.
async fn key_problem(ctx: &Context, sig: &SignatureTags) -> Option<(&'static str, Severity, String)> {
    let name = format!("{}._domainkey.{}", sig.selector, sig.domain);
    let txt = match ctx.dns.lookup(&name, RecordType::TXT).await {
        Ok(records) => records.iter().find_map(|r| r.txt()),
        Err(e) if e.is_negative() => {
            return Some(("msg.dkim.no-key", Severity::Fail, format!("no key at {name}")));
        }
        Err(e) => return Some(("msg.dkim.temperror", Severity::Warning, e.to_string())),
    };
    let Some(txt) = txt else {
        return Some(("msg.dkim.no-key", Severity::Fail, format!("no key at {name}")));
    };
    let key: DkimKey = match parse_key_record(&txt) {
        Ok(k) => k,
        Err(e) => {
            return Some((
                "msg.dkim.permerror",
                Severity::Fail,
                format!("the key record at {name} does not parse: {e}"),
            ));
        }
    };
    if key.revoked {
        return Some((
            "msg.dkim.permerror",
            Severity::Fail,
            "the key is revoked (empty p=)".into(),
        ));
    }
    if key
        .services
        .as_ref()
        .is_some_and(|s| !s.iter().any(|x| x == "*" || x == "email"))
    {
        return Some((
            "msg.dkim.permerror",
            Severity::Fail,
            "the key's s= does not include email".into(),
        ));
    }
    if key.hashes.as_ref().is_some_and(|h| !h.iter().any(|x| x == sig.hash())) {
        return Some((
            "msg.dkim.permerror",
            Severity::Fail,
            format!("the key's h= does not allow {}", sig.hash()),
        ));
    }
    // Section 6.1.2, step 6: a key of another type than a= names cannot verify it.
    if key.key_type != sig.key_type() {
        return Some((
            "msg.dkim.permerror",
            Severity::Fail,
            format!("the key is k={} but the signature is {}", key.key_type, sig.algorithm),
        ));
    }
    if key.key_type == "rsa" && key.bits.is_some_and(|b| b < MIN_RSA_BITS) {
        let bits = key.bits.unwrap_or(0);
        return Some(("msg.dkim.key-too-short", Severity::Fail, format!("{bits}")));
    }
    None
}

/// mail-auth's failure, as one of our ids with a plain reason (never a library's message).
fn failure(r: &DkimResult) -> (&'static str, Severity, &'static str) {
    let err = match r {
        DkimResult::Fail(e) | DkimResult::PermError(e) | DkimResult::Neutral(e) => e,
        DkimResult::TempError(_) => return ("msg.dkim.temperror", Severity::Warning, "the key lookup failed"),
        DkimResult::Pass | DkimResult::None => return ("msg.dkim.permerror", Severity::Fail, "no result"),
    };
    match err {
        E::Dkim(D::FailedBodyHashMatch) => ("msg.dkim.body-hash", Severity::Fail, "the body hash does not match"),
        E::Crypto(_) => (
            "msg.dkim.bad-signature",
            Severity::Fail,
            "the signature does not match the header fields and the key",
        ),
        E::Dns(mail_auth::DnsError::RecordNotFound(_)) => ("msg.dkim.no-key", Severity::Fail, "no key is published"),
        E::Dns(_) => ("msg.dkim.temperror", Severity::Warning, "the key lookup failed"),
        E::Dkim(D::SignatureExpired) => ("msg.dkim.expired", Severity::Fail, "x= has passed"),
        _ => (
            "msg.dkim.permerror",
            Severity::Fail,
            "the signature or key is malformed or unsupported",
        ),
    }
}

/// Judges one field that mail-auth verified (`output`) or could not read (`None`).
async fn judge(ctx: &Context, field: &str, output: Option<&DkimOutput<'_>>) -> Judged {
    let sig = match parse_signature(field) {
        Ok(s) => s,
        Err(e) => {
            let d = e.domain.unwrap_or_default();
            let s = e.selector.unwrap_or_default();
            return Judged {
                finding: finding("msg.dkim.permerror", Severity::Fail, &d, &s, &e.reason)
                    .evidence(json!({ "field": field.chars().take(300).collect::<String>(), "result": "permerror" })),
                passes: false,
            };
        }
    };
    let ev = |result: &str| {
        json!({ "d": sig.domain, "s": sig.selector, "algorithm": sig.algorithm, "result": result,
                "body_length": sig.body_length })
    };
    // RFC 8301 section 3.1: rsa-sha1 signatures must not be accepted.
    if sig.algorithm == "rsa-sha1" {
        return Judged {
            finding: finding("msg.dkim.sha1", Severity::Fail, &sig.domain, &sig.selector, "rsa-sha1")
                .evidence(ev("permerror")),
            passes: false,
        };
    }
    // Section 6.1.1: an expired signature is a permanent failure, decided before any key is
    // fetched, by the run's clock (so `--now` and the lab's time apply).
    let now = ctx.clock.now().unix_timestamp();
    if let Some(x) = sig.expires
        && i64::try_from(x).is_ok_and(|x| x < now)
    {
        return Judged {
            finding: finding(
                "msg.dkim.expired",
                Severity::Fail,
                &sig.domain,
                &sig.selector,
                "x= has passed",
            )
            .evidence(ev("permerror")),
            passes: false,
        };
    }
    if let Some((id, sev, detail)) = key_problem(ctx, &sig).await {
        let result = if sev == Severity::Warning {
            "temperror"
        } else {
            "permerror"
        };
        let mut f = finding(id, sev, &sig.domain, &sig.selector, &detail).evidence(ev(result));
        if id == "msg.dkim.key-too-short" {
            f = f.arg("bits", &detail);
        }
        return Judged {
            finding: f,
            passes: false,
        };
    }
    match output.map(|o| o.result()) {
        Some(DkimResult::Pass) => Judged {
            finding: Finding::new("msg.dkim.pass", Severity::Pass, sig.domain.clone())
                .arg("domain", &sig.domain)
                .arg("selector", &sig.selector)
                .evidence(ev("pass")),
            passes: true,
        },
        Some(r) => {
            let (id, sev, detail) = failure(r);
            let result = match id {
                "msg.dkim.temperror" => "temperror",
                "msg.dkim.permerror" | "msg.dkim.no-key" | "msg.dkim.expired" => "permerror",
                _ => "fail",
            };
            Judged {
                finding: finding(id, sev, &sig.domain, &sig.selector, detail).evidence(ev(result)),
                passes: false,
            }
        }
        None => Judged {
            finding: finding(
                "msg.dkim.permerror",
                Severity::Fail,
                &sig.domain,
                &sig.selector,
                "the signature could not be read",
            )
            .evidence(ev("permerror")),
            passes: false,
        },
    }
}

/// One finding per DKIM-Signature field, in order, and the mail-auth outputs DMARC may use.
pub async fn findings<'a>(
    ctx: &Context,
    fields: &[String],
    outputs: Vec<DkimOutput<'a>>,
) -> (Vec<Finding>, Vec<DkimOutput<'a>>) {
    let mut remaining: Vec<Option<DkimOutput<'a>>> = outputs.into_iter().map(Some).collect();
    let mut out = Vec::new();
    let mut for_dmarc = Vec::new();
    for field in fields {
        // The output of this field: the first unused one with the same d= and s=.
        let tags = parse_signature(field).ok();
        let idx = tags.as_ref().and_then(|t| {
            remaining.iter().position(|o| {
                o.as_ref()
                    .and_then(|o| o.signature())
                    .is_some_and(|s| s.d.eq_ignore_ascii_case(&t.domain) && s.s == t.selector)
            })
        });
        let output = idx.and_then(|i| remaining.get_mut(i)).and_then(Option::take);
        let judged = judge(ctx, field, output.as_ref()).await;
        out.push(judged.finding);
        if judged.passes
            && let Some(o) = output
        {
            for_dmarc.push(o);
        }
    }
    (out, for_dmarc)
}
