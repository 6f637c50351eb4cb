//! The lab's authoritative DNS: hickory-server on one loopback port (UDP and TCP), serving the
//! world's zone files plus a root zone, so that a name outside every zone gets an authoritative
//! NXDOMAIN and walks up the tree end cleanly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use std::collections::{HashMap, HashSet};

use hickory_proto::op::{Header, MessageType, Metadata, ResponseCode};
use hickory_proto::rr::{LowerName, Name, Record, RecordType};
use hickory_proto::serialize::txt::Parser;
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, MessageResponseBuilder, ZoneHandler, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

use crate::LabError;

const ROOT_ZONE: &str = "\
$ORIGIN .
$TTL 86400
@   IN SOA a.root-servers.lab. hostmaster.lab. ( 2026112301 1800 900 604800 3600 )
@   IN NS  a.root-servers.lab.
";

fn zone_handler(text: &str, file: &str) -> Result<(Name, Arc<dyn ZoneHandler>), LabError> {
    zone_handler_with(text, file, &[])
}

/// A zone from its file, plus extra records whose owner lies inside it.
fn zone_handler_with(text: &str, file: &str, extra: &[Record]) -> Result<(Name, Arc<dyn ZoneHandler>), LabError> {
    let (origin, records) = Parser::new(text, None, None)
        .parse()
        .map_err(|e| LabError::Zone(format!("{file}: {e}")))?;
    let mut handler = InMemoryZoneHandler::<hickory_server::net::runtime::TokioRuntimeProvider>::new(
        origin.clone(),
        records,
        ZoneType::Primary,
        AxfrPolicy::Deny,
    )
    .map_err(|e| LabError::Zone(format!("{file}: {e}")))?;
    for r in extra.iter().filter(|r| origin.zone_of(&r.name)) {
        handler.upsert_mut(r.clone(), 1);
    }
    Ok((origin, Arc::new(handler)))
}

/// A record of the deprecated SPF type (99): TXT's wire format under another type code.
pub fn spf_rr(name: &str, text: &str) -> Result<Record, LabError> {
    let owner = Name::from_ascii(format!("{}.", name.trim_end_matches('.')))
        .map_err(|e| LabError::World(format!("spf_rr {name}: {e}")))?;
    let mut wire = Vec::new();
    for chunk in text.as_bytes().chunks(255) {
        wire.push(chunk.len() as u8);
        wire.extend_from_slice(chunk);
    }
    let rdata = hickory_proto::rr::RData::Unknown {
        code: RecordType::Unknown(99),
        rdata: hickory_proto::rr::rdata::NULL::with(wire),
    };
    Ok(Record::from_rdata(owner, 300, rdata))
}

/// Builds the catalog: every zone file of the world (with `extra` records placed in the zone
/// that holds them), and the root.
pub fn catalog(zones: &[(String, String)], extra: &[Record]) -> Result<Catalog, LabError> {
    let mut catalog = Catalog::new();
    let mut seen_root = false;
    for (file, text) in zones {
        let (origin, handler) = zone_handler_with(text, file, extra)?;
        seen_root |= origin.is_root();
        if catalog.contains(&LowerName::from(&origin)) {
            return Err(LabError::Zone(format!("{file}: zone {origin} is defined twice")));
        }
        catalog.upsert(LowerName::from(&origin), vec![handler]);
    }
    if !seen_root {
        let (origin, handler) = zone_handler(ROOT_ZONE, "built-in root zone")?;
        catalog.upsert(LowerName::from(&origin), vec![handler]);
    }
    Ok(catalog)
}

/// How a name's questions are answered when the name server is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// RCODE 2: the server failed.
    ServFail,
    /// RCODE 5: the server refuses to answer (a closed resolver, a lame delegation).
    Refused,
    /// No answer at all: the client times out.
    Timeout,
}

/// Faults set while the lab runs (tests force each check into error in turn).
pub type Faults = Arc<std::sync::RwLock<HashMap<LowerName, Fault>>>;

/// The catalog, plus names that answer SERVFAIL (a broken or unreachable name server: the SPF
/// suite's TIMEOUT entries, DNS-failure scenarios) for every type but the exempt ones, and the
/// faults set at run time.
pub struct LabHandler {
    pub catalog: Catalog,
    pub servfail: HashMap<LowerName, HashSet<RecordType>>,
    pub faults: Faults,
    /// Held before every answer (a round trip's worth on loopback).
    pub latency: std::time::Duration,
}

impl LabHandler {
    fn fault(&self, request: &Request) -> Option<Fault> {
        let qs = request.queries.queries();
        let set = self.faults.read().ok()?;
        qs.iter().find_map(|q| set.get(q.name()).copied()).or_else(|| {
            qs.iter()
                .any(|q| {
                    self.servfail
                        .get(q.name())
                        .is_some_and(|exempt| !exempt.contains(&q.query_type()))
                })
                .then_some(Fault::ServFail)
        })
    }
}

