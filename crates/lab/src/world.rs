//! A lab world as data: `world.toml` (certificates, servers, listeners, the demo target) and
//! `zones/*.zone` (RFC 1035 master files). Validated before anything starts.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::LabError;

/// Largest world file or zone file read (a lab world is small; this bounds hostile input).
const MAX_FILE: u64 = 1024 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorldFile {
    world: Meta,
    demo: Option<Demo>,
    #[serde(default)]
    ca: CaSpec,
    #[serde(default, rename = "cert")]
    certs: Vec<CertSpec>,
    #[serde(default, rename = "server")]
    servers: Vec<ServerSpec>,
    /// HTTPS sites (MTA-STS policies, BIMI logos).
    #[serde(default, rename = "site")]
    sites: Vec<SiteSpec>,
    /// Records of the deprecated SPF RR type (99, RFC 4408), which zone files here cannot express.
    #[serde(default, rename = "spf_rr")]
    spf_rrs: Vec<SpfRr>,
    /// DKIM keys the lab MTA signs with (their public halves are in the zones).
    #[serde(default, rename = "dkim")]
    dkim: Vec<DkimKeySpec>,
    /// Zones signed with DNSSEC at start.
    #[serde(default)]
    dnssec: DnssecSpec,
    /// TLSA records computed from the certificates issued at start.
    #[serde(default, rename = "tlsa")]
    tlsa: Vec<TlsaSpec>,
    /// Names whose questions a misbehaving DNS server answers (SERVFAIL, REFUSED, silence,
    /// truncation, a wrong transaction id, records for another name).
    #[serde(default, rename = "dns_fault")]
    dns_faults: Vec<DnsFaultSpec>,
}

/// One name the lab's DNS answers badly, from the start (`[[dns_fault]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsFaultSpec {
    pub name: String,
    pub fault: crate::dns::Fault,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnssecSpec {
    /// Zones signed, their DS in the root: secure.
    #[serde(default)]
    pub signed: Vec<String>,
    /// Zones signed, with another key's DS in the root: bogus.
    #[serde(default)]
    pub bogus: Vec<String>,
}

/// A TLSA record (RFC 6698) for one of the world's certificates: the leaf's, or with usage 2
/// the issuer's (the last certificate of the chain the server sends).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsaSpec {
    /// Owner, e.g. `_25._tcp.mx.example`.
    pub name: String,
    pub cert: String,
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
}

/// A DKIM signing key of the lab MTA: `domain`, `selector` and a PKCS#8 PEM RSA key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimKeySpec {
    pub domain: String,
    pub selector: String,
    pub private_key: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpfRr {
    pub name: String,
    pub text: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    name: String,
    #[serde(default)]
    description: String,
    /// Names whose queries the lab's DNS answers with SERVFAIL (a broken name server).
    #[serde(default)]
    servfail: Vec<String>,
}

/// What `mxdoctor demo` and the tests run against a world.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Demo {
    /// The name the user typed into Gmail's "Send mail as".
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// The mail domain for the domain report (`mxdoctor check`), if the world has one.
    #[serde(default)]
    pub domain: Option<String>,
    /// The sending IPs of that domain.
    #[serde(default)]
    pub ips: Vec<std::net::IpAddr>,
    /// Whether the domain is a bulk sender.
    #[serde(default)]
    pub bulk: bool,
}

