//! Raw TLS hellos, both sides, for the legacy-version probe (RFC 2246 TLS 1.0, RFC 4346 TLS 1.1,
//! RFC 5246 TLS 1.2 section 7.4). rustls cannot speak TLS 1.0/1.1, so asking "does this server
//! still accept TLS 1.0?" means sending a ClientHello for exactly that version and reading the
//! first record of the answer. The lab's canned legacy server uses the server half.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TlsVersion {
    #[serde(rename = "ssl3")]
    Ssl3,
    #[serde(rename = "1.0")]
    Tls10,
    #[serde(rename = "1.1")]
    Tls11,
    #[serde(rename = "1.2")]
    Tls12,
    #[serde(rename = "1.3")]
    Tls13,
}

impl TlsVersion {
    pub fn wire(self) -> u16 {
        match self {
            TlsVersion::Ssl3 => 0x0300,
            TlsVersion::Tls10 => 0x0301,
            TlsVersion::Tls11 => 0x0302,
            TlsVersion::Tls12 => 0x0303,
            TlsVersion::Tls13 => 0x0304,
        }
    }

    pub fn from_wire(v: u16) -> Option<Self> {
        Some(match v {
            0x0300 => TlsVersion::Ssl3,
            0x0301 => TlsVersion::Tls10,
            0x0302 => TlsVersion::Tls11,
            0x0303 => TlsVersion::Tls12,
            0x0304 => TlsVersion::Tls13,
            _ => return None,
        })
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsVersion::Ssl3 => "SSL 3.0",
            TlsVersion::Tls10 => "TLS 1.0",
            TlsVersion::Tls11 => "TLS 1.1",
            TlsVersion::Tls12 => "TLS 1.2",
            TlsVersion::Tls13 => "TLS 1.3",
        })
    }
}

impl FromStr for TlsVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase().replace([' ', 'v'], "");
        let t = t.strip_prefix("tls").unwrap_or(&t);
        Ok(match t {
            "1.0" | "1" | "10" => TlsVersion::Tls10,
            "1.1" | "11" => TlsVersion::Tls11,
            "1.2" | "12" => TlsVersion::Tls12,
            "1.3" | "13" => TlsVersion::Tls13,
            "ssl3" | "ssl3.0" => TlsVersion::Ssl3,
            _ => {
                return Err(format!("unknown TLS version `{s}` (expected 1.0, 1.1, 1.2 or 1.3)"));
            }
        })
    }
}

const CT_ALERT: u8 = 21;
const CT_HANDSHAKE: u8 = 22;
const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;
/// A record's payload may be at most 2^14 bytes plus expansion (RFC 5246 section 6.2.3).
pub const MAX_RECORD: usize = 16 * 1024 + 2048;

/// Cipher suites a legacy client of that era offers.
fn ciphers_for(version: TlsVersion) -> Vec<u16> {
    let mut c = vec![
        0xc013, // ECDHE-RSA-AES128-SHA
        0xc014, // ECDHE-RSA-AES256-SHA
        0xc009, // ECDHE-ECDSA-AES128-SHA
        0xc00a, // ECDHE-ECDSA-AES256-SHA
        0x002f, // RSA-AES128-SHA
        0x0035, // RSA-AES256-SHA
        0x000a, // RSA-3DES-EDE-CBC-SHA
    ];
    if version >= TlsVersion::Tls12 {
        c.splice(0..0, [0xc02f, 0xc02b, 0xc030, 0xc02c, 0x009c, 0x009d]);
    }
    c
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_u24(out: &mut Vec<u8>, v: usize) {
    out.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8, v as u8]);
}

fn extension(out: &mut Vec<u8>, ty: u16, body: &[u8]) {
    put_u16(out, ty);
    put_u16(out, body.len() as u16);
    out.extend_from_slice(body);
}

fn record(content_type: u8, version: u16, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type];
    put_u16(&mut r, version);
    put_u16(&mut r, payload.len() as u16);
    r.extend_from_slice(payload);
    r
}

