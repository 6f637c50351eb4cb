//! The lab's CA publication point: a minimal HTTP/1.1 server on loopback that serves the lab's
//! CA certificates (DER, `application/pkix-cert`) at the caIssuers URIs written into the
//! certificates it issues. The world address `ca.mxdoctor-lab.example` (192.0.2.254:80) is
//! mapped to it, so mxdoctor's AIA fetch goes through the same address map as everything else.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::ca::{AIA_ADDR, AIA_HOST};

/// The zone that gives the publication point its address, added when a world has none:
/// (file name, origin, zone text).
pub fn zone() -> (String, String, String) {
    let origin = AIA_HOST.split_once('.').map(|(_, o)| o).unwrap_or(AIA_HOST);
    let text = format!(
        "$ORIGIN {origin}.\n$TTL 300\n@ IN SOA ns1.{origin}. hostmaster.{origin}. ( 2026120101 3600 900 604800 60 )\n@ IN NS ns1.{origin}.\nns1 IN A {AIA_ADDR}\nca IN A {AIA_ADDR}\n"
    );
    (format!("{origin}.zone (built in)"), origin.to_string(), text)
}

/// Serves `files` (name -> DER) until the task is aborted.
pub fn spawn(listener: TcpListener, files: Vec<(String, Vec<u8>)>) -> tokio::task::JoinHandle<()> {
    let files = Arc::new(files);
    crate::smtp::accept_loop(listener, move |stream| {
        let files = files.clone();
        async move { serve(stream, &files).await }
    })
}

async fn serve(mut stream: TcpStream, files: &[(String, Vec<u8>)]) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    // The request head, bounded in size and time.
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let path = head
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("GET "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or("");
    let found = files
        .iter()
        .find(|(name, _)| path.strip_prefix('/') == Some(name.as_str()));
    let response = match found {
        Some((_, der)) => {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-cert\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                der.len()
            )
            .into_bytes();
            r.extend_from_slice(der);
            r
        }
        None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
    };
    let _ = stream.write_all(&response).await;
    let _ = stream.shutdown().await;
}
