//! SMTP replies (RFC 5321 section 4.2), enhanced status codes (RFC 3463) and EHLO keywords
//! (RFC 5321 section 4.1.1.1), for a diagnostic client that must survive any server.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest reply line the client accepts (RFC 5321 section 4.5.3.1.5 says 512; real servers
/// send longer EHLO lines, so allow some room).
pub const MAX_REPLY_LINE: usize = 2048;
/// Most lines in one multi-line reply.
pub const MAX_REPLY_LINES: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyLine {
    pub code: u16,
    /// `false` for `250-...` continuation lines.
    pub last: bool,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("not an SMTP reply: {line:?}")]
    NotSmtp { line: String },
    #[error("a multi-line reply changed its code from {first} to {then}")]
    InconsistentCode { first: u16, then: u16 },
    #[error("empty reply")]
    Empty,
}

fn shown(line: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(line.get(..80).unwrap_or(line))
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    s
}

/// What answered where an SMTP greeting was expected, told from the first bytes it sent.
/// Users give Gmail's dialog (and mxdoctor) the IMAP or POP3 port, or a web port, by mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Peer {
    /// `+OK` (RFC 1939).
    Pop3,
    /// `* OK`, `* PREAUTH`, `* BYE` (RFC 9051 section 7.1).
    Imap,
    /// `HTTP/1.x` status line.
    Http,
    /// A TLS record (handshake or alert) on a port where plaintext was expected.
    Tls,
    /// `SSH-2.0-...` (RFC 4253 section 4.2).
    Ssh,
    /// Anything else.
    Unknown,
}

impl Peer {
    /// The protocol's usual name, the same in every language.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Pop3 => "POP3",
            Peer::Imap => "IMAP",
            Peer::Http => "HTTP",
            Peer::Tls => "TLS",
            Peer::Ssh => "SSH",
            Peer::Unknown => "?",
        }
    }
}

/// Identifies the protocol of a server's first bytes.
pub fn identify_peer(head: &[u8]) -> Peer {
    let starts = |p: &[u8]| head.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
    if matches!(head, [0x15 | 0x16, 0x03, ..]) {
        Peer::Tls
    } else if starts(b"+OK") || starts(b"-ERR") {
        Peer::Pop3
    } else if starts(b"* OK") || starts(b"* PREAUTH") || starts(b"* BYE") {
        Peer::Imap
    } else if starts(b"HTTP/") {
        Peer::Http
    } else if starts(b"SSH-") {
        Peer::Ssh
    } else {
        Peer::Unknown
    }
}

/// Parses one reply line (without CRLF): `NNN SP text`, `NNN-text` or a bare `NNN`.
pub fn parse_reply_line(line: &[u8]) -> Result<ReplyLine, ReplyError> {
    let bad = || ReplyError::NotSmtp { line: shown(line) };
    let [a, b, c, after @ ..] = line else {
        return Err(bad());
    };
    if ![a, b, c].iter().all(|d| d.is_ascii_digit()) {
        return Err(bad());
    }
    let code = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
    if !(200..=599).contains(&code) {
        return Err(bad());
    }
    let (last, rest): (bool, &[u8]) = match after {
        [] => (true, &[]),
        [b' ', rest @ ..] => (true, rest),
        [b'-', rest @ ..] => (false, rest),
        _ => return Err(bad()),
    };
    Ok(ReplyLine {
        code,
        last,
        text: String::from_utf8_lossy(rest).into_owned(),
    })
}

/// An enhanced mail system status code, e.g. `5.7.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EnhancedCode {
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

