//! What a user or a program may ask (a web form, an API body, a line of a scan list),
//! validated once at the edge into engine requests. Every refusal is an [`InputError`]: a
//! catalogue key (`err.*`, English and Japanese) and the offending field, never a 500.

use std::collections::BTreeMap;
use std::net::IpAddr;

use mxdoctor_engine::domain::DomainRequest;
use mxdoctor_engine::ip::IpRequest;
use mxdoctor_engine::received::ReceivedRequest;
use mxdoctor_engine::sendas::SendasRequest;
use mxdoctor_explain::Lang;
use mxdoctor_net::smtp::{Credentials, Security};
use mxdoctor_proto::hostname::Hostname;
use mxdoctor_proto::mail::MessageAnalysis;
use schemars::JsonSchema;
use serde::Deserialize;

/// Longest text field accepted (a host name is at most 253; an address 320).
pub const MAX_FIELD: usize = 512;
/// At most this many IPs or selectors in one request.
pub const MAX_LIST: usize = 16;

/// A refused input: which field, which rule (`err.*` catalogue key), the details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub field: &'static str,
    pub key: &'static str,
    pub args: BTreeMap<String, String>,
}

impl InputError {
    pub fn new(field: &'static str, key: &'static str) -> Self {
        let mut args = BTreeMap::new();
        args.insert("field".to_string(), field.to_string());
        Self { field, key, args }
    }

    pub fn arg(mut self, k: &str, v: impl ToString) -> Self {
        self.args.insert(k.to_string(), v.to_string());
        self
    }

    /// The sentence in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        mxdoctor_explain::fill(mxdoctor_explain::ui(lang, self.key), &self.args)
    }
}

/// The domain report (`mxdoctor check`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInput {
    /// The mail domain (the part after @).
    pub domain: String,
    /// Sending IPs; default: derived from SPF and MX.
    #[serde(default)]
    pub ips: Vec<String>,
    /// The HELO/EHLO name the sending server announces.
    #[serde(default)]
    pub helo: Option<String>,
    /// DKIM selectors; default: common selectors are tried.
    #[serde(default)]
    pub selectors: Vec<String>,
    /// Apply the bulk-sender rules (5000 or more messages a day to Gmail).
    #[serde(default)]
    pub bulk: bool,
    /// The submission server typed into Gmail, HOST or HOST:PORT; default: guessed.
    #[serde(default)]
    pub submission: Option<String>,
}

/// Gmail's "Send mail as" (`mxdoctor sendas`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendasInput {
    /// The SMTP server exactly as typed into Gmail.
    pub host: String,
    /// The port chosen in Gmail; default 587.
    #[serde(default)]
    pub port: Option<u16>,
    /// `starttls` (Gmail's "TLS") or `ssl` (Gmail's "SSL"); default: by port.
    #[serde(default)]
    pub security: Option<String>,
    /// Also log in as this user, as Gmail does (use a test account).
    #[serde(default)]
    pub user: Option<String>,
    /// The password for `user`: used for this one login, never stored, logged or echoed.
    #[serde(default)]
    pub password: Option<String>,
}

/// Options for a received message (`mxdoctor message`), given as query parameters to
/// `POST /api/v1/message`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageOptions {
    /// The sending server's IP, if the Received fields do not show it.
    #[serde(default)]
    pub ip: Option<String>,
    /// The envelope sender, if there is no Return-Path.
    #[serde(default)]
    pub mail_from: Option<String>,
    /// The sending server's HELO name.
    #[serde(default)]
    pub helo: Option<String>,
    #[serde(default)]
    pub bulk: Option<bool>,
}

/// A text field: bounded, no control characters (header injection, NUL, terminal escapes).
pub fn field<'a>(name: &'static str, value: &'a str) -> Result<&'a str, InputError> {
    if value.len() > MAX_FIELD {
        return Err(InputError::new(name, "err.too-long").arg("max", MAX_FIELD));
    }
    if value.chars().any(char::is_control) {
        return Err(InputError::new(name, "err.control"));
    }
    Ok(value.trim())
}

/// The writing system of a letter, for the look-alike rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Greek,
    Cyrillic,
}

fn script(c: char) -> Option<Script> {
    match c {
        'a'..='z' | 'A'..='Z' | '\u{00C0}'..='\u{024F}' => Some(Script::Latin),
        '\u{0370}'..='\u{03FF}' => Some(Script::Greek),
        '\u{0400}'..='\u{052F}' => Some(Script::Cyrillic),
        _ => None,
    }
}

