//! Printers. Text puts the verdict first (what Gmail will do), then each problem with its cause,
//! fix and evidence, then advice, then what passed. JSON is the report model as is.

pub mod timeline;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use mxdoctor_engine::model::{CheckStatus, Evidence, Finding, Report, Severity};
use mxdoctor_explain::{Lang, text as catalog_text, ui};

/// The report as pretty JSON (shape documented in docs/JSON.md), with a final newline.
pub fn json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

#[derive(Debug, Clone, Copy)]
pub struct TextOptions {
    pub lang: Lang,
    pub color: bool,
    pub verbose: bool,
}

/// Colour only on a terminal, never with `NO_COLOR` set (no-color.org); `CLICOLOR_FORCE` forces it.
pub fn color_wanted(is_tty: bool) -> bool {
    let set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
    if set("NO_COLOR") {
        return false;
    }
    if set("CLICOLOR_FORCE") {
        return true;
    }
    is_tty
}

struct Painter {
    on: bool,
}

impl Painter {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn severity(&self, sev: Severity, s: &str) -> String {
        let code = match sev {
            Severity::Fail => "1;31",
            Severity::Warning => "1;33",
            Severity::Notice | Severity::Info => "36",
            Severity::Pass => "32",
        };
        self.paint(code, s)
    }
    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

fn marker(sev: Severity) -> &'static str {
    match sev {
        Severity::Pass => "✔",
        Severity::Info | Severity::Notice => "•",
        Severity::Warning => "!",
        Severity::Fail => "✘",
    }
}

/// Longest value shown for one evidence field; the JSON output has everything.
const MAX_VALUE: usize = 300;

fn clip(s: &str) -> String {
    if s.chars().count() <= MAX_VALUE {
        return s.to_string();
    }
    let cut: String = s.chars().take(MAX_VALUE).collect();
    format!("{cut}…")
}

fn scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Null => Some("-".into()),
        serde_json::Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            Some(a.iter().filter_map(scalar).collect::<Vec<_>>().join(", "))
        }
        // Small flat objects read best on one line: `presented: x, source: san, rejected: different`.
        serde_json::Value::Object(map) if map.len() <= 4 => {
            let mut parts = Vec::new();
            for (k, val) in map {
                match val {
                    serde_json::Value::Object(inner) if inner.len() == 1 => {
                        let (ik, iv) = inner.iter().next()?;
                        parts.push(format!("{ik}: {}", scalar(iv)?));
                    }
                    other => parts.push(format!("{k}: {}", scalar(other)?)),
                }
            }
            Some(parts.join(", "))
        }
        _ => None,
    }
}

/// Renders evidence data as indented `key: value` lines.
fn render_value(out: &mut String, v: &serde_json::Value, indent: usize, depth: usize) {
    let pad = " ".repeat(indent);
    if depth > 6 {
        let _ = writeln!(out, "{pad}…");
        return;
    }
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map {
                match scalar(val) {
                    Some(s) => {
                        let _ = writeln!(out, "{pad}{k}: {}", clip(&s));
                    }
                    None => {
                        let _ = writeln!(out, "{pad}{k}:");
                        render_value(out, val, indent + 2, depth + 1);
                    }
                }
            }
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate().take(50) {
                match scalar(item) {
                    Some(s) => {
                        let _ = writeln!(out, "{pad}- {}", clip(&s));
                    }
                    None if item.is_object() => {
                        let _ = writeln!(out, "{pad}-");
                        render_value(out, item, indent + 2, depth + 1);
                    }
                    None => {
                        let _ = writeln!(out, "{pad}- [{}]", i + 1);
                        render_value(out, item, indent + 2, depth + 1);
                    }
                }
            }
            if items.len() > 50 {
                let _ = writeln!(out, "{pad}… ({} more)", items.len() - 50);
            }
        }
        other => {
            let _ = writeln!(out, "{pad}{}", clip(&scalar(other).unwrap_or_default()));
        }
    }
}