/// A complete record carrying a ClientHello that offers exactly `version` (never TLS 1.3).
pub fn client_hello(version: TlsVersion, sni: Option<&str>, random: [u8; 32]) -> Vec<u8> {
    let mut body = Vec::new();
    put_u16(&mut body, version.wire());
    body.extend_from_slice(&random);
    body.push(0); // no session id
    let ciphers = ciphers_for(version);
    put_u16(&mut body, (ciphers.len() * 2 + 2) as u16);
    for c in &ciphers {
        put_u16(&mut body, *c);
    }
    put_u16(&mut body, 0x00ff); // TLS_EMPTY_RENEGOTIATION_INFO_SCSV
    body.extend_from_slice(&[1, 0]); // compression: null
    let mut exts = Vec::new();
    if let Some(name) = sni.filter(|n| !n.is_empty() && n.len() < 256) {
        let mut sn = Vec::new();
        put_u16(&mut sn, (name.len() + 3) as u16);
        sn.push(0); // host_name
        put_u16(&mut sn, name.len() as u16);
        sn.extend_from_slice(name.as_bytes());
        extension(&mut exts, 0x0000, &sn);
    }
    extension(&mut exts, 0x000a, &[0, 6, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18]); // x25519, P-256, P-384
    extension(&mut exts, 0x000b, &[1, 0]); // ec_point_formats: uncompressed
    if version >= TlsVersion::Tls12 {
        let algs: [u16; 6] = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501];
        let mut sa = Vec::new();
        put_u16(&mut sa, (algs.len() * 2) as u16);
        for a in algs {
            put_u16(&mut sa, a);
        }
        extension(&mut exts, 0x000d, &sa);
    }
    extension(&mut exts, 0xff01, &[0]); // renegotiation_info
    put_u16(&mut body, exts.len() as u16);
    body.extend_from_slice(&exts);
    let mut hs = vec![HS_CLIENT_HELLO];
    put_u24(&mut hs, body.len());
    hs.extend_from_slice(&body);
    record(CT_HANDSHAKE, TlsVersion::Tls10.wire(), &hs)
}

/// The first thing a server answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ServerResponse {
    Hello { version: TlsVersion, cipher: u16 },
    Alert { level: u8, description: u8 },
    NotTls,
    Incomplete,
}

/// A small cursor that never panics: every read is checked.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    fn u8(&mut self) -> Option<u8> {
        let v = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(v)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }
    fn u24(&mut self) -> Option<usize> {
        Some(((self.u8()? as usize) << 16) | ((self.u8()? as usize) << 8) | self.u8()? as usize)
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn rest(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
}

/// Reads the first record of a server's answer to a ClientHello.
pub fn parse_server_response(buf: &[u8]) -> ServerResponse {
    if buf.len() < 5 {
        // Even a partial header tells us whether this can be TLS at all.
        if let Some(&ct) = buf.first()
            && ct != CT_HANDSHAKE
            && ct != CT_ALERT
        {
            return ServerResponse::NotTls;
        }
        return ServerResponse::Incomplete;
    }
    let mut r = Reader::new(buf);
    let ct = r.u8().unwrap_or(0);
    let rv = r.u16().unwrap_or(0);
    let len = r.u16().unwrap_or(0) as usize;
    if (ct != CT_HANDSHAKE && ct != CT_ALERT) || rv >> 8 != 3 || len > MAX_RECORD {
        return ServerResponse::NotTls;
    }
    let Some(payload) = r.take(len) else {
        return ServerResponse::Incomplete;
    };
    let mut p = Reader::new(payload);
    if ct == CT_ALERT {
        return match (p.u8(), p.u8()) {
            (Some(level), Some(description)) => ServerResponse::Alert { level, description },
            _ => ServerResponse::NotTls,
        };
    }
    // Handshake record: the first message must be a ServerHello.
    let (Some(ty), Some(hlen)) = (p.u8(), p.u24()) else {
        return ServerResponse::NotTls;
    };
    if ty != HS_SERVER_HELLO {
        return ServerResponse::NotTls;
    }
    let Some(body) = p.take(hlen) else {
        // A ServerHello split across records is legal but rare; say incomplete rather than guess.
        return if hlen > MAX_RECORD {
            ServerResponse::NotTls
        } else {
            ServerResponse::Incomplete
        };
    };
    let mut b = Reader::new(body);
    let Some(legacy) = b.u16() else {
        return ServerResponse::NotTls;
    };
    if b.take(32).is_none() {
        return ServerResponse::NotTls;
    }
    let Some(sid_len) = b.u8() else {
        return ServerResponse::NotTls;
    };
    if b.take(sid_len as usize).is_none() {
        return ServerResponse::NotTls;
    }
    let Some(cipher) = b.u16() else {
        return ServerResponse::NotTls;
    };
    let _compression = b.u8();
    let mut version = legacy;
    if b.rest() >= 2
        && let Some(ext_len) = b.u16()
        && let Some(exts) = b.take(ext_len as usize)
    {
        let mut e = Reader::new(exts);
        while e.rest() >= 4 {
            let (Some(et), Some(el)) = (e.u16(), e.u16()) else {
                break;
            };
            let Some(data) = e.take(el as usize) else {
                break;
            };
            if let (0x002b, &[hi, lo]) = (et, data) {
                version = u16::from_be_bytes([hi, lo]);
            }
        }
    }
    match TlsVersion::from_wire(version) {
        Some(version) => ServerResponse::Hello { version, cipher },
        None => ServerResponse::NotTls,
    }
}

/// What a server learns from a ClientHello (for the lab's canned legacy server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientHelloInfo {
    pub record_version: u16,
    pub legacy_version: u16,
    pub supported_versions: Vec<u16>,
    pub sni: Option<String>,
    pub ciphers: Vec<u16>,
}

