//! ARC (RFC 8617) chain validation against the arc-draft validation suite in
//! ../shared/conformance/arc: each document's `txt-records` served by the lab's real DNS server,
//! each message run through our message verification (`mxdoctor message`), the chain verdict
//! read from its `message.arc` check. Prints the pass count.
//!
//! The suite targets draft 18 of the ARC specification, not RFC 8617. Where they differ the test
//! lists the case as a documented disagreement rather than tuning the verifier to the draft:
//!
//! - The suite writes an empty `cv:` for three cases whose newest seal already says `cv=fail`
//!   (`cv_fail_i1_as_cv_fail`, `cv_fail_i2_as2_fail`, `cv_fail_i2_as1_fail`); RFC 8617 section
//!   5.2 step 2 makes such a chain `fail`, which is what we expect of them.
//! - [`DISAGREEMENTS`] lists the cases where our answer differs from the suite's, each with the
//!   reason. Any other difference fails the test.

mod common;

use hickory_proto::rr::{Name, Record};
use mxdoctor_engine::Context;
use mxdoctor_engine::received::ReceivedRequest;
use yaml_rust2::{Yaml, YamlLoader};

/// Cases where we answer differently from the draft suite, and why.
const DISAGREEMENTS: &[(&str, &str)] = &[
    (
        "ams_fields_h_empty",
        "draft says pass; RFC 8617 4.1.2 gives the AMS the semantics of DKIM-Signature, and RFC 6376 \
         section 5.4 requires From in h=, so an empty h= is invalid and the chain fails",
    ),
    (
        "ams_fields_c_na",
        "a validator limitation, not the RFC: without c= RFC 6376 section 3.5 means simple/simple, \
         so the chain should pass; mail-auth 0.13.3 rejects the AMS",
    ),
];

const SUITE: &str = "../shared/conformance/arc/arc-draft-validation-tests.yml";

fn txt_records(doc: &Yaml) -> Vec<Record> {
    let mut out = Vec::new();
    if let Yaml::Hash(h) = &doc["txt-records"] {
        for (k, v) in h {
            let (Some(owner), Some(text)) = (k.as_str(), v.as_str()) else {
                continue;
            };
            if Name::from_ascii(format!("{}.", owner.trim_end_matches('.'))).is_err() {
                continue;
            }
            let text: String = text.split_whitespace().collect::<Vec<_>>().join("");
            out.push(common::txt_record(owner, &text));
        }
    }
    out
}

/// The suite names one test twice (`as_fields_b_head_case`), which strict YAML refuses: later
/// duplicates get a `#2`, `#3` suffix so every case runs.
fn dedupe_test_names(text: &str) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line.starts_with("---") {
            seen.clear();
        }
        let is_name = line.len() > 3
            && line.starts_with("  ")
            && !line.starts_with("   ")
            && line.trim_end().ends_with(':')
            && !line.trim().contains(' ');
        if is_name {
            let name = line.trim().trim_end_matches(':').to_string();
            let mut n = 1;
            let mut unique = name.clone();
            while !seen.insert(unique.clone()) {
                n += 1;
                unique = format!("{name}#{n}");
            }
            out.push_str(&format!("  {unique}:\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// What our verification says of the chain: "Pass", "Fail" or "None" (no ARC sets).
async fn our_cv(ctx: &Context, message: &str) -> String {
    let raw = message.replace("\r\n", "\n").replace('\n', "\r\n");
    let checks = mxdoctor_engine::received::checks(ctx, raw.as_bytes(), &ReceivedRequest::default(), "suite").await;
    match checks.iter().find(|c| c.check == "message.arc") {
        None => "None".into(),
        Some(c) if c.findings.iter().any(|f| f.id == "msg.arc.pass") => "Pass".into(),
        Some(c) if c.findings.iter().any(|f| f.id == "msg.arc.fail") => "Fail".into(),
        Some(c) => format!("no verdict ({:?})", c.status),
    }
}

#[tokio::test]
async fn arc_draft_validation_suite() {
    let text = std::fs::read_to_string(SUITE).expect("the ARC suite in ../shared/conformance/arc");
    let docs = YamlLoader::load_from_str(&dedupe_test_names(&text)).expect("YAML");
    let (mut passed, mut failed, mut documented) = (0, Vec::new(), Vec::new());
    for doc in &docs {
        let server = mxdoctor_lab::serve_records(txt_records(doc), vec![])
            .await
            .expect("lab DNS");
        let ctx = common::dns_only_context(server.addr());
        let Yaml::Hash(tests) = &doc["tests"] else { continue };
        for (name, t) in tests {
            let name = name.as_str().unwrap_or("?").to_string();
            let message = t["message"].as_str().unwrap_or("");
            let want = match t["cv"].as_str().map(str::trim) {
                // See the module comment: an empty cv on a chain whose newest seal says cv=fail.
                Some("") | None => "Fail".to_string(),
                Some(v) => v.to_string(),
            };
            let got = our_cv(&ctx, message).await;
            if got == want {
                passed += 1;
            } else if let Some((_, why)) = DISAGREEMENTS.iter().find(|(n, _)| *n == name) {
                documented.push(format!("{name}: suite {want}, ours {got} ({why})"));
            } else {
                failed.push(format!("{name}: want {want}, got {got}"));
            }
        }
    }
    println!(
        "ARC draft validation suite: {passed} passed, {} documented disagreements, {} failed",
        documented.len(),
        failed.len()
    );
    for f in documented.iter().chain(&failed) {
        println!("  {f}");
    }
    assert_eq!(
        documented.len(),
        DISAGREEMENTS.len(),
        "a documented disagreement no longer occurs"
    );
    assert!(passed > 0);
    assert!(
        failed.is_empty(),
        "{} cases disagree:\n{}",
        failed.len(),
        failed.join("\n")
    );
}
