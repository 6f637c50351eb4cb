//! The sisimai corpus (542 real, anonymised bounces from many MTAs, in ../shared): every file is
//! analysed without panic, every `Status:` of a delivery-status part comes out as written, and
//! the share of files that get a specific reason (not `undefined`) is printed.

use std::collections::BTreeMap;

use mxdoctor_proto::bounce::Reason;
use mxdoctor_proto::mail::{MessageKind, analyze};

const CORPUS: &str = "../shared/corpora/bounces/sisimai";

#[test]
fn sisimai_corpus() {
    let mut files: Vec<_> = std::fs::read_dir(CORPUS)
        .expect("the corpus beside the checkout (../shared)")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 542, "542 messages (and a LICENSE)");
    let (mut specific, mut with_status, mut status_ok) = (0, 0, 0);
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut undefined = Vec::new();
    for f in &files {
        let raw = std::fs::read(f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let a = match analyze(&raw) {
            Ok(a) => a,
            Err(e) => {
                undefined.push(format!("{name}: {e}"));
                continue;
            }
        };
        *kinds.entry(format!("{:?}", a.kind)).or_default() += 1;
        // Every Status: field written in a delivery-status part is reported as written.
        let text = String::from_utf8_lossy(&raw);
        if a.kind == MessageKind::Dsn && text.lines().any(|l| l.to_ascii_lowercase().starts_with("status:")) {
            with_status += 1;
            let reported: Vec<&str> = a.recipients.iter().filter_map(|r| r.status.as_deref()).collect();
            if a.dsn_statuses.iter().all(|s| reported.contains(&s.as_str())) && !a.dsn_statuses.is_empty() {
                status_ok += 1;
            }
        }
        let best = a.recipients.iter().map(|r| r.reason).find(|r| *r != Reason::Undefined);
        match best {
            Some(r) => {
                specific += 1;
                *reasons.entry(r.as_str()).or_default() += 1;
            }
            None => undefined.push(name),
        }
    }
    println!(
        "sisimai corpus: {} files, {specific} with a specific reason ({:.1}%), {} undefined",
        files.len(),
        100.0 * specific as f64 / files.len() as f64,
        undefined.len()
    );
    println!("delivery-status parts with Status: {with_status}, reported as written: {status_ok}");
    println!("kinds: {kinds:?}");
    println!("reasons: {reasons:?}");
    println!("undefined: {}", undefined.join(" "));
    assert_eq!(
        with_status, status_ok,
        "every Status: of a delivery-status part must come out"
    );
    // Today's floor; the aim is every file with a status or a recognisable text.
    assert!(
        specific * 100 / files.len() >= 80,
        "only {specific} of {} files got a specific reason",
        files.len()
    );
}