impl ClientHelloInfo {
    /// The highest version the client offers (supported_versions wins, RFC 8446 section 4.2.1).
    pub fn max_version(&self) -> u16 {
        self.supported_versions
            .iter()
            .copied()
            .filter(|v| v >> 8 == 3 && v & 0xff <= 4) // ignore GREASE values (0x?a?a)
            .max()
            .unwrap_or(self.legacy_version)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    #[error("not a TLS handshake record")]
    NotTls,
    #[error("the record is larger than {MAX_RECORD} bytes")]
    TooLarge,
    #[error("the first handshake message is not a ClientHello")]
    NotClientHello,
    #[error("the ClientHello is malformed")]
    Malformed,
}

/// Parses a ClientHello from the start of `buf`; `Ok(None)` means more bytes are needed.
/// A big-endian u16 from a two-byte chunk (`chunks_exact(2)` gives only those).
fn be_u16(c: &[u8]) -> Option<u16> {
    <[u8; 2]>::try_from(c).ok().map(u16::from_be_bytes)
}

pub fn parse_client_hello(buf: &[u8]) -> Result<Option<ClientHelloInfo>, HelloError> {
    match buf.first() {
        None => return Ok(None),
        Some(&t) if t != CT_HANDSHAKE => return Err(HelloError::NotTls),
        Some(_) => {}
    }
    if buf.len() < 5 {
        return Ok(None);
    }
    let mut r = Reader::new(buf);
    let _ = r.u8();
    let record_version = r.u16().ok_or(HelloError::Malformed)?;
    let len = r.u16().ok_or(HelloError::Malformed)? as usize;
    if record_version >> 8 != 3 {
        return Err(HelloError::NotTls);
    }
    if len > MAX_RECORD {
        return Err(HelloError::TooLarge);
    }
    let Some(payload) = r.take(len) else {
        return Ok(None);
    };
    let mut p = Reader::new(payload);
    if p.u8() != Some(HS_CLIENT_HELLO) {
        return Err(HelloError::NotClientHello);
    }
    let hlen = p.u24().ok_or(HelloError::Malformed)?;
    let body = p.take(hlen).ok_or(HelloError::Malformed)?;
    let mut b = Reader::new(body);
    let legacy_version = b.u16().ok_or(HelloError::Malformed)?;
    b.take(32).ok_or(HelloError::Malformed)?;
    let sid = b.u8().ok_or(HelloError::Malformed)? as usize;
    b.take(sid).ok_or(HelloError::Malformed)?;
    let clen = b.u16().ok_or(HelloError::Malformed)? as usize;
    let cbytes = b.take(clen).ok_or(HelloError::Malformed)?;
    let ciphers = cbytes.chunks_exact(2).filter_map(be_u16).collect();
    let comp = b.u8().ok_or(HelloError::Malformed)? as usize;
    b.take(comp).ok_or(HelloError::Malformed)?;
    let mut sni = None;
    let mut supported_versions = Vec::new();
    if let Some(elen) = b.u16() {
        let exts = b.take(elen as usize).ok_or(HelloError::Malformed)?;
        let mut e = Reader::new(exts);
        while e.rest() >= 4 {
            let et = e.u16().ok_or(HelloError::Malformed)?;
            let el = e.u16().ok_or(HelloError::Malformed)? as usize;
            let data = e.take(el).ok_or(HelloError::Malformed)?;
            let mut d = Reader::new(data);
            match et {
                0x0000 => {
                    let _list = d.u16();
                    if d.u8() == Some(0)
                        && let Some(n) = d.u16()
                        && let Some(name) = d.take(n as usize)
                    {
                        sni = Some(String::from_utf8_lossy(name).into_owned());
                    }
                }
                0x002b => {
                    if let Some(n) = d.u8()
                        && let Some(list) = d.take(n as usize)
                    {
                        supported_versions = list.chunks_exact(2).filter_map(be_u16).collect();
                    }
                }
                _ => {}
            }
        }
    }
    Ok(Some(ClientHelloInfo {
        record_version,
        legacy_version,
        supported_versions,
        sni,
        ciphers,
    }))
}

/// A complete record with a ServerHello (no extensions) for `version` and `cipher`.
pub fn server_hello(version: TlsVersion, cipher: u16, random: [u8; 32]) -> Vec<u8> {
    let mut body = Vec::new();
    put_u16(&mut body, version.wire());
    body.extend_from_slice(&random);
    body.push(0); // no session id
    put_u16(&mut body, cipher);
    body.push(0); // null compression
    let mut hs = vec![HS_SERVER_HELLO];
    put_u24(&mut hs, body.len());
    hs.extend_from_slice(&body);
    record(CT_HANDSHAKE, version.wire(), &hs)
}

/// A fatal alert record.
pub fn alert_record(version: TlsVersion, description: u8) -> Vec<u8> {
    record(CT_ALERT, version.wire(), &[2, description])
}

/// RFC 8446 section 6 / RFC 5246 section 7.2 alert names.
pub fn alert_name(desc: u8) -> &'static str {
    match desc {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => "unknown_alert",
    }
}

