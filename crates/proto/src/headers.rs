//! The header facts Gmail's and Yahoo's sender rules look at: exactly one From (RFC 5322
//! section 3.6), a Message-ID and a Date, RFC 8058 one-click unsubscribe (`List-Unsubscribe`
//! with an https URI plus `List-Unsubscribe-Post: List-Unsubscribe=One-Click`), `List-Id`
//! (RFC 2919) for mailing lists, and the Received path.

use mail_parser::{HeaderName, HeaderValue, MessageParser};
use serde::{Deserialize, Serialize};

use crate::received::{Hop, parse_received};

/// At most this many Received fields are read (a loop would add hundreds).
pub const MAX_HOPS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HeaderFacts {
    /// Number of From header fields.
    pub from_fields: usize,
    /// The addresses of all From fields.
    pub from_addresses: Vec<String>,
    pub message_id: Option<String>,
    /// A Message-ID field is present but is not `<left@right>`.
    pub message_id_malformed: bool,
    pub date_present: bool,
    pub return_path: Option<String>,
    /// URIs of List-Unsubscribe, in order.
    pub unsubscribe: Vec<String>,
    /// The List-Unsubscribe-Post value, as written.
    pub unsubscribe_post: Option<String>,
    pub list_id: Option<String>,
    /// `Precedence: bulk|list|junk`.
    pub precedence: Option<String>,
    /// Existing Authentication-Results fields, as written (the receivers' own verdicts).
    pub authentication_results: Vec<String>,
    /// Received fields, most recent first.
    pub hops: Vec<Hop>,
    /// More Received fields than [`MAX_HOPS`] were present.
    pub hops_truncated: bool,
    /// ARC-Seal and ARC-Message-Signature fields as (name, unfolded value), for the strict
    /// structure checks of [`crate::arc`].
    pub arc_fields: Vec<(String, String)>,
    /// DKIM-Signature field values (unfolded), in order: each yields exactly one DKIM result.
    pub dkim_signatures: Vec<String>,
}

impl HeaderFacts {
    pub fn has_https_unsubscribe(&self) -> bool {
        self.unsubscribe
            .iter()
            .any(|u| u.len() > 8 && u[..8].eq_ignore_ascii_case("https://"))
    }

    /// RFC 8058 section 3.1: the exact key/value pair.
    pub fn has_one_click(&self) -> bool {
        self.unsubscribe_post
            .as_deref()
            .is_some_and(|v| v.trim() == "List-Unsubscribe=One-Click")
    }

    /// The domain of the (single) From address, lower case.
    pub fn from_domain(&self) -> Option<String> {
        self.from_addresses.first().and_then(|a| domain_of(a))
    }

    /// The domain of Return-Path (the RFC 5321 MAIL FROM), lower case.
    pub fn mail_from_domain(&self) -> Option<String> {
        self.return_path.as_deref().and_then(domain_of)
    }
}