/// A label that mixes Latin with Greek or Cyrillic letters is how look-alike names are made
/// (`mаil` with a Cyrillic а): browsers show such names as punycode; we refuse them, naming the
/// label, so the user types the name they meant.
fn no_mixed_scripts(name: &'static str, v: &str) -> Result<(), InputError> {
    for label in v.split('.') {
        let mut seen: Option<Script> = None;
        for s in label.chars().filter_map(script) {
            match seen {
                Some(prev) if prev != s => {
                    return Err(InputError::new(name, "err.homograph").arg("value", label));
                }
                _ => seen = Some(s),
            }
        }
    }
    Ok(())
}

fn host(name: &'static str, value: &str) -> Result<Hostname, InputError> {
    let v = field(name, value)?;
    if v.is_empty() {
        return Err(InputError::new(name, "err.empty"));
    }
    no_mixed_scripts(name, v)?;
    Hostname::parse(v).map_err(|e| InputError::new(name, "err.hostname").arg("value", v).arg("detail", e))
}

fn domain(name: &'static str, value: &str) -> Result<Hostname, InputError> {
    let v = field(name, value)?;
    if v.is_empty() {
        return Err(InputError::new(name, "err.empty"));
    }
    // What people paste: an address, a URL, a trailing dot.
    let v = v.rsplit('@').next().unwrap_or(v);
    no_mixed_scripts(name, v)?;
    Hostname::parse_dns_name(v).map_err(|e| InputError::new(name, "err.hostname").arg("value", v).arg("detail", e))
}

fn ip(name: &'static str, value: &str) -> Result<IpAddr, InputError> {
    let v = field(name, value)?;
    v.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| InputError::new(name, "err.ip").arg("value", v))
}

fn list_len(name: &'static str, n: usize) -> Result<(), InputError> {
    if n > MAX_LIST {
        return Err(InputError::new(name, "err.too-many").arg("max", MAX_LIST));
    }
    Ok(())
}

impl CheckInput {
    pub fn request(&self) -> Result<DomainRequest, InputError> {
        let d = domain("domain", &self.domain)?;
        list_len("ips", self.ips.len())?;
        list_len("selectors", self.selectors.len())?;
        let ips = self.ips.iter().map(|s| ip("ips", s)).collect::<Result<Vec<_>, _>>()?;
        let helo = match self.helo.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
            Some(h) => Some(host("helo", h)?),
            None => None,
        };
        for s in &self.selectors {
            let s = field("selectors", s)?;
            let ok = !s.is_empty()
                && s.len() <= 63
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !ok {
                return Err(InputError::new("selectors", "err.selector").arg("value", s));
            }
        }
        let submission = match self.submission.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => Some(host_port("submission", s)?),
            None => None,
        };
        Ok(DomainRequest {
            domain: d.as_str().to_string(),
            ips,
            helo,
            selectors: self.selectors.iter().map(|s| s.trim().to_string()).collect(),
            bulk: self.bulk,
            submission,
            check_submission: true,
            lists: IpRequest::new(std::net::Ipv4Addr::UNSPECIFIED.into()).lists,
            domain_lists: mxdoctor_proto::dnsbl::default_domain_lists(),
            topics: mxdoctor_engine::topics::Topics::default(),
            // Never from the web: a relay question is for the operator of the server to ask.
            relay_test: false,
        })
    }
}

/// `HOST` or `HOST:PORT` (587 by default).
fn host_port(name: &'static str, s: &str) -> Result<(Hostname, u16), InputError> {
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => {
            let port = p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| InputError::new(name, "err.port").arg("value", p))?;
            Ok((host(name, h)?, port))
        }
        _ => Ok((host(name, s)?, 587)),
    }
}

impl SendasInput {
    pub fn request(&self) -> Result<SendasRequest, InputError> {
        let h = host("host", &self.host)?;
        let port = self.port.unwrap_or(587);
        if port == 0 {
            return Err(InputError::new("port", "err.port").arg("value", port));
        }
        let mut req = SendasRequest::new(h, port);
        match self.security.as_deref().map(str::trim) {
            None | Some("") => {}
            Some("starttls") | Some("tls") => req.security = Security::Starttls,
            Some("ssl") | Some("implicit") => req.security = Security::Implicit,
            Some(other) => {
                return Err(InputError::new("security", "err.security").arg("value", field("security", other)?));
            }
        }
        let user = self.user.as_deref().map(str::trim).filter(|u| !u.is_empty());
        let password = self.password.as_deref().filter(|p| !p.is_empty());
        match (user, password) {
            (Some(u), Some(p)) => {
                let u = field("user", u)?;
                // The password's characters are checked, never echoed.
                if p.len() > MAX_FIELD || p.chars().any(char::is_control) {
                    return Err(InputError::new("password", "err.password"));
                }
                req.credentials = Some(Credentials {
                    user: u.to_string(),
                    password: p.to_string(),
                });
            }
            (None, None) => {}
            (Some(_), None) => return Err(InputError::new("password", "err.empty")),
            (None, Some(_)) => return Err(InputError::new("user", "err.empty")),
        }
        Ok(req)
    }
}

