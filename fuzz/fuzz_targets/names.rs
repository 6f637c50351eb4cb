#![no_main]
//! Fuzz target: names. Outside data must end in a value or an error, never a panic.

use libfuzzer_sys::fuzz_target;
use mxdoctor_proto::*;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.split('\n');
    let Some(reference) = lines.next().and_then(|l| hostname::Hostname::parse(l).ok()) else {
        return;
    };
    let ids = names::PresentedIds {
        dns_sans: lines.clone().take(50).map(str::to_string).collect(),
        ip_sans: Vec::new(),
        common_names: lines.take(2).map(str::to_string).collect(),
    };
    let _ = names::verify_name(&reference, &ids);
    let _ = names::covered_names(&ids);
});
