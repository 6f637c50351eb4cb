//! docs/limits.md and the code agree (issue 13 item 3): every limit constant in the sources
//! (`MAX_*`, `MIN_*`, `*_LIMIT`, `*_TIMEOUT`, `IDLE`, `DEFAULT_PER_*`) has a row with the same
//! value, and every row names a constant that exists. Read from the source text, so a new limit
//! without a row (or a changed value) fails here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn is_limit(name: &str) -> bool {
    name.starts_with("MAX_")
        || name.starts_with("MIN_")
        || name.ends_with("_LIMIT")
        || name.ends_with("_TIMEOUT")
        || name == "IDLE"
        || name.starts_with("DEFAULT_PER_")
}

/// `16 * 1024 + 512`, `31_557_600`, `2 * MAX_LOGO_BYTES`, `Duration::from_secs(10)`: the value
/// as the document writes it (an integer, or `N s` / `N ms`).
fn evaluate(expr: &str, known: &BTreeMap<String, u64>) -> Option<String> {
    let e = expr.trim().replace("std::time::", "");
    for (prefix, unit) in [("Duration::from_secs(", "s"), ("Duration::from_millis(", "ms")] {
        if let Some(n) = e.strip_prefix(prefix).and_then(|r| r.strip_suffix(')')) {
            return Some(format!("{} {unit}", n.replace('_', "")));
        }
    }
    let term = |t: &str| -> Option<u64> {
        t.split('*')
            .map(|f| {
                let f = f.trim();
                f.replace('_', "").parse::<u64>().ok().or_else(|| known.get(f).copied())
            })
            .try_fold(1u64, |acc, v| v.map(|v| acc * v))
    };
    e.split('+')
        .map(term)
        .try_fold(0u64, |acc, v| v.map(|v| acc + v))
        .map(|v| v.to_string())
}

/// (file relative to the repository, constant name) -> value, from the sources.
fn constants(root: &Path) -> BTreeMap<(String, String), String> {
    let mut files = Vec::new();
    sources(&root.join("crates"), &mut files);
    sources(&root.join("src"), &mut files);
    files.sort();
    let mut raw: Vec<(String, String, String)> = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let rel = f.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
        for line in text.lines() {
            let l = line.trim_start();
            let l = l
                .strip_prefix("pub(crate) ")
                .or_else(|| l.strip_prefix("pub "))
                .unwrap_or(l);
            let Some(rest) = l.strip_prefix("const ") else { continue };
            let Some((name, rest)) = rest.split_once(':') else {
                continue;
            };
            let Some((_, expr)) = rest.split_once('=') else {
                continue;
            };
            if is_limit(name.trim()) {
                raw.push((
                    rel.clone(),
                    name.trim().to_string(),
                    expr.trim().trim_end_matches(';').to_string(),
                ));
            }
        }
    }
    // Plain numbers first, so that a limit defined from another resolves.
    let mut known: BTreeMap<String, u64> = BTreeMap::new();
    for (_, name, expr) in &raw {
        if let Ok(v) = expr.replace('_', "").parse::<u64>() {
            known.insert(name.clone(), v);
        }
        if let Some(v) = evaluate(expr, &BTreeMap::new()).and_then(|v| v.parse::<u64>().ok()) {
            known.entry(name.clone()).or_insert(v);
        }
    }
    raw.into_iter()
        .map(|(file, name, expr)| {
            let v = evaluate(&expr, &known).unwrap_or_else(|| panic!("{file}: {name} = {expr}: cannot evaluate"));
            ((file, name), v)
        })
        .collect()
}

/// The rows of docs/limits.md: `| NAME | VALUE (gloss) | FILE | why |`.
fn documented(root: &Path) -> BTreeMap<(String, String), String> {
    let text = std::fs::read_to_string(root.join("docs/limits.md")).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert!(
            cells.len() >= 4,
            "a row of docs/limits.md has fewer than 4 cells: {line}"
        );
        let name = cells[0].trim_matches('`').to_string();
        let value = cells[1]
            .split(" (")
            .next()
            .unwrap_or_default()
            .replace(',', "")
            .trim()
            .to_string();
        let file = cells[2].trim_matches('`').to_string();
        assert!(
            out.insert((file.clone(), name.clone()), value).is_none(),
            "{file} {name} twice"
        );
    }
    out
}

#[test]
fn docs_limits_md_lists_every_limit_with_its_value() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let code = constants(root);
    let doc = documented(root);
    assert!(code.len() >= 40, "the scan found only {} limits", code.len());
    let mut problems = Vec::new();
    for ((file, name), value) in &code {
        match doc.get(&(file.clone(), name.clone())) {
            None => problems.push(format!("{file}: {name} = {value} has no row in docs/limits.md")),
            Some(v) if v != value => problems.push(format!("{file}: {name} is {value}, docs/limits.md says {v}")),
            Some(_) => {}
        }
    }
    for (file, name) in doc.keys() {
        if !code.contains_key(&(file.clone(), name.clone())) {
            problems.push(format!(
                "docs/limits.md lists {name} in {file}, which the code does not define"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
