//! DNSSEC for a lab world: the root zone and the zones a world names are signed (Ed25519,
//! NSEC) at start with fresh keys; the root's key is the trust anchor the client is given. The
//! root delegates every world zone (NS) and holds the DS of each signed zone, so a validating
//! resolver builds the chain root -> zone. A "bogus" zone is signed, but the DS in the root
//! is of another key: the chain breaks, as after a botched key roll-over.

use hickory_proto::dnssec::crypto::Ed25519SigningKey;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS};
use hickory_proto::dnssec::{DigestType, DnssecSigner, PublicKey, PublicKeyBuf, SigningKey};
use hickory_proto::rr::{Name, RData, Record};

use crate::LabError;

/// How long signatures are valid (the lab runs for minutes; a demo for hours).
const SIGNATURE_LIFETIME: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

fn err(what: &str, e: impl std::fmt::Display) -> LabError {
    LabError::Zone(format!("DNSSEC {what}: {e}"))
}

/// A fresh zone key and its public half.
pub struct ZoneKey {
    key: Ed25519SigningKey,
    public: PublicKeyBuf,
}

impl ZoneKey {
    pub fn generate() -> Result<Self, LabError> {
        let pkcs8 = Ed25519SigningKey::generate_pkcs8().map_err(|e| err("key", e))?;
        let key = Ed25519SigningKey::from_pkcs8(&pkcs8).map_err(|e| err("key", e))?;
        let public = key.to_public_key().map_err(|e| err("key", e))?;
        Ok(Self { key, public })
    }

    /// The signer the zone handler signs `origin` with.
    pub fn signer(self, origin: &Name) -> DnssecSigner {
        DnssecSigner::new(
            DNSKEY::from_key(&self.public),
            Box::new(self.key),
            origin.clone(),
            SIGNATURE_LIFETIME,
        )
    }

    /// The DS record the parent publishes for this key at `owner` (SHA-256 digest).
    pub fn ds(&self, owner: &Name) -> Result<Record, LabError> {
        let ds = DS::from_key(&self.public, owner, DigestType::SHA256).map_err(|e| err("DS", e))?;
        Ok(Record::from_rdata(
            owner.clone(),
            300,
            RData::DNSSEC(DNSSECRData::DS(ds)),
        ))
    }

    /// The trust anchor a client needs: `ALGORITHM BASE64-KEY` (the DNSKEY's algorithm number
    /// and public key field, as in a DNSKEY record's presentation form).
    pub fn anchor(&self) -> String {
        use base64::Engine as _;
        format!(
            "{} {}",
            u8::from(self.public.algorithm()),
            base64::engine::general_purpose::STANDARD.encode(self.public.public_bytes())
        )
    }
}
