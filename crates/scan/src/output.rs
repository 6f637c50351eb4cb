//! Where a scan's results go: JSONL (one `check` report a line; also the checkpoint that
//! `--resume` reads back), a CSV of key facts, and the store. Every output is opened before the
//! first domain is scanned.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use mxdoctor_engine::model::{CheckStatus, Report, Severity};
use mxdoctor_store::{NewReport, Store};
use time::OffsetDateTime;

use crate::{ScanError, ScanOptions, stable_hash};

fn out_err(path: &Path, e: impl std::fmt::Display) -> ScanError {
    ScanError::Output {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

pub struct Sink {
    jsonl: Box<dyn Write + Send>,
    csv: Option<File>,
    store: Option<(Store, i64)>,
    /// Domains already in the output (`--resume`), by stable hash.
    done: HashSet<u64>,
}

/// The CSV header: one row a domain.
pub const CSV_HEADER: &str =
    "domain,verdict,severity,fail,warning,notice,unknown_checks,mx,spf,dkim,dmarc,ptr,dnsbl,sendas,first_problem";

impl Sink {
    pub fn open(opts: &ScanOptions, now: OffsetDateTime) -> Result<Sink, ScanError> {
        // The store first: one from a newer mxdoctor is refused before any file is touched.
        let store = opts.store.as_deref().map(Store::open).transpose()?;
        let mut done = HashSet::new();
        let jsonl: Box<dyn Write + Send> = match &opts.out {
            None => Box::new(std::io::stdout()),
            Some(path) => Box::new(open_jsonl(path, opts.resume, &mut done)?),
        };
        let csv = match &opts.csv {
            None => None,
            Some(path) => Some(open_csv(path, opts.resume)?),
        };
        // The run is recorded only once every output is open.
        let store = match store {
            None => None,
            Some(s) => {
                let run = s.start_run(&opts.label, now)?;
                Some((s, run))
            }
        };
        Ok(Sink {
            jsonl,
            csv,
            store,
            done,
        })
    }

    pub fn run(&self) -> Option<i64> {
        self.store.as_ref().map(|(_, r)| *r)
    }

    pub fn is_done(&self, domain: &str) -> bool {
        self.done.contains(&stable_hash(domain))
    }

    /// One report: a JSONL line written whole (a crash cuts at most this line, which `--resume`
    /// drops), a CSV row, a row in the store's run.
    pub fn write(&mut self, report: &Report) -> Result<(), ScanError> {
        let mut line = serde_json::to_string(report).map_err(|e| ScanError::Write(std::io::Error::other(e)))?;
        line.push('\n');
        self.jsonl.write_all(line.as_bytes()).map_err(ScanError::Write)?;
        self.jsonl.flush().map_err(ScanError::Write)?;
        if let Some(csv) = &mut self.csv {
            csv.write_all(csv_row(report).as_bytes()).map_err(ScanError::Write)?;
        }
        if let Some((store, run)) = &self.store {
            let json = line.trim_end();
            store.save_in_run(
                *run,
                &NewReport {
                    command: &report.command,
                    target: &report.target,
                    verdict: &report.verdict.id,
                    json,
                    created_at: OffsetDateTime::parse(
                        &report.generated_at,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH),
                },
                &findings_summary(report),
            )?;
        }
        Ok(())
    }

    pub fn close(mut self, now: OffsetDateTime) -> Result<(), ScanError> {
        self.jsonl.flush().map_err(ScanError::Write)?;
        if let Some(csv) = &mut self.csv {
            csv.flush().map_err(ScanError::Write)?;
        }
        if let Some((store, run)) = &self.store {
            store.finish_run(*run, now)?;
        }
        Ok(())
    }
}

/// Opens the JSONL output. Resuming: the domains of every complete line are done; a last line
/// cut by a crash is dropped (the file is truncated to the last newline).
fn open_jsonl(path: &Path, resume: bool, done: &mut HashSet<u64>) -> Result<File, ScanError> {
    if !(resume && path.exists()) {
        return File::create(path).map_err(|e| out_err(path, e));
    }
    #[derive(serde::Deserialize)]
    struct Target {
        target: String,
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| out_err(path, e))?;
    let mut reader = BufReader::new(&mut file);
    let mut good_end: u64 = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(|e| out_err(path, e))?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        match serde_json::from_slice::<Target>(&line) {
            Ok(t) => {
                done.insert(stable_hash(&t.target));
                good_end += n as u64;
            }
            // A line that is not a report: stop there; what follows is rewritten.
            Err(_) => break,
        }
    }
    drop(reader);
    file.set_len(good_end).map_err(|e| out_err(path, e))?;
    file.seek(SeekFrom::End(0)).map_err(|e| out_err(path, e))?;
    Ok(file)
}

fn open_csv(path: &Path, resume: bool) -> Result<File, ScanError> {
    let existing = resume && path.metadata().map(|m| m.len() > 0).unwrap_or(false);
    let mut f = if existing {
        OpenOptions::new().append(true).open(path)
    } else {
        File::create(path)
    }
    .map_err(|e| out_err(path, e))?;
    if !existing {
        writeln!(f, "{CSV_HEADER}").map_err(|e| out_err(path, e))?;
    }
    Ok(f)
}

/// `id severity` lines, sorted and unique: what history and diff compare.
pub fn findings_summary(report: &Report) -> String {
    let mut lines: Vec<String> = report
        .findings()
        .map(|f| format!("{} {}", f.id, f.severity.as_str()))
        .collect();
    for c in &report.checks {
        if let CheckStatus::Error { cause, .. } = &c.status {
            lines.push(format!("{} error", cause.catalog_id()));
        }
    }
    lines.sort();
    lines.dedup();
    lines.join("\n")
}

/// The worst severity among findings whose id starts with `topic.`; `error` when a check of
/// that topic could not run and found nothing; empty when the topic did not come up.
fn topic(report: &Report, prefixes: &[&str]) -> String {
    let worst = report
        .findings()
        .filter(|f| prefixes.iter().any(|p| f.id.starts_with(p)))
        .map(|f| f.severity)
        .max();
    match worst {
        Some(s) => s.as_str().to_string(),
        None => {
            let errored = report.checks.iter().any(|c| {
                matches!(c.status, CheckStatus::Error { .. })
                    && prefixes.iter().any(|p| c.check.contains(p.trim_end_matches('.')))
            });
            if errored { "error".into() } else { String::new() }
        }
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn csv_row(report: &Report) -> String {
    let count = |s: Severity| report.findings().filter(|f| f.severity == s).count().to_string();
    let unknown = report
        .checks
        .iter()
        .filter(|c| matches!(c.status, CheckStatus::Error { .. }))
        .count()
        .to_string();
    let first_problem = report
        .findings()
        .filter(|f| f.severity == Severity::Fail)
        .chain(report.findings().filter(|f| f.severity == Severity::Warning))
        .map(|f| f.id.clone())
        .next()
        .unwrap_or_default();
    let fields = [
        report.target.clone(),
        report.verdict.id.clone(),
        report.verdict.severity.as_str().to_string(),
        count(Severity::Fail),
        count(Severity::Warning),
        count(Severity::Notice),
        unknown,
        topic(report, &["mx."]),
        topic(report, &["spf."]),
        topic(report, &["dkim."]),
        topic(report, &["dmarc."]),
        topic(report, &["ptr.", "helo."]),
        topic(report, &["dnsbl."]),
        topic(report, &["tls.", "smtp.", "sendas."]),
        first_problem,
    ];
    let mut row = fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
    row.push('\n');
    row
}

/// A progress bar with rate and ETA on a terminal; None otherwise (quiet).
pub fn progress(opts: &ScanOptions) -> Option<ProgressBar> {
    if !opts.progress {
        return None;
    }
    let bar = match opts.total_lines {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} lines  {per_sec}  ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {pos} lines  {per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }

    #[test]
    fn a_cut_last_line_is_dropped_on_resume() {
        let dir = std::env::temp_dir().join(format!("mxdoctor-scan-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.jsonl");
        std::fs::write(
            &path,
            "{\"target\":\"a.example\"}\n{\"target\":\"b.example\"}\n{\"target\":\"c.ex",
        )
        .unwrap();
        let mut done = HashSet::new();
        let mut f = open_jsonl(&path, true, &mut done).unwrap();
        assert_eq!(done.len(), 2);
        assert!(done.contains(&stable_hash("b.example")));
        f.write_all(b"{\"target\":\"c.example\"}\n").unwrap();
        drop(f);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"target\":\"a.example\"}\n{\"target\":\"b.example\"}\n{\"target\":\"c.example\"}\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
