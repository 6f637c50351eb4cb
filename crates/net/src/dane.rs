//! The data a TLSA record (RFC 6698 section 2.1) associates with a certificate: the whole
//! certificate or its SubjectPublicKeyInfo (selector 0 or 1), as is or hashed with SHA-256 or
//! SHA-512 (matching type 0, 1 or 2). Used by the lab to publish TLSA records for the
//! certificates it issues and by the DANE check to compare them with what a server presented.

use x509_parser::prelude::{FromDer, X509Certificate};

/// The association data of `cert_der` for `selector` and `matching`; Err for a selector or
/// matching type RFC 6698 does not define, or a certificate that does not parse.
pub fn association(cert_der: &[u8], selector: u8, matching: u8) -> Result<Vec<u8>, String> {
    let selected: Vec<u8> = match selector {
        0 => cert_der.to_vec(),
        1 => {
            let (_, cert) = X509Certificate::from_der(cert_der).map_err(|e| format!("certificate: {e}"))?;
            cert.tbs_certificate.subject_pki.raw.to_vec()
        }
        other => return Err(format!("selector {other} is not defined (0 or 1)")),
    };
    match matching {
        0 => Ok(selected),
        1 => Ok(ring::digest::digest(&ring::digest::SHA256, &selected).as_ref().to_vec()),
        2 => Ok(ring::digest::digest(&ring::digest::SHA512, &selected).as_ref().to_vec()),
        other => Err(format!("matching type {other} is not defined (0, 1 or 2)")),
    }
}

/// The length association data must have for `matching` (None: any, for the full data).
pub fn digest_len(matching: u8) -> Option<usize> {
    match matching {
        1 => Some(32),
        2 => Some(64),
        _ => None,
    }
}
