//! BIMI (Brand Indicators for Message Identification, draft-brand-indicators-for-message-
//! identification): the `default._bimi.DOMAIN` record and the basics of the SVG Tiny
//! Portable/Secure logo it points to. Pure: fetching is the engine's job.
//!
//! ```text
//! record = "v=BIMI1" *(";" tag) ; l= the logo (https URL, or empty: declined), a= the
//!          evidence document (a VMC or CMC, https URL, or empty)
//! ```

use serde::Serialize;

/// Largest logo mailbox providers accept (the BIMI group's guidance: 32 KiB).
pub const MAX_LOGO_BYTES: usize = 32 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BimiRecord {
    /// `l=`: the logo URL; None when empty (the domain declines to show a logo).
    pub logo: Option<String>,
    /// `a=`: the VMC or CMC URL; None when absent or empty.
    pub evidence: Option<String>,
}

/// Whether a TXT string is a BIMI record (others at the name are ignored).
pub fn is_bimi(txt: &str) -> bool {
    txt.trim_start()
        .strip_prefix("v=BIMI1")
        .is_some_and(|rest| rest.is_empty() || rest.trim_start().starts_with(';'))
}

/// Parses a record; an `l=` or `a=` that is neither empty nor an https URL is an error.
pub fn parse(txt: &str) -> Result<BimiRecord, String> {
    if !is_bimi(txt) {
        return Err("the record does not start with v=BIMI1".into());
    }
    let mut logo = None;
    let mut evidence = None;
    for part in txt.split(';').skip(1) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}` is not tag=value"))?;
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        let url = |what: &str| -> Result<Option<String>, String> {
            if v.is_empty() {
                return Ok(None);
            }
            if !v.to_ascii_lowercase().starts_with("https://") || v.contains(',') {
                return Err(format!("{what} `{v}` is not one https:// URL"));
            }
            Ok(Some(v.to_string()))
        };
        match k.as_str() {
            "l" => logo = url("l=")?,
            "a" => evidence = url("a=")?,
            _ => {}
        }
    }
    Ok(BimiRecord { logo, evidence })
}

/// What makes a logo fail SVG Tiny PS, by short names: `not-svg`, `profile` (no
/// baseProfile="tiny-ps"), `script`, `external` (a reference outside the file), `animation`,
/// `no-title`. Empty: the basics hold (this is not a full validator).
pub fn svg_problems(svg: &str) -> Vec<&'static str> {
    let lower = svg.to_ascii_lowercase();
    let Some(root) = lower.find("<svg") else {
        return vec!["not-svg"];
    };
    let root_tag = &lower[root..lower[root..].find('>').map(|e| root + e).unwrap_or(lower.len())];
    let mut out = Vec::new();
    if !(root_tag.contains("baseprofile=\"tiny-ps\"") || root_tag.contains("baseprofile='tiny-ps'")) {
        out.push("profile");
    }
    if lower.contains("<script") || has_event_attribute(&lower) {
        out.push("script");
    }
    let external = [
        "href=\"http",
        "href='http",
        "href=\"//",
        "url(http",
        "<image",
        "<foreignobject",
    ];
    if external.iter().any(|p| lower.contains(p)) {
        out.push("external");
    }
    if ["<animate", "<set ", "<animatemotion", "<animatetransform"]
        .iter()
        .any(|p| lower.contains(p))
    {
        out.push("animation");
    }
    if !lower.contains("<title") {
        out.push("no-title");
    }
    out
}

/// An `on...=` event-handler attribute (`onload=`, `onclick=`).
fn has_event_attribute(lower: &str) -> bool {
    lower.match_indices(" on").any(|(i, _)| {
        let rest = &lower[i + 3..];
        let name_len = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        name_len > 0 && rest[name_len..].trim_start().starts_with('=')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        let r = parse("v=BIMI1; l=https://brand.example/logo.svg; a=https://brand.example/vmc.pem").unwrap();
        assert_eq!(r.logo.as_deref(), Some("https://brand.example/logo.svg"));
        assert_eq!(r.evidence.as_deref(), Some("https://brand.example/vmc.pem"));
        // Declination: empty l=.
        assert_eq!(
            parse("v=BIMI1; l=; a=;").unwrap(),
            BimiRecord {
                logo: None,
                evidence: None
            }
        );
        assert!(parse("v=BIMI1; l=http://brand.example/logo.svg").is_err());
        assert!(!is_bimi("v=BIMI10; l=x"));
        assert!(parse("v=spf1 -all").is_err());
    }

    #[test]
    fn svg_tiny_ps_basics() {
        let good = r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 10 10"><title>Brand</title><rect width="10" height="10"/></svg>"#;
        assert!(svg_problems(good).is_empty(), "{:?}", svg_problems(good));
        let bad = r#"<svg version="1.1" onload="x()"><script>alert(1)</script><image href="https://t.example/a.png"/><animate/></svg>"#;
        assert_eq!(
            svg_problems(bad),
            ["profile", "script", "external", "animation", "no-title"]
        );
        assert_eq!(svg_problems("<html></html>"), ["not-svg"]);
    }
}
