//! A small HTTP/1.1 GET client for the one thing mxdoctor fetches over plain HTTP: a
//! certificate at an AIA caIssuers URI (RFC 5280 section 4.2.2.1, which expects `http:`).
//!
//! Bounded like every other read: the whole exchange within the timeout, the response within
//! `max_bytes`, no redirects followed, no chunked bodies. Names are resolved through the run's
//! `Dns` and dialled through the `Connector`, so the lab's address map and its rule (an unmapped
//! address is never dialled) hold here too.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Connector, Dns};

/// Largest response read (a certificate is a few KiB; a chain bundle a little more).
pub const MAX_RESPONSE: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("not an http:// URL: {0}")]
    Url(String),
    #[error("{0}")]
    Dns(String),
    #[error("{0}")]
    Connect(String),
    #[error("no complete answer within {0} s")]
    Timeout(u64),
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("not an HTTP response: {0}")]
    Protocol(String),
}

/// A parsed `http://host[:port]/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl HttpUrl {
    pub fn parse(url: &str) -> Result<Self, FetchError> {
        let bad = || FetchError::Url(url.to_string());
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("HTTP://"))
            .ok_or_else(bad)?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') || authority.is_empty() || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(bad());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| bad())?),
            None => (authority, 80),
        };
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

/// GETs `url` and returns the body of a 200 response.
pub async fn get(
    dns: &Dns,
    connector: &Connector,
    url: &str,
    timeout: Duration,
    max_bytes: usize,
) -> Result<Vec<u8>, FetchError> {
    let u = HttpUrl::parse(url)?;
    let work = async {
        let ips = dns
            .lookup_ip(&u.host)
            .await
            .map_err(|e| FetchError::Dns(e.to_string()))?;
        let ip = *ips
            .first()
            .ok_or_else(|| FetchError::Dns(format!("{} has no address", u.host)))?;
        let mut stream = connector
            .connect(SocketAddr::new(ip, u.port), timeout)
            .await
            .map_err(|e| FetchError::Connect(e.to_string()))?;
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: mxdoctor\r\nAccept: */*\r\nConnection: close\r\n\r\n",
            u.path, u.host
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| FetchError::Connect(e.to_string()))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|e| FetchError::Protocol(e.to_string()))?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            if buf.len() > max_bytes {
                return Err(FetchError::TooLarge(max_bytes));
            }
        }
        parse_response(&buf)
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or(Err(FetchError::Timeout(timeout.as_secs())))
}

/// The body of a complete `HTTP/1.x 200` response (Content-Length honoured when present).
pub fn parse_response(buf: &[u8]) -> Result<Vec<u8>, FetchError> {
    let (head, body) = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|end| buf.split_at(end))
        .ok_or_else(|| FetchError::Protocol("no end of header".into()))?;
    let body = body.get(4..).unwrap_or_default();
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split(' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(FetchError::Protocol(status_line.chars().take(60).collect()));
    }
    let status: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| FetchError::Protocol(status_line.chars().take(60).collect()))?;
    if status != 200 {
        // Redirects are not followed: a caIssuers URI must answer itself.
        return Err(FetchError::Status(status));
    }
    let mut length = None;
    for l in lines {
        let Some((k, v)) = l.split_once(':') else { continue };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        if k == "transfer-encoding" && !v.eq_ignore_ascii_case("identity") {
            return Err(FetchError::Protocol(format!("transfer-encoding {v} is not supported")));
        }
        if k == "content-length" {
            length = Some(
                v.parse::<usize>()
                    .map_err(|_| FetchError::Protocol(format!("content-length {v}")))?,
            );
        }
    }
    match length {
        Some(n) => body
            .get(..n)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| FetchError::Protocol(format!("body cut short at {} of {n} bytes", body.len()))),
        None => Ok(body.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = HttpUrl::parse("http://ca.example:8080/int.der").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("ca.example", 8080, "/int.der")
        );
        assert_eq!(HttpUrl::parse("http://ca.example").unwrap().path, "/");
        for bad in [
            "https://ca.example/x",
            "ldap://x",
            "http://user@ca.example/",
            "http:///x",
            "http://a b/",
        ] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn responses() {
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef").unwrap(),
            b"abc"
        );
        assert_eq!(parse_response(b"HTTP/1.0 200 OK\r\n\r\nxyz").unwrap(), b"xyz");
        assert_eq!(
            parse_response(b"HTTP/1.1 301 Moved\r\nLocation: /y\r\n\r\n").unwrap_err(),
            FetchError::Status(301)
        );
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").is_err());
        assert!(parse_response(b"+OK pop3\r\n\r\n").is_err());
    }
}
