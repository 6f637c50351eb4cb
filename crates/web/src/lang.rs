//! Which language a page speaks: `?lang=` (the switch), then the `lang` cookie the switch sets,
//! then Accept-Language (RFC 9110 section 12.5.4, quality values honoured), then the default.

use axum::http::HeaderMap;
use mxdoctor_explain::Lang;

/// The language for this request and whether it came from the `?lang=` switch (then the
/// response sets the cookie so the choice sticks).
pub fn negotiate(query_lang: Option<&str>, headers: &HeaderMap, default: Lang) -> (Lang, bool) {
    if let Some(l) = query_lang.and_then(|q| q.parse::<Lang>().ok()) {
        return (l, true);
    }
    if let Some(l) = cookie(headers, "lang").and_then(|c| c.parse::<Lang>().ok()) {
        return (l, false);
    }
    let accept = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    (accept.and_then(from_accept_language).unwrap_or(default), false)
}

/// The best of English and Japanese by Accept-Language; None when it names neither.
pub fn from_accept_language(value: &str) -> Option<Lang> {
    let mut best: Option<(f32, usize, Lang)> = None;
    // Bounded: a hostile header with thousands of entries costs nothing.
    for (pos, item) in value.split(',').take(32).enumerate() {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()))
            .unwrap_or(1.0);
        let primary = tag.split('-').next().unwrap_or("");
        let lang = match primary {
            "ja" => Lang::Ja,
            "en" => Lang::En,
            _ => continue,
        };
        if !(q > 0.0 && q <= 1.0) {
            continue;
        }
        // Higher quality wins; at equal quality the earlier entry.
        if best.is_none_or(|(bq, bpos, _)| q > bq || (q == bq && pos < bpos)) {
            best = Some((q, pos, lang));
        }
    }
    best.map(|(_, _, l)| l)
}

/// A cookie's value from the Cookie header(s).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_9110_12_5_4_quality_values_decide() {
        assert_eq!(from_accept_language("ja,en;q=0.8"), Some(Lang::Ja));
        assert_eq!(from_accept_language("en-US,en;q=0.9,ja;q=0.8"), Some(Lang::En));
        assert_eq!(from_accept_language("fr-FR, ja;q=0.5, en;q=0.4"), Some(Lang::Ja));
        assert_eq!(from_accept_language("ja;q=0, en;q=0.1"), Some(Lang::En));
        assert_eq!(from_accept_language("ja-JP"), Some(Lang::Ja));
        assert_eq!(from_accept_language("de, fr"), None);
        assert_eq!(from_accept_language(""), None);
        assert_eq!(from_accept_language("ja;q=abc"), Some(Lang::Ja));
    }

    #[test]
    fn the_switch_beats_the_cookie_which_beats_the_header() {
        let mut h = HeaderMap::new();
        h.insert("accept-language", "ja".parse().unwrap());
        assert_eq!(negotiate(None, &h, Lang::En), (Lang::Ja, false));
        h.insert("cookie", "a=b; lang=en".parse().unwrap());
        assert_eq!(negotiate(None, &h, Lang::Ja), (Lang::En, false));
        assert_eq!(negotiate(Some("ja"), &h, Lang::En), (Lang::Ja, true));
        assert_eq!(negotiate(Some("xx"), &HeaderMap::new(), Lang::Ja), (Lang::Ja, false));
    }
}
