//! Provider awareness: which mail provider a domain uses, recognised from its MX hosts and SPF
//! includes against the data file `data/providers.toml`. What it changes: that provider's DKIM
//! selectors are asked first (a custom one like Fastmail's fm1 is not among the common ones),
//! a missing DKIM key comes with the place in that provider's console where signing is turned
//! on, and what the provider cannot offer (DANE on Gmail's MX) is said as information.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::json;

use mxdoctor_net::RecordType;
use mxdoctor_proto::spf::{Mechanism, is_spf, parse_record};

use crate::context::Context;
use crate::model::*;
use crate::mx::MxAnswer;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    pub id: String,
    pub name: String,
    pub mx: Vec<String>,
    pub spf: Vec<String>,
    pub dkim: Vec<String>,
    pub dane: bool,
    pub dkim_setup_en: String,
    pub dkim_setup_ja: String,
}

#[derive(Deserialize)]
struct File {
    provider: Vec<Provider>,
}

static PROVIDERS: LazyLock<Vec<Provider>> = LazyLock::new(|| {
    // Built in; a file that does not parse is a bug the unit test below catches.
    toml::from_str::<File>(include_str!("../data/providers.toml"))
        .map(|f| f.provider)
        .unwrap_or_default()
});

pub fn all() -> &'static [Provider] {
    &PROVIDERS
}

/// A provider recognised, and by what (`MX aspmx.l.google.com`, `SPF include:_spf.google.com`).
#[derive(Debug, Clone)]
pub struct Detected {
    pub provider: &'static Provider,
    pub via: Vec<String>,
}

/// `name` is `suffix` or below it.
fn under(name: &str, suffix: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == suffix || name.ends_with(&format!(".{suffix}"))
}

/// The providers the MX hosts and SPF include targets point to. Pure.
pub fn detect(mx_hosts: &[&str], spf_includes: &[String]) -> Vec<Detected> {
    let mut out: Vec<Detected> = Vec::new();
    for p in all() {
        let mut via: Vec<String> = Vec::new();
        for h in mx_hosts.iter().filter(|h| p.mx.iter().any(|s| under(h, s))) {
            via.push(format!("MX {h}"));
        }
        for i in spf_includes.iter().filter(|i| p.spf.iter().any(|s| under(i, s))) {
            via.push(format!("SPF include:{i}"));
        }
        if !via.is_empty() {
            out.push(Detected { provider: p, via });
        }
    }
    out
}

/// The targets of the domain's SPF record's include: mechanisms and redirect= (one level).
async fn spf_includes(ctx: &Context, domain: &str) -> Vec<String> {
    let Ok(txts) = ctx.dns.lookup(domain, RecordType::TXT).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for t in txts.iter().filter_map(|r| r.txt()).filter(|t| is_spf(t)) {
        let Ok(rec) = parse_record(&t) else { continue };
        for d in &rec.directives {
            if let Mechanism::Include { domain } = &d.mechanism {
                out.push(domain.to_string());
            }
        }
        out.extend(rec.redirect.clone());
    }
    out
}

/// Recognises the domain's providers (the MX answer and the SPF record are the run's cached
/// answers, so this asks nothing new).
pub async fn lookup(ctx: &Context, domain: &str, mx: Option<&MxAnswer>) -> Vec<Detected> {
    let hosts: Vec<&str> = mx.map(|m| m.hosts()).unwrap_or_default();
    detect(&hosts, &spf_includes(ctx, domain).await)
}

/// The selectors to try for a domain: its providers' first, then the common ones.
pub fn selectors_first(detected: &[Detected]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in detected.iter().flat_map(|d| &d.provider.dkim) {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

/// The provider check: what was recognised, and where DKIM is turned on when no key was found.
pub fn check(domain: &str, detected: &[Detected], dkim_missing: bool) -> CheckResult {
    let mut c = CheckResult::ran("provider", domain.to_string());
    for d in detected {
        c.findings.push(
            Finding::new("provider.detected", Severity::Info, domain)
                .arg("provider", &d.provider.name)
                .arg("via", d.via.join(", "))
                .evidence(json!({ "id": d.provider.id, "dkim_selectors": d.provider.dkim, "publishes_dane": d.provider.dane })),
        );
        if dkim_missing {
            c.findings.push(
                Finding::new("provider.dkim-setup", Severity::Notice, domain)
                    .arg("provider", &d.provider.name)
                    // Prose per language: the Japanese reader gets `how_ja` (mxdoctor_explain::text).
                    .arg("how", &d.provider.dkim_setup_en)
                    .arg("how_ja", &d.provider.dkim_setup_ja),
            );
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_file_loads_and_every_entry_can_be_recognised() {
        assert!(all().len() >= 7);
        for p in all() {
            assert!(!p.mx.is_empty() || !p.spf.is_empty(), "{}", p.id);
            assert!(!p.dkim_setup_en.is_empty() && !p.dkim_setup_ja.is_empty(), "{}", p.id);
        }
    }

    #[test]
    fn recognised_by_mx_suffix_and_spf_include() {
        let d = detect(&["aspmx.l.google.com", "alt1.aspmx.l.google.com"], &[]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].provider.id, "google");
        let d = detect(
            &["example-com.mail.protection.outlook.com"],
            &["spf.protection.outlook.com".into()],
        );
        assert_eq!(d[0].provider.id, "microsoft");
        assert_eq!(d[0].via.len(), 2);
        // A suffix matches whole labels only.
        assert!(detect(&["mx.notgoogle.com"], &[]).is_empty());
        assert_eq!(
            selectors_first(&detect(&["in1-smtp.messagingengine.com"], &[])),
            ["fm1", "fm2", "fm3"]
        );
    }
}
