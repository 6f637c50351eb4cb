//! The lab: a loopback world of real servers for the demo, the tests and preflight checks.
//!
//! A world (see `scenarios/README.md`) becomes: an authoritative DNS server (hickory-server)
//! for its zones plus a root zone, a fresh lab CA (rcgen) and the certificates it describes,
//! and SMTP/TLS servers on 127.0.0.1 ports. The address map sends each world address and port
//! to the loopback socket that plays it; in lab mode the client dials nothing else.

pub mod aia;
pub mod ca;
pub mod dns;
pub mod dnssec;
pub mod mta;
pub mod smtp;
pub mod web;
pub mod world;

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
}

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use mxdoctor_net::AddressMap;
use mxdoctor_proto::tls_hello::TlsVersion;

pub use world::{Demo, World};

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum LabError {
    #[error("{0}")]
    World(String),
    #[error("zone file {0}")]
    Zone(String),
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("TLS set-up: {0}")]
    Tls(String),
    #[error("{0}")]
    Io(String),
}

/// The names of the built-in scenarios, sorted.
pub fn builtin_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = builtin::FILES
        .iter()
        .filter_map(|(p, _)| p.strip_suffix("/world.toml"))
        .filter(|n| !n.contains('/'))
        .collect();
    names.sort();
    names
}

#[derive(Debug, Clone, Copy, Default)]
pub struct LabOptions {
    /// "Now" for relative certificate dates (tests and snapshots fix it).
    pub now: Option<OffsetDateTime>,
    /// Injected delay before every DNS answer and every SMTP reply (`mxdoctor lab --latency`),
    /// so benchmarks on loopback see real round trips. A server's own `latency_ms` wins.
    pub latency: std::time::Duration,
    /// Where the DNS server listens (a loopback address; default 127.0.0.1 on a free port).
    pub dns_addr: Option<SocketAddr>,
}

/// What another process needs to attach to a running lab (`--lab`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabState {
    pub world: String,
    pub resolver: SocketAddr,
    pub address_map: AddressMap,
    pub ca_pem: String,
    pub demo: Option<Demo>,
    /// The root key of a signed world (see [`Lab::dnssec_anchor`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnssec_anchor: Option<String>,
}

impl LabState {
    /// `$XDG_RUNTIME_DIR/mxdoctor/lab.json`, else `<tmp>/mxdoctor-lab/lab.json`.
    pub fn default_path() -> PathBuf {
        match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir).join("mxdoctor").join("lab.json"),
            None => std::env::temp_dir().join("mxdoctor-lab").join("lab.json"),
        }
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, json)
    }

    pub fn read(path: &Path) -> std::io::Result<Self> {
        let meta = std::fs::metadata(path)?;
        if meta.len() > 4 * 1024 * 1024 {
            return Err(std::io::Error::other("state file larger than 4 MiB"));
        }
        let text = std::fs::read_to_string(path)?;
        let state: LabState = serde_json::from_str(&text).map_err(std::io::Error::other)?;
        // Re-check what a hand-edited file could smuggle in: map targets must be loopback.
        let mut checked = AddressMap::new();
        for (w, t) in state.address_map.iter() {
            checked.insert(*w, *t).map_err(std::io::Error::other)?;
        }
        if !state.resolver.ip().is_loopback() {
            return Err(std::io::Error::other("the lab resolver must be a loopback address"));
        }
        Ok(state)
    }
}

/// A running lab. Dropping it stops every server.
pub struct Lab {
    world: World,
    /// The signed root's key (`ALGORITHM BASE64`), when the world is signed.
    dnssec_anchor: Option<String>,
    dns_addr: SocketAddr,
    map: AddressMap,
    ca_pem: String,
    started_at: OffsetDateTime,
    tasks: Vec<JoinHandle<()>>,
    mailbox: smtp::Mailbox,
    faults: dns::Faults,
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("world", &self.world.name())
            .field("dns", &self.dns_addr)
            .finish_non_exhaustive()
    }
}

