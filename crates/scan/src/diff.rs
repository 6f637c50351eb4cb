//! What changed between scan runs: `mxdoctor history DOMAIN` (one domain across every run) and
//! `mxdoctor diff RUN_A RUN_B` (a whole run against another). Compared on the findings summary
//! the store keeps (`id severity` lines), never by parsing report JSON.

use std::collections::{BTreeMap, HashMap};

use mxdoctor_store::{Store, StoreError};
use serde::Serialize;

/// One finding that appeared, disappeared or changed severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub id: String,
    /// Severity before (None: appeared).
    pub before: Option<String>,
    /// Severity after (None: disappeared).
    pub after: Option<String>,
}

impl Change {
    pub fn kind(&self) -> &'static str {
        match (&self.before, &self.after) {
            (None, _) => "appeared",
            (_, None) => "disappeared",
            _ => "changed",
        }
    }
}

fn parse(summary: &str) -> BTreeMap<&str, &str> {
    summary
        .lines()
        .filter_map(|l| l.rsplit_once(' '))
        // An id with several severities (one per subject) keeps the last of the sorted lines:
        // stable from run to run, so a real change still shows.
        .fold(BTreeMap::new(), |mut m, (id, sev)| {
            m.insert(id, sev);
            m
        })
}

/// The findings that differ between two summaries, by id.
pub fn compare(before: &str, after: &str) -> Vec<Change> {
    let (b, a) = (parse(before), parse(after));
    let mut out = Vec::new();
    for (id, sb) in &b {
        match a.get(id) {
            None => out.push(Change {
                id: id.to_string(),
                before: Some(sb.to_string()),
                after: None,
            }),
            Some(sa) if sa != sb => out.push(Change {
                id: id.to_string(),
                before: Some(sb.to_string()),
                after: Some(sa.to_string()),
            }),
            _ => {}
        }
    }
    for (id, sa) in &a {
        if !b.contains_key(id) {
            out.push(Change {
                id: id.to_string(),
                before: None,
                after: Some(sa.to_string()),
            });
        }
    }
    out.sort_by(|x, y| x.id.cmp(&y.id));
    out
}

/// One domain between two consecutive runs.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub run: i64,
    pub started_at: String,
    pub verdict: String,
    /// Against the run before (empty for the first).
    pub changes: Vec<Change>,
}

pub fn history(store: &Store, domain: &str) -> Result<Vec<Step>, StoreError> {
    let rows = store.history(domain)?;
    let mut out: Vec<Step> = Vec::new();
    let mut previous: Option<String> = None;
    for (run, r) in rows {
        let changes = previous.as_deref().map(|p| compare(p, &r.findings)).unwrap_or_default();
        out.push(Step {
            run: run.id,
            started_at: mxdoctor_net::clock::rfc3339(run.started_at),
            verdict: r.verdict.clone(),
            changes,
        });
        previous = Some(r.findings);
    }
    Ok(out)
}

pub fn history_text(domain: &str, steps: &[Step]) -> String {
    if steps.is_empty() {
        return format!("{domain}: in no stored run\n");
    }
    let mut out = String::new();
    for (i, s) in steps.iter().enumerate() {
        out.push_str(&format!("run {} ({}): {}\n", s.run, s.started_at, s.verdict));
        if i > 0 && s.changes.is_empty() {
            out.push_str("  no change\n");
        }
        for c in &s.changes {
            out.push_str(&change_line(c));
        }
    }
    out
}

fn change_line(c: &Change) -> String {
    match (&c.before, &c.after) {
        (None, Some(a)) => format!("  + {} ({a})\n", c.id),
        (Some(b), None) => format!("  - {} ({b})\n", c.id),
        (Some(b), Some(a)) => format!("  ~ {} ({b} -> {a})\n", c.id),
        (None, None) => String::new(),
    }
}

/// A whole run against another.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunDiff {
    pub run_a: i64,
    pub run_b: i64,
    pub only_in_a: Vec<String>,
    pub only_in_b: Vec<String>,
    /// Domains whose verdict or findings changed: (domain, verdict before, verdict after, changes).
    pub changed: Vec<DomainDiff>,
    pub unchanged: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DomainDiff {
    pub domain: String,
    pub verdict_before: String,
    pub verdict_after: String,
    pub changes: Vec<Change>,
}

pub fn diff_runs(store: &Store, a: i64, b: i64) -> Result<RunDiff, StoreError> {
    let mut before: HashMap<String, (String, String)> = HashMap::new();
    store.for_each_result(a, |r| {
        before.insert(r.target, (r.verdict, r.findings));
    })?;
    let mut d = RunDiff {
        run_a: a,
        run_b: b,
        ..Default::default()
    };
    store.for_each_result(b, |r| match before.remove(&r.target) {
        None => d.only_in_b.push(r.target),
        Some((verdict, findings)) => {
            let changes = compare(&findings, &r.findings);
            if changes.is_empty() && verdict == r.verdict {
                d.unchanged += 1;
            } else {
                d.changed.push(DomainDiff {
                    domain: r.target,
                    verdict_before: verdict,
                    verdict_after: r.verdict,
                    changes,
                });
            }
        }
    })?;
    d.only_in_a = before.into_keys().collect();
    d.only_in_a.sort();
    Ok(d)
}

pub fn diff_text(d: &RunDiff) -> String {
    let mut out = format!(
        "run {} -> run {}: {} changed, {} unchanged, {} only in run {}, {} only in run {}\n",
        d.run_a,
        d.run_b,
        d.changed.len(),
        d.unchanged,
        d.only_in_a.len(),
        d.run_a,
        d.only_in_b.len(),
        d.run_b
    );
    for c in &d.changed {
        if c.verdict_before == c.verdict_after {
            out.push_str(&format!("{}: {}\n", c.domain, c.verdict_after));
        } else {
            out.push_str(&format!("{}: {} -> {}\n", c.domain, c.verdict_before, c.verdict_after));
        }
        for ch in &c.changes {
            out.push_str(&change_line(ch));
        }
    }
    for dmn in &d.only_in_a {
        out.push_str(&format!("{dmn}: only in run {}\n", d.run_a));
    }
    for dmn in &d.only_in_b {
        out.push_str(&format!("{dmn}: only in run {}\n", d.run_b));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appeared_disappeared_changed() {
        let c = compare("a pass\nb warning\nc fail", "b fail\nc fail\nd notice");
        let kinds: Vec<(&str, &str)> = c.iter().map(|c| (c.id.as_str(), c.kind())).collect();
        assert_eq!(kinds, [("a", "disappeared"), ("b", "changed"), ("d", "appeared")]);
    }
}
