//! DKIM key records (RFC 6376 section 3.6.1, RFC 8463 for ed25519): parsed and judged.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use x509_parser::prelude::FromDer;

use crate::tags::{get, parse_tag_list};

/// Selectors tried when the user names none: the usual defaults and those of large providers.
pub const COMMON_SELECTORS: &[&str] = &[
    "google",    // Google Workspace
    "selector1", // Microsoft 365
    "selector2", // Microsoft 365
    "default",   // cPanel, many hosts
    "dkim",
    "mail",
    "k1", // Mailchimp / Mandrill
    "k2",
    "k3",
    "s1", // SendGrid
    "s2",
    "smtp",
    "key1",
    "key2",
    "mx",
    "sig1", // iCloud custom domains
    "zoho", // Zoho Mail
    "mxvault",
    "everlytickey1",
    "dkim1",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkimKey {
    pub key_type: String,
    /// RSA modulus size; 256 for ed25519.
    pub bits: Option<usize>,
    pub revoked: bool,
    pub testing: bool,
    /// h= hash algorithms, when restricted.
    pub hashes: Option<Vec<String>>,
    /// s= service types, when restricted.
    pub services: Option<Vec<String>>,
    pub notes: Option<String>,
}

/// Parses a key record. Errors say what is wrong.
pub fn parse_key_record(text: &str) -> Result<DkimKey, String> {
    let tags = parse_tag_list(text)?;
    if let Some((first, v)) = tags.first() {
        if tags.iter().any(|(n, _)| n == "v") && first != "v" {
            return Err("v= must be the first tag".into());
        }
        if first == "v" && v != "DKIM1" {
            return Err(format!("v={v}: only DKIM1 is defined"));
        }
    }
    let key_type = get(&tags, "k").unwrap_or("rsa").to_ascii_lowercase();
    let p = get(&tags, "p").ok_or("no p= tag (public key)")?.replace(' ', "");
    let flags: Vec<String> = get(&tags, "t")
        .map(|t| t.split(':').map(|f| f.trim().to_ascii_lowercase()).collect())
        .unwrap_or_default();
    let list =
        |name: &str| get(&tags, name).map(|v| v.split(':').map(|x| x.trim().to_ascii_lowercase()).collect::<Vec<_>>());
    let mut key = DkimKey {
        key_type: key_type.clone(),
        bits: None,
        revoked: p.is_empty(),
        testing: flags.iter().any(|f| f == "y"),
        hashes: list("h"),
        services: list("s"),
        notes: get(&tags, "n").map(str::to_string),
    };
    if key.revoked {
        return Ok(key);
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(p.as_bytes())
        .map_err(|e| format!("p= is not valid base64 ({e})"))?;
    match key_type.as_str() {
        "rsa" => key.bits = Some(rsa_bits(&der).ok_or("p= is not an RSA public key")?),
        "ed25519" => {
            if der.len() != 32 {
                return Err(format!("an ed25519 key is 32 bytes, p= has {}", der.len()));
            }
            key.bits = Some(256);
        }
        other => return Err(format!("unknown key type k={other}")),
    }
    Ok(key)
}

/// Modulus size of an RSA key given as SubjectPublicKeyInfo (the usual form) or a bare
/// RSAPublicKey (some signers publish that).
fn rsa_bits(der: &[u8]) -> Option<usize> {
    if let Ok((_, spki)) = x509_parser::x509::SubjectPublicKeyInfo::from_der(der)
        && let Ok(x509_parser::public_key::PublicKey::RSA(rsa)) = spki.parsed()
    {
        return Some(rsa.key_size());
    }
    let (_, rsa) = x509_parser::public_key::RSAPublicKey::from_der(der).ok()?;
    Some(rsa.key_size())
}

#[cfg(test)]
mod tests {
    use super::*;

    // A 1024-bit RSA SubjectPublicKeyInfo made with openssl for this test.
    const RSA1024: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDzXF7z64Qe/ZSUfUjUuagd62itr50ftUpIYKvB6dPEBCmWr4U1WwqZJyEgc6AcbuGORn5JSYHky1kgpOFfl8bnS5k1gp+wJhfi6xgOpBOBcMeyGN5ITUe1w/XuZeeKJ9BA0uMd3KQleIQDMQZ7qtKz4dkOPsdytpdPRrXhcwFX2QIDAQAB";

    #[test]
    fn rfc6376_3_6_1_rsa_key() {
        let k = parse_key_record(&format!("v=DKIM1; k=rsa; p={RSA1024}")).unwrap();
        assert_eq!(k.bits, Some(1024));
        assert!(!k.revoked && !k.testing);
    }

    #[test]
    fn rfc6376_3_6_1_revoked_testing_and_errors() {
        assert!(parse_key_record("v=DKIM1; p=").unwrap().revoked);
        assert!(parse_key_record(&format!("v=DKIM1; t=y; p={RSA1024}")).unwrap().testing);
        assert!(parse_key_record("k=rsa; v=DKIM1; p=").is_err());
        assert!(parse_key_record("v=DKIM1; p=!!!notbase64").is_err());
        assert!(parse_key_record("v=DKIM1; k=dsa; p=AAAA").is_err());
        assert!(parse_key_record("v=DKIM1").is_err());
        assert!(parse_key_record("garbage").is_err());
    }

    #[test]
    fn rfc8463_ed25519() {
        let k = parse_key_record("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=").unwrap();
        assert_eq!(k.bits, Some(256));
    }
}

/// The tags of a DKIM-Signature field that decide its outcome (RFC 6376 section 3.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureTags {
    pub domain: String,
    pub selector: String,
    /// `rsa-sha256`, `rsa-sha1`, `ed25519-sha256`...
    pub algorithm: String,
    /// `x=`: the signature expires at this Unix time (section 3.5).
    pub expires: Option<u64>,
    /// `l=`: only this many bytes of the canonical body are signed (section 3.5; section 8.2
    /// on what that allows).
    pub body_length: Option<u64>,
}

impl SignatureTags {
    /// The hash of `a=` (`sha256`), as a key record's `h=` names it.
    pub fn hash(&self) -> &str {
        self.algorithm.rsplit('-').next().unwrap_or("")
    }

    /// The key type of `a=` (`rsa`, `ed25519`), as a key record's `k=` names it.
    pub fn key_type(&self) -> &str {
        self.algorithm.split('-').next().unwrap_or("")
    }
}

/// Why a DKIM-Signature field is unusable before any key is fetched: a permanent error
/// (RFC 6376 section 6.1.1). `domain` and `selector` are kept when present, so the finding can
/// still name them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureError {
    pub domain: Option<String>,
    pub selector: Option<String>,
    /// A short English reason, e.g. "the required tag v= is missing".
    pub reason: String,
}