impl Lab {
    pub fn dns_addr(&self) -> SocketAddr {
        self.dns_addr
    }
    pub fn address_map(&self) -> &AddressMap {
        &self.map
    }
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }
    /// The DNSSEC trust anchor of a signed world (its root key), for a validating client.
    pub fn dnssec_anchor(&self) -> Option<&str> {
        self.dnssec_anchor.as_deref()
    }
    pub fn started_at(&self) -> OffsetDateTime {
        self.started_at
    }
    /// What the world's MX listeners (`mx = true`) accepted so far, oldest first.
    pub fn mailbox(&self) -> Vec<smtp::Delivered> {
        self.mailbox.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn world(&self) -> &World {
        &self.world
    }

    /// From now on, every question for `name` (any type) gets `fault`; `None` heals it.
    /// Tests use it to force one check at a time into error.
    pub fn set_dns_fault(&self, name: &str, fault: Option<dns::Fault>) -> Result<(), LabError> {
        let owner = hickory_proto::rr::Name::from_ascii(format!("{}.", name.trim_end_matches('.')))
            .map_err(|e| LabError::World(format!("fault name {name}: {e}")))?;
        let mut set = self
            .faults
            .write()
            .map_err(|_| LabError::Io("fault table poisoned".into()))?;
        match fault {
            Some(f) => set.insert(hickory_proto::rr::LowerName::from(&owner), f),
            None => set.remove(&hickory_proto::rr::LowerName::from(&owner)),
        };
        Ok(())
    }
    pub fn state(&self) -> LabState {
        LabState {
            world: self.world.name().to_string(),
            resolver: self.dns_addr,
            address_map: self.map.clone(),
            ca_pem: self.ca_pem.clone(),
            demo: self.world.demo().cloned(),
            dnssec_anchor: self.dnssec_anchor.clone(),
        }
    }
    pub fn shutdown(self) {}
}