/// The domain of an address (`local@domain`), lower case, without a trailing dot.
pub fn domain_of(addr: &str) -> Option<String> {
    addr.rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

fn angle_uris(v: &str) -> Vec<String> {
    v.split('<')
        .skip(1)
        .filter_map(|s| s.split_once('>').map(|(u, _)| u.trim().to_string()))
        .filter(|u| !u.is_empty())
        .take(10)
        .collect()
}

fn raw_text(v: &HeaderValue<'_>) -> Option<String> {
    match v {
        HeaderValue::Text(t) => Some(t.to_string()),
        HeaderValue::TextList(l) => Some(l.join(" ")),
        _ => None,
    }
}

/// Reads the header facts of a raw message (None: not a message at all).
pub fn header_facts(raw: &[u8]) -> Option<HeaderFacts> {
    // A panic inside the parser is no message (see `mail::parse_guarded`).
    let msg = std::panic::catch_unwind(|| MessageParser::default().parse_headers(raw)).ok()??;
    let mut f = HeaderFacts::default();
    for h in msg.headers() {
        let raw_value = || {
            let start = h.offset_start as usize;
            let end = (h.offset_end as usize).min(raw.len());
            String::from_utf8_lossy(raw.get(start..end).unwrap_or_default())
                .trim()
                .to_string()
        };
        match &h.name {
            HeaderName::From => {
                f.from_fields += 1;
                if let Some(addrs) = h.value.as_address() {
                    for a in addrs.iter() {
                        if let Some(x) = a.address() {
                            f.from_addresses.push(x.to_string());
                        }
                    }
                }
            }
            HeaderName::MessageId => {
                let v = raw_value();
                let id = v.trim().trim_start_matches('<').trim_end_matches('>').to_string();
                f.message_id_malformed = !(v.trim().starts_with('<') && v.trim().ends_with('>') && id.contains('@'));
                f.message_id = Some(id);
            }
            HeaderName::Date => f.date_present = true,
            HeaderName::ReturnPath => {
                let v = raw_value();
                f.return_path = Some(
                    v.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .trim()
                        .to_string(),
                );
            }
            HeaderName::ListUnsubscribe => f.unsubscribe = angle_uris(&raw_value()),
            HeaderName::ListId => f.list_id = raw_text(&h.value).or_else(|| Some(raw_value())),
            HeaderName::Received => {
                if f.hops.len() < MAX_HOPS {
                    f.hops.push(parse_received(&raw_value()));
                } else {
                    f.hops_truncated = true;
                }
            }
            name => match name.as_str().to_ascii_lowercase().as_str() {
                n @ ("arc-seal" | "arc-message-signature") if f.arc_fields.len() < 200 => f.arc_fields.push((
                    n.to_string(),
                    raw_value().split_whitespace().collect::<Vec<_>>().join(" "),
                )),
                "dkim-signature" if f.dkim_signatures.len() < 50 => f
                    .dkim_signatures
                    .push(raw_value().split_whitespace().collect::<Vec<_>>().join(" ")),
                "list-unsubscribe-post" => f.unsubscribe_post = Some(raw_value()),
                "precedence" => f.precedence = Some(raw_value().to_ascii_lowercase()),
                "authentication-results" if f.authentication_results.len() < 20 => f
                    .authentication_results
                    .push(raw_value().split_whitespace().collect::<Vec<_>>().join(" ")),
                _ => {}
            },
        }
    }
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_headers_read() {
        let m = b"Return-Path: <bounce@news.example.com>\r\nReceived: from a (a [198.51.100.1]) by b with ESMTPS; Mon, 23 Nov 2026 10:00:00 +0000\r\nFrom: Shop <news@example.com>\r\nMessage-ID: <1@example.com>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nList-Unsubscribe: <mailto:u@example.com>, <https://example.com/u?x=1>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nList-Id: News <news.example.com>\r\n\r\nbody\r\n";
        let f = header_facts(m).unwrap();
        assert_eq!(f.from_fields, 1);
        assert_eq!(f.from_domain().as_deref(), Some("example.com"));
        assert_eq!(f.mail_from_domain().as_deref(), Some("news.example.com"));
        assert_eq!(f.message_id.as_deref(), Some("1@example.com"));
        assert!(!f.message_id_malformed && f.date_present);
        assert!(f.has_https_unsubscribe(), "{:?}", f.unsubscribe);
        assert!(f.has_one_click(), "{:?}", f.unsubscribe_post);
        assert!(f.list_id.is_some());
        assert_eq!(f.hops.len(), 1);
    }

    #[test]
    fn missing_and_malformed() {
        let f = header_facts(b"From: a@example.com\r\nFrom: b@example.org\r\nMessage-ID: nonsense\r\nList-Unsubscribe-Post: List-Unsubscribe=one-click\r\n\r\n").unwrap();
        assert_eq!(f.from_fields, 2);
        assert!(f.message_id_malformed);
        assert!(!f.date_present);
        assert!(!f.has_one_click(), "the value is case-sensitive in RFC 8058");
    }
}
