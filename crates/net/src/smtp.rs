//! A diagnostic SMTP client: it speaks just enough SMTP (RFC 5321, STARTTLS RFC 3207, AUTH
//! RFC 4954) to do what Gmail's "Send mail as" does, and keeps a transcript with timings.
//! Every read is bounded in length and time; secrets never enter the transcript.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use mxdoctor_proto::smtp::{
    EhloCaps, MAX_REPLY_LINE, MAX_REPLY_LINES, Peer, Reply, ReplyLine, identify_peer, parse_ehlo, parse_reply_line,
};

use crate::connect::{ConnectError, Connector};
use crate::tls::{TlsFailure, TlsOutcome, TlsSettings, VersionSet, handshake};

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
pub type BoxIo = Box<dyn Io>;

/// Who said a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dir {
    /// Server to client.
    #[serde(rename = "S")]
    Server,
    /// Client to server.
    #[serde(rename = "C")]
    Client,
    /// An event of the session (connected, TLS established, closed).
    #[serde(rename = "*")]
    Event,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// Milliseconds since the connection attempt started.
    pub ms: u64,
    pub dir: Dir,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain connection, then STARTTLS (Gmail's "TLS", port 587 or 25).
    Starttls,
    /// TLS from the first byte (Gmail's "SSL", port 465).
    Implicit,
}

impl Security {
    /// The label Gmail's dialog uses.
    pub fn gmail_label(self) -> &'static str {
        match self {
            Security::Starttls => "TLS",
            Security::Implicit => "SSL",
        }
    }

    /// What Gmail uses on a port when the user picks it.
    pub fn for_port(port: u16) -> Self {
        if port == 465 {
            Security::Implicit
        } else {
            Security::Starttls
        }
    }
}

/// Why a session stopped early.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SmtpError {
    #[error("{0}")]
    Connect(ConnectError),
    #[error("no reply within {secs} s while waiting for the {stage}")]
    Timeout { stage: String, secs: u64 },
    #[error("the server closed the connection while waiting for the {stage}")]
    Closed { stage: String },
    #[error("the server sent a line longer than {limit} bytes while waiting for the {stage}")]
    LineTooLong { stage: String, limit: usize },
    #[error("the server sent more than {limit} reply lines while waiting for the {stage}")]
    TooManyLines { stage: String, limit: usize },
    #[error("not an SMTP reply while waiting for the {stage}: {detail}")]
    NotSmtp { stage: String, detail: String },
    #[error("the server sent data after its STARTTLS reply, before TLS started (possible command injection)")]
    StarttlsInjection,
    /// The server sent more in one session than any SMTP dialogue needs.
    #[error("the server sent more than {limit} bytes in one session (at the {stage})")]
    SessionTooLarge { stage: String, limit: usize },
    /// Bytes kept coming, too slowly: the reply was not complete when its time was up.
    #[error("the {stage} was not complete within {secs} s (only {received} bytes arrived)")]
    SlowReply { stage: String, secs: u64, received: usize },
    #[error("I/O error during the {stage}: {detail}")]
    Io { stage: String, detail: String },
}

/// A line-oriented SMTP connection with a transcript.
pub struct SmtpConn {
    io: Option<BoxIo>,
    buf: Vec<u8>,
    pub transcript: Vec<TranscriptLine>,
    started: Instant,
    timeout: Duration,
    /// The first bytes of what could not be read as an SMTP reply, to tell what answered.
    unparsed: Option<Vec<u8>>,
    /// Bytes of the reply being read that have arrived so far (a trickle is not silence).
    received_in_reply: usize,
    /// Bytes read in this session (bounded by [`MAX_SESSION_BYTES`]).
    received_in_session: usize,
}

/// Bytes kept of a reply that is not SMTP: enough to recognise a protocol.
const UNPARSED_HEAD: usize = 64;

/// Bytes read from a server in one session: a session has a handful of replies (greeting,
/// EHLO twice, STARTTLS, AUTH, QUIT), each at most `MAX_REPLY_LINES` lines of
/// `MAX_REPLY_LINE` bytes; half a megabyte is several times what the longest real session
/// sends, and bounds a server that answers every command with a maximal reply.
pub const MAX_SESSION_BYTES: usize = 512 * 1024;

