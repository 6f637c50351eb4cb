//! The web page in a real browser: `mxdoctor serve --scenario ...` as a user would start it,
//! Debian's Chromium driven by playwright-core (tests/browser/e2e.mjs). Installed by
//! scripts/install-test-deps.sh (apt chromium; npm ci in tests/browser). Screenshots land in
//! target/browser/.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running `mxdoctor serve`, stopped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(scenario: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mxdoctor"))
        .args(["serve", "--scenario", scenario, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mxdoctor serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    // The first line names the address (port 0: the system chose it).
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("mxdoctor serve did not say where it listens: {first}"))
        .trim_end_matches('/')
        .to_string();
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, url }
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn run(mode: &str, server: &Server) {
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run scripts/install-test-deps.sh (npm ci in tests/browser)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: run scripts/install-test-deps.sh (Debian's chromium)"
    );
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser");
    let out = Command::new("node")
        .arg(dir.join("e2e.mjs"))
        .args([mode, &server.url, &shots.display().to_string()])
        .current_dir(&dir)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(out.status.success(), "browser test {mode} failed:\n{text}");
}

#[test]
fn seed_domain_and_send_mail_as_in_english_then_japanese() {
    let server = serve("seed");
    run("seed", &server);
}

#[test]
fn hostile_txt_records_and_banner_never_execute() {
    let server = serve("hostile-text");
    run("hostile", &server);
}
