//! The test address: the page hands out a one-time `t-<token>@DOMAIN`; an SMTP listener in this
//! process (RFC 5321, STARTTLS per RFC 3207, SIZE per RFC 1870) takes the user's message for a
//! live token only and records what it saw on the connection: the client's address, HELO,
//! MAIL FROM, and whether STARTTLS was used, with which version and cipher. The message report
//! then rests on those facts (engine `received::Arrival`), Gmail's TLS rule (421 4.7.29)
//! included, which a DNS-only check cannot see.
//!
//! A public deployment needs inbound port 25 and an MX record for DOMAIN pointing at this
//! host (docs/SERVE.md). XCLIENT (Postfix's, to tell the client's identity) is honoured only
//! when `trust_xclient` is set: the lab's MTA uses it to play a world address on loopback.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mxdoctor_engine::received::{Arrival, ArrivalTls, ReceivedRequest};
use mxdoctor_store::ReportId;
use serde_json::json;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::AppState;
use crate::api::ApiError;
use crate::jobs::Job;
use crate::limits::ClientIp;

#[derive(Debug, Clone)]
pub struct TestAddressConfig {
    pub listen: SocketAddr,
    /// The domain of the test addresses (its MX points here).
    pub domain: String,
    /// Certificate chain and key (PEM) for STARTTLS; None: a self-signed one for the domain
    /// (sending MTAs encrypt opportunistically and do not check it).
    pub tls: Option<(String, String)>,
    /// Largest message accepted (SIZE).
    pub max_size: usize,
    /// How long a test address stays live.
    pub token_ttl: Duration,
    /// Honour XCLIENT (the lab's MTA; never on a public listener).
    pub trust_xclient: bool,
    /// Time allowed for each command and for the DATA as a whole.
    pub command_timeout: Duration,
    /// Sessions at once.
    pub max_sessions: usize,
}

impl TestAddressConfig {
    pub fn new(listen: SocketAddr, domain: String) -> Self {
        Self {
            listen,
            domain,
            tls: None,
            max_size: 10 * 1024 * 1024,
            token_ttl: Duration::from_secs(3600),
            trust_xclient: false,
            command_timeout: Duration::from_secs(60),
            max_sessions: 64,
        }
    }
}

/// Live test addresses at most (a page visit makes one; each is a few bytes).
const MAX_TOKENS: usize = 100_000;

#[derive(Debug, Clone)]
pub enum TokenState {
    Waiting { expires: Instant },
    Received { report: ReportId, tls: bool },
}

/// The one-time tokens, by token (`t-` and 20 hex digits).
#[derive(Debug, Default)]
pub struct Tokens {
    map: Mutex<HashMap<String, (Instant, TokenState)>>,
}

impl Tokens {
    /// A new live token, or None when too many are live.
    pub fn issue(&self, ttl: Duration) -> Option<String> {
        let mut bytes = [0u8; 10];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).ok()?;
        let token = format!("t-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
        let now = Instant::now();
        let mut map = self.map.lock().ok()?;
        if map.len() >= MAX_TOKENS {
            map.retain(|_, (_, s)| !matches!(s, TokenState::Waiting { expires } if *expires <= now));
            if map.len() >= MAX_TOKENS {
                return None;
            }
        }
        map.insert(token.clone(), (now, TokenState::Waiting { expires: now + ttl }));
        Some(token)
    }

    /// True when `token` may receive a message now.
    pub fn is_live(&self, token: &str) -> bool {
        let now = Instant::now();
        self.map
            .lock()
            .is_ok_and(|m| matches!(m.get(token), Some((_, TokenState::Waiting { expires })) if *expires > now))
    }

    /// The message for `token` arrived: it is used up, and its report is `report`.
    pub fn received(&self, token: &str, report: ReportId, tls: bool) {
        if let Ok(mut m) = self.map.lock()
            && let Some(entry) = m.get_mut(token)
        {
            entry.1 = TokenState::Received { report, tls };
        }
    }

