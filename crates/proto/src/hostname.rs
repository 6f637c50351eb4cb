//! Host names as a user types them into Gmail: IDNA to A-labels (UTS #46), then the LDH rules
//! of RFC 1035 section 2.3.1 / RFC 1123 section 2.1 on the result. Errors say exactly what is
//! wrong and where.

use std::fmt;

use serde::{Deserialize, Serialize};

pub const MAX_NAME: usize = 253;
pub const MAX_LABEL: usize = 63;

/// A validated host name in lowercase A-label form, without the trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Hostname(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostnameError {
    #[error("the name is empty")]
    Empty,
    #[error("`{0}` is an IP address; Gmail needs a host name that the certificate names")]
    IpLiteral(String),
    #[error("the name is {len} characters long; the limit is {MAX_NAME}")]
    TooLong { len: usize },
    #[error("the label `{label}` is {len} characters long; the limit is {MAX_LABEL}")]
    LabelTooLong { label: String, len: usize },
    #[error("the name has an empty label (two dots in a row, or a leading dot)")]
    EmptyLabel,
    #[error("the character {ch:?} at position {pos} is not allowed in a host name")]
    InvalidChar { ch: char, pos: usize },
    #[error("the label `{label}` starts or ends with a hyphen")]
    Hyphen { label: String },
    #[error("a host name needs at least two labels (e.g. mail.example.com), got `{0}`")]
    SingleLabel(String),
    #[error("the top-level label `{0}` is all digits")]
    NumericTld(String),
    #[error("the name is not valid IDNA: {0}")]
    Idna(String),
}

impl Hostname {
    /// Parses a host name for connecting and certificate matching.
    pub fn parse(input: &str) -> Result<Self, HostnameError> {
        Self::parse_inner(input, false)
    }

    /// Like [`Hostname::parse`] but allows `_` (owner names such as `_dmarc.example.com`).
    pub fn parse_dns_name(input: &str) -> Result<Self, HostnameError> {
        Self::parse_inner(input, true)
    }

    fn parse_inner(input: &str, underscore: bool) -> Result<Self, HostnameError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(HostnameError::Empty);
        }
        if trimmed.len() > 1024 {
            return Err(HostnameError::TooLong { len: trimmed.len() });
        }
        let bare = trimmed
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(trimmed);
        if bare.parse::<std::net::IpAddr>().is_ok() {
            return Err(HostnameError::IpLiteral(bare.to_string()));
        }
        // Spaces and controls are reported at their position before IDNA mangles the input.
        for (pos, ch) in trimmed.char_indices() {
            if ch.is_whitespace() || ch.is_control() || matches!(ch, '/' | ':' | '@' | ',' | ';' | '!' | '*' | '?') {
                return Err(HostnameError::InvalidChar { ch, pos });
            }
        }
        let no_dot = trimmed.strip_suffix('.').unwrap_or(trimmed);
        if no_dot.is_empty() {
            return Err(HostnameError::Empty);
        }
        let ascii = if no_dot.is_ascii() {
            no_dot.to_ascii_lowercase()
        } else {
            idna::domain_to_ascii(no_dot).map_err(|e| HostnameError::Idna(format!("{e:?}")))?
        };
        if ascii.len() > MAX_NAME {
            return Err(HostnameError::TooLong { len: ascii.len() });
        }
        let labels: Vec<&str> = ascii.split('.').collect();
        for label in &labels {
            if label.is_empty() {
                return Err(HostnameError::EmptyLabel);
            }
            if label.len() > MAX_LABEL {
                return Err(HostnameError::LabelTooLong {
                    label: label.to_string(),
                    len: label.len(),
                });
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(HostnameError::Hyphen {
                    label: label.to_string(),
                });
            }
        }
        for (pos, ch) in ascii.char_indices() {
            let ok = ch.is_ascii_alphanumeric() || ch == '-' || ch == '.' || (underscore && ch == '_');
            if !ok {
                return Err(HostnameError::InvalidChar { ch, pos });
            }
        }
        let (Some(tld), true) = (labels.last(), labels.len() >= 2) else {
            return Err(HostnameError::SingleLabel(ascii));
        };
        if tld.chars().all(|c| c.is_ascii_digit()) {
            return Err(HostnameError::NumericTld(tld.to_string()));
        }
        Ok(Hostname(ascii))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Unicode form for display (`xn--bcher-kva.example` -> `bücher.example`).
    pub fn to_unicode(&self) -> String {
        let (u, r) = idna::domain_to_unicode(&self.0);
        if r.is_ok() { u } else { self.0.clone() }
    }

    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }
}

impl fmt::Display for Hostname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_and_drops_the_root_dot() {
        assert_eq!(
            Hostname::parse("Mail.Example.COM.").unwrap().as_str(),
            "mail.example.com"
        );
    }

    #[test]
    fn idna_u_labels_become_a_labels() {
        let h = Hostname::parse("bücher.example").unwrap();
        assert_eq!(h.as_str(), "xn--bcher-kva.example");
        assert_eq!(h.to_unicode(), "bücher.example");
        assert_eq!(
            Hostname::parse("メール.例え.jp")
                .unwrap()
                .as_str()
                .matches("xn--")
                .count(),
            2
        );
    }

    #[test]
    fn rfc1035_2_3_4_size_limits() {
        let label = "a".repeat(64);
        assert!(matches!(
            Hostname::parse(&format!("{label}.example")),
            Err(HostnameError::LabelTooLong { .. })
        ));
        assert!(Hostname::parse(&format!("{}.example", "a".repeat(63))).is_ok());
        let long = format!("{}.example", ["abcdefghi"; 25].join("."));
        assert!(matches!(Hostname::parse(&long), Err(HostnameError::TooLong { .. })));
    }

    #[test]
    fn rejects_what_gmail_cannot_connect_to() {
        assert!(matches!(Hostname::parse(""), Err(HostnameError::Empty)));
        assert!(matches!(Hostname::parse("192.0.2.1"), Err(HostnameError::IpLiteral(_))));
        assert!(matches!(
            Hostname::parse("[2001:db8::1]"),
            Err(HostnameError::IpLiteral(_))
        ));
        assert!(matches!(
            Hostname::parse("mail example.com"),
            Err(HostnameError::InvalidChar { pos: 4, .. })
        ));
        assert!(matches!(
            Hostname::parse("mail..example.com"),
            Err(HostnameError::EmptyLabel)
        ));
        assert!(matches!(
            Hostname::parse("-mail.example.com"),
            Err(HostnameError::Hyphen { .. })
        ));
        assert!(matches!(
            Hostname::parse("localhost"),
            Err(HostnameError::SingleLabel(_))
        ));
        assert!(matches!(
            Hostname::parse("mail_1.example.com"),
            Err(HostnameError::InvalidChar { ch: '_', .. })
        ));
        assert!(Hostname::parse_dns_name("_dmarc.example.com").is_ok());
        assert!(matches!(
            Hostname::parse("*.example.com"),
            Err(HostnameError::InvalidChar { ch: '*', .. })
        ));
    }
}
