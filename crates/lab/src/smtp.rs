//! The lab's mail servers: real SMTP (RFC 5321) with STARTTLS (RFC 3207), implicit TLS, AUTH
//! PLAIN/LOGIN (RFC 4954), certificates chosen by SNI, restricted TLS versions, a canned
//! TLS 1.0/1.1 server for the legacy case, and the misbehaviours a diagnosis must survive.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use mxdoctor_proto::tls_hello::{TlsVersion, alert_record, parse_client_hello, server_hello};

use crate::world::{Behaviour, ListenerSpec, SessionMisbehaviour, TlsMisbehaviour, TlsMode};

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
type BoxIo = Box<dyn Io>;

/// RFC 5321 section 4.5.3.1.4: 1000 octets including CRLF.
const MAX_LINE: usize = 1000;
const MAX_MESSAGE: usize = 10 * 1024 * 1024;
const IDLE: Duration = Duration::from_secs(60);

/// Chooses the certificate by SNI, falling back to the default one.
#[derive(Debug)]
pub struct SniResolver {
    pub default: Option<Arc<CertifiedKey>>,
    pub by_name: BTreeMap<String, Arc<CertifiedKey>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        hello
            .server_name()
            .and_then(|n| self.by_name.get(&n.to_ascii_lowercase()))
            .cloned()
            .or_else(|| self.default.clone())
    }
}

/// How TLS is done on one listener.
#[derive(Clone)]
pub enum TlsSide {
    None,
    Rustls(TlsAcceptor),
    /// Canned legacy server: the versions (below 1.2) it speaks.
    Legacy(Vec<TlsVersion>),
    /// Both: a legacy ClientHello gets the canned answer, anything newer goes to rustls.
    Mixed(TlsAcceptor, Vec<TlsVersion>),
}

/// A message the lab MX accepted, as it would hand it to the mailbox: Return-Path and Received
/// prepended.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub mail_from: String,
    pub recipients: Vec<String>,
    pub message: Vec<u8>,
}

/// What every MX listener of a lab delivers into.
pub type Mailbox = Arc<std::sync::Mutex<Vec<Delivered>>>;

/// At most this many messages are kept (a lab is for tests and demos).
const MAX_MAILBOX: usize = 1000;

/// Everything one listener needs to serve a connection.
#[derive(Clone)]
pub struct ListenerConfig {
    pub hostname: String,
    pub banner: String,
    /// Refuse every session at the greeting with this text (`ServerSpec::refuse`).
    pub refuse: Option<String>,
    pub behaviour: Behaviour,
    pub spec: ListenerSpec,
    pub tls: TlsSide,
    pub mailbox: Mailbox,
    /// Held before every reply (`LabOptions::latency`, or the server's `latency_ms`).
    pub latency: std::time::Duration,
}

/// Accepts connections until the returned task is aborted (connection tasks go with it),
/// serving each with `serve`. Every lab listener (SMTP, the AIA publication point) runs so.
pub fn accept_loop<F, Fut>(listener: TcpListener, serve: F) -> tokio::task::JoinHandle<()>
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve(stream));
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    })
}

/// An SMTP listener of the world.
pub fn spawn(listener: TcpListener, cfg: Arc<ListenerConfig>) -> tokio::task::JoinHandle<()> {
    accept_loop(listener, move |stream| serve(stream, cfg.clone()))
}

async fn serve(stream: TcpStream, cfg: Arc<ListenerConfig>) {
    match cfg.behaviour {
        Behaviour::Silent => {
            // Hold the connection open and say nothing, as a hung server does.
            let mut stream = stream;
            let mut sink = [0u8; 1024];
            while let Ok(Ok(n)) = tokio::time::timeout(IDLE, stream.read(&mut sink)).await {
                if n == 0 {
                    break;
                }
            }
        }
        Behaviour::Garbage => {
            let mut stream = stream;
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n")
                .await;
            let _ = stream.shutdown().await;
        }
        Behaviour::LongLine => {
            let mut stream = stream;
            let _ = stream.write_all(&vec![b'A'; 100 * 1024]).await;
            tokio::time::sleep(IDLE).await;
        }
        Behaviour::Closed => {}
        Behaviour::SlowBanner => slow_banner(stream, &cfg.banner).await,
        Behaviour::EndlessLine => endless_line(stream).await,
        Behaviour::HugeReply => huge_reply(stream, &cfg.hostname).await,
        Behaviour::Smtp | Behaviour::Pop3 | Behaviour::Imap => {
            let _ = Session::new(stream, cfg).run().await;
        }
    }
}

