//! The lab MTA hook: what a sending MTA, a receiving MX and a bouncing MTA of the world would do
//! to a message, so tests get real messages without the Internet:
//!
//! - [`Mta::sign`] adds a DKIM-Signature with the world's key for the From domain (mail-auth's
//!   signer, RSA-SHA256, relaxed/relaxed), verifiable through the lab DNS, where the public key is
//!   published.
//! - [`relay`] prepends the `Received:` field the receiving MX writes (Postfix wording).
//! - [`bounce`] wraps a message in an RFC 3464 delivery status notification.
//! - [`send`] delivers over real SMTP (STARTTLS, XCLIENT) to a lab MX listener (`mx = true`),
//!   which writes its own Return-Path and Received fields and keeps the message in the lab's
//!   mailbox ([`crate::Lab::mailbox`]); refused recipients come back with the MX's reply.

use mail_auth::common::crypto::{RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use crate::world::World;

/// Headers the lab MTA signs (RFC 6376 section 5.4.1's recommendation, From first).
const SIGNED: &[&str] = &[
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

#[derive(Debug, thiserror::Error)]
pub enum MtaError {
    #[error("the world has no DKIM key for {0}")]
    NoKey(String),
    #[error("the DKIM key for {domain} does not load: {detail}")]
    BadKey { domain: String, detail: String },
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("{0}")]
    Smtp(String),
}

/// The sending side of a world.
pub struct Mta<'a> {
    world: &'a World,
}

impl<'a> Mta<'a> {
    pub fn new(world: &'a World) -> Self {
        Self { world }
    }

    /// Signs `message` as the MTA of `domain` would (d=domain, the world's selector).
    pub fn sign(&self, domain: &str, message: &[u8]) -> Result<Vec<u8>, MtaError> {
        let spec = self
            .world
            .dkim_keys()
            .iter()
            .find(|k| k.domain.eq_ignore_ascii_case(domain))
            .ok_or_else(|| MtaError::NoKey(domain.to_string()))?;
        let bad = |detail: String| MtaError::BadKey {
            domain: domain.to_string(),
            detail,
        };
        let der = PrivateKeyDer::from_pem_slice(spec.private_key.trim().as_bytes()).map_err(|e| bad(e.to_string()))?;
        let key = RsaKey::<Sha256>::from_key_der(der).map_err(|e| bad(e.to_string()))?;
        let signature = DkimSigner::from_key(key)
            .domain(spec.domain.clone())
            .selector(spec.selector.clone())
            .headers(SIGNED.iter().copied())
            .sign(message)
            .map_err(|e| MtaError::Sign(e.to_string()))?;
        let mut out = signature.to_header().into_bytes();
        out.extend_from_slice(message);
        Ok(out)
    }
}

/// One SMTP hand-over as the receiving MX records it.
#[derive(Debug, Clone)]
pub struct Handover<'a> {
    /// The client's EHLO name.
    pub helo: &'a str,
    /// The client's PTR name (`None`: written as `unknown`, as Postfix does).
    pub rdns: Option<&'a str>,
    pub ip: std::net::IpAddr,
    /// The receiving host.
    pub by: &'a str,
    pub tls: bool,
    /// RFC 5322 date-time of the hand-over.
    pub date: &'a str,
}

/// Prepends the Received field the receiving MX writes for `h`, and a Return-Path for the
/// envelope sender when given (as the final delivery agent does).
pub fn relay(message: &[u8], h: &Handover<'_>, mail_from: Option<&str>) -> Vec<u8> {
    let ip = match h.ip {
        std::net::IpAddr::V4(v) => v.to_string(),
        std::net::IpAddr::V6(v) => format!("IPv6:{v}"),
    };
    let client = Client {
        helo: h.helo,
        rdns: h.rdns.unwrap_or("unknown"),
        addr: &ip,
    };
    let tls = h.tls.then_some("TLSv1.3");
    let mut out = trace_fields(mail_from, &client, h.by, tls, h.date, "4Lab0001").into_bytes();
    out.extend_from_slice(message);
    out
}

/// The client of one SMTP hand-over as the receiving host names it.
pub(crate) struct Client<'a> {
    pub helo: &'a str,
    pub rdns: &'a str,
    /// An address literal body: `192.0.2.1` or `IPv6:2001:db8::1`.
    pub addr: &'a str,
}

