//! The binary itself: exit codes, bad input, and the demo's output in both languages and
//! formats (snapshots, with ports, timings and random serials filtered).

use std::process::{Command, Output};

fn mxdoctor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mxdoctor"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "C")
        .output()
        .expect("run mxdoctor")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_documents_exit_codes() {
    let o = mxdoctor(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("Exit codes"));
    let o = mxdoctor(&["sendas", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("--port"));
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let cases: &[(&[&str], &str)] = &[
        (&["sendas", "mail example com"], "not a host name"),
        (&["sendas", "192.0.2.25"], "not a host name"),
        (&["sendas", "mail.example.com", "--port", "70000"], "70000"),
        (&["sendas", "mail.example.com", "--port", "0"], "port"),
        (&["sendas", "mail.example.com", "--timeout", "0"], "timeout"),
        (&["sendas", "mail.example.com", "--timeout=-1"], "timeout"),
        (
            &["sendas", "mail.example.com", "--ca-file", "/nonexistent/ca.pem"],
            "cannot read",
        ),
        (&["sendas", "mail.example.com", "--resolver", "not-an-ip"], "--resolver"),
        (&["sendas", "mail.example.com", "--now", "yesterday"], "RFC 3339"),
        (
            &[
                "sendas",
                "mail.example.com",
                "--connect-map",
                "192.0.2.1:25=10.0.0.1:25",
            ],
            "loopback",
        ),
        (
            &["sendas", "mail.example.com", "--lab", "/nonexistent/lab.json"],
            "state file",
        ),
        (&["demo", "--scenario", "no-such-scenario"], "no built-in scenario"),
        (&["frobnicate"], "unrecognized subcommand"),
        (&["serve", "--listen", "localhost"], "--listen"),
        (
            &["serve", "--listen", "127.0.0.1:0", "--test-domain", "t.example"],
            "--smtp-listen",
        ),
        (
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--smtp-listen",
                "x",
                "--test-domain",
                "t.example",
            ],
            "--smtp-listen x",
        ),
        (
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--smtp-listen",
                "127.0.0.1:0",
                "--test-domain",
                "bad_name!.example",
            ],
            "--test-domain",
        ),
        (
            &["serve", "--listen", "127.0.0.1:0", "--scenario", "nope"],
            "no built-in scenario",
        ),
        (&["serve", "--listen", "127.0.0.1:0", "--retention", "0"], "--retention"),
        (&["completions", "tcsh"], "invalid value"),
        (&["lab", "--latency", "20s"], "between 0 and 10 s"),
        (&["lab", "--latency", "fast"], "expected e.g. 50ms"),
    ];
    for (args, needle) in cases {
        let o = mxdoctor(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(needle),
            "{args:?}: expected `{needle}` in: {}",
            stderr(&o)
        );
        assert!(!stderr(&o).contains("panicked"), "{args:?} panicked");
    }
}

#[test]
fn completions_and_the_man_page_come_from_the_command_line_definitions() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef mxdoctor"),
        ("fish", "complete -c mxdoctor"),
    ] {
        let o = mxdoctor(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains(marker), "{shell}: no `{marker}`");
        for sub in ["sendas", "check", "message", "serve"] {
            assert!(out.contains(sub), "{shell}: {sub} is not completed");
        }
    }
    let o = mxdoctor(&["manpage"]);
    assert_eq!(o.status.code(), Some(0));
    let man = stdout(&o);
    assert!(
        man.starts_with(".ie") || man.contains(".TH mxdoctor"),
        "not roff: {}",
        &man[..200.min(man.len())]
    );
    for section in [
        "MXDOCTOR SENDAS",
        "MXDOCTOR SERVE",
        "\\-\\-test\\-domain",
        "\\-\\-password\\-env",
    ] {
        assert!(man.contains(section), "the man page lacks {section}");
    }
}

