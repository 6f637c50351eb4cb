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
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok(IssuedCert { chain, key })
    }
}