    pub fn state(&self, token: &str) -> Option<TokenState> {
        self.map.lock().ok()?.get(token).map(|(_, s)| s.clone())
    }

    /// Forgets tokens expired and received ones older than a day (the report stays in the
    /// store under its own retention).
    pub fn purge(&self, now: Instant) {
        if let Ok(mut m) = self.map.lock() {
            m.retain(|_, (made, s)| match s {
                TokenState::Waiting { expires } => *expires > now,
                TokenState::Received { .. } => now.duration_since(*made) < Duration::from_secs(86_400),
            });
        }
    }

    pub fn live_count(&self) -> usize {
        let now = Instant::now();
        self.map.lock().map_or(0, |m| {
            m.values()
                .filter(|(_, s)| matches!(s, TokenState::Waiting { expires } if *expires > now))
                .count()
        })
    }
}

/// A token as it may appear in a path or an address: `t-` and 20 lower-case hex digits.
pub fn valid_token(s: &str) -> bool {
    s.len() == 22 && s.starts_with("t-") && s[2..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `POST /api/v1/test-addresses`: a new one-time address.
pub async fn api_create(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let lang = crate::api::lang(&state, &headers);
    let (token, address) = create(&state, client).map_err(|code| {
        let status = match code {
            "err.rate-limited" => StatusCode::TOO_MANY_REQUESTS,
            "err.no-test-address" => StatusCode::NOT_FOUND,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::plain(status, code, lang)
    })?;
    let body = json!({ "address": address, "token": token,
                       "expires_in_s": state.config.test_address.as_ref().map(|c| c.token_ttl.as_secs()),
                       "state_url": format!("/api/v1/test-addresses/{token}"),
                       "page_url": format!("/t/{token}") });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Makes a token for a client (rate limited like a check: each one can start a check).
pub fn create(state: &AppState, client: IpAddr) -> Result<(String, String), &'static str> {
    let cfg = state.config.test_address.as_ref().ok_or("err.no-test-address")?;
    // A token costs no check slot until a message arrives; only the client's bucket.
    drop(state.limiter.admit(client).map_err(|r| r.key())?);
    let token = state.tokens.issue(cfg.token_ttl).ok_or("err.busy")?;
    let address = format!("{token}@{}", cfg.domain);
    Ok((token, address))
}

/// `GET /api/v1/test-addresses/{token}`: waiting, or the report's URL.
pub async fn api_state(State(state): State<AppState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let lang = crate::api::lang(&state, &headers);
    let found = valid_token(&token).then(|| state.tokens.state(&token)).flatten();
    match found {
        Some(TokenState::Waiting { expires }) if expires > Instant::now() => Json(json!({
            "state": "waiting", "expires_in_s": expires.saturating_duration_since(Instant::now()).as_secs()
        }))
        .into_response(),
        Some(TokenState::Received { report, tls }) => Json(json!({
            "state": "received", "tls": tls, "report_url": format!("/api/v1/reports/{report}"),
            "page_url": format!("/r/{report}")
        }))
        .into_response(),
        _ => ApiError::plain(StatusCode::NOT_FOUND, "err.no-test-address-token", lang).into_response(),
    }
}

/// Starts the SMTP listener.
pub fn spawn(listener: TcpListener, state: AppState) -> Result<(), String> {
    let cfg = state.config.test_address.clone().ok_or("no test address configured")?;
    let acceptor = tls_acceptor(&cfg)?;
    let sessions = Arc::new(tokio::sync::Semaphore::new(cfg.max_sessions.max(1)));
    tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let Ok(permit) = sessions.clone().try_acquire_owned() else {
                // Too many sessions: say so (RFC 5321 4.3.2: 421 at greeting) and close.
                let mut s = stream;
                let _ = s
                    .write_all(b"421 4.3.2 Too many connections, try again later\r\n")
                    .await;
                continue;
            };
            let (state, acceptor) = (state.clone(), acceptor.clone());
            tokio::spawn(async move {
                let _permit = permit;
                let session = Session::new(state, acceptor, peer);
                if let Err(e) = session.run(stream).await {
                    tracing::debug!("test address session from {peer}: {e}");
                }
            });
        }
    });
    Ok(())
}

