//! HTTPS GET for what a domain publishes on the web for mail: the MTA-STS policy (RFC 8461
//! section 3.3) and the BIMI logo. The server's certificate is recorded (the same recording
//! verifier as every handshake) and judged by the caller for the host asked; redirects are
//! reported, never followed (RFC 8461 section 3.3: "HTTP 3xx redirects MUST NOT be
//! followed"); the body is read up to a bound and no further; one timeout covers the whole
//! exchange, so a slow server ends as a timeout, not a hang. Names are resolved through the
//! run's `Dns` and dialled through the `Connector`, so the lab's address map holds here too.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::tls::{BOTH, TlsFailure, TlsOutcome, TlsSettings, handshake};
use crate::{Connector, Dns};

/// Largest response head read.
const MAX_HEAD: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum HttpsError {
    #[error("not an https:// URL: {url}")]
    Url { url: String },
    #[error("{detail}")]
    Dns { detail: String },
    #[error("{detail}")]
    Connect { detail: String },
    #[error("TLS: {failure}")]
    Tls { failure: TlsFailure },
    #[error("no complete answer within {secs} s")]
    Timeout { secs: u64 },
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("not an HTTP response: {detail}")]
    Protocol { detail: String },
}

/// A parsed `https://host[:port]/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsUrl {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl HttpsUrl {
    pub fn parse(url: &str) -> Result<Self, HttpsError> {
        let bad = || HttpsError::Url { url: url.to_string() };
        let rest = url.strip_prefix("https://").ok_or_else(bad)?;
        let (authority, path) = match rest.find(['/', '?', '#']).map(|i| rest.split_at(i)) {
            Some((authority, path)) if path.starts_with('/') => (authority, path),
            Some(_) => return Err(bad()),
            None => (rest, "/"),
        };
        if authority.contains('@') || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(bad());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| bad())?),
            None => (authority, 443),
        };
        let host = host.trim_end_matches('.');
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            return Err(bad());
        }
        Ok(Self {
            host: host.to_ascii_lowercase(),
            port,
            path: path.to_string(),
        })
    }
}

/// One response, whatever its status.
#[derive(Debug, Clone, Serialize)]
pub struct Response {
    pub status: u16,
    /// The Content-Type header as sent.
    pub content_type: Option<String>,
    /// The Location header of a redirect (reported, never followed).
    pub location: Option<String>,
    #[serde(skip)]
    pub body: Vec<u8>,
    pub tls: TlsOutcome,
}

/// GETs `url`: the response (any status) with the server's certificate as seen.
pub async fn get(
    dns: &Dns,
    connector: &Connector,
    settings: &TlsSettings,
    url: &str,
    timeout: Duration,
    max_body: usize,
) -> Result<Response, HttpsError> {
    let u = HttpsUrl::parse(url)?;
    let work = async {
        let ips = dns
            .lookup_ip(&u.host)
            .await
            .map_err(|e| HttpsError::Dns { detail: e.to_string() })?;
        let ip = *ips.first().ok_or_else(|| HttpsError::Dns {
            detail: format!("{} has no address", u.host),
        })?;
        let tcp = connector
            .connect(SocketAddr::new(ip, u.port), timeout)
            .await
            .map_err(|e| HttpsError::Connect { detail: e.to_string() })?;
        let (mut stream, tls) = handshake(tcp, &u.host, true, BOTH, settings)
            .await
            .map_err(|failure| HttpsError::Tls { failure })?;
        // HTTP/1.0 with Host: the answer is the body up to the close, never chunked.
        let request = format!(
            "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: mxdoctor\r\nAccept: */*\r\nConnection: close\r\n\r\n",
            u.path, u.host
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| HttpsError::Connect { detail: e.to_string() })?;
        let buf = read_bounded(&mut stream, MAX_HEAD + max_body).await?;
        parse(&buf, max_body, tls)
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or(Err(HttpsError::Timeout {
            secs: timeout.as_secs(),
        }))
}

/// Reads to the end of the stream, or until more than `limit` bytes came (then stops reading:
/// a 10 MiB answer costs `limit` bytes of memory, not 10 MiB).
async fn read_bounded<S: tokio::io::AsyncRead + Unpin>(stream: &mut S, limit: usize) -> Result<Vec<u8>, HttpsError> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(n) => n,
            // A server that closes without close_notify has still sent what it sent.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(HttpsError::Protocol { detail: e.to_string() }),
        };
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if buf.len() > limit {
            return Ok(buf);
        }
    }
}

