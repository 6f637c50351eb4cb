//! Server identity matching (RFC 6125 section 6, as tightened by RFC 9525), done so that every
//! decision can be explained: which presented name was compared, and why it did or did not
//! cover the name the user typed.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::hostname::Hostname;

/// The identities a certificate presents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentedIds {
    pub dns_sans: Vec<String>,
    pub ip_sans: Vec<IpAddr>,
    pub common_names: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdSource {
    San,
    CommonName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchedBy {
    Exact,
    Wildcard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NameRejection {
    /// A different name.
    Different,
    /// `*.example.com` covers `a.example.com` only, not `a.b.example.com` nor `example.com`.
    WildcardCoversOneLabelOnly,
    /// `www.*.example.com`: a wildcard only as the whole leftmost label.
    WildcardNotLeftmost,
    /// `f*.example.com`: RFC 9525 section 6.3 and browsers accept only a whole-label `*`.
    PartialLabelWildcard,
    /// `*.com`, `*`: too broad to be honoured.
    WildcardTooBroad,
    /// A wildcard never stands for an IDN A-label (RFC 6125 section 6.4.3).
    WildcardOnIdnLabel,
    /// The CN is not consulted when the certificate has dNSName SANs (RFC 6125 section 6.4.4).
    CommonNameIgnoredBecauseSanPresent,
    /// The presented name is not a valid DNS name.
    InvalidPresentedName,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameCheck {
    pub presented: String,
    pub source: IdSource,
    #[serde(with = "outcome_serde")]
    pub outcome: Result<MatchedBy, NameRejection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameVerdict {
    pub reference: String,
    pub matched: Option<NameCheck>,
    pub checks: Vec<NameCheck>,
    /// The match came from the CN because the certificate has no dNSName SAN.
    pub cn_fallback_used: bool,
}

mod outcome_serde {
    use super::{MatchedBy, NameRejection};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Flat {
        Matched(MatchedBy),
        Rejected(NameRejection),
    }

    pub fn serialize<S: Serializer>(v: &Result<MatchedBy, NameRejection>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Ok(m) => Flat::Matched(*m),
            Err(r) => Flat::Rejected(*r),
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Result<MatchedBy, NameRejection>, D::Error> {
        Ok(match Flat::deserialize(d)? {
            Flat::Matched(m) => Ok(m),
            Flat::Rejected(r) => Err(r),
        })
    }
}

/// Normalises a presented name: lowercase, no trailing dot, U-labels to A-labels (leniently:
/// RFC 5280 wants A-labels in certificates, but comparing the intended name is more useful).
fn normalise(presented: &str) -> Option<String> {
    let p = presented.trim().trim_end_matches('.');
    if p.is_empty() || p.len() > 253 {
        return None;
    }
    let ascii = if p.is_ascii() {
        p.to_ascii_lowercase()
    } else {
        // Keep a leading wildcard label out of IDNA processing.
        match p.strip_prefix("*.") {
            Some(rest) => format!("*.{}", idna::domain_to_ascii(rest).ok()?),
            None => idna::domain_to_ascii(p).ok()?,
        }
    };
    let valid = ascii.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*' || c == '_')
    });
    valid.then_some(ascii)
}

/// Does the presented name cover the reference name?
pub fn name_covers(presented: &str, reference: &Hostname) -> Result<MatchedBy, NameRejection> {
    let Some(p) = normalise(presented) else {
        return Err(NameRejection::InvalidPresentedName);
    };
    let r = reference.as_str();
    if !p.contains('*') {
        return if p == r {
            Ok(MatchedBy::Exact)
        } else {
            Err(NameRejection::Different)
        };
    }
    let plabels: Vec<&str> = p.split('.').collect();
    let rlabels: Vec<&str> = r.split('.').collect();
    let Some((&first, suffix)) = plabels.split_first() else {
        return Err(NameRejection::Different);
    };
    if suffix.iter().any(|l| l.contains('*')) {
        return Err(NameRejection::WildcardNotLeftmost);
    }
    if first != "*" {
        return Err(NameRejection::PartialLabelWildcard);
    }
    // At least two labels after the wildcard: `*.com` and `*` are never honoured.
    if plabels.len() < 3 {
        return Err(NameRejection::WildcardTooBroad);
    }
    let Some((covered, rest)) = rlabels.split_at_checked(rlabels.len().saturating_sub(suffix.len())) else {
        return Err(NameRejection::Different);
    };
    if rest != suffix {
        return Err(NameRejection::Different);
    }
    match covered {
        [only] => {
            if only.starts_with("xn--") {
                Err(NameRejection::WildcardOnIdnLabel)
            } else {
                Ok(MatchedBy::Wildcard)
            }
        }
        _ => Err(NameRejection::WildcardCoversOneLabelOnly),
    }
}

/// Checks every presented identity against `reference`, in RFC 6125 order.
pub fn verify_name(reference: &Hostname, ids: &PresentedIds) -> NameVerdict {
    let mut checks = Vec::new();
    for san in &ids.dns_sans {
        checks.push(NameCheck {
            presented: san.clone(),
            source: IdSource::San,
            outcome: name_covers(san, reference),
        });
    }
    let use_cn = ids.dns_sans.is_empty();
    for cn in &ids.common_names {
        let outcome = if use_cn {
            name_covers(cn, reference)
        } else {
            Err(NameRejection::CommonNameIgnoredBecauseSanPresent)
        };
        checks.push(NameCheck {
            presented: cn.clone(),
            source: IdSource::CommonName,
            outcome,
        });
    }
    let matched = checks.iter().find(|c| c.outcome.is_ok()).cloned();
    let cn_fallback_used = matched.as_ref().is_some_and(|m| m.source == IdSource::CommonName);
    NameVerdict {
        reference: reference.as_str().to_string(),
        matched,
        checks,
        cn_fallback_used,
    }
}

/// The names a certificate covers: its dNSName SANs, or its CNs when it has none; deduplicated.
pub fn covered_names(ids: &PresentedIds) -> Vec<String> {
    let source = if ids.dns_sans.is_empty() {
        &ids.common_names
    } else {
        &ids.dns_sans
    };
    let mut out: Vec<String> = Vec::new();
    for n in source {
        let n = normalise(n).unwrap_or_else(|| n.clone());
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Hostname {
        Hostname::parse(s).unwrap()
    }

    #[test]
    fn rfc6125_6_4_1_exact_match_is_case_insensitive() {
        assert_eq!(
            name_covers("Mail.Example.COM", &h("mail.example.com")),
            Ok(MatchedBy::Exact)
        );
        assert_eq!(
            name_covers("mail.example.com.", &h("mail.example.com")),
            Ok(MatchedBy::Exact)
        );
        assert_eq!(
            name_covers("smtp.example.com", &h("mail.example.com")),
            Err(NameRejection::Different)
        );
    }

    #[test]
    fn rfc6125_6_4_2_idn_compared_as_a_labels() {
        assert_eq!(
            name_covers("xn--bcher-kva.example", &h("bücher.example")),
            Ok(MatchedBy::Exact)
        );
        // A U-label in a certificate is invalid per RFC 5280 but names the same host.
        assert_eq!(
            name_covers("bücher.example", &h("xn--bcher-kva.example")),
            Ok(MatchedBy::Exact)
        );
    }

    #[test]
    fn rfc6125_6_4_3_wildcard_one_label_only() {
        let w = "*.star-hosting.example";
        assert_eq!(
            name_covers(w, &h("sv1234.star-hosting.example")),
            Ok(MatchedBy::Wildcard)
        );
        assert_eq!(
            name_covers(w, &h("a.sv1234.star-hosting.example")),
            Err(NameRejection::WildcardCoversOneLabelOnly)
        );
        // The bare domain is not covered either: the wildcard stands for exactly one label.
        assert_eq!(
            name_covers(w, &h("star-hosting.example")),
            Err(NameRejection::WildcardCoversOneLabelOnly)
        );
        assert_eq!(
            name_covers(w, &h("mail.hanako-shop.example")),
            Err(NameRejection::Different)
        );
    }

    #[test]
    fn rfc6125_6_4_3_wildcard_forms_that_are_refused() {
        assert_eq!(
            name_covers("f*.example.com", &h("foo.example.com")),
            Err(NameRejection::PartialLabelWildcard)
        );
        assert_eq!(
            name_covers("*oo.example.com", &h("foo.example.com")),
            Err(NameRejection::PartialLabelWildcard)
        );
        assert_eq!(
            name_covers("www.*.example.com", &h("www.a.example.com")),
            Err(NameRejection::WildcardNotLeftmost)
        );
        assert_eq!(
            name_covers("*.com", &h("example.com")),
            Err(NameRejection::WildcardTooBroad)
        );
        assert_eq!(
            name_covers("*", &h("example.com")),
            Err(NameRejection::WildcardTooBroad)
        );
        assert_eq!(
            name_covers("*.example", &h("xn--bcher-kva.example")),
            Err(NameRejection::WildcardTooBroad)
        );
        assert_eq!(
            name_covers("*.shop.example", &h("xn--bcher-kva.shop.example")),
            Err(NameRejection::WildcardOnIdnLabel)
        );
        assert_eq!(
            name_covers("", &h("a.example")),
            Err(NameRejection::InvalidPresentedName)
        );
        assert_eq!(
            name_covers("bad name.example", &h("a.example")),
            Err(NameRejection::InvalidPresentedName)
        );
    }

    #[test]
    fn rfc6125_6_4_4_cn_only_without_san() {
        let cn_only = PresentedIds {
            common_names: vec!["mail.cnonly.example".into()],
            ..Default::default()
        };
        let v = verify_name(&h("mail.cnonly.example"), &cn_only);
        assert!(v.matched.is_some());
        assert!(v.cn_fallback_used);
        let with_san = PresentedIds {
            dns_sans: vec!["other.example".into()],
            common_names: vec!["mail.cnonly.example".into()],
            ..Default::default()
        };
        let v = verify_name(&h("mail.cnonly.example"), &with_san);
        assert!(v.matched.is_none());
        assert_eq!(
            v.checks[1].outcome,
            Err(NameRejection::CommonNameIgnoredBecauseSanPresent)
        );
    }

    #[test]
    fn covered_names_prefers_sans_and_dedups() {
        let ids = PresentedIds {
            dns_sans: vec![
                "*.star-hosting.example".into(),
                "SV1234.star-hosting.example".into(),
                "sv1234.star-hosting.example".into(),
            ],
            common_names: vec!["ignored.example".into()],
            ..Default::default()
        };
        assert_eq!(
            covered_names(&ids),
            vec!["*.star-hosting.example", "sv1234.star-hosting.example"]
        );
    }

    #[test]
    fn outcome_serialises_flat() {
        let c = NameCheck {
            presented: "*.a.example".into(),
            source: IdSource::San,
            outcome: Err(NameRejection::WildcardCoversOneLabelOnly),
        };
        let j = serde_json::to_string(&c).unwrap();
        assert!(j.contains(r#""rejected":"wildcard-covers-one-label-only""#), "{j}");
    }
}
