//! TLSA records as SMTP senders use them (RFC 6698 section 2.1, RFC 7672 section 3.1): which
//! records are usable, and why the others are not. Pure: matching against a certificate chain
//! needs hashing and is the engine's job (`mxdoctor_net::dane::association`).
//!
//! ```text
//! TLSA RDATA = cert-usage (1 octet) selector (1 octet) matching-type (1 octet) data
//! usage 2 DANE-TA: a trust anchor in the chain the server sends; 3 DANE-EE: the server's own
//! certificate or key (names and dates not checked). 0 and 1 (PKIX-TA, PKIX-EE) are unusable
//! for SMTP (RFC 7672 section 3.1.3). selector 0 full certificate, 1 SubjectPublicKeyInfo;
//! matching 0 exact, 1 SHA2-256, 2 SHA2-512.
//! ```

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tlsa {
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    #[serde(serialize_with = "hex")]
    pub data: Vec<u8>,
}

fn hex<S: serde::Serializer>(data: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&data.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

impl std::fmt::Display for Tlsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let data: String = self.data.iter().map(|b| format!("{b:02x}")).collect();
        write!(f, "{} {} {} {}", self.usage, self.selector, self.matching, data)
    }
}

/// Why a TLSA record cannot be used by an SMTP sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    #[error("usage {0} (PKIX) is unusable for SMTP (RFC 7672 section 3.1.3)")]
    Pkix(u8),
    #[error("usage {0} is not defined")]
    Usage(u8),
    #[error("selector {0} is not defined")]
    Selector(u8),
    #[error("matching type {0} is not defined")]
    Matching(u8),
    #[error("a matching type {matching} digest is {expected} bytes, this one is {got}")]
    DigestLength { matching: u8, expected: usize, got: usize },
    #[error("the association data is empty")]
    Empty,
}

impl Tlsa {
    /// DANE-TA (2): the record names a trust anchor, and the server name must be checked.
    pub fn is_trust_anchor(&self) -> bool {
        self.usage == 2
    }

    /// Ok when a sender would use this record; else the reason it is skipped. A malformed
    /// record (a digest of the wrong length) is unusable, not a match for nothing.
    pub fn usable(&self) -> Result<(), Unusable> {
        match self.usage {
            2 | 3 => {}
            0 | 1 => return Err(Unusable::Pkix(self.usage)),
            u => return Err(Unusable::Usage(u)),
        }
        if self.selector > 1 {
            return Err(Unusable::Selector(self.selector));
        }
        let expected = match self.matching {
            0 => None,
            1 => Some(32),
            2 => Some(64),
            m => return Err(Unusable::Matching(m)),
        };
        if self.data.is_empty() {
            return Err(Unusable::Empty);
        }
        match expected {
            Some(n) if n != self.data.len() => Err(Unusable::DigestLength {
                matching: self.matching,
                expected: n,
                got: self.data.len(),
            }),
            _ => Ok(()),
        }
    }

    /// Whether the record is a malformed one (as opposed to a well-formed PKIX record).
    pub fn is_malformed(&self) -> bool {
        matches!(
            self.usable(),
            Err(Unusable::Usage(_)
                | Unusable::Selector(_)
                | Unusable::Matching(_)
                | Unusable::DigestLength { .. }
                | Unusable::Empty)
        )
    }
}

/// The TLSA base name of an MX host on port 25 (RFC 7672 section 2.2.3).
pub fn owner(host: &str) -> String {
    format!("_25._tcp.{}", host.trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(usage: u8, selector: u8, matching: u8, len: usize) -> Tlsa {
        Tlsa {
            usage,
            selector,
            matching,
            data: vec![0xab; len],
        }
    }

    #[test]
    fn rfc7672_section_3_1_usable_records() {
        assert!(t(3, 1, 1, 32).usable().is_ok());
        assert!(t(2, 0, 2, 64).usable().is_ok());
        assert!(t(3, 0, 0, 800).usable().is_ok());
        assert_eq!(t(1, 1, 1, 32).usable(), Err(Unusable::Pkix(1)));
        assert!(!t(0, 1, 1, 32).is_malformed());
    }

    #[test]
    fn rfc6698_section_2_1_malformed_records() {
        assert_eq!(
            t(3, 1, 1, 2).usable(),
            Err(Unusable::DigestLength {
                matching: 1,
                expected: 32,
                got: 2
            })
        );
        assert_eq!(t(3, 2, 1, 32).usable(), Err(Unusable::Selector(2)));
        assert_eq!(t(3, 1, 3, 32).usable(), Err(Unusable::Matching(3)));
        assert_eq!(t(4, 1, 1, 32).usable(), Err(Unusable::Usage(4)));
        assert!(t(3, 1, 1, 2).is_malformed());
        assert_eq!(owner("mx.example."), "_25._tcp.mx.example");
    }
}
