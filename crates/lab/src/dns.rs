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
use hickory_server::dnssec::NxProofKind;
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

type LabZone = InMemoryZoneHandler<hickory_server::net::runtime::TokioRuntimeProvider>;

fn zone_handler(text: &str, file: &str) -> Result<(Name, Arc<dyn ZoneHandler>), LabError> {
    let (origin, zone) = zone_with(text, file, &[], None)?;
    Ok((origin, Arc::new(zone)))
}

/// A zone from its file, plus extra records whose owner lies inside it; signed (NSEC) when a
/// key is given.
fn zone_with(
    text: &str,
    file: &str,
    extra: &[Record],
    key: Option<crate::dnssec::ZoneKey>,
) -> Result<(Name, LabZone), LabError> {
    let (origin, records) = Parser::new(text, None, None)
        .parse()
        .map_err(|e| LabError::Zone(format!("{file}: {e}")))?;
    let mut handler = LabZone::new(
        origin.clone(),
        records,
        ZoneType::Primary,
        AxfrPolicy::Deny,
        key.as_ref().map(|_| NxProofKind::Nsec),
    )
    .map_err(|e| LabError::Zone(format!("{file}: {e}")))?;
    for r in extra.iter().filter(|r| origin.zone_of(&r.name)) {
        handler.upsert_mut(r.clone(), 1);
    }
    if let Some(key) = key {
        handler
            .add_zone_signing_key_mut(key.signer(&origin))
            .map_err(|e| LabError::Zone(format!("{file}: signing key: {e}")))?;
        handler
            .secure_zone_mut()
            .map_err(|e| LabError::Zone(format!("{file}: signing: {e}")))?;
    }
    Ok((origin, handler))
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

/// Which zones of a world are DNSSEC-signed (`[dnssec]` in world.toml).
#[derive(Debug, Clone, Default)]
pub struct Signing {
    /// Signed, with their DS in the root: secure.
    pub signed: Vec<String>,
    /// Signed, but the root holds the DS of another key: bogus.
    pub bogus: Vec<String>,
}

impl Signing {
    pub fn is_empty(&self) -> bool {
        self.signed.is_empty() && self.bogus.is_empty()
    }
}

/// What the lab's DNS serves: the catalog and, for a signed world, the parents' side (the DS
/// of a zone is its parent's answer, RFC 4035 section 2.4) and the root's trust anchor.
pub struct Served {
    pub catalog: Catalog,
    pub parents: Option<Catalog>,
    pub anchor: Option<String>,
}

/// Builds the catalog: every zone file of the world (with `extra` records placed in the zone
/// that holds them), and the root.
pub fn catalog(zones: &[(String, String)], extra: &[Record]) -> Result<Catalog, LabError> {
    Ok(served(zones, extra, &Signing::default())?.catalog)
}

/// Like [`catalog`], signing what `signing` names. With signing, the built-in root delegates
/// every zone of the world and is signed too; its key is the trust anchor.
pub fn served(zones: &[(String, String)], extra: &[Record], signing: &Signing) -> Result<Served, LabError> {
    let origin_of = |n: &str| Name::from_ascii(format!("{}.", n.trim_end_matches('.')));
    let wanted = |list: &[String], origin: &Name| list.iter().any(|n| origin_of(n).is_ok_and(|o| &o == origin));
    let mut catalog = Catalog::new();
    let mut seen_root = false;
    let mut root_extra: Vec<Record> = Vec::new();
    let mut origins: Vec<Name> = Vec::new();
    for (file, text) in zones {
        let origin = Parser::new(text, None, None)
            .parse()
            .map_err(|e| LabError::Zone(format!("{file}: {e}")))?
            .0;
        let key = match (wanted(&signing.signed, &origin), wanted(&signing.bogus, &origin)) {
            (false, false) => None,
            (secure, _) => {
                let key = crate::dnssec::ZoneKey::generate()?;
                // A bogus zone's parent vouches for a key the zone does not use.
                let vouched = if secure {
                    key.ds(&origin)?
                } else {
                    crate::dnssec::ZoneKey::generate()?.ds(&origin)?
                };
                root_extra.push(vouched);
                Some(key)
            }
        };
        let (origin, zone) = zone_with(text, file, extra, key)?;
        seen_root |= origin.is_root();
        if catalog.contains(&LowerName::from(&origin)) {
            return Err(LabError::Zone(format!("{file}: zone {origin} is defined twice")));
        }
        origins.push(origin.clone());
        catalog.upsert(LowerName::from(&origin), vec![Arc::new(zone)]);
    }
    for name in signing.signed.iter().chain(&signing.bogus) {
        if !origin_of(name).is_ok_and(|o| origins.contains(&o)) {
            return Err(LabError::World(format!("[dnssec] {name} is not a zone of this world")));
        }
    }
    if seen_root && !signing.is_empty() {
        return Err(LabError::World("a signed world uses the built-in root zone".into()));
    }
    if seen_root {
        return Ok(Served {
            catalog,
            parents: None,
            anchor: None,
        });
    }
    if signing.is_empty() {
        let (origin, handler) = zone_handler(ROOT_ZONE, "built-in root zone")?;
        catalog.upsert(LowerName::from(&origin), vec![handler]);
        return Ok(Served {
            catalog,
            parents: None,
            anchor: None,
        });
    }
    // The root delegates every zone (insecure ones by NS alone: NSEC proves there is no DS).
    for origin in &origins {
        let ns = hickory_proto::rr::rdata::NS(
            Name::from_ascii("a.root-servers.lab.").map_err(|e| LabError::Zone(e.to_string()))?,
        );
        root_extra.push(Record::from_rdata(
            origin.clone(),
            300,
            hickory_proto::rr::RData::NS(ns),
        ));
    }
    let root_key = crate::dnssec::ZoneKey::generate()?;
    let anchor = root_key.anchor();
    let (root, root_zone) = zone_with(ROOT_ZONE, "built-in root zone", &root_extra, Some(root_key))?;
    let root_zone: Arc<dyn ZoneHandler> = Arc::new(root_zone);
    catalog.upsert(LowerName::from(&root), vec![root_zone.clone()]);
    let mut parents = Catalog::new();
    parents.upsert(LowerName::from(&root), vec![root_zone]);
    Ok(Served {
        catalog,
        parents: Some(parents),
        anchor: Some(anchor),
    })
}

/// How a name's questions are answered when the name server is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// RCODE 2: the server failed.
    #[serde(rename = "servfail")]
    ServFail,
    /// RCODE 5: the server refuses to answer (a closed resolver, a lame delegation).
    Refused,
    /// No answer at all: the client times out.
    Timeout,
    /// Over UDP, an empty answer with the TC bit set (RFC 1035 section 4.1.1): the client
    /// must ask again over TCP, where the real answer is given.
    Truncate,
    /// An answer whose transaction id is not the question's (RFC 5452 section 4.3: a client
    /// drops it, as it would a spoofed answer).
    WrongId,
    /// An answer about another name (question and records): what a confused server or a
    /// spoofer sends. Clients drop it (RFC 5452 section 9.1) and time out.
    WrongName,
}