/// Splits a response into status, the headers that matter and the body (at most `max_body`).
pub fn parse(buf: &[u8], max_body: usize, tls: TlsOutcome) -> Result<Response, HttpsError> {
    let protocol = |detail: String| HttpsError::Protocol { detail };
    let (head, raw) = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .filter(|e| *e <= MAX_HEAD)
        .map(|end| buf.split_at(end))
        .ok_or_else(|| protocol("no end of the response head".into()))?;
    let raw = raw.get(4..).unwrap_or_default();
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split(' ');
    if !parts.next().unwrap_or_default().starts_with("HTTP/1.") {
        return Err(protocol(status_line.chars().take(60).collect()));
    }
    let status: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| protocol(status_line.chars().take(60).collect()))?;
    let (mut content_type, mut location, mut length, mut chunked) = (None, None, None, false);
    for l in lines {
        let Some((k, v)) = l.split_once(':') else { continue };
        let v = v.trim().to_string();
        match k.trim().to_ascii_lowercase().as_str() {
            "content-type" => content_type = Some(v),
            "location" => location = Some(v),
            "content-length" => length = v.parse::<usize>().ok(),
            "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    if length.is_some_and(|n| n > max_body) {
        return Err(HttpsError::TooLarge { limit: max_body });
    }
    let body = if chunked { dechunk(raw)? } else { raw.to_vec() };
    if body.len() > max_body {
        return Err(HttpsError::TooLarge { limit: max_body });
    }
    let body = match length {
        Some(n) => match body.get(..n) {
            Some(b) => b.to_vec(),
            None => return Err(protocol(format!("body cut short at {} of {n} bytes", body.len()))),
        },
        None => body,
    };
    Ok(Response {
        status,
        content_type,
        location,
        body,
        tls,
    })
}

/// RFC 9112 section 7.1 chunked coding (a server may use it even for HTTP/1.0; most do not).
fn dechunk(mut raw: &[u8]) -> Result<Vec<u8>, HttpsError> {
    let bad = |d: &str| HttpsError::Protocol {
        detail: format!("chunked body: {d}"),
    };
    let mut out = Vec::new();
    loop {
        let (size_line, rest) = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|i| raw.split_at(i))
            .ok_or_else(|| bad("no size line"))?;
        let size_text = String::from_utf8_lossy(size_line);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or_default().trim(), 16)
            .map_err(|_| bad("bad size"))?;
        raw = rest.get(2..).unwrap_or_default();
        if size == 0 {
            return Ok(out);
        }
        // The chunk, then its CRLF.
        let (chunk, rest) = raw.split_at_checked(size).ok_or_else(|| bad("cut short"))?;
        out.extend_from_slice(chunk);
        raw = rest.get(2..).ok_or_else(|| bad("cut short"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = HttpsUrl::parse("https://mta-sts.example.com/.well-known/mta-sts.txt").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("mta-sts.example.com", 443));
        assert_eq!(u.path, "/.well-known/mta-sts.txt");
        for bad in [
            "http://x.example/",
            "https://u@x.example/",
            "https:///",
            "https://a b/",
            "https://x?y",
        ] {
            assert!(HttpsUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rfc9112_section_7_1_chunked() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").unwrap(), b"abcde");
        assert!(dechunk(b"ff\r\nabc").is_err());
        assert!(dechunk(b"zz\r\n").is_err());
    }
}