pub fn cipher_name(id: u16) -> Option<&'static str> {
    Some(match id {
        0x000a => "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        0x002f => "TLS_RSA_WITH_AES_128_CBC_SHA",
        0x0035 => "TLS_RSA_WITH_AES_256_CBC_SHA",
        0x009c => "TLS_RSA_WITH_AES_128_GCM_SHA256",
        0x009d => "TLS_RSA_WITH_AES_256_GCM_SHA384",
        0xc009 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xc00a => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        0xc013 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xc014 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0x1301 => "TLS13_AES_128_GCM_SHA256",
        0x1302 => "TLS13_AES_256_GCM_SHA384",
        0x1303 => "TLS13_CHACHA20_POLY1305_SHA256",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5246_7_4_1_2_client_hello_round_trips() {
        for v in [TlsVersion::Tls10, TlsVersion::Tls11, TlsVersion::Tls12] {
            let rec = client_hello(v, Some("mail.example.com"), [7; 32]);
            let info = parse_client_hello(&rec).unwrap().unwrap();
            assert_eq!(info.legacy_version, v.wire());
            assert_eq!(info.record_version, 0x0301);
            assert_eq!(info.max_version(), v.wire());
            assert_eq!(info.sni.as_deref(), Some("mail.example.com"));
            assert!(info.ciphers.contains(&0x002f));
        }
        let no_sni = parse_client_hello(&client_hello(TlsVersion::Tls10, None, [0; 32]))
            .unwrap()
            .unwrap();
        assert_eq!(no_sni.sni, None);
    }

    #[test]
    fn rfc5246_7_4_1_3_server_hello_parses_back() {
        let rec = server_hello(TlsVersion::Tls10, 0x002f, [1; 32]);
        assert_eq!(
            parse_server_response(&rec),
            ServerResponse::Hello {
                version: TlsVersion::Tls10,
                cipher: 0x002f
            }
        );
        let alert = alert_record(TlsVersion::Tls12, 70);
        assert_eq!(
            parse_server_response(&alert),
            ServerResponse::Alert {
                level: 2,
                description: 70
            }
        );
        assert_eq!(alert_name(70), "protocol_version");
    }

    #[test]
    fn truncations_and_garbage_never_panic() {
        let rec = server_hello(TlsVersion::Tls11, 0x0035, [9; 32]);
        for cut in 0..rec.len() {
            let r = parse_server_response(&rec[..cut]);
            assert!(
                matches!(r, ServerResponse::Incomplete | ServerResponse::NotTls),
                "cut {cut}: {r:?}"
            );
        }
        let ch = client_hello(TlsVersion::Tls12, Some("a.example"), [3; 32]);
        for cut in 0..ch.len() {
            assert!(!matches!(parse_client_hello(&ch[..cut]), Ok(Some(_))), "cut {cut}");
        }
        assert_eq!(
            parse_server_response(b"220 mail.example.com ESMTP\r\n"),
            ServerResponse::NotTls
        );
        assert_eq!(parse_client_hello(b"EHLO x\r\n"), Err(HelloError::NotTls));
        // Pseudo-random junk, deterministic.
        let mut x: u32 = 0x1234_5678;
        for _ in 0..2000 {
            let mut junk = Vec::new();
            for _ in 0..(x % 300) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                junk.push(x as u8);
            }
            junk.insert(0, if x.is_multiple_of(2) { 22 } else { 21 });
            let _ = parse_server_response(&junk);
            let _ = parse_client_hello(&junk);
        }
    }

    #[test]
    fn versions_parse_and_print() {
        assert_eq!("1.0".parse::<TlsVersion>().unwrap(), TlsVersion::Tls10);
        assert_eq!("TLS 1.2".parse::<TlsVersion>().unwrap(), TlsVersion::Tls12);
        assert_eq!("tlsv1.1".parse::<TlsVersion>().unwrap(), TlsVersion::Tls11);
        assert!("2.0".parse::<TlsVersion>().is_err());
        assert_eq!(TlsVersion::Tls10.to_string(), "TLS 1.0");
        assert_eq!(serde_json::to_string(&TlsVersion::Tls13).unwrap(), "\"1.3\"");
    }
}