impl SmtpConn {
    pub fn new(io: BoxIo, started: Instant, timeout: Duration) -> Self {
        Self {
            io: Some(io),
            buf: Vec::new(),
            transcript: Vec::new(),
            started,
            timeout,
            unparsed: None,
            received_in_reply: 0,
            received_in_session: 0,
        }
    }

    /// What the server sent that was not an SMTP reply (first bytes), if anything.
    pub fn unparsed(&self) -> Option<&[u8]> {
        self.unparsed.as_deref()
    }

    pub fn note(&mut self, dir: Dir, text: impl Into<String>) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.transcript.push(TranscriptLine {
            ms,
            dir,
            text: text.into(),
        });
    }

    fn io(&mut self, stage: &str) -> Result<&mut BoxIo, SmtpError> {
        self.io.as_mut().ok_or_else(|| SmtpError::Closed {
            stage: stage.to_string(),
        })
    }

    /// Reads one line (without CRLF), bounded by MAX_REPLY_LINE and the reply's deadline.
    async fn read_line(&mut self, stage: &str, deadline: tokio::time::Instant) -> Result<Vec<u8>, SmtpError> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.len() > MAX_REPLY_LINE {
                    self.unparsed = Some(line.iter().take(UNPARSED_HEAD).copied().collect());
                    return Err(SmtpError::LineTooLong {
                        stage: stage.into(),
                        limit: MAX_REPLY_LINE,
                    });
                }
                return Ok(line);
            }
            if self.buf.len() > MAX_REPLY_LINE {
                self.unparsed = Some(self.buf.iter().take(UNPARSED_HEAD).copied().collect());
                return Err(SmtpError::LineTooLong {
                    stage: stage.into(),
                    limit: MAX_REPLY_LINE,
                });
            }
            let secs = self.timeout.as_secs();
            let mut chunk = [0u8; 4096];
            let io = self.io(stage)?;
            let n = match tokio::time::timeout_at(deadline, io.read(&mut chunk)).await {
                Err(_) if self.received_in_reply > 0 => {
                    return Err(SmtpError::SlowReply {
                        stage: stage.into(),
                        secs,
                        received: self.received_in_reply,
                    });
                }
                Err(_) => {
                    return Err(SmtpError::Timeout {
                        stage: stage.into(),
                        secs,
                    });
                }
                Ok(Err(e)) => return Err(io_error(stage, e)),
                Ok(Ok(0)) => {
                    return Err(SmtpError::Closed { stage: stage.into() });
                }
                Ok(Ok(n)) => n,
            };
            self.received_in_reply += n;
            self.received_in_session += n;
            if self.received_in_session > MAX_SESSION_BYTES {
                return Err(SmtpError::SessionTooLarge {
                    stage: stage.into(),
                    limit: MAX_SESSION_BYTES,
                });
            }
            self.buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
    }

    /// Reads a complete (possibly multi-line) reply, within one timeout for the whole reply:
    /// a server that sends a byte now and then cannot stretch it.
    pub async fn read_reply(&mut self, stage: &str) -> Result<Reply, SmtpError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        self.received_in_reply = self.buf.len();
        let mut lines: Vec<ReplyLine> = Vec::new();
        loop {
            let raw = self.read_line(stage, deadline).await?;
            let shown = String::from_utf8_lossy(&raw).into_owned();
            match parse_reply_line(&raw) {
                Ok(line) => {
                    self.note(Dir::Server, shown);
                    let last = line.last;
                    lines.push(line);
                    if last {
                        break;
                    }
                    if lines.len() >= MAX_REPLY_LINES {
                        return Err(SmtpError::TooManyLines {
                            stage: stage.into(),
                            limit: MAX_REPLY_LINES,
                        });
                    }
                }
                Err(e) => {
                    self.unparsed = Some(raw.iter().take(UNPARSED_HEAD).copied().collect());
                    self.note(Dir::Server, truncate(&shown, 200));
                    return Err(SmtpError::NotSmtp {
                        stage: stage.into(),
                        detail: e.to_string(),
                    });
                }
            }
        }
        Reply::from_lines(lines).map_err(|e| SmtpError::NotSmtp {
            stage: stage.into(),
            detail: e.to_string(),
        })
    }

    /// Sends a command line; `shown` replaces it in the transcript (for secrets).
    pub async fn send(&mut self, line: &str, shown: Option<&str>, stage: &str) -> Result<(), SmtpError> {
        self.note(Dir::Client, shown.unwrap_or(line).to_string());
        let secs = self.timeout.as_secs();
        let timeout = self.timeout;
        let io = self.io(stage)?;
        let mut data = line.as_bytes().to_vec();
        data.extend_from_slice(b"\r\n");
        match tokio::time::timeout(timeout, async {
            io.write_all(&data).await?;
            io.flush().await
        })
        .await
        {
            Err(_) => Err(SmtpError::Timeout {
                stage: stage.into(),
                secs,
            }),
            Ok(Err(e)) => Err(io_error(stage, e)),
            Ok(Ok(())) => Ok(()),
        }
    }

    pub async fn command(&mut self, line: &str, stage: &str) -> Result<Reply, SmtpError> {
        self.send(line, None, stage).await?;
        self.read_reply(stage).await
    }

    /// Hands the raw stream over (for the TLS upgrade). Fails if the server already sent bytes
    /// beyond its STARTTLS reply (RFC 3207 section 5 / CVE-2011-0411 class of bugs).
    pub fn take_io(&mut self) -> Result<BoxIo, SmtpError> {
        if !self.buf.is_empty() {
            return Err(SmtpError::StarttlsInjection);
        }
        self.io.take().ok_or(SmtpError::Closed {
            stage: "TLS upgrade".into(),
        })
    }

    pub fn put_io(&mut self, io: BoxIo) {
        self.io = Some(io);
    }

    pub async fn quit(&mut self) {
        if self.send("QUIT", None, "QUIT").await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(2), self.read_reply("QUIT reply")).await;
        }
        if let Some(mut io) = self.io.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), io.shutdown()).await;
        }
        self.note(Dir::Event, "closed");
    }
}

