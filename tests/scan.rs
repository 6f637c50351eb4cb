//! `mxdoctor scan` as a user runs it, against lab worlds through a state file: kill -9 and
//! `--resume` (every domain exactly once), shard processes whose union is the unsharded run,
//! history and diff across two runs of a world whose zone changes, and bad input.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;

fn mxdoctor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mxdoctor"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run mxdoctor")
}

/// Starts `world` and writes its state file into `dir`.
async fn lab_with_state(world: &mxdoctor_lab::World, dir: &Path) -> (mxdoctor_lab::Lab, PathBuf) {
    let lab = mxdoctor_lab::start(
        world,
        mxdoctor_lab::LabOptions {
            now: Some(NOW),
            ..Default::default()
        },
    )
    .await
    .expect("lab");
    let state = dir.join("lab.json");
    lab.state().write(&state).unwrap();
    (lab, state)
}

/// `target` of every JSONL line, with how often each appears.
fn targets(path: &Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("a cut line stayed ({e}): {line}"));
        *out.entry(v["target"].as_str().unwrap().to_string()).or_default() += 1;
    }
    out
}

/// A list of `n` domains: the seed's real ones and names that do not exist.
fn list(dir: &Path, n: usize) -> PathBuf {
    let mut text = String::from("# a scan list\nhanako-shop.example\nstar-hosting.example\n");
    for i in 0..n - 2 {
        text.push_str(&format!("d{i}.scan.example\n"));
    }
    let path = dir.join("list.txt");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_midway_then_resume_scans_every_domain_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_lab, state) = lab_with_state(&mxdoctor_lab::World::builtin("seed").unwrap(), dir.path()).await;
    let n = 400;
    let list = list(dir.path(), n);
    let out = dir.path().join("out.jsonl");
    let args = |resume: bool| {
        let mut a = vec![
            "scan".to_string(),
            list.display().to_string(),
            "--lab".into(),
            state.display().to_string(),
            "--out".into(),
            out.display().to_string(),
            "--concurrency".into(),
            "4".into(),
            "--no-dnsbl".into(),
        ];
        if resume {
            a.push("--resume".into());
        }
        a
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_mxdoctor"))
        .args(args(false))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once some results are out, and well before the end.
    let mut lines = 0;
    for _ in 0..600 {
        lines = std::fs::read_to_string(&out).map(|t| t.lines().count()).unwrap_or(0);
        if lines >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = targets(&out).len();
    assert!(lines >= 40 && before < n, "killed at {before} of {n}");
    // Simulate the worst moment: the kill cut a line in half.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&out)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"schema_version\":1,\"tar"))
        .unwrap();
    let args = args(true);
    let o = mxdoctor(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(summary.contains("already done (resumed)"), "{summary}");
    let got = targets(&out);
    assert_eq!(got.len(), n, "every domain: {summary}");
    assert!(
        got.values().all(|c| *c == 1),
        "a domain twice: {:?}",
        got.iter().filter(|(_, c)| **c > 1).collect::<Vec<_>>()
    );
    assert!(got.contains_key("hanako-shop.example") && got.contains_key("d397.scan.example"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shard_processes_together_scan_the_list_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_lab, state) = lab_with_state(&mxdoctor_lab::World::builtin("seed").unwrap(), dir.path()).await;
    let list = list(dir.path(), 90);
    let run = |extra: &[&str], out: &Path| {
        let mut a = vec![
            "scan",
            list.to_str().unwrap(),
            "--lab",
            state.to_str().unwrap(),
            "--no-dnsbl",
            "--out",
            out.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_mxdoctor"))
            .args(&a)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let whole = dir.path().join("whole.jsonl");
    assert!(run(&[], &whole).wait().unwrap().code().is_some());
    let shards: Vec<PathBuf> = (0..3).map(|k| dir.path().join(format!("shard{k}.jsonl"))).collect();
    let specs: Vec<String> = (0..3).map(|k| format!("{k}/3")).collect();
    let children: Vec<_> = (0..3).map(|k| run(&["--shard", &specs[k]], &shards[k])).collect();
    for mut c in children {
        c.wait().unwrap();
    }
    let mut union: BTreeMap<String, usize> = BTreeMap::new();
    for s in &shards {
        let t = targets(s);
        assert!(!t.is_empty() && t.len() < 90, "a shard took {} of 90", t.len());
        for (k, v) in t {
            *union.entry(k).or_default() += v;
        }
    }
    assert_eq!(union, targets(&whole), "the shards' union is not the whole run");
    assert!(union.values().all(|c| *c == 1));
    // --merge puts them back together.
    let merged = dir.path().join("merged.jsonl");
    let mut a = vec!["scan", "--merge", "--out", merged.to_str().unwrap()];
    a.extend(shards.iter().map(|p| p.to_str().unwrap()));
    assert_eq!(mxdoctor(&a).status.code(), Some(0));
    assert_eq!(targets(&merged), targets(&whole));
}

const WORLD: &str = r#"
[world]
name = "changing"
description = "A domain whose DNS changes between two scans."
"#;

fn zone(with_dmarc: bool, spf: &str) -> String {
    let mut z = format!(
        "$ORIGIN shop.example.\n$TTL 300\n@ IN SOA ns1.shop.example. h.shop.example. ( 1 3600 900 604800 300 )\n\
         @ IN NS ns1.shop.example.\nns1 IN A 192.0.2.53\n@ IN MX 10 mail.shop.example.\nmail IN A 192.0.2.25\n\
         @ IN TXT \"{spf}\"\n"
    );
    if with_dmarc {
        z.push_str("_dmarc IN TXT \"v=DMARC1; p=reject\"\n");
    }
    z
}

async fn scan_world(dir: &Path, zone_text: String, store: &Path, list: &Path) -> Output {
    let world = mxdoctor_lab::World::from_parts(WORLD, vec![("shop.example.zone".into(), zone_text)]).unwrap();
    let (_lab, state) = lab_with_state(&world, dir).await;
    mxdoctor(&[
        "scan",
        list.to_str().unwrap(),
        "--lab",
        state.to_str().unwrap(),
        "--no-dnsbl",
        "--store",
        store.to_str().unwrap(),
        "--label",
        "nightly",
        "--out",
        dir.join("out.jsonl").to_str().unwrap(),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_and_diff_show_what_changed_between_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("scans.sqlite");
    let list = dir.path().join("list.txt");
    std::fs::write(&list, "shop.example\ngone.example\n").unwrap();
    let first = scan_world(dir.path(), zone(false, "v=spf1 ip4:192.0.2.25 -all"), &store, &list).await;
    assert!(String::from_utf8_lossy(&first.stdout).contains("kept as run 1"));
    // Overnight: DMARC published, SPF broken.
    std::fs::write(&list, "shop.example\nnew.example\n").unwrap();
    let second = scan_world(
        dir.path(),
        zone(true, "v=spf1 ip4:192.0.2.25 include: -all"),
        &store,
        &list,
    )
    .await;
    assert!(String::from_utf8_lossy(&second.stdout).contains("kept as run 2"));

    let h = mxdoctor(&["history", "shop.example", "--store", store.to_str().unwrap()]);
    assert_eq!(h.status.code(), Some(0), "{}", String::from_utf8_lossy(&h.stderr));
    let h = String::from_utf8_lossy(&h.stdout);
    assert!(h.contains("run 1 (") && h.contains("run 2 ("), "{h}");
    assert!(h.contains("- dmarc.missing"), "{h}");
    assert!(h.contains("+ spf.syntax-error (fail)"), "{h}");
    assert!(h.contains("- spf.valid"), "{h}");

    let d = mxdoctor(&["diff", "1", "2", "--store", store.to_str().unwrap(), "--format", "json"]);
    assert_eq!(d.status.code(), Some(0));
    let d: serde_json::Value = serde_json::from_slice(&d.stdout).unwrap();
    assert_eq!(d["only_in_a"], serde_json::json!(["gone.example"]));
    assert_eq!(d["only_in_b"], serde_json::json!(["new.example"]));
    let changed = d["changed"].as_array().unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["domain"], "shop.example");
    let ids: Vec<&str> = changed[0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"dmarc.missing") && ids.contains(&"spf.syntax-error"),
        "{ids:?}"
    );
    let text = mxdoctor(&["diff", "1", "2", "--store", store.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&text.stdout).starts_with("run 1 -> run 2: 1 changed"));
    let missing = mxdoctor(&["diff", "1", "7", "--store", store.to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no run 7"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_reported_per_line_and_the_scan_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (_lab, state) = lab_with_state(&mxdoctor_lab::World::builtin("seed").unwrap(), dir.path()).await;
    let list = dir.path().join("list.txt");
    let long = "a".repeat(5000);
    std::fs::write(
        &list,
        format!(
            "\n# comment\nhanako-shop.example\nHANAKO-SHOP.EXAMPLE.\nbad_name!\n{long}.example\nbücher.example\n\
             star-hosting.example ips=nonsense\nstar-hosting.example colour=blue\n\u{0}\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out.jsonl");
    let csv = dir.path().join("out.csv");
    let o = mxdoctor(&[
        "scan",
        list.to_str().unwrap(),
        "--lab",
        state.to_str().unwrap(),
        "--no-dnsbl",
        "--out",
        out.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(summary["scanned"], 2, "{summary}");
    assert_eq!(summary["duplicates"], 1);
    assert_eq!(summary["invalid"], 5, "{err}");
    for line in ["line 5:", "line 6:", "line 8:", "line 9:", "line 10:"] {
        assert!(err.contains(line), "{line} not reported: {err}");
    }
    let t = targets(&out);
    assert!(
        t.contains_key("hanako-shop.example") && t.contains_key("xn--bcher-kva.example"),
        "{t:?}"
    );
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(csv.lines().count(), 3);
    assert!(csv.starts_with("domain,verdict,severity"));

    // An output that cannot be written: a clear error before anything is scanned.
    let o = mxdoctor(&[
        "scan",
        list.to_str().unwrap(),
        "--lab",
        state.to_str().unwrap(),
        "--out",
        "/nonexistent/dir/out.jsonl",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("/nonexistent/dir/out.jsonl") && !err.contains("line "),
        "{err}"
    );

    // A store from a newer mxdoctor: refused, left as it was.
    let future = dir.path().join("future.sqlite");
    std::process::Command::new("python3")
        .args([
            "-c",
            &format!(
                "import sqlite3; c=sqlite3.connect('{}'); c.execute('PRAGMA user_version=99'); c.commit()",
                future.display()
            ),
        ])
        .status()
        .unwrap();
    let before = std::fs::read(&future).unwrap();
    let o = mxdoctor(&[
        "scan",
        list.to_str().unwrap(),
        "--lab",
        state.to_str().unwrap(),
        "--store",
        future.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("newer"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(std::fs::read(&future).unwrap() == before, "the newer store was changed");
    // Nonsense arguments.
    for (args, needle) in [
        (vec!["scan", "a", "b"], "several files only with --merge"),
        (vec!["scan", "x", "--shard", "3/3"], "--shard"),
        (vec!["scan", "x", "--concurrency", "0"], "--concurrency"),
        (vec!["scan", "x", "--resume"], "--out"),
        (
            vec!["history", "a.example", "--store", "/nonexistent.sqlite"],
            "no such store",
        ),
    ] {
        let o = mxdoctor(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(needle),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
