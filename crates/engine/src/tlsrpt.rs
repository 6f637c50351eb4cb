//! TLS-RPT (RFC 8460): whether the domain asks sending servers to report TLS failures when they
//! deliver to it (`_smtp._tls.DOMAIN`). Without it, a broken certificate or STARTTLS on the MX,
//! or an MTA-STS or DANE policy that senders cannot satisfy, goes unnoticed by the owner.
//! Probe: one TXT question. Verdict: the findings below; it never changes whether Gmail accepts
//! mail *from* the domain.

use serde_json::json;

use mxdoctor_net::RecordType;
use mxdoctor_proto::tlsrpt::{is_tlsrpt, parse};

use crate::context::Context;
use crate::model::*;

pub async fn check(ctx: &Context, domain: &str) -> CheckResult {
    let mut c = CheckResult::ran("tlsrpt", domain.to_string());
    let name = format!("_smtp._tls.{domain}");
    let txts: Vec<String> = match ctx.dns.lookup(&name, RecordType::TXT).await {
        Ok(records) => records.iter().filter_map(|r| r.txt()).collect(),
        Err(e) if e.is_negative() => Vec::new(),
        Err(e) => {
            c.status = CheckStatus::dns(&e);
            return c;
        }
    };
    c.findings = findings(domain, &name, &txts);
    c
}

/// The findings the TXT strings at `_smtp._tls.DOMAIN` support. Pure.
pub fn findings(domain: &str, name: &str, txts: &[String]) -> Vec<Finding> {
    // Section 3: strings that do not start with the version are discarded.
    let records: Vec<&String> = txts.iter().filter(|t| is_tlsrpt(t)).collect();
    let finding = |id: &str, severity| Finding::new(id, severity, name.to_string()).arg("domain", domain);
    match records.as_slice() {
        [] if txts.is_empty() => vec![finding("tlsrpt.missing", Severity::Info)],
        // Other TXT strings there are shown: a typo in the version is a common cause.
        [] => vec![finding("tlsrpt.missing", Severity::Info).evidence(json!({ "discarded": txts }))],
        [one] => match parse(one) {
            Ok(rec) => vec![
                finding("tlsrpt.found", Severity::Pass)
                    .arg("rua", rec.rua.iter().map(|u| u.as_str()).collect::<Vec<_>>().join(", "))
                    .evidence(json!({ "record": one })),
            ],
            Err(e) => vec![
                finding("tlsrpt.syntax-error", Severity::Warning)
                    .arg("error", e.to_string())
                    .evidence(json!({ "record": one })),
            ],
        },
        several => vec![
            finding("tlsrpt.multiple", Severity::Warning)
                .arg("count", several.len())
                .evidence(json!({ "records": several })),
        ],
    }
}