fn tls_acceptor(cfg: &TestAddressConfig) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let (cert_pem, key_pem) = match &cfg.tls {
        Some(pair) => pair.clone(),
        None => {
            let ck = rcgen::generate_simple_self_signed(vec![cfg.domain.clone()]).map_err(|e| e.to_string())?;
            (ck.cert.pem(), ck.signing_key.serialize_pem())
        }
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| format!("the key: {e}"))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| e.to_string())?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Longest command line (RFC 5321 4.5.3.1.4: 512) and text line we read (RFC 5321 allows
/// 1000; real messages exceed it, so a generous bound, still a bound).
const MAX_COMMAND: usize = 2048;
const MAX_TEXT_LINE: usize = 64 * 1024;
/// Bad commands before we hang up.
const MAX_ERRORS: usize = 10;
const MAX_RECIPIENTS: usize = 10;

/// One SMTP session.
struct Session {
    state: AppState,
    cfg: TestAddressConfig,
    acceptor: tokio_rustls::TlsAcceptor,
    ip: IpAddr,
    helo: Option<String>,
    tls: Option<ArrivalTls>,
    mail_from: Option<String>,
    tokens: Vec<String>,
    errors: usize,
}

enum Next {
    Continue,
    StartTls,
    Quit,
}

impl Session {
    fn new(state: AppState, acceptor: tokio_rustls::TlsAcceptor, peer: SocketAddr) -> Self {
        let cfg = state
            .config
            .test_address
            .clone()
            .unwrap_or_else(|| TestAddressConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)), "invalid".into()));
        Self {
            state,
            cfg,
            acceptor,
            ip: peer.ip(),
            helo: None,
            tls: None,
            mail_from: None,
            tokens: Vec::new(),
            errors: 0,
        }
    }

    async fn run(mut self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let mut io: BufReader<Box<dyn Stream>> = BufReader::new(Box::new(stream));
        let banner = format!("220 {} ESMTP mxdoctor test address\r\n", self.cfg.domain);
        io.get_mut().write_all(banner.as_bytes()).await?;
        loop {
            let line = match self.read_command(&mut io).await? {
                Some(l) => l,
                None => return Ok(()),
            };
            match self.command(&mut io, &line).await? {
                Next::Continue => {}
                Next::Quit => return Ok(()),
                Next::StartTls => {
                    // RFC 3207 section 5: nothing the client sent after STARTTLS in the clear
                    // may be used (CVE-2011-0411, command injection).
                    if !io.buffer().is_empty() {
                        let _ = io
                            .get_mut()
                            .write_all(b"554 5.5.1 Commands pipelined after STARTTLS\r\n")
                            .await;
                        return Ok(());
                    }
                    let plain = io.into_inner();
                    let tls = tokio::time::timeout(self.cfg.command_timeout, self.acceptor.accept(plain))
                        .await
                        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake"))??;
                    let (_, conn) = tls.get_ref();
                    self.tls = Some(ArrivalTls {
                        version: conn
                            .protocol_version()
                            .map(version_name)
                            .unwrap_or_else(|| "TLS".into()),
                        cipher: conn
                            .negotiated_cipher_suite()
                            .map(|c| format!("{:?}", c.suite()))
                            .unwrap_or_default(),
                    });
                    // RFC 3207: the session starts over (the client must EHLO again).
                    self.reset_session();
                    io = BufReader::new(Box::new(tls));
                }
            }
        }
    }

    fn reset_session(&mut self) {
        self.helo = None;
        self.reset_transaction();
    }

    fn reset_transaction(&mut self) {
        self.mail_from = None;
        self.tokens.clear();
    }

    async fn read_command(&mut self, io: &mut BufReader<Box<dyn Stream>>) -> std::io::Result<Option<String>> {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(self.cfg.command_timeout, read_line(io, &mut buf, MAX_COMMAND)).await;
        match read {
            Err(_) => {
                let _ = io.get_mut().write_all(b"421 4.4.2 Timeout, closing\r\n").await;
                Ok(None)
            }
            Ok(Err(e)) => Err(e),
            Ok(Ok(LineEnd::Eof)) => Ok(None),
            Ok(Ok(LineEnd::TooLong)) => {
                io.get_mut().write_all(b"500 5.5.6 Line too long\r\n").await?;
                Ok(None)
            }
            Ok(Ok(LineEnd::Line)) => Ok(Some(String::from_utf8_lossy(&buf).trim_end().to_string())),
        }
    }

    async fn reply(&mut self, io: &mut BufReader<Box<dyn Stream>>, text: &str) -> std::io::Result<()> {
        io.get_mut().write_all(text.as_bytes()).await?;
        io.get_mut().write_all(b"\r\n").await
    }

    async fn error(&mut self, io: &mut BufReader<Box<dyn Stream>>, text: &str) -> std::io::Result<Next> {
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            self.reply(io, "421 4.7.0 Too many errors, closing").await?;
            return Ok(Next::Quit);
        }
        self.reply(io, text).await?;
        Ok(Next::Continue)
    }

    async fn command(&mut self, io: &mut BufReader<Box<dyn Stream>>, line: &str) -> std::io::Result<Next> {
        let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" | "HELO" => self.ehlo(io, verb, arg.trim()).await,
            "STARTTLS" => {
                if self.tls.is_some() {
                    return self.error(io, "503 5.5.1 TLS already active").await;
                }
                self.reply(io, "220 2.0.0 Ready to start TLS").await?;
                Ok(Next::StartTls)
            }
            "XCLIENT" if self.cfg.trust_xclient => self.xclient(io, arg).await,
            "MAIL" => self.mail(io, arg).await,
            "RCPT" => self.rcpt(io, arg).await,
            "DATA" => self.data(io).await,
            "RSET" => {
                self.reset_transaction();
                self.reply(io, "250 2.0.0 OK").await?;
                Ok(Next::Continue)
            }
            "NOOP" => {
                self.reply(io, "250 2.0.0 OK").await?;
                Ok(Next::Continue)
            }
            "VRFY" => {
                self.reply(io, "252 2.5.2 Cannot verify, send a message").await?;
                Ok(Next::Continue)
            }
            "QUIT" => {
                self.reply(io, "221 2.0.0 Bye").await?;
                Ok(Next::Quit)
            }
            _ => self.error(io, "502 5.5.2 Command not recognised").await,
        }
    }

    async fn ehlo(&mut self, io: &mut BufReader<Box<dyn Stream>>, verb: &str, name: &str) -> std::io::Result<Next> {
        if name.is_empty() || name.len() > 255 || name.chars().any(|c| c.is_control() || c == ' ') {
            return self.error(io, "501 5.5.4 Syntax: EHLO hostname").await;
        }
        self.helo = Some(name.to_string());
        self.reset_transaction();
        if verb.eq_ignore_ascii_case("HELO") {
            let text = format!("250 {}", self.cfg.domain);
            self.reply(io, &text).await?;
            return Ok(Next::Continue);
        }
        let mut lines = vec![
            self.cfg.domain.clone(),
            format!("SIZE {}", self.cfg.max_size),
            "8BITMIME".into(),
            "ENHANCEDSTATUSCODES".into(),
        ];
        if self.tls.is_none() {
            lines.push("STARTTLS".into());
        }
        if self.cfg.trust_xclient {
            lines.push("XCLIENT ADDR NAME HELO".into());
        }
        let n = lines.len();
        let text: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("250{}{l}", if i + 1 == n { ' ' } else { '-' }))
            .collect();
        self.reply(io, &text.join("\r\n")).await?;
        Ok(Next::Continue)
    }

    /// Postfix's XCLIENT: ADDR= and HELO= set who the client is; the session starts over.
    async fn xclient(&mut self, io: &mut BufReader<Box<dyn Stream>>, arg: &str) -> std::io::Result<Next> {
        for attr in arg.split_whitespace() {
            let Some((k, v)) = attr.split_once('=') else { continue };
            match k.to_ascii_uppercase().as_str() {
                "ADDR" => {
                    let v = v.strip_prefix("IPV6:").or_else(|| v.strip_prefix("IPv6:")).unwrap_or(v);
                    match v.parse() {
                        Ok(ip) => self.ip = ip,
                        Err(_) => return self.error(io, "501 5.5.4 Bad XCLIENT ADDR").await,
                    }
                }
                "HELO" => self.helo = Some(v.to_string()),
                _ => {}
            }
        }
        self.reset_transaction();
        let text = format!("220 {} ESMTP mxdoctor test address", self.cfg.domain);
        self.reply(io, &text).await?;
        Ok(Next::Continue)
    }

    async fn mail(&mut self, io: &mut BufReader<Box<dyn Stream>>, arg: &str) -> std::io::Result<Next> {
        if self.helo.is_none() {
            return self.error(io, "503 5.5.1 Send EHLO first").await;
        }
        if self.mail_from.is_some() {
            return self.error(io, "503 5.5.1 Nested MAIL command").await;
        }
        let Some((path, params)) = reverse_path(arg) else {
            return self.error(io, "501 5.5.4 Syntax: MAIL FROM:<address>").await;
        };
        // RFC 1870: a declared size over the limit is refused before any data is sent.
        let declared = params.split_whitespace().find_map(|p| {
            p.to_ascii_uppercase()
                .strip_prefix("SIZE=")
                .and_then(|n| n.parse::<u64>().ok())
        });
        if declared.is_some_and(|n| n > self.cfg.max_size as u64) {
            let text = format!(
                "552 5.3.4 Message size exceeds fixed maximum message size ({} bytes)",
                self.cfg.max_size
            );
            self.reply(io, &text).await?;
            return Ok(Next::Continue);
        }
        self.mail_from = Some(path);
        self.reply(io, "250 2.1.0 OK").await?;
        Ok(Next::Continue)
    }

    async fn rcpt(&mut self, io: &mut BufReader<Box<dyn Stream>>, arg: &str) -> std::io::Result<Next> {
        if self.mail_from.is_none() {
            return self.error(io, "503 5.5.1 Send MAIL first").await;
        }
        let Some(addr) = forward_path(arg) else {
            return self.error(io, "501 5.5.4 Syntax: RCPT TO:<address>").await;
        };
        let (local, domain) = addr.rsplit_once('@').unwrap_or((&addr, ""));
        if !domain.eq_ignore_ascii_case(&self.cfg.domain) {
            return self.error(io, "550 5.7.1 Relay access denied").await;
        }
        let token = local.to_ascii_lowercase();
        if !valid_token(&token) || !self.state.tokens.is_live(&token) {
            return self
                .error(
                    io,
                    "550 5.1.1 This test address is unknown or expired: get a new one on the page",
                )
                .await;
        }
        if self.tokens.len() >= MAX_RECIPIENTS {
            self.reply(io, "452 4.5.3 Too many recipients").await?;
            return Ok(Next::Continue);
        }
        if !self.tokens.contains(&token) {
            self.tokens.push(token);
        }
        self.reply(io, "250 2.1.5 OK").await?;
        Ok(Next::Continue)
    }

    async fn data(&mut self, io: &mut BufReader<Box<dyn Stream>>) -> std::io::Result<Next> {
        if self.tokens.is_empty() {
            return self.error(io, "503 5.5.1 Send RCPT first").await;
        }
        self.reply(io, "354 End data with <CR><LF>.<CR><LF>").await?;
        let read = tokio::time::timeout(self.cfg.command_timeout * 5, read_data(io, self.cfg.max_size)).await;
        let body = match read {
            Err(_) => {
                self.reply(io, "421 4.4.2 Timeout during DATA, closing").await?;
                return Ok(Next::Quit);
            }
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Data::Eof)) => return Ok(Next::Quit),
            Ok(Ok(Data::TooLarge)) => {
                self.reset_transaction();
                let text = format!(
                    "552 5.3.4 Message size exceeds fixed maximum message size ({} bytes)",
                    self.cfg.max_size
                );
                self.reply(io, &text).await?;
                return Ok(Next::Continue);
            }
            Ok(Ok(Data::Message(m))) => m,
        };
        let reply = self.accept(body);
        self.reset_transaction();
        self.reply(io, &reply).await?;
        Ok(Next::Continue)
    }

    /// The message arrived: start its report for each token; the reply for the DATA.
    fn accept(&mut self, body: Vec<u8>) -> String {
        let arrival = Arrival {
            ip: self.ip,
            helo: self.helo.clone().unwrap_or_default(),
            mail_from: self.mail_from.clone().unwrap_or_default(),
            tls: self.tls.clone(),
            by: self.cfg.domain.clone(),
        };
        let now = self.state.config.clock.now();
        for token in std::mem::take(&mut self.tokens) {
            let raw = with_trace_fields(&body, &arrival, &token, now);
            let analysis = match mxdoctor_proto::mail::analyze(&raw) {
                Ok(a) => a,
                Err(e) => return format!("554 5.6.0 Not a message: {e}"),
            };
            let job = Job::Message {
                raw,
                analysis: Box::new(analysis),
                name: format!("{token}@{}", self.cfg.domain),
                req: ReceivedRequest {
                    arrival: Some(arrival.clone()),
                    ..Default::default()
                },
            };
            let Ok(permit) = self.state.limiter.slot() else {
                self.state.metrics.error("busy");
                return "451 4.3.2 Too busy, try again later".into();
            };
            match self.state.jobs.start(job, permit) {
                Ok(id) => {
                    self.state.tokens.received(&token, id, arrival.tls.is_some());
                    self.state.metrics.test_message(arrival.tls.is_some());
                }
                Err(_) => return "451 4.3.0 Could not keep the message, try again".into(),
            }
        }
        "250 2.0.0 OK: the report is on the page".into()
    }
}

fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        other => format!("{other:?}"),
    }
}

/// Return-Path and the Received field this listener writes, as the final MTA does.
fn with_trace_fields(body: &[u8], a: &Arrival, id: &str, now: time::OffsetDateTime) -> Vec<u8> {
    let date = now
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default();
    let ip = match a.ip {
        IpAddr::V4(v) => v.to_string(),
        IpAddr::V6(v) => format!("IPv6:{v}"),
    };
    let (with, tls) = match &a.tls {
        Some(t) => (
            "ESMTPS",
            format!("\r\n\t(using {} with cipher {})", t.version, t.cipher),
        ),
        None => ("ESMTP", String::new()),
    };
    let helo: String = a.helo.chars().filter(|c| !c.is_control()).take(255).collect();
    let mut out = format!(
        "Return-Path: <{}>\r\nReceived: from {helo} (unknown [{ip}]){tls}\r\n\tby {} (mxdoctor test address) with {with} id {id};\r\n\t{date}\r\n",
        a.mail_from, a.by
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// `FROM:<path> params` -> (path, params). The null path `<>` is allowed.
fn reverse_path(arg: &str) -> Option<(String, String)> {
    let rest = strip_keyword(arg, "FROM:")?;
    let (path, params) = angle(rest)?;
    Some((path, params))
}

fn forward_path(arg: &str) -> Option<String> {
    let rest = strip_keyword(arg, "TO:")?;
    let (path, _) = angle(rest)?;
    (!path.is_empty() && path.contains('@')).then_some(path)
}

fn strip_keyword<'a>(arg: &'a str, kw: &str) -> Option<&'a str> {
    let a = arg.trim_start();
    (a.len() >= kw.len() && a[..kw.len()].eq_ignore_ascii_case(kw)).then(|| a[kw.len()..].trim_start())
}

