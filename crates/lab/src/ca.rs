//! The lab's certificate authorities (made fresh at every start with rcgen) and the
//! certificates of a world, issued exactly as the world describes them — including the broken
//! ones (expired, CN-only, self-signed, below a CA nobody trusts).

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SignatureAlgorithm,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

use crate::LabError;
use crate::world::{CertSpec, Issuer, KeyKind, parse_when};

/// A certificate ready to serve: the chain to send and its key.
#[derive(Debug)]
pub struct IssuedCert {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

pub struct LabCa {
    root: CertifiedIssuer<'static, KeyPair>,
    intermediate: Option<CertifiedIssuer<'static, KeyPair>>,
    rogue: Option<CertifiedIssuer<'static, KeyPair>>,
}

fn err(e: impl std::fmt::Display) -> LabError {
    LabError::Certificate(e.to_string())
}

fn alg(kind: KeyKind) -> &'static SignatureAlgorithm {
    match kind {
        KeyKind::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyKind::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        KeyKind::Ed25519 => &rcgen::PKCS_ED25519,
    }
}

fn ca_params(cn: &str, org: &str, now: OffsetDateTime) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, org);
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = now - time::Duration::days(3650);
    p.not_after = now + time::Duration::days(3650);
    p
}

/// Where the lab publishes its CA certificates (RFC 5280 AIA caIssuers), and the world address
/// that name has; the lab maps it to its own loopback HTTP server.
pub const AIA_HOST: &str = "ca.mxdoctor-lab.example";
pub const AIA_ADDR: &str = "192.0.2.254";

/// DER length octets.
fn der_len(n: usize) -> Vec<u8> {
    match n {
        0..=127 => vec![n as u8],
        128..=255 => vec![0x81, n as u8],
        256..=0xffff => vec![0x82, (n >> 8) as u8, n as u8],
        _ => vec![0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8],
    }
}

fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend(der_len(body.len()));
    v.extend_from_slice(body);
    v
}

/// Authority Information Access with one caIssuers URI (RFC 5280 section 4.2.2.1):
/// SEQUENCE { SEQUENCE { id-ad-caIssuers, [6] IA5String uri } }.
fn aia_extension(uri: &str) -> rcgen::CustomExtension {
    const ID_AD_CA_ISSUERS: [u8; 10] = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    let mut desc = ID_AD_CA_ISSUERS.to_vec();
    desc.extend(der(0x86, uri.as_bytes()));
    let content = der(0x30, &der(0x30, &desc));
    rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], content)
}

impl LabCa {
    pub fn new(intermediate: bool, rogue: bool, now: OffsetDateTime) -> Result<Self, LabError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
        let root =
            CertifiedIssuer::self_signed(ca_params("mxdoctor Lab Root CA", "mxdoctor lab", now), key).map_err(err)?;
        let intermediate = if intermediate {
            let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
            let mut p = ca_params("mxdoctor Lab Intermediate CA", "mxdoctor lab", now);
            p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            Some(CertifiedIssuer::signed_by(p, key, &root).map_err(err)?)
        } else {
            None
        };
        let rogue = if rogue {
            let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
            Some(CertifiedIssuer::self_signed(ca_params("Rogue Private CA", "Untrusted Corp", now), key).map_err(err)?)
        } else {
            None
        };
        Ok(Self {
            root,
            intermediate,
            rogue,
        })
    }

    /// The CA certificates the lab's AIA server publishes, by file name (`root.der`...).
    pub fn published(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = vec![("root.der".to_string(), self.root.der().to_vec())];
        if let Some(i) = &self.intermediate {
            out.push(("intermediate.der".into(), i.der().to_vec()));
        }
        if let Some(r) = &self.rogue {
            out.push(("rogue.der".into(), r.der().to_vec()));
        }
        out
    }

    /// The lab root, PEM: the one trust anchor the lab exports.
    pub fn root_pem(&self) -> String {
        self.root.pem()
    }

    /// Issues the certificate a spec describes. Relative dates count from `now`.
    pub fn issue(&self, spec: &CertSpec, now: OffsetDateTime) -> Result<IssuedCert, LabError> {
        let mut p = if spec.san {
            CertificateParams::new(spec.names.clone()).map_err(err)?
        } else {
            CertificateParams::default()
        };
        let mut dn = DistinguishedName::new();
        if let Some(cn) = &spec.cn {
            dn.push(DnType::CommonName, cn.as_str());
        }
        p.distinguished_name = dn;
        p.not_before = parse_when(&spec.not_before, now).map_err(err)?;
        p.not_after = parse_when(&spec.not_after, now).map_err(err)?;
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.use_authority_key_identifier_extension = spec.issuer != Issuer::SelfSigned;
        let published = match spec.issuer {
            Issuer::SelfSigned => None,
            Issuer::Lab => Some("root.der"),
            Issuer::Intermediate => Some("intermediate.der"),
            Issuer::Rogue => Some("rogue.der"),
        };
        if let (Some(file), true) = (published, spec.aia) {
            p.custom_extensions
                .push(aia_extension(&format!("http://{AIA_HOST}/{file}")));
        }
        if spec.pad_bytes > 0 {
            // A private extension (an arc under 2.25, the UUID arc) holding an OCTET STRING of
            // zeros: not critical, so only the size matters.
            let content = der(0x04, &vec![0u8; spec.pad_bytes]);
            p.custom_extensions.push(rcgen::CustomExtension::from_oid_content(
                &[2, 25, 1_000_000_013],
                content,
            ));
        }
        let key = KeyPair::generate_for(alg(spec.key)).map_err(err)?;
        let (cert, extra) = match spec.issuer {
            Issuer::SelfSigned => (p.self_signed(&key).map_err(err)?, None),
            Issuer::Lab => (p.signed_by(&key, &self.root).map_err(err)?, None),
            Issuer::Intermediate => {
                let ca = self
                    .intermediate
                    .as_ref()
                    .ok_or_else(|| err("no intermediate CA in this world"))?;
                (p.signed_by(&key, ca).map_err(err)?, Some(ca.der().clone()))
            }
            Issuer::Rogue => {
                let ca = self.rogue.as_ref().ok_or_else(|| err("no rogue CA in this world"))?;
                (p.signed_by(&key, ca).map_err(err)?, Some(ca.der().clone()))
            }
        };
        let mut chain = vec![cert.der().clone()];
        if let (Some(extra), true) = (extra, spec.send_chain) {
            chain.push(extra);
        }
        if spec.chain_padding > 0 {
            // One unrelated self-signed certificate, sent again and again after the chain.
            let filler_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
            let filler = ca_params("mxdoctor Lab Filler", "mxdoctor lab", now)
                .self_signed(&filler_key)
                .map_err(err)?;
            chain.extend(std::iter::repeat_n(filler.der().clone(), spec.chain_padding));
        }
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok(IssuedCert { chain, key })
    }
}
