//! DKIM outcomes against the RFCs and a second verifier (issue 9, items 11-13).
//!
//! `tests/dkim_corpus/cases.py` makes signed messages with known outcomes (dkimpy signs them,
//! then each case changes what it describes: the body, a tag, the line endings, the key
//! record) and records what dkimpy, a separate implementation, says of every signature. Here
//! each case's key records are served by the lab DNS and `message` verifies the message: every
//! DKIM-Signature field must have exactly one finding whose result is the one RFC 6376 section
//! 6.1 and RFC 8301 define. Agreement with the RFC outcome and with dkimpy (valid or not) is
//! printed with every disagreement; where dkimpy predates RFC 8301 the RFC decides, and those
//! cases are named in DKIMPY_PREDATES.
//!
//! Needs python3 with dkimpy and PyNaCl, and openssl (scripts/install-test-deps.sh).

mod common;

use hickory_proto::rr::{Name, Record, RecordType};
use mxdoctor_engine::received::ReceivedRequest;

/// Cases where dkimpy 1.1 and the RFCs part: it accepts rsa-sha1 (RFC 8301 section 3.1 says a
/// verifier must not) and does not apply a key's `h=` list (RFC 6376 section 3.6.1).
const DKIMPY_PREDATES: &[(&str, &str)] = &[
    (
        "permerror-sha1",
        "RFC 8301 section 3.1: rsa-sha1 must not be considered valid",
    ),
    (
        "permerror-key-hash",
        "RFC 6376 section 3.6.1: the key's h= excludes sha256",
    ),
    (
        "ed25519-and-sha1",
        "RFC 8301 section 3.1: the rsa-sha1 signature must not be considered valid",
    ),
];

struct Case {
    name: String,
    why: String,
    file: String,
    records: Vec<(String, String)>,
    servfail: Vec<String>,
    expected: Vec<String>,
    dkimpy: Vec<bool>,
}

fn generate() -> Vec<Case> {
    let out = std::env::temp_dir().join(format!("mxdoctor-dkim-corpus-{}", std::process::id()));
    let run = std::process::Command::new("python3")
        .arg("tests/dkim_corpus/cases.py")
        .arg(&out)
        .output()
        .expect("python3 (scripts/install-test-deps.sh installs what this test needs)");
    assert!(
        run.status.success(),
        "the case generator failed (dkimpy, PyNaCl and openssl come from scripts/install-test-deps.sh):\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    manifest
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap().to_string(),
            why: c["why"].as_str().unwrap().to_string(),
            file: c["file"].as_str().unwrap().to_string(),
            records: c["records"]
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                        .collect()
                })
                .unwrap_or_default(),
            servfail: strings(&c["servfail"]),
            expected: strings(&c["expected"]),
            dkimpy: c["dkimpy"]
                .as_array()
                .map(|a| a.iter().map(|b| b.as_bool().unwrap_or(false)).collect())
                .unwrap_or_default(),
        })
        .collect()
}

fn txt_records(case: &Case) -> Vec<Record> {
    case.records
        .iter()
        .map(|(owner, text)| common::txt_record(owner, text))
        .collect()
}

/// The result of each DKIM finding, in the order of the fields (evidence `result`).
async fn our_results(case: &Case) -> Vec<String> {
    let servfail = case
        .servfail
        .iter()
        .map(|n| (Name::from_ascii(format!("{n}.")).unwrap(), Vec::<RecordType>::new()))
        .collect();
    let server = mxdoctor_lab::serve_records(txt_records(case), servfail)
        .await
        .expect("lab DNS");
    let raw = std::fs::read(&case.file).unwrap();
    let ctx = common::dns_only_context(server.addr());
    let checks = mxdoctor_engine::received::checks(&ctx, &raw, &ReceivedRequest::default(), &case.name).await;
    checks
        .iter()
        .filter(|c| c.check == "message.dkim")
        .flat_map(|c| c.findings.iter())
        .filter(|f| f.id.starts_with("msg.dkim.") && f.id != "msg.dkim.none")
        .map(|f| {
            let result = f.evidence["result"].as_str().unwrap_or("(no result)");
            let detail = f.args.get("detail").map(String::as_str).unwrap_or("-");
            format!("{result} [{} {detail}]", f.id)
        })
        .collect()
}

#[tokio::test]
async fn dkim_outcomes_follow_rfc_6376_and_8301() {
    let cases = generate();
    let (mut total, mut rfc_ok, mut dkimpy_ok) = (0, 0, 0);
    let mut rfc_disagreements = Vec::new();
    let mut dkimpy_disagreements = Vec::new();
    for case in &cases {
        let ours = our_results(case).await;
        if ours.len() != case.expected.len() {
            rfc_disagreements.push(format!(
                "{}: {} signature fields, {} findings {:?} ({})",
                case.name,
                case.expected.len(),
                ours.len(),
                ours,
                case.why
            ));
        }
        for (i, want) in case.expected.iter().enumerate() {
            total += 1;
            let shown = ours.get(i).map(String::as_str).unwrap_or("(no finding)");
            let got = shown.split(' ').next().unwrap_or("");
            if got == want {
                rfc_ok += 1;
            } else {
                rfc_disagreements.push(format!("{}#{i}: RFC {want}, ours {shown} ({})", case.name, case.why));
            }
            let peer_valid = case.dkimpy.get(i).copied().unwrap_or(false);
            if (got == "pass") == peer_valid {
                dkimpy_ok += 1;
            } else {
                let note = DKIMPY_PREDATES
                    .iter()
                    .find(|(n, _)| *n == case.name)
                    .map(|(_, why)| format!("the RFC decides: {why}"))
                    .unwrap_or_else(|| "UNEXPLAINED".into());
                dkimpy_disagreements.push(format!(
                    "{}#{i}: dkimpy {}, ours {shown}; {note}",
                    case.name,
                    if peer_valid { "valid" } else { "invalid" }
                ));
            }
        }
    }
    println!(
        "DKIM corpus: {} cases, {total} signatures; RFC outcome agrees {rfc_ok}/{total}, dkimpy (valid or not) agrees {dkimpy_ok}/{total}",
        cases.len()
    );
    println!("disagreements with the RFC outcome:\n{}", rfc_disagreements.join("\n"));
    println!("disagreements with dkimpy:\n{}", dkimpy_disagreements.join("\n"));
    assert!(cases.len() >= 30, "the generator made only {} cases", cases.len());
    assert!(
        rfc_disagreements.is_empty(),
        "outcomes differ from the RFCs: {rfc_disagreements:#?}"
    );
    let unexplained: Vec<_> = dkimpy_disagreements
        .iter()
        .filter(|d| d.contains("UNEXPLAINED"))
        .collect();
    assert!(
        unexplained.is_empty(),
        "unexplained disagreements with dkimpy: {unexplained:#?}"
    );
}
