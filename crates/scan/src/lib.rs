//! `mxdoctor scan`: the domain report (`check`) for every domain of a list, streamed (a
//! million-line list is never held), deduplicated, split into stable shards, resumable after a
//! crash (the JSONL output is the checkpoint: a crash loses at most the domains in flight), with
//! a CSV of key facts, a closing summary, and runs kept in the store for `history` and `diff`.

pub mod diff;
pub mod input;
pub mod output;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use mxdoctor_engine::Context;
use mxdoctor_engine::model::{Report, Severity};
use mxdoctor_net::clock::SharedClock;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::task::JoinSet;

pub use input::{Line, parse_line};

/// Builds a fresh engine context for one domain.
pub type ContextFactory = Arc<dyn Fn() -> Result<Context, String> + Send + Sync>;

/// `--shard K/N`: this process scans the domains whose stable hash falls in part K of N
/// (K from 0, as a Kubernetes indexed job numbers its pods).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("--shard {s}: expected K/N, e.g. 0/4"))?;
        let (k, n): (u64, u64) = (
            k.trim()
                .parse()
                .map_err(|_| format!("--shard {s}: `{k}` is not a number"))?,
            n.trim()
                .parse()
                .map_err(|_| format!("--shard {s}: `{n}` is not a number"))?,
        );
        if n == 0 || k >= n {
            return Err(format!("--shard {s}: K must be from 0 to N-1 (N >= 1)"));
        }
        Ok(Shard { index: k, count: n })
    }

    pub fn owns(&self, domain: &str) -> bool {
        stable_hash(domain) % self.count == self.index
    }
}

/// FNV-1a, 64 bits: the same on every machine and every release (a shard must not move).
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[derive(Clone)]
pub struct ScanOptions {
    pub concurrency: usize,
    pub shard: Option<Shard>,
    pub resume: bool,
    /// JSONL output; None: standard output.
    pub out: Option<PathBuf>,
    pub csv: Option<PathBuf>,
    pub store: Option<PathBuf>,
    /// The run's name in the store.
    pub label: String,
    /// A progress bar on standard error (only when it is a terminal).
    pub progress: bool,
    /// Lines in the input, when known (for the ETA).
    pub total_lines: Option<u64>,
    pub bulk: bool,
    pub no_dnsbl: bool,
    /// `--checks`: the topics of every domain's report.
    pub topics: mxdoctor_engine::topics::Topics,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            concurrency: 32,
            shard: None,
            resume: false,
            out: None,
            csv: None,
            store: None,
            label: "scan".into(),
            progress: false,
            total_lines: None,
            bulk: false,
            no_dnsbl: false,
            topics: Default::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{path}: {message}")]
    Output { path: String, message: String },
    #[error("the store: {0}")]
    Store(#[from] mxdoctor_store::StoreError),
    #[error("reading the list: {0}")]
    Input(std::io::Error),
    #[error("writing the results: {0}")]
    Write(std::io::Error),
}

/// What a scan did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Summary {
    pub scanned: u64,
    pub invalid: u64,
    pub duplicates: u64,
    /// Left to other shards.
    pub other_shards: u64,
    /// Already in the output (`--resume`).
    pub resumed: u64,
    /// The engine could not be set up for a domain.
    pub failed: u64,
    pub by_verdict: BTreeMap<String, u64>,
    /// Domains with each finding id (warnings and failures), most frequent first when printed.
    pub findings: BTreeMap<String, u64>,
    pub seconds: f64,
    /// The worst exit status over the scan: 0, 1, 2 as for `check`.
    pub exit: i32,
    /// The store's run number, when kept.
    pub run: Option<i64>,
}

impl Summary {
    fn add(&mut self, report: &Report) {
        self.scanned += 1;
        *self.by_verdict.entry(report.verdict.id.clone()).or_default() += 1;
        let mut ids: Vec<&str> = report
            .findings()
            .filter(|f| f.severity >= Severity::Warning)
            .map(|f| f.id.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            *self.findings.entry(id.to_string()).or_default() += 1;
        }
        self.exit = self.exit.max(report.exit_status());
    }

    /// The closing summary, for people.
    pub fn text(&self) -> String {
        let mut out = format!(
            "scanned {} domains in {:.1} s ({:.1}/s)",
            self.scanned,
            self.seconds,
            self.scanned as f64 / self.seconds.max(0.001)
        );
        for (n, what) in [
            (self.invalid, "invalid lines"),
            (self.duplicates, "duplicates"),
            (self.other_shards, "left to other shards"),
            (self.resumed, "already done (resumed)"),
            (self.failed, "could not be checked"),
        ] {
            if n > 0 {
                out.push_str(&format!(", {n} {what}"));
            }
        }
        if let Some(run) = self.run {
            out.push_str(&format!(", kept as run {run}"));
        }
        out.push('\n');
        out.push_str("by verdict:\n");
        for (v, n) in &self.by_verdict {
            out.push_str(&format!("  {n:>8}  {v}\n"));
        }
        let mut top: Vec<(&String, &u64)> = self.findings.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        if !top.is_empty() {
            out.push_str("most frequent problems (domains):\n");
            for (id, n) in top.into_iter().take(15) {
                out.push_str(&format!("  {n:>8}  {id}\n"));
            }
        }
        out
    }
}

