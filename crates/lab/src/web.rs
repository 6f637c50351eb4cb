//! The lab's HTTPS sites: hyper 1 over the same rustls stack as the mail servers. They serve
//! what a domain publishes on the web for mail (the MTA-STS policy, a BIMI logo), and the
//! misbehaviours a checker must survive: another status, a redirect, the wrong Content-Type, a
//! body of many MiB, an answer that never comes in time.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::world::FileSpec;

/// How long a client may take to send its request head (a lab is never held open for ever).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// One file as served: the spec, and its body built once.
struct Served {
    spec: FileSpec,
    body: Bytes,
}

pub fn spawn(listener: TcpListener, acceptor: TlsAcceptor, files: &[FileSpec]) -> tokio::task::JoinHandle<()> {
    let files: Arc<Vec<Served>> = Arc::new(
        files
            .iter()
            .map(|f| {
                let mut body = f.body.clone().into_bytes();
                if let Some(n) = f.size {
                    body.resize(n.min(crate::world::MAX_FILE_SIZE), b'x');
                }
                Served {
                    spec: f.clone(),
                    body: Bytes::from(body),
                }
            })
            .collect(),
    );
    crate::smtp::accept_loop(listener, move |stream| {
        let (files, acceptor) = (files.clone(), acceptor.clone());
        async move {
            let Ok(Ok(tls)) = tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req| answer(files.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        }
    })
}

async fn answer<B>(files: Arc<Vec<Served>>, req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(file) = files.iter().find(|f| f.spec.path == req.uri().path()) else {
        return Ok(plain(StatusCode::NOT_FOUND, "not found"));
    };
    if file.spec.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(file.spec.delay_ms)).await;
    }
    let mut r = Response::new(Full::new(file.body.clone()));
    *r.status_mut() = StatusCode::from_u16(file.spec.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = file.spec.content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    if let Some(v) = file.spec.location.as_deref().and_then(|l| l.parse().ok()) {
        r.headers_mut().insert(hyper::header::LOCATION, v);
    }
    Ok(r)
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r
}