impl EnhancedCode {
    /// Parses `class.subject.detail` at the start of `text` (RFC 3463 section 2).
    pub fn parse_prefix(text: &str) -> Option<Self> {
        let word = text.split_whitespace().next()?;
        let mut parts = word.split('.');
        let class: u8 = parts.next()?.parse().ok()?;
        let subject_s = parts.next()?;
        let detail_s = parts.next()?;
        if parts.next().is_some() || !matches!(class, 2 | 4 | 5) || subject_s.len() > 3 || detail_s.len() > 3 {
            return None;
        }
        Some(Self {
            class,
            subject: subject_s.parse().ok()?,
            detail: detail_s.parse().ok()?,
        })
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// A complete reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub code: u16,
    pub enhanced: Option<EnhancedCode>,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn from_lines(lines: Vec<ReplyLine>) -> Result<Reply, ReplyError> {
        let first = lines.first().ok_or(ReplyError::Empty)?.code;
        if let Some(l) = lines.iter().find(|l| l.code != first) {
            return Err(ReplyError::InconsistentCode { first, then: l.code });
        }
        let enhanced = lines.first().and_then(|l| EnhancedCode::parse_prefix(&l.text));
        Ok(Reply {
            code: first,
            enhanced,
            lines: lines.into_iter().map(|l| l.text).collect(),
        })
    }

    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    pub fn to_wire_lines(&self) -> Vec<String> {
        let n = self.lines.len();
        self.lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{}{}{}", self.code, if i + 1 == n { ' ' } else { '-' }, l))
            .collect()
    }
}

/// What a server advertises in its EHLO reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EhloCaps {
    /// The domain on the first line (the server's own name).
    pub domain: String,
    pub starttls: bool,
    /// AUTH mechanisms, uppercase, in the order given.
    pub auth: Vec<String>,
    pub size: Option<u64>,
    pub pipelining: bool,
    pub eight_bit_mime: bool,
    pub smtputf8: bool,
    pub requiretls: bool,
    pub chunking: bool,
    /// Other keywords, as sent.
    pub other: Vec<String>,
}

/// Reads the capability keywords of an EHLO reply. Keywords are case-insensitive; the old
/// `AUTH=LOGIN PLAIN` form some servers still send is recognised too.
pub fn parse_ehlo(reply: &Reply) -> EhloCaps {
    let mut caps = EhloCaps {
        domain: reply
            .lines
            .first()
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_default()
            .to_string(),
        ..Default::default()
    };
    for line in reply.lines.iter().skip(1) {
        // smtp-proto knows the registered keywords; it gives us the canonical capability.
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        let upper = first.to_ascii_uppercase();
        let (keyword, inline_args) = match upper.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (upper.clone(), None),
        };
        let args: Vec<String> = inline_args.into_iter().chain(words.map(str::to_string)).collect();
        match smtp_capability(&keyword) {
            Some(Capability::StartTls) => caps.starttls = true,
            Some(Capability::Auth) => {
                for m in args {
                    let m = m.to_ascii_uppercase();
                    if !m.is_empty() && !caps.auth.contains(&m) {
                        caps.auth.push(m);
                    }
                }
            }
            Some(Capability::Size) => caps.size = args.first().and_then(|a| a.parse().ok()).or(Some(0)),
            Some(Capability::Pipelining) => caps.pipelining = true,
            Some(Capability::EightBitMime) => caps.eight_bit_mime = true,
            Some(Capability::SmtpUtf8) => caps.smtputf8 = true,
            Some(Capability::RequireTls) => caps.requiretls = true,
            Some(Capability::Chunking) => caps.chunking = true,
            None => caps.other.push(line.clone()),
        }
    }
    caps
}

enum Capability {
    StartTls,
    Auth,
    Size,
    Pipelining,
    EightBitMime,
    SmtpUtf8,
    RequireTls,
    Chunking,
}

