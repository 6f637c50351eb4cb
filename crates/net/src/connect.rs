//! Where TCP connections go: straight to the Internet, or (in lab mode) only through the lab's
//! address map. In lab mode an unmapped address is refused *before* any socket is created, so a
//! documentation-range or public address is never dialled.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;

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

/// How the tool reaches servers.
#[derive(Debug, Clone)]
pub enum Connector {
    /// Live Internet: dial the address as given.
    Direct,
    /// Lab: dial only through the map.
    Lab(Arc<AddressMap>),
    /// A public deployment (`mxdoctor serve`): the inner route, for public addresses only.
    /// Under a lab, the documentation ranges are the lab's Internet and count as public;
    /// every other special-purpose range is still refused.
    PublicOnly(Box<Connector>),
}

impl Connector {
    /// Where a connection to `addr` would really go, without dialling.
    pub fn route(&self, addr: SocketAddr) -> Result<SocketAddr, ConnectError> {
        match self {
            Connector::Direct => Ok(addr),
            Connector::Lab(map) => map.get(&addr).ok_or(ConnectError::Unmapped { addr }),
            Connector::PublicOnly(inner) => {
                let lab_internet = inner.is_lab() && crate::public::is_documentation(addr.ip());
                match crate::public::non_public_range(addr.ip()) {
                    Some(range) if !lab_internet => Err(ConnectError::NotPublic {
                        addr,
                        range: range.to_string(),
                    }),
                    _ => inner.route(addr),
                }
            }
        }
    }

    /// The same route, refusing every non-public address (see [`Connector::PublicOnly`]).
    pub fn public_only(self) -> Connector {
        match self {
            already @ Connector::PublicOnly(_) => already,
            inner => Connector::PublicOnly(Box::new(inner)),
        }
    }

    pub fn is_lab(&self) -> bool {
        match self {
            Connector::Lab(_) => true,
            Connector::PublicOnly(inner) => inner.is_lab(),
            Connector::Direct => false,
        }
    }

    /// Opens a TCP connection to the world address `addr` within `timeout`.
    pub async fn connect(&self, addr: SocketAddr, timeout: Duration) -> Result<TcpStream, ConnectError> {
        let target = self.route(addr)?;
        match tokio::time::timeout(timeout, TcpStream::connect(target)).await {
            Err(_) => Err(ConnectError::Timeout { addr, after: timeout }),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Err(ConnectError::Refused { addr }),
            Ok(Err(e)) => Err(ConnectError::Other {
                addr,
                message: e.to_string(),
            }),
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                Ok(stream)
            }
        }
    }
}