/// The Return-Path (when known) and Received fields a Postfix MX writes on delivery; the lab
/// MX ([`crate::smtp`]) and [`relay`] both write them this way.
pub(crate) fn trace_fields(
    mail_from: Option<&str>,
    c: &Client<'_>,
    by: &str,
    tls_version: Option<&str>,
    date: &str,
    id: &str,
) -> String {
    let tls = tls_version
        .map(|v| format!("\r\n\t(using {v} with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))"))
        .unwrap_or_default();
    let return_path = mail_from.map(|m| format!("Return-Path: <{m}>\r\n")).unwrap_or_default();
    format!(
        "{return_path}Received: from {helo} ({rdns} [{addr}]){tls}\r\n\tby {by} (Postfix) with {proto} id {id};\r\n\t{date}\r\n",
        helo = c.helo,
        rdns = c.rdns,
        addr = c.addr,
        proto = if tls_version.is_some() { "ESMTPS" } else { "ESMTP" },
    )
}

/// What a bouncing MTA reports about one recipient.
#[derive(Debug, Clone)]
pub struct Failure<'a> {
    pub recipient: &'a str,
    /// Enhanced status code (`5.7.26`).
    pub status: &'a str,
    /// The remote server's reply, as the DSN's Diagnostic-Code.
    pub diagnostic: &'a str,
    pub remote_mta: &'a str,
}

/// An RFC 3464 DSN from `reporting_mta` to `to` about `original` (headers returned).
pub fn bounce(original: &[u8], reporting_mta: &str, to: &str, date: &str, f: &Failure<'_>) -> Vec<u8> {
    let headers_end = original
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .unwrap_or(original.len());
    let returned = String::from_utf8_lossy(original.get(..headers_end).unwrap_or(original));
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>\r\n\
To: <{to}>\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
Date: {date}\r\n\
Message-ID: <bounce.4Lab0001@{reporting_mta}>\r\n\
Auto-Submitted: auto-replied\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"lab-dsn\"\r\n\
\r\n\
--lab-dsn\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
This is the mail system at host {reporting_mta}.\r\n\
\r\n\
I'm sorry to have to inform you that your message could not\r\n\
be delivered to one or more recipients.\r\n\
\r\n\
<{rcpt}>: host {remote}[{remote}] said: {diag}\r\n\
\r\n\
--lab-dsn\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; {reporting_mta}\r\n\
Arrival-Date: {date}\r\n\
\r\n\
Final-Recipient: rfc822; {rcpt}\r\n\
Original-Recipient: rfc822; {rcpt}\r\n\
Action: failed\r\n\
Status: {status}\r\n\
Remote-MTA: dns; {remote}\r\n\
Diagnostic-Code: smtp; {diag}\r\n\
\r\n\
--lab-dsn\r\n\
Content-Type: text/rfc822-headers\r\n\
\r\n\
{returned}\r\n\
--lab-dsn--\r\n",
        rcpt = f.recipient,
        remote = f.remote_mta,
        diag = f.diagnostic,
        status = f.status,
    )
    .into_bytes()
}

/// Who the sending MTA is in the world (told to the lab MX with XCLIENT) and what it sends.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    /// The sender's world address and PTR name.
    pub client_addr: std::net::IpAddr,
    pub client_name: &'a str,
    /// The EHLO name.
    pub helo: &'a str,
    pub mail_from: &'a str,
    pub recipients: &'a [&'a str],
    /// Use STARTTLS when the server offers it (a real MTA's `may` level); false plays a sender
    /// that never encrypts.
    pub starttls: bool,
}

/// What the receiving server answered: every reply line of the session, and the recipients it
/// refused with their replies (what a real sending MTA turns into a bounce).
#[derive(Debug, Clone, Default)]
pub struct SendOutcome {
    pub transcript: Vec<String>,
    pub refused: Vec<(String, String)>,
    pub accepted: bool,
}

const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}