fn angle(s: &str) -> Option<(String, String)> {
    let s = s.strip_prefix('<')?;
    let end = s.find('>')?;
    let path = &s[..end];
    if path.len() > 320 || path.chars().any(|c| c.is_control() || c == ' ') {
        return None;
    }
    Some((path.to_string(), s[end + 1..].trim().to_string()))
}

enum LineEnd {
    Line,
    TooLong,
    Eof,
}

/// Reads one line (through LF) into `buf`, at most `max` bytes.
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, buf: &mut Vec<u8>, max: usize) -> std::io::Result<LineEnd> {
    loop {
        let chunk = r.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(if buf.is_empty() { LineEnd::Eof } else { LineEnd::Line });
        }
        let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        let truncated = take > room;
        buf.extend_from_slice(chunk.get(..take.min(room)).unwrap_or_default());
        r.consume(take);
        if truncated || (buf.len() >= max && !done) {
            return Ok(LineEnd::TooLong);
        }
        if done {
            return Ok(LineEnd::Line);
        }
    }
}

enum Data {
    Message(Vec<u8>),
    TooLarge,
    Eof,
}

/// The DATA until the lone dot, dot-unstuffed (RFC 5321 4.5.2). Past `max` bytes the rest is
/// read and dropped, so the 552 reply comes after the client's dot where it expects it, up to
/// four times the limit; a client that goes on beyond that is cut off.
async fn read_data<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> std::io::Result<Data> {
    let mut out = Vec::new();
    let mut seen = 0usize;
    let mut line = Vec::new();
    loop {
        line.clear();
        match read_line(r, &mut line, MAX_TEXT_LINE).await? {
            LineEnd::Eof => return Ok(Data::Eof),
            LineEnd::TooLong | LineEnd::Line => {}
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(if seen > max { Data::TooLarge } else { Data::Message(out) });
        }
        seen += line.len();
        if seen > max.saturating_mul(4).max(max + MAX_TEXT_LINE) {
            return Ok(Data::Eof);
        }
        if seen <= max {
            let l = line.strip_prefix(b".").unwrap_or(&line);
            out.extend_from_slice(l);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_parsed_strictly() {
        assert_eq!(
            reverse_path("FROM:<a@b.example> SIZE=10"),
            Some(("a@b.example".into(), "SIZE=10".into()))
        );
        assert_eq!(reverse_path("from: <>"), Some((String::new(), String::new())));
        assert_eq!(reverse_path("FROM:a@b"), None);
        assert_eq!(forward_path("TO:<t-0@x.example>"), Some("t-0@x.example".into()));
        assert_eq!(forward_path("TO:<>"), None);
        assert_eq!(forward_path("TO:<a b@x>"), None);
    }

    #[test]
    fn tokens_are_one_time_and_expire() {
        let t = Tokens::default();
        let a = t.issue(Duration::from_secs(60)).unwrap();
        assert!(valid_token(&a));
        assert!(t.is_live(&a));
        t.received(&a, ReportId::generate().unwrap(), true);
        assert!(!t.is_live(&a), "a used token must not take a second message");
        let b = t.issue(Duration::ZERO).unwrap();
        assert!(!t.is_live(&b), "an expired token must be refused");
        t.purge(Instant::now() + Duration::from_secs(1));
        assert!(t.state(&b).is_none());
        assert!(!valid_token("t-XYZ"));
    }

    #[tokio::test]
    async fn data_is_unstuffed_and_bounded() {
        let input = b"Subject: x\r\n\r\n..leading dot\r\nbody\r\n.\r\n";
        let mut r = BufReader::new(&input[..]);
        match read_data(&mut r, 1000).await.unwrap() {
            Data::Message(m) => assert_eq!(m, b"Subject: x\r\n\r\n.leading dot\r\nbody\r\n"),
            _ => panic!("not read"),
        }
        let big = [b"x".repeat(100), b"\r\n".to_vec()].concat().repeat(20);
        let input = [big, b".\r\n".to_vec()].concat();
        let mut r = BufReader::new(&input[..]);
        assert!(matches!(read_data(&mut r, 500).await.unwrap(), Data::TooLarge));
    }
}
