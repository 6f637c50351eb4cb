//! Certificate details via x509-parser: the facts a report shows about a certificate.

use ::time::OffsetDateTime;
use serde::{Deserialize, Serialize};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::*;

use mxdoctor_proto::names::PresentedIds;

/// What a user needs to know about one certificate of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub common_names: Vec<String>,
    /// dNSName subjectAltNames, as presented.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<String>,
    /// Whether a subjectAltName extension is present at all (CN-only certificates have none).
    pub has_san: bool,
    pub not_before: String,
    pub not_after: String,
    #[serde(skip)]
    pub not_before_t: Option<OffsetDateTime>,
    #[serde(skip)]
    pub not_after_t: Option<OffsetDateTime>,
    pub serial: String,
    pub key: String,
    pub signature_algorithm: String,
    /// Subject and issuer are the same name (a root or a self-signed certificate).
    pub self_issued: bool,
    pub is_ca: bool,
    /// Authority Information Access caIssuers URIs (RFC 5280 section 4.2.2.1): where the
    /// issuer's certificate can be fetched, the evidence that tells a missing intermediate from
    /// a private CA.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca_issuers: Vec<String>,
}

/// id-ad-caIssuers (RFC 5280 section 4.2.2.1).
const OID_CA_ISSUERS: &str = "1.3.6.1.5.5.7.48.2";

/// The caIssuers URIs of a certificate's AIA extension.
fn ca_issuers(cert: &X509Certificate<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for ext in cert.extensions() {
        if let ParsedExtension::AuthorityInfoAccess(aia) = ext.parsed_extension() {
            for d in aia.iter() {
                if d.access_method.to_id_string() == OID_CA_ISSUERS
                    && let GeneralName::URI(uri) = &d.access_location
                {
                    out.push(uri.to_string());
                }
            }
        }
    }
    out.truncate(4);
    out
}

impl CertSummary {
    pub fn parse(der: &[u8]) -> Result<Self, String> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| format!("unreadable certificate: {e}"))?;
        let subject = cert.subject().to_string();
        let issuer = cert.issuer().to_string();
        let common_names = cert
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok().map(str::to_string))
            .collect();
        let mut dns_names = Vec::new();
        let mut ip_addresses = Vec::new();
        let mut has_san = false;
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            has_san = true;
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(d) => dns_names.push(d.to_string()),
                    GeneralName::IPAddress(bytes) => {
                        if let Some(ip) = ip_from_bytes(bytes) {
                            ip_addresses.push(ip.to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        let nb = cert.validity().not_before.to_datetime();
        let na = cert.validity().not_after.to_datetime();
        let key = describe_key(&cert);
        let is_ca = cert
            .basic_constraints()
            .ok()
            .flatten()
            .map(|b| b.value.ca)
            .unwrap_or(false);
        Ok(Self {
            self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
            subject,
            issuer,
            common_names,
            dns_names,
            ip_addresses,
            has_san,
            not_before: crate::clock::rfc3339(nb),
            not_after: crate::clock::rfc3339(na),
            not_before_t: Some(nb),
            not_after_t: Some(na),
            serial: cert.raw_serial_as_string(),
            key,
            signature_algorithm: oid_name(&cert.signature_algorithm.algorithm),
            is_ca,
            ca_issuers: ca_issuers(&cert),
        })
    }

    /// The identities the certificate presents, for the RFC 6125 matcher.
    pub fn presented_ids(&self) -> PresentedIds {
        PresentedIds {
            dns_sans: self.dns_names.clone(),
            ip_sans: self.ip_addresses.iter().filter_map(|s| s.parse().ok()).collect(),
            common_names: self.common_names.clone(),
        }
    }

    /// A short human name: the first SAN or CN, else the subject.
    pub fn short_name(&self) -> String {
        self.dns_names
            .first()
            .or(self.common_names.first())
            .cloned()
            .unwrap_or_else(|| self.subject.clone())
    }
}

fn ip_from_bytes(b: &[u8]) -> Option<std::net::IpAddr> {
    match b.len() {
        4 => Some(std::net::IpAddr::from(<[u8; 4]>::try_from(b).ok()?)),
        16 => Some(std::net::IpAddr::from(<[u8; 16]>::try_from(b).ok()?)),
        _ => None,
    }
}

fn oid_name(oid: &x509_parser::der_parser::oid::Oid<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    registry
        .get(oid)
        .map(|e| e.sn().to_string())
        .unwrap_or_else(|| oid.to_id_string())
}

fn describe_key(cert: &X509Certificate<'_>) -> String {
    match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => format!("RSA {} bits", rsa.key_size()),
        Ok(x509_parser::public_key::PublicKey::EC(ec)) => {
            let curve = cert
                .public_key()
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| oid_name(&o))
                .unwrap_or_else(|| "EC".into());
            format!("ECDSA {curve} ({} bits)", ec.key_size())
        }
        Ok(_) => oid_name(&cert.public_key().algorithm.algorithm),
        Err(_) => "unknown key".into(),
    }
}

/// A certificate as a caIssuers URI serves it: DER (RFC 5280), or PEM as some servers send.
/// None for anything else (a PKCS#7 bundle, an HTML page).
pub fn certificate_der(body: &[u8]) -> Option<Vec<u8>> {
    if X509Certificate::from_der(body).is_ok() {
        return Some(body.to_vec());
    }
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("-----BEGIN CERTIFICATE-----")? + "-----BEGIN CERTIFICATE-----".len();
    let end = start + text[start..].find("-----END CERTIFICATE-----")?;
    let b64: String = text[start..end].chars().filter(|c| !c.is_whitespace()).collect();
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let ok = X509Certificate::from_der(&der).is_ok();
    ok.then_some(der)
}
