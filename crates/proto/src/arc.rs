//! Strict structure checks of ARC header fields (RFC 8617), made before the cryptographic
//! validation (mail-auth) because that validator accepts header fields RFC 8617 makes invalid:
//!
//! - the tag-list grammar of RFC 6376 section 3.2 (which RFC 8617 sections 4.1.2 and 4.1.3 use):
//!   tag names `ALPHA *(ALPHA / DIGIT / "_")`, case-sensitive, never twice, `;` between specs
//!   and at most one at the end;
//! - the tags each field requires (AS: i a b d s cv; AMS: i a b bh d h s);
//! - the algorithm: rsa-sha256 or ed25519-sha256 (RFC 8301 forbids rsa-sha1; RFC 8463);
//! - the AMS must not sign ARC-Seal fields (RFC 8617 section 4.1.2).
//!
//! Any problem makes the chain fail (RFC 8617 section 5.2: a set that does not parse is invalid).

use std::collections::BTreeMap;

/// Parses an RFC 6376 tag-list strictly: Ok(tag -> value) or the first grammar error.
pub fn parse_tag_list(value: &str) -> Result<BTreeMap<String, String>, String> {
    let mut tags = BTreeMap::new();
    let trimmed = value.trim();
    let body = trimmed.strip_suffix(';').unwrap_or(trimmed);
    for spec in body.split(';') {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err("empty tag-spec (\";;\" or a leading \";\")".into());
        }
        let Some((name, val)) = spec.split_once('=') else {
            return Err(format!("tag-spec without \"=\": {spec:.40}"));
        };
        let name = name.trim();
        let mut chars = name.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!("invalid tag name {name:?}"));
        }
        if tags.insert(name.to_string(), val.trim().to_string()).is_some() {
            return Err(format!("tag {name:?} appears twice"));
        }
    }
    Ok(tags)
}

/// The problems of one ARC-Seal (`seal = true`) or ARC-Message-Signature field value.
pub fn field_problems(value: &str, seal: bool) -> Vec<String> {
    let kind = if seal { "ARC-Seal" } else { "ARC-Message-Signature" };
    let tags = match parse_tag_list(value) {
        Ok(t) => t,
        Err(e) => return vec![format!("{kind}: {e}")],
    };
    let required: &[&str] = if seal {
        &["i", "a", "b", "d", "s", "cv"]
    } else {
        &["i", "a", "b", "bh", "d", "h", "s"]
    };
    let mut out: Vec<String> = required
        .iter()
        .filter(|t| !tags.contains_key(**t))
        .map(|t| format!("{kind}: required tag {t}= is missing"))
        .collect();
    if let Some(a) = tags.get("a")
        && !matches!(a.to_ascii_lowercase().as_str(), "rsa-sha256" | "ed25519-sha256")
    {
        out.push(format!(
            "{kind}: algorithm {a:?} is not allowed (rsa-sha256 or ed25519-sha256; RFC 8301)"
        ));
    }
    if !seal
        && let Some(h) = tags.get("h")
        && h.split(':').any(|f| f.trim().eq_ignore_ascii_case("arc-seal"))
    {
        out.push(format!(
            "{kind}: h= signs ARC-Seal, which RFC 8617 section 4.1.2 forbids"
        ));
    }
    out
}

/// The problems of every ARC-Seal and ARC-Message-Signature field of a message's header.
/// `fields` are (name, unfolded value) pairs.
pub fn chain_problems<'a>(fields: impl Iterator<Item = (&'a str, String)>) -> Vec<String> {
    let mut out = Vec::new();
    for (name, value) in fields.take(200) {
        if name.eq_ignore_ascii_case("ARC-Seal") {
            out.extend(field_problems(&value, true));
        } else if name.eq_ignore_ascii_case("ARC-Message-Signature") {
            out.extend(field_problems(&value, false));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const AS: &str = "a=rsa-sha256; b=abc; cv=none; d=example.org; i=1; s=dummy";

    #[test]
    fn rfc6376_section_3_2_tag_list_grammar() {
        assert!(parse_tag_list(AS).is_ok());
        assert!(parse_tag_list(&format!("{AS};")).is_ok(), "one trailing ; is allowed");
        assert!(parse_tag_list(&format!("{AS};;")).is_err());
        assert!(parse_tag_list(&format!("{AS}; _=")).is_err());
        assert!(parse_tag_list(&format!("{AS}; d=other.example")).is_err());
        assert!(parse_tag_list("v").is_err());
    }

    #[test]
    fn rfc8617_required_tags_algorithms_and_signed_fields() {
        assert!(field_problems(AS, true).is_empty());
        // Tag names are case-sensitive: S= is not s=.
        assert!(field_problems(&AS.replace("s=dummy", "S=dummy"), true)[0].contains("s= is missing"));
        assert!(field_problems(&AS.replace("rsa-sha256", "rsa-sha1"), true)[0].contains("RFC 8301"));
        let ams = "a=rsa-sha256; b=x; bh=y; d=example.org; h=from:to:arc-seal; i=1; s=dummy";
        assert!(field_problems(ams, false)[0].contains("4.1.2"));
        assert!(field_problems(&ams.replace(":arc-seal", ""), false).is_empty());
    }
}
