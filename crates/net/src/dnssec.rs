//! Validated lookups: the same servers through hickory's DNSSEC validation, against IANA's
//! root keys or the trust anchor given (the lab's signed root). The answer carries its
//! security status (RFC 4035 section 4.3): secure (a chain of signatures from the anchor),
//! insecure (provably unsigned: the parent says there is no DS), bogus (signed, and the
//! chain does not validate) or indeterminate (could not tell). A validating resolver answers
//! SERVFAIL for bogus data, so a sender behind one (Google Public DNS, most ISPs) cannot reach
//! the domain: bogus is never "missing".

use std::sync::Arc;
use std::time::Instant;

use hickory_resolver::net::{DnsError as HDnsError, NetError};
use hickory_resolver::proto::dnssec::{Algorithm, Proof, PublicKeyBuf, TrustAnchors};
use hickory_resolver::proto::rr::{Record, RecordType};
use serde::{Deserialize, Serialize};

use crate::Dns;
use crate::dns::{DnsError, DnsQuery, DnsRecord, absolute, classify, parse_name, type_name};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Security {
    Secure,
    Insecure,
    Bogus,
    /// The status could not be established (no answer, a failure before validation).
    Indeterminate,
}

impl Security {
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Secure => "secure",
            Security::Insecure => "insecure",
            Security::Bogus => "bogus",
            Security::Indeterminate => "indeterminate",
        }
    }

    fn of(proof: Proof) -> Self {
        match proof {
            Proof::Secure => Security::Secure,
            Proof::Insecure => Security::Insecure,
            Proof::Bogus => Security::Bogus,
            _ => Security::Indeterminate,
        }
    }

    /// The status of a set of records: bogus if any is, secure only if all are.
    fn of_all<'a>(records: impl Iterator<Item = &'a Record>) -> Option<Self> {
        let proofs: Vec<Security> = records.map(|r| Security::of(r.proof)).collect();
        if proofs.is_empty() {
            return None;
        }
        Some(if proofs.contains(&Security::Bogus) {
            Security::Bogus
        } else if proofs.iter().all(|p| *p == Security::Secure) {
            Security::Secure
        } else if proofs.iter().all(|p| *p == Security::Insecure) {
            Security::Insecure
        } else {
            Security::Indeterminate
        })
    }
}

/// A validated answer: its status, and the records (or why there are none).
#[derive(Debug, Clone)]
pub struct Validated {
    pub security: Security,
    pub result: Result<Vec<DnsRecord>, DnsError>,
}

/// Where the chain of trust starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TrustAnchor {
    /// IANA's root keys, as every validating resolver on the Internet uses.
    #[default]
    Iana,
    /// One root key, `ALGORITHM BASE64-KEY` (a signed lab world's root).
    Key(String),
    /// None (a lab world that is not signed): nothing can be secure, every answer is insecure.
    None,
}

/// The trust anchors to validate with; None when there are none.
pub fn trust_anchors(anchor: &TrustAnchor) -> Result<Option<Arc<TrustAnchors>>, DnsError> {
    let text = match anchor {
        TrustAnchor::Iana => return Ok(Some(Arc::new(TrustAnchors::default()))),
        TrustAnchor::None => return Ok(None),
        TrustAnchor::Key(text) => text,
    };
    use base64::Engine as _;
    let bad = |m: &str| DnsError::Setup(format!("DNSSEC trust anchor `{text}`: {m}"));
    let (alg, key) = text
        .trim()
        .split_once(' ')
        .ok_or_else(|| bad("expected ALGORITHM BASE64-KEY"))?;
    let alg: u8 = alg.parse().map_err(|_| bad("the algorithm is not a number"))?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(key.trim())
        .map_err(|_| bad("the key is not base64"))?;
    let mut anchors = TrustAnchors::empty();
    anchors.insert(&PublicKeyBuf::new(key, Algorithm::from_u8(alg)));
    Ok(Some(Arc::new(anchors)))
}

impl Dns {
    /// `name` `rtype` through the validating resolver. Logged with its status, like every
    /// other question of the run.
    pub async fn validated(&self, name: &str, rtype: RecordType) -> Validated {
        let fqdn = absolute(name);
        let rtype_s = type_name(rtype);
        let parsed = match parse_name(&fqdn) {
            Ok(n) => n,
            Err(message) => {
                return Validated {
                    security: Security::Indeterminate,
                    result: Err(DnsError::BadName { name: fqdn, message }),
                };
            }
        };
        let started = Instant::now();
        let step_start = self.timeline_now();
        let result = match tokio::time::timeout(self.budget(), self.validator.lookup(parsed, rtype)).await {
            Ok(r) => r,
            Err(_) => Err(NetError::Timeout),
        };
        let (security, result) = match result {
            Ok(lookup) => {
                let wanted: Vec<&Record> = lookup.answers().iter().filter(|r| r.record_type() == rtype).collect();
                let records: Vec<DnsRecord> = lookup
                    .answers()
                    .iter()
                    .filter(|r| r.record_type() != RecordType::RRSIG)
                    .map(DnsRecord::of)
                    .collect();
                let security = match self.validating {
                    true => Security::of_all(wanted.iter().copied()).unwrap_or(Security::Indeterminate),
                    false => Security::Insecure,
                };
                let result = if wanted.is_empty() {
                    Err(DnsError::NoRecords {
                        name: fqdn.clone(),
                        rtype: rtype_s.clone(),
                    })
                } else {
                    Ok(records)
                };
                (security, result)
            }
            Err(e) => {
                let err = classify(&fqdn, &rtype_s, &e);
                let security = match self.validating {
                    true => security_of_error(&e),
                    false if err.is_negative() => Security::Insecure,
                    false => Security::Indeterminate,
                };
                (security, Err(err))
            }
        };
        let entry = DnsQuery {
            name: fqdn.clone(),
            rtype: rtype_s,
            rcode: match &result {
                Ok(_) => "NOERROR".into(),
                Err(DnsError::NxDomain { .. }) => "NXDOMAIN".into(),
                Err(DnsError::NoRecords { .. }) => "NOERROR".into(),
                Err(DnsError::Rcode { rcode, .. }) => rcode.clone(),
                Err(DnsError::Timeout { .. }) => "TIMEOUT".into(),
                Err(_) => "ERROR".into(),
            },
            records: result.clone().unwrap_or_default(),
            elapsed_ms: started.elapsed().as_millis() as u64,
            error: match &result {
                Err(e) if !e.is_negative() => Some(e.to_string()),
                _ => None,
            },
            dnssec: Some(security.as_str().into()),
        };
        self.record(entry, step_start);
        Validated { security, result }
    }
}

/// The status an error carries: a negative answer's proof (the NSEC records and SOA in its
/// authority section), or bogus for a failed validation; indeterminate for anything else.
fn security_of_error(e: &NetError) -> Security {
    match e {
        NetError::Dns(HDnsError::NoRecordsFound(nr)) => nr
            .authorities
            .as_deref()
            .and_then(|a| Security::of_all(a.iter().filter(|r| r.record_type() != RecordType::RRSIG)))
            .unwrap_or(Security::Indeterminate),
        NetError::Dns(HDnsError::Nsec { proof, .. }) => Security::of(*proof),
        other => {
            let text = other.to_string();
            if text.contains("DNSSEC") || text.to_ascii_lowercase().contains("bogus") {
                Security::Bogus
            } else {
                Security::Indeterminate
            }
        }
    }
}