fn io_error(stage: &str, e: std::io::Error) -> SmtpError {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::ConnectionAborted
        | std::io::ErrorKind::BrokenPipe => SmtpError::Closed { stage: stage.into() },
        _ => SmtpError::Io {
            stage: stage.into(),
            detail: e.to_string(),
        },
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// What came where an SMTP greeting (220) or EHLO reply (250) was expected, when it was not
/// SMTP at all. Told apart so the report can name it (the IMAPS port given as SMTP, say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum NotSmtp {
    /// Another protocol answered: its name and first bytes (lossy text).
    Other { peer: Peer, head: String },
    /// Connected, and nothing came within the timeout.
    Silence { secs: u64 },
    /// The server closed the connection before greeting.
    Closed,
}

/// Credentials for the AUTH step. The password is never printed or stored.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// One submission session as Gmail would run it.
#[derive(Debug, Clone)]
pub struct SessionPlan {
    /// The world address dialled.
    pub addr: SocketAddr,
    /// The name typed by the user: SNI (when sent) and the name the certificate is checked for.
    pub server_name: String,
    pub security: Security,
    pub send_sni: bool,
    /// Our EHLO name.
    pub ehlo_name: String,
    pub credentials: Option<Credentials>,
    pub versions: VersionSet,
    /// Stop after the TLS handshake (used for SNI and version probes).
    pub stop_after_tls: bool,
    /// Ask, without authenticating, whether the server would relay to an outside address:
    /// MAIL FROM and RCPT TO, then RSET; never DATA (`--relay-test`).
    pub relay_probe: Option<RelayProbe>,
}

/// The envelope of an open-relay probe: neither address belongs to the server's domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayProbe {
    pub mail_from: String,
    pub rcpt_to: String,
}

