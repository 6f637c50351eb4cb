//! `mxdoctor scan`, `history` and `diff` (crates/scan): wiring from the command line.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use mxdoctor_scan::{ScanOptions, Shard};

use crate::app::{RunError, build_context, make_clock};
use crate::cli::{DiffArgs, Format, HistoryArgs, ScanArgs};

pub async fn scan_cmd(args: ScanArgs) -> Result<i32, RunError> {
    if args.merge {
        return merge(&args);
    }
    let [file] = args.files.as_slice() else {
        return Err("scan takes one list (or - for standard input); several files only with --merge".into());
    };
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    if args.concurrency == 0 || args.concurrency > 4096 {
        return Err(format!("--concurrency {}: must be between 1 and 4096", args.concurrency).into());
    }
    // Fails now on a bad option, not at the first domain.
    let lab = args
        .common
        .lab
        .as_ref()
        .map(|p| crate::labcmd::read_state(p.as_deref()))
        .transpose()?;
    // One context for the scan; each domain gets a fresh run on its resolver (own evidence,
    // shared TTL cache).
    let base = build_context(&args.common, lab)?;
    let context: mxdoctor_scan::ContextFactory = Arc::new(move || {
        let mut ctx = base.clone();
        ctx.dns = base.dns.next_run();
        Ok(ctx)
    });
    let stdin = file.as_os_str() == "-";
    let total_lines = if stdin { None } else { count_lines(file) };
    let progress = std::io::stderr().is_terminal();
    let opts = ScanOptions {
        concurrency: args.concurrency,
        shard,
        resume: args.resume,
        out: args.out.clone(),
        csv: args.csv.clone(),
        store: args.store.clone(),
        label: args.label.clone(),
        progress,
        total_lines,
        bulk: args.bulk,
        no_dnsbl: args.no_dnsbl,
        topics: args.checks,
    };
    let clock = make_clock(&args.common)?;
    let summary = if stdin {
        let input = tokio::io::BufReader::new(tokio::io::stdin());
        mxdoctor_scan::scan(input, &opts, context, clock).await
    } else {
        let f = tokio::fs::File::open(file)
            .await
            .map_err(|e| format!("{}: cannot read it ({e})", file.display()))?;
        mxdoctor_scan::scan(tokio::io::BufReader::new(f), &opts, context, clock).await
    }
    .map_err(|e| e.to_string())?;
    // The reports went to --out, or to standard output: the summary goes where it does not mix.
    let text = match args.common.format {
        Format::Json => serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n",
        Format::Text => summary.text(),
    };
    if args.out.is_some() {
        print!("{text}");
    } else {
        eprint!("{text}");
    }
    Ok(summary.exit)
}

/// Counts the lines of a list (streamed) for the progress bar's ETA.
fn count_lines(path: &Path) -> Option<u64> {
    let f = std::fs::File::open(path).ok()?;
    let mut n = 0u64;
    let mut r = std::io::BufReader::new(f);
    let mut buf = Vec::new();
    while r.read_until(b'\n', &mut buf).ok()? > 0 {
        n += 1;
        buf.clear();
    }
    Some(n)
}

/// `scan --merge A.jsonl B.jsonl ... --out ALL.jsonl`: the union of shard outputs, each domain
/// once (the first report seen), lines cut by a crash skipped.
fn merge(args: &ScanArgs) -> Result<i32, RunError> {
    #[derive(serde::Deserialize)]
    struct Target {
        target: String,
    }
    let out_path = args.out.as_ref().ok_or("--merge needs --out")?;
    let mut out =
        std::io::BufWriter::new(std::fs::File::create(out_path).map_err(|e| format!("{}: {e}", out_path.display()))?);
    let mut seen = std::collections::HashSet::new();
    let (mut kept, mut dup, mut bad) = (0u64, 0u64, 0u64);
    for file in &args.files {
        let f = std::fs::File::open(file).map_err(|e| format!("{}: cannot read it ({e})", file.display()))?;
        for line in std::io::BufReader::new(f).split(b'\n') {
            let line = line.map_err(|e| format!("{}: {e}", file.display()))?;
            match serde_json::from_slice::<Target>(&line) {
                Ok(t) if seen.insert(mxdoctor_scan::stable_hash(&t.target)) => {
                    out.write_all(&line)
                        .and_then(|_| out.write_all(b"\n"))
                        .map_err(|e| e.to_string())?;
                    kept += 1;
                }
                Ok(_) => dup += 1,
                Err(_) => bad += 1,
            }
        }
    }
    out.flush().map_err(|e| e.to_string())?;
    println!(
        "merged {kept} reports from {} files ({dup} duplicates, {bad} unreadable lines skipped)",
        args.files.len()
    );
    Ok(0)
}

fn open_store(path: &Path) -> Result<mxdoctor_store::Store, RunError> {
    if !path.exists() {
        return Err(format!("--store {}: no such store", path.display()).into());
    }
    mxdoctor_store::Store::open(path).map_err(|e| RunError(e.to_string()))
}

pub fn history_cmd(args: HistoryArgs) -> Result<i32, RunError> {
    let store = open_store(&args.store)?;
    let domain = mxdoctor_proto::hostname::Hostname::parse_dns_name(&args.domain)
        .map_err(|e| format!("`{}` is not a domain: {e}", args.domain))?;
    let steps = mxdoctor_scan::diff::history(&store, domain.as_str()).map_err(|e| e.to_string())?;
    match args.common.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&steps).unwrap_or_default()),
        Format::Text => print!("{}", mxdoctor_scan::diff::history_text(domain.as_str(), &steps)),
    }
    Ok(0)
}

pub fn diff_cmd(args: DiffArgs) -> Result<i32, RunError> {
    let store = open_store(&args.store)?;
    let runs = store.runs().map_err(|e| e.to_string())?;
    for r in [args.run_a, args.run_b] {
        if !runs.iter().any(|x| x.id == r) {
            let known: Vec<String> = runs.iter().map(|x| x.id.to_string()).collect();
            return Err(format!("no run {r} in the store (runs: {})", known.join(", ")).into());
        }
    }
    let d = mxdoctor_scan::diff::diff_runs(&store, args.run_a, args.run_b).map_err(|e| e.to_string())?;
    match args.common.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default()),
        Format::Text => print!("{}", mxdoctor_scan::diff::diff_text(&d)),
    }
    Ok(0)
}