/// One SMTP session to a lab MX, as a sending MTA runs it: EHLO, STARTTLS (trusting the lab CA,
/// SNI = `server_name`), XCLIENT with the envelope's world identity, MAIL, RCPT, DATA with
/// dot-stuffing, QUIT. `socket` is the loopback socket the address map gives for the MX.
pub async fn send(
    socket: std::net::SocketAddr,
    server_name: &str,
    ca_pem: &str,
    env: &Envelope<'_>,
    message: &[u8],
) -> Result<SendOutcome, MtaError> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let err = |e: String| MtaError::Smtp(format!("SMTP to {server_name}: {e}"));
    if !socket.ip().is_loopback() {
        return Err(err(format!(
            "{socket} is not a loopback socket; the lab MTA only talks to the lab"
        )));
    }
    let mut out = SendOutcome::default();
    let tcp = tokio::time::timeout(SEND_TIMEOUT, tokio::net::TcpStream::connect(socket))
        .await
        .map_err(|_| err("connect timed out".into()))?
        .map_err(|e| err(e.to_string()))?;
    let mut io: BufReader<Box<dyn Stream>> = BufReader::new(Box::new(tcp));

    async fn reply(io: &mut BufReader<Box<dyn Stream>>, t: &mut Vec<String>) -> Result<(u16, String), String> {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(SEND_TIMEOUT, io.read_line(&mut line))
                .await
                .map_err(|_| "reply timed out".to_string())?
                .map_err(|e| e.to_string())?;
            if n == 0 || line.len() > 1000 || t.len() > 200 {
                return Err("connection closed or reply too long".into());
            }
            let line = line.trim_end().to_string();
            t.push(format!("S: {line}"));
            text.push_str(&line);
            text.push(' ');
            if line.as_bytes().get(3) != Some(&b'-') {
                let code = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
                return Ok((code, text.trim_end().to_string()));
            }
        }
    }
    async fn say(io: &mut BufReader<Box<dyn Stream>>, t: &mut Vec<String>, cmd: &str) -> Result<(), String> {
        t.push(format!("C: {cmd}"));
        io.get_mut()
            .write_all(format!("{cmd}\r\n").as_bytes())
            .await
            .map_err(|e| e.to_string())
    }

    let t = &mut out.transcript;
    reply(&mut io, t).await.map_err(err)?;
    say(&mut io, t, &format!("EHLO {}", env.helo)).await.map_err(err)?;
    let (_, ehlo) = reply(&mut io, t).await.map_err(err)?;
    if env.starttls && ehlo.contains("STARTTLS") {
        say(&mut io, t, "STARTTLS").await.map_err(err)?;
        let (code, _) = reply(&mut io, t).await.map_err(err)?;
        if code == 220 {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()).flatten() {
                let _ = roots.add(cert);
            }
            let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| err(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
            let name =
                rustls_pki_types::ServerName::try_from(server_name.to_string()).map_err(|e| err(e.to_string()))?;
            let plain = io.into_inner();
            let tls = tokio::time::timeout(
                SEND_TIMEOUT,
                tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)).connect(name, plain),
            )
            .await
            .map_err(|_| err("TLS handshake timed out".into()))?
            .map_err(|e| err(format!("TLS: {e}")))?;
            io = BufReader::new(Box::new(tls));
            let t = &mut out.transcript;
            say(&mut io, t, &format!("EHLO {}", env.helo)).await.map_err(err)?;
            reply(&mut io, t).await.map_err(err)?;
        }
    }
    let t = &mut out.transcript;
    let addr = match env.client_addr {
        std::net::IpAddr::V4(v) => v.to_string(),
        std::net::IpAddr::V6(v) => format!("IPV6:{v}"),
    };
    say(
        &mut io,
        t,
        &format!("XCLIENT ADDR={addr} NAME={} HELO={}", env.client_name, env.helo),
    )
    .await
    .map_err(err)?;
    reply(&mut io, t).await.map_err(err)?;
    say(&mut io, t, &format!("EHLO {}", env.helo)).await.map_err(err)?;
    reply(&mut io, t).await.map_err(err)?;
    say(&mut io, t, &format!("MAIL FROM:<{}>", env.mail_from))
        .await
        .map_err(err)?;
    reply(&mut io, t).await.map_err(err)?;
    let mut any = false;
    for r in env.recipients {
        say(&mut io, t, &format!("RCPT TO:<{r}>")).await.map_err(err)?;
        let (code, text) = reply(&mut io, t).await.map_err(err)?;
        if code / 100 == 2 {
            any = true;
        } else {
            out.refused.push((r.to_string(), text));
        }
    }
    if any {
        say(&mut io, t, "DATA").await.map_err(err)?;
        let (code, _) = reply(&mut io, t).await.map_err(err)?;
        if code == 354 {
            let text = String::from_utf8_lossy(message);
            let mut data = String::with_capacity(message.len() + 64);
            for line in text.split("\r\n") {
                // RFC 5321 section 4.5.2: a leading dot is doubled.
                if line.starts_with('.') {
                    data.push('.');
                }
                data.push_str(line);
                data.push_str("\r\n");
            }
            if data.ends_with("\r\n\r\n") {
                data.truncate(data.len() - 2);
            }
            data.push_str(".\r\n");
            t.push(format!("C: <message, {} bytes>", message.len()));
            io.get_mut()
                .write_all(data.as_bytes())
                .await
                .map_err(|e| err(e.to_string()))?;
            let (code, _) = reply(&mut io, t).await.map_err(err)?;
            out.accepted = code / 100 == 2;
        }
    }
    let t = &mut out.transcript;
    let _ = say(&mut io, t, "QUIT").await;
    let _ = reply(&mut io, t).await;
    Ok(out)
}