/// Columns a string takes on a terminal: East Asian wide and fullwidth characters (原因, 修正)
/// take two, so padding and continuation indents are computed from this, never from `chars()`.
pub fn display_width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// `s` padded with spaces to `width` display columns.
fn pad_to(s: &str, width: usize) -> String {
    format!("{s}{}", " ".repeat(width.saturating_sub(display_width(s))))
}

/// The column width of the severity labels in `lang`: the widest of them, so every finding's
/// title starts in the same column (6 for 不合格, 5 for "fail").
fn label_width(lang: Lang) -> usize {
    ["pass", "info", "notice", "warning", "fail", "error", "skipped"]
        .iter()
        .map(|k| display_width(ui(lang, k)))
        .max()
        .unwrap_or(5)
}

fn indent_block(out: &mut String, label: &str, body: &str, indent: usize) {
    let pad = " ".repeat(indent);
    let mut lines = body.lines();
    if let Some(first) = lines.next() {
        let _ = writeln!(out, "{pad}{label}: {first}");
        let cont = " ".repeat(indent + display_width(label) + 2);
        for l in lines {
            let _ = writeln!(out, "{cont}{l}");
        }
    }
}

fn finding_title(f: &Finding, lang: Lang) -> String {
    let title = catalog_text(lang, &f.id, &f.args)
        .map(|t| t.title)
        .unwrap_or_else(|| f.id.clone());
    // A finding about a probable (derived) sending IP says so before anything else.
    match f.args.contains_key("assumed_sender") {
        true => match catalog_text(lang, "phrase.assumed-sender", &f.args) {
            Some(p) => format!("{} {title}", p.title),
            None => title,
        },
        false => title,
    }
}

fn render_finding(out: &mut String, f: &Finding, p: &Painter, opts: &TextOptions, full: bool) {
    let label = ui(opts.lang, f.severity.as_str());
    let head = format!("{} {}", marker(f.severity), pad_to(label, label_width(opts.lang)));
    let _ = writeln!(
        out,
        "{} {}  {}",
        p.severity(f.severity, &head),
        finding_title(f, opts.lang),
        p.dim(&format!("[{}]", f.id))
    );
    if !full {
        return;
    }
    if let Some(t) = catalog_text(opts.lang, &f.id, &f.args) {
        if let Some(c) = &t.cause {
            indent_block(out, ui(opts.lang, "cause"), c, 8);
        }
        if let Some(fx) = &t.fix {
            indent_block(out, ui(opts.lang, "fix"), fx, 8);
        }
    }
    if !f.evidence.is_null() {
        let _ = writeln!(out, "        {}:", ui(opts.lang, "evidence"));
        render_value(out, &f.evidence, 10, 0);
    }
}