#[async_trait::async_trait]
impl RequestHandler for LabHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let rcode = match self.fault(request) {
            None => return self.catalog.handle_request::<R, T>(request, response_handle).await,
            Some(Fault::ServFail) => ResponseCode::ServFail,
            Some(Fault::Refused) => ResponseCode::Refused,
            Some(Fault::Timeout) => {
                // Say nothing: the client's question times out.
                let mut metadata = Metadata::new(request.metadata.id, MessageType::Response, request.metadata.op_code);
                metadata.response_code = ResponseCode::ServFail;
                return ResponseInfo::from(Header {
                    metadata,
                    counts: Default::default(),
                });
            }
        };
        let response = MessageResponseBuilder::new(&request.queries, None).error_msg(&request.metadata, rcode);
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(_) => {
                let mut metadata = Metadata::new(request.metadata.id, MessageType::Response, request.metadata.op_code);
                metadata.response_code = rcode;
                ResponseInfo::from(Header {
                    metadata,
                    counts: Default::default(),
                })
            }
        }
    }
}

/// A catalog with one root zone holding `records` (any owner names), for data-driven tests
/// such as the RFC 7208 suite.
pub fn catalog_from_records(records: Vec<Record>) -> Result<Catalog, LabError> {
    let (origin, handler) = zone_handler(ROOT_ZONE, "built-in root zone")?;
    let mut zone = InMemoryZoneHandler::<hickory_server::net::runtime::TokioRuntimeProvider>::empty(
        origin.clone(),
        ZoneType::Primary,
        AxfrPolicy::Deny,
    );
    drop(handler);
    let (_, root_records) = Parser::new(ROOT_ZONE, None, None)
        .parse()
        .map_err(|e| LabError::Zone(format!("root zone: {e}")))?;
    for rrset in root_records.into_values() {
        for r in rrset.records_without_rrsigs() {
            zone.upsert_mut(r.clone(), 1);
        }
    }
    for r in records {
        zone.upsert_mut(r, 1);
    }
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::from(&origin), vec![Arc::new(zone)]);
    Ok(catalog)
}

/// Binds UDP and TCP on the same loopback port and starts serving.
pub async fn serve(catalog: Catalog) -> Result<(SocketAddr, Server<LabHandler>), LabError> {
    serve_with(LabHandler {
        catalog,
        servfail: HashMap::new(),
        faults: Faults::default(),
        latency: std::time::Duration::ZERO,
    })
    .await
}

/// A loopback UDP socket with a receive buffer of up to 4 MiB (the kernel caps it at
/// `net.core.rmem_max`). A scan sends thousands of questions at once; with the default buffer
/// (about 200 KiB) the kernel drops the overflow and each lost question costs the client a
/// retry timeout, so the lab would measure its own buffer, not the scanner.
fn big_udp_socket(at: SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(at), Type::DGRAM, Some(Protocol::UDP))?;
    let _ = socket.set_recv_buffer_size(4 << 20);
    socket.bind(&at.into())?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}

/// Like [`serve`], with SERVFAIL names.
pub async fn serve_with(handler: LabHandler) -> Result<(SocketAddr, Server<LabHandler>), LabError> {
    serve_on(handler, None).await
}

/// Like [`serve_with`], on `at` (UDP and TCP) when given: a loopback address only, e.g.
/// 127.0.0.53:53 for a peer tool that asks port 53 alone.
pub async fn serve_on(
    handler: LabHandler,
    at: Option<SocketAddr>,
) -> Result<(SocketAddr, Server<LabHandler>), LabError> {
    let io = |e: std::io::Error| LabError::Io(format!("DNS server: {e}"));
    let bound = match at {
        Some(addr) if !addr.ip().is_loopback() => {
            return Err(LabError::Io(format!("DNS server: {addr} is not a loopback address")));
        }
        Some(addr) => {
            let udp = big_udp_socket(addr).map_err(io)?;
            let tcp = TcpListener::bind(addr).await.map_err(io)?;
            Some((addr, udp, tcp))
        }
        None => {
            // Find a port free for both UDP and TCP.
            let mut bound = None;
            for _ in 0..20 {
                let udp = big_udp_socket(SocketAddr::from(([127, 0, 0, 1], 0))).map_err(io)?;
                let addr = udp.local_addr().map_err(io)?;
                if let Ok(tcp) = TcpListener::bind(addr).await {
                    bound = Some((addr, udp, tcp));
                    break;
                }
            }
            bound
        }
    };
    let (addr, udp, tcp) =
        bound.ok_or_else(|| LabError::Io("DNS server: no loopback port free for both UDP and TCP".into()))?;
    let mut server = Server::new(handler);
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(10), 64 * 1024);
    Ok((addr, server))
}