/// Reads one line, at most `max` bytes kept (the rest of a longer line is skipped and the
/// line marked over-long), so a hostile list cannot grow memory.
async fn next_line<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> std::io::Result<Option<(String, bool)>> {
    let mut buf = Vec::new();
    let mut long = false;
    loop {
        let chunk = r.fill_buf().await?;
        if chunk.is_empty() {
            return Ok((!buf.is_empty() || long).then(|| (String::from_utf8_lossy(&buf).into_owned(), long)));
        }
        let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        if take > room {
            long = true;
        }
        buf.extend_from_slice(chunk.get(..take.min(room)).unwrap_or_default());
        r.consume(take);
        if done {
            return Ok(Some((String::from_utf8_lossy(&buf).into_owned(), long)));
        }
    }
}

/// Runs the scan. Outputs are opened (and a resumed output read) before the first domain, so
/// an unwritable output fails at once.
pub async fn scan<R: AsyncBufRead + Unpin>(
    mut input: R,
    opts: &ScanOptions,
    context: ContextFactory,
    clock: SharedClock,
) -> Result<Summary, ScanError> {
    let started = Instant::now();
    let mut sink = output::Sink::open(opts, clock.now())?;
    let mut summary = Summary {
        run: sink.run(),
        ..Default::default()
    };
    let progress = output::progress(opts);
    // Hashes, not names: a million domains cost 8 MB here, not the list.
    let mut seen: HashSet<u64> = HashSet::new();
    let mut tasks: JoinSet<Result<Report, String>> = JoinSet::new();
    let mut line_no: u64 = 0;
    let concurrency = opts.concurrency.max(1);
    while let Some((raw, long)) = next_line(&mut input, input::MAX_LINE).await.map_err(ScanError::Input)? {
        line_no += 1;
        if let Some(p) = &progress {
            p.set_position(line_no);
        }
        let req = match (long, parse_line(&raw)) {
            (true, _) => {
                summary.invalid += 1;
                eprintln!("line {line_no}: longer than {} bytes, skipped", input::MAX_LINE);
                continue;
            }
            (false, Line::Skip) => continue,
            (false, Line::Invalid(why)) => {
                summary.invalid += 1;
                eprintln!(
                    "line {line_no}: `{}`: {why}",
                    raw.trim().chars().take(100).collect::<String>()
                );
                continue;
            }
            (false, Line::Domain(req)) => req,
        };
        if !seen.insert(stable_hash(&req.domain)) {
            summary.duplicates += 1;
            continue;
        }
        if opts.shard.is_some_and(|s| !s.owns(&req.domain)) {
            summary.other_shards += 1;
            continue;
        }
        if sink.is_done(&req.domain) {
            summary.resumed += 1;
            continue;
        }
        let mut req = *req;
        req.bulk = opts.bulk;
        req.topics = opts.topics;
        if opts.no_dnsbl {
            req.lists.clear();
            req.domain_lists.clear();
        }
        while tasks.len() >= concurrency {
            if let Some(done) = tasks.join_next().await {
                finish(done, &mut sink, &mut summary)?;
            }
        }
        let factory = context.clone();
        tasks.spawn(async move {
            let ctx = factory()?;
            // Boxed: a report future is large, and thousands wait in the set.
            // Each domain within the run's deadline: one hostile domain cannot hold a slot.
            let target = req.domain.to_string();
            let run = Box::pin(mxdoctor_engine::domain::run(&ctx, &req));
            Ok(mxdoctor_engine::deadline::within(&ctx, "check", &target, run).await)
        });
    }
    while let Some(done) = tasks.join_next().await {
        finish(done, &mut sink, &mut summary)?;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    sink.close(clock.now())?;
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    Ok(summary)
}

fn finish(
    done: Result<Result<Report, String>, tokio::task::JoinError>,
    sink: &mut output::Sink,
    summary: &mut Summary,
) -> Result<(), ScanError> {
    match done {
        Ok(Ok(report)) => {
            sink.write(&report)?;
            summary.add(&report);
        }
        Ok(Err(why)) => {
            summary.failed += 1;
            summary.exit = 2;
            eprintln!("a domain could not be checked: {why}");
        }
        Err(e) => {
            summary.failed += 1;
            summary.exit = 2;
            eprintln!("a check stopped: {e}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_and_never_move() {
        let shards: Vec<Shard> = (0..4).map(|k| Shard { index: k, count: 4 }).collect();
        for i in 0..1000 {
            let d = format!("d{i}.example");
            assert_eq!(shards.iter().filter(|s| s.owns(&d)).count(), 1, "{d}");
        }
        // FNV-1a's published test vectors: the partition must never move between releases.
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(Shard::parse("1/4"), Ok(Shard { index: 1, count: 4 }));
        for bad in ["4/4", "1", "a/2", "0/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn lines_are_bounded() {
        let data = format!("a.example\n{}\nb.example", "x".repeat(10_000));
        let mut r = tokio::io::BufReader::new(data.as_bytes());
        assert_eq!(
            next_line(&mut r, 100).await.unwrap(),
            Some(("a.example\n".into(), false))
        );
        let (l, long) = next_line(&mut r, 100).await.unwrap().unwrap();
        assert!(long && l.len() == 100);
        assert_eq!(next_line(&mut r, 100).await.unwrap(), Some(("b.example".into(), false)));
        assert_eq!(next_line(&mut r, 100).await.unwrap(), None);
    }
}
