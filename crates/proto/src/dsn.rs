//! Delivery status notifications (RFC 3464): the `message/delivery-status` body as fields, one
//! block for the message and one per recipient.

use serde::{Deserialize, Serialize};

/// Longest delivery-status body read; real ones are a few KiB.
pub const MAX_STATUS_BODY: usize = 256 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientStatus {
    pub final_recipient: Option<String>,
    pub original_recipient: Option<String>,
    pub action: Option<String>,
    /// Enhanced status code (`5.1.1`).
    pub status: Option<String>,
    pub remote_mta: Option<String>,
    pub diagnostic_code: Option<String>,
    /// The type of the diagnostic (`smtp`, `x-unix`, `x-postfix`), lower case (RFC 3464
    /// section 2.3.6): `x-unix` says a local delivery program failed, not a remote server.
    pub diagnostic_type: Option<String>,
    /// PowerMTA's own classification of the failure (`X-PowerMTA-BounceCategory:
    /// bad-mailbox`), an extension field of its DSNs.
    pub bounce_category: Option<String>,
    pub last_attempt: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryStatus {
    pub reporting_mta: Option<String>,
    pub arrival_date: Option<String>,
    pub recipients: Vec<RecipientStatus>,
}

/// Splits `Type; value` (`rfc822; user@example.com`, `smtp; 550 ...`) and returns the value.
pub fn typed_value(v: &str) -> String {
    match v.split_once(';') {
        Some((t, rest)) if !t.contains(' ') && t.len() < 20 => rest.trim().to_string(),
        _ => v.trim().to_string(),
    }
}

/// The type of a `Type; value` field, lower case, when there is one.
fn type_of(v: &str) -> Option<String> {
    match v.split_once(';') {
        Some((t, _)) if !t.contains(' ') && t.len() < 20 => Some(t.trim().to_ascii_lowercase()),
        _ => None,
    }
}

/// Parses the body of a `message/delivery-status` part. Never fails: what is not there is None.
pub fn parse_delivery_status(body: &str) -> DeliveryStatus {
    let body = if body.len() > MAX_STATUS_BODY {
        let mut end = MAX_STATUS_BODY;
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        &body[..end]
    } else {
        body
    };
    // Blocks are separated by blank lines; fields may be folded (continuation lines start with
    // white space).
    let normalized = body.replace("\r\n", "\n");
    let mut blocks: Vec<Vec<(String, String)>> = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in normalized.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = current.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            current.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    let mut ds = DeliveryStatus::default();
    for block in blocks {
        let get = |n: &str| block.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let is_recipient = get("final-recipient").is_some() || get("action").is_some() || get("status").is_some();
        if is_recipient {
            ds.recipients.push(RecipientStatus {
                final_recipient: get("final-recipient").map(|v| typed_value(&v)),
                original_recipient: get("original-recipient").map(|v| typed_value(&v)),
                action: get("action").map(|v| v.to_ascii_lowercase()),
                // An empty `Status:` is no status.
                status: get("status")
                    .and_then(|v| v.split_whitespace().next().map(str::to_string))
                    .filter(|v| !v.is_empty()),
                remote_mta: get("remote-mta").map(|v| typed_value(&v)),
                diagnostic_code: get("diagnostic-code").map(|v| typed_value(&v)),
                diagnostic_type: get("diagnostic-code").and_then(|v| type_of(&v)),
                bounce_category: get("x-powermta-bouncecategory").map(|v| v.to_ascii_lowercase()),
                last_attempt: get("last-attempt-date"),
            });
        } else {
            ds.reporting_mta = ds.reporting_mta.or(get("reporting-mta").map(|v| typed_value(&v)));
            ds.arrival_date = ds.arrival_date.or(get("arrival-date"));
        }
    }
    ds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3464_2_blocks_and_folding() {
        let body = "Reporting-MTA: dns; smtpgw.example.jp\r\nArrival-Date: Wed, 16 Oct 2013\r\n\r\nFinal-Recipient: RFC822; a@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: SMTP; 550 5.1.1 <a@example.org>...\r\n  User Unknown\r\n\r\nFinal-Recipient: rfc822; b@example.org\r\nAction: delayed\r\nStatus: 4.4.7 (expired)\r\n";
        let ds = parse_delivery_status(body);
        assert_eq!(ds.reporting_mta.as_deref(), Some("smtpgw.example.jp"));
        assert_eq!(ds.recipients.len(), 2);
        assert_eq!(ds.recipients[0].final_recipient.as_deref(), Some("a@example.org"));
        assert_eq!(
            ds.recipients[0].diagnostic_code.as_deref(),
            Some("550 5.1.1 <a@example.org>... User Unknown")
        );
        assert_eq!(ds.recipients[1].status.as_deref(), Some("4.4.7"));
    }

    #[test]
    fn garbage_gives_nothing_not_a_panic() {
        assert!(parse_delivery_status("").recipients.is_empty());
        assert!(parse_delivery_status("\u{0}\u{1}:::\n \n\t").recipients.is_empty());
        let big = "Status: 5.1.1\n".repeat(100_000);
        assert_eq!(parse_delivery_status(&big).recipients.len(), 1);
    }
}