/// Parses one DKIM-Signature field value: `v=1` and the tags a=, b=, bh=, d=, h=, s= are
/// required (RFC 6376 section 3.5), and h= must include From (section 5.4).
pub fn parse_signature(value: &str) -> Result<SignatureTags, SignatureError> {
    let tags = parse_tag_list(value).map_err(|e| SignatureError {
        domain: None,
        selector: None,
        reason: format!("the field is not a tag list: {e}"),
    })?;
    let domain = get(&tags, "d").map(|d| d.trim().to_ascii_lowercase());
    let selector = get(&tags, "s").map(|s| s.trim().to_string());
    let err = |reason: String| SignatureError {
        domain: domain.clone(),
        selector: selector.clone(),
        reason,
    };
    match get(&tags, "v") {
        None => return Err(err("the required tag v= is missing".into())),
        Some(v) if v.trim() != "1" => return Err(err(format!("v={} is not version 1", v.trim()))),
        Some(_) => {}
    }
    for t in ["a", "b", "bh", "d", "h", "s"] {
        if get(&tags, t).is_none_or(|v| v.trim().is_empty() && t != "b") {
            return Err(err(format!("the required tag {t}= is missing")));
        }
    }
    let signed: Vec<String> = get(&tags, "h")
        .unwrap_or_default()
        .split(':')
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    if !signed.iter().any(|h| h == "from") {
        return Err(err("h= does not include From".into()));
    }
    let number = |t: &str| -> Result<Option<u64>, SignatureError> {
        match get(&tags, t).map(str::trim) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| err(format!("{t}={v} is not a number"))),
        }
    };
    // t= is not checked against x=: a signature whose x= is not after its t= has expired by
    // the time anyone reads it, and "expired" is the useful thing to say.
    let expires = number("x")?;
    let body_length = number("l")?;
    Ok(SignatureTags {
        domain: domain.clone().unwrap_or_default(),
        selector: selector.clone().unwrap_or_default(),
        algorithm: get(&tags, "a").unwrap_or_default().trim().to_ascii_lowercase(),
        expires,
        body_length,
    })
}

#[cfg(test)]
mod signature_tests {
    use super::*;

    #[test]
    fn rfc6376_section_3_5_required_tags() {
        let ok = "v=1; a=rsa-sha256; d=example.com; s=sel; h=from:to; bh=abc=; b=def=";
        let t = parse_signature(ok).unwrap();
        assert_eq!(
            (t.domain.as_str(), t.selector.as_str(), t.hash()),
            ("example.com", "sel", "sha256")
        );
        let no_v = "a=rsa-sha256; d=example.com; s=sel; h=from; bh=abc=; b=def=";
        let e = parse_signature(no_v).unwrap_err();
        assert!(e.reason.contains("v="));
        assert_eq!(e.domain.as_deref(), Some("example.com"));
        assert_eq!(e.selector.as_deref(), Some("sel"));
        assert!(
            parse_signature("v=1; a=rsa-sha256; d=e.com; s=s; h=from; b=x")
                .unwrap_err()
                .reason
                .contains("bh=")
        );
        assert!(
            parse_signature("v=1; a=rsa-sha256; d=e.com; s=s; h=to; bh=x; b=x")
                .unwrap_err()
                .reason
                .contains("From")
        );
        assert!(parse_signature("complete garbage ;;; ===").is_err());
    }
}
