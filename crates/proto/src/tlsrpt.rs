//! SMTP TLS Reporting records (RFC 8460 section 3), published at `_smtp._tls.DOMAIN`:
//!
//! ```text
//! tlsrpt-record    = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
//! tlsrpt-version   = %s"v=TLSRPTv1"
//! field-delim      = *WSP ";" *WSP
//! tlsrpt-field     = tlsrpt-rua / tlsrpt-extension
//! tlsrpt-rua       = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
//! tlsrpt-extension = tlsrpt-ext-name "=" tlsrpt-ext-value
//! tlsrpt-ext-name  = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//! tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E)
//! ```
//!
//! Senders discard TXT strings that do not start with `v=TLSRPTv1;`; if not exactly one is
//! left, or it is invalid, the domain is treated as not asking for reports (section 3).

/// The version tag that marks a TLS-RPT record.
pub const VERSION: &str = "v=TLSRPTv1";

/// Where reports go: `mailto:` (an address) or `https:` (a URL that takes a POST).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportUri {
    Mailto(String),
    Https(String),
}

impl ReportUri {
    pub fn as_str(&self) -> &str {
        match self {
            ReportUri::Mailto(s) | ReportUri::Https(s) => s,
        }
    }
}

/// A valid TLS-RPT record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsRptRecord {
    pub rua: Vec<ReportUri>,
    /// Extension fields (name, value), kept as published.
    pub extensions: Vec<(String, String)>,
}

/// Why a record is not valid: the message and the offending text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsRptError {
    pub message: String,
    pub near: String,
}

impl std::fmt::Display for TlsRptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (near `{}`)", self.message, self.near)
    }
}

/// Whether a TXT string is a TLS-RPT record at all (the rest are discarded, section 3).
pub fn is_tlsrpt(txt: &str) -> bool {
    txt.strip_prefix(VERSION)
        .is_some_and(|rest| rest.trim_start_matches([' ', '\t']).starts_with(';'))
}

/// Parses one record (which [`is_tlsrpt`] accepted).
pub fn parse(txt: &str) -> Result<TlsRptRecord, TlsRptError> {
    let err = |message: &str, near: &str| TlsRptError {
        message: message.to_string(),
        near: near.chars().take(60).collect(),
    };
    let rest = txt
        .strip_prefix(VERSION)
        .ok_or_else(|| err("the record must start with v=TLSRPTv1", txt))?;
    let mut rua: Option<Vec<ReportUri>> = None;
    let mut extensions = Vec::new();
    let fields: Vec<&str> = rest.split(';').map(|f| f.trim_matches([' ', '\t'])).collect();
    if !fields.first().is_some_and(|f| f.is_empty()) {
        return Err(err("v=TLSRPTv1 must be followed by `;`", rest));
    }
    let last = fields.len() - 1;
    for (i, field) in fields.iter().enumerate().skip(1) {
        if field.is_empty() {
            // Only a final `;` may leave an empty field.
            if i == last {
                continue;
            }
            return Err(err("empty field between `;`", rest));
        }
        let (name, value) = field
            .split_once('=')
            .ok_or_else(|| err("a field must be name=value", field))?;
        if name == "rua" {
            if rua.is_some() {
                return Err(err("rua= appears twice", field));
            }
            rua = Some(parse_rua(value).map_err(|m| err(&m, field))?);
        } else if name == "v" {
            return Err(err("v= appears twice", field));
        } else {
            check_extension(name, value).map_err(|m| err(&m, field))?;
            extensions.push((name.to_string(), value.to_string()));
        }
    }
    let rua = rua.ok_or_else(|| err("rua= (where reports go) is required", txt))?;
    Ok(TlsRptRecord { rua, extensions })
}

fn parse_rua(value: &str) -> Result<Vec<ReportUri>, String> {
    let mut out = Vec::new();
    for uri in value.split(',').map(|u| u.trim_matches([' ', '\t'])) {
        let lower = uri.to_ascii_lowercase();
        if let Some(addr) = lower.strip_prefix("mailto:").map(|_| &uri["mailto:".len()..]) {
            let valid = addr
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.ends_with('.'));
            if !valid {
                return Err(format!("`{uri}` is not a mailto: URI with an address"));
            }
            out.push(ReportUri::Mailto(uri.to_string()));
        } else if lower.starts_with("https://") {
            let host = &uri["https://".len()..];
            if host.is_empty() || host.starts_with('/') || uri.contains(char::is_whitespace) {
                return Err(format!("`{uri}` is not an https: URL with a host"));
            }
            out.push(ReportUri::Https(uri.to_string()));
        } else {
            return Err(format!("`{uri}`: reports go only to mailto: or https: URIs"));
        }
    }
    Ok(out)
}

fn check_extension(name: &str, value: &str) -> Result<(), String> {
    let name_ok = name.len() <= 32
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !name_ok {
        return Err(format!("`{name}` is not a field name"));
    }
    let value_ok = !value.is_empty() && value.bytes().all(|b| matches!(b, 0x21..=0x3a | 0x3c | 0x3e..=0x7e));
    if !value_ok {
        return Err(format!("the value of `{name}` has characters a field may not hold"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8460_section_3_examples_parse() {
        let r = parse("v=TLSRPTv1;rua=mailto:reports@example.com").unwrap();
        assert_eq!(r.rua, vec![ReportUri::Mailto("mailto:reports@example.com".into())]);
        let r = parse("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt").unwrap();
        assert_eq!(
            r.rua,
            vec![ReportUri::Https("https://reporting.example.com/v1/tlsrpt".into())]
        );
        let r = parse("v=TLSRPTv1; rua=mailto:a@example.com, https://r.example.com/x ; ext-1=yes;").unwrap();
        assert_eq!(r.rua.len(), 2);
        assert_eq!(r.extensions, vec![("ext-1".to_string(), "yes".to_string())]);
    }

    #[test]
    fn section_3_only_records_with_the_version_count() {
        assert!(is_tlsrpt("v=TLSRPTv1; rua=mailto:a@example.com"));
        assert!(!is_tlsrpt("v=TLSRPTv2; rua=mailto:a@example.com"));
        assert!(!is_tlsrpt("v=spf1 -all"));
        assert!(!is_tlsrpt("v=TLSRPTv1rua=mailto:a@example.com"));
    }

    #[test]
    fn invalid_records_say_why() {
        let e = |t: &str| parse(t).unwrap_err().message;
        assert!(e("v=TLSRPTv1;").contains("rua= (where reports go) is required"));
        assert!(e("v=TLSRPTv1; rua=http://r.example.com/").contains("only to mailto: or https:"));
        assert!(e("v=TLSRPTv1; rua=mailto:nobody").contains("not a mailto: URI"));
        assert!(e("v=TLSRPTv1; rua=mailto:a@b.example; rua=mailto:c@d.example").contains("twice"));
        assert!(e("v=TLSRPTv1; rua=mailto:a@b.example;; x=1").contains("empty field"));
        assert!(e("v=TLSRPTv1; rua=mailto:a@b.example; bad name=1").contains("not a field name"));
        assert!(e("v=TLSRPTv1; rua").contains("name=value"));
    }
}