/// What the server said to the relay probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayResult {
    pub rcpt_to: String,
    /// The reply to MAIL FROM.
    pub mail_reply: String,
    /// The reply to RCPT TO (None when MAIL FROM was refused).
    pub rcpt_reply: Option<String>,
    /// RCPT TO got 250 or 251: the server would take mail for anyone, from anyone.
    pub accepted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthResult {
    pub mechanism: String,
    pub user: String,
    pub accepted: bool,
    /// The server's final reply, e.g. `535 5.7.8 Authentication credentials invalid`.
    pub reply: String,
}

/// What one session saw.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionReport {
    pub addr: SocketAddr,
    pub server_name: String,
    pub security: Security,
    pub transcript: Vec<TranscriptLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    /// The greeting's reply code (220 for a server that accepts the session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner_code: Option<u16>,
    /// The reply to EHLO when it was not 250.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ehlo_refused: Option<String>,
    /// Not an SMTP server: what answered instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_smtp: Option<NotSmtp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ehlo_before_tls: Option<EhloCaps>,
    /// The reply to STARTTLS (None when not sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starttls_reply: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starttls_accepted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_failure: Option<TlsFailure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ehlo_after_tls: Option<EhloCaps>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<RelayResult>,
    /// Why the session stopped early, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<SmtpError>,
}

impl SessionReport {
    /// Greeting 220, EHLO 250, STARTTLS where used and EHLO 250 again: a whole SMTP session up
    /// to where Gmail would authenticate. TLS alone proves nothing about SMTP.
    pub fn full_smtp(&self) -> bool {
        self.banner_code == Some(220) && self.ehlo_after_tls.is_some() && self.not_smtp.is_none()
    }

    fn new(plan: &SessionPlan) -> Self {
        Self {
            addr: plan.addr,
            server_name: plan.server_name.clone(),
            security: plan.security,
            transcript: Vec::new(),
            banner: None,
            banner_code: None,
            ehlo_refused: None,
            not_smtp: None,
            ehlo_before_tls: None,
            starttls_reply: None,
            starttls_accepted: None,
            tls: None,
            tls_failure: None,
            ehlo_after_tls: None,
            auth: None,
            relay: None,
            error: None,
        }
    }
}

/// Runs the session; never fails as a whole: what went wrong is in the report.
pub async fn run_session(
    connector: &Connector,
    plan: &SessionPlan,
    tls: &TlsSettings,
    timeout: Duration,
) -> SessionReport {
    let mut report = SessionReport::new(plan);
    let started = Instant::now();
    let stream = match connector.connect(plan.addr, timeout).await {
        Ok(s) => s,
        Err(e) => {
            report.transcript.push(TranscriptLine {
                ms: started.elapsed().as_millis() as u64,
                dir: Dir::Event,
                text: format!("connect {} failed: {e}", plan.addr),
            });
            report.error = Some(SmtpError::Connect(e));
            return report;
        }
    };
    let mut conn = SmtpConn::new(Box::new(stream), started, timeout);
    conn.note(Dir::Event, format!("connected to {}", plan.addr));
    let result = drive(&mut conn, plan, tls, &mut report).await;
    if let Err(e) = result {
        conn.note(Dir::Event, format!("stopped: {e}"));
        report.not_smtp = not_smtp(&e, &conn, &report);
        report.error = Some(e);
        // Best effort: leave politely if the stream is still usable.
        if conn.io.is_some() && !matches!(report.error, Some(SmtpError::Timeout { .. })) {
            conn.quit().await;
        }
    } else {
        conn.quit().await;
    }
    report.transcript = std::mem::take(&mut conn.transcript);
    report
}