/// Maps a keyword to a capability using smtp-proto's registry of EHLO keywords, so the names
/// stay in one place shared with other SMTP code.
fn smtp_capability(keyword: &str) -> Option<Capability> {
    use smtp_proto::{
        EXT_8BIT_MIME, EXT_AUTH, EXT_CHUNKING, EXT_PIPELINING, EXT_REQUIRE_TLS, EXT_SIZE, EXT_SMTP_UTF8, EXT_START_TLS,
    };
    let response = format!("250-x\r\n250 {keyword}\r\n");
    let parsed = smtp_proto::EhloResponse::<String>::parse(&mut response.as_bytes().iter()).ok()?;
    let c = parsed.capabilities;
    Some(if c & EXT_START_TLS != 0 {
        Capability::StartTls
    } else if c & EXT_AUTH != 0 {
        Capability::Auth
    } else if c & EXT_SIZE != 0 {
        Capability::Size
    } else if c & EXT_PIPELINING != 0 {
        Capability::Pipelining
    } else if c & EXT_8BIT_MIME != 0 {
        Capability::EightBitMime
    } else if c & EXT_SMTP_UTF8 != 0 {
        Capability::SmtpUtf8
    } else if c & EXT_REQUIRE_TLS != 0 {
        Capability::RequireTls
    } else if c & EXT_CHUNKING != 0 {
        Capability::Chunking
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(lines: &[&str]) -> Reply {
        Reply::from_lines(lines.iter().map(|l| parse_reply_line(l.as_bytes()).unwrap()).collect()).unwrap()
    }

    #[test]
    fn rfc5321_4_2_1_multiline_reply() {
        let r = reply(&["250-mail.example.com Hello", "250-PIPELINING", "250 STARTTLS"]);
        assert_eq!(r.code, 250);
        assert_eq!(r.lines.len(), 3);
        assert_eq!(r.to_wire_lines()[2], "250 STARTTLS");
        assert!(!parse_reply_line(b"250-PIPELINING").unwrap().last);
        assert!(parse_reply_line(b"220").unwrap().last);
    }

    #[test]
    fn rfc3463_enhanced_codes() {
        let r = reply(&["550 5.7.1 Relaying denied"]);
        assert_eq!(r.enhanced.unwrap().to_string(), "5.7.1");
        assert_eq!(
            reply(&["535 5.7.8 Authentication credentials invalid"])
                .enhanced
                .unwrap()
                .detail,
            8
        );
        assert!(reply(&["250 ok"]).enhanced.is_none());
        assert!(EnhancedCode::parse_prefix("1.2.3 x").is_none());
    }

    #[test]
    fn garbage_is_not_smtp() {
        assert!(parse_reply_line(b"HTTP/1.1 400 Bad Request").is_err());
        assert!(parse_reply_line(b"\x16\x03\x01\x00").is_err());
        assert!(parse_reply_line(b"99 too short").is_err());
        assert!(parse_reply_line(b"250x").is_err());
        assert!(parse_reply_line(b"").is_err());
        assert!(parse_reply_line(b"700 no such class").is_err());
        let lines = vec![parse_reply_line(b"250-a").unwrap(), parse_reply_line(b"251 b").unwrap()];
        assert_eq!(
            Reply::from_lines(lines),
            Err(ReplyError::InconsistentCode { first: 250, then: 251 })
        );
        assert_eq!(Reply::from_lines(vec![]), Err(ReplyError::Empty));
    }

    #[test]
    fn rfc5321_4_1_1_1_ehlo_keywords() {
        let r = reply(&[
            "250-sv1234.star-hosting.example",
            "250-PIPELINING",
            "250-SIZE 10240000",
            "250-starttls",
            "250-AUTH PLAIN LOGIN",
            "250-AUTH=LOGIN CRAM-MD5",
            "250-8BITMIME",
            "250-X-CUSTOM thing",
            "250 SMTPUTF8",
        ]);
        let c = parse_ehlo(&r);
        assert_eq!(c.domain, "sv1234.star-hosting.example");
        assert!(c.starttls && c.pipelining && c.eight_bit_mime && c.smtputf8);
        assert_eq!(c.size, Some(10_240_000));
        assert_eq!(c.auth, vec!["PLAIN", "LOGIN", "CRAM-MD5"]);
        assert_eq!(c.other, vec!["X-CUSTOM thing"]);
        let plain = parse_ehlo(&reply(&["250 mail.example.com"]));
        assert!(!plain.starttls && plain.auth.is_empty());
    }
}

#[cfg(test)]
mod peer_tests {
    use super::*;

    #[test]
    fn greetings_of_other_protocols_are_named() {
        assert_eq!(identify_peer(b"+OK Dovecot ready."), Peer::Pop3);
        assert_eq!(identify_peer(b"* OK [CAPABILITY IMAP4rev1] Dovecot ready."), Peer::Imap);
        assert_eq!(identify_peer(b"HTTP/1.1 400 Bad Request"), Peer::Http);
        assert_eq!(identify_peer(&[0x15, 0x03, 0x03, 0x00, 0x02]), Peer::Tls);
        assert_eq!(identify_peer(b"SSH-2.0-OpenSSH_9.2"), Peer::Ssh);
        assert_eq!(identify_peer(b"hello"), Peer::Unknown);
    }
}
