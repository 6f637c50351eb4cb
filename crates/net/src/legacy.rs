//! Which TLS versions older than 1.2 a server accepts. rustls cannot speak TLS 1.0/1.1, so we
//! send a raw ClientHello for exactly one version and read what comes back (a ServerHello for
//! that version = accepted; an alert or a higher version = refused). No key exchange is done.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use mxdoctor_proto::tls_hello::{ServerResponse, TlsVersion, alert_name, client_hello, parse_server_response};

use crate::connect::Connector;
use crate::smtp::{Security, SmtpConn, SmtpError};

/// Largest first answer we read: a ServerHello record fits easily.
const MAX_HELLO_READ: usize = 16 * 1024 + 512;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum LegacyResult {
    /// The server answered with a ServerHello for this very version.
    Accepted { version: TlsVersion, cipher: u16 },
    /// The server answered with another version (it would not speak the one offered).
    OtherVersion { offered: TlsVersion, answered: TlsVersion },
    /// A TLS alert, e.g. protocol_version.
    Refused { alert: String },
    /// The connection closed without a TLS answer.
    Closed,
    /// Could not get as far as the ClientHello (SMTP problem, connect error, timeout).
    NotTested { reason: String },
    /// Not offered on its own: the answer to a hello offering up to `by` settles it. A server
    /// that accepts an older version answers a newer hello with it (RFC 5246 appendix E.1),
    /// so one that refused `by` outright refuses this one too.
    Covered { by: TlsVersion },
}

impl LegacyResult {
    pub fn accepted(&self) -> bool {
        matches!(self, LegacyResult::Accepted { .. })
    }
}

/// Offers exactly `version` to the server at `addr`, after STARTTLS when `security` says so.
pub async fn probe_version(
    connector: &Connector,
    addr: SocketAddr,
    security: Security,
    sni: Option<&str>,
    ehlo_name: &str,
    version: TlsVersion,
    timeout: Duration,
) -> LegacyResult {
    let started = Instant::now();
    let stream = match connector.connect(addr, timeout).await {
        Ok(s) => s,
        Err(e) => {
            return LegacyResult::NotTested { reason: e.to_string() };
        }
    };
    let mut io: crate::smtp::BoxIo = Box::new(stream);
    if security == Security::Starttls {
        let mut conn = SmtpConn::new(io, started, timeout);
        let step = async {
            let banner = conn.read_reply("banner").await?;
            if banner.code != 220 {
                return Err(SmtpError::NotSmtp {
                    stage: "banner".into(),
                    detail: banner.text(),
                });
            }
            let ehlo = conn.command(&format!("EHLO {ehlo_name}"), "EHLO reply").await?;
            if !mxdoctor_proto::smtp::parse_ehlo(&ehlo).starttls {
                return Err(SmtpError::NotSmtp {
                    stage: "EHLO".into(),
                    detail: "STARTTLS not offered".into(),
                });
            }
            let r = conn.command("STARTTLS", "STARTTLS reply").await?;
            if r.code != 220 {
                return Err(SmtpError::NotSmtp {
                    stage: "STARTTLS".into(),
                    detail: r.text(),
                });
            }
            conn.take_io()
        };
        io = match step.await {
            Ok(io) => io,
            Err(e) => {
                return LegacyResult::NotTested { reason: e.to_string() };
            }
        };
    }
    let mut random = [0u8; 32];
    // Not secret: a probe that never completes a handshake. Vary it anyway so middleboxes do
    // not see identical hellos.
    let nanos = started.elapsed().as_nanos() as u64 ^ 0x9e37_79b9_7f4a_7c15;
    for (i, b) in random.iter_mut().enumerate() {
        *b = (nanos.rotate_left(i as u32 * 7) & 0xff) as u8;
    }
    let hello = client_hello(version, sni, random);
    if tokio::time::timeout(timeout, io.write_all(&hello))
        .await
        .map(|r| r.is_err())
        .unwrap_or(true)
    {
        return LegacyResult::Closed;
    }
    let mut buf = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match parse_server_response(&buf) {
            ServerResponse::Hello { version: v, cipher } => {
                return if v == version {
                    LegacyResult::Accepted { version: v, cipher }
                } else {
                    LegacyResult::OtherVersion {
                        offered: version,
                        answered: v,
                    }
                };
            }
            ServerResponse::Alert { description, .. } => {
                return LegacyResult::Refused {
                    alert: alert_name(description).to_string(),
                };
            }
            ServerResponse::NotTls => {
                return LegacyResult::NotTested {
                    reason: "the answer was not TLS".into(),
                };
            }
            ServerResponse::Incomplete => {}
        }
        if buf.len() >= MAX_HELLO_READ {
            return LegacyResult::NotTested {
                reason: "over-long answer to the ClientHello".into(),
            };
        }
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, io.read(&mut chunk)).await {
            Err(_) => {
                return LegacyResult::NotTested {
                    reason: "no answer to the ClientHello in time".into(),
                };
            }
            Ok(Err(_)) | Ok(Ok(0)) => return LegacyResult::Closed,
            Ok(Ok(n)) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
}