#[test]
fn ca_file_that_is_not_pem_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.pem");
    std::fs::write(&path, "this is not a certificate\n").unwrap();
    let o = mxdoctor(&["sendas", "mail.example.com", "--ca-file", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no certificate"), "{}", stderr(&o));
}

const NOW: &str = "2026-11-23T00:00:00Z";

fn demo(lang: &str, format: &str) -> (Option<i32>, String) {
    let o = mxdoctor(&["demo", "--lang", lang, "--format", format, "--now", NOW]);
    (o.status.code(), stdout(&o))
}

fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (r#""ms": \d+"#, r#""ms": [ms]"#),
        (r#""elapsed_ms": \d+"#, r#""elapsed_ms": [ms]"#),
        (r#""serial": "[0-9a-f:]+""#, r#""serial": "[serial]""#),
        (r#""tool_version": "[^"]+""#, r#""tool_version": "[version]""#),
        // Keys made at lab start (TLSA digests of fresh certificates).
        (r"[0-9a-f]{64}", "[sha256]"),
    ]
}

/// The receiving side of a world (MX on port 25, MTA-STS, TLS-RPT, DNSSEC, DANE) as `demo`
/// shows it, in both languages.
fn receiving_demo(scenario: &str, lang: &str) -> (Option<i32>, String) {
    let o = mxdoctor(&["demo", "--scenario", scenario, "--lang", lang, "--now", NOW]);
    (o.status.code(), stdout(&o))
}

#[test]
fn receiving_side_text_en_and_ja() {
    for scenario in ["transport-cases", "dane-cases"] {
        for lang in ["en", "ja"] {
            let (code, out) = receiving_demo(scenario, lang);
            assert!(code.is_some(), "{out}");
            for id in ["[mx.smtp.greets]", "[mx.starttls.offered]", "[mx.cert.valid]"] {
                assert!(out.contains(id), "{scenario} {lang}: {id}\n{out}");
            }
            let name = format!("receiving_{}_{lang}", scenario.replace('-', "_"));
            insta::with_settings!({ filters => filters() }, { insta::assert_snapshot!(name, out) });
        }
    }
}

#[test]
fn demo_text_en() {
    let (code, out) = demo("en", "text");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("TLS Negotiation failed, the certificate doesn't match the host."),
        "{out}"
    );
    insta::with_settings!({ filters => filters() }, { insta::assert_snapshot!(out) });
}

#[test]
fn demo_text_ja() {
    let (code, out) = demo("ja", "text");
    assert_eq!(code, Some(1));
    assert!(out.contains("sv1234.star-hosting.example"), "{out}");
    insta::with_settings!({ filters => filters() }, { insta::assert_snapshot!(out) });
}

#[test]
fn demo_json_en() {
    let (code, out) = demo("en", "json");
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    // Two reports: Send mail as, then the domain report.
    assert_eq!(v[0]["schema_version"], 1);
    assert_eq!(v[0]["verdict"]["id"], "verdict.sendas.refuse");
    assert_eq!(v[1]["command"], "check");
    assert_eq!(v[1]["verdict"]["id"], "verdict.domain.reject");
    insta::with_settings!({ filters => filters() }, { insta::assert_snapshot!(out) });
}

#[test]
fn demo_json_does_not_depend_on_language() {
    let (_, en) = demo("en", "json");
    let (_, ja) = demo("ja", "json");
    let strip = |s: &str| -> serde_json::Value {
        let mut v: serde_json::Value = serde_json::from_str(s).unwrap();
        // Timings and serials differ between runs; ids, severities and args must not.
        for report in v.as_array_mut().unwrap() {
            report["checks"].as_array_mut().unwrap().iter_mut().for_each(|c| {
                c.as_object_mut().unwrap().remove("evidence");
                for f in c["findings"].as_array_mut().unwrap() {
                    f.as_object_mut().unwrap().remove("evidence");
                }
            });
        }
        v
    };
    assert_eq!(strip(&en), strip(&ja));
}
