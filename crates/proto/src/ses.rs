//! Amazon SES event notifications: the JSON SES sends (by e-mail, or through an SNS topic whose
//! e-mail wraps it in an envelope with the event as an escaped string) instead of an RFC 3464
//! report. A bounce lists its recipients with the status and diagnostic the remote server gave;
//! a delivery, the recipients and the accepting server's reply.

use serde_json::Value;

use crate::bounce::{Reason, classify, status_codes_in};
use crate::dsn::typed_value;

/// One recipient of an SES notification, as the bounce reader reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SesRecipient {
    pub address: String,
    pub action: String,
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    pub reporting_mta: Option<String>,
    pub reason: Reason,
}

/// Longest body searched for the JSON; SES events are a few KiB.
const MAX_JSON: usize = 512 * 1024;

/// The recipients of an SES bounce or delivery notification in `body`, or None when the body
/// is not one.
pub fn notification(body: &str) -> Option<Vec<SesRecipient>> {
    let event = event_json(body)?;
    let field = |name: &str| event.get(name).unwrap_or(&Value::Null);
    let kind = field("notificationType")
        .as_str()
        .or_else(|| field("eventType").as_str())?;
    match kind {
        "Bounce" => Some(bounced(field("bounce"))),
        "Delivery" => Some(delivered(field("delivery"))),
        _ => None,
    }
}

/// The event object: the outermost JSON object in the body, unwrapped from an SNS envelope
/// (`"Type": "Notification", "Message": "<the event as a string>"`). Long lines of these
/// e-mails are broken with `!` and a newline and a space, which are removed first.
fn event_json(body: &str) -> Option<Value> {
    let start = body.find('{')?;
    let end = body.rfind('}')?;
    if end <= start || end - start > MAX_JSON {
        return None;
    }
    let text = body.get(start..=end)?.replace("!\r\n ", "").replace("!\n ", "");
    let mut v: Value = serde_json::from_str(&text).ok()?;
    if v.get("Type").and_then(Value::as_str) == Some("Notification")
        && let Some(inner) = v.get("Message").and_then(Value::as_str)
    {
        v = serde_json::from_str(inner).ok()?;
    }
    v.is_object().then_some(v)
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

fn bounced(b: &Value) -> Vec<SesRecipient> {
    let reporting_mta = text(&b["reportingMTA"]).map(|v| typed_value(&v));
    let suppressed = b["bounceSubType"].as_str() == Some("Suppressed");
    b["bouncedRecipients"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            let address = text(&r["emailAddress"])?;
            let diagnostic = text(&r["diagnosticCode"]).map(|v| typed_value(&v));
            let status = text(&r["status"]).or_else(|| {
                diagnostic
                    .as_deref()
                    .and_then(|d| status_codes_in(d).into_iter().next())
            });
            // SES's own suppression list: it did not even try; the address bounced before.
            let reason = if suppressed {
                Reason::Suspend
            } else {
                classify(status.as_deref(), diagnostic.as_deref().unwrap_or(""))
            };
            Some(SesRecipient {
                address,
                action: text(&r["action"]).unwrap_or_else(|| "failed".into()),
                status,
                diagnostic,
                reporting_mta: reporting_mta.clone(),
                reason,
            })
        })
        .collect()
}

fn delivered(d: &Value) -> Vec<SesRecipient> {
    let reply = text(&d["smtpResponse"]);
    let status = reply.as_deref().and_then(|r| status_codes_in(r).into_iter().next());
    let reporting_mta = text(&d["reportingMTA"]);
    d["recipients"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(text)
        .map(|address| SesRecipient {
            address,
            action: "delivered".into(),
            status: status.clone(),
            diagnostic: reply.clone(),
            reporting_mta: reporting_mta.clone(),
            reason: Reason::Delivered,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounce_event_and_sns_envelope() {
        let event = r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"a@example.com","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}],"reportingMTA":"dsn; out.example"}}"#;
        let r = notification(&format!("text before\n{event}\n-- \nfooter")).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].reason, Reason::UserUnknown);
        assert_eq!(r[0].diagnostic.as_deref(), Some("550 5.1.1 user unknown"));
        let envelope = serde_json::json!({ "Type": "Notification", "Message": event }).to_string();
        assert_eq!(notification(&envelope).unwrap(), r);
        let delivery = r#"{"notificationType":"Delivery","delivery":{"recipients":["b@example.com"],"smtpResponse":"250 2.6.0 Message received"}}"#;
        let d = notification(delivery).unwrap();
        assert_eq!(
            (d[0].reason, d[0].status.as_deref()),
            (Reason::Delivered, Some("2.6.0"))
        );
        // Wrapped long lines ("!" newline space) are joined back.
        assert!(notification(&event.replace("bounceType", "bounce!\n Type")).is_some());
        assert!(notification("{ not json").is_none());
        assert!(notification(r#"{"notificationType":"Open"}"#).is_none());
    }
}