/// The text report.
pub fn text(report: &Report, opts: &TextOptions) -> String {
    let p = Painter { on: opts.color };
    let lang = opts.lang;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        p.bold(&format!("mxdoctor {} {}", report.command, report.target))
    );
    let _ = writeln!(out);

    // 1. Verdict: what Gmail will do.
    let v = &report.verdict;
    let vt = catalog_text(lang, &v.id, &v.args);
    let title = vt.as_ref().map(|t| t.title.clone()).unwrap_or_else(|| v.id.clone());
    let _ = writeln!(
        out,
        "{} {}",
        p.severity(v.severity, marker(v.severity)),
        p.severity(v.severity, &title)
    );
    if let Some(c) = vt.as_ref().and_then(|t| t.cause.clone()) {
        let _ = writeln!(out, "  {c}");
    }
    if let Some(f) = vt.as_ref().and_then(|t| t.fix.clone()) {
        let _ = writeln!(out, "  {}: {f}", ui(lang, "fix"));
    }
    let gmail = v.because.iter().find_map(|id| {
        let args = report
            .findings()
            .find(|f| &f.id == id)
            .map(|f| f.args.clone())
            .unwrap_or_default();
        catalog_text(lang, id, &args).and_then(|t| t.gmail)
    });
    if let Some(g) = gmail {
        let _ = writeln!(out, "  {}: «{g}»", ui(lang, "gmail-says"));
    }
    let _ = writeln!(out);

    // 2. Checks that could not run, grouped by cause: one explanation, then each subject's detail.
    let mut by_cause: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut skipped: Vec<(String, String)> = Vec::new();
    for c in &report.checks {
        match &c.status {
            CheckStatus::Error { cause, detail } => {
                let id = cause.catalog_id();
                match by_cause.iter_mut().find(|(k, _)| *k == id) {
                    Some((_, v)) => v.push((c.subject.clone(), detail.clone())),
                    None => by_cause.push((id, vec![(c.subject.clone(), detail.clone())])),
                }
            }
            CheckStatus::Skipped { reason } => skipped.push((c.subject.clone(), reason.clone())),
            CheckStatus::Ran => {}
        }
    }
    if !by_cause.is_empty() || !skipped.is_empty() {
        let _ = writeln!(out, "{}", p.bold(ui(lang, "checks-not-run")));
        for (id, items) in &by_cause {
            let t = catalog_text(lang, id, &BTreeMap::new());
            let title = t.as_ref().map(|t| t.title.clone()).unwrap_or_else(|| id.clone());
            let head = format!("? {}", pad_to(ui(lang, "error"), label_width(lang)));
            let _ = writeln!(
                out,
                "{} {}  {}",
                p.severity(Severity::Warning, &head),
                title,
                p.dim(&format!("[{id}]"))
            );
            if let Some(t) = t {
                if let Some(cause) = t.cause {
                    indent_block(&mut out, ui(lang, "cause"), &cause, 8);
                }
                if let Some(fix) = t.fix {
                    indent_block(&mut out, ui(lang, "fix"), &fix, 8);
                }
            }
            let _ = writeln!(out, "        {}:", ui(lang, "evidence"));
            for (subject, detail) in items {
                let _ = writeln!(out, "          - {subject}: {}", clip(detail));
            }
        }
        for (subject, reason) in &skipped {
            // A skip reason is a catalogue id (`skip.*`); its sentence says why and what to give.
            let said = catalog_text(lang, reason, &BTreeMap::new())
                .map(|t| t.title)
                .unwrap_or_else(|| reason.clone());
            let _ = writeln!(
                out,
                "- {} {}  {}",
                pad_to(ui(lang, "skipped"), label_width(lang)),
                said,
                p.dim(subject)
            );
        }
        let _ = writeln!(out);
    }

    // 3. Problems, worst first; then advice; then passes.
    let mut problems: Vec<&Finding> = report.findings().filter(|f| f.severity >= Severity::Notice).collect();
    problems.sort_by_key(|f| std::cmp::Reverse(f.severity));
    if !problems.is_empty() {
        let _ = writeln!(out, "{}", p.bold(ui(lang, "problems")));
        for f in problems {
            render_finding(&mut out, f, &p, opts, true);
        }
        let _ = writeln!(out);
    }
    let mut advice: Vec<&Finding> = report.findings().filter(|f| f.severity == Severity::Info).collect();
    // What to type or choose instead comes first; "not tested" notes last.
    advice.sort_by_key(|f| match f.id.as_str() {
        "sendas.candidates" => 0,
        "sendas.other-port" => 1,
        id if id.ends_with(".untested") => 9,
        _ => 5,
    });
    if !advice.is_empty() {
        let _ = writeln!(out, "{}", p.bold(ui(lang, "advice")));
        for f in advice {
            render_finding(&mut out, f, &p, opts, true);
        }
        let _ = writeln!(out);
    }
    let passes: Vec<&Finding> = report.findings().filter(|f| f.severity == Severity::Pass).collect();
    if !passes.is_empty() {
        let _ = writeln!(out, "{}", p.bold(ui(lang, "passed")));
        for f in passes {
            render_finding(&mut out, f, &p, opts, false);
        }
        let _ = writeln!(out);
    }

    // 4. The SPF include tree: the point of `mxdoctor spf`, and evidence elsewhere.
    if report.command == "spf" || opts.verbose {
        for c in &report.checks {
            for e in &c.evidence {
                if let Evidence::Spf(v) = e
                    && let Some(tree) = v.get("tree")
                {
                    let _ = writeln!(
                        out,
                        "{} {}",
                        p.bold(ui(lang, "spf-tree")),
                        p.dim(&format!(
                            "({} {}/{}, void {}/{})",
                            ui(lang, "lookups"),
                            v["dns_terms"],
                            v["dns_terms_limit"],
                            v["void_lookups"],
                            v["void_limit"]
                        ))
                    );
                    render_spf_node(&mut out, tree, 1, &p);
                    let _ = writeln!(out);
                }
            }
        }
    }

    // 5. Evidence of each check (verbose).
    if opts.verbose {
        for c in &report.checks {
            for e in &c.evidence {
                let (label, value) = match e {
                    Evidence::SmtpTranscript(v) => (ui(lang, "transcript"), v),
                    Evidence::Dns(v) => (ui(lang, "dns"), v),
                    Evidence::Certificate(v) => (ui(lang, "certificate"), v),
                    Evidence::Tls(v) => (ui(lang, "tls"), v),
                    Evidence::Spf(v) if v.get("tree").is_some() => continue,
                    Evidence::Spf(v) => (ui(lang, "spf-trace"), v),
                    Evidence::Note(n) => {
                        let _ = writeln!(out, "{}: {n}", p.bold(ui(lang, "note")));
                        continue;
                    }
                };
                let _ = writeln!(out, "{} {}", p.bold(label), p.dim(&format!("({})", c.subject)));
                if let (Evidence::SmtpTranscript(_), Some(lines)) = (e, value.as_array()) {
                    for l in lines.iter().take(500) {
                        let dir = l.get("dir").and_then(|d| d.as_str()).unwrap_or("*");
                        let t = l.get("text").and_then(|d| d.as_str()).unwrap_or("");
                        let ms = l.get("ms").and_then(|d| d.as_u64()).unwrap_or(0);
                        let _ = writeln!(out, "  {} {dir} {}", p.dim(&format!("{ms:>6} ms")), clip(t));
                    }
                } else {
                    render_value(&mut out, value, 2, 0);
                }
                let _ = writeln!(out);
            }
        }
    }
    let _ = writeln!(
        out,
        "{}",
        p.dim(&format!("{}: {}", ui(lang, "generated"), report.generated_at))
    );
    out
}

/// One record of the SPF tree per line, indented by depth: `domain (via) — N lookups — record`.
fn render_spf_node(out: &mut String, node: &serde_json::Value, depth: usize, p: &Painter) {
    if depth > 12 {
        return;
    }
    let domain = node["domain"].as_str().unwrap_or("?");
    let via = node["via"].as_str().unwrap_or("");
    let lookups = node["lookups"].as_u64().unwrap_or(0);
    let mut line = format!("{}{domain}", "  ".repeat(depth));
    if !via.is_empty() && via != "record" {
        line.push_str(&format!(" [{via}]"));
    }
    line.push_str(&format!(" ({lookups})"));
    if let Some(r) = node["record"].as_str() {
        line.push_str(&format!("  {}", p.dim(&clip(r))));
    }
    if let Some(problem) = node["problem"].as_str() {
        line.push_str(&format!("  !! {problem}"));
    }
    let _ = writeln!(out, "{line}");
    for child in node["children"].as_array().into_iter().flatten().take(100) {
        render_spf_node(out, child, depth + 1, p);
    }
}