/// A message to explain: the raw bytes, parsed; a thing that is not a message is refused.
pub fn message(raw: &[u8]) -> Result<MessageAnalysis, InputError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(InputError::new("message", "err.empty"));
    }
    if raw.len() > mxdoctor_proto::mail::MAX_MESSAGE {
        return Err(InputError::new("message", "err.too-long").arg("max", mxdoctor_proto::mail::MAX_MESSAGE));
    }
    let a = mxdoctor_proto::mail::analyze(raw)
        .map_err(|e| InputError::new("message", "err.not-a-message").arg("detail", e))?;
    // A message has a header: at least one field before the body.
    if !looks_like_header(raw) {
        return Err(InputError::new("message", "err.not-a-message").arg("detail", "no header fields"));
    }
    Ok(a)
}

/// The first line is a header field (`Name: value`), as RFC 5322 requires of a message.
fn looks_like_header(raw: &[u8]) -> bool {
    let first = raw.split(|b| *b == b'\n').next().unwrap_or(&[]);
    match first.iter().position(|b| *b == b':') {
        Some(colon) if colon > 0 => first.iter().take(colon).all(|b| b.is_ascii_graphic() && *b != b':'),
        _ => false,
    }
}

impl MessageOptions {
    pub fn request(&self) -> Result<ReceivedRequest, InputError> {
        let ip = match self.ip.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => Some(ip("ip", s)?),
            None => None,
        };
        let mail_from = match self.mail_from.as_deref().map(str::trim) {
            Some(m) if !m.is_empty() => {
                let m = field("mail_from", m)?;
                if !m.contains('@') || m.len() > 320 {
                    return Err(InputError::new("mail_from", "err.address").arg("value", m));
                }
                Some(m.to_string())
            }
            _ => None,
        };
        let helo = match self.helo.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(h) => Some(domain("helo", h)?.as_str().to_string()),
            None => None,
        };
        Ok(ReceivedRequest {
            ip,
            mail_from,
            helo,
            bulk: self.bulk.unwrap_or(false),
            arrival: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_header_injection_are_refused() {
        for bad in ["example.com\r\nBcc: x@y", "a\0b", "x\x1b[31m"] {
            let e = CheckInput {
                domain: bad.into(),
                ..Default::default()
            }
            .request()
            .unwrap_err();
            assert_eq!(e.key, "err.control", "{bad:?}");
        }
    }

    #[test]
    fn over_long_and_invalid_domains_are_refused_with_the_rule() {
        let long = "a".repeat(600);
        let e = CheckInput {
            domain: long,
            ..Default::default()
        }
        .request()
        .unwrap_err();
        assert_eq!(e.key, "err.too-long");
        let e = CheckInput {
            domain: format!("{}.com", "a".repeat(70)),
            ..Default::default()
        }
        .request()
        .unwrap_err();
        assert_eq!(e.key, "err.hostname");
        assert!(e.message(Lang::Ja).contains("a"));
    }

    #[test]
    fn look_alike_names_are_refused_and_single_script_idn_is_not() {
        let e = SendasInput {
            host: "m\u{0430}il.example.com".into(),
            ..Default::default()
        }
        .request()
        .unwrap_err();
        assert_eq!(e.key, "err.homograph");
        assert!(
            CheckInput {
                domain: "bücher.example".into(),
                ..Default::default()
            }
            .request()
            .is_ok()
        );
        assert!(
            CheckInput {
                domain: "пример.example".into(),
                ..Default::default()
            }
            .request()
            .is_ok()
        );
    }

    #[test]
    fn pasted_addresses_become_their_domain() {
        let r = CheckInput {
            domain: " user@Example.COM ".into(),
            ..Default::default()
        }
        .request()
        .unwrap();
        assert_eq!(r.domain, "example.com");
    }

    #[test]
    fn a_password_is_never_in_the_error() {
        let e = SendasInput {
            host: "mail.example.com".into(),
            user: Some("u".into()),
            password: Some("secret\r\n".into()),
            ..Default::default()
        }
        .request()
        .unwrap_err();
        assert_eq!(e.key, "err.password");
        assert!(!format!("{e:?}{}", e.message(Lang::En)).contains("secret"));
    }

    #[test]
    fn a_thing_that_is_not_a_message_is_refused() {
        assert_eq!(message(b"   ").unwrap_err().key, "err.empty");
        assert_eq!(message(b"just some words\n").unwrap_err().key, "err.not-a-message");
        assert!(message(b"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n").is_ok());
    }
}