/// Faults set while the lab runs (tests force each check into error in turn).
pub type Faults = Arc<std::sync::RwLock<HashMap<LowerName, Fault>>>;

/// The catalog, plus names that answer SERVFAIL (a broken or unreachable name server: the SPF
/// suite's TIMEOUT entries, DNS-failure scenarios) for every type but the exempt ones, and the
/// faults set at run time.
pub struct LabHandler {
    pub catalog: Catalog,
    /// A signed world's parents: where the DS of a zone apex is answered.
    pub parents: Option<Catalog>,
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
        let fault = self.fault(request);
        let rcode = match fault {
            None => {
                // RFC 4035 section 2.4: a DS record lives in the parent zone. One server here
                // serves parent and child, and would answer from the child; send the question
                // about a zone apex's DS to the parents instead.
                if let Some(parents) = &self.parents
                    && request.queries.queries().iter().any(|q| {
                        q.query_type() == RecordType::DS && !q.name().is_root() && self.catalog.contains(q.name())
                    })
                {
                    return parents.handle_request::<R, T>(request, response_handle).await;
                }
                return self.catalog.handle_request::<R, T>(request, response_handle).await;
            }
            Some(Fault::Truncate) if request.protocol() != hickory_server::net::xfer::Protocol::Udp => {
                // Over TCP the whole answer (RFC 7766 section 5).
                return self.catalog.handle_request::<R, T>(request, response_handle).await;
            }
            Some(fault @ (Fault::Truncate | Fault::WrongId | Fault::WrongName)) => {
                return misbehave(fault, request, response_handle).await;
            }
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

/// The answers of a server that breaks the protocol: an empty truncated answer over UDP, an
/// answer under another transaction id, or records owned by a name that was not asked about.
async fn misbehave<R: ResponseHandler>(fault: Fault, request: &Request, mut response_handle: R) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.authoritative = true;
    let mut answers: Vec<Record> = Vec::new();
    let mut queries: Option<hickory_server::zone_handler::Queries> = None;
    match fault {
        Fault::Truncate => metadata.truncation = true,
        Fault::WrongId => metadata.id = request.metadata.id.wrapping_add(1),
        _ => {
            // Plausible data (an address, an SPF-like text) for a name next to the one asked.
            let owner = Name::from_ascii("not-the-question.invalid.").unwrap_or_else(|_| Name::root());
            for q in request.queries.queries() {
                let data = match q.query_type() {
                    RecordType::AAAA => hickory_proto::rr::RData::AAAA(
                        std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x66).into(),
                    ),
                    RecordType::TXT => {
                        hickory_proto::rr::RData::TXT(hickory_proto::rr::rdata::TXT::new(vec!["v=spf1 +all".into()]))
                    }
                    RecordType::MX => {
                        hickory_proto::rr::RData::MX(hickory_proto::rr::rdata::MX::new(10, owner.clone()))
                    }
                    _ => hickory_proto::rr::RData::A(std::net::Ipv4Addr::new(192, 0, 2, 66).into()),
                };
                answers.push(Record::from_rdata(owner.clone(), 300, data));
            }
            // The whole answer is about that other name, its question included.
            queries = other_question(&owner, request);
        }
    }
    let response = MessageResponseBuilder::new(queries.as_ref().unwrap_or(&request.queries), None).build(
        metadata,
        answers.iter(),
        [],
        [],
        [],
    );
    match response_handle.send_response(response).await {
        Ok(info) => info,
        Err(_) => ResponseInfo::from(Header {
            metadata,
            counts: Default::default(),
        }),
    }
}

/// The request's question section, asked about `owner` instead (the same types).
fn other_question(owner: &Name, request: &Request) -> Option<hickory_server::zone_handler::Queries> {
    use hickory_proto::serialize::binary::{BinDecoder, BinEncodable, BinEncoder};
    let mut wire = Vec::new();
    let mut encoder = BinEncoder::new(&mut wire);
    let asked = request.queries.queries();
    for q in asked {
        hickory_proto::op::Query::query(owner.clone(), q.query_type())
            .emit(&mut encoder)
            .ok()?;
    }
    hickory_server::zone_handler::Queries::read(&mut BinDecoder::new(&wire), asked.len()).ok()
}

/// A catalog with one root zone holding `records` (any owner names), for data-driven tests
/// such as the RFC 7208 suite.
pub fn catalog_from_records(records: Vec<Record>) -> Result<Catalog, LabError> {
    let (origin, handler) = zone_handler(ROOT_ZONE, "built-in root zone")?;
    let mut zone = LabZone::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny, None);
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
        parents: None,
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
