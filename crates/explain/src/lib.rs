//! The message catalogue: what every finding id means, why it matters and the exact fix, in
//! English and Japanese. Data lives in `catalog/en.toml` and `catalog/ja.toml` (one table per
//! id, plus `[ui]` for printer labels), embedded at build time and parsed once.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::LazyLock;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    /// From `LC_ALL`, then `LC_MESSAGES`, then `LANG` (POSIX precedence): `ja*` is Japanese.
    pub fn from_env() -> Self {
        Self::from_locale_vars(
            std::env::var("LC_ALL").ok().as_deref(),
            std::env::var("LC_MESSAGES").ok().as_deref(),
            std::env::var("LANG").ok().as_deref(),
        )
    }

    pub fn from_locale_vars(lc_all: Option<&str>, lc_messages: Option<&str>, lang: Option<&str>) -> Self {
        let first = [lc_all, lc_messages, lang]
            .into_iter()
            .flatten()
            .find(|v| !v.is_empty());
        match first {
            Some(v) if v.to_ascii_lowercase().starts_with("ja") => Lang::Ja,
            _ => Lang::En,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }
}

impl FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "en" => Ok(Lang::En),
            "ja" => Ok(Lang::Ja),
            _ => Err(format!("unknown language `{s}` (en, ja)")),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    title: String,
    cause: Option<String>,
    fix: Option<String>,
    gmail: Option<String>,
}

struct Catalog {
    entries: BTreeMap<String, Entry>,
    ui: BTreeMap<String, String>,
}

#[allow(
    clippy::panic,
    reason = "the catalogue is compiled into the program, not read from outside; its unit tests parse it on every build"
)]
fn parse(text: &str, lang: &str) -> Catalog {
    let mut table: BTreeMap<String, toml::Value> =
        toml::from_str(text).unwrap_or_else(|e| panic!("catalog/{lang}.toml is not valid TOML: {e}"));
    let ui: BTreeMap<String, String> = table
        .remove("ui")
        .map(|v| v.try_into().unwrap_or_else(|e| panic!("catalog/{lang}.toml [ui]: {e}")))
        .unwrap_or_default();
    let entries = table
        .into_iter()
        .map(|(id, v)| {
            let e: Entry = v
                .try_into()
                .unwrap_or_else(|e| panic!("catalog/{lang}.toml [{id}]: {e}"));
            (id, e)
        })
        .collect();
    Catalog { entries, ui }
}

// The catalogue is part of the program, not input: a broken file is caught by the unit tests
// below on every build, so parsing it with a panic on error cannot reach a user.
static EN: LazyLock<Catalog> = LazyLock::new(|| parse(include_str!("../catalog/en.toml"), "en"));
static JA: LazyLock<Catalog> = LazyLock::new(|| parse(include_str!("../catalog/ja.toml"), "ja"));

fn catalog(lang: Lang) -> &'static Catalog {
    match lang {
        Lang::En => &EN,
        Lang::Ja => &JA,
    }
}

/// The texts of one id, placeholders filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub title: String,
    pub cause: Option<String>,
    pub fix: Option<String>,
    pub gmail: Option<String>,
}

/// Fills `{name}` placeholders; a missing argument shows as `<name>`, never a panic.
pub fn fill(template: &str, args: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) if after[..end].chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && end > 0 => {
                let key = &after[..end];
                match args.get(key) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('<');
                        out.push_str(key);
                        out.push('>');
                    }
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The arg that names the report a finding appears in when its wording depends on it: a
/// catalogue entry `ID@CONTEXT` (e.g. `tls.cert.expired@mailbox`, said of a mail app rather
/// than of Gmail's "Send mail as") is used instead of `ID` when the finding carries it.
pub const CONTEXT_ARG: &str = "context";

pub fn text(lang: Lang, id: &str, args: &BTreeMap<String, String>) -> Option<Text> {
    let entries = &catalog(lang).entries;
    let e = args
        .get(CONTEXT_ARG)
        .and_then(|c| entries.get(&format!("{id}@{c}")))
        .or_else(|| entries.get(id))?;
    let args = localised(lang, args);
    Some(Text {
        title: fill(&e.title, &args),
        cause: e.cause.as_deref().map(|t| fill(t, &args)),
        fix: e.fix.as_deref().map(|t| fill(t, &args)),
        gmail: e.gmail.as_deref().map(|t| fill(t, &args)),
    })
}