impl Drop for Lab {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A DNS server alone (no mail servers), for data-driven DNS tests. Dropping it stops it.
pub struct DnsOnly {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl DnsOnly {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DnsOnly {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `records` (any owner names) authoritatively. Queries for a `servfail` name get
/// SERVFAIL, except for the record types listed with it.
pub async fn serve_records(
    records: Vec<hickory_proto::rr::Record>,
    servfail: Vec<(hickory_proto::rr::Name, Vec<hickory_proto::rr::RecordType>)>,
) -> Result<DnsOnly, LabError> {
    let catalog = dns::catalog_from_records(records)?;
    let handler = dns::LabHandler {
        catalog,
        parents: None,
        servfail: servfail
            .into_iter()
            .map(|(n, exempt)| (hickory_proto::rr::LowerName::from(&n), exempt.into_iter().collect()))
            .collect(),
        faults: Default::default(),
        latency: std::time::Duration::ZERO,
    };
    let (addr, mut server) = dns::serve_with(handler).await?;
    let task = tokio::spawn(async move {
        let _ = server.block_until_done().await;
    });
    Ok(DnsOnly { addr, task })
}

/// Starts every server of `world` on loopback.
pub async fn start(world: &World, opts: LabOptions) -> Result<Lab, LabError> {
    let now = opts.now.unwrap_or_else(OffsetDateTime::now_utc);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ca = ca::LabCa::new(world.ca().intermediate, world.ca().rogue, now)?;
    let mut certs: BTreeMap<String, Arc<CertifiedKey>> = BTreeMap::new();
    for spec in world.certs() {
        let issued = ca.issue(spec, now)?;
        let key = provider
            .key_provider
            .load_private_key(issued.key)
            .map_err(|e| LabError::Certificate(format!("{}: {e}", spec.id)))?;
        certs.insert(spec.id.clone(), Arc::new(CertifiedKey::new(issued.chain, key)));
    }

    let mut tasks = Vec::new();
    let extra = world
        .spf_rrs()
        .iter()
        .map(|r| dns::spf_rr(&r.name, &r.text))
        .collect::<Result<Vec<_>, _>>()?;
    let mut zones = world.zones().to_vec();
    let (aia_file, aia_origin, aia_zone) = aia::zone();
    if !zones
        .iter()
        .any(|(_, text)| text.contains(&format!("$ORIGIN {aia_origin}.")))
    {
        zones.push((aia_file, aia_zone));
    }
    let mut extra = extra;
    extra.extend(tlsa_records(world, &certs)?);
    let served = dns::served(&zones, &extra, &world.signing())?;
    let mut servfail = std::collections::HashMap::new();
    for n in world.servfail() {
        let name = hickory_proto::rr::Name::from_ascii(format!("{}.", n.trim_end_matches('.')))
            .map_err(|e| LabError::World(format!("servfail name {n}: {e}")))?;
        servfail.insert(hickory_proto::rr::LowerName::from(&name), Default::default());
    }
    let faults = dns::Faults::default();
    if let Ok(mut set) = faults.write() {
        for f in world.dns_faults() {
            let name = hickory_proto::rr::Name::from_ascii(format!("{}.", f.name.trim_end_matches('.')))
                .map_err(|e| LabError::World(format!("dns_fault name {}: {e}", f.name)))?;
            set.insert(hickory_proto::rr::LowerName::from(&name), f.fault);
        }
    }
    let (dns_addr, mut server) = dns::serve_on(
        dns::LabHandler {
            catalog: served.catalog,
            parents: served.parents,
            servfail,
            faults: faults.clone(),
            latency: opts.latency,
        },
        opts.dns_addr,
    )
    .await?;
    tasks.push(tokio::spawn(async move {
        let _ = server.block_until_done().await;
    }));

    let mut map = AddressMap::new();
    let mailbox: smtp::Mailbox = Default::default();
    let io = |e: std::io::Error| LabError::Io(format!("mail server: {e}"));
    // The CA publication point for AIA caIssuers URIs.
    let aia_listener = TcpListener::bind("127.0.0.1:0").await.map_err(io)?;
    let aia_local = aia_listener.local_addr().map_err(io)?;
    tasks.push(aia::spawn(aia_listener, ca.published()));
    let aia_world: std::net::IpAddr = ca::AIA_ADDR
        .parse()
        .map_err(|e| LabError::World(format!("AIA address: {e}")))?;
    map.insert(SocketAddr::new(aia_world, 80), aia_local)
        .map_err(|e| LabError::Io(e.to_string()))?;
    for s in world.servers() {
        for l in &s.listeners {
            let tls = tls_side(l, &certs, &provider)?;
            let cfg = Arc::new(smtp::ListenerConfig {
                hostname: s.hostname.clone(),
                banner: s.banner.clone().unwrap_or_else(|| format!("{} ESMTP", s.hostname)),
                refuse: s.refuse.clone(),
                behaviour: s.behaviour,
                spec: l.clone(),
                tls,
                mailbox: mailbox.clone(),
                latency: s
                    .latency_ms
                    .map(std::time::Duration::from_millis)
                    .unwrap_or(opts.latency),
            });
            for addr in &s.addresses {
                let listener = TcpListener::bind("127.0.0.1:0").await.map_err(io)?;
                let local = listener.local_addr().map_err(io)?;
                if s.behaviour == world::Behaviour::Closed {
                    // Mapped, but nothing listens: the port refuses connections.
                    drop(listener);
                } else {
                    tasks.push(smtp::spawn(listener, cfg.clone()));
                }
                map.insert(SocketAddr::new(*addr, l.port), local)
                    .map_err(|e| LabError::Io(e.to_string()))?;
            }
        }
    }
    for site in world.sites() {
        let key = certs
            .get(&site.cert)
            .cloned()
            .ok_or_else(|| LabError::World(format!("site `{}`: no certificate", site.id)))?;
        let config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| LabError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(smtp::SniResolver {
                default: Some(key),
                by_name: Default::default(),
            }));
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        for addr in &site.addresses {
            let listener = TcpListener::bind("127.0.0.1:0").await.map_err(io)?;
            let local = listener.local_addr().map_err(io)?;
            tasks.push(web::spawn(listener, acceptor.clone(), &site.files));
            map.insert(SocketAddr::new(*addr, site.port), local)
                .map_err(|e| LabError::Io(e.to_string()))?;
        }
    }
    Ok(Lab {
        world: world.clone(),
        dnssec_anchor: served.anchor,
        dns_addr,
        map,
        ca_pem: ca.root_pem(),
        started_at: now,
        tasks,
        mailbox,
        faults,
    })
}

/// The TLSA records a world asks for (`[[tlsa]]`), computed from the certificates issued at
/// start: a record for a certificate the server does not present is a stale one.
fn tlsa_records(
    world: &World,
    certs: &BTreeMap<String, Arc<CertifiedKey>>,
) -> Result<Vec<hickory_proto::rr::Record>, LabError> {
    use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector, TLSA};
    let mut out = Vec::new();
    for t in world.tlsa() {
        let cert = certs
            .get(&t.cert)
            .ok_or_else(|| LabError::World(format!("tlsa {}: unknown certificate `{}`", t.name, t.cert)))?;
        // Usage 2 (DANE-TA) names the issuer: the last certificate of the chain sent.
        let der = match t.usage {
            2 => cert.cert.last(),
            _ => cert.cert.first(),
        }
        .ok_or_else(|| LabError::World(format!("tlsa {}: empty chain", t.name)))?;
        let data = mxdoctor_net::dane::association(der, t.selector, t.matching)
            .map_err(|e| LabError::World(format!("tlsa {}: {e}", t.name)))?;
        let owner = hickory_proto::rr::Name::from_ascii(format!("{}.", t.name.trim_end_matches('.')))
            .map_err(|e| LabError::World(format!("tlsa {}: {e}", t.name)))?;
        let rdata = TLSA::new(
            CertUsage::from(t.usage),
            Selector::from(t.selector),
            Matching::from(t.matching),
            data,
        );
        out.push(hickory_proto::rr::Record::from_rdata(
            owner,
            300,
            hickory_proto::rr::RData::TLSA(rdata),
        ));
    }
    Ok(out)
}

fn tls_side(
    l: &world::ListenerSpec,
    certs: &BTreeMap<String, Arc<CertifiedKey>>,
    provider: &Arc<rustls::crypto::CryptoProvider>,
) -> Result<smtp::TlsSide, LabError> {
    if l.tls == world::TlsMode::None {
        return Ok(smtp::TlsSide::None);
    }
    let versions: Vec<TlsVersion> = l.versions.iter().filter_map(|v| v.parse().ok()).collect();
    let modern: Vec<&'static rustls::SupportedProtocolVersion> = versions
        .iter()
        .filter_map(|v| match v {
            TlsVersion::Tls13 => Some(&rustls::version::TLS13),
            TlsVersion::Tls12 => Some(&rustls::version::TLS12),
            _ => None,
        })
        .collect();
    let legacy: Vec<TlsVersion> = versions.iter().copied().filter(|v| *v < TlsVersion::Tls12).collect();
    if modern.is_empty() {
        return Ok(smtp::TlsSide::Legacy(legacy));
    }
    let resolver = smtp::SniResolver {
        default: l.cert.as_ref().and_then(|id| certs.get(id).cloned()),
        by_name: l
            .sni
            .iter()
            .filter_map(|(name, id)| Some((name.to_ascii_lowercase(), certs.get(id)?.clone())))
            .collect(),
    };
    let config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&modern)
        .map_err(|e| LabError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    Ok(if legacy.is_empty() {
        smtp::TlsSide::Rustls(acceptor)
    } else {
        smtp::TlsSide::Mixed(acceptor, legacy)
    })
}
