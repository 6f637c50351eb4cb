//! The IMAP and POP3 servers as mail apps (and Gmail's POP fetcher) meet them: implicit TLS on
//! 993 and 995, STARTTLS on 143 (RFC 9051 section 6.2.1) and STLS on 110 (RFC 2595 section 4),
//! capabilities before and after TLS. No login is attempted. Every read is bounded in length,
//! in lines and in time; what went wrong is in the report, never a panic.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::connect::Connector;
use crate::smtp::{BoxIo, Dir, Security, TranscriptLine};
use crate::tls::{TlsFailure, TlsOutcome, TlsSettings, VersionSet, handshake};

/// Longest line read (RFC 9051 has no limit; real servers stay far below this).
const MAX_LINE: usize = 8 * 1024;
/// Most lines read for one answer (a CAPA list, a CAPABILITY reply).
const MAX_LINES: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Imap,
    Pop3,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Imap => "IMAP",
            Protocol::Pop3 => "POP3",
        }
    }

    /// The protocol and security of the well-known ports.
    pub fn for_port(port: u16) -> Option<(Protocol, Security)> {
        match port {
            993 => Some((Protocol::Imap, Security::Implicit)),
            143 => Some((Protocol::Imap, Security::Starttls)),
            995 => Some((Protocol::Pop3, Security::Implicit)),
            110 => Some((Protocol::Pop3, Security::Starttls)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct MailboxPlan {
    pub addr: SocketAddr,
    /// The name typed into the mail app: SNI, and the name the certificate is checked for.
    pub server_name: String,
    pub protocol: Protocol,
    pub security: Security,
    pub versions: VersionSet,
}

/// What one session saw.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MailboxReport {
    pub addr: SocketAddr,
    pub server_name: String,
    pub protocol: Protocol,
    pub security: Security,
    pub transcript: Vec<TranscriptLine>,
    /// The greeting line, and whether it is this protocol's OK greeting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
    pub greeting_ok: bool,
    /// Another protocol answered: its name ("SMTP", "HTTP"...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_protocol: Option<String>,
    /// Connected, and nothing came within this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silent_secs: Option<u64>,
    /// Capabilities before TLS (STARTTLS ports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps_before_tls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starttls_reply: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_failure: Option<TlsFailure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps_after_tls: Option<Vec<String>>,
    /// Why the session stopped early.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The error was the connection itself (refused, timeout, not in the lab's map).
    #[serde(default)]
    pub connect_failed: Option<crate::ConnectError>,
}

impl MailboxReport {
    /// STARTTLS (IMAP) or STLS (POP3) offered before TLS.
    pub fn starttls_offered(&self) -> Option<bool> {
        let word = match self.protocol {
            Protocol::Imap => "STARTTLS",
            Protocol::Pop3 => "STLS",
        };
        self.caps_before_tls
            .as_ref()
            .map(|c| c.iter().any(|x| x.eq_ignore_ascii_case(word)))
    }

    /// A password could be sent before TLS: IMAP without LOGINDISABLED, POP3 with USER.
    pub fn login_in_clear(&self) -> bool {
        let Some(caps) = &self.caps_before_tls else {
            return false;
        };
        match self.protocol {
            Protocol::Imap => !caps.iter().any(|c| c.eq_ignore_ascii_case("LOGINDISABLED")),
            Protocol::Pop3 => caps
                .iter()
                .any(|c| c.eq_ignore_ascii_case("USER") || c.to_ascii_uppercase().starts_with("SASL")),
        }
    }

    /// Greeting, TLS and the capabilities after it: a whole session up to where a mail app
    /// would log in.
    pub fn complete(&self) -> bool {
        self.greeting_ok && self.tls.is_some() && self.caps_after_tls.is_some()
    }
}

struct Lines {
    io: Option<BoxIo>,
    buf: Vec<u8>,
    started: Instant,
    timeout: Duration,
    transcript: Vec<TranscriptLine>,
}

impl Lines {
    fn note(&mut self, dir: Dir, text: impl Into<String>) {
        self.transcript.push(TranscriptLine {
            ms: self.started.elapsed().as_millis() as u64,
            dir,
            text: text.into(),
        });
    }

    async fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let mut l: Vec<u8> = self.buf.drain(..=pos).collect();
                l.pop();
                if l.last() == Some(&b'\r') {
                    l.pop();
                }
                let text: String = String::from_utf8_lossy(&l)
                    .chars()
                    .filter(|c| !c.is_control())
                    .collect();
                self.note(Dir::Server, text.clone());
                return Ok(text);
            }
            if self.buf.len() > MAX_LINE {
                return Err(format!("a line longer than {MAX_LINE} bytes"));
            }
            let io = self.io.as_mut().ok_or("the connection is gone")?;
            let mut chunk = [0u8; 4096];
            let n = match tokio::time::timeout(self.timeout, io.read(&mut chunk)).await {
                Err(_) => return Err(format!("timeout:{}", self.timeout.as_secs())),
                Ok(Err(e)) => return Err(e.to_string()),
                Ok(Ok(0)) => return Err("the server closed the connection".into()),
                Ok(Ok(n)) => n,
            };
            self.buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
    }

    async fn send(&mut self, line: &str) -> Result<(), String> {
        self.note(Dir::Client, line);
        let io = self.io.as_mut().ok_or("the connection is gone")?;
        let data = format!("{line}\r\n");
        tokio::time::timeout(self.timeout, io.write_all(data.as_bytes()))
            .await
            .map_err(|_| "timeout while sending".to_string())?
            .map_err(|e| e.to_string())
    }

    /// IMAP: the untagged CAPABILITY words up to the tagged reply; POP3: the CAPA list.
    async fn capabilities(&mut self, protocol: Protocol) -> Result<Vec<String>, String> {
        let mut caps = Vec::new();
        match protocol {
            Protocol::Imap => {
                self.send("c1 CAPABILITY").await?;
                for _ in 0..MAX_LINES {
                    let l = self.line().await?;
                    if let Some(rest) = l.strip_prefix("* CAPABILITY ") {
                        caps.extend(rest.split_whitespace().map(str::to_string));
                    } else if l.starts_with("c1 ") {
                        return Ok(caps);
                    }
                }
            }
            Protocol::Pop3 => {
                self.send("CAPA").await?;
                let first = self.line().await?;
                if !first.starts_with("+OK") {
                    return Ok(caps);
                }
                for _ in 0..MAX_LINES {
                    let l = self.line().await?;
                    if l == "." {
                        return Ok(caps);
                    }
                    caps.extend(l.split_whitespace().next().map(str::to_string));
                }
            }
        }
        Err(format!("more than {MAX_LINES} lines of capabilities"))
    }
}

