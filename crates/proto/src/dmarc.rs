//! DMARC policy records (RFC 9989, which replaced RFC 7489 in May 2026): parsed strictly, with
//! the removed tags (pct, rf, ri) recognised so they can be reported, and the tree walk that
//! finds the record that applies to a domain.

use serde::{Deserialize, Serialize};

use crate::tags::{get, parse_tag_list};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    None,
    Quarantine,
    Reject,
}

impl Policy {
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(Policy::None),
            "quarantine" => Some(Policy::Quarantine),
            "reject" => Some(Policy::Reject),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmarcRecord {
    pub p: Option<Policy>,
    pub sp: Option<Policy>,
    pub np: Option<Policy>,
    pub adkim_strict: bool,
    pub aspf_strict: bool,
    pub rua: Vec<String>,
    pub ruf: Vec<String>,
    /// t=y: the policy is in test mode (RFC 9989).
    pub testing: bool,
    pub psd: Option<String>,
    /// Tags RFC 9989 removed that the record still carries (pct, rf, ri).
    pub removed_tags: Vec<String>,
    /// Tags no version defines.
    pub unknown_tags: Vec<String>,
}

/// Is this TXT string a DMARC record (starts with `v=DMARC1`)?
pub fn is_dmarc(txt: &str) -> bool {
    let t = txt.trim_start();
    t.len() >= 8 && t[..8].eq_ignore_ascii_case("v=DMARC1") && t[8..].trim_start().is_empty_or_semicolon()
}

trait EmptyOrSemicolon {
    fn is_empty_or_semicolon(&self) -> bool;
}

impl EmptyOrSemicolon for str {
    fn is_empty_or_semicolon(&self) -> bool {
        self.is_empty() || self.starts_with(';')
    }
}

pub fn parse_record(text: &str) -> Result<DmarcRecord, String> {
    let tags = parse_tag_list(text)?;
    match tags.first() {
        Some((n, v)) if n == "v" && v == "DMARC1" => {}
        _ => return Err("the record must start with v=DMARC1".into()),
    }
    let policy = |name: &str| -> Result<Option<Policy>, String> {
        match get(&tags, name) {
            None => Ok(None),
            Some(v) => Policy::parse(v)
                .map(Some)
                .ok_or_else(|| format!("{name}={v}: expected none, quarantine or reject")),
        }
    };
    let align = |name: &str| -> Result<bool, String> {
        match get(&tags, name).map(|v| v.to_ascii_lowercase()) {
            None => Ok(false),
            Some(v) if v == "r" => Ok(false),
            Some(v) if v == "s" => Ok(true),
            Some(v) => Err(format!("{name}={v}: expected r or s")),
        }
    };
    let uris = |name: &str| -> Vec<String> {
        get(&tags, name)
            .map(|v| {
                v.split(',')
                    .map(|u| u.trim().to_string())
                    .filter(|u| !u.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let testing = match get(&tags, "t").map(|v| v.to_ascii_lowercase()) {
        None => false,
        Some(v) if v == "y" => true,
        Some(v) if v == "n" => false,
        Some(v) => return Err(format!("t={v}: expected y or n")),
    };
    const KNOWN: &[&str] = &["v", "p", "sp", "np", "adkim", "aspf", "rua", "ruf", "fo", "t", "psd"];
    const REMOVED: &[&str] = &["pct", "rf", "ri"];
    Ok(DmarcRecord {
        p: policy("p")?,
        sp: policy("sp")?,
        np: policy("np")?,
        adkim_strict: align("adkim")?,
        aspf_strict: align("aspf")?,
        rua: uris("rua"),
        ruf: uris("ruf"),
        testing,
        psd: get(&tags, "psd").map(str::to_string),
        removed_tags: tags
            .iter()
            .filter(|(n, _)| REMOVED.contains(&n.as_str()))
            .map(|(n, v)| format!("{n}={v}"))
            .collect(),
        unknown_tags: tags
            .iter()
            .filter(|(n, _)| !KNOWN.contains(&n.as_str()) && !REMOVED.contains(&n.as_str()))
            .map(|(n, _)| n.clone())
            .collect(),
    })
}

/// The names the DMARC tree walk (RFC 9989 section 4.10) asks, in order: the domain itself,
/// then its parents, starting at most 8 labels up and never at the top-level domain alone.
pub fn walk_names(domain: &str) -> Vec<String> {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = d.split('.').collect();
    let mut out = vec![format!("_dmarc.{d}")];
    let n = labels.len();
    // After the domain itself, continue from at most 7 labels (the walk's shortcut), down to 2.
    let start = (n - 1).min(7);
    for k in (2..=start).rev() {
        let name = labels.get(n - k..).unwrap_or_default().join(".");
        let q = format!("_dmarc.{name}");
        if !out.contains(&q) {
            out.push(q);
        }
    }
    out
}

/// Where an external report destination must publish its consent (RFC 9989 section 3.x,
/// formerly RFC 7489 section 7.1): `<domain>._report._dmarc.<destination host>`.
pub fn external_authorization_name(domain: &str, uri: &str) -> Option<(String, String)> {
    let addr = uri.strip_prefix("mailto:").or_else(|| uri.strip_prefix("MAILTO:"))?;
    let addr = addr.split('!').next()?;
    let host = addr.rsplit_once('@')?.1.trim_end_matches('.').to_ascii_lowercase();
    Some((
        host.clone(),
        format!(
            "{}._report._dmarc.{host}",
            domain.trim_end_matches('.').to_ascii_lowercase()
        ),
    ))
}

/// Same organisational domain, in the simple sense used for the external-destination check:
/// one is the other or a subdomain of it.
pub fn same_or_sub(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9989_record() {
        let r = parse_record(
            "v=DMARC1; p=quarantine; sp=reject; np=reject; adkim=s; rua=mailto:d@rep.example, mailto:x@y.example; t=y",
        )
        .unwrap();
        assert_eq!(r.p, Some(Policy::Quarantine));
        assert_eq!(r.np, Some(Policy::Reject));
        assert!(r.adkim_strict && !r.aspf_strict && r.testing);
        assert_eq!(r.rua.len(), 2);
    }

    #[test]
    fn removed_and_bad_tags() {
        let r = parse_record("v=DMARC1; p=none; pct=50; ri=3600").unwrap();
        assert_eq!(r.removed_tags, vec!["pct=50", "ri=3600"]);
        assert!(parse_record("p=none; v=DMARC1").is_err());
        assert!(parse_record("v=DMARC1; p=block").is_err());
        assert!(parse_record("v=DMARC1; p=none; p=reject").is_err());
        assert!(is_dmarc("v=DMARC1; p=none"));
        assert!(!is_dmarc("v=DMARC10; p=none"));
        assert!(!is_dmarc("v=spf1 -all"));
    }

    #[test]
    fn rfc9989_tree_walk_names() {
        assert_eq!(
            walk_names("mail.shop.example.co.jp"),
            vec![
                "_dmarc.mail.shop.example.co.jp",
                "_dmarc.shop.example.co.jp",
                "_dmarc.example.co.jp",
                "_dmarc.co.jp"
            ]
        );
        assert_eq!(walk_names("example.com"), vec!["_dmarc.example.com"]);
        let deep = walk_names("a.b.c.d.e.f.g.h.i.example");
        assert_eq!(deep[1], "_dmarc.d.e.f.g.h.i.example");
    }

    #[test]
    fn external_destinations() {
        assert_eq!(
            external_authorization_name("shop.example", "mailto:dmarc@reports.example!10m"),
            Some((
                "reports.example".into(),
                "shop.example._report._dmarc.reports.example".into()
            ))
        );
        assert!(same_or_sub("shop.example", "mail.shop.example"));
    }
}