fn default_port() -> u16 {
    587
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaSpec {
    /// Also create an intermediate CA signed by the lab root.
    #[serde(default)]
    pub intermediate: bool,
    /// Also create a CA that is never exported as a trust anchor.
    #[serde(default)]
    pub rogue: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Issuer {
    Lab,
    Intermediate,
    Rogue,
    #[serde(rename = "self")]
    SelfSigned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyKind {
    EcdsaP256,
    EcdsaP384,
    Ed25519,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertSpec {
    pub id: String,
    /// dNSName subjectAltNames.
    #[serde(default)]
    pub names: Vec<String>,
    pub cn: Option<String>,
    /// false: a CN-only certificate without a subjectAltName extension.
    #[serde(default = "yes")]
    pub san: bool,
    #[serde(default = "lab_issuer")]
    pub issuer: Issuer,
    #[serde(default = "default_not_before")]
    pub not_before: String,
    #[serde(default = "default_not_after")]
    pub not_after: String,
    #[serde(default = "default_key")]
    pub key: KeyKind,
    /// For certificates below an intermediate or a rogue CA: send the issuer too.
    #[serde(default = "yes")]
    pub send_chain: bool,
    /// Send this many unrelated certificates after the real chain (at most
    /// [`MAX_CHAIN_PADDING`]): a server configured with a whole bundle of certificates.
    #[serde(default)]
    pub chain_padding: usize,
    /// Grow the certificate to about this many bytes with a private extension (at most
    /// [`MAX_CERT_PADDING`]): a certificate larger than any TLS client accepts.
    #[serde(default)]
    pub pad_bytes: usize,
    /// Name the issuer's certificate in an AIA caIssuers URI served by the lab (RFC 5280
    /// section 4.2.2.1); false for a certificate without one.
    #[serde(default = "yes")]
    pub aia: bool,
}

/// The most filler certificates a lab certificate may send after its chain.
pub const MAX_CHAIN_PADDING: usize = 200;
/// The largest padding a lab certificate may carry.
pub const MAX_CERT_PADDING: usize = 4 * 1024 * 1024;

fn yes() -> bool {
    true
}
fn lab_issuer() -> Issuer {
    Issuer::Lab
}
fn default_not_before() -> String {
    "-30d".into()
}
fn default_not_after() -> String {
    "+335d".into()
}
fn default_key() -> KeyKind {
    KeyKind::EcdsaP256
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Behaviour {
    /// A real SMTP server.
    Smtp,
    /// Accepts TCP and never says anything.
    Silent,
    /// Answers with something that is not SMTP.
    Garbage,
    /// Sends a 100 KiB line without a line end.
    LongLine,
    /// The port is mapped but nothing listens: connection refused.
    Closed,
    /// Sends its 220 greeting one byte per second.
    SlowBanner,
    /// Starts a 220 reply line and never ends it (bytes until the client leaves).
    EndlessLine,
    /// A 100 MiB multi-line greeting (`220-...` lines), then the last line.
    HugeReply,
    /// A POP3 server (RFC 1939 `+OK` greeting), with TLS as the listener says (POP3S on 995).
    Pop3,
    /// An IMAP server (RFC 9051 `* OK` greeting), with TLS as the listener says (IMAPS on 993).
    Imap,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    pub id: String,
    pub hostname: String,
    pub addresses: Vec<IpAddr>,
    #[serde(default = "smtp_behaviour")]
    pub behaviour: Behaviour,
    pub banner: Option<String>,
    /// Refuse every session at the greeting with this text (SMTP `554 text`, POP3 `-ERR text`,
    /// IMAP `* BYE text`), as a server refusing a client's address does.
    #[serde(default)]
    pub refuse: Option<String>,
    /// Delay before each SMTP reply of this server (overrides `mxdoctor lab --latency`).
    #[serde(default)]
    pub latency_ms: Option<u64>,
    #[serde(default, rename = "listener")]
    pub listeners: Vec<ListenerSpec>,
}

/// An HTTPS site of the lab (hyper over rustls): the MTA-STS policy host of a domain, a BIMI
/// logo host. Each file can misbehave as real ones do: another status, a redirect, the wrong
/// Content-Type, a huge body, a slow answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSpec {
    pub id: String,
    pub addresses: Vec<IpAddr>,
    #[serde(default = "https_port")]
    pub port: u16,
    /// The certificate presented (whatever the SNI).
    pub cert: String,
    #[serde(default, rename = "file")]
    pub files: Vec<FileSpec>,
}

fn https_port() -> u16 {
    443
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub path: String,
    #[serde(default)]
    pub body: String,
    #[serde(default = "text_plain")]
    pub content_type: String,
    #[serde(default = "ok_status")]
    pub status: u16,
    /// The Location header (for a redirect status).
    pub location: Option<String>,
    /// Pad the body with `x` to this many bytes (at most 16 MiB): an oversized answer.
    pub size: Option<usize>,
    /// Wait this long before answering: a slow server.
    #[serde(default)]
    pub delay_ms: u64,
}

/// The largest padded body a lab file may ask for.
pub const MAX_FILE_SIZE: usize = 16 * 1024 * 1024;

fn text_plain() -> String {
    "text/plain".into()
}
fn ok_status() -> u16 {
    200
}

fn smtp_behaviour() -> Behaviour {
    Behaviour::Smtp
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    Starttls,
    Implicit,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMisbehaviour {
    None,
    /// Close the connection in the middle of the handshake.
    Reset,
    /// Answer the ClientHello with a fatal handshake_failure alert.
    Alert,
    /// Read the ClientHello and never answer: a handshake that never finishes.
    Stall,
}

/// How an otherwise real SMTP session goes wrong (`misbehaviour` on a listener).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionMisbehaviour {
    /// Answer STARTTLS with 220, then go on in plain text (no TLS at all).
    StarttlsPlaintext,
    /// Send more replies right after the 220 to STARTTLS, before TLS starts: what a
    /// man in the middle injects, or a server with the CVE-2011-0411 class of bug echoes.
    StarttlsInjection,
    /// Advertise AUTH and never answer it.
    AuthSilent,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub user: String,
    pub password: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerSpec {
    pub port: u16,
    #[serde(default = "starttls")]
    pub tls: TlsMode,
    /// Default certificate (no SNI, or an SNI name without its own certificate).
    pub cert: Option<String>,
    /// SNI name -> certificate id.
    #[serde(default)]
    pub sni: BTreeMap<String, String>,
    #[serde(default = "modern")]
    pub versions: Vec<String>,
    #[serde(default)]
    pub auth_before_tls: Vec<String>,
    #[serde(default = "plain_login")]
    pub auth_after_tls: Vec<String>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default = "no_misbehaviour")]
    pub tls_misbehaviour: TlsMisbehaviour,
    /// Advertise STARTTLS but answer the command with 454 (a broken TLS set-up).
    #[serde(default)]
    pub starttls_fails: bool,
    /// Accept mail as an MX: each message, with the Return-Path and Received fields this host
    /// writes, goes to the lab's mailbox. XCLIENT (as in Postfix) lets the sender say which
    /// world address and name it has, since on loopback every client is 127.0.0.1.
    #[serde(default)]
    pub mx: bool,
    /// Recipients the MX accepts; others get 550 5.1.1 (empty: every recipient).
    #[serde(default)]
    pub recipients: Vec<String>,
    /// Domains this server receives mail for. Without AUTH, RCPT to any other domain (and not
    /// in `recipients`) is refused as relaying, as Postfix's reject_unauth_destination does.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Relay for anyone without AUTH: an open relay, for the relay test.
    #[serde(default)]
    pub open_relay: bool,
    /// How the session misbehaves, if it does.
    #[serde(default)]
    pub misbehaviour: Option<SessionMisbehaviour>,
    /// Extra EHLO keywords advertised (at most [`MAX_EHLO_EXTENSIONS`]): a reply of
    /// thousands of lines.
    #[serde(default)]
    pub ehlo_extensions: usize,
}

/// The most extra EHLO keywords a lab listener may advertise.
pub const MAX_EHLO_EXTENSIONS: usize = 100_000;

fn starttls() -> TlsMode {
    TlsMode::Starttls
}
fn modern() -> Vec<String> {
    vec!["1.2".into(), "1.3".into()]
}
fn plain_login() -> Vec<String> {
    vec!["PLAIN".into(), "LOGIN".into()]
}
fn no_misbehaviour() -> TlsMisbehaviour {
    TlsMisbehaviour::None
}

/// A loaded and validated world.
#[derive(Debug, Clone)]
pub struct World {
    file: WorldFile,
    /// (file name, contents) of each zone file.
    zones: Vec<(String, String)>,
}

impl World {
    /// Parses a world from its `world.toml` text and zone files.
    pub fn from_parts(world_toml: &str, zones: Vec<(String, String)>) -> Result<Self, LabError> {
        let file: WorldFile = toml::from_str(world_toml).map_err(|e| LabError::World(format!("world.toml: {e}")))?;
        let w = World { file, zones };
        w.validate()?;
        Ok(w)
    }

    /// Loads `dir/world.toml` and `dir/zones/*.zone`.
    pub fn load(dir: &Path) -> Result<Self, LabError> {
        let read = |p: &Path| -> Result<String, LabError> {
            let meta = std::fs::metadata(p).map_err(|e| LabError::World(format!("{}: {e}", p.display())))?;
            if meta.len() > MAX_FILE {
                return Err(LabError::World(format!(
                    "{}: larger than {MAX_FILE} bytes",
                    p.display()
                )));
            }
            std::fs::read_to_string(p).map_err(|e| LabError::World(format!("{}: {e}", p.display())))
        };
        let toml_text = read(&dir.join("world.toml"))?;
        let mut zones = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir.join("zones")) {
            let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            for p in paths.into_iter().filter(|p| p.extension().is_some_and(|x| x == "zone")) {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                zones.push((name, read(&p)?));
            }
        }
        Self::from_parts(&toml_text, zones)
    }

    /// A built-in scenario by name.
    pub fn builtin(name: &str) -> Option<Self> {
        let prefix = format!("{name}/");
        let toml_text = crate::builtin::FILES
            .iter()
            .find(|(p, _)| *p == format!("{name}/world.toml"))?
            .1;
        let zones = crate::builtin::FILES
            .iter()
            .filter(|(p, _)| p.starts_with(&prefix) && p.ends_with(".zone"))
            .map(|(p, c)| (p.rsplit('/').next().unwrap_or(p).to_string(), c.to_string()))
            .collect();
        // A built-in world that does not load is a bug caught by the lab's tests.
        Self::from_parts(toml_text, zones).ok()
    }

    pub fn name(&self) -> &str {
        &self.file.world.name
    }
    pub fn description(&self) -> &str {
        &self.file.world.description
    }
    pub fn demo(&self) -> Option<&Demo> {
        self.file.demo.as_ref()
    }
    pub fn ca(&self) -> &CaSpec {
        &self.file.ca
    }
    pub fn certs(&self) -> &[CertSpec] {
        &self.file.certs
    }
    pub fn servers(&self) -> &[ServerSpec] {
        &self.file.servers
    }
    pub fn sites(&self) -> &[SiteSpec] {
        &self.file.sites
    }
    pub fn zones(&self) -> &[(String, String)] {
        &self.zones
    }
    pub fn dkim_keys(&self) -> &[DkimKeySpec] {
        &self.file.dkim
    }

    pub fn signing(&self) -> crate::dns::Signing {
        crate::dns::Signing {
            signed: self.file.dnssec.signed.clone(),
            bogus: self.file.dnssec.bogus.clone(),
        }
    }
    pub fn tlsa(&self) -> &[TlsaSpec] {
        &self.file.tlsa
    }

    pub fn spf_rrs(&self) -> &[SpfRr] {
        &self.file.spf_rrs
    }
    pub fn servfail(&self) -> &[String] {
        &self.file.world.servfail
    }
    pub fn dns_faults(&self) -> &[DnsFaultSpec] {
        &self.file.dns_faults
    }

    fn validate(&self) -> Result<(), LabError> {
        let err = |m: String| Err(LabError::World(format!("world `{}`: {m}", self.name())));
        let mut cert_ids = BTreeSet::new();
        for c in self.certs() {
            if !cert_ids.insert(c.id.as_str()) {
                return err(format!("duplicate certificate id `{}`", c.id));
            }
            if c.names.is_empty() && c.cn.is_none() {
                return err(format!("certificate `{}` names nothing (no names, no cn)", c.id));
            }
            if !c.san && c.cn.is_none() {
                return err(format!("certificate `{}` has san = false but no cn", c.id));
            }
            if c.issuer == Issuer::Intermediate && !self.ca().intermediate {
                return err(format!(
                    "certificate `{}` wants the intermediate CA; set [ca] intermediate = true",
                    c.id
                ));
            }
            if c.issuer == Issuer::Rogue && !self.ca().rogue {
                return err(format!(
                    "certificate `{}` wants the rogue CA; set [ca] rogue = true",
                    c.id
                ));
            }
            if c.chain_padding > MAX_CHAIN_PADDING || c.pad_bytes > MAX_CERT_PADDING {
                return err(format!(
                    "certificate `{}`: chain_padding is at most {MAX_CHAIN_PADDING}, pad_bytes at most {MAX_CERT_PADDING}",
                    c.id
                ));
            }
            parse_when(&c.not_before, OffsetDateTime::UNIX_EPOCH)
                .and_then(|_| parse_when(&c.not_after, OffsetDateTime::UNIX_EPOCH))
                .map_err(|e| LabError::World(format!("certificate `{}`: {e}", c.id)))?;
        }
        let mut server_ids = BTreeSet::new();
        let mut sockets = BTreeSet::new();
        for s in self.servers() {
            if !server_ids.insert(s.id.as_str()) {
                return err(format!("duplicate server id `{}`", s.id));
            }
            if s.addresses.is_empty() {
                return err(format!("server `{}` has no addresses", s.id));
            }
            for a in &s.addresses {
                if !is_documentation(*a) {
                    return err(format!(
                        "server `{}`: {a} is not a documentation address (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32)",
                        s.id
                    ));
                }
            }
            for l in &s.listeners {
                for a in &s.addresses {
                    if !sockets.insert((*a, l.port)) {
                        return err(format!("{a}:{} is played by two listeners", l.port));
                    }
                }
                for id in l.cert.iter().chain(l.sni.values()) {
                    if !cert_ids.contains(id.as_str()) {
                        return err(format!("server `{}` port {}: unknown certificate `{id}`", s.id, l.port));
                    }
                }
                if l.tls != TlsMode::None
                    && l.cert.is_none()
                    && matches!(s.behaviour, Behaviour::Smtp | Behaviour::Pop3 | Behaviour::Imap)
                {
                    return err(format!("server `{}` port {}: TLS needs a `cert`", s.id, l.port));
                }
                if l.ehlo_extensions > MAX_EHLO_EXTENSIONS {
                    return err(format!(
                        "server `{}` port {}: ehlo_extensions is at most {MAX_EHLO_EXTENSIONS}",
                        s.id, l.port
                    ));
                }
                if l.versions.is_empty() {
                    return err(format!("server `{}` port {}: no TLS versions", s.id, l.port));
                }
                for v in &l.versions {
                    v.parse::<mxdoctor_proto::tls_hello::TlsVersion>()
                        .map_err(|e| LabError::World(format!("server `{}` port {}: {e}", s.id, l.port)))?;
                }
            }
        }
        for site in self.sites() {
            if !cert_ids.contains(site.cert.as_str()) {
                return err(format!("site `{}`: unknown certificate `{}`", site.id, site.cert));
            }
            for a in &site.addresses {
                if !is_documentation(*a) {
                    return err(format!("site `{}`: {a} is not a documentation address", site.id));
                }
                if !sockets.insert((*a, site.port)) {
                    return err(format!("{a}:{} is played by two listeners", site.port));
                }
            }
            if site.files.iter().any(|f| f.size.is_some_and(|n| n > MAX_FILE_SIZE)) {
                return err(format!("site `{}`: a file larger than {MAX_FILE_SIZE} bytes", site.id));
            }
        }
        if let Some(d) = self.demo()
            && d.port == 0
        {
            return err("demo port 0".into());
        }
        Ok(())
    }
}

/// 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 (RFC 5737) and 2001:db8::/32 (RFC 3849).
pub fn is_documentation(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            matches!((o[0], o[1], o[2]), (192, 0, 2) | (198, 51, 100) | (203, 0, 113))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            s[0] == 0x2001 && s[1] == 0x0db8
        }
    }
}

/// `-30d`, `+2h`, `+90m`, `-10s` relative to `base`, or an RFC 3339 instant.
pub fn parse_when(s: &str, base: OffsetDateTime) -> Result<OffsetDateTime, String> {
    let t = s.trim();
    if let Some(sign) = t.chars().next().filter(|c| *c == '+' || *c == '-') {
        let body = &t[1..];
        let (num, unit) = body.split_at(body.len().saturating_sub(1));
        let n: i64 = num
            .parse()
            .map_err(|_| format!("`{s}`: expected e.g. -30d, +2h, or an RFC 3339 time"))?;
        if n > 36_500 * 86_400 {
            return Err(format!("`{s}`: too far"));
        }
        let secs = match unit {
            "d" => n * 86_400,
            "h" => n * 3_600,
            "m" => n * 60,
            "s" => n,
            _ => return Err(format!("`{s}`: unit must be d, h, m or s")),
        };
        let d = time::Duration::seconds(if sign == '-' { -secs } else { secs });
        return base.checked_add(d).ok_or_else(|| format!("`{s}`: out of range"));
    }
    OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("`{s}`: not a relative time nor RFC 3339 ({e})"))
}