/// Runs one session; never fails as a whole.
pub async fn run(connector: &Connector, plan: &MailboxPlan, tls: &TlsSettings, timeout: Duration) -> MailboxReport {
    let mut report = MailboxReport {
        addr: plan.addr,
        server_name: plan.server_name.clone(),
        protocol: plan.protocol,
        security: plan.security,
        transcript: Vec::new(),
        greeting: None,
        greeting_ok: false,
        other_protocol: None,
        silent_secs: None,
        caps_before_tls: None,
        starttls_reply: None,
        tls: None,
        tls_failure: None,
        caps_after_tls: None,
        error: None,
        connect_failed: None,
    };
    let started = Instant::now();
    let mut lines = Lines {
        io: None,
        buf: Vec::new(),
        started,
        timeout,
        transcript: Vec::new(),
    };
    match connector.connect(plan.addr, timeout).await {
        Ok(c) => {
            lines.io = Some(Box::new(c));
            lines.note(Dir::Event, format!("connected to {}", plan.addr));
        }
        Err(e) => {
            lines.note(Dir::Event, format!("connect {} failed: {e}", plan.addr));
            report.error = Some(e.to_string());
            report.connect_failed = Some(e);
            report.transcript = lines.transcript;
            return report;
        }
    }
    if let Err(e) = drive(&mut lines, plan, tls, &mut report).await {
        match e.strip_prefix("timeout:") {
            Some(secs) if report.greeting.is_none() && report.tls_failure.is_none() => {
                report.silent_secs = secs.parse().ok();
            }
            _ => {}
        }
        let e = match e.strip_prefix("timeout:") {
            Some(secs) => format!("no answer within {secs} s"),
            None => e,
        };
        lines.note(Dir::Event, format!("stopped: {e}"));
        report.error = Some(e);
    }
    report.transcript = lines.transcript;
    report
}