/// A greeting one byte a second: each read finds a byte, yet the reply takes a minute.
async fn slow_banner(mut stream: TcpStream, banner: &str) {
    for b in format!("220 {banner}\r\n").bytes() {
        if stream.write_all(&[b]).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tokio::time::sleep(IDLE).await;
}

/// The most a lab server writes of an endless line (a client must stop long before).
const ENDLESS_CAP: usize = 1 << 30;
/// The size of the huge multi-line reply.
const HUGE_REPLY: usize = 100 * 1024 * 1024;

/// `220 ` and then bytes without a line end, until the client leaves (or a gigabyte).
async fn endless_line(mut stream: TcpStream) {
    let chunk = vec![b'x'; 64 * 1024];
    if stream.write_all(b"220 ").await.is_err() {
        return;
    }
    let mut sent = 0;
    while sent < ENDLESS_CAP {
        match tokio::time::timeout(IDLE, stream.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            _ => return,
        }
    }
}

/// A 100 MiB greeting of `220-` lines, then its last line: a reply with no useful end.
async fn huge_reply(mut stream: TcpStream, hostname: &str) {
    let line = format!("220-{hostname} {}\r\n", "x".repeat(60));
    let block = line.repeat(1024);
    let mut sent = 0;
    while sent < HUGE_REPLY {
        match tokio::time::timeout(IDLE, stream.write_all(block.as_bytes())).await {
            Ok(Ok(())) => sent += block.len(),
            _ => return,
        }
    }
    let _ = stream.write_all(format!("220 {hostname} ESMTP\r\n").as_bytes()).await;
    tokio::time::sleep(IDLE).await;
}

struct Session {
    io: Option<BoxIo>,
    raw: Option<TcpStream>,
    buf: Vec<u8>,
    cfg: Arc<ListenerConfig>,
    tls: bool,
    /// The negotiated TLS version, for the Received field.
    tls_version: Option<String>,
    ehlo: Option<String>,
    /// XCLIENT ADDR= and NAME=: who the client is in the world.
    client_addr: Option<String>,
    client_name: Option<String>,
    mail_from: Option<String>,
    rcpts: Vec<String>,
    /// AUTH succeeded: the client may relay.
    authed: bool,
}

type R<T> = Result<T, ()>;

impl Session {
    fn new(stream: TcpStream, cfg: Arc<ListenerConfig>) -> Self {
        Self {
            io: None,
            raw: Some(stream),
            buf: Vec::new(),
            cfg,
            tls: false,
            tls_version: None,
            ehlo: None,
            client_addr: None,
            client_name: None,
            mail_from: None,
            rcpts: Vec::new(),
            authed: false,
        }
    }

    /// Whether this server is the destination for `to`: a domain it lists, a recipient it
    /// lists, or, for an MX listener that lists neither, anything (the lab's catch-all MX).
    fn is_local(&self, to: &str) -> bool {
        let spec = &self.cfg.spec;
        let domain = to.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        spec.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
            || spec
                .recipients
                .iter()
                .any(|r| r.rsplit_once('@').is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain)))
            || (spec.mx && spec.domains.is_empty() && spec.recipients.is_empty())
    }

    fn io(&mut self) -> R<&mut BoxIo> {
        if self.io.is_none() {
            let raw = self.raw.take().ok_or(())?;
            self.io = Some(Box::new(raw));
        }
        self.io.as_mut().ok_or(())
    }

    async fn write(&mut self, text: &str) -> R<()> {
        if !self.cfg.latency.is_zero() {
            tokio::time::sleep(self.cfg.latency).await;
        }
        let io = self.io()?;
        io.write_all(text.as_bytes()).await.map_err(|_| ())?;
        io.flush().await.map_err(|_| ())
    }

    /// One command line; over-long lines are answered and skipped.
    async fn line(&mut self) -> R<Option<String>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let mut l: Vec<u8> = self.buf.drain(..=pos).collect();
                l.pop();
                if l.last() == Some(&b'\r') {
                    l.pop();
                }
                if l.len() + 2 > MAX_LINE {
                    self.write("500 5.5.6 Line too long\r\n").await?;
                    continue;
                }
                return Ok(Some(String::from_utf8_lossy(&l).into_owned()));
            }
            if self.buf.len() > MAX_LINE * 4 {
                self.write("500 5.5.6 Line too long\r\n").await?;
                return Err(());
            }
            let mut chunk = [0u8; 4096];
            let io = self.io()?;
            let n = match tokio::time::timeout(IDLE, io.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return Ok(None),
                Err(_) => {
                    let _ = self.write("421 4.4.2 Idle timeout\r\n").await;
                    return Ok(None);
                }
                Ok(Ok(n)) => n,
            };
            self.buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
    }

    fn auth_mechs(&self) -> &[String] {
        if self.tls {
            &self.cfg.spec.auth_after_tls
        } else {
            &self.cfg.spec.auth_before_tls
        }
    }

    async fn run(mut self) -> R<()> {
        if self.cfg.spec.tls == TlsMode::Implicit && !self.start_tls().await? {
            return Ok(());
        }
        match self.cfg.behaviour {
            Behaviour::Pop3 => return self.pop3().await,
            Behaviour::Imap => return self.imap().await,
            _ => {}
        }
        if let Some(text) = &self.cfg.refuse {
            let r = format!("554 5.7.1 {text}\r\n");
            return self.write(&r).await;
        }
        let banner = format!("220 {}\r\n", self.cfg.banner);
        self.write(&banner).await?;
        while let Some(line) = self.line().await? {
            let (verb, arg) = match line.split_once(' ') {
                Some((v, a)) => (v.to_ascii_uppercase(), a.trim().to_string()),
                None => (line.trim().to_ascii_uppercase(), String::new()),
            };
            match verb.as_str() {
                "EHLO" => {
                    let mut lines = vec![
                        format!("{} Hello {arg}", self.cfg.hostname),
                        "PIPELINING".into(),
                        "SIZE 10485760".into(),
                        "8BITMIME".into(),
                        "ENHANCEDSTATUSCODES".into(),
                    ];
                    if self.cfg.spec.tls == TlsMode::Starttls && !self.tls {
                        lines.push("STARTTLS".into());
                    }
                    if !self.auth_mechs().is_empty() {
                        lines.push(format!("AUTH {}", self.auth_mechs().join(" ")));
                    }
                    if self.cfg.spec.mx {
                        lines.push("XCLIENT ADDR NAME HELO".into());
                    }
                    lines.extend((0..self.cfg.spec.ehlo_extensions).map(|i| format!("X-LAB-EXTENSION-{i}")));
                    self.ehlo = Some(arg.clone());
                    let n = lines.len();
                    let mut out = String::new();
                    for (i, l) in lines.iter().enumerate() {
                        out.push_str(&format!("250{}{l}\r\n", if i + 1 == n { ' ' } else { '-' }));
                    }
                    self.write(&out).await?;
                }
                "HELO" => {
                    let r = format!("250 {}\r\n", self.cfg.hostname);
                    self.write(&r).await?
                }
                "STARTTLS" => {
                    if self.cfg.spec.tls != TlsMode::Starttls {
                        self.write("502 5.5.1 STARTTLS not supported\r\n").await?;
                    } else if self.tls {
                        self.write("503 5.5.1 TLS already active\r\n").await?;
                    } else if self.cfg.spec.starttls_fails {
                        self.write("454 4.7.0 TLS not available due to local problem\r\n")
                            .await?;
                    } else if self.cfg.spec.misbehaviour == Some(SessionMisbehaviour::StarttlsPlaintext) {
                        // "Go ahead", and then no TLS: the ClientHello is read as a command
                        // and answered in plain text.
                        self.write("220 2.0.0 Ready to start TLS\r\n").await?;
                        let mut hello = [0u8; 4096];
                        let io = self.io()?;
                        let _ = tokio::time::timeout(IDLE, io.read(&mut hello)).await;
                        self.write("500 5.5.2 Error: command not recognized\r\n").await?;
                    } else {
                        let ready = match self.cfg.spec.misbehaviour {
                            // Replies the client never asked for, in plain text before TLS.
                            Some(SessionMisbehaviour::StarttlsInjection) => {
                                "220 2.0.0 Ready to start TLS\r\n250-injected\r\n250 AUTH PLAIN LOGIN\r\n"
                            }
                            _ => "220 2.0.0 Ready to start TLS\r\n",
                        };
                        self.write(ready).await?;
                        if !self.buf.is_empty() {
                            // RFC 3207 section 5: discard anything pipelined before TLS.
                            self.buf.clear();
                        }
                        if !self.start_tls().await? {
                            return Ok(());
                        }
                    }
                }
                "AUTH" if self.cfg.spec.misbehaviour == Some(SessionMisbehaviour::AuthSilent) => {
                    tokio::time::sleep(IDLE).await;
                    return Ok(());
                }
                "AUTH" => self.auth(&arg).await?,
                "XCLIENT" if self.cfg.spec.mx => {
                    // Postfix XCLIENT: attributes, then a fresh session (banner again).
                    for attr in arg.split_whitespace() {
                        match attr.split_once('=') {
                            Some((k, v)) if k.eq_ignore_ascii_case("ADDR") => {
                                self.client_addr = Some(v.trim_start_matches("IPV6:").to_string())
                            }
                            Some((k, v)) if k.eq_ignore_ascii_case("NAME") => self.client_name = Some(v.to_string()),
                            Some((k, v)) if k.eq_ignore_ascii_case("HELO") => self.ehlo = Some(v.to_string()),
                            _ => {}
                        }
                    }
                    self.mail_from = None;
                    self.rcpts.clear();
                    let banner = format!("220 {}\r\n", self.cfg.banner);
                    self.write(&banner).await?;
                }
                "MAIL" => {
                    let from = angle_arg(&arg, "FROM:");
                    self.mail_from = Some(from);
                    self.rcpts.clear();
                    self.write("250 2.1.0 Ok\r\n").await?
                }
                "RCPT" => {
                    let to = angle_arg(&arg, "TO:");
                    let known = &self.cfg.spec.recipients;
                    if !self.authed && !self.cfg.spec.open_relay && !self.is_local(&to) {
                        // What Postfix's reject_unauth_destination says.
                        let r = format!("554 5.7.1 <{to}>: Relay access denied\r\n");
                        self.write(&r).await?;
                    } else if self.cfg.spec.mx
                        && !known.is_empty()
                        && !known.iter().any(|k| k.eq_ignore_ascii_case(&to))
                    {
                        let r = format!(
                            "550 5.1.1 <{to}>: Recipient address rejected: User unknown in virtual mailbox table\r\n"
                        );
                        self.write(&r).await?;
                    } else {
                        if self.rcpts.len() < 100 {
                            self.rcpts.push(to);
                        }
                        self.write("250 2.1.5 Ok\r\n").await?
                    }
                }
                "DATA" => {
                    if self.cfg.spec.mx && (self.mail_from.is_none() || self.rcpts.is_empty()) {
                        self.write("554 5.5.1 Error: no valid recipients\r\n").await?;
                        continue;
                    }
                    self.write("354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                    let mut size = 0usize;
                    let mut body: Vec<u8> = Vec::new();
                    loop {
                        let Some(l) = self.line().await? else {
                            return Ok(());
                        };
                        if l == "." {
                            break;
                        }
                        size += l.len() + 2;
                        if size > MAX_MESSAGE {
                            self.write("552 5.3.4 Message too big\r\n").await?;
                            return Ok(());
                        }
                        if self.cfg.spec.mx {
                            // RFC 5321 section 4.5.2: remove the dot-stuffing.
                            body.extend_from_slice(l.strip_prefix('.').unwrap_or(&l).as_bytes());
                            body.extend_from_slice(b"\r\n");
                        }
                    }
                    if self.cfg.spec.mx {
                        self.deliver(body);
                    }
                    self.write("250 2.0.0 Ok: queued\r\n").await?;
                }
                "RSET" | "NOOP" => self.write("250 2.0.0 Ok\r\n").await?,
                "QUIT" => {
                    self.write("221 2.0.0 Bye\r\n").await?;
                    if let Ok(io) = self.io() {
                        let _ = io.shutdown().await;
                    }
                    return Ok(());
                }
                _ => self.write("502 5.5.2 Command not recognized\r\n").await?,
            }
        }
        Ok(())
    }

    /// A POP3 server (RFC 1939) with CAPA (RFC 2449) and STLS (RFC 2595 section 4): enough
    /// of a dialogue for a client to see its capabilities and its certificate.
    async fn pop3(&mut self) -> R<()> {
        if let Some(text) = &self.cfg.refuse {
            let r = format!("-ERR {text}\r\n");
            return self.write(&r).await;
        }
        let greeting = format!("+OK {} ready.\r\n", self.cfg.hostname);
        self.write(&greeting).await?;
        while let Some(line) = self.line().await? {
            let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
            match verb.as_str() {
                "CAPA" => {
                    let mut caps = String::from("+OK Capability list follows\r\nTOP\r\nUIDL\r\n");
                    if self.cfg.spec.tls == TlsMode::Starttls && !self.tls {
                        caps.push_str("STLS\r\n");
                    } else {
                        caps.push_str("USER\r\nSASL PLAIN\r\n");
                    }
                    caps.push_str(".\r\n");
                    self.write(&caps).await?;
                }
                "STLS" if self.cfg.spec.starttls_fails => {
                    self.write("-ERR TLS not available due to local problem\r\n").await?;
                }
                "STLS" if self.cfg.spec.tls == TlsMode::Starttls && !self.tls => {
                    self.write("+OK Begin TLS negotiation\r\n").await?;
                    self.buf.clear();
                    if !self.start_tls().await? {
                        return Ok(());
                    }
                }
                "QUIT" => {
                    self.write("+OK Logging out.\r\n").await?;
                    return Ok(());
                }
                _ => self.write("-ERR Unknown command.\r\n").await?,
            }
        }
        Ok(())
    }

    /// An IMAP server (RFC 9051) with CAPABILITY, STARTTLS (section 6.2.1) and LOGOUT; login is
    /// disabled until TLS, as Dovecot does by default.
    async fn imap(&mut self) -> R<()> {
        if let Some(text) = &self.cfg.refuse {
            let r = format!("* BYE {text}\r\n");
            return self.write(&r).await;
        }
        let greeting = format!(
            "* OK [CAPABILITY {}] {} ready.\r\n",
            self.imap_caps(),
            self.cfg.hostname
        );
        self.write(&greeting).await?;
        while let Some(line) = self.line().await? {
            let mut words = line.split_whitespace();
            let tag = words.next().unwrap_or("*").to_string();
            let verb = words.next().unwrap_or_default().to_ascii_uppercase();
            match verb.as_str() {
                "CAPABILITY" => {
                    let r = format!(
                        "* CAPABILITY {}\r\n{tag} OK Capability completed.\r\n",
                        self.imap_caps()
                    );
                    self.write(&r).await?;
                }
                "STARTTLS" if self.cfg.spec.starttls_fails => {
                    let r = format!("{tag} NO [UNAVAILABLE] TLS not available.\r\n");
                    self.write(&r).await?;
                }
                "STARTTLS" if self.cfg.spec.tls == TlsMode::Starttls && !self.tls => {
                    let r = format!("{tag} OK Begin TLS negotiation now.\r\n");
                    self.write(&r).await?;
                    self.buf.clear();
                    if !self.start_tls().await? {
                        return Ok(());
                    }
                }
                "LOGOUT" => {
                    let r = format!("* BYE Logging out\r\n{tag} OK Logout completed.\r\n");
                    self.write(&r).await?;
                    return Ok(());
                }
                _ => {
                    let r = format!("{tag} BAD Error in IMAP command.\r\n");
                    self.write(&r).await?;
                }
            }
        }
        Ok(())
    }

    fn imap_caps(&self) -> &'static str {
        if self.cfg.spec.tls == TlsMode::Starttls && !self.tls {
            "IMAP4rev1 STARTTLS LOGINDISABLED"
        } else {
            "IMAP4rev1 AUTH=PLAIN"
        }
    }

    /// Prepends what this MX writes (Return-Path, Received as Postfix words it) and keeps the
    /// message in the lab's mailbox.
    fn deliver(&mut self, body: Vec<u8>) {
        let helo = self.ehlo.clone().unwrap_or_else(|| "unknown".into());
        let addr = self.client_addr.clone().unwrap_or_else(|| "127.0.0.1".into());
        let addr = if addr.contains(':') {
            format!("IPv6:{addr}")
        } else {
            addr
        };
        let name = self.client_name.clone().unwrap_or_else(|| "unknown".into());
        let date = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap_or_default();
        let mail_from = self.mail_from.clone().unwrap_or_default();
        let client = crate::mta::Client {
            helo: &helo,
            rdns: &name,
            addr: &addr,
        };
        let mut message = crate::mta::trace_fields(
            Some(&mail_from),
            &client,
            &self.cfg.hostname,
            self.tls_version.as_deref().filter(|_| self.tls),
            &date,
            "4LabMx",
        )
        .into_bytes();
        message.extend_from_slice(&body);
        if let Ok(mut mb) = self.cfg.mailbox.lock()
            && mb.len() < MAX_MAILBOX
        {
            mb.push(Delivered {
                mail_from,
                recipients: std::mem::take(&mut self.rcpts),
                message,
            });
        }
    }

    async fn auth(&mut self, arg: &str) -> R<()> {
        let mut parts = arg.split_whitespace();
        let mech = parts.next().unwrap_or_default().to_ascii_uppercase();
        let initial = parts.next().map(str::to_string);
        if !self.auth_mechs().iter().any(|m| m.eq_ignore_ascii_case(&mech)) {
            let reply = if !self.tls && !self.cfg.spec.auth_after_tls.is_empty() {
                "538 5.7.11 Encryption required for requested authentication mechanism\r\n"
            } else {
                "504 5.5.4 Unrecognized authentication type\r\n"
            };
            return self.write(reply).await;
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        let decode = |s: &str| {
            b64.decode(s.trim())
                .ok()
                .map(|v| String::from_utf8_lossy(&v).into_owned())
        };
        let (user, password) = match mech.as_str() {
            "PLAIN" => {
                let token = match initial {
                    Some(t) => t,
                    None => {
                        self.write("334 \r\n").await?;
                        self.line().await?.unwrap_or_default()
                    }
                };
                let Some(decoded) = decode(&token) else {
                    return self.write("501 5.5.2 Cannot decode response\r\n").await;
                };
                let mut f = decoded.split('\0');
                let _authzid = f.next();
                (
                    f.next().unwrap_or_default().to_string(),
                    f.next().unwrap_or_default().to_string(),
                )
            }
            "LOGIN" => {
                self.write("334 VXNlcm5hbWU6\r\n").await?;
                let u = self.line().await?.and_then(|l| decode(&l)).unwrap_or_default();
                self.write("334 UGFzc3dvcmQ6\r\n").await?;
                let p = self.line().await?.and_then(|l| decode(&l)).unwrap_or_default();
                (u, p)
            }
            _ => {
                return self.write("504 5.5.4 Unrecognized authentication type\r\n").await;
            }
        };
        let ok = self
            .cfg
            .spec
            .users
            .iter()
            .any(|u| u.user == user && u.password == password);
        if ok {
            self.authed = true;
            self.write("235 2.7.0 Authentication successful\r\n").await
        } else {
            self.write("535 5.7.8 Authentication credentials invalid\r\n").await
        }
    }

    /// Switches the connection to TLS as configured. Ok(false): the connection is over.
    async fn start_tls(&mut self) -> R<bool> {
        let raw: BoxIo = match (self.io.take(), self.raw.take()) {
            (Some(io), _) => io,
            (None, Some(raw)) => Box::new(raw),
            (None, None) => return Err(()),
        };
        match self.cfg.spec.tls_misbehaviour {
            TlsMisbehaviour::Reset => {
                let mut raw = raw;
                let mut chunk = [0u8; 64];
                let _ = tokio::time::timeout(Duration::from_secs(5), raw.read(&mut chunk)).await;
                // Dropping the stream mid-handshake is what the client must survive.
                return Ok(false);
            }
            TlsMisbehaviour::Alert => {
                let mut raw = raw;
                let _ = read_client_hello(&mut raw).await;
                let _ = raw.write_all(&alert_record(TlsVersion::Tls12, 40)).await;
                let _ = raw.shutdown().await;
                return Ok(false);
            }
            TlsMisbehaviour::Stall => {
                let mut raw = raw;
                let _ = read_client_hello(&mut raw).await;
                // Never answer; hold the connection until the client gives up.
                let mut sink = [0u8; 1024];
                while let Ok(Ok(n)) = tokio::time::timeout(IDLE, raw.read(&mut sink)).await {
                    if n == 0 {
                        break;
                    }
                }
                return Ok(false);
            }
            TlsMisbehaviour::None => {}
        }
        match self.cfg.tls.clone() {
            TlsSide::None => Ok(false),
            TlsSide::Legacy(versions) => {
                let mut raw = raw;
                if let Some(hello) = read_client_hello(&mut raw).await {
                    canned_answer(&mut raw, &hello, &versions).await;
                }
                Ok(false)
            }
            TlsSide::Mixed(acceptor, versions) => {
                let mut raw = raw;
                let (bytes, hello) = read_client_hello_bytes(&mut raw).await;
                let Some(hello) = hello else { return Ok(false) };
                if hello.max_version() < TlsVersion::Tls12.wire() {
                    canned_answer(&mut raw, &hello, &versions).await;
                    return Ok(false);
                }
                let replay: BoxIo = Box::new(Prefixed {
                    prefix: bytes,
                    pos: 0,
                    inner: raw,
                });
                self.accept_rustls(acceptor, replay).await
            }
            TlsSide::Rustls(acceptor) => self.accept_rustls(acceptor, raw).await,
        }
    }

    async fn accept_rustls(&mut self, acceptor: TlsAcceptor, raw: BoxIo) -> R<bool> {
        match tokio::time::timeout(Duration::from_secs(15), acceptor.accept(raw)).await {
            Ok(Ok(tls)) => {
                self.tls_version = tls.get_ref().1.protocol_version().map(|v| match v {
                    rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
                    rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
                    other => format!("{other:?}"),
                });
                self.io = Some(Box::new(tls));
                self.tls = true;
                self.buf.clear();
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// The address in `FROM:<a@b> SIZE=1` / `TO:<a@b>`, lower case, without the angle brackets.
fn angle_arg(arg: &str, prefix: &str) -> String {
    let rest = if arg.len() >= prefix.len() && arg[..prefix.len()].eq_ignore_ascii_case(prefix) {
        &arg[prefix.len()..]
    } else {
        arg
    };
    let rest = rest.trim();
    let addr = match (rest.find('<'), rest.find('>')) {
        (Some(a), Some(b)) if a < b => &rest[a + 1..b],
        _ => rest.split_whitespace().next().unwrap_or(""),
    };
    addr.chars().take(256).collect()
}

/// Answers a legacy ClientHello as an old server would: the highest version both speak, or a
/// protocol_version alert. The handshake stops there; the probe has what it needs.
async fn canned_answer(raw: &mut BoxIo, hello: &mxdoctor_proto::tls_hello::ClientHelloInfo, versions: &[TlsVersion]) {
    let best = versions
        .iter()
        .copied()
        .filter(|v| v.wire() <= hello.max_version())
        .max();
    let answer = match best {
        Some(v) => server_hello(v, 0x002f, [0x42; 32]),
        None => alert_record(versions.iter().copied().max().unwrap_or(TlsVersion::Tls10), 70),
    };
    let _ = raw.write_all(&answer).await;
    let _ = raw.flush().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
}

async fn read_client_hello(io: &mut BoxIo) -> Option<mxdoctor_proto::tls_hello::ClientHelloInfo> {
    read_client_hello_bytes(io).await.1
}

/// Reads until a complete ClientHello is in; returns the bytes read (to replay) and the hello.
async fn read_client_hello_bytes(io: &mut BoxIo) -> (Vec<u8>, Option<mxdoctor_proto::tls_hello::ClientHelloInfo>) {
    let mut buf = Vec::new();
    loop {
        match parse_client_hello(&buf) {
            Ok(Some(h)) => return (buf, Some(h)),
            Err(_) => return (buf, None),
            Ok(None) => {}
        }
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout(Duration::from_secs(10), io.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            _ => return (buf, None),
        }
    }
}

/// A stream that first replays bytes already read (the ClientHello we peeked at).
struct Prefixed {
    prefix: Vec<u8>,
    pos: usize,
    inner: BoxIo,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if let Some(left) = self.prefix.get(self.pos..).filter(|l| !l.is_empty()) {
            let part = left.get(..buf.remaining()).unwrap_or(left);
            buf.put_slice(part);
            self.pos += part.len();
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
