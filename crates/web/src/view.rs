//! What the templates show: the report turned into text in one language (catalogue texts
//! filled in), the verdict first, each check (topic) with its findings worst first, evidence
//! as folded JSON. Every string here is escaped by askama when rendered.

use mxdoctor_engine::model::{CheckStatus, Finding, Report, Severity};
use mxdoctor_explain::{Lang, text, ui};

/// The page's language and its labels.
#[derive(Clone, Copy)]
pub struct Ui {
    pub lang: Lang,
}

impl Ui {
    pub fn t(&self, key: &str) -> String {
        ui(self.lang, key).to_string()
    }

    /// A label with `{name}` placeholders filled.
    pub fn f(&self, key: &str, args: &[(&str, String)]) -> String {
        let map = args.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        mxdoctor_explain::fill(ui(self.lang, key), &map)
    }

    pub fn code(&self) -> &'static str {
        self.lang.as_str()
    }

    /// The other language, for the switch.
    pub fn other(&self) -> &'static str {
        match self.lang {
            Lang::En => "ja",
            Lang::Ja => "en",
        }
    }
}

pub struct VerdictView {
    pub severity: &'static str,
    pub title: String,
    pub cause: Option<String>,
    pub fix: Option<String>,
    pub gmail: Option<String>,
    pub because: Vec<String>,
}

pub struct FindingView {
    pub id: String,
    pub severity: &'static str,
    pub label: String,
    pub subject: String,
    pub title: String,
    pub cause: Option<String>,
    pub fix: Option<String>,
    pub gmail: Option<String>,
    pub evidence: Option<String>,
}

pub struct CheckView {
    pub check: String,
    pub subject: String,
    /// `ran`, `skipped` or `error`.
    pub state: &'static str,
    pub state_text: Option<String>,
    pub worst: &'static str,
    /// Findings shown open: failures, warnings, notices and information (the names to type,
    /// what was not tried).
    pub problems: Vec<FindingView>,
    /// Passes, folded away.
    pub passed: Vec<FindingView>,
    pub evidence: Option<String>,
}

pub struct ReportView {
    pub command: String,
    pub target: String,
    /// The target in Unicode when it is an IDN (`xn--`), else None.
    pub target_unicode: Option<String>,
    pub generated_at: String,
    pub verdict: VerdictView,
    pub checks: Vec<CheckView>,
}

fn severity_class(s: Severity) -> &'static str {
    s.as_str()
}

fn finding_view(f: &Finding, lang: Lang) -> FindingView {
    let t = text(lang, &f.id, &f.args);
    FindingView {
        id: f.id.clone(),
        severity: severity_class(f.severity),
        label: ui(lang, f.severity.as_str()).to_string(),
        subject: f.subject.clone(),
        title: t.as_ref().map(|t| t.title.clone()).unwrap_or_else(|| f.id.clone()),
        cause: t.as_ref().and_then(|t| t.cause.clone()),
        fix: t.as_ref().and_then(|t| t.fix.clone()),
        gmail: t.as_ref().and_then(|t| t.gmail.clone()),
        evidence: (!f.evidence.is_null()).then(|| pretty(&f.evidence)),
    }
}

fn pretty(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// The Unicode form of a name with A-labels, for display beside the DNS form.
pub fn unicode_of(name: &str) -> Option<String> {
    let host = name.split(':').next().unwrap_or(name);
    if !host.split('.').any(|l| l.to_ascii_lowercase().starts_with("xn--")) {
        return None;
    }
    let (u, r) = idna::domain_to_unicode(host);
    (r.is_ok() && u != host).then(|| name.replacen(host, &u, 1))
}

pub fn report_view(r: &Report, lang: Lang) -> ReportView {
    let vt = text(lang, &r.verdict.id, &r.verdict.args);
    let verdict = VerdictView {
        severity: severity_class(r.verdict.severity),
        title: vt
            .as_ref()
            .map(|t| t.title.clone())
            .unwrap_or_else(|| r.verdict.id.clone()),
        cause: vt.as_ref().and_then(|t| t.cause.clone()),
        fix: vt.as_ref().and_then(|t| t.fix.clone()),
        gmail: vt.as_ref().and_then(|t| t.gmail.clone()),
        because: r
            .verdict
            .because
            .iter()
            .map(|id| {
                let title = r
                    .findings()
                    .find(|f| &f.id == id)
                    .and_then(|f| text(lang, id, &f.args))
                    .or_else(|| text(lang, id, &Default::default()))
                    .map(|t| t.title)
                    .unwrap_or_else(|| id.clone());
                format!("{title} ({id})")
            })
            .collect(),
    };
    let checks = r
        .checks
        .iter()
        .map(|c| {
            let mut findings: Vec<&Finding> = c.findings.iter().collect();
            findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
            let (problems, passed): (Vec<&Finding>, Vec<&Finding>) =
                findings.into_iter().partition(|f| f.severity > Severity::Pass);
            let (state, state_text) = match &c.status {
                CheckStatus::Ran => ("ran", None),
                CheckStatus::Skipped { reason } => (
                    "skipped",
                    Some(text(lang, reason, &Default::default()).map_or(reason.clone(), |t| t.title)),
                ),
                CheckStatus::Error { cause, detail } => (
                    "error",
                    Some(format!(
                        "{} ({detail})",
                        text(lang, &cause.catalog_id(), &Default::default())
                            .map_or(cause.as_str().to_string(), |t| t.title)
                    )),
                ),
            };
            CheckView {
                check: c.check.clone(),
                subject: c.subject.clone(),
                state,
                state_text,
                worst: c
                    .worst()
                    .map_or(if state == "error" { "error" } else { "info" }, severity_class),
                problems: problems.into_iter().map(|f| finding_view(f, lang)).collect(),
                passed: passed.into_iter().map(|f| finding_view(f, lang)).collect(),
                evidence: (!c.evidence.is_empty()).then(|| pretty(&c.evidence)),
            }
        })
        .collect();
    ReportView {
        command: r.command.clone(),
        target: r.target.clone(),
        target_unicode: unicode_of(&r.target),
        generated_at: r.generated_at.clone(),
        verdict,
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idn_targets_show_both_forms() {
        assert_eq!(unicode_of("xn--bcher-kva.example"), Some("bücher.example".into()));
        assert_eq!(
            unicode_of("mail.xn--bcher-kva.example:587"),
            Some("mail.bücher.example:587".into())
        );
        assert_eq!(unicode_of("mail.example.com"), None);
    }
}