/// Whether an error before the first EHLO capabilities means the peer is not an SMTP server.
fn not_smtp(e: &SmtpError, conn: &SmtpConn, report: &SessionReport) -> Option<NotSmtp> {
    let before_ehlo = report.ehlo_before_tls.is_none() && report.ehlo_after_tls.is_none();
    if !before_ehlo {
        return None;
    }
    let greeted = report.banner.is_some();
    match e {
        // A reply code, then a line that never ends: an SMTP server, broken (a finding of its
        // own), not another protocol.
        SmtpError::LineTooLong { .. } if conn.unparsed().is_some_and(starts_like_a_reply) => None,
        SmtpError::NotSmtp { .. } | SmtpError::LineTooLong { .. } => {
            let head = conn.unparsed().unwrap_or_default();
            Some(NotSmtp::Other {
                peer: identify_peer(head),
                head: String::from_utf8_lossy(head)
                    .chars()
                    .filter(|c| !c.is_control())
                    .collect(),
            })
        }
        SmtpError::Timeout { secs, .. } if !greeted => Some(NotSmtp::Silence { secs: *secs }),
        SmtpError::Closed { .. } if !greeted => Some(NotSmtp::Closed),
        _ => None,
    }
}

/// `220 ` or `250-`: three digits and a separator, as every SMTP reply line begins.
fn starts_like_a_reply(head: &[u8]) -> bool {
    matches!(head, [a, b, c, b' ' | b'-', ..] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit())
}

async fn upgrade(
    conn: &mut SmtpConn,
    plan: &SessionPlan,
    tls: &TlsSettings,
    report: &mut SessionReport,
) -> Result<bool, SmtpError> {
    let io = conn.take_io()?;
    match handshake(io, &plan.server_name, plan.send_sni, plan.versions, tls).await {
        Ok((stream, outcome)) => {
            conn.note(
                Dir::Event,
                format!(
                    "TLS established: {} {} (SNI {})",
                    outcome.version,
                    outcome.cipher,
                    outcome.sni.as_deref().unwrap_or("not sent")
                ),
            );
            report.tls = Some(outcome);
            conn.put_io(Box::new(stream));
            Ok(true)
        }
        Err(f) => {
            conn.note(Dir::Event, format!("TLS failed: {f}"));
            report.tls_failure = Some(f);
            Ok(false)
        }
    }
}

/// MAIL FROM and RCPT TO to outside addresses without AUTH, then RSET. No DATA is ever sent, so
/// nothing is delivered even where the server is an open relay.
async fn relay(conn: &mut SmtpConn, probe: &RelayProbe) -> Result<RelayResult, SmtpError> {
    let mail = conn
        .command(&format!("MAIL FROM:<{}>", probe.mail_from), "MAIL FROM reply")
        .await?;
    let mut result = RelayResult {
        rcpt_to: probe.rcpt_to.clone(),
        mail_reply: format!("{} {}", mail.code, mail.text()),
        rcpt_reply: None,
        accepted: false,
    };
    if mail.code == 250 {
        let rcpt = conn
            .command(&format!("RCPT TO:<{}>", probe.rcpt_to), "RCPT TO reply")
            .await?;
        result.rcpt_reply = Some(format!("{} {}", rcpt.code, rcpt.text()));
        result.accepted = matches!(rcpt.code, 250 | 251);
    }
    conn.command("RSET", "RSET reply").await?;
    Ok(result)
}

