//! Embeds every built-in scenario (the folders under `scenarios/`) into the library, so
//! `mxdoctor demo` and the tests work from any directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            walk(&p, root, out);
        } else if matches!(p.extension().and_then(|x| x.to_str()), Some("toml" | "zone")) {
            let rel = p.strip_prefix(root).unwrap_or(&p).to_string_lossy().replace('\\', "/");
            out.push((rel, p.canonicalize().unwrap_or(p.clone())));
        }
    }
}

#[allow(
    clippy::expect_used,
    reason = "a build script: Cargo sets these variables, and a failure must stop the build"
)]
fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest.join("../../scenarios");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    for (_, p) in &files {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    // Folders too: adding a file to a scenario must rebuild.
    if let Ok(dirs) = std::fs::read_dir(&root) {
        // Only paths that exist: Cargo treats a missing one as changed on every build, which
        // rebuilt this crate (and all that depends on it) every time.
        for d in dirs.flatten().filter(|d| d.path().is_dir()) {
            println!("cargo:rerun-if-changed={}", d.path().display());
            let zones = d.path().join("zones");
            if zones.is_dir() {
                println!("cargo:rerun-if-changed={}", zones.display());
            }
        }
    }
    let mut code =
        String::from("/// (path relative to scenarios/, contents)\npub static FILES: &[(&str, &str)] = &[\n");
    for (rel, p) in &files {
        let _ = writeln!(code, "    ({rel:?}, include_str!({:?})),", p.display().to_string());
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("builtin.rs");
    std::fs::write(out, code).expect("write builtin.rs");
}