/// An argument may come in one text per language: `NAME` (English) and `NAME_ja`, for data
/// that is prose of its own (a provider's console path). In `lang`, `NAME_{lang}` stands for
/// `NAME` where it exists.
fn localised(lang: Lang, args: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let suffix = match lang {
        Lang::En => return args.clone(),
        Lang::Ja => "_ja",
    };
    let mut out = args.clone();
    for (k, v) in args {
        if let Some(base) = k.strip_suffix(suffix) {
            out.insert(base.to_string(), v.clone());
        }
    }
    out
}

/// Every id with text in `lang`.
pub fn ids(lang: Lang) -> Vec<&'static str> {
    catalog(lang).entries.keys().map(String::as_str).collect()
}

/// The placeholders an id's texts use.
pub fn placeholders(lang: Lang, id: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(e) = catalog(lang).entries.get(id) {
        for t in [Some(&e.title), e.cause.as_ref(), e.fix.as_ref(), e.gmail.as_ref()]
            .into_iter()
            .flatten()
        {
            let mut rest = t.as_str();
            while let Some(s) = rest.find('{') {
                let after = &rest[s + 1..];
                if let Some(end) = after.find('}') {
                    let key = &after[..end];
                    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        out.insert(key.to_string());
                    }
                    rest = &after[end + 1..];
                } else {
                    break;
                }
            }
        }
    }
    out
}

/// A printer label (`verdict`, `cause`, `fix`, `evidence`, `gmail-says`, severities...).
/// Unknown keys come back as the key itself, so a missing label is visible, not fatal.
pub fn ui(lang: Lang, key: &str) -> &str {
    catalog(lang).ui.get(key).map(String::as_str).unwrap_or(key)
}

pub fn ui_keys(lang: Lang) -> Vec<&'static str> {
    catalog(lang).ui.keys().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogues_parse_and_have_the_same_ids_and_placeholders() {
        assert_eq!(ids(Lang::En), ids(Lang::Ja));
        assert_eq!(ui_keys(Lang::En), ui_keys(Lang::Ja));
        for id in ids(Lang::En) {
            assert_eq!(
                placeholders(Lang::En, id),
                placeholders(Lang::Ja, id),
                "placeholders differ for {id}"
            );
            for lang in [Lang::En, Lang::Ja] {
                let t = text(lang, id, &BTreeMap::new()).unwrap();
                assert!(
                    !t.title.trim().is_empty(),
                    "{id} has an empty title in {}",
                    lang.as_str()
                );
                for part in [&t.cause, &t.fix, &t.gmail].into_iter().flatten() {
                    assert!(!part.trim().is_empty(), "{id} has an empty text in {}", lang.as_str());
                }
            }
        }
    }

    #[test]
    fn japanese_is_japanese() {
        for id in ids(Lang::Ja) {
            let t = text(Lang::Ja, id, &BTreeMap::new()).unwrap();
            assert!(
                t.title
                    .chars()
                    .any(|c| ('\u{3040}'..='\u{30ff}').contains(&c) || ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{id}: the Japanese title has no Japanese: {}",
                t.title
            );
        }
    }

    #[test]
    fn an_argument_in_the_reader_language_wins() {
        let mut args = BTreeMap::new();
        args.insert("how".to_string(), "Admin console".to_string());
        args.insert("how_ja".to_string(), "管理コンソール".to_string());
        assert_eq!(localised(Lang::Ja, &args)["how"], "管理コンソール");
        assert_eq!(localised(Lang::En, &args)["how"], "Admin console");
    }

    #[test]
    fn fill_is_total() {
        let mut a = BTreeMap::new();
        a.insert("host".to_string(), "mail.example.com".to_string());
        assert_eq!(fill("{host} and {port}", &a), "mail.example.com and <port>");
        assert_eq!(fill("{ not a placeholder } {", &a), "{ not a placeholder } {");
        assert_eq!(fill("${tls_in_sni}", &a), "$<tls_in_sni>");
    }

    #[test]
    fn locale_precedence() {
        assert_eq!(
            Lang::from_locale_vars(Some("ja_JP.UTF-8"), None, Some("en_US")),
            Lang::Ja
        );
        assert_eq!(Lang::from_locale_vars(Some(""), Some("en_US"), Some("ja_JP")), Lang::En);
        assert_eq!(Lang::from_locale_vars(None, None, Some("ja_JP.UTF-8")), Lang::Ja);
        assert_eq!(Lang::from_locale_vars(None, None, None), Lang::En);
        assert_eq!("ja".parse::<Lang>(), Ok(Lang::Ja));
        assert!("fr".parse::<Lang>().is_err());
    }
}