async fn drive(
    conn: &mut SmtpConn,
    plan: &SessionPlan,
    tls: &TlsSettings,
    report: &mut SessionReport,
) -> Result<(), SmtpError> {
    if plan.security == Security::Implicit && !upgrade(conn, plan, tls, report).await? {
        return Ok(());
    }
    let banner = conn.read_reply("banner").await?;
    report.banner = Some(banner.text());
    report.banner_code = Some(banner.code);
    if banner.code != 220 {
        return Ok(());
    }
    let ehlo = conn.command(&format!("EHLO {}", plan.ehlo_name), "EHLO reply").await?;
    if ehlo.code != 250 {
        report.ehlo_refused = Some(format!("{} {}", ehlo.code, ehlo.text()));
        return Ok(());
    }
    let caps = parse_ehlo(&ehlo);
    let starttls_offered = caps.starttls;
    if plan.security == Security::Implicit {
        report.ehlo_after_tls = Some(caps);
    } else {
        report.ehlo_before_tls = Some(caps);
        if !starttls_offered {
            if let Some(probe) = plan.relay_probe.as_ref().filter(|_| !plan.stop_after_tls) {
                report.relay = Some(relay(conn, probe).await?);
            }
            return Ok(());
        }
        let reply = conn.command("STARTTLS", "STARTTLS reply").await?;
        report.starttls_reply = Some(format!("{} {}", reply.code, reply.text()));
        report.starttls_accepted = Some(reply.code == 220);
        if reply.code != 220 {
            return Ok(());
        }
        if !upgrade(conn, plan, tls, report).await? {
            return Ok(());
        }
        if plan.stop_after_tls {
            return Ok(());
        }
        let ehlo = conn
            .command(&format!("EHLO {}", plan.ehlo_name), "EHLO reply after TLS")
            .await?;
        if ehlo.code != 250 {
            report.ehlo_refused = Some(format!("{} {}", ehlo.code, ehlo.text()));
            return Ok(());
        }
        report.ehlo_after_tls = Some(parse_ehlo(&ehlo));
    }
    if plan.stop_after_tls {
        return Ok(());
    }
    if let Some(probe) = &plan.relay_probe {
        report.relay = Some(relay(conn, probe).await?);
        return Ok(());
    }
    if let (Some(creds), Some(caps)) = (&plan.credentials, &report.ehlo_after_tls) {
        let mechs: Vec<String> = caps.auth.iter().map(|m| m.to_ascii_uppercase()).collect();
        if mechs.iter().any(|m| m == "PLAIN") {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("\0{}\0{}", creds.user, creds.password));
            conn.send(
                &format!("AUTH PLAIN {token}"),
                Some("AUTH PLAIN <credentials hidden>"),
                "AUTH reply",
            )
            .await?;
            let reply = conn.read_reply("AUTH reply").await?;
            report.auth = Some(AuthResult {
                mechanism: "PLAIN".into(),
                user: creds.user.clone(),
                accepted: reply.code == 235,
                reply: format!("{} {}", reply.code, reply.text()),
            });
        } else if mechs.iter().any(|m| m == "LOGIN") {
            let b64 = base64::engine::general_purpose::STANDARD;
            let r = conn.command("AUTH LOGIN", "AUTH LOGIN reply").await?;
            let mut last = r;
            if last.code == 334 {
                conn.send(&b64.encode(&creds.user), Some("<user name>"), "AUTH LOGIN user")
                    .await?;
                last = conn.read_reply("AUTH LOGIN user reply").await?;
                if last.code == 334 {
                    conn.send(
                        &b64.encode(&creds.password),
                        Some("<password hidden>"),
                        "AUTH LOGIN password",
                    )
                    .await?;
                    last = conn.read_reply("AUTH reply").await?;
                }
            }
            report.auth = Some(AuthResult {
                mechanism: "LOGIN".into(),
                user: creds.user.clone(),
                accepted: last.code == 235,
                reply: format!("{} {}", last.code, last.text()),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// A reply of `lines` lines of `width` bytes each, the last one final.
    fn big_reply(lines: usize, width: usize) -> Vec<u8> {
        let text = "x".repeat(width);
        (0..lines)
            .map(|i| format!("250{}{text}\r\n", if i + 1 == lines { ' ' } else { '-' }))
            .collect::<String>()
            .into_bytes()
    }

    /// Every reply within its own limits, yet the session as a whole past its bound.
    #[tokio::test]
    async fn a_session_of_maximal_replies_stops_at_the_session_limit() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let reply = big_reply(MAX_REPLY_LINES - 1, MAX_REPLY_LINE - 8);
        let replies = MAX_SESSION_BYTES / reply.len() + 2;
        tokio::spawn(async move {
            for _ in 0..replies {
                if server.write_all(&reply).await.is_err() {
                    return;
                }
            }
        });
        let mut conn = SmtpConn::new(Box::new(client), Instant::now(), Duration::from_secs(5));
        let mut read = 0;
        let err = loop {
            match conn.read_reply("EHLO reply").await {
                Ok(_) => read += 1,
                Err(e) => break e,
            }
        };
        assert!(read >= 2, "{read} replies read before the limit");
        assert!(
            matches!(
                err,
                SmtpError::SessionTooLarge {
                    limit: MAX_SESSION_BYTES,
                    ..
                }
            ),
            "{err}"
        );
    }
}
