//! The lab's authoritative DNS: hickory-server on one loopback port (UDP and TCP), serving the
//! world's zone files plus a root zone, so that a name outside every zone gets an authoritative
//! NXDOMAIN and walks up the tree end cleanly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::{LowerName, Name};
use hickory_proto::serialize::txt::Parser;
use hickory_server::Server;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

use crate::LabError;

const ROOT_ZONE: &str = "\
$ORIGIN .
$TTL 86400
@   IN SOA a.root-servers.lab. hostmaster.lab. ( 2026112301 1800 900 604800 3600 )
@   IN NS  a.root-servers.lab.
";

fn zone_handler(text: &str, file: &str) -> Result<(Name, Arc<dyn ZoneHandler>), LabError> {
    let (origin, records) = Parser::new(text, None, None)
        .parse()
        .map_err(|e| LabError::Zone(format!("{file}: {e}")))?;
    let handler = InMemoryZoneHandler::<hickory_server::net::runtime::TokioRuntimeProvider>::new(
        origin.clone(),
        records,
        ZoneType::Primary,
        AxfrPolicy::Deny,
    )
    .map_err(|e| LabError::Zone(format!("{file}: {e}")))?;
    Ok((origin, Arc::new(handler)))
}

/// Builds the catalog: every zone file of the world, and the root.
pub fn catalog(zones: &[(String, String)]) -> Result<Catalog, LabError> {
    let mut catalog = Catalog::new();
    let mut seen_root = false;
    for (file, text) in zones {
        let (origin, handler) = zone_handler(text, file)?;
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

/// Binds UDP and TCP on the same loopback port and starts serving.
pub async fn serve(catalog: Catalog) -> Result<(SocketAddr, Server<Catalog>), LabError> {
    let io = |e: std::io::Error| LabError::Io(format!("DNS server: {e}"));
    // Find a port free for both UDP and TCP.
    let mut bound = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.map_err(io)?;
        let addr = udp.local_addr().map_err(io)?;
        if let Ok(tcp) = TcpListener::bind(addr).await {
            bound = Some((addr, udp, tcp));
            break;
        }
    }
    let (addr, udp, tcp) =
        bound.ok_or_else(|| LabError::Io("DNS server: no loopback port free for both UDP and TCP".into()))?;
    let mut server = Server::new(catalog);
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(10), 64 * 1024);
    Ok((addr, server))
}