async fn upgrade(lines: &mut Lines, plan: &MailboxPlan, tls: &TlsSettings, report: &mut MailboxReport) -> bool {
    let Some(io) = lines.io.take() else { return false };
    match handshake(io, &plan.server_name, true, plan.versions, tls).await {
        Ok((stream, outcome)) => {
            lines.note(
                Dir::Event,
                format!("TLS established: {} {}", outcome.version, outcome.cipher),
            );
            report.tls = Some(outcome);
            lines.io = Some(Box::new(stream));
            true
        }
        Err(f) => {
            lines.note(Dir::Event, format!("TLS failed: {f}"));
            report.tls_failure = Some(f);
            false
        }
    }
}

async fn drive(
    lines: &mut Lines,
    plan: &MailboxPlan,
    tls: &TlsSettings,
    report: &mut MailboxReport,
) -> Result<(), String> {
    if plan.security == Security::Implicit && !upgrade(lines, plan, tls, report).await {
        return Ok(());
    }
    let greeting = lines.line().await?;
    report.greeting_ok = match plan.protocol {
        Protocol::Imap => greeting.starts_with("* OK") || greeting.starts_with("* PREAUTH"),
        Protocol::Pop3 => greeting.starts_with("+OK"),
    };
    if !report.greeting_ok {
        report.other_protocol = other_protocol(&greeting, plan.protocol);
    }
    report.greeting = Some(greeting);
    if !report.greeting_ok {
        return Ok(());
    }
    if plan.security == Security::Starttls {
        let caps = lines.capabilities(plan.protocol).await?;
        report.caps_before_tls = Some(caps);
        if report.starttls_offered() != Some(true) {
            return Ok(());
        }
        let reply = match plan.protocol {
            Protocol::Imap => {
                lines.send("s1 STARTTLS").await?;
                let mut reply = lines.line().await?;
                for _ in 0..MAX_LINES {
                    if reply.starts_with("s1 ") {
                        break;
                    }
                    reply = lines.line().await?;
                }
                reply
            }
            Protocol::Pop3 => {
                lines.send("STLS").await?;
                lines.line().await?
            }
        };
        let ok = reply.starts_with("s1 OK") || reply.starts_with("+OK");
        report.starttls_reply = Some(reply);
        // RFC 3207-style injection guard: nothing sent before TLS may be read after it.
        lines.buf.clear();
        if !ok || !upgrade(lines, plan, tls, report).await {
            return Ok(());
        }
    }
    report.caps_after_tls = Some(lines.capabilities(plan.protocol).await?);
    let bye = match plan.protocol {
        Protocol::Imap => "c9 LOGOUT",
        Protocol::Pop3 => "QUIT",
    };
    let _ = lines.send(bye).await;
    Ok(())
}

/// What answered instead, from its first line.
fn other_protocol(line: &str, expected: Protocol) -> Option<String> {
    let peer = mxdoctor_proto::smtp::identify_peer(line.as_bytes());
    let name = match peer {
        mxdoctor_proto::smtp::Peer::Unknown if line.len() >= 4 && line[..3].bytes().all(|b| b.is_ascii_digit()) => {
            "SMTP"
        }
        p => p.name(),
    };
    (name != expected.name()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_other_protocols() {
        assert_eq!(Protocol::for_port(995), Some((Protocol::Pop3, Security::Implicit)));
        assert_eq!(Protocol::for_port(143), Some((Protocol::Imap, Security::Starttls)));
        assert_eq!(Protocol::for_port(587), None);
        assert_eq!(
            other_protocol("220 mail.example ESMTP", Protocol::Imap).as_deref(),
            Some("SMTP")
        );
        assert_eq!(other_protocol("+OK ready", Protocol::Imap).as_deref(), Some("POP3"));
        assert_eq!(other_protocol("* BYE go away", Protocol::Imap), None);
    }
}
