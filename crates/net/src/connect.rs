//! Where TCP connections go: straight to the Internet, or (in lab mode) only through the lab's
//! address map. In lab mode an unmapped address is refused *before* any socket is created, so a
//! documentation-range or public address is never dialled.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use std::pin::Pin;
use std::task::{Context, Poll};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::gate::{Gate, Permit};
use crate::timeline::{ConnectionTrace, Timeline};

/// World address and port -> loopback socket that plays it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AddressMap {
    entries: BTreeMap<SocketAddr, SocketAddr>,
}

impl AddressMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a mapping. The target must be a loopback address; anything else is rejected so a
    /// hand-written map cannot turn the lab into a way of reaching other hosts.
    pub fn insert(&mut self, world: SocketAddr, target: SocketAddr) -> Result<(), ConnectError> {
        if !target.ip().is_loopback() {
            return Err(ConnectError::NotLoopback { target });
        }
        self.entries.insert(world, target);
        Ok(())
    }

    pub fn get(&self, world: &SocketAddr) -> Option<SocketAddr> {
        self.entries.get(world).copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&SocketAddr, &SocketAddr)> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Parses `WORLD_IP:PORT=127.0.0.1:PORT` pairs separated by commas (the `--connect-map` form).
    pub fn parse_pairs(text: &str) -> Result<Self, String> {
        let mut map = Self::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (w, t) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not of the form WORLD_ADDR:PORT=127.0.0.1:PORT"))?;
            let w: SocketAddr = w.trim().parse().map_err(|e| format!("`{w}`: {e}"))?;
            let t: SocketAddr = t.trim().parse().map_err(|e| format!("`{t}`: {e}"))?;
            map.insert(w, t).map_err(|e| e.to_string())?;
        }
        Ok(map)
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ConnectError {
    #[error("lab mode: {addr} is not in the lab's address map, so it was not dialled")]
    Unmapped { addr: SocketAddr },
    #[error("address map target {target} is not a loopback address")]
    NotLoopback { target: SocketAddr },
    #[error("{addr} is in a non-public range ({range}); a public deployment never dials it")]
    NotPublic { addr: SocketAddr, range: String },
    #[error("connection to {addr} refused")]
    Refused { addr: SocketAddr },
    #[error("connection to {addr} timed out after {after:?}")]
    Timeout { addr: SocketAddr, after: Duration },
    #[error("connection to {addr} failed: {message}")]
    Other { addr: SocketAddr, message: String },
}

/// Where a connection goes.
#[derive(Debug, Clone)]
pub enum Route {
    /// Live Internet: dial the address as given.
    Direct,
    /// Lab: dial only through the map.
    Lab(Arc<AddressMap>),
    /// A public deployment (`mxdoctor serve`): the inner route, for public addresses only.
    /// Under a lab, the documentation ranges are the lab's Internet and count as public;
    /// every other special-purpose range is still refused.
    PublicOnly(Box<Route>),
}

impl Route {
    fn resolve(&self, addr: SocketAddr) -> Result<SocketAddr, ConnectError> {
        match self {
            Route::Direct => Ok(addr),
            Route::Lab(map) => map.get(&addr).ok_or(ConnectError::Unmapped { addr }),
            Route::PublicOnly(inner) => {
                let lab_internet = inner.is_lab() && crate::public::is_documentation(addr.ip());
                match crate::public::non_public_range(addr.ip()) {
                    Some(range) if !lab_internet => Err(ConnectError::NotPublic {
                        addr,
                        range: range.to_string(),
                    }),
                    _ => inner.resolve(addr),
                }
            }
        }
    }

    fn is_lab(&self) -> bool {
        match self {
            Route::Lab(_) => true,
            Route::PublicOnly(inner) => inner.is_lab(),
            Route::Direct => false,
        }
    }
}

/// How the tool reaches servers: the route, the politeness gate shared by every run of the
/// process, and (when a run is traced) the run's timeline. Every connection of every probe
/// (SMTP, TLS, legacy TLS, HTTP) goes through [`Connector::connect`], so the limits and the
/// record hold for all of them.
#[derive(Debug, Clone)]
pub struct Connector {
    route: Route,
    gate: Option<Arc<Gate>>,
    timeline: Option<Timeline>,
}

impl Connector {
    /// The live Internet, with the default politeness limits.
    pub fn direct() -> Self {
        Self::with_route(Route::Direct)
    }

    /// Only the lab's address map, with the default politeness limits.
    pub fn lab(map: AddressMap) -> Self {
        Self::with_route(Route::Lab(Arc::new(map)))
    }

    fn with_route(route: Route) -> Self {
        Self {
            route,
            gate: Some(Arc::new(Gate::default())),
            timeline: None,
        }
    }

    /// Where a connection to `addr` would really go, without dialling.
    pub fn route(&self, addr: SocketAddr) -> Result<SocketAddr, ConnectError> {
        self.route.resolve(addr)
    }

    /// The same route, refusing every non-public address (see [`Route::PublicOnly`]).
    pub fn public_only(mut self) -> Connector {
        if !matches!(self.route, Route::PublicOnly(_)) {
            self.route = Route::PublicOnly(Box::new(self.route));
        }
        self
    }

    /// The same connector with other politeness limits (None: unlimited).
    pub fn with_gate(mut self, gate: Option<Arc<Gate>>) -> Connector {
        self.gate = gate;
        self
    }

    pub fn gate(&self) -> Option<&Arc<Gate>> {
        self.gate.as_ref()
    }

    /// The same connector recording every connection on `timeline`.
    pub fn traced(mut self, timeline: Timeline) -> Connector {
        self.timeline = Some(timeline);
        self
    }

    pub fn is_lab(&self) -> bool {
        self.route.is_lab()
    }

    /// Opens a TCP connection to the world address `addr` within `timeout` (the wait for a
    /// politeness slot comes before, and does not count against it).
    pub async fn connect(&self, addr: SocketAddr, timeout: Duration) -> Result<Conn, ConnectError> {
        let target = self.route(addr)?;
        let permit = match &self.gate {
            Some(gate) => Some(gate.enter(addr.ip()).await),
            None => None,
        };
        let queued = permit.as_ref().map(|p| p.waited).unwrap_or_default();
        let trace = self.timeline.as_ref().map(|t| ConnectionTrace::begin(t, addr, queued));
        let result = match tokio::time::timeout(timeout, TcpStream::connect(target)).await {
            Err(_) => Err(ConnectError::Timeout { addr, after: timeout }),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Err(ConnectError::Refused { addr }),
            Ok(Err(e)) => Err(ConnectError::Other {
                addr,
                message: e.to_string(),
            }),
            Ok(Ok(stream)) => Ok(stream),
        };
        match result {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                Ok(Conn {
                    stream,
                    _permit: permit,
                    _trace: trace,
                })
            }
            Err(e) => {
                if let Some(t) = trace {
                    t.fail(match &e {
                        ConnectError::Timeout { .. } => "timeout",
                        ConnectError::Refused { .. } => "refused",
                        _ => "error",
                    });
                }
                Err(e)
            }
        }
    }
}

/// An open connection. It holds its politeness slot and its timeline step until dropped.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    _permit: Option<Permit>,
    _trace: Option<ConnectionTrace>,
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
